/**
 * Retries, outlier ejection and session transfer, through real processes: backends are
 * killed (SIGKILL), frozen (SIGSTOP) and restarted on their port while calls go on.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startBackend, startProxy, type Backend, type Proxy } from '../../cmd/processes.js';
import { backendStats, client, myServiceClient, collect, grpc, metadata, unary, until, type Client } from '../support/grpc.js';
import { startHttpSource, type HttpSource } from '../support/http-source.js';

const dir = mkdtempSync(join(tmpdir(), 'corral-failover-'));
const started: Array<Backend | Proxy> = [];
const clients: Client[] = [];

interface WatchEvent {
  sequence: number;
  backend: string;
}

async function backend(name: string, port?: number): Promise<Backend> {
  const b = await startBackend(port === undefined ? { name } : { name, port });
  started.push(b);
  return b;
}

async function corral(config: string, env: Record<string, string> = {}): Promise<{ proxy: Proxy; example: Client; myService: Client }> {
  const path = join(dir, `corral-${started.length}.yaml`);
  writeFileSync(path, config);
  const proxy = await startProxy({ CONFIG_PATH: path, ...env });
  started.push(proxy);
  const example = client(proxy.address);
  const myService = myServiceClient(proxy.address);
  clients.push(example, myService);
  return { proxy, example, myService };
}

const answeredBy = (r: { headers: grpc.Metadata | null }) => String(r.headers?.get('x-backend')[0]);

/** A client-streaming call left open; `done` is its error (it is expected to fail). */
function openClientStream(c: Client, method: string) {
  let stream!: grpc.ClientWritableStream<unknown>;
  const done = new Promise<grpc.ServiceError>((resolve) => {
    stream = c[method]((err: grpc.ServiceError | null) => resolve(err!));
  });
  return { stream, done };
}
const lookups = async (b: Backend) => (await backendStats(b.address)).calls.Lookup ?? 0;

afterAll(async () => {
  for (const c of clients) c.close();
  await Promise.all(started.map((p) => p.stop('SIGKILL')));
});

describe('retries', () => {
  let healthy: Backend;
  let proxy: Proxy;
  let example: Client;
  let dead: number[];

  beforeAll(async () => {
    healthy = await backend('healthy');
    dead = [await freePort(), await freePort(), await freePort()];
    ({ proxy, example } = await corral(
      `
routes:
  - { prefix: /corral.example.v1.Example/Lookup, cluster: pair, collapse: false }
  - { prefix: /corral.example.v1.Example/Chat, cluster: stream_pair }
  - { prefix: /corral.example.v1.Example/Stats, cluster: nobody }
clusters:
  pair: { type: static, addresses: ["127.0.0.1:${dead[0]}", "${healthy.address}"] }
  stream_pair: { type: static, addresses: ["127.0.0.1:${dead[1]}", "${healthy.address}"] }
  nobody: { type: static, addresses: ["127.0.0.1:${dead[2]}", "127.0.0.1:${dead[0]}"] }
`,
      { RETRY_COUNT: '2' },
    ));
  });

  it('land on a healthy instance, and each call reaches it exactly once', async () => {
    const before = await lookups(healthy);
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => unary(example, 'Lookup', { key: `retry-${i}` })));
    for (const r of results) {
      expect(r.error).toBeNull();
      expect(answeredBy(r)).toBe('healthy');
    }
    expect((await lookups(healthy)) - before).toBe(10);
    expect(await proxy.metric('corral_backend_retries_total')).toBeGreaterThanOrEqual(1);
    // The dead endpoint was ejected after its first failure, so later calls went straight to the healthy one.
    expect(await proxy.metric('corral_endpoint_ejections_total')).toBe(1);
  });

  it('never retry a call the backend answered, even with an error status', async () => {
    const before = await lookups(healthy);
    const retries = await proxy.metric('corral_backend_retries_total');
    const r = await unary(example, 'Lookup', { key: 'refused', failCode: grpc.status.UNAVAILABLE, failMessage: 'shedding load' });
    expect(r.error?.code).toBe(grpc.status.UNAVAILABLE);
    expect(r.error?.details).toBe('shedding load');
    expect((await lookups(healthy)) - before).toBe(1);
    expect(await proxy.metric('corral_backend_retries_total')).toBe(retries);
  });

  it('retry a bidi stream on another instance when nothing beyond its first message had been sent', async () => {
    const chats = async () => (await backendStats(healthy.address)).calls.Chat ?? 0;
    const before = await chats();
    for (let i = 0; i < 3; i++) {
      const chat = example.Chat() as grpc.ClientDuplexStream<{ text: string }, { text: string }>;
      const done = collect(chat);
      chat.write({ text: `hello ${i}` });
      await Promise.race([new Promise((resolve) => chat.once('data', resolve)), done]);
      chat.write({ text: 'and more' });
      chat.end();
      const { messages, error } = await done;
      expect(error).toBeNull();
      expect(messages.map((m) => m.text)).toEqual([`echo: hello ${i}`, 'echo: and more']);
    }
    expect((await chats()) - before).toBe(3);
  });

  it('answer UNAVAILABLE "backend service unavailable" when every instance fails, naming the last cause', async () => {
    const r = await unary(example, 'Stats', {});
    expect(r.error?.code).toBe(grpc.status.UNAVAILABLE);
    expect(r.error?.details).toMatch(/^backend service unavailable: backend 127\.0\.0\.1:\d+ (unreachable|unavailable)/);
    const again = await unary(example, 'Stats', {});
    expect(again.error?.details).toMatch(/^backend service unavailable: /);
  });
});

describe('outlier ejection', () => {
  it('an instance killed mid-traffic is ejected, and comes back once it recovers', async () => {
    const a = await backend('a');
    const b = await backend('b');
    const { proxy, example } = await corral(
      `
default: { action: use_cluster, use_cluster: both }
clusters:
  both: { type: static, addresses: ["${a.address}", "${b.address}"] }
`,
      { EJECTION_BASE_TIME: '300ms', COLLAPSER_CACHE_DURATION: '0s' },
    );
    const round = async (n: number) => {
      const seen: string[] = [];
      for (let i = 0; i < n; i++) {
        const r = await unary(example, 'Lookup', { key: `eject-${Math.random()}` });
        expect(r.error).toBeNull();
        seen.push(answeredBy(r));
      }
      return seen;
    };
    expect(new Set(await round(4))).toEqual(new Set(['a', 'b']));
    await a.stop('SIGKILL');
    // Every call still succeeds: the one that meets the dead instance is retried on b.
    expect(new Set(await round(6))).toEqual(new Set(['b']));
    expect(await proxy.metric('corral_endpoint_ejections_total')).toBeGreaterThanOrEqual(1);
    const revived = await backend('a-revived', a.port);
    await until('the revived instance is admitted again', async () => (await round(2)).includes('a-revived'));
    expect(await lookups(revived)).toBeGreaterThan(0);
  });

  it('an instance that accepts calls but never answers is given up on after RETRY_TIMEOUT_MS; a stream is retried only before more than its first message went', async () => {
    const frozen = await backend('frozen');
    const alive = await backend('alive');
    const { proxy, example } = await corral(
      `
routes: [{ prefix: /corral.example.v1.Example/, cluster: both, balancer: { type: sticky_sessions, header: session-id } }]
clusters:
  both: { type: static, addresses: ["${frozen.address}", "${alive.address}"] }
`,
      { RETRY_TIMEOUT_MS: '1000', EJECTION_BASE_TIME: '200ms', COLLAPSER_CACHE_DURATION: '0s' },
    );
    await until('both connected', async () => (await proxy.admin('/ready')).status === 200);
    // A session that the ring hash places on the instance about to freeze.
    let onFrozen = '';
    for (let i = 0; onFrozen === '' && i < 32; i++) {
      const r = await unary(example, 'Lookup', { key: `probe-${i}` }, metadata({ 'session-id': `s-${i}` }));
      if (answeredBy(r) === 'frozen') onFrozen = `s-${i}`;
    }
    expect(onFrozen).not.toBe('');
    const chats = async () => (await backendStats(alive.address)).calls.Chat ?? 0;
    const chatsBefore = await chats();
    frozen.child.kill('SIGSTOP');
    try {
      // A unary call: its attempt on the frozen instance times out and it is answered by the other.
      const r = await unary(example, 'Lookup', { key: 'frozen-call' }, metadata({ 'session-id': onFrozen }));
      expect(r.error).toBeNull();
      expect(answeredBy(r)).toBe('alive');
      expect(await proxy.metric('corral_backend_retries_total')).toBe(1);
      await until('the frozen instance is admitted again', async () => (await proxy.metric('corral_endpoints_ejected')) === 0);

      // A bidi stream that sent a second message before the timeout: that message is gone, so no retry.
      const chat = example.Chat(metadata({ 'session-id': onFrozen })) as grpc.ClientDuplexStream<{ text: string }, { text: string }>;
      const done = collect(chat);
      const streamed = await proxy.metric('corral_backend_calls_total{kind="bypass"}');
      chat.write({ text: 'first' });
      // Once corral has taken the call for a stream (its first message held), the second flows to the backend.
      await until('corral streams the chat', async () => (await proxy.metric('corral_backend_calls_total{kind="bypass"}')) > streamed);
      chat.write({ text: 'second' });
      chat.end();
      const { error } = await done;
      expect(error?.code).toBe(grpc.status.UNAVAILABLE);
      expect(error?.details).toMatch(/^backend service unavailable: backend 127\.0\.0\.1:\d+ sent no response headers within RETRY_TIMEOUT_MS \(1000ms\)$/);
      expect(await chats()).toBe(chatsBefore);
      expect(await proxy.metric('corral_backend_retries_total')).toBe(1);
    } finally {
      frozen.child.kill('SIGCONT');
    }
  });
  it("closes a failed backend's connection gracefully: the next call arrives on a fresh one", async () => {
    const only = await backend('only');
    const { example } = await corral(
      `
default: { action: use_cluster, use_cluster: one }
clusters:
  one: { type: static, address: "${only.address}" }
`,
      { RETRY_TIMEOUT_MS: '500', COLLAPSER_CACHE_DURATION: '0s' },
    );
    expect((await unary(example, 'Lookup', { key: 'warm' })).error).toBeNull();
    const peers = (await backendStats(only.address)).peers;
    // A client stream the backend answers only when it ends: it sends no headers, so the attempt times out.
    const upload = openClientStream(example, 'Upload');
    upload.stream.write({ data: Buffer.alloc(10) });
    const failed = await upload.done;
    expect(failed.code).toBe(grpc.status.UNAVAILABLE);
    expect(failed.details).toMatch(/sent no response headers within RETRY_TIMEOUT_MS \(500ms\)/);
    const after = await unary(example, 'Lookup', { key: 'after' });
    expect(after.error).toBeNull();
    expect((await backendStats(only.address)).peers).toBe(peers + 1);
  });
});

describe('session transfer', () => {
  let instances: Record<string, Backend>;
  let source: HttpSource;
  let proxy: Proxy;
  let example: Client;
  let myService: Client;

  beforeAll(async () => {
    instances = {};
    for (const name of ['a', 'b', 'c']) instances[name] = await backend(name);
    source = await startHttpSource();
    source.instances = Object.entries(instances).map(([id, b]) => ({ instance_id: id, ipv4: '127.0.0.1', port: b.port }));
    ({ proxy, example, myService } = await corral(
      `
routes:
  - prefix: /my_service.MyServiceAPI/MyServiceSubscribe
    cluster: my_service
    session_transfer: true
    balancer: { type: sticky_sessions, header: session-id }
  - prefix: /my_service.MyServiceAPI/MyServiceEcho
    cluster: my_service
    balancer: { type: sticky_sessions, header: session-id }
  - prefix: /corral.example.v1.Example/Watch
    cluster: my_service
    balancer: { type: sticky_sessions, header: session-id }
clusters:
  my_service: { type: dynamic, discoverer_url: "${source.url}", discoverer_interval_ms: 100 }
`,
    ));
    await until('the discoverer was read', async () => (await proxy.metric('corral_endpoint_pools')) === 3);
  });

  afterAll(() => source?.close());

  /** Starts a subscription for `sessionId` and waits for its first three events; returns who serves it. */
  async function subscribe(c: Client, method: string, sessionId: string) {
    const stream = c[method]({ topic: 'prices', count: 40, intervalMs: 25 }, metadata({ 'session-id': sessionId })) as grpc.ClientReadableStream<WatchEvent>;
    const done = collect(stream);
    const early: WatchEvent[] = [];
    await new Promise<void>((resolve) => {
      const take = (event: WatchEvent) => {
        early.push(event);
        if (early.length < 3) return;
        stream.off('data', take);
        resolve();
      };
      stream.on('data', take);
    });
    expect(new Set(early.map((e) => e.backend)).size).toBe(1);
    return { done, servedBy: early[0]!.backend };
  }

  it('replays an interrupted subscription on another instance, and the client\'s stream goes on', async () => {
    const { done, servedBy } = await subscribe(myService, 'MyServiceSubscribe', 'subscriber-1');
    const watchesElsewhere = async () => {
      let n = 0;
      for (const [name, b] of Object.entries(instances)) if (name !== servedBy) n += (await backendStats(b.address)).calls.Watch ?? 0;
      return n;
    };
    const elsewhereBefore = await watchesElsewhere();
    await instances[servedBy]!.stop('SIGKILL');
    const { messages, error, trailers } = await done;
    expect(error).toBeNull();
    const backends = [...new Set(messages.map((m) => m.backend))];
    expect(backends[0]).toBe(servedBy);
    expect(backends).toHaveLength(2);
    expect(messages.slice(0, 3).map((m) => m.sequence)).toEqual([1, 2, 3]);
    const moved = messages.findIndex((m) => m.backend !== servedBy);
    // The new instance got the same first message, so the subscription starts over there.
    expect(messages[moved]!.sequence).toBe(1);
    expect(messages.slice(moved).map((m) => m.sequence)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    expect(trailers?.get('x-backend')).toEqual([backends[1]]);
    expect((await watchesElsewhere()) - elsewhereBefore).toBe(1);
    expect(await proxy.metric('corral_session_transfers_total')).toBe(1);

    // MyGateway's OnBackendFailure: the discoverer was told, and the session now lives elsewhere.
    expect(source.requests).toContain(`POST /v1/unregister/${servedBy}`);
    for (let i = 0; i < 3; i++) {
      const r = await unary(myService, 'MyServiceEcho', { key: `after-${i}` }, metadata({ 'session-id': 'subscriber-1' }));
      expect(r.error).toBeNull();
      expect(answeredBy(r)).toBe(backends[1]);
    }
  });

  it('without session_transfer, a stream whose instance dies after answering gets UNAVAILABLE and is not replayed', async () => {
    const alive = Object.keys(instances).filter((name) => instances[name]!.child.exitCode === null && instances[name]!.child.signalCode === null);
    const { done, servedBy } = await subscribe(example, 'Watch', `watcher-${alive.join('')}`);
    const other = alive.find((name) => name !== servedBy)!;
    const before = (await backendStats(instances[other]!.address)).calls.Watch ?? 0;
    await instances[servedBy]!.stop('SIGKILL');
    const { error, messages } = await done;
    expect(messages.length).toBeGreaterThan(0);
    expect(error?.code).toBe(grpc.status.UNAVAILABLE);
    expect(error?.details).toMatch(/^backend service unavailable: backend 127\.0\.0\.1:\d+ unavailable: the connection was lost$/);
    expect((await backendStats(instances[other]!.address)).calls.Watch ?? 0).toBe(before);
  });

  it('with no instance left, answers RESOURCE_EXHAUSTED "all instances are busy"', async () => {
    source.instances = [];
    await until('the cluster is empty', async () => (await unary(myService, 'MyServiceEcho', { key: 'e' })).error?.code === grpc.status.RESOURCE_EXHAUSTED);
    const r = await unary(myService, 'MyServiceEcho', { key: 'e' }, metadata({ 'session-id': 'subscriber-1' }));
    expect(r.error?.details).toBe('all instances are busy');
  });
});
