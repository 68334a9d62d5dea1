import type { Outcome } from './call.js';

/** Why a call was refused on a route that requires authorization. */
export type AuthFailure = 'missing_session' | 'invalid_token';

/**
 * What the stages of the request path report as they work. They report and go on; what
 * is kept (metrics today; an access log or traces next) is the observer's business, so a
 * stage never knows how it is measured. Calls are made on the request path: an
 * implementation must be cheap and must not throw.
 */
export interface Observer {
  /** A stage took a call and serves it this way. */
  served(outcome: Outcome): void;
  /** A client call ended (its stream closed), `seconds` after its request headers arrived. */
  callEnded(outcome: Outcome, seconds: number): void;
  /** corral started a backend call: a flight (collapsed) or one call passed through. */
  backendCallStarted(kind: 'flight' | 'bypass'): void;
  /** A flight's backend call finished, with this many followers beside its leader. */
  flightLanded(followers: number, seconds: number): void;
  /** A flight's response outgrew the recording bound; it takes no more followers. */
  flightOverflowed(): void;
  /** A waiter was dropped for reading a shared response too slowly. */
  slowCallerDropped(): void;
  /** A backend attempt failed and the call was tried again on another endpoint. */
  retried(): void;
  /** A response was continued on another endpoint after its backend failed mid-response. */
  sessionTransferred(): void;
  /** A call was refused UNAUTHENTICATED. */
  authFailed(reason: AuthFailure): void;
  /** An endpoint was taken out of its cluster after a failure. */
  endpointEjected(): void;
}
