import { Authenticate } from '../auth/authenticate.js';
import { IDENTITY_METADATA, StripIdentity } from '../auth/identity.js';
import type { TokenVerifier } from '../auth/token-verifier.js';
import type { Handler } from '../call.js';
import { Cluster } from '../cluster/cluster.js';
import type { EjectionOptions } from '../cluster/ejections.js';
import type { EndpointPools } from '../cluster/endpoint-pools.js';
import type { ResponseStore } from '../collapse/store.js';
import { Collapser } from '../collapse/collapser.js';
import { Invalidate, type Invalidation } from '../collapse/invalidate.js';
import { KeyMaker } from '../collapse/key.js';
import { MethodPolicy } from '../collapse/method-policy.js';
import type { MethodSet } from '../collapse/method-set.js';
import { authenticatedRoutes, defaultRoute, type ClusterSpec, type RouteSpec, type Topology } from '../config/topology.js';
import { createBalancer } from '../config/balancer-types.js';
import { createResolver, isFixed } from '../config/cluster-types.js';
import type { Logger } from '../observe/logger.js';
import type { Observer } from '../observer.js';
import { Passthrough } from '../upstream/passthrough.js';
import { RetryingOrigin } from '../upstream/retrying-origin.js';
import type { GrpcError } from '../wire/status.js';
import { RouteTable, type Route } from './route-table.js';
import { routeNamespace } from './route-namespace.js';
import { RouteUpstream } from './route-upstream.js';

/** What every route shares, and the defaults a route does not override. */
export interface RoutingContext {
  pools: EndpointPools;
  cache: ResponseStore | null;
  logger: Logger;
  observer: Observer;
  /** Checks tokens on routes with authorization: required; null without JWT_SECRET. */
  verifier: TokenVerifier | null;
  ejection: EjectionOptions;
  retry: { retries: number; attemptTimeoutMs: number };
  defaults: {
    timeoutMs: number;
    cacheTtlMs: number;
    keyMetadata: string[] | undefined;
    maxResponseBytes: number;
    maxFollowers: number;
  };
  /** COLLAPSER_METHODS and COLLAPSER_SKIP_METHODS; null when unset. */
  methods: { only: MethodSet | null; skip: MethodSet | null };
}

/**
 * One loaded configuration: its clusters (each with a resolver and a pool per endpoint)
 * and its route table, each route with its own collapser in front of its cluster.
 * A reload builds a new Routing, swaps it into the Router, then stops the old one. A
 * cluster whose definition did not change is taken over as it is (its resolver's
 * endpoints, connections and ejections), so calls never wait for a first resolution;
 * endpoint pools are shared through EndpointPools, so endpoints both list keep their
 * connections.
 */
export class Routing implements Invalidation {
  readonly table: RouteTable;
  readonly clusters = new Map<string, Cluster>();
  private readonly collapsers: Collapser[] = [];
  /** Clusters taken over from the previous configuration: already started. */
  private readonly adopted = new Set<string>();
  /** When any route authenticates, corral owns the identity metadata on every route. */
  private readonly ownsIdentity: boolean;

  constructor(
    readonly topology: Topology,
    private readonly context: RoutingContext,
    previous: Routing | null = null,
  ) {
    const { pools, logger, observer, ejection } = context;
    for (const [name, spec] of Object.entries(topology.clusters)) {
      const kept = previous?.handOver(name, spec) ?? null;
      if (kept !== null) this.adopted.add(name);
      this.clusters.set(name, kept ?? new Cluster(name, createResolver(spec, context), { pools, logger, observer, ejection, warm: isFixed(spec) }));
    }
    this.ownsIdentity = authenticatedRoutes(topology).length > 0;
    const routes = topology.routes.map((spec, i) => this.route(spec, i));
    const fallback =
      topology.default.action === 'use_cluster'
        ? this.route(defaultRoute('/', topology.default.cluster), 'default')
        : null;
    this.table = new RouteTable(routes, fallback);
  }

  start(): void {
    for (const [name, cluster] of this.clusters) if (!this.adopted.has(name)) cluster.start();
  }

  /**
   * The next configuration defines cluster `name` as `spec`: when this one defines it the
   * same way, the cluster moves to the next one as it is, and this one will not stop it.
   */
  private handOver(name: string, spec: ClusterSpec): Cluster | null {
    const cluster = this.clusters.get(name);
    if (cluster === undefined || JSON.stringify(this.topology.clusters[name]) !== JSON.stringify(spec)) return null;
    this.clusters.delete(name);
    return cluster;
  }

  stop(): void {
    for (const cluster of this.clusters.values()) cluster.stop();
  }

  /** Ends every flight of this configuration's routes (shutdown, after the grace period). */
  abortFlights(error: GrpcError): void {
    for (const collapser of this.collapsers) collapser.abortAll(error);
  }

  /** A write on a route with `invalidates` ended OK: drop the answers it made stale. */
  invalidate(prefixes: readonly string[]): void {
    this.context.cache?.invalidate(prefixes);
    for (const collapser of this.collapsers) collapser.invalidate(prefixes);
  }

  /** Endpoints sitting out after a failure, over every cluster. */
  get ejected(): number {
    let n = 0;
    for (const cluster of this.clusters.values()) n += cluster.ejected;
    return n;
  }

  /** Per cluster: 1 while its resolver's lookups succeed, 0 after one failed. */
  *resolversUp(): Iterable<readonly [string, number]> {
    for (const [name, cluster] of this.clusters) yield [name, cluster.resolver.health.lastError === null ? 1 : 0];
  }

  /** Why corral is not ready: a cluster with a fixed list and no connected endpoint. Null when ready. */
  notReady(): string | null {
    for (const [name, spec] of Object.entries(this.topology.clusters)) {
      const cluster = this.clusters.get(name)!;
      if (isFixed(spec) && !cluster.connected) return `cluster ${name} not connected: ${cluster.lastFailure}`;
    }
    return null;
  }

  private route(spec: RouteSpec, index: number | 'default'): Route {
    return { name: routeName(spec, index), prefix: spec.prefix, metadata: spec.metadata, handler: this.stages(spec) };
  }

  /**
   * A route's stages, each handing on to the next: authentication (or stripping identity
   * metadata a client sent, when other routes authenticate), then invalidation (routes with
   * `invalidates`), then its collapser (unless collapse: false, or the method is not
   * collapsed), then the passthrough to its cluster.
   */
  private stages(spec: RouteSpec): Handler {
    let forward = this.forward(spec);
    if (spec.invalidates.length > 0) forward = new Invalidate(spec.invalidates, this, forward);
    if (spec.authorization === 'required') {
      // checkAuthSecret refused a config like this before it got here.
      if (this.context.verifier === null) throw new Error('authorization: required without JWT_SECRET');
      return new Authenticate(this.context.verifier, forward, this.context.observer);
    }
    return this.ownsIdentity ? new StripIdentity(forward) : forward;
  }

  private forward(spec: RouteSpec): Handler {
    const { defaults: d, retry, observer } = this.context;
    const cluster = this.clusters.get(spec.cluster)!;
    const upstream = new RouteUpstream(cluster, createBalancer(spec.balancer, cluster), {
      ...retry,
      sessionTransfer: spec.sessionTransfer,
    });
    const origin = new RetryingOrigin(upstream, observer);
    const passthrough = new Passthrough(origin, observer);
    if (!spec.collapse) return passthrough;
    // The verified identity is always in the key, even when key_metadata narrows it.
    let keyMetadata = spec.keyMetadata ?? d.keyMetadata;
    if (spec.authorization === 'required' && keyMetadata !== undefined) keyMetadata = [...keyMetadata, ...IDENTITY_METADATA];
    const collapser = new Collapser(
      passthrough,
      origin,
      new KeyMaker({ metadata: keyMetadata, namespace: routeNamespace(spec, this.topology.clusters[spec.cluster]) }),
      this.context.cache,
      {
        timeoutMs: spec.timeoutMs ?? d.timeoutMs,
        cacheTtlMs: spec.cacheTtlMs ?? d.cacheTtlMs,
        maxResponseBytes: d.maxResponseBytes,
        maxFollowers: d.maxFollowers,
      },
      observer,
    );
    this.collapsers.push(collapser);
    const { only, skip } = this.context.methods;
    return only === null && skip === null ? collapser : new MethodPolicy(only, skip, collapser, passthrough);
  }
}

/** For logs: the prefix and matchers as written. */
function routeName(spec: RouteSpec, index: number | 'default'): string {
  if (index === 'default') return 'default';
  const matchers = spec.metadata.map((m) => ('equals' in m ? `${m.name}=${m.equals}` : `${m.name}${m.present ? '' : ' absent'}`));
  return [spec.prefix, ...matchers].join(' ');
}
