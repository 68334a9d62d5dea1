import { SpanKind, type Span } from '@opentelemetry/api';
import type { BackendCall, Call, CallControl, Downstream, Handler, Headers } from '../call/call.js';
import { ForwardingDownstream } from '../call/forwarding-downstream.js';
import { httpStatusOf } from '../http/http-errors.js';
import type { FinishedCall } from '../call/observer.js';
import { statusCode, type GrpcError } from '../wire/status.js';
import { endSpan, type Tracing } from './tracing.js';

/**
 * The first stage when tracing is on: a server span per call, child of the caller's
 * traceparent, whose context the rest of the path (and the backend) sees as its parent.
 */
export class ServerSpans implements Handler {
  private readonly name: string | undefined;

  constructor(
    private readonly tracing: Tracing,
    private readonly next: Handler,
    /** An HTTP/JSON route: its span is named `GET /v1/items/{id}` and has HTTP's attributes too. */
    private readonly http: HttpSpanRoute | null = null,
  ) {
    this.name = http === null ? undefined : `${http.method} ${http.route}`;
  }

  handle(call: Call, downstream: Downstream): void {
    const span = this.tracing.startSpan(call.method, SpanKind.SERVER, call.metadata, this.name);
    // The next hops see corral's span as parent, and the sampling decision with it.
    this.tracing.inject(span, call.metadata);
    if (!span.isRecording()) return this.next.handle(call, downstream);
    if (this.http !== null) {
      span.setAttributes({ 'http.request.method': this.http.method, 'http.route': this.http.route, 'url.path': String(call.metadata['x-forwarded-path']) });
    }
    this.next.handle(call, new SpanDownstream(downstream, span, this.tracing, this.http !== null));
  }
}

/** The HTTP/JSON route a server span is for. */
export interface HttpSpanRoute {
  readonly method: string;
  /** Its path template, OpenTelemetry's http.route. */
  readonly route: string;
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
    private readonly http: boolean,
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
    let httpStatus = 0;
    if (this.http) {
      // A stream that fails after its answer started was answered 200 (and an error line).
      const written = (inner as Partial<FinishedCall>).http?.status ?? 0;
      httpStatus = written !== 0 ? written : httpStatusOf(error !== null ? error.code : statusCode(status?.['grpc-status']));
    }
    endSpan(span, status, error, httpStatus);
  }
}
