import type { Readable } from 'node:stream';
import type { CallControl } from '../call/call.js';
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
