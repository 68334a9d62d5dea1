import type { Call, Downstream, Handler } from '../call.js';
import { Cluster } from '../cluster/cluster.js';
import type { EndpointPools } from '../cluster/endpoint-pools.js';
import type { ResponseCache } from '../collapse/cache.js';
import { Collapser } from '../collapse/collapser.js';
import { KeyMaker } from '../collapse/key.js';
import type { ClusterSpec, RouteSpec, Topology } from '../config/topology.js';
import { DnsResolver } from '../discovery/dns.js';
import type { Resolver } from '../discovery/endpoint.js';
import { HttpDiscoverer } from '../discovery/http-discoverer.js';
import { DEFAULT_POLLING } from '../discovery/polling.js';
import { ShardMapResolver } from '../discovery/shard-map.js';
import { StaticResolver } from '../discovery/static.js';
import type { Logger } from '../observe/logger.js';
import type { Metrics } from '../observe/metrics.js';
import { Passthrough } from '../upstream/passthrough.js';
import { GrpcError, Status } from '../wire/status.js';
import { RouteTable, type Route } from './route-table.js';
import { RouteUpstream } from './route-upstream.js';

/** What every route shares, and the defaults a route does not override. */
export interface RoutingContext {
  pools: EndpointPools;
  cache: ResponseCache | null;
  logger: Logger;
  metrics: Metrics;
  defaults: {
    timeoutMs: number;
    cacheTtlMs: number;
    keyMetadata: string[] | undefined;
    maxResponseBytes: number;
    maxFollowers: number;
  };
}

/**
 * Refuses calls on routes that require authorization until corral can verify tokens
 * (issue 5): failing closed, never passing an unchecked call to a backend that trusts
 * the gateway to have checked it.
 */
const AUTH_NOT_SUPPORTED: Handler = {
  handle(_call: Call, downstream: Downstream): void {
    downstream.onError(
      new GrpcError(Status.UNAUTHENTICATED, 'this route requires authorization, which this corral cannot verify yet'),
    );
  },
};

/**
 * One loaded configuration: its clusters (each with a resolver and a pool per endpoint)
 * and its route table, each route with its own collapser in front of its cluster.
 * A reload builds a new Routing, swaps it into the Router, then stops the old one;
 * endpoint pools are shared through EndpointPools, so endpoints both list keep their
 * connections.
 */
export class Routing {
  readonly table: RouteTable;
  readonly clusters = new Map<string, Cluster>();
  private readonly collapsers: Collapser[] = [];

  constructor(
    readonly topology: Topology,
    /** Counts reloads; part of every cache key, so no response outlives the routes that made it. */
    readonly generation: number,
    private readonly context: RoutingContext,
  ) {
    for (const [name, spec] of Object.entries(topology.clusters)) {
      this.clusters.set(name, new Cluster(name, this.resolver(spec), context.pools, context.logger, spec.type === 'static'));
    }
    const routes = topology.routes.map((spec, i) => this.route(spec, i));
    const fallback =
      topology.default.action === 'use_cluster'
        ? this.route(
            {
              prefix: '/',
              cluster: topology.default.cluster,
              authorization: 'none',
              balancer: { type: 'round_robin' },
              metadata: [],
              collapse: true,
              cacheTtlMs: undefined,
              timeoutMs: undefined,
              keyMetadata: undefined,
            },
            'default',
          )
        : null;
    this.table = new RouteTable(routes, fallback);
  }

  start(): void {
    for (const cluster of this.clusters.values()) cluster.start();
  }

  stop(): void {
    for (const cluster of this.clusters.values()) cluster.stop();
  }

  /** Ends every flight of this configuration's routes (shutdown, after the grace period). */
  abortFlights(error: GrpcError): void {
    for (const collapser of this.collapsers) collapser.abortAll(error);
  }

  /** Why corral is not ready: a static cluster with no connected endpoint. Null when ready. */
  notReady(): string | null {
    for (const [name, spec] of Object.entries(this.topology.clusters)) {
      const cluster = this.clusters.get(name)!;
      if (spec.type === 'static' && !cluster.connected) return `cluster ${name} not connected: ${cluster.lastFailure}`;
    }
    return null;
  }

  private route(spec: RouteSpec, index: number | 'default'): Route {
    return { name: routeName(spec, index), prefix: spec.prefix, metadata: spec.metadata, handler: this.stages(spec, index) };
  }

  /** A route's stages: its collapser (unless collapse: false) in front of the passthrough to its cluster. */
  private stages(spec: RouteSpec, index: number | 'default'): Handler {
    if (spec.authorization === 'required') return AUTH_NOT_SUPPORTED;
    const d = this.context.defaults;
    const upstream = new RouteUpstream(this.clusters.get(spec.cluster)!, spec.balancer);
    const passthrough = new Passthrough(upstream, this.context.metrics);
    if (!spec.collapse) return passthrough;
    const collapser = new Collapser(
      passthrough,
      upstream,
      new KeyMaker({ metadata: spec.keyMetadata ?? d.keyMetadata, namespace: `${this.generation}:${index}` }),
      this.context.cache,
      {
        timeoutMs: spec.timeoutMs ?? d.timeoutMs,
        cacheTtlMs: spec.cacheTtlMs ?? d.cacheTtlMs,
        maxResponseBytes: d.maxResponseBytes,
        maxFollowers: d.maxFollowers,
      },
      this.context.metrics,
    );
    this.collapsers.push(collapser);
    return collapser;
  }
  private resolver(spec: ClusterSpec): Resolver {
    const { logger } = this.context;
    switch (spec.type) {
      case 'static':
        return new StaticResolver(spec.addresses);
      case 'dynamic':
        return new HttpDiscoverer(spec.discovererUrl, { ...DEFAULT_POLLING, intervalMs: spec.intervalMs }, logger);
      case 'dns':
        return new DnsResolver(spec.host, spec.port, { ...DEFAULT_POLLING, intervalMs: spec.intervalMs }, logger);
      case 'shard_map':
        return new ShardMapResolver(spec.url, { ...DEFAULT_POLLING, intervalMs: spec.intervalMs }, logger);
    }
  }
}

/** For logs: the prefix and matchers as written. */
function routeName(spec: RouteSpec, index: number | 'default'): string {
  if (index === 'default') return 'default';
  const matchers = spec.metadata.map((m) => ('equals' in m ? `${m.name}=${m.equals}` : `${m.name}${m.present ? '' : ' absent'}`));
  return [spec.prefix, ...matchers].join(' ');
}
