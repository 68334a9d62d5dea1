import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { Call, Metadata, ResponseSink } from '../../src/call/call.js';
import { ResponseCache } from '../../src/collapse/cache.js';
import { Collapser } from '../../src/collapse/collapser.js';
import { CacheAdmission } from '../../src/collapse/cache-admission.js';
import type { CacheSettings } from '../../src/collapse/cache-policy.js';
import { KeyMaker } from '../../src/collapse/key.js';
import { Metrics } from '../../src/observe/metrics.js';
import type { Origin } from '../../src/upstream/origin.js';
import { encodeFrame } from '../../src/wire/frame.js';
import { Status } from '../../src/wire/status.js';
import { RecordingDownstream } from './fakes.js';

/** An Origin the test answers by hand: it records every call started on it. */
class HandOrigin implements Origin {
  started: Array<{ headers: Metadata; body: Buffer | null; sink: ResponseSink }> = [];
  aborted: Array<{ code: number; message: string }> = [];
  start(call: Call, sink: ResponseSink): void {
    this.started.push({ headers: call.metadata, body: call.stream ? null : call.body, sink });
    const abort = (reason: { code: number; message: string }) => {
      this.aborted.push(reason);
      sink.onError(reason as never);
    };
    sink.onStart({ backend: null, abort, pause: () => undefined, resume: () => undefined });
  }
  /** Answers call `i` with headers (and `extra` in them), one message unless `status` fails it, and trailers. */
  answerWith(i: number, text: string, status = 0, extra: Record<string, string> = {}): void {
    const { sink } = this.started[i]!;
    sink.onHeaders({ ':status': 200, 'content-type': 'application/grpc', ...extra }, false);
    if (status === 0) sink.onData(encodeFrame(Buffer.from(text)));
    sink.onTrailers({ 'grpc-status': String(status), 'grpc-message': text });
  }
  answer(i: number, text: string): void {
    const { sink } = this.started[i]!;
    sink.onHeaders({ ':status': 200, 'content-type': 'application/grpc' }, false);
    sink.onData(encodeFrame(Buffer.from(text)));
    sink.onTrailers({ 'grpc-status': '0' });
  }
}

const call = (text: string, headers: Record<string, string> = {}): Call => ({
  stream: false,
  method: '/test.S/M',
  metadata: { ':path': '/test.S/M', ...headers },
  deadline: Infinity,
  body: encodeFrame(Buffer.from(text)),
});

function collapser(
  origin: Origin,
  next = { calls: [] as Call[], handle(c: Call) { this.calls.push(c); } },
  options: { timeoutMs?: number; serverStreams?: { streams(method: string): boolean; has(method: string): boolean }; streamJoin?: (method: string) => 'replay' | 'latest' | 'live'; cache?: Partial<CacheSettings>; maxWaitMs?: number; minUses?: number } = {},
) {
  const cache = new ResponseCache({ ttlMs: 60_000, maxBytes: 1 << 20, maxEntryBytes: 1 << 20 });
  const c = new Collapser(
    next,
    origin,
    new KeyMaker(),
    cache,
    { timeoutMs: options.timeoutMs ?? 10_000, cache: { ttlMs: 60_000, staleWhileRevalidateMs: 0, staleIfErrorMs: 0, statusTtls: new Map(), maxTtlMs: 300_000, ...options.cache }, maxResponseBytes: 1 << 20, maxFollowers: 100, maxWaitMs: options.maxWaitMs ?? 0, serverStreams: options.serverStreams ?? null, streamJoin: options.streamJoin ?? null, admission: options.minUses === undefined ? null : new CacheAdmission(options.minUses) },
    new Metrics(),
  );
  return { c, cache, next };
}

describe('Collapser', () => {
  it('with a minimum of uses, caches an answer asked for once only when it is asked again, and a herd at once', () => {
    const origin = new HandOrigin();
    const { c, cache } = collapser(origin, undefined, { minUses: 2 });
    c.handle(call('once'), new RecordingDownstream());
    origin.answer(0, 'a');
    const again = new RecordingDownstream();
    c.handle(call('once'), again);
    expect(again.outcome).toBe('leader'); // the first answer was not kept
    origin.answer(1, 'b');
    const third = new RecordingDownstream();
    c.handle(call('once'), third);
    expect(`${third.outcome} ${message(third)}`).toBe('cache_hit b');
    // A herd: its followers count, so the one answer is kept.
    for (let i = 0; i < 3; i++) c.handle(call('herd'), new RecordingDownstream());
    origin.answer(2, 'h');
    const after = new RecordingDownstream();
    c.handle(call('herd'), after);
    expect(`${after.outcome} ${message(after)}`).toBe('cache_hit h');
    cache.close();
  });

  it('starts one backend call on its Origin for identical calls, with BACKEND_TIMEOUT and identity encoding', () => {
    const origin = new HandOrigin();
    // A method the descriptors describe as unary: its backend call carries BACKEND_TIMEOUT as its deadline.
    const { c, cache } = collapser(origin, undefined, { serverStreams: { streams: () => false, has: () => true } });
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

  it('gives the overflow of a full waiting list a flight of its own rather than refusing it, and every caller its answer', () => {
    const origin = new HandOrigin();
    const { c, cache } = collapser(origin);
    // maxFollowers is 100: the leader and 100 followers fill the first flight.
    const waiters = Array.from({ length: 103 }, () => new RecordingDownstream());
    for (const w of waiters) c.handle(call('parked'), w);
    expect(origin.started).toHaveLength(2);
    expect(waiters.map((w) => w.outcome).slice(99)).toEqual(['follower', 'follower', 'leader', 'follower']);
    expect(c.inFlight).toBe(2);
    expect([...c.underWay()].map((f) => f.waiting)).toEqual([2, 101]);
    origin.answer(0, 'first');
    origin.answer(1, 'second');
    expect(waiters.every((w) => w.events.at(-1) === 'trailers')).toBe(true);
    expect(message(waiters[100]!)).toBe('first');
    expect(message(waiters[101]!)).toBe('second');
    expect(c.inFlight).toBe(0);
    cache.close();
  });

  it('starts a call per distinct request, and hands streams on without starting any', () => {
    const origin = new HandOrigin();
    const { c, cache, next } = collapser(origin);
    c.handle(call('a'), new RecordingDownstream());
    c.handle(call('b'), new RecordingDownstream());
    c.handle(call('a', { authorization: 'other' }), new RecordingDownstream());
    const stream: Call = { stream: true, method: '/test.S/M', metadata: {}, deadline: Infinity, head: [], source: Readable.from([]) };
    c.handle(stream, new RecordingDownstream());
    expect(origin.started).toHaveLength(3);
    expect(next.calls).toEqual([stream]);
    cache.close();
  });

  it('lets a declared server stream outlive BACKEND_TIMEOUT, and ends it when its last caller leaves', async () => {
    const origin = new HandOrigin();
    const streams = { streams: (m: string) => m === '/test.S/M', has: () => true };
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

  it('lets a flight for an undescribed method outlive BACKEND_TIMEOUT once a second message shows it streams', async () => {
    const origin = new HandOrigin();
    const { c } = collapser(origin, undefined, { timeoutMs: 30, serverStreams: { streams: () => false, has: () => false } });
    const a = new RecordingDownstream();
    c.handle(call('undescribed'), a);
    expect(origin.started[0]!.headers['grpc-timeout']).toBeUndefined(); // it may stream: the callers bound it then
    const sink = origin.started[0]!.sink;
    sink.onHeaders({ ':status': 200 }, false);
    sink.onData(encodeFrame(Buffer.from('one')));
    sink.onData(encodeFrame(Buffer.from('two')));
    await wait(60);
    expect(origin.aborted).toEqual([]);
    sink.onData(encodeFrame(Buffer.from('three')));
    sink.onTrailers({ 'grpc-status': '0' });
    expect([message(a), a.trailers?.['grpc-status']]).toEqual(['onetwothree', '0']);
  });

  it('still cuts an undescribed method at BACKEND_TIMEOUT while its answer is one message', async () => {
    const origin = new HandOrigin();
    const { c } = collapser(origin, undefined, { timeoutMs: 30, serverStreams: { streams: () => false, has: () => false } });
    c.handle(call('slow-unary'), new RecordingDownstream());
    const sink = origin.started[0]!.sink;
    sink.onHeaders({ ':status': 200 }, false);
    sink.onData(encodeFrame(Buffer.from('only')).subarray(0, 6)); // part of the first message
    await wait(60);
    expect(origin.aborted.map((r) => r.code)).toEqual([4]);
  });

  it('cuts a unary flight at BACKEND_TIMEOUT and lets it run on when its callers leave', async () => {
    const origin = new HandOrigin();
    const { c } = collapser(origin, undefined, { timeoutMs: 20, serverStreams: { streams: () => false, has: () => true } });
    const a = new RecordingDownstream();
    c.handle(call('unary'), a);
    a.leave();
    expect(origin.aborted).toEqual([]); // detached: it fills the cache for the next caller
    await new Promise((r) => setTimeout(r, 60));
    expect(origin.aborted.map((r) => r.code)).toEqual([4]); // DEADLINE_EXCEEDED
  });
});

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));
const message = (w: RecordingDownstream) => w.data.map((d) => d.subarray(5).toString()).join('');

/** A collapser whose cache holds v1 for 'k', answered 40 ms ago with a 20 ms TTL. */
async function expiredAnswer(policy: Partial<CacheSettings>, headers: Record<string, string> = {}, maxWaitMs = 0) {
  const origin = new HandOrigin();
  const made = collapser(origin, undefined, { cache: { ttlMs: 20, ...policy }, maxWaitMs });
  made.c.handle(call('k'), new RecordingDownstream());
  origin.answerWith(0, 'v1', 0, headers);
  await wait(40);
  return { origin, ...made };
}

describe('Collapser: the cache policy', () => {
  it('stale-while-revalidate: past the TTL, callers get the old answer at once and one call refreshes it', async () => {
    const { origin, c, cache } = await expiredAnswer({ staleWhileRevalidateMs: 10_000 });
    const callers = Array.from({ length: 5 }, () => new RecordingDownstream());
    for (const w of callers) c.handle(call('k'), w);
    expect(callers.map((w) => `${w.outcome} ${message(w)}`)).toEqual(callers.map(() => 'stale v1'));
    expect(origin.started).toHaveLength(2); // one refresh, however many callers
    origin.answerWith(1, 'v2');
    const after = new RecordingDownstream();
    c.handle(call('k'), after);
    expect(`${after.outcome} ${message(after)}`).toBe('cache_hit v2');
    cache.close();
  });

  it('past both windows, a caller waits for a fresh answer', async () => {
    const { origin, c, cache } = await expiredAnswer({ staleWhileRevalidateMs: 10, staleIfErrorMs: 10 });
    await wait(20); // 60 ms after it landed: fresh 20 + 10 + 10 are over
    const late = new RecordingDownstream();
    c.handle(call('k'), late);
    expect(late.outcome).toBe('leader');
    expect(late.events).toEqual([]);
    origin.answerWith(1, 'down', Status.UNAVAILABLE);
    expect(late.trailers?.['grpc-status']).toBe(String(Status.UNAVAILABLE)); // nothing left to stand in
    cache.close();
  });

  it('a caller past the revalidation window that joins the refresh still falls back to the old answer', async () => {
    const { origin, c, cache } = await expiredAnswer({ staleWhileRevalidateMs: 30, staleIfErrorMs: 10_000 });
    c.handle(call('k'), new RecordingDownstream()); // 40 ms: within the window, starts the refresh
    expect(origin.started).toHaveLength(2);
    await wait(30); // 70 ms: past the window
    const late = new RecordingDownstream();
    c.handle(call('k'), late);
    expect(late.outcome).toBe('follower');
    origin.answerWith(1, 'down', Status.UNAVAILABLE);
    expect(`${late.outcome} ${message(late)}`).toBe('stale_if_error v1');
    cache.close();
  });

  it('a refresh that fails leaves the old answer in place', async () => {
    const { origin, c, cache } = await expiredAnswer({ staleWhileRevalidateMs: 10_000 });
    c.handle(call('k'), new RecordingDownstream());
    origin.answerWith(1, 'down', Status.UNAVAILABLE);
    const next = new RecordingDownstream();
    c.handle(call('k'), next);
    expect(`${next.outcome} ${message(next)}`).toBe('stale v1');
    cache.close();
  });

  it('stale-if-error: a transient failure gives every waiter the last good answer; an answer such as INVALID_ARGUMENT is not masked', async () => {
    const { origin, c, cache } = await expiredAnswer({ staleIfErrorMs: 10_000 }, { 'x-version': '1' });
    const waiters = Array.from({ length: 10 }, () => new RecordingDownstream());
    for (const w of waiters) c.handle(call('k'), w);
    expect(origin.started).toHaveLength(2);
    origin.answerWith(1, 'backend down', Status.UNAVAILABLE, { 'x-version': 'failing' });
    expect(waiters.map((w) => `${w.outcome} ${message(w)} ${w.headers?.['x-version']}`)).toEqual(waiters.map(() => 'stale_if_error v1 1'));
    expect(waiters.every((w) => w.trailers?.['grpc-status'] === '0')).toBe(true);

    const asked = new RecordingDownstream();
    c.handle(call('k'), asked);
    origin.answerWith(2, 'bad request', Status.INVALID_ARGUMENT);
    expect(asked.trailers?.['grpc-status']).toBe(String(Status.INVALID_ARGUMENT));
    cache.close();
  });

  it('negative caching: a listed status is cached for its time with its message; others are not', () => {
    const origin = new HandOrigin();
    const { c, cache } = collapser(origin, undefined, { cache: { statusTtls: new Map([[Status.NOT_FOUND, 60_000]]) } });
    c.handle(call('missing'), new RecordingDownstream());
    origin.answerWith(0, 'no such item', Status.NOT_FOUND);
    const hit = new RecordingDownstream();
    c.handle(call('missing'), hit);
    expect(`${hit.outcome} ${hit.trailers?.['grpc-status']} ${hit.trailers?.['grpc-message']}`).toBe(`cache_hit ${Status.NOT_FOUND} no such item`);
    c.handle(call('unlisted'), new RecordingDownstream());
    origin.answerWith(1, 'nope', Status.FAILED_PRECONDITION);
    c.handle(call('unlisted'), new RecordingDownstream());
    expect(origin.started).toHaveLength(3);
    cache.close();
  });

  it("the backend's cache-control: max-age sets the TTL (capped), no-store keeps it out of the cache but still collapsed", async () => {
    const origin = new HandOrigin();
    const { c, cache } = collapser(origin, undefined, { cache: { ttlMs: 10, maxTtlMs: 60_000 } });
    c.handle(call('long'), new RecordingDownstream());
    origin.answerWith(0, 'v1', 0, { 'cache-control': 'max-age=60' });
    await wait(30);
    const hit = new RecordingDownstream();
    c.handle(call('long'), hit);
    expect(hit.outcome).toBe('cache_hit');

    const together = [new RecordingDownstream(), new RecordingDownstream()];
    for (const w of together) c.handle(call('private'), w);
    expect(origin.started).toHaveLength(2);
    origin.answerWith(1, 'mine', 0, { 'cache-control': 'no-store' });
    expect(together.map((w) => message(w))).toEqual(['mine', 'mine']);
    c.handle(call('private'), new RecordingDownstream());
    expect(origin.started).toHaveLength(3);
    cache.close();
  });

  it('max wait: a follower that waited too long gets the stale answer, or makes its own uncached backend call', async () => {
    // No stale answer: its own call, not cached.
    const origin = new HandOrigin();
    const { c, cache } = collapser(origin, undefined, { maxWaitMs: 20 });
    const leader = new RecordingDownstream();
    const follower = new RecordingDownstream();
    c.handle(call('slow'), leader);
    c.handle(call('slow'), follower);
    await wait(40);
    expect(origin.started).toHaveLength(2);
    expect(follower.outcome).toBe('bypass');
    origin.answerWith(1, 'own');
    expect(message(follower)).toBe('own');
    origin.answerWith(0, 'shared');
    expect(message(leader)).toBe('shared');
    cache.close();

    // With an answer kept for errors: that one, and no call of its own.
    const kept = await expiredAnswer({ staleIfErrorMs: 10_000 }, {}, 20);
    const first = new RecordingDownstream();
    const waiting = new RecordingDownstream();
    kept.c.handle(call('k'), first);
    kept.c.handle(call('k'), waiting);
    await wait(40);
    expect(`${waiting.outcome} ${message(waiting)}`).toBe('stale v1');
    expect(kept.origin.started).toHaveLength(2);
    kept.origin.answerWith(1, 'v2');
    expect(message(first)).toBe('v2');
    kept.cache.close();
  });
});
