import type { ClusterView } from '../balance/balancer.js';
import { RetryBudget } from './retry-budget.js';
import type { Endpoint, Resolution, Resolver } from '../discovery/endpoint.js';
import type { Logger } from '../log/logger.js';
import type { Observer } from '../call/observer.js';
import type { SessionPool } from '../transport/session-pool.js';
import { GrpcError, Status } from '../wire/status.js';
import type { EjectionOptions } from './ejections.js';
import type { EndpointPools } from './endpoint-pools.js';
import { OutlierDetection } from './outlier-detection.js';
import type { ClientTls } from '../tls/client-tls.js';

/** One endpoint as the admin endpoints and metrics show it. */
export interface EndpointState {
  readonly id: string;
  readonly address: string;
  /** `ejected` while it sits out after a failure (it still finishes the calls it has). */
  readonly state: 'serving' | 'ejected';
  /** When its ejection ends (ISO time); null when it is not ejected. */
  readonly ejectedUntil: string | null;
  /** Streams open to it now, and HTTP/2 sessions. */
  readonly callsInProgress: number;
  readonly sessions: number;
}

export interface ClusterOptions {
  pools: EndpointPools;
  logger: Logger;
  observer: Observer;
  ejection: EjectionOptions;
  /** Connect to each endpoint as soon as it appears (fixed lists, so /ready reflects them). */
  warm: boolean;
  /** TLS to its endpoints (the cluster's `tls`); null: cleartext. */
  tls: ClientTls | null;
}

/**
 * A named set of endpoints kept current by its Resolver, with a connection pool taken
 * for each. Routes pick among `endpoints.pickable` (see OutlierDetection).
 *
 * A failed endpoint (MyGateway's OnBackendFailure) is ejected for a while, which moves
 * its sticky keys to other endpoints; on that event its connections are closed
 * gracefully and a discoverer is asked to unregister it.
 */
export class Cluster implements ClusterView {
  readonly endpoints: OutlierDetection;
  /** The share of its calls that may be retries at once. */
  readonly retryBudget = new RetryBudget();
  /** TLS to its endpoints; null: cleartext. */
  readonly tls: ClientTls | null;
  private readonly pools = new Map<string, SessionPool>();
  private stopped = false;

  constructor(
    readonly name: string,
    readonly resolver: Resolver,
    private readonly options: ClusterOptions,
  ) {
    this.tls = options.tls;
    const { observer, logger } = options;
    this.endpoints = new OutlierDetection(options.ejection);
    this.endpoints.on('ejected', (endpoint, ms, cause) => {
      observer.endpointEjected(name);
      logger.warn(
        { cluster: name, endpoint: endpoint.id, backend: endpoint.address, err: cause.message, ejectedForMs: ms },
        'backend failed: endpoint ejected',
      );
    });
    this.endpoints.on('ejected', (endpoint) => this.pools.get(endpoint.address)?.recycle());
    if (resolver.unregister !== undefined) this.endpoints.on('ejected', (endpoint) => void resolver.unregister!(endpoint.id));
  }

  /** The endpoints as resolved. */
  get resolution(): Resolution {
    return this.endpoints.resolved;
  }

  /** What routes pick from. */
  get pickable(): Resolution {
    return this.endpoints.pickable;
  }

  /** Changes with each new pickable set. */
  get version(): number {
    return this.endpoints.version;
  }

  /**
   * Calls `listener` with each new pickable set as it is made (grpc-js's updateState:
   * pickers are pushed, not built on a call's path); returns the unsubscribe.
   */
  watchPickable(listener: (pickable: Resolution) => void): () => void {
    this.endpoints.on('pickable', listener);
    return () => this.endpoints.off('pickable', listener);
  }

  start(): void {
    this.resolver.start((resolution) => this.update(resolution));
  }

  /** Lets go of every pool (they drain if no other cluster holds them) and stops the resolver. */
  stop(): void {
    this.stopped = true;
    this.resolver.stop();
    this.endpoints.clear();
    for (const address of this.pools.keys()) this.options.pools.release(address, this.options.tls);
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

  /** An attempt on `endpoint` failed. */
  failed(endpoint: Endpoint, error: GrpcError): void {
    if (!this.stopped) this.endpoints.failed(endpoint, error);
  }

  /** `endpoint` answered a call. */
  succeeded(endpoint: Endpoint): void {
    this.endpoints.succeeded(endpoint);
  }

  /** Endpoints sitting out, for tests and logs. */
  get ejected(): number {
    return this.endpoints.ejected;
  }

  /** Every endpoint the resolver lists, with its state. */
  *endpointStates(): Iterable<EndpointState> {
    for (const endpoint of this.endpoints.resolved.endpoints) {
      const until = this.endpoints.ejectedUntil(endpoint);
      const pool = this.pools.get(endpoint.address);
      yield {
        id: endpoint.id,
        address: endpoint.address,
        state: until === null ? 'serving' : 'ejected',
        ejectedUntil: until === null ? null : new Date(until).toISOString(),
        callsInProgress: pool?.activeStreams ?? 0,
        sessions: pool?.sessionCount ?? 0,
      };
    }
  }

  /** corral's sessions to one of its endpoints (whether one is ready, how many times they came back); undefined for one it does not list. */
  sessionsTo(address: string): SessionPool | undefined {
    return this.pools.get(address);
  }

  /** True when the cluster has a connected endpoint; clusters fed by a discoverer may be empty and still be healthy. */
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
    const { pools, warm, logger, tls } = this.options;
    const next = new Set(resolution.endpoints.map((e) => e.address));
    const added: string[] = [];
    const removed: string[] = [];
    for (const address of next) {
      if (this.pools.has(address)) continue;
      const pool = pools.acquire(address, tls);
      this.pools.set(address, pool);
      if (warm) pool.start();
      added.push(address);
    }
    for (const address of [...this.pools.keys()]) {
      if (next.has(address)) continue;
      this.pools.delete(address);
      pools.release(address, tls);
      removed.push(address);
    }
    this.endpoints.update(resolution);
    if (added.length > 0 || removed.length > 0) {
      logger.info({ cluster: this.name, source: this.resolver.kind, endpoints: next.size, added, removed }, 'cluster endpoints changed');
    }
  }
}
