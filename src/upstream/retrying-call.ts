import type { BackendCall, Call, CallControl, Headers, Metadata, ResponseListener, ResponseSink } from '../call/call.js';
import type { Endpoint } from '../discovery/endpoint.js';
import type { Observer } from '../call/observer.js';
import { FrameScanner } from '../wire/frame.js';
import { firstValue, requestHeaders } from '../wire/metadata.js';
import { GrpcError, Status, statusCode } from '../wire/status.js';
import { StreamReset, UnforwardableRequest, type BackendExchange } from '../transport/backend-exchange.js';
import type { Upstream } from '../cluster/cluster-upstream.js';

/** What a route allows after a backend failure. */
export interface RetryPolicy {
  /** Attempts after the first, each on an endpoint the call has not failed on (RETRY_COUNT). */
  readonly retries: number;
  /** An attempt without response headers after this long has failed (RETRY_TIMEOUT_MS); 0: no limit. */
  readonly attemptTimeoutMs: number;
  /** A single-message call is replayed on another endpoint even after its response started (session_transfer). */
  readonly sessionTransfer: boolean;
  /** What a failure that outlived the retries says first; BACKEND_UNAVAILABLE unless set. */
  readonly unavailable?: string;
}

/** MyGateway's words for a backend failure that outlived the retries; the cause follows them. */
export const BACKEND_UNAVAILABLE = 'backend service unavailable';

/** Response framing is only followed for session transfer, which must resume on a message boundary. */
const ANY_MESSAGE_SIZE = 2 ** 32;

/**
 * One call's way to the backend, across as many attempts as its route allows: each
 * attempt is a BackendExchange on an endpoint the call has not failed on yet.
 *
 * An attempt that fails (the stream could not open, the connection or stream broke, or
 * no response headers came within RETRY_TIMEOUT_MS) is reported to the upstream, which
 * ejects the endpoint, and the call is tried again elsewhere while that is safe:
 *
 * - nothing of the response has reached the receiver (response headers commit a call),
 * - and the whole request is still at hand: a single-message request always is; a
 *   stream only until bytes beyond those read before it was known to stream have gone.
 *
 * With session transfer on, a single-message call is replayed elsewhere even after its
 * response started, if it stopped on a message boundary: the receiver's stream goes on
 * with the new backend's messages and trailers (its headers were sent already).
 *
 * A failure that outlives the retries reaches the receiver as UNAVAILABLE "backend
 * service unavailable: <the last cause>" (a stream reset after the response started
 * keeps the status its RST_STREAM code maps to). A backend's own grpc-status is an
 * answer, not a failure: it is never retried, so no call that was answered is made twice.
 */
export class RetryingCall implements ResponseListener, CallControl, BackendCall {
  private exchange: BackendExchange | null = null;
  private picked: Endpoint | null = null;
  private attempts = 0;
  /** Ids of endpoints this call failed on; made at the first failure. */
  private tried: Set<string> | null = null;
  /** What the last failed attempt died of. */
  private lastFailure: GrpcError | null = null;
  /** Response headers went to the sink: the receiver has seen the response. */
  private committed = false;
  private done = false;
  /** Why the call was ended from outside (client gone, flight timeout, shutdown). */
  private abortReason: GrpcError | null = null;
  private timer: NodeJS.Timeout | null = null;
  /** Response framing so far, when a transfer may need to know it stopped between messages. */
  private frames: FrameScanner | null;
  /** The receiver asked to wait; a new attempt starts paused too. */
  private paused = false;
  /** It drew on the cluster's retry budget (it was retried), which it gives back when it ends. */
  private retried = false;
  private readonly headers: Metadata;

  constructor(
    private readonly upstream: Upstream,
    private readonly policy: RetryPolicy,
    private readonly call: Call,
    private readonly sink: ResponseSink,
    private readonly observer: Observer,
  ) {
    this.headers = requestHeaders(call.method, call.metadata);
    this.frames = !call.stream && policy.sessionTransfer ? new FrameScanner(ANY_MESSAGE_SIZE, true) : null;
  }

  get backend(): BackendCall {
    return this;
  }

  get endpoint(): string {
    return this.picked?.address ?? '';
  }

  get retries(): number {
    return this.attempts > 0 ? this.attempts - 1 : 0;
  }

  get traceparent(): string | null {
    return firstValue(this.headers.traceparent) ?? null;
  }

  /** Hands the sink this call's control, then makes the first attempt. */
  start(): void {
    this.upstream.retryBudget.started();
    this.sink.onStart(this);
    this.attempt();
  }

  /** Ends the call; the sink gets `reason`. */
  abort(reason: GrpcError): void {
    if (this.done || this.abortReason !== null) return;
    this.abortReason = reason;
    this.clearTimer();
    if (this.exchange !== null) this.exchange.abort(reason);
    else this.finish(reason);
  }

  pause(): void {
    this.paused = true;
    this.exchange?.pause();
  }

  resume(): void {
    this.paused = false;
    this.exchange?.resume();
  }

  onHeaders(headers: Headers, endsResponse: boolean): void {
    if (this.done) return;
    this.clearTimer();
    this.upstream.succeeded(this.picked!);
    if (endsResponse) this.ended(headers['grpc-status']);
    if (!this.committed) {
      this.committed = true;
      this.sink.onHeaders(headers, endsResponse);
    } else if (endsResponse) {
      // A transferred call's new backend answered at once with a status: the client has
      // its headers already, so the status goes out as trailers.
      this.sink.onTrailers(statusOf(headers));
    }
  }

  onData(chunk: Buffer): void {
    if (this.frames !== null) {
      try {
        this.frames.push(chunk);
      } catch {
        this.frames = null; // not gRPC framing the scanner follows: never resume it
      }
    }
    this.sink.onData(chunk);
  }

  onTrailers(trailers: Headers): void {
    if (this.done) return;
    this.ended(trailers['grpc-status']);
    this.sink.onTrailers(trailers);
  }

  onError(error: GrpcError): void {
    if (this.done) return;
    this.clearTimer();
    if (this.abortReason !== null) {
      this.finish(this.abortReason);
      return;
    }
    this.failed(error);
  }

  /** @internal No response headers within RETRY_TIMEOUT_MS. */
  attemptTimedOut(): void {
    this.timer = null;
    this.exchange?.abort(
      new GrpcError(
        Status.UNAVAILABLE,
        `backend ${this.picked!.address} sent no response headers within RETRY_TIMEOUT_MS (${this.policy.attemptTimeoutMs}ms)`,
      ),
    );
  }

  private attempt(): void {
    this.attempts++;
    let endpoint: Endpoint;
    try {
      endpoint = this.upstream.pick(this.headers, this.tried);
    } catch (err) {
      // After a failure, "nowhere left to go" is that failure's doing: report it.
      this.finish(this.lastFailure === null ? asGrpcError(err) : unavailable(this.policy, this.lastFailure));
      return;
    }
    this.picked = endpoint;
    let exchange: BackendExchange;
    try {
      exchange = this.upstream.request(endpoint, this.headers, this, this.call.stream);
    } catch (err) {
      // A request no endpoint could take is answered as it is; the endpoint is not to blame.
      if (err instanceof UnforwardableRequest) this.finish(err);
      else this.failed(asGrpcError(err));
      return;
    }
    this.exchange = exchange;
    if (this.paused) exchange.pause();
    const timeoutMs = this.policy.attemptTimeoutMs;
    if (timeoutMs > 0) this.timer = setTimeout(onAttemptTimeout, timeoutMs, this);
    const call = this.call;
    if (call.stream) exchange.pipeFrom(call.head, call.source);
    else exchange.send(call.body);
  }

  /**
   * The current attempt failed: eject its endpoint (unless the backend only reset this
   * stream), then try elsewhere or give up.
   */
  private failed(error: GrpcError): void {
    const endpoint = this.picked!;
    this.lastFailure = error;
    const reset = error instanceof StreamReset;
    if (!reset) this.upstream.failed(endpoint, error);
    // A reset is the backend's answer to this request: it keeps its own status (e.g.
    // INTERNAL), as any failure after response headers does; a lost backend is UNAVAILABLE either way.
    const answer = reset && !error.retriable;
    if (answer || !this.mayRetry()) {
      this.finish(answer || (this.committed && error.code !== Status.UNAVAILABLE) ? error : unavailable(this.policy, error));
      return;
    }
    if (!this.retried && !(this.retried = this.upstream.retryBudget.retry())) {
      this.observer.retryRefused(this.upstream.clusterName);
      this.finish(this.committed && error.code !== Status.UNAVAILABLE ? error : unavailable(this.policy, error, BUDGET_SPENT));
      return;
    }
    (this.tried ??= new Set()).add(endpoint.id);
    if (this.exchange !== null && this.call.stream) this.exchange.unpipe(this.call.source);
    this.exchange = null;
    if (this.committed) this.observer.sessionTransferred();
    else this.observer.retried();
    this.attempt();
  }

  private mayRetry(): boolean {
    if (this.attempts > this.policy.retries) return false;
    if (this.committed) return this.frames !== null && this.frames.atBoundary;
    return !this.call.stream || this.exchange === null || !this.exchange.sentFromSource;
  }

  private finish(error: GrpcError): void {
    this.ended(error.code);
    this.sink.onError(error);
  }

  private ended(status: unknown): void {
    if (this.done) return;
    this.done = true;
    this.upstream.retryBudget.ended(this.retried);
    this.observer.backendCallEnded(this.upstream.clusterName, statusCode(status));
  }

  private clearTimer(): void {
    if (this.timer === null) return;
    clearTimeout(this.timer);
    this.timer = null;
  }
}

function onAttemptTimeout(call: RetryingCall): void {
  call.attemptTimedOut();
}

function unavailable(policy: RetryPolicy, cause: GrpcError, note = ''): GrpcError {
  return new GrpcError(Status.UNAVAILABLE, `${policy.unavailable ?? BACKEND_UNAVAILABLE}: ${cause.message}${note}`);
}

const BUDGET_SPENT = " (not retried: a fifth of the cluster's calls are retries already, the retry budget)";

function asGrpcError(err: unknown): GrpcError {
  return err instanceof GrpcError
    ? err
    : new GrpcError(Status.INTERNAL, `could not forward the request: ${(err as Error).message}`);
}

/** The status part of a trailers-only response, to send as trailers. */
function statusOf(headers: Headers): Headers {
  const trailers: Headers = {};
  for (const name in headers) {
    if (name.charCodeAt(0) !== 0x3a /* ':' */ && name !== 'content-type') trailers[name] = headers[name];
  }
  return trailers;
}
