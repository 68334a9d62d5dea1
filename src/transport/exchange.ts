import { constants, type ClientHttp2Stream, type IncomingHttpHeaders } from 'node:http2';
import type { Readable } from 'node:stream';
import type { ResponseListener } from '../call/call.js';
import { halfClosedByClient } from '../wire/half-close.js';
import { restoreRepeatedFields } from '../wire/metadata.js';
import { GrpcError, Status } from '../wire/status.js';
import { StreamReset, type BackendExchange } from './backend-exchange.js';

/** The connection a backend stream runs on, as a failed attempt's status needs to describe it. */
export interface BackendConnection {
  /** host:port of the backend. */
  readonly address: string;
  /** What messages call it: `backend host:port`, or `fleet peer host:port`. */
  readonly name: string;
  /** Why corral closed it itself (a PING not acknowledged, a connect timeout); null when it did not. */
  readonly closedBy: string | null;
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
  'it closed the connection without an HTTP/2 SETTINGS frame: corral expects cleartext HTTP/2 (h2c), not HTTP/1.1 or TLS';

const kExchange = Symbol('corral.exchange');
type ExchangeStream = BackendStream & { [kExchange]: Exchange };
type SourceStream = Readable & { [kExchange]: Exchange };
/** Why a backend stream is reset once its response has ended before its request. */
const RESPONSE_ENDED = new GrpcError(Status.CANCELLED, 'the response ended before the request');

/**
 * One backend stream (one attempt of a call) and the sink its response flows into. It
 * turns every way the stream can end into exactly one of sink.onTrailers or
 * sink.onError, and every failure into a gRPC status: a refused connection is
 * UNAVAILABLE, a reset maps its RST_STREAM code as the gRPC spec says, an abort carries
 * its reason.
 */
export class Exchange implements BackendExchange {
  readonly backend = null;
  private settled = false;
  private error: Error | null = null;
  private abortReason: GrpcError | null = null;
  /** Trailers that arrived while response bytes were still buffered in the stream. */
  private pendingTrailers: IncomingHttpHeaders | null = null;
  /** For a streaming request: bytes beyond the ones read before it was known to stream went out. */
  sentFromSource = false;
  /** For a streaming request: the client's stream, until its half-close has been passed on. */
  private source: SourceStream | null = null;

  /**
   * Pass a controller, made for `stream`, when the request side may still be open at
   * cancellation (streams): aborting its signal makes node reset the stream with a bare
   * RST_STREAM(CANCEL), whereas stream.close() would half-close first, which a backend
   * reads as "the client finished". Without one (a whole request sent at once) abort()
   * resets the stream directly; that saves the signal plumbing node sets up per request,
   * which showed in profiles (docs/performance.md).
   */
  constructor(
    private readonly stream: BackendStream,
    private readonly sink: ResponseListener,
    private readonly controller: AbortController | null,
  ) {
    (stream as ExchangeStream)[kExchange] = this;
    stream.on('response', onResponse);
    stream.on('data', onData);
    stream.on('trailers', onTrailers);
    stream.on('end', onEnd);
    stream.on('error', onError);
    stream.on('close', onClose);
  }

  /** Sends the whole request and half-closes. */
  send(body: Buffer): void {
    this.stream.end(body);
  }

  /**
   * Sends what was read already, then streams the rest from the client with
   * back-pressure. The client's half-close is passed on only when it was one, while the
   * response is still under way: node also ends a server stream's readable side when
   * the client resets it, and passing that on would tell the backend that a request its
   * client never finished was complete. Such a request is cancelled instead (abort, or
   * the reset when the response ends).
   */
  pipeFrom(head: readonly Buffer[], source: Readable): void {
    for (const chunk of head) this.stream.write(chunk);
    const s = source as SourceStream;
    s[kExchange] = this;
    this.source = s;
    source.pipe(this.stream, { end: false });
    if (source.readableEnded) {
      this.sourceEnded(s);
    } else {
      source.once('end', onSourceEnd);
      source.once('data', onSourceData);
    }
  }

  /** Stops taking the client's stream, so another attempt can take it. */
  unpipe(source: Readable): void {
    this.source = null;
    source.unpipe(this.stream);
    source.removeListener('end', onSourceEnd);
    source.removeListener('data', onSourceData);
  }

  /** @internal */
  sourceEnded(source: SourceStream): void {
    if (this.source !== source) return;
    this.source = null;
    if (halfClosedByClient(source) && !this.settled && !this.stream.destroyed) this.stream.end();
  }

  /**
   * The response has ended while the client's stream is still open: the backend has
   * answered, so the rest of the request goes nowhere. The backend stream is reset
   * (grpc-go's client resets with NO_ERROR here; CANCEL says the same and cannot be
   * mistaken for a half-close), and what the client still sends is read and dropped.
   */
  private dropRequest(): void {
    const source = this.source;
    if (source === null) return;
    this.unpipe(source);
    source.resume();
    this.reset(RESPONSE_ENDED);
  }

  /** Ends the backend call with RST_STREAM(CANCEL); the sink gets `reason`. */
  abort(reason: GrpcError): void {
    if (this.settled || this.abortReason !== null) return;
    this.abortReason = reason;
    this.reset(reason);
  }

  /**
   * RST_STREAM(CANCEL) to the backend. With a controller (a request side that may be
   * open) through its signal, as a bare reset; stream.close() would half-close first.
   */
  private reset(reason: GrpcError): void {
    if (this.controller !== null) this.controller.abort(reason);
    else if (!this.stream.destroyed) this.stream.close(constants.NGHTTP2_CANCEL);
  }

  /** The receiver cannot take more now: stop reading from the backend. */
  pause(): void {
    this.stream.pause();
  }

  /** The receiver took what was buffered: read from the backend again. */
  resume(): void {
    this.stream.resume();
  }

  /** @internal */
  response(headers: IncomingHttpHeaders, flags: number, raw: string[] | undefined): void {
    // Once aborted, nothing more of this stream may reach the sink: it gets the abort reason.
    if (this.abortReason !== null) return;
    restoreRepeatedFields(headers, raw);
    const endsResponse = (flags & constants.NGHTTP2_FLAG_END_STREAM) !== 0;
    if (endsResponse) this.settled = true;
    this.sink.onHeaders(headers, endsResponse);
    if (endsResponse) this.dropRequest();
  }

  /** @internal */
  data(chunk: Buffer): void {
    if (this.abortReason !== null) return;
    this.sink.onData(chunk);
  }

  /**
   * @internal node emits 'trailers' as the HEADERS frame arrives, possibly before
   * DATA frames it still holds (the stream is paused for a slow receiver, or data
   * events are queued): they are handed on at 'end', after every byte before them.
   */
  trailers(trailers: IncomingHttpHeaders, raw: string[] | undefined): void {
    if (this.abortReason !== null) return;
    this.pendingTrailers = restoreRepeatedFields(trailers, raw);
  }

  /** @internal Every response byte has gone to the sink. */
  ended(): void {
    const trailers = this.pendingTrailers;
    if (trailers === null || this.settled || this.abortReason !== null) return;
    this.pendingTrailers = null;
    this.settled = true;
    this.sink.onTrailers(trailers);
    this.dropRequest();
  }

  /**
   * @internal A stage above threw while handling this response (a defect): the call ends
   * with INTERNAL and the backend stream is reset; the process and other calls go on.
   * Reported as a process warning (stderr), since no logger reaches this far down.
   */
  crashed(err: unknown): void {
    process.emitWarning(`corral failed on a call: ${(err as Error).stack ?? String(err)}`, 'CorralCallError');
    const first = !this.settled;
    this.settled = true;
    this.abortReason ??= new GrpcError(Status.INTERNAL, `corral failed on this call: ${(err as Error).message}`);
    this.reset(this.abortReason);
    if (!first) return;
    try {
      this.sink.onError(this.abortReason);
    } catch {
      // The stages above failed again on the error itself: nothing more can reach the client.
    }
  }

  /** @internal */
  failed(err: Error): void {
    this.error ??= err;
  }

  /** @internal */
  closed(): void {
    if (this.settled) return;
    this.settled = true;
    this.sink.onError(this.closeError());
  }

  private closeError(): GrpcError {
    if (this.abortReason !== null) return this.abortReason;
    const rstCode = this.stream.rstCode ?? 0;
    const connection = this.stream[kConnection];
    const name = connection?.name ?? 'backend unknown';
    const lost = connection?.lost === true;
    const err = this.error as (Error & { code?: string }) | null;
    if ((err !== null || lost) && connection?.closedBy != null) {
      return new GrpcError(Status.UNAVAILABLE, `${name} unavailable: ${connection.closedBy}`);
    }
    if ((err !== null || lost) && connection?.spokeHttp2 === false) {
      return new GrpcError(Status.UNAVAILABLE, `${name} unavailable: ${NOT_HTTP2}`);
    }
    if (err !== null && err.code !== 'ERR_HTTP2_STREAM_ERROR') {
      return new GrpcError(Status.UNAVAILABLE, `${name} unavailable: ${err.message}`);
    }
    if (rstCode === constants.NGHTTP2_CANCEL && lost) {
      // Not our cancel (that has an abortReason): node cancels every stream of a connection that died.
      return new GrpcError(Status.UNAVAILABLE, `${name} unavailable: the connection was lost`);
    }
    if (rstCode !== constants.NGHTTP2_NO_ERROR) {
      return new StreamReset(rstCode, `${name} reset the stream (RST_STREAM code ${rstCode})`);
    }
    return new GrpcError(Status.INTERNAL, `${name} ended the stream without a grpc-status`);
  }
}

// The response events run the stages above (flights, replies, metrics) from node's
// HTTP/2 callbacks: an exception there would end the process, so it ends this call instead.
function onResponse(this: ExchangeStream, headers: IncomingHttpHeaders, flags: number, raw?: string[]): void {
  try {
    this[kExchange].response(headers, flags, raw);
  } catch (err) {
    this[kExchange].crashed(err);
  }
}
function onData(this: ExchangeStream, chunk: Buffer): void {
  try {
    this[kExchange].data(chunk);
  } catch (err) {
    this[kExchange].crashed(err);
  }
}
function onTrailers(this: ExchangeStream, trailers: IncomingHttpHeaders, _flags: number, raw?: string[]): void {
  this[kExchange].trailers(trailers, raw);
}
function onEnd(this: ExchangeStream): void {
  try {
    this[kExchange].ended();
  } catch (err) {
    this[kExchange].crashed(err);
  }
}
function onError(this: ExchangeStream, err: Error): void {
  this[kExchange].failed(err);
}
function onSourceData(this: SourceStream): void {
  this[kExchange].sentFromSource = true;
}
function onSourceEnd(this: SourceStream): void {
  this[kExchange].sourceEnded(this);
}
function onClose(this: ExchangeStream): void {
  try {
    this[kExchange].closed();
  } catch (err) {
    this[kExchange].crashed(err);
  }
}
