import type { CacheAdmission } from '../collapse/cache-admission.js';
import { Authenticate } from '../auth/authenticate.js';
import { BearerAuthenticate } from '../auth/bearer.js';
import { IDENTITY_METADATA, StripIdentity } from '../auth/identity.js';
import type { TokenVerifier } from '../auth/token-verifier.js';
import type { Handler } from '../call/call.js';
import type { Observer } from '../call/observer.js';
import type { ClusterSpec } from '../discovery/cluster-types.js';
import { Collapser, type CollapserOptions } from '../collapse/collapser.js';
import type { CacheSettings } from '../collapse/cache-policy.js';
import { Invalidate, type Invalidation } from '../collapse/invalidate.js';
import { KeyMaker } from '../collapse/key.js';
import { KeyCanon } from '../collapse/key-canon.js';
import { MethodPolicy, type ReadSources } from '../collapse/method-policy.js';
import type { ResponseStore } from '../collapse/store.js';
import type { OutageCover } from '../collapse/outage-cover.js';
import type { PurgeLog } from '../collapse/purge-log.js';
import { streamJoinOf, type StreamJoin } from '../spec/stream-join.js';
import { routeNamespace } from '../route/route-namespace.js';
import type { RouteSpec } from '../route/route-spec.js';
import type { Origin } from '../upstream/origin.js';

/** One route being built, on either front. */
export interface RouteBuild {
  readonly spec: RouteSpec;
  /** An HTTP route with auth_required: a bearer token, verified, says who calls. */
  readonly bearer: boolean;
  /** Its cluster's spec (part of every key: two clusters never share an answer). */
  readonly cluster: ClusterSpec | undefined;
  /** Where its backend calls go: the retrying origin, with any wrappers (tracing). */
  readonly origin: Origin;
}

/** What a route leaves unset takes from the environment. */
export interface RouteDefaults {
  timeoutMs: number;
  cacheTtlMs: number;
  /** The cache policy beyond the TTL (COLLAPSER_STALE_*, COLLAPSER_CACHE_STATUSES, COLLAPSER_CACHE_MAX_TTL). */
  cachePolicy: Omit<CacheSettings, 'ttlMs'>;
  /** COLLAPSER_MAX_WAIT; 0: off. */
  maxWaitMs: number;
  /** COLLAPSER_CACHE_MIN_USES above 1: the use counts every route's collapser shares; null: every answer may be cached. */
  admission: CacheAdmission | null;
  keyMetadata: string[] | undefined;
  /** COLLAPSER_KEY_IGNORE_FIELDS. */
  keyIgnoreFields: string[];
  maxResponseBytes: number;
  maxFollowers: number;
  /** A call a route does not collapse drops its service's cached answers when it ends OK (COLLAPSER_READ_YOUR_WRITES). */
  readYourWrites: boolean;
  /** COLLAPSER_STREAM_JOIN, by method or service prefix. */
  streamJoins: ReadonlyArray<readonly [string, StreamJoin]>;
}

/** What the stages of every route of one configuration share. */
export interface StageContext {
  readonly observer: Observer;
  readonly cache: ResponseStore | null;
  /** Checks tokens on routes with authorization: required; null without JWT_SECRET. */
  readonly verifier: TokenVerifier | null;
  /** Checks bearer tokens on HTTP routes with auth_required; null without JWT_SECRET. */
  readonly bearerVerifier: TokenVerifier | null;
  /** Some route authenticates: corral then owns the identity metadata on every route. */
  readonly ownsIdentity: boolean;
  readonly reads: ReadSources;
  /** Where writes drop stale answers (the cache and the flights of every route). */
  readonly invalidation: Invalidation;
  /** Each collapser made, so the configuration can list and end its flights. */
  readonly collapsers: Collapser[];
  readonly defaults: RouteDefaults;
  /** Which methods answer with a stream (the descriptors). */
  readonly serverStreams: CollapserOptions['serverStreams'];
  /** Where answers kept for errors are noted by cluster, for readiness; null without a cache. */
  readonly outageCover: OutageCover | null;
  /** Recent purges, so a flight under way does not put a purged answer back; null without a cache. */
  readonly purges: PurgeLog | null;
  /**
   * Keys are the same on every corral of a fleet: the route's cluster counts by name, not
   * by its addresses (each sidecar fronts its own replica), and :authority (the sidecar a
   * client reached) does not count.
   */
  readonly fleetWide: boolean;
}

/** A stage around the rest of a route's chain. */
export type Stage = (next: Handler) => Handler;

/** How the route's callers join a stream under way: the route's stream_join, else the environment's list; null: replay. */
function streamJoinFor(spec: RouteSpec, listed: ReadonlyArray<readonly [string, StreamJoin]>): ((method: string) => StreamJoin) | null {
  const own = spec.streamJoin;
  if (own !== undefined) return own === 'replay' ? null : () => own;
  return listed.length === 0 ? null : (method) => streamJoinOf(listed, method);
}

/** A stage for this route, or null when the route needs none of it. */
export type StageFactory = (route: RouteBuild, context: StageContext) => Stage | null;

/**
 * Who calls: a route with authorization: required checks the session's JWT, an HTTP
 * route with auth_required the bearer token; on any other route, when some route
 * authenticates, identity metadata a client sent is stripped, never trusted.
 */
const identity: StageFactory = ({ spec, bearer }, c) => {
  if (spec.authorization === 'required') {
    // checkAuthSecret refused a configuration like this before it got here.
    if (c.verifier === null) throw new Error('authorization: required without JWT_SECRET');
    const verifier = c.verifier;
    return (next) => new Authenticate(verifier, next, c.observer);
  }
  if (bearer) {
    if (c.bearerVerifier === null) throw new Error('auth_required without JWT_SECRET');
    const verifier = c.bearerVerifier;
    return (next) => new BearerAuthenticate(verifier, next, c.observer);
  }
  return c.ownsIdentity ? (next) => new StripIdentity(next) : null;
};

/** A route with `invalidates`: a call that ends OK drops the answers it made stale. */
const invalidates: StageFactory = ({ spec }, c) =>
  spec.invalidates.length === 0 ? null : (next) => new Invalidate(spec.invalidates, c.invalidation, next);

/**
 * The collapser, for the calls said to be reads (MethodPolicy); the others go on to the
 * passthrough, and one that ends OK drops its service's cached answers (read-your-writes)
 * unless the route says what it invalidates.
 */
const collapse: StageFactory = (route, c) => {
  const { spec } = route;
  const routeSaysRead = spec.collapse === true;
  if (spec.collapse === false || !MethodPolicy.mayCollapse(c.reads, routeSaysRead)) return null;
  const d = c.defaults;
  // The verified identity is always in the key, even when key_metadata narrows it.
  let keyMetadata = spec.keyMetadata ?? d.keyMetadata;
  if ((spec.authorization === 'required' || route.bearer) && keyMetadata !== undefined) keyMetadata = [...keyMetadata, ...IDENTITY_METADATA];
  const keys = new KeyMaker({
    metadata: keyMetadata,
    namespace: routeNamespace(spec, c.fleetWide ? undefined : route.cluster),
    authority: !c.fleetWide,
    // With descriptors: ignored fields left out, maps keyed in sorted order.
    canon: c.reads.declared === null ? null : new KeyCanon(c.reads.declared, spec.keyIgnoreFields ?? d.keyIgnoreFields),
  });
  const options = {
    timeoutMs: spec.timeoutMs ?? d.timeoutMs,
    cache: {
      ...d.cachePolicy,
      ttlMs: spec.cacheTtlMs ?? d.cacheTtlMs,
      staleWhileRevalidateMs: spec.staleWhileRevalidateMs ?? d.cachePolicy.staleWhileRevalidateMs,
      staleIfErrorMs: spec.staleIfErrorMs ?? d.cachePolicy.staleIfErrorMs,
    },
    maxResponseBytes: d.maxResponseBytes,
    maxFollowers: d.maxFollowers,
    maxWaitMs: d.maxWaitMs,
    admission: d.admission,
    serverStreams: c.serverStreams,
    keptForErrors: c.outageCover === null ? null : (until: number) => c.outageCover!.kept(spec.cluster, until),
    streamJoin: streamJoinFor(spec, d.streamJoins),
    purges: c.purges,
  };
  return (next) => {
    const passthrough = d.readYourWrites && spec.invalidates.length === 0 ? new Invalidate(null, c.invalidation, next) : next;
    const collapser = new Collapser(passthrough, route.origin, keys, c.cache, options, c.observer);
    c.collapsers.push(collapser);
    return routeSaysRead && c.reads.skip === null ? collapser : new MethodPolicy(c.reads, routeSaysRead, collapser, passthrough);
  };
};

/**
 * Every route's stages, outermost first, on both fronts (as undici's Dispatcher.compose
 * and Envoy's filter chain): each factory says whether the route needs its stage. The
 * chain ends in the route's passthrough to its cluster. A new concern is a new entry.
 */
export const ROUTE_STAGES: readonly StageFactory[] = [identity, invalidates, collapse];

/** Builds a route's chain from `stages` around `last`. */
export function composeStages(stages: readonly StageFactory[], route: RouteBuild, context: StageContext, last: Handler): Handler {
  let handler = last;
  for (let i = stages.length - 1; i >= 0; i--) {
    const stage = stages[i]!(route, context);
    if (stage !== null) handler = stage(handler);
  }
  return handler;
}
