/**
 * The registry on a real 3-member etcd cluster (Debian's etcd-server) with real corral
 * processes: agents that front a backend each and register it, and a client corral whose
 * cluster is of type etcd. Members are killed (the leader, then all of them) and agents are
 * stopped (SIGTERM) and killed (SIGKILL) while calls go on.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backend, Proxy } from '../../cmd/processes.js';
import { EtcdCluster, freePort } from '../support/etcd.js';
import { client, grpc, release, unary, until, backendStats, type Client } from '../support/grpc.js';

const TTL_SECONDS = 3;
const SERVICE = 'orders';
const INSTANCES = `/corral/v1/services/${SERVICE}/instances/`;

let etcd: EtcdCluster;
const backends: Record<string, Backend> = {};
const agents: Record<string, Proxy> = {};
const agentPorts: Record<string, number> = {};
let front: Proxy;
let c: Client;
const dir = mkdtempSync(join(tmpdir(), 'corral-registry-'));
/** Times measured for the closing note, printed at the end. */
const measured: Record<string, number> = {};

const answeredBy = (r: { headers: grpc.Metadata | null }) => String(r.headers?.get('x-backend')[0]);

async function startAgent(name: string): Promise<Proxy> {
  const { startProxy } = await import('../../cmd/processes.js');
  const port = await freePort();
  agentPorts[name] = port;
  const agent = await startProxy({
    BACKEND_ADDRESS: backends[name]!.address,
    GRPC_PORT: String(port),
    REGISTRY_ETCD_ENDPOINTS: etcd.endpoints.join(','),
    REGISTRY_SERVICE: SERVICE,
    REGISTRY_ADVERTISE_ADDRESS: `127.0.0.1:${port}`,
    REGISTRY_TTL: `${TTL_SECONDS}s`,
    SHUTDOWN_DELAY: '1500ms',
    SHUTDOWN_GRACE: '5s',
  });
  agents[name] = agent;
  return agent;
}

interface Registered {
  key: string;
  lease: string;
  record: { instance_id: string; address: string; state: string; started_at: string; version: string };
}

/** The instance records in etcd, read with etcdctl. */
function registered(): Registered[] {
  const out = JSON.parse(etcd.ctl('get', '--prefix', INSTANCES, '--write-out=json')) as { kvs?: Array<{ key: string; value: string; lease?: number }> };
  return (out.kvs ?? []).map((kv) => ({
    key: Buffer.from(kv.key, 'base64').toString(),
    lease: String(kv.lease ?? 0),
    record: JSON.parse(Buffer.from(kv.value, 'base64').toString()),
  }));
}
const addressOf = (name: string) => `127.0.0.1:${agentPorts[name]}`;
const stateOf = (name: string) => registered().find((r) => r.record.address === addressOf(name))?.record.state ?? 'absent';

/** Which backends answer a few fresh calls through the client corral. */
async function answering(calls = 8): Promise<Set<string>> {
  const seen = new Set<string>();
  for (let i = 0; i < calls; i++) {
    const r = await unary(c, 'Lookup', { key: `spread-${Date.now()}-${i}` });
    seen.add(r.error === null ? answeredBy(r) : `error ${r.error.code}`);
  }
  return seen;
}

beforeAll(async () => {
  const { startBackend, startProxy } = await import('../../cmd/processes.js');
  etcd = await EtcdCluster.start(3);
  for (const name of ['a', 'b', 'c']) backends[name] = await startBackend({ name });
  await startAgent('a');
  await startAgent('b');
  const routes = join(dir, 'client.yaml');
  writeFileSync(
    routes,
    `default: { action: use_cluster, use_cluster: ${SERVICE} }
clusters:
  ${SERVICE}: { type: etcd, etcd_endpoints: [${etcd.endpoints.map((e) => `"${e}"`).join(', ')}], service: ${SERVICE} }
`,
  );
  front = await startProxy({ CONFIG_PATH: routes, COLLAPSER_CACHE_DURATION: '0' });
  c = client(front.address);
}, 60_000);

afterAll(async () => {
  c?.close();
  await front?.stop();
  for (const agent of Object.values(agents)) await agent.stop();
  for (const backend of Object.values(backends)) await backend.stop();
  await etcd?.stop();
  console.log(`registry timings (ms): ${JSON.stringify(measured)}`);
});

describe('corral registering in etcd, and a client corral discovering from it', () => {
  it('registers each agent under the documented keys, with its lease', async () => {
    await until('both agents registered', async () => registered().length === 2);
    for (const r of registered()) {
      expect(r.key).toBe(`${INSTANCES}${r.record.instance_id}`);
      expect(r.record).toMatchObject({ state: 'SERVING', version: expect.any(String) });
      expect(r.record.started_at).toMatch(/^\d{4}-\d\d-\d\dT/);
      expect(r.lease).not.toBe('0');
    }
    expect(registered().map((r) => r.record.address).sort()).toEqual([addressOf('a'), addressOf('b')].sort());
    // etcd's own naming entry, as go.etcd.io/etcd/client/v3/naming/endpoints writes it.
    const naming = etcd.ctl('get', `/corral/v1/naming/${SERVICE}/${addressOf('a')}`, '--print-value-only').trim();
    expect(naming).toBe(`{"Op":0,"Addr":"${addressOf('a')}","Metadata":null}`);
  });

  it('spreads calls over both instances, and a herd through the client still makes one backend call', async () => {
    await until('both instances answer through the client', async () => (await answering()).size === 2);
    // The client learns the instances' reads over server reflection as etcd lists them.
    await until('the client learned both instances\' reads', () => front.lines.filter((l) => l.includes('learned the backend')).length >= 2);
    const lookups = async () => (await backendStats(backends.a!.address)).calls.Lookup! + (await backendStats(backends.b!.address)).calls.Lookup!;
    const before = await lookups();
    const herd = Array.from({ length: 50 }, () => unary(c, 'Lookup', { key: 'registry-herd', gate: 'registry-herd' }));
    await until('49 followers joined', async () => (await front.metric('corral_calls_in_progress{outcome="follower"}')) >= 49);
    await release(backends.a!.address, 'registry-herd');
    await release(backends.b!.address, 'registry-herd');
    const results = await Promise.all(herd);
    expect(results.filter((r) => r.error !== null)).toEqual([]);
    expect((await lookups()) - before).toBe(1);
  });

  it('SIGKILL to an agent: its key expires after the TTL and the client stops using it', async () => {
    const killedAt = Date.now();
    agents.b!.child.kill('SIGKILL');
    delete agents.b;
    await until('the key expired', async () => stateOf('b') === 'absent', 15_000);
    measured.crashToKeyGone = Date.now() - killedAt;
    await until('the client answers from a only', async () => {
      const seen = await answering(4);
      return seen.size === 1 && seen.has('a');
    }, 15_000);
    measured.crashToClientMoved = Date.now() - killedAt;
    expect(measured.crashToKeyGone).toBeGreaterThanOrEqual((TTL_SECONDS - 1) * 1000);
    await startAgent('b');
    await until('b registered again', async () => stateOf('b') === 'SERVING');
  });

  it('the etcd leader is killed: registrations survive, a new agent registers, the client watch goes on', async () => {
    const leader = etcd.leader();
    const leasesBefore = registered().map((r) => r.lease).sort();
    await etcd.kill(leader);
    await new Promise((r) => setTimeout(r, 2 * TTL_SECONDS * 1000));
    expect(registered().map((r) => r.lease).sort()).toEqual(leasesBefore); // kept alive through the other members
    await startAgent('c');
    await until('the client uses the new instance', async () => (await answering()).has('c'), 20_000);
    etcd.startMember(leader);
    await etcd.healthy();
  });

  it('SIGTERM with SHUTDOWN_DELAY: seen DRAINING at once, no call fails, new calls go elsewhere, the key goes at exit', async () => {
    await until('three instances answer', async () => (await answering(12)).size === 3);
    const failures: string[] = [];
    let calling = true;
    const loop = (async () => {
      for (let i = 0; calling; i++) {
        const r = await unary(c, 'Lookup', { key: `drain-${i}` });
        if (r.error !== null) failures.push(`${r.error.code} ${r.error.details}`);
      }
    })();
    const agent = agents.c!;
    delete agents.c;
    const signalledAt = Date.now();
    const exited = agent.stop('SIGTERM');
    await until('etcd says DRAINING', async () => stateOf('c') === 'DRAINING', 5_000);
    measured.drainNoticeInEtcd = Date.now() - signalledAt;
    await until('new calls go elsewhere', async () => !(await answering(6)).has('c'), 5_000);
    measured.drainNoticeToClientMoved = Date.now() - signalledAt;
    expect(measured.drainNoticeToClientMoved).toBeLessThan(1500); // within SHUTDOWN_DELAY
    expect(await exited).toBe(0);
    calling = false;
    await loop;
    expect(failures).toEqual([]);
    expect(stateOf('c')).toBe('absent');
    expect(etcd.ctl('get', '--prefix', `/corral/v1/naming/${SERVICE}/${addressOf('c')}`).trim()).toBe('');
  });

  it('etcd entirely down, then back: clients keep serving the last list, agents register again', async () => {
    const before = registered();
    for (let i = 0; i < 3; i++) await etcd.kill(i);
    await new Promise((r) => setTimeout(r, (TTL_SECONDS + 1) * 1000));
    expect(await answering(6)).toEqual(new Set(['a', 'b']));
    await until('the client reports etcd unreachable', async () => (await front.metric('corral_resolver_up{cluster="orders"}')) === 0);
    const ready = await front.admin('/ready');
    expect(ready.status).toBe(200); // it still serves its last list
    expect(ready.body).toMatch(/^ready; endpoint sources failing, last lists kept: cluster orders: etcd/);
    for (let i = 0; i < 3; i++) etcd.startMember(i);
    await etcd.healthy();
    await until('both agents registered again', async () => registered().filter((r) => r.record.state === 'SERVING').length === 2, 20_000);
    expect(registered().map((r) => r.record.instance_id).sort()).toEqual(before.map((r) => r.record.instance_id).sort());
    await until('the client watches again', async () => (await front.metric('corral_resolver_up{cluster="orders"}')) === 1, 20_000);
    // The watch catches up with what happened while it was away (leases expired, agents registered again).
    await until('the client uses both instances again', async () => (await answering(8)).size === 2 && (await answering(8)).has('a'), 20_000);
    // The waits above are bounds; together they can pass vitest's default of 30 s on a loaded machine.
  }, 90_000);

  it('an empty registry is an empty cluster: RESOURCE_EXHAUSTED "all instances are busy"', async () => {
    for (const name of ['a', 'b']) {
      await agents[name]!.stop('SIGTERM');
      delete agents[name];
    }
    // Revoked at exit; at worst (etcd still recovering from the outage above) expired after the TTL.
    await until('no instance is registered', async () => registered().length === 0, (TTL_SECONDS + 1) * 1000);
    await until('the client has no instance', async () => (await unary(c, 'Lookup', { key: `empty-${Date.now()}` })).error?.code === grpc.status.RESOURCE_EXHAUSTED);
    const r = await unary(c, 'Lookup', { key: 'empty' });
    expect(r.error?.details).toBe('all instances are busy');
  });
});
