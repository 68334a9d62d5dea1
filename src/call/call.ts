/**
 * What flows between the stages of the request path:
 *
 *   server/ (front) --Call + Downstream--> route/ → auth/ → collapse/ --Call + ResponseSink--> upstream/ (Origin)
 *
 * A stage either answers the call itself (a cache hit, an error) or hands it on. The
 * response flows back through a ResponseSink: first onStart, with the control that
 * steers the call producing it, then onHeaders, onData any number of times, and exactly
 * one of onTrailers or onError. A response whose headers end it (trailers-only) stops
 * after onHeaders. Nothing here is tied to HTTP/2: a front that speaks another protocol
 * produces the same Call and reads the same events.
 */
import type { Readable } from 'node:stream';
import type { GrpcError } from '../wire/status.js';

/**
 * gRPC metadata: lowercase names, values as on the wire (-bin values in base64), a name
 * sent more than once as an array in order. Request metadata from the HTTP/2 front also
 * holds its pseudo-headers (:path, :authority...): it is node's own object, not a copy,
 * and the backend call sets the ones it needs itself.
 */
export type Metadata = { [name: string]: string | string[] | undefined };

/** Response headers or trailers; `:status` may be a number. */
export type Headers = { [name: string]: string | string[] | number | undefined };

interface CallBase {
  /** The full method name, e.g. /pkg.Service/Method. */
  readonly method: string;
  /** The request metadata. Stages may change it in place (auth sets the caller's identity). */
  readonly metadata: Metadata;
  /** When the caller stops waiting, on performance.now()'s clock; Infinity when it set no deadline. */
  readonly deadline: number;
}

/** A call whose client half-closed after exactly one message (unary, server streaming): it can be keyed and shared. */
export interface MessageCall extends CallBase {
  readonly stream: false;
  /** The whole request body: every byte of its one framed message. */
  readonly body: Buffer;
}

/** A call whose request is a stream (client or bidi streaming, or one that went quiet before its end). */
export interface StreamCall extends CallBase {
  readonly stream: true;
  /** The bytes read before it was known to be a stream. The rest flows from `source`. */
  readonly head: readonly Buffer[];
  /** The rest of the request, gRPC-framed bytes as the client sends them. */
  readonly source: Readable;
}

/** A call as the stages see it: `stream` tells the two shapes apart (connect-es's `stream: true | false`). */
export type Call = MessageCall | StreamCall;

/** What is known of the backend call that answers a call, for logs, metrics and traces. */
export interface BackendCall {
  /** host:port of the endpoint of the latest attempt; '' before the first. */
  readonly endpoint: string;
  /** Attempts made after the first (retries and session transfers). */
  readonly retries: number;
  /** The W3C traceparent the backend was sent, when the call is traced; null otherwise. */
  readonly traceparent: string | null;
}

/**
 * How a call's producer is steered by whoever receives its response; one per call,
 * handed over in onStart (undici's dispatch controller is the model).
 */
export interface CallControl {
  /** The backend call behind this response; null when there is none (an answer corral made itself). */
  readonly backend: BackendCall | null;
  /** The receiver is gone, or corral ends the call: stop working for it. */
  abort(reason: GrpcError): void;
  /** The receiver cannot take more now: stop reading the response. */
  pause(): void;
  /** The receiver took what it had: read on. */
  resume(): void;
}

/** A response as it arrives. */
export interface ResponseListener {
  /** Response headers; `endsResponse` when they end it (trailers-only: the status is in them). */
  onHeaders(headers: Headers, endsResponse: boolean): void;
  /** Some response bytes. A receiver that cannot keep up says so through the call's control. */
  onData(chunk: Buffer): void;
  /** Trailers, with grpc-status; the response is complete. */
  onTrailers(trailers: Headers): void;
  /** The call failed; the receiver turns this into a status for its client. */
  onError(error: GrpcError): void;
}

/** Receives one call's response, and first the control to steer that call with. */
export interface ResponseSink extends ResponseListener {
  onStart(control: CallControl): void;
  /** Callers waiting for this response, when it is shared (a flight's); unset: the one client of the call. */
  readonly waiting?: number;
  /** The response is a stream its callers bound (a watch), not an answer the backend works on; unset for most. */
  readonly longLived?: boolean;
}

/** How a call was served. */
export type Outcome = 'cache_hit' | 'follower' | 'leader' | 'bypass' | 'rejected' | 'stale' | 'stale_if_error' | 'shed' | 'cancelled' | 'deadline';
/**
 * stale: served past its freshness while one call refreshes it; stale_if_error: served
 * instead of a transient failure; shed: refused because its backend had all the calls it
 * could take (BACKEND_CONCURRENCY); rejected: refused by corral (bad input, limits, auth);
 * cancelled, deadline: the client left, or its grpc-timeout passed, before any stage took
 * the call (its request had not all arrived).
 */
export const OUTCOMES: readonly Outcome[] = ['cache_hit', 'follower', 'leader', 'bypass', 'rejected', 'stale', 'stale_if_error', 'shed', 'cancelled', 'deadline'];

/** What a route is known by in metrics and logs: bounded by the configuration, never by what clients send. */
export interface RouteLabel {
  /** The route's `name`, or its prefix and matchers as written; `default` for the default route. */
  readonly name: string;
  readonly cluster: string;
}

/** The client end of one call, as the stages see it. */
export interface Downstream extends ResponseSink {
  /** Bytes written but not yet taken by the client. */
  readonly bufferedBytes: number;
  /** False once the client is gone or the response has ended. */
  readonly open: boolean;
  /** How the call is being served; the stage that takes the call sets it. */
  outcome: Outcome;
  /** The route that took the call; the router sets it. Null for a call no route took. */
  route: RouteLabel | null;
  /** The collapse key of the call (a SHA-256 digest), for the access log and a purge by key; null when none was made. */
  collapseKey: string | null;
}

/** A stage of the request path. */
export interface Handler {
  handle(call: Call, downstream: Downstream): void;
}
