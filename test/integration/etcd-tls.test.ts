/**
 * The registry and etcd discovery against a real etcd (Debian's etcd-server) that serves
 * its clients over TLS and requires client certificates.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBackend, startProxy, type Backend, type Proxy } from '../../cmd/processes.js';
import { TestCa } from '../support/certificates.js';
import { EtcdCluster, freePort } from '../support/etcd.js';
import { client, unary } from '../support/grpc.js';
import { until } from '../support/until.js';

const SERVICE = 'orders-tls';
const ca = new TestCa('etcd');
const etcdServer = ca.issue({ cn: 'etcd' });
const corralClient = ca.issue({ cn: 'corral-etcd-client' });
const etcdctl = ca.issue({ cn: 'etcdctl' });
const etcdEnv = { REGISTRY_ETCD_CA_FILE: ca.certFile, REGISTRY_ETCD_CERT_FILE: corralClient.certFile, REGISTRY_ETCD_KEY_FILE: corralClient.keyFile };
let etcd: EtcdCluster;
let backend: Backend;
let agent: Proxy;
let front: Proxy;

beforeAll(async () => {
  etcd = await EtcdCluster.start(1, { caFile: ca.certFile, server: etcdServer, client: etcdctl });
  backend = await startBackend({ name: 'tls-registered' });
  const port = await freePort();
  agent = await startProxy({
    ...etcdEnv,
    BACKEND_ADDRESS: backend.address,
    GRPC_PORT: String(port),
    REGISTRY_ETCD_ENDPOINTS: etcd.endpoints.join(','),
    REGISTRY_SERVICE: SERVICE,
    REGISTRY_ADVERTISE_ADDRESS: `127.0.0.1:${port}`,
  });
  const routes = join(mkdtempSync(join(tmpdir(), 'corral-etcd-tls-')), 'client.yaml');
  writeFileSync(routes, `default: { action: use_cluster, use_cluster: ${SERVICE} }\nclusters:\n  ${SERVICE}: { type: etcd, etcd_endpoints: ["${etcd.endpoints[0]}"], service: ${SERVICE} }\n`);
  front = await startProxy({ ...etcdEnv, CONFIG_PATH: routes });
}, 60_000);

afterAll(async () => {
  await front?.stop();
  await agent?.stop();
  await backend?.stop();
  await etcd?.stop();
});

describe('etcd over TLS with client certificates', () => {
  it('registers over TLS, and a client corral discovers the instance over TLS and reaches it', async () => {
    await until('the agent registered in etcd', () => etcd.ctl('get', '--prefix', '--keys-only', `/corral/v1/services/${SERVICE}/`).includes(SERVICE));
    const c = client(front.address);
    try {
      let answer = await unary(c, 'Lookup', { key: 'via-etcd-tls' });
      await until('the client corral routes to the registered instance', async () => (answer = await unary(c, 'Lookup', { key: `via-etcd-tls-${Date.now()}` })).error === null);
      expect(answer.headers?.get('x-backend')[0]).toBe('tls-registered');
    } finally {
      c.close();
    }
  });

  it('refuses a client certificate without the CA to check etcd with', async () => {
    await expect(startProxy({ BACKEND_ADDRESS: '127.0.0.1:1', REGISTRY_ETCD_CERT_FILE: corralClient.certFile, REGISTRY_ETCD_KEY_FILE: corralClient.keyFile })).rejects.toThrow(
      /exited with 2[\s\S]*REGISTRY_ETCD_CERT_FILE and REGISTRY_ETCD_KEY_FILE need REGISTRY_ETCD_CA_FILE/,
    );
  });
});
