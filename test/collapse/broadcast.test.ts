import { describe, expect, it } from 'vitest';
import type { Call, Metadata, ResponseSink } from '../../src/call/call.js';
import { Collapser } from '../../src/collapse/collapser.js';
import { KeyMaker } from '../../src/collapse/key.js';
import { Metrics } from '../../src/observe/metrics.js';
import type { Origin } from '../../src/upstream/origin.js';
import { encodeFrame } from '../../src/wire/frame.js';
import { RecordingDownstream } from './fakes.js';

class HandOrigin implements Origin {
  started: Array<{ headers: Metadata; sink: ResponseSink }> = [];
  aborted: number[] = [];
  start(call: Call, sink: ResponseSink): void {
    this.started.push({ headers: call.metadata, sink });
    sink.onStart({ backend: null, abort: (r) => void this.aborted.push(r.code), pause: () => undefined, resume: () => undefined });
  }
}

const watch = (): Call => ({ stream: false, method: '/test.S/Watch', metadata: { ':path': '/test.S/Watch' }, deadline: Infinity, body: encodeFrame(Buffer.from('topic')) });
const frame = (text: string) => encodeFrame(Buffer.from(text));
const messages = (w: RecordingDownstream) => w.data.map((d) => d.subarray(5).toString());

function setUp(joins: 'latest' | 'live', maxResponseBytes = 1 << 20) {
  const origin = new HandOrigin();
  const metrics = new Metrics();
  const c = new Collapser(
    { handle: () => undefined },
    origin,
    new KeyMaker(),
    null,
    { timeoutMs: 20, cache: { ttlMs: 0, staleWhileRevalidateMs: 0, staleIfErrorMs: 0, statusTtls: new Map(), maxTtlMs: 0 }, maxResponseBytes, maxFollowers: 100, serverStreams: null, streamJoin: () => joins },
    metrics,
  );
  const watcher = () => {
    const w = new RecordingDownstream();
    c.handle(watch(), w);
    return w;
  };
  return { c, origin, watcher, metrics };
}

describe('Broadcast: a long server stream fanned out live', () => {
  it('latest: a joiner gets the headers and the latest whole message at once, then every one after', async () => {
    const { origin, watcher } = setUp('latest');
    const first = watcher();
    const sink = origin.started[0]!.sink;
    expect(origin.started[0]!.headers['grpc-timeout']).toBeUndefined();
    sink.onHeaders({ ':status': 200, 'x-topic': 't' }, false);
    const two = frame('state-2');
    sink.onData(frame('state-1'));
    sink.onData(two.subarray(0, 4)); // a message split across chunks
    sink.onData(two.subarray(4));
    const late = watcher();
    expect([late.headers?.['x-topic'], messages(late)]).toEqual(['t', ['state-2']]);
    sink.onData(frame('state-3'));
    expect(messages(first)).toEqual(['state-1', 'state-2', 'state-3']);
    expect(messages(late)).toEqual(['state-2', 'state-3']);
    expect(origin.started).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 40));
    expect(origin.aborted).toEqual([]); // not cut at BACKEND_TIMEOUT
  });

  it('latest: a watcher that stops reading skips to the newest message and is never ended; the others do not wait', async () => {
    const { origin, watcher, metrics } = setUp('latest');
    const [slow, fast] = [watcher(), watcher()];
    const sink = origin.started[0]!.sink;
    sink.onHeaders({ ':status': 200 }, false);
    slow.accepting = false;
    for (let i = 1; i <= 5; i++) sink.onData(frame(`s${i}`));
    expect(messages(fast)).toEqual(['s1', 's2', 's3', 's4', 's5']);
    expect(messages(slow)).toEqual(['s1']); // paused after its first write
    slow.drain();
    expect(messages(slow)).toEqual(['s1', 's5']);
    expect(slow.error).toBeNull();
    expect(await metrics.registry.getSingleMetricAsString('corral_stream_messages_skipped_total')).toMatch(/ 3$/m);
  });

  it('live: a joiner gets no history, a slow watcher gets what it missed, and one too far behind is ended alone', () => {
    const { origin, watcher } = setUp('live', 64);
    const first = watcher();
    const sink = origin.started[0]!.sink;
    sink.onHeaders({ ':status': 200 }, false);
    sink.onData(frame('e1'));
    const late = watcher();
    const slow = watcher();
    expect(messages(late)).toEqual([]);
    sink.onData(frame('e2'));
    slow.accepting = false;
    sink.onData(frame('e3'));
    sink.onData(frame('e4'));
    slow.drain();
    expect(messages(slow)).toEqual(['e2', 'e3', 'e4']);
    slow.accepting = false;
    for (let i = 5; i <= 20; i++) sink.onData(frame(`e${i}`));
    expect(slow.error?.code).toBe(8); // RESOURCE_EXHAUSTED
    expect(slow.error?.message).toMatch(/fell more than 64 bytes behind a live stream/);
    expect(messages(late)).toEqual(Array.from({ length: 19 }, (_, i) => `e${i + 2}`));
    expect(messages(first)).toHaveLength(20);
    expect(origin.aborted).toEqual([]);
  });

  it('ends the backend stream when the last watcher leaves, gives every watcher the status, and is never joined once ended', () => {
    const { c, origin, watcher } = setUp('live');
    const [a, b] = [watcher(), watcher()];
    const sink = origin.started[0]!.sink;
    sink.onHeaders({ ':status': 200 }, false);
    a.leave();
    expect(origin.aborted).toEqual([]);
    b.leave();
    expect(origin.aborted).toEqual([1]); // CANCELLED
    const [x, y] = [watcher(), watcher()];
    expect(origin.started).toHaveLength(2);
    origin.started[1]!.sink.onError({ code: 14, message: 'backend gone' } as never);
    expect([x.error?.code, y.error?.code]).toEqual([14, 14]);
    expect(c.inFlight).toBe(0);
    watcher(); // a stream that failed is never joined: a new one starts
    expect(origin.started).toHaveLength(3);
  });
});
