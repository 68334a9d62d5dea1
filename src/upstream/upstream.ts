import { constants, type ClientHttp2Stream, type OutgoingHttpHeaders } from 'node:http2';
import type { Metadata } from '../call.js';
import type { Endpoint } from '../discovery/endpoint.js';
import { GrpcError, statusFromRstCode } from '../wire/status.js';

/** The connection a backend stream runs on, as a failed attempt's status needs to describe it. */
export interface BackendConnection {
  /** host:port of the backend. */
  readonly address: string;
  /** The connection is gone (node then cancels every stream it carried). */
  readonly lost: boolean;
  /** The peer sent its HTTP/2 SETTINGS. */
  readonly spokeHttp2: boolean;
}

/** Where a stream from an Upstream keeps its connection (a symbol, so a stream costs no extra object). */
export const kConnection = Symbol('corral.connection');

/** A stream to a backend, with the connection it runs on. */
export type BackendStream = ClientHttp2Stream & { readonly [kConnection]?: BackendConnection };

/** Why a connection that opened but never spoke HTTP/2 failed: the usual mistake is an HTTP/1.1 or TLS port. */
export const NOT_HTTP2 =
  'the backend closed the connection without an HTTP/2 SETTINGS frame: corral expects cleartext HTTP/2 (h2c), not HTTP/1.1 or TLS';

/**
 * Where a call's backend attempts go: a route's cluster, as the stages above it see it.
 * The flights and the passthrough only ask it for an endpoint, a stream to it, and tell
 * it how the attempt went; choosing, connecting and ejecting stay below.
 */
export interface Upstream {
  /** The cluster's name, for metrics. */
  readonly clusterName: string;
  /**
   * The endpoint for a call's next attempt, avoiding the ids in `tried` (where it failed
   * already); throws a GrpcError when there is none.
   */
  pick(headers: Metadata, tried: ReadonlySet<string> | null): Endpoint;
  /** Opens a stream to a picked endpoint; throws a GrpcError when it cannot now. */
  request(endpoint: Endpoint, headers: OutgoingHttpHeaders, signal?: AbortSignal): BackendStream;
  /** The endpoint answered: response headers arrived. */
  succeeded(endpoint: Endpoint): void;
  /** The endpoint failed an attempt: the connection or stream broke, or it did not answer in time. */
  failed(endpoint: Endpoint, error: GrpcError): void;
}

/**
 * A request that cannot be sent as it is to any endpoint, such as metadata larger than the
 * backend accepts: the call gets this status at once, it is not retried, and no endpoint is
 * blamed (ejected) for it.
 */
export class UnforwardableRequest extends GrpcError {}

/**
 * The backend reset this one stream (RST_STREAM), its connection still up: an answer
 * about this request (a header or frame it refused, a limit it hit), not a sign that the
 * endpoint is failing. It never counts toward ejecting the endpoint (a client could
 * otherwise eject endpoints one by one with requests the backend refuses), and the call
 * keeps the status the code maps to. Only REFUSED_STREAM, which says the backend did not
 * process the request, may be tried again elsewhere.
 */
export class StreamReset extends GrpcError {
  constructor(
    readonly rstCode: number,
    message: string,
  ) {
    super(statusFromRstCode(rstCode), message);
  }

  get retriable(): boolean {
    return this.rstCode === constants.NGHTTP2_REFUSED_STREAM;
  }
}
