/**
 * Every outcome a call can end with, driven through one corral with real processes, and
 * every place that reports it: corral_requests_total, corral_calls_handled_total,
 * corral_method_calls_total, corral_request_duration_seconds and the access log must
 * count each outcome alike. A metric that counted a call before its outcome was final
 * (a leader that ended stale_if_error or shed) would disagree here.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBackend, startProxy, type Backend, type Proxy } from '../../cmd/processes.js';
import { encodeFrame } from '../../src/wire/frame.js';
import { client, release, unary, until, type Client } from '../support/grpc.js';
import { rawCall } from '../support/raw.js';

const OUTCOMES = ['cache_hit', 'follower', 'leader', 'bypass', 'rejected', 'stale', 'stale_if_error', 'shed', 'cancelled', 'deadline'];
const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

let backend: Backend;
let proxy: Proxy;
let c: Client;
let logPath: string;
const seen: Record<string, number[]> = {};
let log: Array<Record<string, unknown>> = [];

/** Half a Lookup request: the frame says 100 bytes, 3 arrive, and the stream stays open. */
const halfARequest = (): Buffer => Buffer.concat([Buffer.from([0, 0, 0, 0, 100]), Buffer.from('abc')]);

beforeAll(async () => {
  backend = await startBackend();
  logPath = join(mkdtempSync(join(tmpdir(), 'corral-outcomes-')), 'access.log');
  proxy = await startProxy({
    BACKEND_ADDRESS: backend.address,
    ACCESS_LOG: logPath,
    COLLAPSER_CACHE_DURATION: '300ms',
    COLLAPSER_STALE_WHILE_REVALIDATE: '400ms',
    COLLAPSER_STALE_IF_ERROR: '1m',
    // A request that stops halfway stays unclassified, so a client can leave before any stage took it.
    COLLAPSER_HALF_CLOSE_WAIT: '3s',
    BACKEND_CONCURRENCY: '1',
    BACKEND_QUEUE_TIMEOUT: '0',
  });
  await proxy.untilReady();
  c = client(proxy.address);

  expect((await unary(c, 'Lookup', { key: 'o-leader' })).error).toBeNull(); // leader
  expect((await unary(c, 'Lookup', { key: 'o-leader' })).error).toBeNull(); // cache_hit

  const herd = [0, 1].map(() => unary(c, 'Lookup', { key: 'o-herd', gate: 'o-herd' })); // leader, follower
  await until('a follower waits', async () => (await proxy.metric('corral_calls_in_progress{outcome="follower"}')) === 1);
  await release(backend.address, 'o-herd');
  for (const r of await Promise.all(herd)) expect(r.error).toBeNull();

  const holder = unary(c, 'Lookup', { key: 'o-hold', gate: 'o-hold' }); // leader, holding the one slot
  await until('the slot is taken', async () => (await proxy.metric('corral_backend_calls_in_flight')) === 1);
  expect((await unary(c, 'Lookup', { key: 'o-shed' })).error?.code).toBe(14); // shed
  await release(backend.address, 'o-hold');
  expect((await holder).error).toBeNull();

  expect((await unary(c, 'Release', { gate: 'o-nothing' })).error).toBeNull(); // bypass: not a read
  expect((await rawCall(proxy.address, { path: '/no-method', chunks: [encodeFrame(Buffer.alloc(0))] })).grpcStatus).toBe(12); // rejected

  expect((await unary(c, 'Lookup', { key: 'o-stale' })).error).toBeNull(); // leader
  await wait(400); // past the TTL, inside stale-while-revalidate
  expect((await unary(c, 'Lookup', { key: 'o-stale' })).error).toBeNull(); // stale
  await until('the refresh landed', async () => (await proxy.metric('corral_flights_in_progress')) === 0);

  const leaving = new AbortController();
  const cancelled = rawCall(proxy.address, { chunks: [halfARequest()], keepOpen: true, signal: leaving.signal }); // cancelled
  await wait(200);
  leaving.abort();
  expect((await cancelled).grpcStatus).toBeUndefined();
  const late = await rawCall(proxy.address, { headers: { 'grpc-timeout': '200m' }, chunks: [halfARequest()], keepOpen: true }); // deadline
  expect(late.grpcStatus).toBe(4);

  expect((await unary(c, 'Lookup', { key: 'o-sie' })).error).toBeNull(); // leader
  await backend.stop();
  await wait(750); // past the TTL and stale-while-revalidate
  const kept = await unary(c, 'Lookup', { key: 'o-sie' }); // stale_if_error
  expect(kept.error).toBeNull();

  await until('every call has ended', async () => (await proxy.metric('corral_calls_in_progress')) === 0);
  for (const outcome of OUTCOMES) {
    seen[outcome] = [
      await proxy.metric(`corral_requests_total{outcome="${outcome}"}`),
      await proxy.metric(`corral_calls_handled_total{outcome="${outcome}"}`),
      await proxy.metric(`corral_method_calls_total{outcome="${outcome}"}`),
      await proxy.metric(`corral_request_duration_seconds_count{outcome="${outcome}"}`),
    ];
  }
  c.close();
  await proxy.stop(); // flushes the access log
  log = readFileSync(logPath, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
}, 60_000);

afterAll(async () => {
  c?.close();
  await proxy?.stop();
  await backend?.stop();
});

describe('every outcome, everywhere it is reported', () => {
  it('counts each outcome alike in every metric that carries it and in the access log', () => {
    const expected: Record<string, number> = { cache_hit: 1, follower: 1, leader: 5, bypass: 1, rejected: 1, stale: 1, stale_if_error: 1, shed: 1, cancelled: 1, deadline: 1 };
    const got: Record<string, number[]> = {};
    for (const outcome of OUTCOMES) got[outcome] = [...seen[outcome]!, log.filter((l) => l.outcome === outcome).length];
    const want = Object.fromEntries(OUTCOMES.map((o) => [o, [expected[o], expected[o], expected[o], expected[o], expected[o]]]));
    expect(got).toEqual(want);
  });

  it('names no backend on an answer from the cache: none answered it', () => {
    const line = (outcome: string) => log.find((l) => l.outcome === outcome)!;
    expect([line('stale_if_error').endpoint, line('stale_if_error').retries]).toEqual([null, 0]);
    expect([line('stale').endpoint, line('cache_hit').endpoint]).toEqual([null, null]);
    expect(line('leader').endpoint).toBe(backend.address);
    // The collapse key, as /flights shows it (for POST /cache/purge?key=); none for a call never keyed.
    expect([line('leader').key, line('cache_hit').key, line('rejected').key]).toEqual([expect.stringMatching(/^[0-9a-f]{64}$/), expect.stringMatching(/^[0-9a-f]{64}$/), null]);
    expect(log.filter((l) => l.outcome === 'cache_hit')[0]!.key).toBe(log.find((l) => l.outcome === 'leader')!.key); // o-leader, then its cache hit
    expect([line('cancelled').grpc_code, line('deadline').grpc_code, line('cancelled').route]).toEqual(['CANCELLED', 'DEADLINE_EXCEEDED', null]);
  });
});
