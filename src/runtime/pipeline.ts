import { Authenticate } from '../auth/authenticate.js';
import { BearerAuthenticate } from '../auth/bearer.js';
import { IDENTITY_METADATA, StripIdentity } from '../auth/identity.js';
import type { TokenVerifier } from '../auth/token-verifier.js';
import type { Handler } from '../call/call.js';
import { ClusterSet, type ClusterSetContext } from '../cluster/cluster-set.js';
import type { ResponseStore } from '../collapse/store.js';
import { Collapser } from '../collapse/collapser.js';
import { DeclaredReads } from '../collapse/declared-reads.js';
import type { LearnedDescriptors } from '../reflection/learned-reads.js';
import type { Flight } from '../collapse/flight.js';
import { Invalidate, type Invalidation } from '../collapse/invalidate.js';
import { KeyMaker } from '../collapse/key.js';
import { MethodPolicy, type ReadSources } from '../collapse/method-policy.js';
import type { MethodSet } from '../collapse/method-set.js';
import { authenticatedRoutes, defaultRoute, type RouteSpec, type Topology } from '../config/topology.js';
import { createBalancer } from '../balance/balancer-types.js';
import type { HttpApi } from './http-api.js';
import type { HttpRoute } from '../http/http-routes.js';
import type { Origin } from '../upstream/origin.js';
import { Passthrough } from '../upstream/passthrough.js';
import { RetryingOrigin } from '../upstream/retrying-origin.js';
import type { GrpcError } from '../wire/status.js';
import { RouteTable, type Route } from '../route/route-table.js';
import { routeNamespace } from '../route/route-namespace.js';
import { RouteUpstream } from '../route/route-upstream.js';

/** What every route shares, and the defaults a route does not override. */
export interface PipelineContext extends ClusterSetContext {
  cache: ResponseStore | null;
  /** Checks tokens on routes with authorization: required; null without JWT_SECRET. */
  verifier: TokenVerifier | null;
  /** Checks bearer tokens on HTTP routes with auth_required (no session_id claim needed); null without JWT_SECRET. */
  bearerVerifier: TokenVerifier | null;
  retry: { retries: number; attemptTimeoutMs: number };
  defaults: {
    timeoutMs: number;
    cacheTtlMs: number;
    keyMetadata: string[] | undefined;
    maxResponseBytes: number;
    maxFollowers: number;
    /** A call a route does not collapse drops its service's cached answers when it ends OK (COLLAPSER_READ_YOUR_WRITES). */
    readYourWrites: boolean;
  };
  /** Descriptors learned from the backends over server reflection; null when COLLAPSER_REFLECTION is off. */
  learned: LearnedDescriptors | null;
  /** A step around every route's backend calls (tracing's client spans); null for none. */
  wrapOrigin: ((origin: Origin) => Origin) | null;
  /** COLLAPSER_METHODS and COLLAPSER_SKIP_METHODS; null when unset. */
  methods: { only: MethodSet | null; skip: MethodSet | null };
}

/**
 * One loaded configuration: its clusters (ClusterSet) and its route table, each route's
 * stages assembled here, with its own collapser in front of its cluster. A reload builds
 * a new Pipeline, swaps it into the Router, then stops the old one; endpoint pools are
 * shared through EndpointPools, so endpoints both configurations list keep their
 * connections.
 */
export class Pipeline implements Invalidation {
  readonly table: RouteTable;
  readonly clusters: ClusterSet;
  /** Each HTTP/JSON route's stages, by route name: the same collapser and upstream as gRPC routes. */
  readonly httpHandlers = new Map<string, Handler>();
  /** The HTTP/JSON routes served, from the file and from google.api.http options. */
  readonly httpRoutes: readonly HttpRoute[];
  /** The descriptors' idempotency levels, deciding which gRPC methods are collapsed; null without descriptors. */
  readonly declared: DeclaredReads | null;
  /** What says which methods are reads: the lists and the descriptors. */
  readonly reads: ReadSources;
  /** What each backend endpoint declared over server reflection; null when COLLAPSER_REFLECTION is off. */
  readonly learned: LearnedDescriptors | null;
  private readonly collapsers: Collapser[] = [];
  private readonly unfollow: () => void = () => {};
  /** When any route authenticates, corral owns the identity metadata on every route. */
  private readonly ownsIdentity: boolean;

  constructor(
    readonly topology: Topology,
    private readonly context: PipelineContext,
    previous: Pipeline | null = null,
    /** The http section loaded (descriptors and HTTP routes), or null without one. */
    api: HttpApi | null = null,
  ) {
    this.clusters = new ClusterSet(topology.clusters, context, previous?.clusters ?? null);
    const files = api === null ? null : new DeclaredReads(api.descriptors.registry);
    // With server reflection on, what the backends declare is learned as they answer.
    const learned = context.learned;
    this.learned = learned;
    this.declared = learned !== null ? (files ?? new DeclaredReads()) : files !== null && files.counts.described > 0 ? files : null;
    if (learned !== null) {
      const warned = new Set<string>();
      this.unfollow = learned.follow((registries) => {
        this.declared!.relearn(registries);
        // What a backend declares may show a listed method mistyped: said once, as start-up would have refused it.
        for (const problem of this.misspelled()) {
          if (!warned.has(problem)) context.logger.warn(problem);
          warned.add(problem);
        }
      });
    }
    this.reads = { ...context.methods, declared: this.declared };
    this.ownsIdentity = authenticatedRoutes(topology).length > 0;
    const routes = topology.routes.map((spec, i) => this.route(spec, i));
    const fallback =
      topology.default.action === 'use_cluster'
        ? this.route(defaultRoute('/', topology.default.cluster), 'default')
        : null;
    this.table = new RouteTable(routes, fallback);
    this.httpRoutes = api?.table.all() ?? [];
    for (const route of this.httpRoutes) this.httpHandlers.set(route.spec.name, this.httpStages(route));
  }

  start(): void {
    this.clusters.start();
  }

  private misspelled(): string[] {
    const { only, skip } = this.context.methods;
    return [
      ...(only === null ? [] : this.declared!.misspelled('COLLAPSER_METHODS', only.methods, true)),
      ...(skip === null ? [] : this.declared!.misspelled('COLLAPSER_SKIP_METHODS', skip.methods, true)),
    ];
  }

  stop(): void {
    this.unfollow();
    this.clusters.stop();
  }

  /** The flights under way on this configuration's routes. */
  *flights(): Iterable<Flight> {
    for (const collapser of this.collapsers) yield* collapser.underWay();
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

  private route(spec: RouteSpec, index: number | 'default'): Route {
    return { name: routeName(spec, index), cluster: spec.cluster, prefix: spec.prefix, metadata: spec.metadata, handler: this.stages(spec) };
  }

  /**
   * An HTTP route's stages: bearer authentication when it requires it, then the stages of
   * a gRPC route for its method and cluster. GET is HTTP's own declaration of a read;
   * other verbs are collapsed as the method policy says, as over gRPC.
   */
  private httpStages(route: HttpRoute): Handler {
    const spec: RouteSpec = {
      ...defaultRoute(route.grpcPath, route.spec.cluster),
      name: route.label.name,
      collapse: route.collapse ?? (route.spec.method === 'GET' ? true : undefined),
      timeoutMs: route.spec.timeoutMs,
    };
    const forward = this.forward(spec);
    if (!route.spec.authRequired) return forward;
    if (this.context.bearerVerifier === null) throw new Error('auth_required without JWT_SECRET');
    return new BearerAuthenticate(this.context.bearerVerifier, forward, this.context.observer);
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
    const cluster = this.clusters.get(spec.cluster);
    const upstream = new RouteUpstream(cluster, createBalancer(spec.balancer, cluster));
    const retrying = new RetryingOrigin(upstream, { ...retry, sessionTransfer: spec.sessionTransfer }, observer);
    const origin = this.context.wrapOrigin?.(retrying) ?? retrying;
    const direct = new Passthrough(origin, observer);
    const routeSaysRead = spec.collapse === true;
    if (spec.collapse === false || !MethodPolicy.mayCollapse(this.reads, routeSaysRead)) return direct;
    // Read-your-writes: a call this route does not collapse (a write, a stream) drops its
    // service's cached answers when it ends OK, unless the route says what it invalidates.
    const passthrough = d.readYourWrites && spec.invalidates.length === 0 ? new Invalidate(null, this, direct) : direct;
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
        serverStreams: this.declared,
      },
      observer,
    );
    this.collapsers.push(collapser);
    return routeSaysRead && this.reads.skip === null ? collapser : new MethodPolicy(this.reads, routeSaysRead, collapser, passthrough);
  }
}

/** For metrics and logs: the route's name, or its prefix and matchers as written. */
function routeName(spec: RouteSpec, index: number | 'default'): string {
  if (index === 'default') return 'default';
  if (spec.name !== undefined) return spec.name;
  const matchers = spec.metadata.map((m) => ('equals' in m ? `${m.name}=${m.equals}` : `${m.name}${m.present ? '' : ' absent'}`));
  return [spec.prefix, ...matchers].join(' ');
}
