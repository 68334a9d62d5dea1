import { SpanKind, type Span } from '@opentelemetry/api';
import type { BackendCall, Call, CallControl, Downstream, Handler, Headers } from '../call.js';
import { ForwardingDownstream } from '../forwarding-downstream.js';
import type { GrpcError } from '../wire/status.js';
import { endSpan, type Tracing } from './tracing.js';

/**
 * The first stage when tracing is on: a server span per call, child of the caller's
 * traceparent, whose context the rest of the path (and the backend) sees as its parent.
 */
export class ServerSpans implements Handler {
  constructor(
    private readonly tracing: Tracing,
    private readonly next: Handler,
  ) {}

  handle(call: Call, downstream: Downstream): void {
    const span = this.tracing.startSpan(call.method, SpanKind.SERVER, call.metadata);
    // The next hops see corral's span as parent, and the sampling decision with it.
    this.tracing.inject(span, call.metadata);
    this.next.handle(call, span.isRecording() ? new SpanDownstream(downstream, span, this.tracing) : downstream);
  }
}

/**
 * A client end that ends its call's span with the status the client gets. It stands
 * between the Reply and the stage serving the call, as the Reply's control too, so it
 * also sees the client go away. A follower's or a cache hit's span is linked to the span
 * of the backend call that answered it.
 */
class SpanDownstream extends ForwardingDownstream implements CallControl {
  private control: CallControl | null = null;
  private ended = false;

  constructor(
    inner: Downstream,
    private readonly span: Span,
    private readonly tracing: Tracing,
  ) {
    super(inner);
  }

  get backend(): BackendCall | null {
    return this.control?.backend ?? null;
  }

  override onStart(control: CallControl): void {
    this.control = control;
    this.inner.onStart(this);
  }
  abort(reason: GrpcError): void {
    this.ending(null, reason);
    this.control?.abort(reason);
  }
  pause(): void {
    this.control?.pause();
  }
  resume(): void {
    this.control?.resume();
  }

  protected override ending(status: Headers | null, error: GrpcError | null): void {
    if (this.ended) return;
    this.ended = true;
    const { span, inner } = this;
    span.setAttribute('corral.outcome', inner.outcome);
    if (inner.route !== null) span.setAttribute('corral.route', inner.route.name);
    if (inner.outcome === 'follower' || inner.outcome === 'cache_hit') this.tracing.link(span, this.control?.backend?.traceparent ?? null);
    endSpan(span, status, error);
  }
}
