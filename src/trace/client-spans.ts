import { SpanKind, type Span } from '@opentelemetry/api';
import type { Call, CallControl, Headers, ResponseSink } from '../call/call.js';
import { ForwardingSink } from '../call/forwarding-downstream.js';
import type { Origin } from '../upstream/origin.js';
import type { GrpcError } from '../wire/status.js';
import { endSpan, type Tracing } from './tracing.js';

/**
 * An Origin that wraps another with a client span per backend call (a flight's, or a
 * call passed through). Its context is the traceparent the backend receives, and what a
 * follower's or a cache hit's span links to.
 */
export class ClientSpans implements Origin {
  constructor(
    private readonly tracing: Tracing,
    private readonly inner: Origin,
  ) {}

  start(call: Call, sink: ResponseSink, key?: string): void {
    const span = this.tracing.startSpan(call.method, SpanKind.CLIENT, call.metadata);
    this.tracing.inject(span, call.metadata);
    this.inner.start(call, span.isRecording() ? new SpanSink(sink, span) : sink, key);
  }
}

/** Passes the response on and ends the span with its status and the endpoint that gave it. */
class SpanSink extends ForwardingSink {
  private control: CallControl | null = null;
  private ended = false;

  constructor(
    sink: ResponseSink,
    private readonly span: Span,
  ) {
    super(sink);
  }

  override onStart(control: CallControl): void {
    this.control = control;
    this.inner.onStart(control);
  }

  protected override ending(status: Headers | null, error: GrpcError | null): void {
    if (this.ended) return;
    this.ended = true;
    const backend = this.control?.backend;
    if (backend != null && backend.endpoint !== '') {
      const colon = backend.endpoint.lastIndexOf(':');
      this.span.setAttribute('server.address', backend.endpoint.slice(0, colon).replace(/^\[|\]$/g, ''));
      this.span.setAttribute('server.port', Number(backend.endpoint.slice(colon + 1)));
      this.span.setAttribute('corral.retries', backend.retries);
    }
    endSpan(this.span, status, error);
  }
}
