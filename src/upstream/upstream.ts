import type { Readable } from 'node:stream';
import type { CallControl, Metadata, ResponseListener } from '../call/call.js';
import type { Endpoint } from '../discovery/endpoint.js';
import { GrpcError, statusFromRstCode } from '../wire/status.js';

/**
 * One attempt's backend call, as the call above it steers it: the request goes in (whole,
 * or piped from the client's stream), the response comes out to the ResponseListener
 * given when it was opened. The transport (node:http2) stays behind it.
 */
export interface BackendExchange extends CallControl {
  /** Sends the whole request and half-closes. */
  send(body: Buffer): void;
  /** Sends what was read of a streaming request, then the rest of `source` as it comes. */
  pipeFrom(head: readonly Buffer[], source: Readable): void;
  /** Stops reading `source` (another attempt takes it over). */
  unpipe(source: Readable): void;
  /** For a streaming request: bytes beyond the ones read before it was known to stream went out. */
  readonly sentFromSource: boolean;
}

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
  /**
   * Opens a backend call to a picked endpoint, its response going to `listener`; throws a
   * GrpcError when it cannot now. `streaming`: the request may still be open when the call
   * is cancelled (the backend must then see a reset, never a half-close).
   */
  request(endpoint: Endpoint, headers: Metadata, listener: ResponseListener, streaming: boolean): BackendExchange;
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

/** HTTP/2's REFUSED_STREAM error code: the peer did not process the stream. */
const REFUSED_STREAM = 0x7;

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
    return this.rstCode === REFUSED_STREAM;
  }
}
