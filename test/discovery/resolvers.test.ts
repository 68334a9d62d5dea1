import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DnsResolver } from '../../src/discovery/dns.js';
import type { Resolution, Resolver } from '../../src/discovery/endpoint.js';
import { HttpDiscoverer } from '../../src/discovery/http-discoverer.js';
import { ShardMapResolver } from '../../src/discovery/shard-map.js';
import { StaticResolver } from '../../src/discovery/static.js';
import { createLogger } from '../../src/log/logger.js';
import { startHttpSource, type HttpSource } from '../support/http-source.js';

const logger = createLogger('silent');
const fast = { intervalMs: 100, timeoutMs: 1000, maxBackoffMs: 400, minRefreshMs: 50 };

let source: HttpSource;
beforeAll(async () => {
  source = await startHttpSource();
});
afterAll(() => source.close());

/** Starts a resolver and collects what it reports. */
function watch(resolver: Resolver) {
  const seen: Resolution[] = [];
  resolver.start((r) => seen.push(r));
  return {
    seen,
    last: () => seen.at(-1),
    async until(check: (r: Resolution | undefined) => boolean, timeoutMs = 5000): Promise<void> {
      const deadline = Date.now() + timeoutMs;
      while (!check(seen.at(-1))) {
        if (Date.now() > deadline) throw new Error(`resolver never reached the expected state; last: ${JSON.stringify(seen.at(-1))}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
  };
}

const ids = (r: Resolution | undefined) => r?.endpoints.map((e) => `${e.id}@${e.address}`) ?? [];

describe('static', () => {
  it('reports its addresses once, without duplicates', () => {
    const w = watch(new StaticResolver(['a:1', 'b:2', 'a:1']));
    expect(w.seen).toHaveLength(1);
    expect(ids(w.last())).toEqual(['a:1@a:1', 'b:2@b:2']);
  });
});

describe('HTTP discoverer (MyGateway contract)', () => {
  it('follows instances as they come and go, keeps the last good list when the discoverer fails, and unregisters', async () => {
    source.failWith = null;
    source.instances = [{ instance_id: 'a', ipv4: '127.0.0.1', port: 7001 }];
    const d = new HttpDiscoverer(`${source.url}/`, fast, logger);
    const w = watch(d);
    try {
      await w.until((r) => ids(r).join() === 'a@127.0.0.1:7001');
      source.instances.push({ instance_id: 'b', ipv4: '127.0.0.2', port: 7002 }, { instance_id: 'b', ipv4: '127.0.0.9', port: 1 });
      await w.until((r) => ids(r).join() === 'a@127.0.0.1:7001,b@127.0.0.2:7002');

      const reports = w.seen.length;
      source.failWith = 503;
      await new Promise((r) => setTimeout(r, 300));
      expect(w.seen.length).toBe(reports); // nothing reported while failing: the cluster keeps the list
      expect(d.health.lastError).toMatch(/answered HTTP 503/); // but its health says why
      expect(d.health.lastUpdateAt).not.toBeNull();

      source.failWith = null;
      expect(await d.unregister('a')).toBe(true);
      expect(source.requests).toContain('POST /v1/unregister/a');
      await w.until((r) => ids(r).join() === 'b@127.0.0.2:7002');
      expect(d.health.lastError).toBeNull();
    } finally {
      d.stop();
    }
  });

  it('backs off exponentially while the discoverer fails', async () => {
    source.failWith = 500;
    const d = new HttpDiscoverer(source.url, { ...fast, intervalMs: 20, maxBackoffMs: 2000 }, logger);
    const before = source.times.length;
    d.start(() => {});
    try {
      // Six polls, however long a loaded machine takes to make them.
      for (let i = 0; i < 500 && source.times.length - before < 6; i++) await new Promise((r) => setTimeout(r, 10));
    } finally {
      d.stop();
      source.failWith = null;
    }
    const times = source.times.slice(before, before + 6);
    expect(times).toHaveLength(6);
    // Each wait is at least the backoff (5, 10, 20, 40, 80 ms after the first failures), never
    // the 20 ms interval: a busy machine only makes the waits longer.
    const waits = times.slice(1).map((t, i) => t - times[i]!);
    expect(waits.slice(3).every((w) => w >= 35)).toBe(true);
    expect(waits.at(-1)!).toBeGreaterThanOrEqual(70);
  });

  it('treats a malformed answer as a failure', async () => {
    source.failWith = null;
    source.instances = [{ instance_id: 'x', ipv4: '127.0.0.1', port: 0 }];
    const d = new HttpDiscoverer(source.url, fast, logger);
    const w = watch(d);
    await new Promise((r) => setTimeout(r, 250));
    d.stop();
    expect(w.seen).toHaveLength(0);
  });
});

describe('shard map (queue proxy)', () => {
  it('fetches the map, de-duplicates brokers, and refreshes on demand at most once per minRefreshMs', async () => {
    source.failWith = null;
    source.shards = [
      { topic: 'orders', partition: 0, brokers: [{ id: 1, address: '127.0.0.1:9001', leader: true }, { id: 2, address: '127.0.0.1:9002' }] },
      { topic: 'orders', partition: 1, brokers: [{ id: 2, address: '127.0.0.1:9002', leader: true }] },
    ];
    const r = new ShardMapResolver(`${source.url}/shards`, { ...fast, intervalMs: 60_000, minRefreshMs: 200 }, logger);
    const w = watch(r);
    try {
      await w.until((x) => x !== undefined);
      expect(ids(w.last())).toEqual(['1@127.0.0.1:9001', '2@127.0.0.1:9002']);
      expect(w.last()!.shards!.map((s) => [s.topic, s.partition, s.leader?.id])).toEqual([
        ['orders', '0', '1'],
        ['orders', '1', '2'],
      ]);
      source.shards.push({ topic: 'audit', partition: 0, brokers: [{ id: 3, address: '127.0.0.1:9003', leader: true }] });
      await new Promise((res) => setTimeout(res, 250));
      const gets = () => source.requests.filter((q) => q === 'GET /shards').length;
      const before = gets();
      r.refresh();
      r.refresh(); // a second miss right after does not fetch again
      await w.until((x) => x!.shards!.length === 3);
      expect(gets()).toBe(before + 1);
    } finally {
      r.stop();
    }
  });
});

describe('DNS', () => {
  it('resolves a name to one endpoint per address, with the port', async () => {
    const r = new DnsResolver('localhost', 50051, fast, logger);
    const w = watch(r);
    try {
      await w.until((x) => x !== undefined);
      const addresses = w.last()!.endpoints.map((e) => e.address);
      expect(addresses.length).toBeGreaterThan(0);
      for (const a of addresses) expect(['127.0.0.1:50051', '[::1]:50051']).toContain(a);
    } finally {
      r.stop();
    }
  });

  it('keeps quiet (no empty list) when the name does not resolve', async () => {
    const r = new DnsResolver('no-such-host.invalid', 1, fast, logger);
    const w = watch(r);
    await new Promise((res) => setTimeout(res, 300));
    r.stop();
    expect(w.seen).toHaveLength(0);
  });
});
