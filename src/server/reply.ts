import { constants, type OutgoingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import type { BackendCall, CallControl, Downstream, Headers, Metadata, Outcome, RouteLabel } from '../call/call.js';
import type { FinishedCall } from '../call/observer.js';
import { GrpcError, Status, decodeGrpcMessage, encodeGrpcMessage, statusCode } from '../wire/status.js';
import { MAX_TIMER_MS } from '../wire/timeout.js';
import type { ClientConnection, OpenCall } from './client-connections.js';
import { SHED } from './overload.js';
import { RETRY_PUSHBACK, Shed } from '../wire/shed.js';

const kReply = Symbol('corral.reply');
type ReplyStream = ServerHttp2Stream & { [kReply]: Reply };

const RESPOND_ENDING = { endStream: true, sendDate: false } as const;
const RESPOND_OPEN = { waitForTrailers: true, sendDate: false } as const;

/** Told when a client call's stream has closed: the front, which counts open calls and reports ended ones. */
export interface ReplyOwner {
  replyClosed(reply: Reply): void;
  /** Response metadata naming the call's outcome (RESPONSE_OUTCOME_HEADER); null when off. */
  readonly outcomeHeader: string | null;
}

/** What the stage serving a call is told when its client goes away: nobody reads it (the call is over for that client). */
const CLIENT_GONE = new GrpcError(Status.CANCELLED, 'the client cancelled the call');

/** Trailers-only error response headers, as gRPC servers send them. */
function errorHeaders(error: GrpcError, httpStatus = 200): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = {
    [constants.HTTP2_HEADER_STATUS]: httpStatus,
    [constants.HTTP2_HEADER_CONTENT_TYPE]: 'application/grpc',
    'grpc-status': String(error.code),
    'grpc-message': encodeGrpcMessage(error.message),
  };
  if (error instanceof Shed) headers[RETRY_PUSHBACK] = String(error.pushbackMs);
  return headers;
}

/**
 * Writes one call's response to its client stream: the front's Downstream. It keeps
 * the order headers, data, trailers; turns a failure into a gRPC status; and steers the
 * call serving it through its control: pause while the client's buffer is full, resume
 * on drain, abort when the client goes away.
 *
 * Stream listeners are shared functions that find their Reply on the stream, so a call
 * allocates no closures.
 */
export class Reply implements Downstream, FinishedCall, OpenCall {
  outcome: Outcome = 'rejected';
  route: RouteLabel | null = null;
  collapseKey: string | null = null;
  readonly startedAt = performance.now();
  /** Counted by the intake as the client's frames arrive. */
  requestBytes = 0;
  /** Request bytes corral holds for this call until it ends (counted against MAX_REQUEST_BUFFER_BYTES). */
  heldBytes = 0;
  /** The client connection it came on, which is not idle while the call is open. */
  connection: ClientConnection | null = null;
  responseBytes = 0;
  /** Steers the call serving this one until the client is gone. */
  private control: CallControl | null = null;
  /** The call that served this one, kept for what observers read at the end. */
  private servedBy: CallControl | null = null;
  /** The headers or trailers that carried the status to the client. */
  private statusFields: Headers | null = null;
  private headersSent = false;
  private ended = false;
  private awaitingDrain = false;
  private trailers: Headers | null = null;
  private deadline: NodeJS.Timeout | null = null;

  constructor(
    readonly stream: ServerHttp2Stream,
    private readonly owner: ReplyOwner,
    readonly method: string,
    /** The request's metadata, read for its traceparent once the call ended. */
    private readonly metadata: Metadata,
  ) {
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

  onStart(control: CallControl): void {
    this.control = control;
    this.servedBy = control;
  }

  get traceparent(): string | string[] | undefined {
    return this.metadata.traceparent;
  }

  get backend(): BackendCall | null {
    return this.servedBy?.backend ?? null;
  }

  /** The status the client got; CANCELLED when it went away before one. */
  get code(): number {
    return this.statusFields === null ? Status.CANCELLED : statusCode(this.statusFields['grpc-status']);
  }

  get message(): string {
    return this.statusFields === null ? 'the client cancelled the call' : decodeGrpcMessage(this.statusFields['grpc-message']);
  }

  /**
   * Ends the call with DEADLINE_EXCEEDED once the client's grpc-timeout has passed. A
   * deadline further off than a timer can hold (24.8 days) gets no timer here: the call
   * is as good as unbounded, and the backend still gets the client's grpc-timeout.
   */
  expireAfter(ms: number): void {
    if (ms <= MAX_TIMER_MS) this.deadline = setTimeout(onDeadline, ms, this, ms);
  }

  onHeaders(headers: Headers, endsResponse: boolean): void {
    if (!this.open || this.headersSent) return;
    this.headersSent = true;
    const outcomeHeader = this.owner.outcomeHeader;
    // A copy: the headers may be a recording's, shared by every caller of a flight.
    if (outcomeHeader !== null) headers = { ...headers, [outcomeHeader]: this.outcome };
    if (endsResponse) {
      this.ended = true;
      this.statusFields = headers;
    }
    try {
      // No date of corral's own: the response headers are the backend's, as it sent them.
      this.stream.respond(headers, endsResponse ? RESPOND_ENDING : RESPOND_OPEN);
    } catch {
      // The stream was reset between our check and respond(); nothing is left to answer.
      this.ended = true;
    }
  }

  onData(chunk: Buffer): void {
    if (!this.open) return;
    this.responseBytes += chunk.length;
    if (this.stream.write(chunk) || this.awaitingDrain) return;
    this.awaitingDrain = true;
    this.stream.once('drain', onStreamDrain);
    this.control?.pause();
  }

  onTrailers(trailers: Headers): void {
    if (!this.open) return;
    this.ended = true;
    this.trailers = trailers;
    this.statusFields = trailers;
    this.stream.end();
  }

  onError(error: GrpcError): void {
    if (!this.open) return;
    if (error instanceof Shed) this.outcome = 'shed';
    if (!this.headersSent) {
      this.onHeaders(errorHeaders(error), true);
    } else {
      this.onTrailers({ 'grpc-status': String(error.code), 'grpc-message': encodeGrpcMessage(error.message) });
    }
  }

  /** corral ends the call itself: the serving stage is told to stop, then the client gets the status. */
  fail(error: GrpcError): void {
    const control = this.control;
    this.control = null;
    control?.abort(error);
    this.onError(error);
  }

  wasShed = false;

  /** The process is at MAX_OPEN_CALLS and this call's connection holds the most: it ends to make room. */
  shed(): void {
    this.wasShed = true;
    this.fail(new GrpcError(Status.RESOURCE_EXHAUSTED, SHED));
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
    const control = this.control;
    this.control = null;
    control?.abort(CLIENT_GONE);
    // Gone before any stage took the call or corral answered it: not a refusal.
    if (this.outcome === 'rejected' && this.statusFields === null) this.outcome = 'cancelled';
    this.owner.replyClosed(this);
  }

  /** @internal */
  drained(): void {
    this.awaitingDrain = false;
    this.control?.resume();
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
  if (reply.outcome === 'rejected') reply.outcome = 'deadline';
  reply.fail(new GrpcError(Status.DEADLINE_EXCEEDED, `deadline exceeded: the call's grpc-timeout of ${ms}ms passed`));
}

function ignoreStreamError(): void {
  // Stream errors (a client reset, a write after reset) end the stream; 'close' follows and cleans up.
}
