/**
 * Long server streams fanned out live (stream_join: latest and live), with real processes:
 * the example backend (grpc-js, server reflection: Watch is a declared read that streams),
 * corral with a routes file that gives Watch `latest` for one topic kind and `live` for
 * the other, and grpc-js watchers.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBackend, startProxy, type Backend, type Proxy } from '../../cmd/processes.js';
import { backendStats, client, metadata, until, type Client } from '../support/grpc.js';

interface Event {
  sequence: number;
}

/** One watcher: what it got, when, and how it ended. */
class Watcher {
  readonly events: Array<{ sequence: number; at: number }> = [];
  status: grpc.StatusObject | null = null;
  readonly call: grpc.ClientReadableStream<Event>;
  readonly opened = performance.now();

  constructor(c: Client, mode: string, request: object) {
    this.call = c.Watch(request, metadata({ mode }), { deadline: Date.now() + 60_000 }) as grpc.ClientReadableStream<Event>;
    this.call.on('data', (e: Event) => this.events.push({ sequence: e.sequence, at: performance.now() }));
    this.call.on('error', () => {});
    this.call.on('status', (s) => (this.status = s));
  }

  get last(): number {
    return this.events.at(-1)?.sequence ?? 0;
  }

  /** Sequences after the first, each one more than the one before. */
  gapless(from = 0): boolean {
    return this.events.slice(from).every((e, i, all) => i === 0 || e.sequence === all[i - 1]!.sequence + 1);
  }
}

let backend: Backend;
let proxy: Proxy;
let c: Client;
const watches = async () => (await backendStats(backend.address)).calls.Watch ?? 0;
const request = (topic: string, intervalMs = 50, paddingBytes = 0) => ({ topic, count: 1_000_000, intervalMs, paddingBytes });

beforeAll(async () => {
  backend = await startBackend();
  const dir = mkdtempSync(join(tmpdir(), 'corral-stream-join-'));
  const routes = join(dir, 'routes.yaml');
  writeFileSync(
    routes,
    [
      'clusters:',
      `  backend: { type: static, addresses: ["${backend.address}"] }`,
      'routes:',
      '  - { name: state, prefix: /corral.example.v1.Example/Watch, cluster: backend, metadata: [{ name: mode, equals: latest }], stream_join: latest }',
      '  - { name: events, prefix: /corral.example.v1.Example/Watch, cluster: backend, metadata: [{ name: mode, equals: live }], stream_join: live }',
      "default: { action: use_cluster, use_cluster: backend }",
    ].join('\n'),
  );
  // A small recording bound: a replayed stream would stop taking joiners after ~1 s.
  proxy = await startProxy({ CONFIG_PATH: routes, COLLAPSER_MAX_RESPONSE_BYTES: '1024' });
  await proxy.untilReady();
  c = client(proxy.address);
});

afterAll(async () => {
  c?.close();
  await proxy?.stop();
  await backend?.stop();
});

describe('stream_join: latest and live', () => {
  it('50 watchers of each share one backend stream per topic; a late joiner gets the current state (latest) or nothing old (live), then every message', async () => {
    const before = await watches();
    const latest = Array.from({ length: 50 }, () => new Watcher(c, 'latest', request('prices')));
    const live = Array.from({ length: 50 }, () => new Watcher(c, 'live', request('prices')));
    await until('every watcher has a message', async () => [...latest, ...live].every((w) => w.events.length > 0));
    // Past the recording bound: 1024 bytes are ~30 messages.
    await until('the streams ran past COLLAPSER_MAX_RESPONSE_BYTES', async () => latest[0]!.last >= 40 && live[0]!.last >= 40);
    expect((await watches()) - before).toBe(2);
    expect(JSON.parse((await proxy.admin('/flights')).body).flights.map((f: { join: string; waiters: number }) => `${f.join} ${f.waiters}`).sort()).toEqual(['latest 50', 'live 50']);
    const fanout = (name: string, join: string) => proxy.metric(`${name}{method="/corral.example.v1.Example/Watch",join="${join}"}`);
    expect([await fanout('corral_fanout_streams', 'latest'), await fanout('corral_fanout_watchers', 'latest'), await fanout('corral_fanout_watchers', 'live')]).toEqual([1, 50, 50]);

    const stateNow = latest[0]!.last;
    const lateState = new Watcher(c, 'latest', request('prices'));
    const eventNow = live[0]!.last;
    const lateEvents = new Watcher(c, 'live', request('prices'));
    await until('the joiners have 10 messages', async () => lateState.events.length >= 10 && lateEvents.events.length >= 10);
    // latest: the current state first, within 300 ms, then every change.
    expect(lateState.events[0]!.sequence).toBeGreaterThanOrEqual(stateNow);
    expect(lateState.events[0]!.at - lateState.opened).toBeLessThan(300);
    expect(lateState.gapless()).toBe(true);
    // live: no history, then every event.
    expect(lateEvents.events[0]!.sequence).toBeGreaterThan(eventNow);
    expect(lateEvents.gapless()).toBe(true);
    expect(latest.every((w) => w.gapless()) && live.every((w) => w.gapless())).toBe(true);
    expect((await watches()) - before).toBe(2);

    for (const w of [...latest, ...live, lateState, lateEvents]) w.call.cancel();
    await until('both backend streams are cancelled', async () => (await proxy.metric('corral_flights_in_progress')) === 0);
  });

  it('a latest watcher that stops reading for 4 s resumes at the current state, not ended; the others never wait; the last to leave cancels the backend stream', async () => {
    const before = await backendStats(backend.address);
    // 4 KiB a message, 20 a second: 4 s of them is far more than a stream's flow-control window.
    const big = request('quotes', 50, 4096);
    const [slow, a, b] = [new Watcher(c, 'latest', big), new Watcher(c, 'latest', big), new Watcher(c, 'latest', big)];
    await until('every watcher has a message', async () => [slow, a, b].every((w) => w.events.length > 0));
    slow.call.pause();
    const pausedAt = performance.now();
    await new Promise((r) => setTimeout(r, 4000));
    const current = a.last;
    slow.call.resume();
    const resumedAt = performance.now();
    // What its connection had buffered comes first, then the current state: it skipped the rest.
    await until('the slow watcher is at the current state', async () => slow.last >= current);
    expect(performance.now() - resumedAt).toBeLessThan(300);
    expect(performance.now() - pausedAt).toBeGreaterThan(4000);
    expect(slow.events.length).toBeLessThan(a.events.length);
    expect(slow.status).toBeNull();
    expect(await proxy.metric('corral_stream_messages_skipped_total')).toBeGreaterThan(0);
    // The others got every message, none more than a few hundred ms after the one before.
    for (const w of [a, b]) {
      expect(w.gapless()).toBe(true);
      const gaps = w.events.slice(1).map((e, i) => e.at - w.events[i]!.at);
      expect(Math.max(...gaps)).toBeLessThan(400);
    }
    expect((await backendStats(backend.address)).calls.Watch! - before.calls.Watch!).toBe(1);

    for (const w of [slow, a]) w.call.cancel();
    await new Promise((r) => setTimeout(r, 200));
    expect((await backendStats(backend.address)).cancelled).toBe(before.cancelled); // one watcher is still there
    b.call.cancel();
    const left = performance.now();
    await until('the backend stream is cancelled', async () => (await backendStats(backend.address)).cancelled === before.cancelled + 1);
    expect(performance.now() - left).toBeLessThan(1000);
  });

  it('1,000 watchers arriving at once share one backend stream, all with the current state within 2 s, at no more than 64 KiB of corral memory each', async () => {
    const channels = Array.from({ length: 4 }, () => client(proxy.address, { 'grpc.use_local_subchannel_pool': 1 }));
    const rss = () => proxy.metric('process_resident_memory_bytes');
    const first = new Watcher(channels[0]!, 'latest', request('crowd', 100, 256));
    await until('the stream runs', async () => first.events.length > 0);
    const rssBefore = await rss();
    const before = await watches();
    const crowd = Array.from({ length: 1000 }, (_, i) => new Watcher(channels[i % channels.length]!, 'latest', request('crowd', 100, 256)));
    await until('every watcher has the current state', async () => crowd.every((w) => w.events.length > 0), 10_000);
    const waited = crowd.map((w) => w.events[0]!.at - w.opened);
    expect(Math.max(...waited)).toBeLessThan(2000);
    expect(await watches()).toBe(before); // all joined the stream that was running
    const perWatcher = ((await rss()) - rssBefore) / 1000;
    expect(perWatcher).toBeLessThan(64 * 1024);
    for (const w of [first, ...crowd]) w.call.cancel();
    for (const ch of channels) ch.close();
    await until('the backend stream is cancelled', async () => (await proxy.metric('corral_flights_in_progress')) === 0);
  }, 30_000);

  it('a collapsed method no descriptor describes that turns out to stream is bounded by its callers, not cut at BACKEND_TIMEOUT', async () => {
    // Nothing describes Watch here (reflection off, every method listed): four messages 400 ms apart outlast BACKEND_TIMEOUT.
    const blind = await startProxy({ BACKEND_ADDRESS: backend.address, COLLAPSER_METHODS: '*', COLLAPSER_REFLECTION: 'off', BACKEND_TIMEOUT: '1s' });
    const bc = client(blind.address);
    try {
      const watchers = [0, 1].map(() => new Watcher(bc, 'replay', { topic: 'slow-stream', count: 4, intervalMs: 400 }));
      await until('both streams ended', async () => watchers.every((w) => w.status !== null), 10_000);
      expect(watchers.map((w) => `${w.status!.code} ${w.events.map((e) => e.sequence).join(',')}`)).toEqual(['0 1,2,3,4', '0 1,2,3,4']);
      // A unary answer is still cut at BACKEND_TIMEOUT.
      const slow = await new Promise<grpc.ServiceError | null>((resolve) => bc.Lookup({ key: 'slow', delayMs: 3000 }, (err: grpc.ServiceError | null) => resolve(err)));
      expect([slow?.code, slow?.details]).toEqual([grpc.status.DEADLINE_EXCEEDED, 'backend did not finish within BACKEND_TIMEOUT (1000ms)']);
    } finally {
      bc.close();
      await blind.stop();
    }
  });

  it('a quiet watch holds no concurrency slot once its backend answered with headers (BACKEND_CONCURRENCY)', async () => {
    const limited = await startProxy({ BACKEND_ADDRESS: backend.address, BACKEND_CONCURRENCY: '1', BACKEND_QUEUE_TIMEOUT: '0', COLLAPSER_STREAM_JOIN: '/corral.example.v1.Example/Watch=live' });
    await limited.untilReady();
    const lc = client(limited.address);
    try {
      // The backend sends its headers, then nothing until the gate opens.
      const quiet = new Watcher(lc, 'live', { topic: 'quiet', count: 1, gate: 'quiet-watch' });
      await until('the watch has its headers', async () => (await limited.metric('corral_backend_calls_in_flight')) === 0 && (await limited.metric('corral_fanout_streams')) === 1);
      const answer = await new Promise<grpc.ServiceError | null>((resolve) => lc.Lookup({ key: 'beside-a-watch' }, (err: grpc.ServiceError | null) => resolve(err)));
      expect(answer).toBeNull();
      quiet.call.cancel();
    } finally {
      lc.close();
      await limited.stop();
    }
  });
});
