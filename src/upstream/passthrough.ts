import type { Call, Downstream, Handler } from '../call.js';
import type { Metrics } from '../observe/metrics.js';
import { Exchange } from './exchange.js';
import type { SessionPool } from './session-pool.js';

/**
 * Forwards a call to the backend as it is, one backend stream per client stream:
 * request bytes flow as the client sends them, the response as the backend sends it,
 * with back-pressure both ways, and a client reset becomes a backend reset. This is
 * how client- and bidi-streaming calls are served: they are never collapsed.
 */
export class Passthrough implements Handler {
  constructor(
    private readonly pool: SessionPool,
    private readonly metrics: Metrics,
  ) {}

  handle(call: Call, downstream: Downstream): void {
    downstream.outcome = 'bypass';
    this.metrics.requests.bypass.inc();
    this.metrics.backendCalls.inc({ kind: 'bypass' });
    const exchange = Exchange.open(this.pool, call.headers, downstream, new AbortController());
    if (exchange === null) return;
    downstream.watch(exchange);
    exchange.pipeFrom(call.head, call.source);
  }
}
