import type { GrpcError } from '../wire/status.js';
import type { BackendCall, CallControl, Headers, ResponseSink } from './call.js';

/**
 * A response on its way to `sink` with its headers held back until a message or the
 * status arrives (many servers send headers before they do the work). Until then, an
 * ending the subclass can rescue is not passed on: nothing of it has reached the sink,
 * so something else may answer instead (a local call, a kept answer). Whoever receives
 * the response steers the call under way through it, the rescue's included.
 */
export abstract class HeldAnswer implements ResponseSink, CallControl {
  private control: CallControl | null = null;
  private answered = false;
  private held: Headers | null = null;
  /** Why the receiver ended the call, once it has. */
  protected abortedWith: GrpcError | null = null;

  constructor(protected readonly sink: ResponseSink) {}

  /** Whether this ending (a failure, or an answer's status) is taken over by rescue() instead of passed on. */
  protected abstract rescues(error: GrpcError | null, status: number): boolean;

  /** Answers instead; a call it starts reports to this object, which passes it on. */
  protected abstract rescue(error: GrpcError | null): void;

  get backend(): BackendCall | null {
    return this.control?.backend ?? null;
  }

  get waiting(): number | undefined {
    return this.sink.waiting;
  }

  get longLived(): boolean | undefined {
    return this.sink.longLived;
  }

  onStart(control: CallControl): void {
    const first = this.control === null;
    this.control = control;
    if (this.abortedWith !== null) control.abort(this.abortedWith);
    else if (first) this.sink.onStart(this);
  }

  onHeaders(headers: Headers, endsResponse: boolean): void {
    if (this.answered) return this.sink.onHeaders(headers, endsResponse);
    if (!endsResponse) {
      this.held = headers;
      return;
    }
    if (this.take(null, Number(headers['grpc-status']))) return;
    this.answered = true;
    this.sink.onHeaders(headers, true);
  }

  onData(chunk: Buffer): void {
    this.answer();
    this.sink.onData(chunk);
  }

  onTrailers(trailers: Headers): void {
    if (!this.answered && this.take(null, Number(trailers['grpc-status']))) return;
    this.answer();
    this.sink.onTrailers(trailers);
  }

  onError(error: GrpcError): void {
    if (!this.answered && this.take(error, error.code)) return;
    this.answer();
    this.sink.onError(error);
  }

  abort(reason: GrpcError): void {
    this.abortedWith = reason;
    this.control?.abort(reason);
  }

  pause(): void {
    this.control?.pause();
  }

  resume(): void {
    this.control?.resume();
  }

  /** One rescue at most: what it starts is passed on as it comes. */
  private take(error: GrpcError | null, status: number): boolean {
    if (!this.rescues(error, status)) return false;
    this.answered = true;
    this.held = null;
    this.rescue(error);
    return true;
  }

  /** The answer is coming: the headers held back go first. */
  private answer(): void {
    if (this.answered) return;
    this.answered = true;
    const headers = this.held;
    this.held = null;
    if (headers !== null) this.sink.onHeaders(headers, false);
  }
}
