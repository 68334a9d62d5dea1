import type { OutgoingHttpHeaders } from 'node:http2';
import type { ResponseSink } from '../call.js';
import type { Metrics } from '../observe/metrics.js';
import type { Origin, OriginCall, RequestBody } from './origin.js';
import { RetryingCall } from './retrying-call.js';
import type { Upstream } from './upstream.js';

/** The default Origin: each call a RetryingCall over a route's Upstream (retries, ejection, session transfer). */
export class RetryingOrigin implements Origin {
  constructor(
    private readonly upstream: Upstream,
    private readonly metrics: Metrics,
  ) {}

  start(headers: OutgoingHttpHeaders, body: RequestBody, sink: ResponseSink): OriginCall {
    const call = Buffer.isBuffer(body)
      ? new RetryingCall(this.upstream, headers, sink, this.metrics, body)
      : new RetryingCall(this.upstream, headers, sink, this.metrics, null, body.head, body.source);
    call.start();
    return call;
  }
}
