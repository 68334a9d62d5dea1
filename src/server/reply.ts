import { constants, type OutgoingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import type { Downstream, DownstreamListener, Headers } from '../call.js';
import type { Metrics, Outcome } from '../observe/metrics.js';
import { GrpcError, Status, encodeGrpcMessage } from '../wire/status.js';

const kReply = Symbol('corral.reply');
type ReplyStream = ServerHttp2Stream & { [kReply]: Reply };

const RESPOND_ENDING = { endStream: true, sendDate: false } as const;
const RESPOND_OPEN = { waitForTrailers: true, sendDate: false } as const;

/** The client calls open, kept by the front for metrics and graceful shutdown. */
export type OpenCalls = Set<Reply>;

/** Trailers-only error response headers, as gRPC servers send them. */
function errorHeaders(error: GrpcError, httpStatus = 200): OutgoingHttpHeaders {
  return {
    [constants.HTTP2_HEADER_STATUS]: httpStatus,
    [constants.HTTP2_HEADER_CONTENT_TYPE]: 'application/grpc',
    'grpc-status': String(error.code),
    'grpc-message': encodeGrpcMessage(error.message),
  };
}

/**
 * Writes one call's response to its client stream: the front's Downstream. It keeps
 * the order headers, data, trailers; turns a failure into a gRPC status; and reports
 * when the client goes away, so the stage serving the call can stop working for it.
 *
 * Stream listeners are shared functions that find their Reply on the stream, so a call
 * allocates no closures.
 */
export class Reply implements Downstream {
  outcome: Outcome = 'rejected';
  private listener: DownstreamListener | null = null;
  private headersSent = false;
  private ended = false;
  private awaitingDrain = false;
  private trailers: Headers | null = null;
  private deadline: NodeJS.Timeout | null = null;
  private readonly startedAt = performance.now();

  constructor(
    readonly stream: ServerHttp2Stream,
    private readonly metrics: Metrics,
    private readonly openCalls: OpenCalls,
  ) {
    openCalls.add(this);
    (stream as ReplyStream)[kReply] = this;
    stream.on('close', onStreamClose);
    stream.on('error', ignoreStreamError);
    stream.on('wantTrailers', onWantTrailers);
  }

  get bufferedBytes(): number {
    return this.stream.writableLength;
  }

  get open(): boolean {
    return !this.ended && !this.stream.destroyed;
  }

  watch(listener: DownstreamListener): void {
    this.listener = listener;
  }

  /** Ends the call with DEADLINE_EXCEEDED once the client's grpc-timeout has passed. */
  expireAfter(ms: number): void {
    this.deadline = setTimeout(onDeadline, ms, this, ms);
  }

  onHeaders(headers: Headers, endsResponse: boolean): void {
    if (!this.open || this.headersSent) return;
    this.headersSent = true;
    if (endsResponse) this.ended = true;
    try {
      // No date of corral's own: the response headers are the backend's, as it sent them.
      this.stream.respond(headers, endsResponse ? RESPOND_ENDING : RESPOND_OPEN);
    } catch {
      // The stream was reset between our check and respond(); nothing is left to answer.
      this.ended = true;
    }
  }

  onData(chunk: Buffer): boolean {
    if (!this.open) return true;
    if (this.stream.write(chunk)) return true;
    if (!this.awaitingDrain) {
      this.awaitingDrain = true;
      this.stream.once('drain', onStreamDrain);
    }
    return false;
  }

  onTrailers(trailers: Headers): void {
    if (!this.open) return;
    this.ended = true;
    this.trailers = trailers;
    this.stream.end();
  }

  onError(error: GrpcError): void {
    if (!this.open) return;
    if (!this.headersSent) {
      this.onHeaders(errorHeaders(error), true);
    } else {
      this.onTrailers({ 'grpc-status': String(error.code), 'grpc-message': encodeGrpcMessage(error.message) });
    }
  }

  /** corral ends the call itself: the serving stage is told to stop, then the client gets the status. */
  fail(error: GrpcError): void {
    const listener = this.listener;
    this.listener = null;
    listener?.downstreamGone(this);
    this.onError(error);
  }

  /** Answers a request that is not gRPC at all with a plain HTTP status, as the gRPC spec asks. */
  reject(httpStatus: number, error: GrpcError, extra?: OutgoingHttpHeaders): void {
    this.onHeaders({ ...errorHeaders(error, httpStatus), ...extra }, true);
  }

  /** @internal */
  sendTrailers(): void {
    try {
      this.stream.sendTrailers(this.trailers ?? {});
    } catch {
      // reset by the client while the last bytes were flushing
    }
  }

  /** @internal */
  closed(): void {
    if (this.deadline !== null) clearTimeout(this.deadline);
    this.ended = true;
    this.openCalls.delete(this);
    // Stages count the calls they take; a call no stage took was refused (bad input, limits).
    if (this.outcome === 'rejected') this.metrics.requests.rejected.inc();
    this.metrics.requestSeconds[this.outcome].observe((performance.now() - this.startedAt) / 1000);
    const listener = this.listener;
    this.listener = null;
    listener?.downstreamGone(this);
  }

  /** @internal */
  drained(): void {
    this.awaitingDrain = false;
    this.listener?.downstreamDrained(this);
  }
}

function onStreamClose(this: ReplyStream): void {
  this[kReply].closed();
}

function onWantTrailers(this: ReplyStream): void {
  this[kReply].sendTrailers();
}

function onStreamDrain(this: ReplyStream): void {
  this[kReply].drained();
}

function onDeadline(reply: Reply, ms: number): void {
  reply.fail(new GrpcError(Status.DEADLINE_EXCEEDED, `deadline exceeded: the call's grpc-timeout of ${ms}ms passed`));
}

function ignoreStreamError(): void {
  // Stream errors (a client reset, a write after reset) end the stream; 'close' follows and cleans up.
}
