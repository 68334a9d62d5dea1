import type { Call, CallControl, Downstream, Handler, Headers, Outcome, RouteLabel } from '../call.js';
import type { GrpcError } from '../wire/status.js';

/** What a write's OK makes stale: cached answers and flights under way. */
export interface Invalidation {
  invalidate(prefixes: readonly string[]): void;
}

/**
 * The stage of a route with `invalidates`: when one of its calls ends OK, answers to the
 * methods under those prefixes are dropped before the client sees the OK, so a read made
 * after a write through the same corral is fresh.
 */
export class Invalidate implements Handler {
  constructor(
    private readonly prefixes: readonly string[],
    private readonly target: Invalidation,
    private readonly next: Handler,
  ) {}

  handle(call: Call, downstream: Downstream): void {
    this.next.handle(call, new InvalidatingDownstream(downstream, this.prefixes, this.target));
  }
}

/** A client end that notices an OK status on its way out; everything else passes to the real one. */
class InvalidatingDownstream implements Downstream {
  constructor(
    private readonly inner: Downstream,
    private readonly prefixes: readonly string[],
    private readonly target: Invalidation,
  ) {}

  get bufferedBytes(): number {
    return this.inner.bufferedBytes;
  }

  get open(): boolean {
    return this.inner.open;
  }

  get outcome(): Outcome {
    return this.inner.outcome;
  }

  set outcome(outcome: Outcome) {
    this.inner.outcome = outcome;
  }

  get route(): RouteLabel | null {
    return this.inner.route;
  }

  set route(route: RouteLabel | null) {
    this.inner.route = route;
  }

  onStart(control: CallControl): void {
    this.inner.onStart(control);
  }

  onHeaders(headers: Headers, endsResponse: boolean): void {
    if (endsResponse) this.ended(headers);
    this.inner.onHeaders(headers, endsResponse);
  }

  onData(chunk: Buffer): void {
    this.inner.onData(chunk);
  }

  onTrailers(trailers: Headers): void {
    this.ended(trailers);
    this.inner.onTrailers(trailers);
  }

  onError(error: GrpcError): void {
    this.inner.onError(error);
  }

  private ended(status: Headers): void {
    // The backend applied the write whether or not its client is still there.
    if (String(status['grpc-status']) === '0') this.target.invalidate(this.prefixes);
  }
}
