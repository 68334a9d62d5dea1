import type { Endpoint, Resolution, Resolver } from '../discovery/endpoint.js';
import type { Logger } from '../observe/logger.js';
import type { SessionPool } from '../upstream/session-pool.js';
import type { ClusterView } from '../balance/balancer.js';
import type { EndpointPools } from './endpoint-pools.js';

/**
 * A named set of endpoints kept current by its Resolver, with a connection pool taken
 * for each. Routes pick among `resolution.endpoints`; `version` changes with every new
 * list, so a route rebuilds its picker only then.
 */
export class Cluster implements ClusterView {
  resolution: Resolution = { endpoints: [] };
  version = 0;
  /** True once the resolver reported a list, even an empty one. */
  resolved = false;
  private readonly pools = new Map<string, SessionPool>();
  private stopped = false;

  constructor(
    readonly name: string,
    readonly resolver: Resolver,
    private readonly endpointPools: EndpointPools,
    private readonly logger: Logger,
    /** Connect to each endpoint as soon as it appears (static clusters, so /ready reflects them). */
    private readonly warm: boolean,
  ) {}

  start(): void {
    this.resolver.start((resolution) => this.update(resolution));
  }

  /** Lets go of every pool (they drain if no other cluster holds them) and stops the resolver. */
  stop(): void {
    this.stopped = true;
    this.resolver.stop();
    for (const address of this.pools.keys()) this.endpointPools.release(address);
    this.pools.clear();
  }

  pool(endpoint: Endpoint): SessionPool {
    return this.pools.get(endpoint.address)!;
  }

  load(endpoint: Endpoint): number {
    return this.pools.get(endpoint.address)?.activeStreams ?? 0;
  }

  refresh(): void {
    this.resolver.refresh();
  }

  /** True when a static cluster has a connected endpoint; dynamic clusters may be empty and still be healthy. */
  get connected(): boolean {
    for (const pool of this.pools.values()) if (pool.ready) return true;
    return false;
  }

  /** Why a warm cluster is not connected, for /ready. */
  get lastFailure(): string {
    for (const pool of this.pools.values()) if (pool.lastFailure !== '') return `${pool.address}: ${pool.lastFailure}`;
    return 'connecting';
  }

  private update(resolution: Resolution): void {
    if (this.stopped) return;
    const next = new Set(resolution.endpoints.map((e) => e.address));
    const added: string[] = [];
    const removed: string[] = [];
    for (const address of next) {
      if (this.pools.has(address)) continue;
      const pool = this.endpointPools.acquire(address);
      this.pools.set(address, pool);
      if (this.warm) pool.start();
      added.push(address);
    }
    for (const address of [...this.pools.keys()]) {
      if (next.has(address)) continue;
      this.pools.delete(address);
      this.endpointPools.release(address);
      removed.push(address);
    }
    this.resolution = resolution;
    this.version++;
    this.resolved = true;
    if (added.length > 0 || removed.length > 0) {
      this.logger.info({ cluster: this.name, source: this.resolver.kind, endpoints: next.size, added, removed }, 'cluster endpoints changed');
    }
  }
}
