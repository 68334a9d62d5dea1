import { describe, expect, it } from 'vitest';
import type { Call, Metadata, ResponseSink } from '../../src/call/call.js';
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
  aborted: Array<{ code: number; message: string }> = [];
  start(call: Call, sink: ResponseSink): void {
    this.started.push({ headers: call.metadata, body: call.body, sink });
    const abort = (reason: { code: number; message: string }) => {
      this.aborted.push(reason);
      sink.onError(reason as never);
    };
    sink.onStart({ backend: null, abort, pause: () => undefined, resume: () => undefined });
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

function collapser(
  origin: Origin,
  next = { calls: [] as Call[], handle(c: Call) { this.calls.push(c); } },
  options: { timeoutMs?: number; serverStreams?: { streams(method: string): boolean } } = {},
) {
  const cache = new ResponseCache({ ttlMs: 60_000, maxBytes: 1 << 20, maxEntryBytes: 1 << 20 });
  const c = new Collapser(
    next,
    origin,
    new KeyMaker(),
    cache,
    { timeoutMs: options.timeoutMs ?? 10_000, cacheTtlMs: 60_000, maxResponseBytes: 1 << 20, maxFollowers: 100, serverStreams: options.serverStreams ?? null },
    new Metrics(),
  );
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

  it('lets a declared server stream outlive BACKEND_TIMEOUT, and ends it when its last caller leaves', async () => {
    const origin = new HandOrigin();
    const streams = { streams: (m: string) => m === '/test.S/M' };
    const { c } = collapser(origin, undefined, { timeoutMs: 20, serverStreams: streams });
    const [a, b] = [new RecordingDownstream(), new RecordingDownstream()];
    c.handle(call('watch', { 'grpc-timeout': '1S' }), a);
    c.handle(call('watch'), b);
    expect(origin.started).toHaveLength(1);
    expect(origin.started[0]!.headers['grpc-timeout']).toBeUndefined(); // no deadline: the callers bound it
    await new Promise((r) => setTimeout(r, 60));
    expect(origin.aborted).toEqual([]); // a unary flight would have been cut at 20 ms
    origin.started[0]!.sink.onHeaders({ ':status': 200 }, false);
    origin.started[0]!.sink.onData(encodeFrame(Buffer.from('event')));
    a.leave();
    expect(origin.aborted).toEqual([]); // one caller is still there
    b.leave();
    expect(origin.aborted.map((r) => r.code)).toEqual([1]); // CANCELLED: nobody is left
    expect(c.inFlight).toBe(0);
  });

  it('cuts a unary flight at BACKEND_TIMEOUT and lets it run on when its callers leave', async () => {
    const origin = new HandOrigin();
    const { c } = collapser(origin, undefined, { timeoutMs: 20, serverStreams: { streams: () => false } });
    const a = new RecordingDownstream();
    c.handle(call('unary'), a);
    a.leave();
    expect(origin.aborted).toEqual([]); // detached: it fills the cache for the next caller
    await new Promise((r) => setTimeout(r, 60));
    expect(origin.aborted.map((r) => r.code)).toEqual([4]); // DEADLINE_EXCEEDED
  });
});
