import { describe, expect, it } from 'vitest';
import { Cluster } from '../../src/cluster/cluster.js';
import { EndpointPools } from '../../src/cluster/endpoint-pools.js';
import type { Endpoint, Resolution, Resolver } from '../../src/discovery/endpoint.js';
import { createLogger } from '../../src/log/logger.js';
import { createBalancer } from '../../src/balance/balancer-types.js';
import { Metrics } from '../../src/observe/metrics.js';
import { ClusterUpstream } from '../../src/cluster/cluster-upstream.js';
import { GrpcError, Status } from '../../src/wire/status.js';

/** A resolver the test feeds by hand; it records unregistered ids. */
class HandResolver implements Resolver {
  health = { lastUpdateAt: null, lastError: null };
  readonly kind = 'hand';
  update: ((r: Resolution) => void) | null = null;
  unregistered: string[] = [];
  start(update: (r: Resolution) => void): void {
    this.update = update;
  }
  refresh(): void {}
  stop(): void {}
  async unregister(id: string): Promise<boolean> {
    this.unregistered.push(id);
    return true;
  }
}

const logger = createLogger('silent');
const endpoint = (id: string, port: number): Endpoint => ({ id, address: `127.0.0.1:${port}` });

function cluster() {
  const pools = new EndpointPools(
    { connectTimeoutMs: 1000, reconnectMinMs: 100, reconnectMaxMs: 1000, keepaliveTimeMs: 60_000, keepaliveTimeoutMs: 1000, maxSessions: 1, streamsPerSession: 10 },
    logger,
  );
  const resolver = new HandResolver();
  const c = new Cluster('c', resolver, { pools, logger, observer: new Metrics(), ejection: { baseMs: 60_000, maxMs: 60_000 }, warm: false, tls: null });
  c.start();
  return { c, pools, resolver };
}

describe('Cluster', () => {
  it('takes a pool per endpoint the resolver lists, and lets go of the ones it drops', () => {
    const { c, pools, resolver } = cluster();
    resolver.update!({ endpoints: [endpoint('a', 1), endpoint('b', 2)] });
    expect(pools.size).toBe(2);
    const v = c.version;
    resolver.update!({ endpoints: [endpoint('b', 2)] });
    expect(pools.size).toBe(1);
    expect(c.version).toBeGreaterThan(v);
    expect(() => c.pool(endpoint('a', 1))).toThrow(/no longer in cluster c/);
    c.stop();
    expect(pools.size).toBe(0);
  });

  it('ejects a failed endpoint from what routes pick, asks the source to unregister it, and never ejects the last one', () => {
    const { c, resolver } = cluster();
    resolver.update!({ endpoints: [endpoint('a', 1), endpoint('b', 2)] });
    c.failed(endpoint('a', 1), new GrpcError(Status.UNAVAILABLE, 'down'));
    expect(c.pickable.endpoints.map((e) => e.id)).toEqual(['b']);
    expect(resolver.unregistered).toEqual(['a']);
    c.failed(endpoint('b', 2), new GrpcError(Status.UNAVAILABLE, 'down'));
    expect(c.pickable.endpoints.map((e) => e.id)).toEqual(['a', 'b']); // panic: all pickable again
    c.stop();
  });
});

describe('ClusterUpstream', () => {
  it('picks with the route balancer, avoiding the endpoints a call failed on', () => {
    const { c, resolver } = cluster();
    resolver.update!({ endpoints: [endpoint('a', 1), endpoint('b', 2), endpoint('c', 3)] });
    const u = new ClusterUpstream(c, createBalancer({ type: 'round_robin' }, c));
    const picks = Array.from({ length: 6 }, () => u.pick({}, null).id);
    expect(new Set(picks)).toEqual(new Set(['a', 'b', 'c']));
    for (let i = 0; i < 6; i++) expect(u.pick({}, new Set(['a', 'b'])).id).toBe('c');
    expect(() => u.pick({}, new Set(['a', 'b', 'c']))).toThrow(/no instance of cluster c left to try/);
    c.stop();
  });

  it("builds the balancer's picker when the cluster's endpoints change, not on the next call; pulls once closed", () => {
    const { c, resolver } = cluster();
    const updates: string[][] = [];
    const inner = createBalancer({ type: 'round_robin' }, c);
    const counting = {
      update: (r: Parameters<typeof inner.update>[0]) => {
        updates.push(r.endpoints.map((e) => e.id));
        inner.update(r);
      },
      pick: (m: Parameters<typeof inner.pick>[0]) => inner.pick(m),
    };
    const u = new ClusterUpstream(c, counting);
    resolver.update!({ endpoints: [endpoint('a', 1), endpoint('b', 2)] });
    expect(updates.at(-1)).toEqual(['a', 'b']); // pushed, before any call
    const before = updates.length;
    for (let i = 0; i < 4; i++) u.pick({}, null);
    expect(updates.length).toBe(before); // no call builds a picker
    u.close();
    resolver.update!({ endpoints: [endpoint('c', 3)] });
    expect(updates.length).toBe(before); // no longer pushed to a closed route...
    expect(u.pick({}, null).id).toBe('c'); // ...which still catches up on its next call
    expect(updates.at(-1)).toEqual(['c']);
    c.stop();
  });
});
