/**
 * Collapsing across a fleet (COLLAPSER_FLEET=on): four corral sidecars, each in front of
 * its own replica of the example backend, registered in a real etcd. A herd spread over
 * all of them makes one backend call per key; what must stay apart stays apart; an owner
 * that dies or freezes mid-herd costs its peers nothing but a local call.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startBackend, startProxy, type Backend, type Proxy } from '../../cmd/processes.js';
import { EtcdCluster } from '../support/etcd.js';
import { backendStats, client, collect, metadata, release, unary, type Client } from '../support/grpc.js';
import { until } from '../support/until.js';

const SIZE = 4;
let etcd: EtcdCluster;
let backends: Backend[] = [];
let proxies: Array<Proxy | null> = [];
let clients: Client[] = [];

async function startSidecar(i: number): Promise<Proxy> {
  const port = await freePort();
  return startProxy({
    BACKEND_ADDRESS: backends[i]!.address,
    GRPC_PORT: String(port),
    REGISTRY_ETCD_ENDPOINTS: etcd.endpoints.join(','),
    REGISTRY_SERVICE: 'fleet-test',
    REGISTRY_ADVERTISE_ADDRESS: `127.0.0.1:${port}`,
    REGISTRY_TTL: '2s',
    COLLAPSER_FLEET: 'on',
    COLLAPSER_CACHE_DURATION: '0',
    COLLAPSER_SKIP_METHODS: '/corral.example.v1.Example/Release',
    COLLAPSER_STREAM_JOIN: '/corral.example.v1.Example/Watch=latest',
  });
}

/** Lookup calls the replicas have answered, all together. */
async function lookups(): Promise<number> {
  let n = 0;
  for (const b of backends) n += (await backendStats(b.address)).calls.Lookup ?? 0;
  return n;
}

async function members(p: Proxy): Promise<number> {
  return p.metric('corral_fleet_members');
}

/** Calls waiting in a flight on the live sidecars (leaders and followers), forwarded ones included. */
async function joined(): Promise<number> {
  let n = 0;
  for (const p of proxies) {
    if (p === null) continue;
    n += (await p.metric('corral_calls_in_progress{outcome="leader"}')) + (await p.metric('corral_calls_in_progress{outcome="follower"}'));
  }
  return n;
}

/** A counter summed over the live sidecars. */
async function overFleet(series: string): Promise<number> {
  let n = 0;
  for (const p of proxies) if (p !== null) n += await p.metric(series);
  return n;
}

/**
 * A held herd of `n` identical Lookups over all four sidecars, once every call waits in a
 * flight; the owner is the sidecar whose replica got the one backend call.
 */
async function heldHerd(key: string, n: number) {
  const perReplica = () => Promise.all(backends.map(async (b) => (await backendStats(b.address)).calls.Lookup ?? 0));
  const before = await lookups();
  const was = await perReplica();
  const calls = herd(key, n, [0, 1, 2, 3]);
  await until('every call waits in a flight', async () => (await joined()) === n + SIZE - 1);
  const now = await perReplica();
  const owner = now.findIndex((c, i) => c > was[i]!);
  expect(owner).toBeGreaterThanOrEqual(0);
  return { calls, owner, before };
}

/** Opens `gate` on every replica (the held Lookups answer). */
async function releaseAll(gate: string): Promise<void> {
  await Promise.all(backends.map((b) => release(b.address, gate)));
}

beforeAll(async () => {
  etcd = await EtcdCluster.start(1);
  backends = await Promise.all(Array.from({ length: SIZE }, (_, i) => startBackend({ name: `replica-${i}` })));
  proxies = await Promise.all(Array.from({ length: SIZE }, (_, i) => startSidecar(i)));
  clients = proxies.map((p) => client(p!.address));
  for (const p of proxies) await until('every sidecar sees the whole fleet', async () => (await members(p!)) === SIZE, 20_000);
}, 60_000);

afterAll(async () => {
  for (const c of clients) c.close();
  await Promise.all(proxies.map((p) => p?.stop('SIGKILL')));
  await Promise.all(backends.map((b) => b.stop()));
  await etcd?.stop();
});

/** `n` identical held Lookups spread over the sidecars `via`; resolves once `held` backend calls wait. */
function herd(key: string, n: number, via: number[], md?: () => ReturnType<typeof metadata>) {
  return Array.from({ length: n }, (_, i) => {
    const at = via[i % via.length]!;
    return { at, result: unary(clients[at]!, 'Lookup', { key, gate: key }, md?.()) };
  });
}

describe('a fleet of corrals', () => {
  it('makes one backend call for a herd spread over every sidecar', async () => {
    const before = await lookups();
    const forwarded = await overFleet('corral_fleet_forwarded_total');
    const served = await overFleet('corral_fleet_served_total');
    const calls = herd('fleet-herd', 40, [0, 1, 2, 3]);
    // All forty joined a flight, and the three non-owners' flights joined the owner's.
    await until('every call waits in a flight', async () => (await joined()) === 40 + SIZE - 1);
    // The admin views show the fleet, and which member owns each flight's key.
    const dump = JSON.parse((await proxies[0]!.admin('/config_dump')).body);
    expect(dump.fleet.members).toHaveLength(SIZE);
    const { flights } = JSON.parse((await proxies[0]!.admin('/flights')).body);
    expect(flights.map((f: { owner: string }) => dump.fleet.members.some((m: { id: string }) => m.id === f.owner))).toEqual([true]);
    await releaseAll('fleet-herd');
    const results = await Promise.all(calls.map((c) => c.result));
    expect(results.map((r) => r.error?.message ?? 'ok')).toEqual(results.map(() => 'ok'));
    expect(new Set(results.map((r) => r.reply.callNumber)).size).toBe(1);
    expect((await lookups()) - before).toBe(1);
    // Each flight a non-owner forwarded was served by the owner, though it joined the owner's flight as a follower.
    expect([(await overFleet('corral_fleet_forwarded_total')) - forwarded, (await overFleet('corral_fleet_served_total')) - served]).toEqual([SIZE - 1, SIZE - 1]);
  });

  it('spreads the owners of distinct keys, and keeps two identities apart fleet-wide', async () => {
    const owners = new Set<string>();
    for (let k = 0; k < 12; k++) {
      const { headers } = await unary(clients[k % SIZE]!, 'Lookup', { key: `spread-${k}` });
      owners.add(headers!.get('x-backend')[0] as string);
    }
    expect(owners.size).toBeGreaterThan(1);

    const before = await lookups();
    const as = (user: string) => () => metadata({ authorization: `Bearer ${user}` });
    const alice = herd('fleet-identities', 8, [0, 1, 2, 3], as('alice'));
    const bob = herd('fleet-identities', 8, [0, 1, 2, 3], as('bob'));
    // Two keys: eight calls each, plus the flights the three non-owners forwarded for each.
    await until('every call waits in a flight', async () => (await joined()) === 16 + 2 * (SIZE - 1) || (await lookups()) - before > 2);
    await releaseAll('fleet-identities');
    const results = await Promise.all([...alice, ...bob].map((c) => c.result));
    expect(results.every((r) => r.error === null)).toBe(true);
    expect((await lookups()) - before).toBe(2);
  });

  it('keeps a skipped method and a bidi stream on the local replica', async () => {
    const releases = async (i: number) => (await backendStats(backends[i]!.address)).calls.Release ?? 0;
    const before = await Promise.all(backends.map((_, i) => releases(i)));
    await unary(clients[2]!, 'Release', { gate: 'nobody-waits' });
    const after = await Promise.all(backends.map((_, i) => releases(i)));
    expect(after.map((n, i) => n - before[i]!)).toEqual([0, 0, 1, 0]);

    const chats = async (i: number) => (await backendStats(backends[i]!.address)).calls.Chat ?? 0;
    const chatsBefore = await Promise.all(backends.map((_, i) => chats(i)));
    const chat = clients[1]!.Chat() as import('@grpc/grpc-js').ClientDuplexStream<{ text: string }, { text: string }>;
    const echoed = new Promise<{ text: string }>((resolve) => chat.once('data', resolve));
    chat.write({ text: 'hello' });
    expect((await echoed).text).toContain('hello');
    chat.end();
    const chatsAfter = await Promise.all(backends.map((_, i) => chats(i)));
    expect(chatsAfter.map((n, i) => n - chatsBefore[i]!)).toEqual([0, 1, 0, 0]);
  });

  it('makes one backend stream for a server-streaming herd, every caller getting the same messages', async () => {
    const watches = async () => {
      let n = 0;
      for (const b of backends) n += (await backendStats(b.address)).calls.Watch ?? 0;
      return n;
    };
    const before = await watches();
    const streams = Array.from({ length: 16 }, (_, i) => collect(clients[i % SIZE]!.Watch({ topic: 'fleet-stream', count: 3, gate: 'fleet-stream' })));
    await until('every stream waits in a flight', async () => (await joined()) === 16 + SIZE - 1);
    await releaseAll('fleet-stream');
    const results = await Promise.all(streams);
    expect(results.map((r) => r.error?.message ?? 'ok')).toEqual(results.map(() => 'ok'));
    const seen = results.map((r) => JSON.stringify(r.messages));
    expect(new Set(seen).size).toBe(1);
    expect((results[0]!.messages as Array<{ sequence: number }>).map((m) => m.sequence)).toEqual([1, 2, 3]);
    expect((await watches()) - before).toBe(1);
  });

  it('shares one backend stream of a latest Watch between the watchers of every sidecar, a late joiner getting the current state', async () => {
    const watches = async () => {
      let n = 0;
      for (const b of backends) n += (await backendStats(b.address)).calls.Watch ?? 0;
      return n;
    };
    const before = await watches();
    const request = { topic: 'fleet-live', count: 1_000_000, intervalMs: 50 };
    const open = (at: number) => {
      const seen: number[] = [];
      const call = clients[at]!.Watch(request) as import('@grpc/grpc-js').ClientReadableStream<{ sequence: number }>;
      call.on('data', (e: { sequence: number }) => seen.push(e.sequence));
      call.on('error', () => {});
      return { call, seen };
    };
    const watchers = Array.from({ length: 16 }, (_, i) => open(i % SIZE));
    await until('every watcher has messages', async () => watchers.every((w) => w.seen.length >= 3));
    expect((await watches()) - before).toBe(1);
    const now = Math.max(...watchers.map((w) => w.seen.at(-1)!));
    const late = open(3);
    await until('the late watcher has messages', async () => late.seen.length >= 3);
    expect(late.seen[0]).toBeGreaterThanOrEqual(now - 1);
    expect((await watches()) - before).toBe(1);
    for (const w of [...watchers, late]) w.call.cancel();
    await until('the backend stream is cancelled', async () => {
      let open = 0;
      for (const p of proxies) if (p !== null) open += await p.metric('corral_flights_in_progress');
      return open === 0;
    });
  });

  it('falls back to the local replica when the owner freezes mid-herd (noticed by PING, not by its lease)', async () => {
    const { calls, owner, before } = await heldHerd('fleet-owner-freezes', 24);
    const frozen = proxies[owner]!;
    frozen.child.kill('SIGSTOP');
    const other = proxies[(owner + 1) % SIZE]!;
    try {
      await until('the peers fell back', async () => (await lookups()) - before >= 2, 10_000);
      // The frozen sidecar is still a member (its 2 s lease has not run out): PING told them.
      expect(await members(other)).toBe(SIZE);
      await releaseAll('fleet-owner-freezes');
      const viaOthers = await Promise.all(calls.filter((c) => c.at !== owner).map((c) => c.result));
      expect(viaOthers.map((r) => r.error?.message ?? 'ok')).toEqual(viaOthers.map(() => 'ok'));
    } finally {
      frozen.child.kill('SIGCONT');
    }
    await Promise.all(calls.filter((c) => c.at === owner).map((c) => c.result));
    for (const p of proxies) await until('the fleet is whole again', async () => (await members(p!)) === SIZE, 20_000);
    // The peers say what happened, naming the owner as a fleet peer, never as a backend or a protocol mistake.
    const peerLines = proxies.filter((_, i) => i !== owner).flatMap((p) => p!.lines).filter((l) => l.includes('fleet'));
    const fellBack = peerLines.filter((l) => l.includes('"fleet: owner unreachable; calling the backend here"'));
    expect(fellBack.length).toBeGreaterThan(0);
    expect(fellBack.every((l) => l.includes(`fleet peer 127.0.0.1:${frozen.grpcPort}`) && !l.includes('backend 127.0.0.1'))).toBe(true);
    expect(peerLines.some((l) => l.includes('stopped answering PINGs'))).toBe(true);
    expect(proxies.flatMap((p) => p!.lines).filter((l) => l.includes('SETTINGS frame'))).toEqual([]);
    // The peers forward to it again once their back-off from its failure (2 s) has run out.
    await new Promise((r) => setTimeout(r, 2100));
  }, 60_000);

  it('falls back to the local replica when the owner is killed mid-herd, then carries on without it', async () => {
    const { calls, owner, before } = await heldHerd('fleet-owner-dies', 24);
    await proxies[owner]!.stop('SIGKILL');
    proxies[owner] = null;
    // The others fall back to their own replicas; the gate lets every held call answer.
    await until('the peers fell back', async () => (await lookups()) - before >= 2, 10_000);
    await releaseAll('fleet-owner-dies');
    const results = await Promise.all(calls.map((c) => c.result));
    const viaOthers = results.filter((_, i) => calls[i]!.at !== owner);
    expect(viaOthers.map((r) => r.error?.message ?? 'ok')).toEqual(viaOthers.map(() => 'ok'));
    let fallbacks = 0;
    for (const p of proxies) if (p !== null) fallbacks += await p.metric('corral_fleet_fallbacks_total');
    expect(fallbacks).toBeGreaterThan(0);

    // Its lease expires; the three left agree again: one backend call per key.
    for (const p of proxies) if (p !== null) await until('the dead sidecar left the fleet', async () => (await members(p)) === SIZE - 1, 20_000);
    const survivors = [0, 1, 2, 3].filter((i) => i !== owner);
    const again = await lookups();
    const next = herd('fleet-after-death', 18, survivors);
    await until('every call waits in a flight', async () => (await joined()) === 18 + survivors.length - 1);
    await releaseAll('fleet-after-death');
    const nextResults = await Promise.all(next.map((c) => c.result));
    expect(nextResults.every((r) => r.error === null)).toBe(true);
    expect((await lookups()) - again).toBe(1);
  }, 60_000);

  it('keeps its last member list while etcd is down', async () => {
    const live = proxies.filter((p) => p !== null) as Proxy[];
    const seen = await members(live[0]!);
    await etcd.stop();
    await new Promise((r) => setTimeout(r, 3000)); // past the 2 s lease TTL: a lost list would show by now
    for (const p of live) expect(await members(p)).toBe(seen);
    const survivors = proxies.map((p, i) => (p === null ? -1 : i)).filter((i) => i >= 0);
    const before = await lookups();
    const calls = herd('fleet-etcd-down', 12, survivors);
    await until('every call waits in a flight', async () => (await joined()) === 12 + survivors.length - 1);
    await releaseAll('fleet-etcd-down');
    expect((await Promise.all(calls.map((c) => c.result))).every((r) => r.error === null)).toBe(true);
    expect((await lookups()) - before).toBe(1);
  }, 30_000);
});
