import type { Handler } from '../call/call.js';
import type { OtelSettings } from '../config/otel.js';
import type { Origin } from '../upstream/origin.js';
import { ClientSpans } from './client-spans.js';
import { ServerSpans, type HttpSpanRoute } from './server-spans.js';
import { Tracing } from './tracing.js';

/** What the composition root needs of tracing; this module is imported only when tracing is on. */
export interface TracingStages {
  /** The first stage: a server span per call. */
  serverSpans(next: Handler): Handler;
  /** The same for an HTTP/JSON route, named and described as an HTTP server span. */
  httpServerSpans(next: Handler, route: HttpSpanRoute): Handler;
  /** Around a route's backend calls: a client span per call. */
  clientSpans(origin: Origin): Origin;
  shutdown(): Promise<void>;
}

export function startTracing(settings: OtelSettings): TracingStages {
  const tracing = new Tracing(settings);
  return {
    serverSpans: (next) => new ServerSpans(tracing, next),
    httpServerSpans: (next, route) => new ServerSpans(tracing, next, route),
    clientSpans: (origin) => new ClientSpans(tracing, origin),
    shutdown: () => tracing.shutdown(),
  };
}
