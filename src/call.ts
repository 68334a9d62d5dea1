/**
 * What flows between the stages of the request path:
 *
 *   server/ (front)  --Call + Downstream-->  collapse/ (collapser)  --headers + ResponseSink-->  upstream/
 *
 * A stage either answers the call itself (a cache hit, an error) or hands it on.
 * Responses flow back through ResponseSink callbacks, in order: onHeaders, then
 * onData any number of times, then exactly one of onTrailers or onError. A response
 * whose headers end it (trailers-only) stops after onHeaders.
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import type { GrpcError } from './wire/status.js';
import type { Outcome } from './observe/metrics.js';

export type Headers = IncomingHttpHeaders | OutgoingHttpHeaders;

export interface Call {
  /** The full method name, e.g. /pkg.Service/Method (the request's :path). */
  readonly method: string;
  /** Request headers as received: pseudo-headers and all metadata, -bin values untouched. */
  readonly headers: IncomingHttpHeaders;
  /**
   * The whole request body (every byte of its one framed message) when the client
   * half-closed after exactly one message; null when the call is a stream.
   */
  readonly body: Buffer | null;
  /** For a stream: the bytes read before it was known to be one. The rest flows from `source`. */
  readonly head: readonly Buffer[];
  /** The client's request stream, for calls that stream. */
  readonly source: ServerHttp2Stream;
}

export interface ResponseSink {
  /** Response headers; `endsResponse` when they end it (trailers-only: the status is in them). */
  onHeaders(headers: Headers, endsResponse: boolean): void;
  /** Some response bytes. Returns false when the receiver asks the sender to wait for it to drain. */
  onData(chunk: Buffer): boolean;
  /** Trailers, with grpc-status; the response is complete. */
  onTrailers(trailers: Headers): void;
  /** The call failed; the receiver turns this into a status for its client. */
  onError(error: GrpcError): void;
}

/** Told when the client of a Downstream goes away or can take more bytes. */
export interface DownstreamListener {
  /** The client cancelled, its deadline passed, or corral failed the call: stop working for it. */
  downstreamGone(downstream: Downstream): void;
  /** The client read what was buffered for it; a paused sender may go on. */
  downstreamDrained(downstream: Downstream): void;
}

/** The client end of one call, as the stages see it. */
export interface Downstream extends ResponseSink {
  /** Bytes written but not yet taken by the client. */
  readonly bufferedBytes: number;
  /** False once the client is gone or the response has ended. */
  readonly open: boolean;
  /** How the call is being served, for metrics; the stage that takes the call sets it. */
  outcome: Outcome;
  /** Sets the one listener for this call (the stage that serves it). */
  watch(listener: DownstreamListener): void;
}

/** A stage of the request path. */
export interface Handler {
  handle(call: Call, downstream: Downstream): void;
}
