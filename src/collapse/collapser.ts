import type { Call, Downstream, Handler, RouteLabel } from '../call/call.js';
import type { Observer } from '../call/observer.js';
import type { Origin } from '../upstream/origin.js';
import { formatGrpcTimeout } from '../wire/timeout.js';
import type { GrpcError } from '../wire/status.js';
import type { ResponseStore } from './store.js';
import { Flight, type FlightOptions, type FlightOwner } from './flight.js';
import { Broadcast } from './broadcast.js';
import type { SharedCall } from './shared-call.js';
import type { PurgeLog } from './purge-log.js';
import type { StreamJoin } from '../spec/stream-join.js';
import { CachePolicy, type CacheSettings } from './cache-policy.js';
import type { CachedAnswer } from './cached-answer.js';
import type { KeyMaker } from './key.js';
import type { CacheAdmission } from './cache-admission.js';
import { underAny } from './method-set.js';

/** The user-agent of a collapsed call: it is made for every caller with its key, whatever their libraries. */
export const COLLAPSED_USER_AGENT = 'corral';

export interface CollapserOptions extends FlightOptions {
  /** How long answers are kept and served: fresh, stale while revalidating, stale instead of an error. */
  cache: CacheSettings;
  /**
   * What the descriptors say of a method: whether it answers with a stream, and whether
   * any describes it at all; null: none known. A flight for an undescribed method is
   * bounded by BACKEND_TIMEOUT until its response turns out to stream.
   */
  serverStreams: { streams(method: string): boolean; has(method: string): boolean } | null;
  /** Recent purges: a flight under way when one named it lands uncached. */
  purges?: PurgeLog | null;
  /** How a caller joins a server stream under way (the route's stream_join, COLLAPSER_STREAM_JOIN); unset: replay. */
  streamJoin?: ((method: string) => StreamJoin) | null;
  /** COLLAPSER_CACHE_MIN_USES: which answers are asked for often enough to cache; null: all. */
  admission?: CacheAdmission | null;
  /** Told when an answer is kept for errors (a stale-if-error window), with when that window ends. */
  keptForErrors?: ((until: number) => void) | null;
}

/**
 * The collapser stage. A call whose request is one message is keyed, then served by
 * the first of: a fresh cached response; joining the flight already under way for its
 * key (follower); starting that flight (leader). Calls that stream go to `next`.
 */
export class Collapser implements Handler, FlightOwner {
  /** The joinable flight of each key. */
  private readonly flights = new Map<string, SharedCall>();
  /** Flights still under way that take no new callers (full, overflowed, invalidated): aborted and listed with the others. */
  private readonly detached = new Set<SharedCall>();
  private readonly upstreamTimeout: string;
  private readonly policy: CachePolicy;

  constructor(
    private readonly next: Handler,
    private readonly origin: Origin,
    private readonly keys: KeyMaker,
    private readonly cache: ResponseStore | null,
    private readonly options: CollapserOptions,
    private readonly observer: Observer,
  ) {
    this.upstreamTimeout = formatGrpcTimeout(options.timeoutMs);
    this.policy = new CachePolicy(options.cache);
  }

  handle(call: Call, downstream: Downstream): void {
    if (call.stream) {
      this.next.handle(call, downstream);
      return;
    }
    const key = this.keys.key(call.method, call.metadata, call.body);
    downstream.collapseKey = key;
    // Every ask counts, served from the cache or not: a refresh of a stale answer is then admitted too.
    this.options.admission?.asked(key);
    // cache-control: no-cache (RFC 9111): never answered from the cache.
    const fresh = wantsFresh(call.metadata);
    const cached = fresh ? undefined : this.cache?.get(key);
    let stale: CachedAnswer | null = null;
    if (cached !== undefined) {
      switch (this.policy.usability(cached, performance.now())) {
        case 'fresh':
          this.serve(cached, 'cache_hit', downstream);
          return;
        case 'stale':
          // Served at once; one call refreshes it in the background (none if one is under way).
          this.serve(cached, 'stale', downstream);
          if (!this.flights.has(key)) this.refresh(key, call, cached, downstream.route);
          return;
        case 'error_only':
          // It stands in if the flight that replaces it fails.
          stale = cached;
      }
    }
    const flight = this.flights.get(key);
    if (flight !== undefined && fresh && !flight.fresh && flight.joins === 'replay') {
      // A flight that began before a caller asked for a fresh answer may carry an older one:
      // the caller leads a fresh flight, which later callers join, and the older one is not cached.
      flight.cacheable = false;
      this.detach(flight);
    } else if (flight !== undefined) {
      // Set first: joining replays what arrived, and the client's headers say how it was served.
      downstream.outcome = 'follower';
      if (flight.join(downstream, call)) {
        return;
      }
      // Its waiting list is full (COLLAPSER_MAX_FOLLOWERS): the overflow gets a flight of its
      // own, one more backend call per full list, so a herd one client parked there cannot
      // refuse another client's call.
      this.detach(flight);
    }
    this.lead(key, call, downstream, stale, fresh);
  }

  private serve(answer: CachedAnswer, outcome: 'cache_hit' | 'stale', downstream: Downstream): void {
    downstream.outcome = outcome;
    downstream.onStart(answer);
    answer.recording.replay(downstream);
  }

  /**
   * A background flight for a stale answer's key: no caller waits on it; an OK answer
   * replaces the old one. Callers that join it once the answer is past its revalidation
   * window still have the old one to fall back on (stale-if-error).
   */
  private refresh(key: string, call: Call, stale: CachedAnswer, route: RouteLabel | null): void {
    // A stream's flight ends when its last caller leaves: with none, it would not be bounded.
    if (this.streams(call.method)) return;
    const described = this.described(call.method);
    this.fly(new Flight(key, call.method, this.options, this, this.observer, false, !described), route, null, call, stale.keptForErrors ? stale : null, described);
  }

  /** Flights under way. */
  get inFlight(): number {
    return this.flights.size + this.detached.size;
  }

  /** The flights under way, for the admin endpoints. */
  *underWay(): IterableIterator<SharedCall> {
    yield* this.flights.values();
    yield* this.detached;
  }

  /** Aborts every flight, e.g. when the shutdown grace period is over. */
  abortAll(error: GrpcError): void {
    for (const flight of [...this.underWay()]) flight.abort(error);
  }

  /**
   * A follower waited COLLAPSER_MAX_WAIT for its flight (nginx's proxy_cache_lock_timeout):
   * it gets the answer the cache still holds for errors, or makes its own backend call,
   * whose answer is not cached.
   */
  waitedTooLong(flight: Flight, downstream: Downstream, call: Call): void {
    const cached = this.cache?.get(flight.key);
    if (cached !== undefined && this.policy.usability(cached, performance.now()) !== 'unusable') {
      this.serve(cached, 'stale', downstream);
      return;
    }
    downstream.outcome = 'bypass';
    this.observer.backendCallStarted('bypass', downstream.route);
    this.origin.start(call, downstream);
  }

  flightOverflowed(flight: Flight): void {
    this.detach(flight);
  }

  flightLanded(flight: SharedCall): void {
    if (this.flights.get(flight.key) === flight) this.flights.delete(flight.key);
    else this.detached.delete(flight);
    const recording = flight.recording;
    if (this.cache === null || !flight.cacheable || recording === null || flight.servedStale) return;
    if (this.options.admission && !this.options.admission.admits(flight.key)) return;
    const entry = this.policy.entry(recording, flight.method, flight.backend, performance.now());
    if (entry === null) return;
    if (this.options.purges?.covers(flight.started, flight.method, flight.key, entry.answer.tags)) return;
    this.cache.set(flight.key, entry.answer, entry.ttlMs);
    const { staleUntil, errorUntil } = entry.answer;
    if (errorUntil > staleUntil) this.options.keptForErrors?.(errorUntil);
  }

  /**
   * A write made answers to methods under these prefixes stale: flights under way for them
   * take no new callers and are not cached (they may have read the old state).
   */
  invalidate(prefixes: readonly string[]): number {
    let dropped = 0;
    for (const flight of this.underWay()) {
      if (!underAny(flight.method, prefixes) || !flight.cacheable) continue;
      flight.cacheable = false;
      this.detach(flight);
      dropped++;
    }
    return dropped;
  }

  /** The flight takes no new callers; a new one may take its key. */
  private detach(flight: SharedCall): void {
    if (this.flights.get(flight.key) !== flight) return;
    this.flights.delete(flight.key);
    this.detached.add(flight);
  }

  private lead(key: string, call: Call, downstream: Downstream, stale: CachedAnswer | null, fresh = false): void {
    downstream.outcome = 'leader';
    const described = this.described(call.method);
    const joins = this.joins(call.method, described);
    const flight =
      joins === 'replay'
        ? new Flight(key, call.method, this.options, this, this.observer, this.streams(call.method), !described)
        : new Broadcast(key, call.method, joins, { maxFollowers: this.options.maxFollowers, maxBehindBytes: this.options.maxResponseBytes }, this, this.observer);
    if (joins === 'replay') flight.fresh = fresh;
    this.fly(flight, downstream.route, downstream, call, stale, described);
  }

  /** Registers a flight under its key, its leader (none for a refresh) first, and starts its backend call. */
  private fly(flight: SharedCall, route: RouteLabel | null, leader: Downstream | null, call: Call, stale: CachedAnswer | null, described: boolean): void {
    flight.route = route;
    this.flights.set(flight.key, flight);
    if (leader !== null) flight.join(leader);
    // A method no descriptor describes may turn out to stream: the backend gets no deadline of BACKEND_TIMEOUT.
    this.prepareForAll(call, flight.longLived || !described);
    flight.start(this.origin, call, stale?.recording ?? null);
  }

  /** Whether the method answers with a stream, as the descriptors say. */
  private streams(method: string): boolean {
    return this.options.serverStreams !== null && this.options.serverStreams.streams(method);
  }

  /**
   * How a caller joins a flight of the method once it is under way: latest and live apply
   * to streams; a method the descriptors say answers one message is replayed (and cached)
   * whatever its route says.
   */
  private joins(method: string, described: boolean): StreamJoin {
    const joins = this.options.streamJoin?.(method) ?? 'replay';
    return joins !== 'replay' && described && !this.streams(method) ? 'replay' : joins;
  }

  /** Whether a descriptor describes the method, so its flight's shape (one message or a stream) is known. */
  private described(method: string): boolean {
    return this.options.serverStreams !== null && this.options.serverStreams.has(method);
  }

  /**
   * The changes to the leader's metadata that make the one response right for every
   * waiter, so that whatever the backend sees is in the key or the same for all: the
   * deadline is BACKEND_TIMEOUT (callers' deadlines differ and are not in the key; a
   * server stream gets none, as the flight ends it when its last caller leaves), the
   * response is asked for uncompressed (grpc-accept-encoding is not in the key, so a
   * waiter may not accept what the leader would), the user-agent is corral's (the
   * callers' libraries differ and are not in the key), and accept-encoding and
   * grpc-previous-rpc-attempts are dropped (one client's, not in the key). The metadata is this call's own
   * and not read again once the key is made, so it is changed in place: a copy per
   * flight showed in profiles (docs/performance.md).
   */
  private prepareForAll(call: Call, stream: boolean): void {
    const metadata = call.metadata;
    if (stream) delete metadata['grpc-timeout'];
    else metadata['grpc-timeout'] = this.upstreamTimeout;
    metadata['grpc-accept-encoding'] = 'identity';
    metadata['user-agent'] = COLLAPSED_USER_AGENT;
    // Not in the key, and not the same for every caller: a collapsed call is corral's own
    // first attempt, and gRPC's codings are grpc-accept-encoding's.
    if (metadata['accept-encoding'] !== undefined) delete metadata['accept-encoding'];
    if (metadata['grpc-previous-rpc-attempts'] !== undefined) delete metadata['grpc-previous-rpc-attempts'];
  }
}

/** A request that says `cache-control: no-cache`: it must get an answer made after it asked. */
function wantsFresh(metadata: Call['metadata']): boolean {
  const control = metadata['cache-control'];
  return control !== undefined && /(^|[\s,])no-cache([\s,]|$)/i.test(String(control));
}
