/**
 * A purge across a fleet (COLLAPSER_FLEET=on with POST /cache/purge): two corral sidecars,
 * each in front of its own replica, registered in a real etcd, each caching what it was
 * answered. A purge asked of one member reaches the other through etcd.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startBackend, startProxy, type Backend, type Proxy } from '../../cmd/processes.js';
import { EtcdCluster } from '../support/etcd.js';
import { backendStats, client, type Client, unary } from '../support/grpc.js';
import { until } from '../support/until.js';

let etcd: EtcdCluster;
let backends: Backend[] = [];
let proxies: Proxy[] = [];
let clients: Client[] = [];

beforeAll(async () => {
  etcd = await EtcdCluster.start(1);
  backends = await Promise.all([0, 1].map((i) => startBackend({ name: `replica-${i}` })));
  proxies = await Promise.all(
    [0, 1].map(async (i) => {
      const port = await freePort();
      return startProxy({
        BACKEND_ADDRESS: backends[i]!.address,
        GRPC_PORT: String(port),
        REGISTRY_ETCD_ENDPOINTS: etcd.endpoints.join(','),
        REGISTRY_SERVICE: 'purge-test',
        REGISTRY_ADVERTISE_ADDRESS: `127.0.0.1:${port}`,
        REGISTRY_TTL: '2s',
        COLLAPSER_FLEET: 'on',
        COLLAPSER_CACHE_DURATION: '60s',
        RESPONSE_OUTCOME_HEADER: 'x-corral-outcome',
      });
    }),
  );
  clients = proxies.map((p) => client(p.address));
  for (const p of proxies) await until('every sidecar sees the fleet', async () => (await p.metric('corral_fleet_members')) === 2, 20_000);
}, 60_000);

afterAll(async () => {
  for (const c of clients) c.close();
  await Promise.all(proxies.map((p) => p.stop()));
  await Promise.all(backends.map((b) => b.stop()));
  await etcd?.stop();
});

const lookups = async () => {
  let n = 0;
  for (const b of backends) n += (await backendStats(b.address)).calls.Lookup ?? 0;
  return n;
};
const ask = async (at: number, key: string) => {
  const r = await unary(clients[at]!, 'Lookup', { key, cacheTags: `fleet-tag ${key}` });
  return r.headers?.get('x-corral-outcome')[0] as string;
};

describe('a purge across the fleet', () => {
  it('asked of one member, drops the tagged answers every member cached', async () => {
    for (const key of ['p-1', 'p-2', 'p-3']) for (const at of [0, 1]) await ask(at, key);
    // Cached on both: one backend call per key for the fleet, then hits on both sidecars.
    expect([await ask(0, 'p-1'), await ask(1, 'p-1'), await ask(1, 'p-2')]).toEqual(['cache_hit', 'cache_hit', 'cache_hit']);
    const before = await lookups();
    const res = await fetch(`http://127.0.0.1:${proxies[0]!.adminPort}/cache/purge?tag=fleet-tag`, { method: 'POST' });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ soft: false, fleet: 'published' });
    await until('the other member purged too', async () => (await proxies[1]!.metric('corral_cache_purged_total')) >= 3);
    expect([await ask(1, 'p-1'), await ask(1, 'p-2'), await ask(0, 'p-3')].every((o) => o !== 'cache_hit')).toBe(true);
    expect((await lookups()) - before).toBe(3);
    expect(proxies[1]!.lines.some((l) => l.includes('"cache purged for the fleet"'))).toBe(true);
  });
});
