import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Context, type Link, type Span, type TextMapGetter, type TextMapSetter, type Tracer } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  TracerProvider,
  type Sampler,
} from '@opentelemetry/sdk-trace';
import type { Headers, Metadata } from '../call/call.js';
import { decodeGrpcMessage, statusCode, type GrpcError } from '../wire/status.js';
import type { OtelSettings } from '../config/otel.js';
import { BUILD } from '../observe/build-info.js';

/** The longest a stop waits for the last spans to reach the collector. */
const FLUSH_MS = 1000;

const metadataGetter: TextMapGetter<Metadata> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => carrier[key],
};
const metadataSetter: TextMapSetter<Metadata> = {
  set: (carrier, key, value) => {
    carrier[key] = value;
  },
};

/** The sampler OTEL_TRACES_SAMPLER names. */
function samplerOf(settings: OtelSettings): Sampler {
  const ratio = () => new TraceIdRatioBasedSampler(settings.ratio);
  switch (settings.sampler) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return ratio();
    case 'parentbased_always_on':
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: ratio() });
  }
}

/** A span's context as the W3C traceparent of a backend call gives it, for links. */
function linkTo(traceparent: string | null): Link | null {
  if (traceparent === null) return null;
  const parsed = trace.getSpanContext(new W3CTraceContextPropagator().extract(ROOT_CONTEXT, { traceparent }, metadataGetter));
  return parsed === undefined ? null : { context: parsed };
}

/**
 * OpenTelemetry tracing, set up from the standard OTEL_* variables (config/otel.ts):
 * spans go to an OTLP exporter over HTTP (which reads OTEL_EXPORTER_OTLP_ENDPOINT,
 * ..._HEADERS, ...), batched, sampled per OTEL_TRACES_SAMPLER; the resource from
 * OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES. corral makes a server span per call and a client span per
 * backend call (see ServerSpans and ClientSpans).
 */
export class Tracing {
  readonly tracer: Tracer;
  private readonly provider: TracerProvider;
  private readonly propagator = new W3CTraceContextPropagator();

  constructor(settings: OtelSettings) {
    const sampler = samplerOf(settings);
    const resource = resourceFromAttributes({ 'service.name': 'corral', 'service.version': BUILD.version }).merge(
      detectResources({ detectors: [envDetector] }),
    );
    this.provider = new TracerProvider({
      sampler,
      resource,
      spanProcessors: [
        new BatchSpanProcessor({ exporter: new OTLPTraceExporter(), ...settings.batch }),
      ],
    });
    this.tracer = this.provider.getTracer('corral', BUILD.version);
  }

  /**
   * Starts the span of a call to `method`, whose parent is the one in `metadata`'s
   * traceparent, if any. Attributes are set only on a span that records (one the sampler
   * kept): an unsampled call costs no more than the decision.
   */
  startSpan(method: string, kind: SpanKind, metadata: Metadata, name = method.slice(1)): Span {
    const parent = metadata.traceparent === undefined ? ROOT_CONTEXT : this.propagator.extract(ROOT_CONTEXT, metadata, metadataGetter);
    const span = this.tracer.startSpan(name, { kind }, parent);
    if (span.isRecording()) span.setAttributes(rpcAttributes(method));
    return span;
  }

  /** Puts `span`'s context in `metadata` (traceparent, tracestate): what the next hop receives. */
  inject(span: Span, metadata: Metadata): void {
    const context: Context = trace.setSpan(ROOT_CONTEXT, span);
    this.propagator.inject(context, metadata, metadataSetter);
  }

  /** Links `span` to the span of a backend call, given by the traceparent it was sent. */
  link(span: Span, traceparent: string | null): void {
    const link = linkTo(traceparent);
    if (link !== null) span.addLink(link);
  }

  /**
   * Sends what is buffered and stops; at shutdown. A collector that does not answer gets
   * FLUSH_MS, not the exporter's own timeout (10 s): a stopping sidecar must not wait on it.
   */
  async shutdown(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, FLUSH_MS)));
    await Promise.race([this.provider.shutdown(), late]);
    clearTimeout(timer);
  }
}

/** Ends `span` with the status of its call: the status fields that ended it, or its error. */
export function endSpan(span: Span, status: Headers | null, error: GrpcError | null, httpStatus = 0): void {
  const code = error !== null ? error.code : statusCode(status?.['grpc-status']);
  span.setAttribute('rpc.grpc.status_code', code);
  if (httpStatus !== 0) span.setAttribute('http.response.status_code', httpStatus);
  // An HTTP server span is an error only for a 5xx answer: a 4xx is the client's (OpenTelemetry's HTTP conventions).
  const failed = httpStatus !== 0 ? httpStatus >= 500 : code !== 0;
  if (failed) span.setStatus({ code: SpanStatusCode.ERROR, message: error !== null ? error.message : decodeGrpcMessage(status?.['grpc-message']) });
  span.end();
}

/** rpc.service and rpc.method of a full method name /pkg.Service/Method. */
export function rpcAttributes(method: string): Record<string, string> {
  const slash = method.lastIndexOf('/');
  return { 'rpc.system': 'grpc', 'rpc.service': method.slice(1, slash), 'rpc.method': method.slice(slash + 1) };
}

