import type { BackendCall, Outcome, RouteLabel } from './call.js';

/**
 * Why a call was shed before its backend got it: no slot and no room in the admission
 * queue (over_limit), no slot within BACKEND_QUEUE_TIMEOUT (queue_timeout), or too little
 * time left before its deadline for the backend to answer (deadline).
 */
export type ShedReason = 'over_limit' | 'queue_timeout' | 'deadline';
export const SHED_REASONS: readonly ShedReason[] = ['over_limit', 'queue_timeout', 'deadline'];

/** Why a call was refused on a route that requires authorization. */
export type AuthFailure = 'missing_session' | 'invalid_token';

/** A client call as it ended, read by observers when its stream closes. */
export interface FinishedCall {
  /** The full method name as the client sent it (logs only: never a metric label). */
  readonly method: string;
  readonly outcome: Outcome;
  readonly route: RouteLabel | null;
  /** The collapse key the collapser made for it; null when none was. */
  readonly collapseKey: string | null;
  /** The grpc-status the client got; CANCELLED when it went away before one. */
  readonly code: number;
  /** The grpc-message it got, decoded; '' when none. */
  readonly message: string;
  /** When its request headers arrived, on performance.now()'s clock. */
  readonly startedAt: number;
  /** Bytes of gRPC frames read from the client, and written to it. */
  readonly requestBytes: number;
  readonly responseBytes: number;
  /** The backend call that answered it; null when none did. */
  readonly backend: BackendCall | null;
  /** The W3C traceparent the call came with (or its server span's, when corral traces). */
  readonly traceparent: string | string[] | undefined;
  /** A call that came in as HTTP/JSON: its HTTP method, path and the status it was answered with (0 when none was). */
  readonly http?: { readonly method: string; readonly path: string; readonly status: number };
}

/**
 * What the stages of the request path report as they work. They report and go on; what
 * is kept (metrics, an access log, traces) is the observer's business, so a stage never
 * knows how it is measured. Calls are made on the request path: an implementation must
 * be cheap and must not throw.
 */
export interface Observer {
  /** A client call ended (its stream closed). */
  callEnded(call: FinishedCall): void;
  /** corral started a backend call: a flight (collapsed) or one call passed through. */
  backendCallStarted(kind: 'flight' | 'bypass', route: RouteLabel | null): void;
  /** A backend call (all its attempts) ended with this status. */
  backendCallEnded(cluster: string, code: number): void;
  /** A flight's backend call finished, with this many followers beside its leader. */
  flightLanded(followers: number, seconds: number): void;
  /** A flight's response outgrew the recording bound; it takes no more followers. */
  flightOverflowed(): void;
  /** A waiter was dropped for reading a shared response too slowly. */
  slowCallerDropped(): void;
  /** A watcher of a `latest` stream that was not reading skipped a message: a newer one replaced it. */
  messagesSkipped(): void;
  /** A follower waited COLLAPSER_MAX_WAIT for its flight and was answered another way. */
  waitedTooLong(): void;
  /** A backend attempt failed and the call was tried again on another endpoint. */
  retried(): void;
  /** A response was continued on another endpoint after its backend failed mid-response. */
  sessionTransferred(): void;
  /** A call was refused UNAUTHENTICATED. */
  authFailed(reason: AuthFailure): void;
  /** An endpoint of `cluster` was taken out after a failure. */
  endpointEjected(cluster: string): void;
  /** A call for `cluster`'s backend was shed (BACKEND_CONCURRENCY): answered UNAVAILABLE or with a kept answer. */
  shed(cluster: string, priority: string, reason: ShedReason): void;
  /** A call waited this long in `cluster`'s admission queue before it was sent, shed or dropped. */
  admissionWaited(cluster: string, seconds: number): void;
  /** A queued call for `cluster` was not sent: every caller had left. */
  unsent(cluster: string): void;
  /** A failed attempt was not retried: `cluster`'s retry budget was spent. */
  retryRefused(cluster: string): void;
}
