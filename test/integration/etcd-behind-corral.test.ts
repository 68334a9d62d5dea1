/**
 * A real service nobody here wrote behind corral: etcd (Debian's etcd-server), driven by
 * its own client, etcdctl (grpc-go). With only BACKEND_ADDRESS set, nothing etcd does is
 * merged or served stale: etcd declares no method a read, so every call passes through.
 * With COLLAPSER_METHODS naming etcd's read, a herd of gets reaches etcd once while puts
 * stay exact and a read after a write through the same corral sees the write.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProxy, sumOfSeries, type Proxy } from '../../cmd/processes.js';
import { EtcdCluster } from '../support/etcd.js';

const run = promisify(execFile);
let etcd: EtcdCluster;

beforeAll(async () => {
  etcd = await EtcdCluster.start(1);
}, 60_000);
afterAll(() => etcd?.stop());

/** etcdctl (API v3) against `endpoint`; resolves with what it printed. */
async function etcdctl(endpoint: string, ...args: string[]): Promise<string> {
  const { stdout } = await run('etcdctl', [`--endpoints=${endpoint}`, '--dial-timeout=5s', '--command-timeout=10s', ...args], {
    env: { ...process.env, ETCDCTL_API: '3' },
  });
  return stdout;
}

/** etcd's revision, asked of etcd directly. */
async function revision(): Promise<number> {
  return JSON.parse(await etcdctl(etcd.endpoints[0]!, 'get', 'nothing-here', '-w', 'json')).header.revision;
}

/** Range calls etcd has answered OK, from its own /metrics. */
async function ranges(): Promise<number> {
  const body = await (await fetch(`http://${etcd.endpoints[0]}/metrics`)).text();
  return sumOfSeries(body, 'grpc_server_handled_total{grpc_code="OK",grpc_method="Range"}');
}

async function withCorral(env: Record<string, string>, test: (proxy: Proxy) => Promise<void>): Promise<void> {
  const proxy = await startProxy({ BACKEND_ADDRESS: etcd.endpoints[0]!, ...env });
  try {
    await proxy.untilReady();
    await test(proxy);
  } finally {
    await proxy.stop();
  }
}

/** The puts, the lease grants and the read after a write, all through corral. */
async function writesStayExact(through: string): Promise<void> {
  const before = await revision();
  await Promise.all(Array.from({ length: 20 }, () => etcdctl(through, 'put', 'k', 'v')));
  expect((await revision()) - before).toBe(20); // every put applied

  const leases = await Promise.all(Array.from({ length: 5 }, () => etcdctl(through, 'lease', 'grant', '60')));
  const ids = leases.map((out) => /lease ([0-9a-f]+) granted/.exec(out)?.[1]);
  expect(ids.every((id) => id !== undefined)).toBe(true);
  expect(new Set(ids).size).toBe(5); // five clients, five leases

  await etcdctl(through, 'put', 'k', 'v1');
  expect(await etcdctl(through, 'get', 'k', '--print-value-only')).toBe('v1\n');
  await etcdctl(through, 'put', 'k', 'v2');
  expect(await etcdctl(through, 'get', 'k', '--print-value-only')).toBe('v2\n');
}

describe('etcd behind corral, driven by etcdctl', () => {
  it('with only BACKEND_ADDRESS: concurrent puts all applied, leases distinct, reads after writes fresh', async () => {
    await withCorral({}, async (proxy) => {
      await writesStayExact(proxy.address);
      expect(await proxy.metric('corral_requests_total{outcome="leader"}')).toBe(0);
      expect(await proxy.metric('corral_requests_total{outcome="follower"}')).toBe(0);
    });
  }, 60_000);

  it('with COLLAPSER_METHODS=/etcdserverpb.KV/Range: a herd of gets reaches etcd once, puts stay exact', async () => {
    await withCorral({ COLLAPSER_METHODS: '/etcdserverpb.KV/Range', COLLAPSER_CACHE_DURATION: '5s' }, async (proxy) => {
      await etcdctl(proxy.address, 'put', 'herd', 'h');
      const before = await ranges();
      const gets = await Promise.all(Array.from({ length: 20 }, () => etcdctl(proxy.address, 'get', 'herd', '--print-value-only')));
      expect(gets).toEqual(gets.map(() => 'h\n'));
      expect((await ranges()) - before).toBe(1);
      await writesStayExact(proxy.address);
    });
  }, 60_000);
});
