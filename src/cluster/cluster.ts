import type { Endpoint, Resolution, Resolver } from '../discovery/endpoint.js';
import type { Logger } from '../observe/logger.js';
import type { Observer } from '../observer.js';
import type { SessionPool } from '../upstream/session-pool.js';
import { GrpcError, Status } from '../wire/status.js';
import type { ClusterView } from '../balance/balancer.js';
import type { EndpointPools } from './endpoint-pools.js';
import { Ejections, type EjectionOptions } from './ejections.js';

export interface ClusterOptions {
  pools: EndpointPools;
  logger: Logger;
  observer: Observer;
  ejection: EjectionOptions;
  /** Connect to each endpoint as soon as it appears (static clusters, so /ready reflects them). */
  warm: boolean;
}

/**
 * A named set of endpoints kept current by its Resolver, with a connection pool taken
 * for each. Routes pick among `pickable`: the resolved endpoints less those ejected after
 * a failure. `version` changes with each new pickable set, so a route rebuilds its
 * picker only then.
 *
 * A failed endpoint (MyGateway's OnBackendFailure) is ejected for a while, which moves
 * its sticky keys to other endpoints; its connections are closed gracefully; and a
 * discoverer is asked to unregister it. When every endpoint is ejected, all of them are
 * pickable again (Envoy's panic mode): ejection must never leave a cluster with less
 * than it had without it.
 */
export class Cluster implements ClusterView {
  /** The endpoints as resolved. */
  resolution: Resolution = { endpoints: [] };
  /** What routes pick from. */
  pickable: Resolution = this.resolution;
  version = 0;
  private readonly pools = new Map<string, SessionPool>();
  private readonly ejections: Ejections;
  private stopped = false;

  constructor(
    readonly name: string,
    readonly resolver: Resolver,
    private readonly options: ClusterOptions,
  ) {
    this.ejections = new Ejections(options.ejection, () => this.repick());
  }

  start(): void {
    this.resolver.start((resolution) => this.update(resolution));
  }

  /** Lets go of every pool (they drain if no other cluster holds them) and stops the resolver. */
  stop(): void {
    this.stopped = true;
    this.resolver.stop();
    this.ejections.clear();
    for (const address of this.pools.keys()) this.options.pools.release(address);
    this.pools.clear();
  }

  pool(endpoint: Endpoint): SessionPool {
    const pool = this.pools.get(endpoint.address);
    // A call of a replaced configuration may retry after its cluster stopped.
    if (pool === undefined) throw new GrpcError(Status.UNAVAILABLE, `endpoint ${endpoint.address} is no longer in cluster ${this.name}`);
    return pool;
  }

  load(endpoint: Endpoint): number {
    return this.pools.get(endpoint.address)?.activeStreams ?? 0;
  }

  refresh(): void {
    this.resolver.refresh();
  }

  /** An attempt on `endpoint` failed: eject it, close its connections, unregister it. */
  failed(endpoint: Endpoint, error: GrpcError): void {
    if (this.stopped) return;
    const ms = this.ejections.eject(endpoint.id);
    if (ms === null) return; // ejected already, by an earlier failure
    this.options.observer.endpointEjected();
    this.options.logger.warn(
      { cluster: this.name, endpoint: endpoint.id, backend: endpoint.address, err: error.message, ejectedForMs: ms },
      'backend failed: endpoint ejected',
    );
    this.pools.get(endpoint.address)?.recycle();
    void this.resolver.unregister?.(endpoint.id);
  }

  /** `endpoint` answered a call. */
  succeeded(endpoint: Endpoint): void {
    this.ejections.succeeded(endpoint.id);
  }

  /** Endpoints sitting out, for tests and logs. */
  get ejected(): number {
    return this.ejections.size;
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
    const { pools, warm, logger } = this.options;
    const next = new Set(resolution.endpoints.map((e) => e.address));
    const added: string[] = [];
    const removed: string[] = [];
    for (const address of next) {
      if (this.pools.has(address)) continue;
      const pool = pools.acquire(address);
      this.pools.set(address, pool);
      if (warm) pool.start();
      added.push(address);
    }
    for (const address of [...this.pools.keys()]) {
      if (next.has(address)) continue;
      this.pools.delete(address);
      pools.release(address);
      removed.push(address);
    }
    this.resolution = resolution;
    this.ejections.keepOnly(new Set(resolution.endpoints.map((e) => e.id)));
    this.repick();
    if (added.length > 0 || removed.length > 0) {
      logger.info({ cluster: this.name, source: this.resolver.kind, endpoints: next.size, added, removed }, 'cluster endpoints changed');
    }
  }

  /** Recomputes what routes pick from. Shard maps keep every broker: a shard's data lives only there. */
  private repick(): void {
    const { endpoints, shards } = this.resolution;
    let pickable = this.resolution;
    if (this.ejections.size > 0 && shards === undefined) {
      const admitted = endpoints.filter((e) => !this.ejections.has(e.id));
      if (admitted.length > 0) pickable = { endpoints: admitted };
    }
    this.pickable = pickable;
    this.version++;
  }
}
