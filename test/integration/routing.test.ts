/**
 * Pipeline, clusters, discovery and balancing, through real processes: three example
 * backends (a, b, c), a local discoverer / shard-map server, and corral with a YAML file.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBackend, startProxy, type Backend, type Proxy } from '../../cmd/processes.js';
import { backendStats, client, myServiceClient, grpc, metadata, release, unary, until, type Client } from '../support/grpc.js';
import { startHttpSource, type HttpSource } from '../support/http-source.js';

const dir = mkdtempSync(join(tmpdir(), 'corral-routing-'));
const configPath = join(dir, 'corral.yaml');
let backends: Record<'a' | 'b' | 'c', Backend>;
let source: HttpSource;
let proxy: Proxy;
let example: Client;
let myService: Client;

const instance = (name: 'a' | 'b' | 'c') => ({ instance_id: name, ipv4: '127.0.0.1', port: backends[name].port });
const answeredBy = (r: { headers: grpc.Metadata | null; trailers: grpc.Metadata | null; error: unknown }) =>
  String(r.headers?.get('x-backend')[0] ?? r.trailers?.get('x-backend')[0] ?? `error: ${String(r.error)}`);

function config(loginCluster: string): string {
  const { a, b, c } = backends;
  return `
default:
  action: error
routes:
  - prefix: /my_service.MyServiceAPI/Login
    cluster: ${loginCluster}
    authorization: none
    balancer: { type: round_robin }
  - prefix: /my_service.MyServiceAPI/MyService
    cluster: discovered
    collapse: false
    balancer: { type: sticky_sessions, header: session-id }
  - prefix: /corral.example.v1.Example/Lookup
    cluster: discovered
  - prefix: /corral.example.v1.Example/Lookup
    metadata: [{ name: x-spread, present: true }]
    cluster: trio
    collapse: false
  - prefix: /corral.example.v1.Example/Lookup
    metadata: [{ name: topic, present: true }]
    cluster: brokers
    collapse: false
clusters:
  auth: { type: static, address: "127.0.0.1:${a.port}" }
  other_auth: { type: static, address: "127.0.0.1:${b.port}" }
  trio: { type: static, addresses: ["127.0.0.1:${a.port}", "127.0.0.1:${b.port}", "127.0.0.1:${c.port}"] }
  discovered: { type: dynamic, discoverer_url: "${source.url}", discoverer_interval_ms: 100 }
  brokers: { type: shard_map, shard_map_url: "${source.url}/shards", shard_map_interval_ms: 100 }
`;
}

beforeAll(async () => {
  const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((name) => startBackend({ name })));
  backends = { a: a!, b: b!, c: c! };
  source = await startHttpSource();
  source.instances = [instance('a'), instance('b'), instance('c')];
  source.shards = [
    { topic: 'orders', partition: 0, brokers: [{ id: 'a', address: `127.0.0.1:${a!.port}`, leader: true }, { id: 'b', address: `127.0.0.1:${b!.port}` }] },
    { topic: 'orders', partition: 1, brokers: [{ id: 'b', address: `127.0.0.1:${b!.port}`, leader: true }, { id: 'c', address: `127.0.0.1:${c!.port}` }] },
  ];
  writeFileSync(configPath, config('auth'));
  proxy = await startProxy({ CONFIG_PATH: configPath });
  example = client(proxy.address);
  myService = myServiceClient(proxy.address);
  await until('the discoverer was read', async () => (await proxy.metric('corral_endpoint_pools')) === 3);
});

afterAll(async () => {
  example?.close();
  myService?.close();
  await proxy?.stop();
  await source?.close();
  await Promise.all(Object.values(backends ?? {}).map((b) => b.stop()));
});

describe('routes', () => {
  it('sends a method to the cluster of its longest prefix, and answers UNIMPLEMENTED where no route and no default', async () => {
    const login = await unary(myService, 'Login', { key: 'alice' });
    expect(login.error).toBeNull();
    expect(answeredBy(login)).toBe('a');
    const stats = await unary(example, 'Stats', {});
    expect(stats.error?.code).toBe(grpc.status.UNIMPLEMENTED);
    expect(stats.error?.details).toBe('no route for /corral.example.v1.Example/Stats (default action: error)');
  });

  it('round robin spreads calls over every endpoint', async () => {
    const seen: string[] = [];
    for (let i = 0; i < 6; i++) seen.push(answeredBy(await unary(example, 'Lookup', { key: `rr-${i}` }, metadata({ 'x-spread': '1' }))));
    expect(seen.filter((s) => s === 'a')).toHaveLength(2);
    expect(seen.filter((s) => s === 'b')).toHaveLength(2);
    expect(seen.filter((s) => s === 'c')).toHaveLength(2);
  });

  it('routes by topic, partition and to-leader over the shard map, and answers UNAVAILABLE for an unknown shard', async () => {
    const call = async (md: Record<string, string>, n = 6) => {
      const seen = new Set<string>();
      for (let i = 0; i < n; i++) seen.add(answeredBy(await unary(example, 'Lookup', { key: `q-${i}` }, metadata(md))));
      return [...seen].sort();
    };
    expect(await call({ topic: 'orders', partition: '0', 'to-leader': 'true' })).toEqual(['a']);
    expect(await call({ topic: 'orders', partition: '1', 'to-leader': 'true' })).toEqual(['b']);
    expect(await call({ topic: 'orders', partition: '1' })).toEqual(['b', 'c']);
    const miss = await unary(example, 'Lookup', { key: 'q' }, metadata({ topic: 'payments' }));
    expect(miss.error?.code).toBe(grpc.status.UNAVAILABLE);
    expect(miss.error?.details).toMatch(/no broker known for topic 'payments'/);
    // The miss asked for a fresh map: a topic added to it is found without waiting for the interval.
    source.shards.push({ topic: 'payments', partition: 0, brokers: [{ id: 'c', address: `127.0.0.1:${backends.c.port}`, leader: true }] });
    await until('payments is routed', async () => !(await unary(example, 'Lookup', { key: 'q' }, metadata({ topic: 'payments' }))).error);
    expect(await call({ topic: 'payments' }, 2)).toEqual(['c']);
  });
});

describe('a dynamic cluster', () => {
  it('keeps a sticky session on one instance, and moves it only when that instance leaves', async () => {
    const sessions = Array.from({ length: 12 }, (_, i) => `session-${i}`);
    const where = async () => {
      const placed = new Map<string, string>();
      for (const s of sessions) {
        const first = answeredBy(await unary(myService, 'MyServiceEcho', { key: s }, metadata({ 'session-id': s })));
        const again = answeredBy(await unary(myService, 'MyServiceEcho', { key: s }, metadata({ 'session-id': s })));
        expect(again).toBe(first);
        placed.set(s, first);
      }
      return placed;
    };
    const before = await where();
    expect(new Set(before.values()).size).toBeGreaterThan(1);
    const leaving = before.get('session-0')!;
    source.instances = source.instances.filter((i) => i.instance_id !== leaving);
    await until('corral drops the instance', async () => answeredBy(await unary(myService, 'MyServiceEcho', { key: 'x' }, metadata({ 'session-id': 'session-0' }))) !== leaving);
    const after = await where();
    for (const s of sessions) {
      if (before.get(s) === leaving) expect(after.get(s)).not.toBe(leaving);
      else expect(after.get(s)).toBe(before.get(s));
    }
    source.instances = [instance('a'), instance('b'), instance('c')];
    await until('the instance is back', async () => {
      const r = await unary(myService, 'MyServiceEcho', { key: 'x' }, metadata({ 'session-id': 'session-0' }));
      return answeredBy(r) === leaving;
    });
  });

  it('answers RESOURCE_EXHAUSTED "all instances are busy" with no instances, and follows the discoverer when they return', async () => {
    const all = source.instances;
    source.instances = [];
    await until('the cluster is empty', async () => (await unary(myService, 'MyServiceEcho', { key: 'e' })).error?.code === grpc.status.RESOURCE_EXHAUSTED);
    const r = await unary(myService, 'MyServiceEcho', { key: 'e' });
    expect(r.error?.details).toBe('all instances are busy');
    // The static clusters still hold a, b and c, so their pools stay; none was left without a holder.
    expect(await proxy.metric('corral_endpoint_pools')).toBe(3);
    source.instances = [instance('b')];
    await until('instance b is used', async () => answeredBy(await unary(myService, 'MyServiceEcho', { key: 'e2' })) === 'b');
    source.instances = all;
  });

  it('keeps serving the last list while the discoverer fails, and says so in corral_resolver_up', async () => {
    expect(await proxy.metric('corral_resolver_up{cluster="discovered"}')).toBe(1);
    source.failWith = 503;
    try {
      await until('the failure shows', async () => (await proxy.metric('corral_resolver_up{cluster="discovered"}')) === 0);
      expect((await unary(myService, 'MyServiceEcho', { key: 'while-down' })).error).toBeNull();
    } finally {
      source.failWith = null;
    }
    await until('the discoverer answers again', async () => (await proxy.metric('corral_resolver_up{cluster="discovered"}')) === 1);
  });

  it('collapses a herd in front of it: one backend call', async () => {
    await until('all instances known', async () => {
      const seen = new Set<string>();
      for (let i = 0; i < 6; i++) seen.add(answeredBy(await unary(myService, 'MyServiceEcho', { key: `k${i}` })));
      return seen.size === 3;
    });
    const count = async () => {
      let n = 0;
      for (const b of Object.values(backends)) n += (await backendStats(b.address)).calls.Lookup ?? 0;
      return n;
    };
    const before = await count();
    const herd = Array.from({ length: 200 }, () => unary(example, 'Lookup', { key: 'dynamic-herd', gate: 'dynamic-herd' }));
    await until('199 followers joined', async () => (await proxy.metric('corral_calls_in_progress{outcome="follower"}')) >= 199);
    for (const b of Object.values(backends)) await release(b.address, 'dynamic-herd');
    const results = await Promise.all(herd);
    expect(results.every((r) => r.error === null && r.reply.key === 'dynamic-herd')).toBe(true);
    expect(new Set(results.map(answeredBy)).size).toBe(1);
    expect(await count()).toBe(before + 1);
  });
});

describe('reload', () => {
  it('SIGHUP swaps routes without dropping a call in flight; a bad file keeps the running config', async () => {
    const inFlight = unary(myService, 'Login', { key: 'slow', gate: 'reload' });
    await until('the call reached a', async () => ((await backendStats(backends.a.address)).calls.Lookup ?? 0) > 0);
    writeFileSync(configPath, config('other_auth'));
    proxy.child.kill('SIGHUP');
    await until('Login goes to b', async () => answeredBy(await unary(myService, 'Login', { key: `after-${Math.random()}` })) === 'b');
    await release(backends.a.address, 'reload');
    const r = await inFlight;
    expect(r.error).toBeNull();
    expect(answeredBy(r)).toBe('a');

    writeFileSync(configPath, 'routes: [ { prefix: nope } ]\nclusters: {}\n');
    proxy.child.kill('SIGHUP');
    await until('corral logged the bad file', async () => proxy.lines.some((l) => l.includes('config reload failed')));
    expect(proxy.lines.find((l) => l.includes('config reload failed'))).toMatch(/routes\[0\]\.prefix=\\"nope\\"/);
    expect(answeredBy(await unary(myService, 'Login', { key: `still-${Math.random()}` }))).toBe('b');

    // A route that requires authorization, on a corral started without JWT_SECRET: refused too.
    writeFileSync(configPath, config('other_auth').replace('authorization: none', 'authorization: required'));
    proxy.child.kill('SIGHUP');
    await until('corral refused the file', async () => proxy.lines.some((l) => l.includes('JWT_SECRET is required')));
    expect(answeredBy(await unary(myService, 'Login', { key: `still-open-${Math.random()}` }))).toBe('b');
  });
});

describe("MyGateway's example config", () => {
  it('runs with only its addresses pointed at local processes', async () => {
    const text = readFileSync(new URL('../../examples/mygateway.yaml', import.meta.url), 'utf8')
      .replace('myauth:5001', `127.0.0.1:${backends.a.port}`)
      .replace('http://mydiscoverer:8080', source.url);
    const path = join(dir, 'mygateway.yaml');
    writeFileSync(path, text);
    const gateway = await startProxy({ CONFIG_PATH: path, SERVICE_PORT_GRPC: '0', JWT_SECRET: 'example-secret' });
    const c = myServiceClient(gateway.address);
    try {
      const login = await unary(c, 'Login', { key: 'alice' });
      expect(login.error).toBeNull();
      expect(answeredBy(login)).toBe('a');
      const guarded = await unary(c, 'MyServiceEcho', { key: 'x' }, metadata({ 'session-id': 's1' }));
      expect(guarded.error?.code).toBe(grpc.status.UNAUTHENTICATED);
      expect(guarded.error?.details).toBe('missing or invalid token');
      const other = await unary(example, 'Stats', {});
      expect(other.error?.code).toBe(grpc.status.UNIMPLEMENTED);
    } finally {
      c.close();
      await gateway.stop();
    }
  });
});
