import type { BackendCall, Call, Downstream, RouteLabel } from '../call/call.js';
import type { StreamJoin } from '../spec/stream-join.js';
import type { Origin } from '../upstream/origin.js';
import type { GrpcError } from '../wire/status.js';
import type { Recording } from './recording.js';

/**
 * One backend call shared by every caller with the same key, as the collapser holds it: a
 * Flight (its response recorded and replayed to late joiners) or a Broadcast (a long
 * server stream fanned out live: latest or live joins).
 */
export interface SharedCall {
  readonly key: string;
  /** The full method name, for invalidation and the admin endpoints. */
  readonly method: string;
  /** How a caller joins it once it is under way. */
  readonly joins: StreamJoin;
  /** The response is a stream, bounded by its callers rather than BACKEND_TIMEOUT (ResponseSink's longLived). */
  readonly longLived: boolean;
  route: RouteLabel | null;
  /** Callers waiting now. */
  readonly waiting: number;
  /** When the backend call started, on performance.now()'s clock. */
  readonly started: number;
  readonly backend: BackendCall | null;
  /** The response, for the cache; null when none is kept. */
  readonly recording: Recording | null;
  /** False once a write made the response stale, or when it is never cached. */
  cacheable: boolean;
  /** Started for a caller that asked for a fresh answer (cache-control: no-cache): such callers may join it. */
  fresh: boolean;
  /** The waiters got a kept answer instead (stale-if-error). */
  readonly servedStale: boolean;
  /** Adds a caller; false when it no longer takes any (the caller is served another way). */
  join(downstream: Downstream, call?: Call | null): boolean;
  start(origin: Origin, call: Call, stale?: Recording | null): void;
  /** Ends the backend call; every waiter gets `reason`. */
  abort(reason: GrpcError): void;
}
