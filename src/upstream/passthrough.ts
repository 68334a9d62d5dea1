import type { Call, Downstream, Handler } from '../call.js';
import type { Metrics } from '../observe/metrics.js';
import { RetryingCall } from './retrying-call.js';
import type { Upstream } from './upstream.js';

/**
 * Forwards a call to the backend as it is, one backend stream per client stream:
 * request bytes flow as the client sends them, the response as the backend sends it,
 * with back-pressure both ways, and a client reset becomes a backend reset. This is
 * how client- and bidi-streaming calls are served: they are never collapsed.
 */
export class Passthrough implements Handler {
  constructor(
    private readonly upstream: Upstream,
    private readonly metrics: Metrics,
  ) {}

  handle(call: Call, downstream: Downstream): void {
    downstream.outcome = 'bypass';
    this.metrics.requests.bypass.inc();
    this.metrics.backendCalls.inc({ kind: 'bypass' });
    // A route with collapsing off hands whole requests here too.
    const forwarded =
      call.body !== null
        ? new RetryingCall(this.upstream, call.headers, downstream, this.metrics, call.body)
        : new RetryingCall(this.upstream, call.headers, downstream, this.metrics, null, call.head, call.source);
    downstream.watch(forwarded);
    forwarded.start();
  }
}
