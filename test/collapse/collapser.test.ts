import { describe, expect, it } from 'vitest';
import type { Call, Metadata, ResponseSink } from '../../src/call.js';
import { ResponseCache } from '../../src/collapse/cache.js';
import { Collapser } from '../../src/collapse/collapser.js';
import { KeyMaker } from '../../src/collapse/key.js';
import { Metrics } from '../../src/observe/metrics.js';
import type { Origin } from '../../src/upstream/origin.js';
import { encodeFrame } from '../../src/wire/frame.js';
import { RecordingDownstream } from './fakes.js';

/** An Origin the test answers by hand: it records every call started on it. */
class HandOrigin implements Origin {
  started: Array<{ headers: Metadata; body: Buffer | null; sink: ResponseSink }> = [];
  start(call: Call, sink: ResponseSink): void {
    this.started.push({ headers: call.metadata, body: call.body, sink });
    sink.onStart({ backend: null, abort: () => undefined, pause: () => undefined, resume: () => undefined });
  }
  answer(i: number, text: string): void {
    const { sink } = this.started[i]!;
    sink.onHeaders({ ':status': 200, 'content-type': 'application/grpc' }, false);
    sink.onData(encodeFrame(Buffer.from(text)));
    sink.onTrailers({ 'grpc-status': '0' });
  }
}

const call = (text: string, headers: Record<string, string> = {}): Call => ({
  method: '/test.S/M',
  metadata: { ':path': '/test.S/M', ...headers },
  deadline: Infinity,
  body: encodeFrame(Buffer.from(text)),
  head: [],
  source: null,
});

function collapser(origin: Origin, next = { calls: [] as Call[], handle(c: Call) { this.calls.push(c); } }) {
  const cache = new ResponseCache({ ttlMs: 60_000, maxBytes: 1 << 20, maxEntryBytes: 1 << 20 });
  const c = new Collapser(next, origin, new KeyMaker(), cache, { timeoutMs: 10_000, cacheTtlMs: 60_000, maxResponseBytes: 1 << 20, maxFollowers: 100 }, new Metrics());
  return { c, cache, next };
}

describe('Collapser', () => {
  it('starts one backend call on its Origin for identical calls, with BACKEND_TIMEOUT and identity encoding', () => {
    const origin = new HandOrigin();
    const { c, cache } = collapser(origin);
    const waiters = [new RecordingDownstream(), new RecordingDownstream(), new RecordingDownstream()];
    for (const w of waiters) c.handle(call('same'), w);
    expect(origin.started).toHaveLength(1);
    expect(origin.started[0]!.headers).toMatchObject({ 'grpc-timeout': '10000m', 'grpc-accept-encoding': 'identity' });
    expect(waiters.map((w) => w.outcome)).toEqual(['leader', 'follower', 'follower']);
    origin.answer(0, 'answer');
    for (const w of waiters) expect(w.events).toEqual(['headers', `data:${encodeFrame(Buffer.from('answer')).toString()}`, 'trailers']);
    const hit = new RecordingDownstream();
    c.handle(call('same'), hit);
    expect(hit.outcome).toBe('cache_hit');
    expect(origin.started).toHaveLength(1);
    cache.close();
  });

  it('starts a call per distinct request, and hands streams on without starting any', () => {
    const origin = new HandOrigin();
    const { c, cache, next } = collapser(origin);
    c.handle(call('a'), new RecordingDownstream());
    c.handle(call('b'), new RecordingDownstream());
    c.handle(call('a', { authorization: 'other' }), new RecordingDownstream());
    const stream = { ...call('s'), body: null };
    c.handle(stream, new RecordingDownstream());
    expect(origin.started).toHaveLength(3);
    expect(next.calls).toEqual([stream]);
    cache.close();
  });
});
