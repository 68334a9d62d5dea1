/**
 * A fleet over mTLS: two sidecars with certificates of the fleet's SPIFFE ID
 * (COLLAPSER_FLEET_PEER_ID), each in front of its own replica, registered in a real etcd.
 * Calls between them carry the original client's identity; a client that marks its call as
 * forwarded is not believed, not even the app beside a sidecar, which holds the workload's
 * own identity.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { ExampleClient } from '../../cmd/example-service.js';
import { freePort, startBackend, startProxy, type Backend, type Proxy } from '../../cmd/processes.js';
import { TestCa, type Issued } from '../support/certificates.js';
import { EtcdCluster } from '../support/etcd.js';
import { backendStats, grpc, metadata, unary, type Client } from '../support/grpc.js';
import { until } from '../support/until.js';

const ca = new TestCa('fleet');
/** The fleet's identity: only the sidecars hold it. */
const SIDECAR_ID = 'spiffe://test.example/ns/shop/sa/orders/corral-fleet';
/** The workload's own identity, which the app container beside each sidecar holds. */
const WORKLOAD_ID = 'spiffe://test.example/ns/shop/sa/orders';
const alice = ca.issue({ cn: 'alice', uris: ['spiffe://test.example/ns/shop/sa/alice'] });
const bob = ca.issue({ cn: 'bob', uris: ['spiffe://test.example/ns/shop/sa/bob'] });
const carol = ca.issue({ cn: 'carol', uris: ['spiffe://test.example/ns/shop/sa/carol'] });
const app = ca.issue({ cn: 'orders-app', uris: [WORKLOAD_ID] });
let etcd: EtcdCluster;
let backends: Backend[] = [];
let sidecars: Proxy[] = [];
const clients: Client[] = [];

function tlsClient(address: string, who: Issued): Client {
  const credentials = grpc.credentials.createSsl(readFileSync(ca.certFile), readFileSync(who.keyFile), readFileSync(who.certFile));
  const c = new ExampleClient(address, credentials, { 'grpc.ssl_target_name_override': 'localhost' }) as Client;
  clients.push(c);
  return c;
}

async function lookups(): Promise<number> {
  let n = 0;
  for (const b of backends) n += (await backendStats(b.address)).calls.Lookup ?? 0;
  return n;
}

beforeAll(async () => {
  etcd = await EtcdCluster.start(1);
  backends = await Promise.all([0, 1].map((i) => startBackend({ name: `replica-${i}`, delay: '300ms' })));
  sidecars = await Promise.all(
    [0, 1].map(async (i) => {
      const own = ca.issue({ cn: `sidecar-${i}`, uris: [SIDECAR_ID] });
      const port = await freePort();
      return startProxy({
        BACKEND_ADDRESS: backends[i]!.address,
        GRPC_PORT: String(port),
        REGISTRY_ETCD_ENDPOINTS: etcd.endpoints.join(','),
        REGISTRY_SERVICE: 'fleet-tls',
        REGISTRY_ADVERTISE_ADDRESS: `127.0.0.1:${port}`,
        COLLAPSER_FLEET: 'on',
        COLLAPSER_FLEET_PEER_ID: SIDECAR_ID,
        COLLAPSER_CACHE_DURATION: '0',
        TLS_CERT_FILE: own.certFile,
        TLS_KEY_FILE: own.keyFile,
        TLS_CLIENT_CA_FILE: ca.certFile,
      });
    }),
  );
  for (const s of sidecars) await until('each sidecar sees the other', async () => (await s.metric('corral_fleet_members')) === 2, 20_000);
}, 60_000);

afterAll(async () => {
  for (const c of clients) c.close();
  await Promise.all(sidecars.map((s) => s.stop()));
  await Promise.all(backends.map((b) => b.stop()));
  await etcd?.stop();
});

describe('the fleet over mTLS', () => {
  it('collapses one client identity across both sidecars into one backend call', async () => {
    const before = await lookups();
    const [a, b] = [tlsClient(sidecars[0]!.address, alice), tlsClient(sidecars[1]!.address, alice)];
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => unary(i % 2 === 0 ? a : b, 'Lookup', { key: 'fleet-same-identity' })));
    expect(results.map((r) => r.error)).toEqual(Array(8).fill(null));
    expect((await lookups()) - before).toBe(1);
    const forwarded = (await sidecars[0]!.metric('corral_fleet_forwarded_total')) + (await sidecars[1]!.metric('corral_fleet_forwarded_total'));
    expect(forwarded).toBeGreaterThanOrEqual(1);
  });

  it('keeps two identities apart across the hop: each backend call sees its own client', async () => {
    const before = await lookups();
    const [a, b] = [tlsClient(sidecars[0]!.address, alice), tlsClient(sidecars[1]!.address, bob)];
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => unary(i % 2 === 0 ? a : b, 'Lookup', { key: 'fleet-two-identities' })));
    expect(results.map((r) => r.error)).toEqual(Array(8).fill(null));
    expect((await lookups()) - before).toBe(2);
    for (const [i, r] of results.entries()) expect(r.reply.metadata['x-forwarded-client-cert']).toMatch(i % 2 === 0 ? /sa\/alice$/ : /sa\/bob$/);
  });

  it("does not believe a client's mark of a forwarded call, nor the identity it sends with it", async () => {
    const c = tlsClient(sidecars[1]!.address, carol);
    const forged = metadata({ 'corral-fleet-hop': 'some-peer', 'x-forwarded-client-cert': `By=${SIDECAR_ID};Hash=00;URI=spiffe://test.example/ns/shop/sa/alice` });
    const { error, reply } = await unary(c, 'Lookup', { key: 'fleet-forged-hop' }, forged);
    expect(error).toBeNull();
    expect(reply.metadata['x-forwarded-client-cert']).toMatch(/URI=spiffe:\/\/test\.example\/ns\/shop\/sa\/carol$/);
    expect(reply.metadata['corral-fleet-hop']).toBeUndefined();
  });

  it("does not believe the app beside a sidecar either: the workload's identity is not the fleet's", async () => {
    const c = tlsClient(sidecars[0]!.address, app);
    const forged = metadata({ 'corral-fleet-hop': 'some-peer', 'x-forwarded-client-cert': `By=${SIDECAR_ID};Hash=00;URI=spiffe://test.example/ns/shop/sa/alice` });
    const { error, reply } = await unary(c, 'Lookup', { key: 'fleet-app-forged-hop' }, forged);
    expect(error).toBeNull();
    expect(reply.metadata['x-forwarded-client-cert']).toMatch(/URI=spiffe:\/\/test\.example\/ns\/shop\/sa\/orders$/);
  });

  it('refuses to start over TLS without COLLAPSER_FLEET_PEER_ID, or with one its own certificate does not carry', async () => {
    const { proxyExit } = await import('../../cmd/processes.js');
    const own = ca.issue({ cn: 'sidecar-x', uris: [WORKLOAD_ID] });
    const env = {
      BACKEND_ADDRESS: backends[0]!.address,
      REGISTRY_ETCD_ENDPOINTS: etcd.endpoints.join(','),
      REGISTRY_SERVICE: 'fleet-tls-refused',
      REGISTRY_ADVERTISE_ADDRESS: '127.0.0.1:1',
      COLLAPSER_FLEET: 'on',
      TLS_CERT_FILE: own.certFile,
      TLS_KEY_FILE: own.keyFile,
      TLS_CLIENT_CA_FILE: ca.certFile,
    };
    const missing = await proxyExit(env);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('COLLAPSER_FLEET=on over TLS needs COLLAPSER_FLEET_PEER_ID');
    const other = await proxyExit({ ...env, COLLAPSER_FLEET_PEER_ID: SIDECAR_ID });
    expect(other.code).toBe(2);
    expect(other.stderr).toContain(`COLLAPSER_FLEET_PEER_ID='${SIDECAR_ID}' but TLS_CERT_FILE carries '${WORKLOAD_ID}'`);
  });
});
