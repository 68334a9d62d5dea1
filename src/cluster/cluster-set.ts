import { createResolver, isFixed, type ClusterSpec } from '../discovery/cluster-types.js';
import type { Logger } from '../log/logger.js';
import type { Observer } from '../call/observer.js';
import { Cluster } from './cluster.js';
import type { EjectionOptions } from './ejections.js';
import type { EndpointPools } from './endpoint-pools.js';
import type { ClientTls } from '../tls/client-tls.js';
import type { SessionPool } from '../transport/session-pool.js';

export interface ClusterSetContext {
  pools: EndpointPools;
  logger: Logger;
  observer: Observer;
  ejection: EjectionOptions;
  /** How to reach etcd for clusters of type etcd (REGISTRY_ETCD_* TLS); null: cleartext. */
  etcdTls: ClientTls | null;
}

/**
 * The clusters of one configuration. A cluster the next configuration defines the same
 * way is handed over to it as it is (its resolver's endpoints, connections and
 * ejections), so calls never wait for a first resolution after a reload.
 */
export class ClusterSet {
  private readonly clusters = new Map<string, Cluster>();
  /** Clusters taken over from the previous configuration: already started. */
  private readonly adopted = new Set<string>();

  constructor(
    private readonly specs: Readonly<Record<string, ClusterSpec>>,
    /** Clusters whose endpoints are reached over TLS, and how. */
    private readonly tls: Readonly<Record<string, ClientTls>>,
    context: ClusterSetContext,
    previous: ClusterSet | null,
  ) {
    const { pools, logger, observer, ejection } = context;
    for (const [name, spec] of Object.entries(specs)) {
      const tls = this.tls[name] ?? null;
      const kept = previous?.handOver(name, spec, tls) ?? null;
      if (kept !== null) this.adopted.add(name);
      this.clusters.set(name, kept ?? new Cluster(name, createResolver(spec, context), { pools, logger, observer, ejection, warm: isFixed(spec), tls }));
    }
  }

  get(name: string): Cluster {
    const cluster = this.clusters.get(name);
    // The topology checked every cluster a route names.
    if (cluster === undefined) throw new Error(`no cluster ${name}`);
    return cluster;
  }

  /** Every endpoint the clusters resolve to now, with its cluster's name and corral's sessions to it. */
  *endpoints(): Iterable<{ cluster: string; address: string; sessions: SessionPool; connected: boolean; comebacks: number }> {
    for (const [name, cluster] of this.clusters) {
      for (const { address } of cluster.resolution.endpoints) {
        const sessions = cluster.sessionsTo(address);
        if (sessions !== undefined) yield { cluster: name, address, sessions, connected: sessions.ready, comebacks: sessions.comebacks };
      }
    }
  }

  start(): void {
    for (const [name, cluster] of this.clusters) if (!this.adopted.has(name)) cluster.start();
  }

  /** Stops every cluster not handed over to a newer configuration. */
  stop(): void {
    for (const cluster of this.clusters.values()) cluster.stop();
  }

  /** Endpoints sitting out after a failure, over every cluster. */
  get ejected(): number {
    let n = 0;
    for (const cluster of this.clusters.values()) n += cluster.ejected;
    return n;
  }

  /** How cluster `name` is defined. */
  spec(name: string): ClusterSpec | undefined {
    return this.specs[name];
  }

  /** The clusters by name. */
  entries(): IterableIterator<[string, Cluster]> {
    return this.clusters.entries();
  }

  /** Clusters whose endpoint source fails (they keep their last list), for /ready's reason; null when none. */
  sourcesFailing(): string | null {
    const failing: string[] = [];
    for (const [name, cluster] of this.clusters) {
      const error = cluster.resolver.health.lastError;
      if (error !== null) failing.push(`cluster ${name}: ${error}`);
    }
    return failing.length === 0 ? null : failing.join('; ');
  }

  /** The clusters with a fixed list and no connected endpoint, each with why: what keeps corral from being ready. */
  *disconnected(): Generator<{ cluster: string; why: string }> {
    for (const [name, cluster] of this.clusters) {
      if (isFixed(this.specs[name]!) && !cluster.connected) yield { cluster: name, why: `cluster ${name} not connected: ${cluster.lastFailure}` };
    }
  }

  /**
   * The next configuration defines cluster `name` as `spec`: when this one defines it the
   * same way, the cluster moves to the next one as it is, and this one will not stop it.
   */
  private handOver(name: string, spec: ClusterSpec, tls: ClientTls | null): Cluster | null {
    const cluster = this.clusters.get(name);
    if (cluster === undefined || JSON.stringify(this.specs[name]) !== JSON.stringify(spec)) return null;
    // New TLS settings, or new files behind the same paths: new connections.
    if ((this.tls[name]?.id ?? null) !== (tls?.id ?? null)) return null;
    this.clusters.delete(name);
    return cluster;
  }
}
