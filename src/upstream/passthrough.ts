import type { Call, Downstream, Handler } from '../call.js';
import type { Metrics } from '../observe/metrics.js';
import type { Origin } from './origin.js';

/**
 * Forwards a call to the backend as it is, one backend stream per client stream:
 * request bytes flow as the client sends them, the response as the backend sends it,
 * with back-pressure both ways, and a client reset becomes a backend reset. This is
 * how client- and bidi-streaming calls are served: they are never collapsed.
 */
export class Passthrough implements Handler {
  constructor(
    private readonly origin: Origin,
    private readonly metrics: Metrics,
  ) {}

  handle(call: Call, downstream: Downstream): void {
    downstream.outcome = 'bypass';
    this.metrics.requests.bypass.inc();
    this.metrics.backendCalls.inc({ kind: 'bypass' });
    // A route with collapsing off hands whole requests here too.
    const forwarded = this.origin.start(call.headers, call.body ?? { head: call.head, source: call.source }, downstream);
    downstream.watch(forwarded);
  }
}
