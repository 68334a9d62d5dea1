/**
 * The collapser through real processes: a grpc-js backend, corral, and grpc-js clients
 * on 127.0.0.1. Calls that must share a flight wait on a backend gate that the test
 * opens only once corral's metrics show every caller has joined, so nothing depends on
 * timing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProxy, type Backend, type Proxy } from '../../cmd/processes.js';
import { backendStats, client, collect, metadata, release, unary, until, type Client, type Stack, grpc, startStack } from '../support/grpc.js';

let backend: Backend;
let proxy: Proxy;
let c: Client;
let stack: Stack;

const series = (outcome: string) => `corral_requests_total{outcome="${outcome}"}`;
const waiting = (outcome: string) => `corral_calls_in_progress{outcome="${outcome}"}`;
const lookups = async () => (await backendStats(backend.address)).calls.Lookup ?? 0;

/** Waits until at least this many calls are open as leaders (or followers). */
async function waitForJoins(outcome: 'leader' | 'follower', atLeast: number): Promise<void> {
  await until(`${atLeast} ${outcome} calls`, async () => (await proxy.metric(waiting(outcome))) >= atLeast);
}

beforeAll(async () => {
  stack = await startStack();
  ({ backend, proxy, client: c } = stack);
});

afterAll(() => stack?.stop());

describe('collapsing identical calls', () => {
  it('a herd of 1000 identical calls makes one backend call, and all get the same answer', async () => {
    const before = await lookups();
    const calls = Array.from({ length: 1000 }, () => unary(c, 'Lookup', { key: 'herd', gate: 'herd' }));
    await waitForJoins('follower', 999);
    await release(backend.address, 'herd');
    const results = await Promise.all(calls);
    expect(results.filter((r) => r.error !== null)).toEqual([]);
    expect(new Set(results.map((r) => r.reply.callNumber)).size).toBe(1);
    expect((await lookups()) - before).toBe(1);
    expect(await proxy.metric('corral_flights_in_progress')).toBe(0);
  });

  it('never shares a response between callers with different authorization', async () => {
    const before = await lookups();
    const call = (auth: string) => unary(c, 'Lookup', { key: 'authz', gate: 'authz' }, metadata({ authorization: auth }));
    const alice = [call('Bearer alice'), call('Bearer alice')];
    const bob = [call('Bearer bob'), call('Bearer bob')];
    await waitForJoins('leader', 2);
    await waitForJoins('follower', 2);
    await release(backend.address, 'authz');
    const [a1, a2, b1, b2] = await Promise.all([...alice, ...bob]);
    expect(a1!.reply.metadata.authorization).toBe('Bearer alice');
    expect(b1!.reply.metadata.authorization).toBe('Bearer bob');
    expect(a2!.reply.callNumber).toBe(a1!.reply.callNumber);
    expect(b2!.reply.callNumber).toBe(b1!.reply.callNumber);
    expect(b1!.reply.callNumber).not.toBe(a1!.reply.callNumber);
    expect((await lookups()) - before).toBe(2);
  });

  it('does not collapse calls with distinct payloads', async () => {
    const before = await lookups();
    const calls = Array.from({ length: 10 }, (_, i) => unary(c, 'Lookup', { key: `distinct-${i}`, gate: 'distinct' }));
    await waitForJoins('leader', 10);
    await release(backend.address, 'distinct');
    const results = await Promise.all(calls);
    expect(results.map((r) => r.reply.key)).toEqual(Array.from({ length: 10 }, (_, i) => `distinct-${i}`));
    expect((await lookups()) - before).toBe(10);
  });

  it('gives every waiter the error status, message and trailers, and does not cache the error', async () => {
    const before = await lookups();
    const request = { key: 'fails', gate: 'fails', failCode: grpc.status.NOT_FOUND, failMessage: 'no such key: fails (ü)' };
    const calls = Array.from({ length: 5 }, () => unary(c, 'Lookup', request, metadata({ 'x-echo-tag': 'e1' })));
    await waitForJoins('follower', 4);
    await release(backend.address, 'fails');
    const results = await Promise.all(calls);
    for (const r of results) {
      expect(r.error?.code).toBe(grpc.status.NOT_FOUND);
      expect(r.error?.details).toBe('no such key: fails (ü)');
      expect(r.trailers?.get('x-echo-tag')).toEqual(['e1']);
      expect(r.trailers?.get('x-call-number')).toEqual(results[0]!.trailers?.get('x-call-number'));
    }
    expect((await lookups()) - before).toBe(1);
    const again = await unary(c, 'Lookup', request, metadata({ 'x-echo-tag': 'e1' }));
    expect(again.error?.code).toBe(grpc.status.NOT_FOUND);
    expect(again.trailers?.get('x-call-number')).not.toEqual(results[0]!.trailers?.get('x-call-number'));
    expect((await lookups()) - before).toBe(2);
  });

  it('a leader that cancels does not cancel its followers or the backend call', async () => {
    const before = await backendStats(backend.address);
    const leader = unary(c, 'Lookup', { key: 'cancel', gate: 'cancel' });
    await waitForJoins('leader', 1);
    const rest = Array.from({ length: 3 }, () => unary(c, 'Lookup', { key: 'cancel', gate: 'cancel' }));
    await waitForJoins('follower', 3);
    leader.call.cancel();
    expect((await leader).error?.code).toBe(grpc.status.CANCELLED);
    await release(backend.address, 'cancel');
    for (const r of await Promise.all(rest)) expect(r.error).toBeNull();
    const after = await backendStats(backend.address);
    expect(after.calls.Lookup! - before.calls.Lookup!).toBe(1);
    expect(after.cancelled).toBe(before.cancelled);
  });

  it('collapses server-streaming calls and replays the stream to a follower that joins late', async () => {
    const watches = async () => (await backendStats(backend.address)).calls.Watch ?? 0;
    const before = await watches();
    const request = { topic: 'news', count: 5, intervalMs: 30 };
    const first = c.Watch(request) as grpc.ClientReadableStream<{ sequence: number }>;
    const firstDone = collect(first);
    await new Promise((resolve) => first.once('data', resolve));
    const late = collect(c.Watch(request) as grpc.ClientReadableStream<{ sequence: number }>);
    const [a, b] = await Promise.all([firstDone, late]);
    expect(a.error).toBeNull();
    expect(b.error).toBeNull();
    expect(a.messages.map((m) => m.sequence)).toEqual([1, 2, 3, 4, 5]);
    expect(b.messages.map((m) => m.sequence)).toEqual([1, 2, 3, 4, 5]);
    expect((await watches()) - before).toBe(1);
  });
});

describe('one caller never slows another', () => {
  it('a caller that stops reading a large shared response does not hold back the others', async () => {
    const http2 = await import('node:http2');
    const { encodeFrame } = await import('../../src/wire/frame.js');
    const replyBytes = 3 * 1024 * 1024;
    // LookupRequest{key: "big", gate: "big", reply_bytes: 3 MiB}, encoded as protobufjs does (field order, defaults omitted).
    const varint = (n: number) => {
      const out: number[] = [];
      for (; n > 0x7f; n >>>= 7) out.push((n & 0x7f) | 0x80);
      return [...out, n];
    };
    const message = Buffer.from([0x0a, 3, ...Buffer.from('big'), 0x1a, 3, ...Buffer.from('big'), 0x30, ...varint(replyBytes)]);
    const session = http2.connect(`http://${proxy.address}`);
    session.on('error', () => {});
    const stalled = session.request({ ':method': 'POST', ':path': '/corral.example.v1.Example/Lookup', 'content-type': 'application/grpc', te: 'trailers' });
    stalled.on('error', () => {});
    stalled.pause(); // never reads: its flow-control window fills and corral buffers for it alone
    stalled.end(encodeFrame(message));
    try {
      await waitForJoins('leader', 1);
      const reader = unary(c, 'Lookup', { key: 'big', gate: 'big', replyBytes });
      await waitForJoins('follower', 1);
      await release(backend.address, 'big');
      const r = await reader;
      expect(r.error).toBeNull();
      expect(r.reply.padding.length).toBe(replyBytes);
    } finally {
      session.destroy();
    }
  });
});

describe('the response cache', () => {
  let cached: Proxy;
  let cc: Client;

  beforeAll(async () => {
    cached = await startProxy({ BACKEND_ADDRESS: backend.address, COLLAPSER_CACHE_DURATION: '1s' });
    await cached.untilReady();
    cc = client(cached.address);
  });
  afterAll(async () => {
    cc?.close();
    await cached?.stop();
  });

  it('serves a repeat inside the TTL from the cache, and calls the backend again after it', async () => {
    const first = await unary(cc, 'Lookup', { key: 'ttl' });
    const hit = await unary(cc, 'Lookup', { key: 'ttl' });
    expect(hit.reply.callNumber).toBe(first.reply.callNumber);
    expect(hit.headers?.get('x-backend')).toEqual(['example']);
    expect(await cached.metric(series('cache_hit'))).toBe(1);
    expect(await cached.metric('corral_cache_entries')).toBe(1);
    await new Promise((r) => setTimeout(r, 1100));
    const fresh = await unary(cc, 'Lookup', { key: 'ttl' });
    expect(fresh.reply.callNumber).toBeGreaterThan(first.reply.callNumber);
  });
});

describe('a herd larger than COLLAPSER_MAX_FOLLOWERS', () => {
  let small: Stack;
  beforeAll(async () => {
    small = await startStack({ COLLAPSER_MAX_FOLLOWERS: '20' });
  });
  afterAll(() => small?.stop());

  it('cannot refuse another client its call: the overflow gets one more backend call per full waiting list', async () => {
    const parked = Array.from({ length: 50 }, () => unary(small.client, 'Lookup', { key: 'parked', gate: 'parked' }));
    const other = client(small.proxy.address);
    try {
      const mine = unary(other, 'Lookup', { key: 'parked', gate: 'parked' });
      // 51 callers, 21 per flight (a leader and 20 followers): three backend calls.
      await until('every caller waits', async () => (await small.proxy.metric(waiting('leader'))) + (await small.proxy.metric(waiting('follower'))) === 51);
      expect(await small.proxy.metric(waiting('leader'))).toBe(3);
      await release(small.backend.address, 'parked');
      const results = await Promise.all([...parked, mine]);
      expect(results.filter((r) => r.error !== null)).toEqual([]);
      expect(new Set(results.map((r) => r.reply.callNumber)).size).toBe(3);
      expect((await backendStats(small.backend.address)).calls.Lookup).toBe(3);
      expect(await small.proxy.metric('corral_flights_in_progress')).toBe(0);
    } finally {
      other.close();
    }
  });
});
