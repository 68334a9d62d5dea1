import type { CallControl, Downstream, Headers, Outcome, ResponseSink, RouteLabel } from './call.js';
import type { GrpcError } from '../wire/status.js';

/**
 * A response sink that passes everything on to another. A stage that watches a call's
 * response (invalidation, tracing) wraps the sink in a subclass and overrides what it
 * watches; `ending` sees the status on its way out.
 */
export class ForwardingSink<S extends ResponseSink = ResponseSink> implements ResponseSink {
  constructor(protected readonly inner: S) {}

  onStart(control: CallControl): void {
    this.inner.onStart(control);
  }
  onHeaders(headers: Headers, endsResponse: boolean): void {
    if (endsResponse) this.ending(headers, null);
    this.inner.onHeaders(headers, endsResponse);
  }
  onData(chunk: Buffer): void {
    this.inner.onData(chunk);
  }
  onTrailers(trailers: Headers): void {
    this.ending(trailers, null);
    this.inner.onTrailers(trailers);
  }
  onError(error: GrpcError): void {
    this.ending(null, error);
    this.inner.onError(error);
  }

  /** The response is about to end with these status fields (trailers, or trailers-only headers), or with `error`. */
  protected ending(_status: Headers | null, _error: GrpcError | null): void {}
}

/** A client end that passes everything on to another: a ForwardingSink that is also the Downstream it wraps. */
export class ForwardingDownstream extends ForwardingSink<Downstream> implements Downstream {
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
  get collapseKey(): string | null {
    return this.inner.collapseKey;
  }
  set collapseKey(key: string | null) {
    this.inner.collapseKey = key;
  }
}
