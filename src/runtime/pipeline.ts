import type { TokenVerifier } from '../auth/token-verifier.js';
import type { Handler } from '../call/call.js';
import { ClusterSet, type ClusterSetContext } from '../cluster/cluster-set.js';
import type { OutageCover } from '../collapse/outage-cover.js';
import type { PurgeLog } from '../collapse/purge-log.js';
import type { ResponseStore } from '../collapse/store.js';
import type { Collapser } from '../collapse/collapser.js';
import { DeclaredReads } from '../collapse/declared-reads.js';
import type { LearnedDescriptors } from '../reflection/learned-reads.js';
import type { SharedCall } from '../collapse/shared-call.js';
import type { Invalidation } from '../collapse/invalidate.js';
import type { ReadSources } from '../collapse/method-policy.js';
import type { MethodSet } from '../collapse/method-set.js';
import { ignoredFieldPaths, ignoredFieldProblems } from './collapsing.js';
import { authenticatedRoutes, defaultRoute, type RouteSpec, type Topology } from '../config/topology.js';
import { createBalancer } from '../balance/balancer-types.js';
import type { HttpApi } from './http-api.js';
import { CorsPolicy } from '../http/cors.js';
import type { GatewayState } from '../http/gateway.js';
import type { HttpRoute } from '../http/http-routes.js';
import { ROUTE_STAGES, composeStages, type RouteDefaults, type StageContext } from './stages.js';
import type { Origin } from '../upstream/origin.js';
import type { Fleet } from '../fleet/fleet.js';
import { FleetOrigin } from '../fleet/fleet-origin.js';
import { Passthrough } from '../upstream/passthrough.js';
import { RetryingOrigin } from '../upstream/retrying-origin.js';
import type { GrpcError } from '../wire/status.js';
import { RouteTable, type Route } from '../route/route-table.js';
import { ClusterUpstream } from '../cluster/cluster-upstream.js';
import type { Admissions } from '../admission/admissions.js';
import { AdmissionOrigin } from '../admission/admission-origin.js';
import { tenantOf, type TenantOf } from '../admission/tenant.js';
import { USER_ID_HEADER } from '../auth/identity.js';
import { CLIENT_CERT_HEADER } from '../tls/client-certificate.js';

/** What every route shares, and the defaults a route does not override. */
export interface PipelineContext extends ClusterSetContext {
  cache: ResponseStore | null;
  /** Checks tokens on routes with authorization: required; null without JWT_SECRET. */
  verifier: TokenVerifier | null;
  /** Checks bearer tokens on HTTP routes with auth_required (no session_id claim needed); null without JWT_SECRET. */
  bearerVerifier: TokenVerifier | null;
  retry: { retries: number; attemptTimeoutMs: number };
  defaults: RouteDefaults;
  /** Descriptors learned from the backends over server reflection; null when COLLAPSER_REFLECTION is off. */
  learned: LearnedDescriptors | null;
  /** The fleet (COLLAPSER_FLEET): a flight for a key another corral owns goes there; null when off. */
  fleet: Fleet | null;
  /** A step around every route's backend calls (tracing's client spans); null for none. */
  wrapOrigin: ((origin: Origin) => Origin) | null;
  /** COLLAPSER_METHODS and COLLAPSER_SKIP_METHODS; null when unset. */
  methods: { only: MethodSet | null; skip: MethodSet | null };
  /** Every cluster's concurrency limit (BACKEND_CONCURRENCY, a cluster's `concurrency`), kept across reloads. */
  admissions: Admissions;
  /** BACKEND_CONCURRENCY_FAIR_BY, and whether client certificates are verified (an identity to share by); null: not shared out. */
  fairness: { by: string; clientCertificates: boolean } | null;
  /**
   * Where a write's OK drops the answers it made stale: paced over every generation
   * (PacedInvalidation) and applied to the one in effect; null: straight to this pipeline.
   */
  writes: Invalidation | null;
  /** Until when answers kept for errors could stand in for each cluster (readiness); null without a cache. */
  outageCover: OutageCover | null;
  /** Recent purges (POST /cache/purge); null without a cache. */
  purges: PurgeLog | null;
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
  private readonly upstreams: ClusterUpstream[] = [];
  private readonly unfollow: () => void = () => {};
  private readonly stageContext: StageContext;
  private readonly tenantOf: TenantOf | null;

  constructor(
    readonly topology: Topology,
    private readonly context: PipelineContext,
    previous: Pipeline | null = null,
    /** The http section loaded (descriptors and HTTP routes), or null without one. */
    readonly api: HttpApi | null = null,
  ) {
    this.clusters = new ClusterSet(topology.clusters, topology.clusterTls, context, previous?.clusters ?? null);
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
        // Likewise a field path to leave out of keys that names no field.
        const { invalid, unused } = ignoredFieldProblems(ignoredFieldPaths(context.defaults.keyIgnoreFields, topology.routes), this.declared);
        for (const problem of invalid.map((p) => `key_ignore_fields / COLLAPSER_KEY_IGNORE_FIELDS: ${p}: it is left in the key`)) {
          if (!warned.has(problem)) context.logger.warn(problem);
          warned.add(problem);
        }
        const problem = unused.length === 0 ? null : `key_ignore_fields / COLLAPSER_KEY_IGNORE_FIELDS: no described request has ${unused.join(', ')}`;
        if (problem !== null && !warned.has(problem)) context.logger.warn(problem);
        if (problem !== null) warned.add(problem);
      });
    }
    this.reads = { ...context.methods, declared: this.declared };
    const ownsIdentity = authenticatedRoutes(topology).length > 0;
    context.admissions.configure(Object.keys(topology.clusters), topology.clusterConcurrency);
    const fair = context.fairness;
    this.tenantOf =
      fair === null
        ? null
        : tenantOf(fair.by, { user: ownsIdentity ? USER_ID_HEADER : null, certificate: fair.clientCertificates ? CLIENT_CERT_HEADER : null });
    this.stageContext = {
      ...context,
      ownsIdentity,
      reads: this.reads,
      invalidation: context.writes ?? this,
      collapsers: this.collapsers,
      serverStreams: this.declared,
      fleetWide: context.fleet !== null,
    };
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
    for (const upstream of this.upstreams) upstream.close();
    this.clusters.stop();
  }

  /** The flights under way on this configuration's routes. */
  *flights(): Iterable<SharedCall> {
    for (const collapser of this.collapsers) yield* collapser.underWay();
  }

  /** Ends every flight of this configuration's routes (shutdown, after the grace period). */
  abortFlights(error: GrpcError): void {
    for (const collapser of this.collapsers) collapser.abortAll(error);
  }

  /** A write ended OK: drop the answers it made stale (`invalidates`, or its service's). */
  invalidate(prefixes: readonly string[]): number {
    let dropped = this.context.cache?.invalidate(prefixes) ?? 0;
    for (const collapser of this.collapsers) dropped += collapser.invalidate(prefixes);
    return dropped;
  }

  /** The gateway's view of this configuration: its routes, the descriptors' types, each route's stages (wrapped, e.g. traced). */
  gatewayState(wrap: ((handler: Handler, route: HttpRoute) => Handler) | null): GatewayState {
    const api = this.api!;
    const handlers = new Map<string, Handler>();
    for (const route of this.httpRoutes) {
      const handler = this.httpHandlers.get(route.spec.name)!;
      handlers.set(route.spec.name, wrap === null ? handler : wrap(handler, route));
    }
    return { table: api.table, registry: api.descriptors.registry, cors: new CorsPolicy(api.cors), json: api.json, handlers };
  }

  private route(spec: RouteSpec, index: number | 'default'): Route {
    return { name: routeName(spec, index), cluster: spec.cluster, prefix: spec.prefix, metadata: spec.metadata, handler: this.stages(spec, false) };
  }

  /**
   * An HTTP route: the stages of a gRPC route for its method and cluster, with its bearer
   * token checked when it requires one. GET is HTTP's own declaration of a read; other
   * verbs are collapsed as the method policy says, as over gRPC.
   */
  private httpStages(route: HttpRoute): Handler {
    const spec: RouteSpec = {
      ...defaultRoute(route.grpcPath, route.spec.cluster),
      name: route.label.name,
      collapse: route.collapse ?? (route.spec.method === 'GET' ? true : undefined),
      timeoutMs: route.spec.timeoutMs,
    };
    return this.stages(spec, route.spec.authRequired);
  }

  /** A route's chain: ROUTE_STAGES around the passthrough to its cluster, over the route's origin. */
  private stages(spec: RouteSpec, bearer: boolean): Handler {
    const { retry, observer } = this.context;
    const cluster = this.clusters.get(spec.cluster);
    const clusterSpec = this.topology.clusters[spec.cluster];
    const upstream = new ClusterUpstream(cluster, createBalancer(spec.balancer, cluster, clusterSpec?.type === 'shard_map'));
    this.upstreams.push(upstream);
    const retrying = new RetryingOrigin(upstream, { ...retry, sessionTransfer: spec.sessionTransfer }, observer);
    const traced = this.context.wrapOrigin?.(retrying) ?? retrying;
    // The limit counts what reaches this cluster's backend: a flight a fleet peer makes is counted there.
    const admission = this.context.admissions.of(spec.cluster);
    const admitted = admission === null ? traced : new AdmissionOrigin(admission, traced, spec.priority, this.tenantOf);
    const fleet = this.context.fleet;
    const origin = fleet === null ? admitted : new FleetOrigin(fleet, admitted);
    const build = { spec, bearer, cluster: clusterSpec, origin };
    return composeStages(ROUTE_STAGES, build, this.stageContext, new Passthrough(origin, observer));
  }
}

/** For metrics and logs: the route's name, or its prefix and matchers as written. */
function routeName(spec: RouteSpec, index: number | 'default'): string {
  if (index === 'default') return 'default';
  if (spec.name !== undefined) return spec.name;
  const matchers = spec.metadata.map((m) => ('equals' in m ? `${m.name}=${m.equals}` : `${m.name}${m.present ? '' : ' absent'}`));
  return [spec.prefix, ...matchers].join(' ');
}
