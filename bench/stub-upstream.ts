import { Exchange, type BackendStream } from '../src/transport/exchange.js';
import type { Endpoint } from '../src/discovery/endpoint.js';
import type { RetryPolicy } from '../src/upstream/retrying-call.js';
import type { Upstream } from '../src/cluster/cluster-upstream.js';
import { RetryBudget } from '../src/cluster/retry-budget.js';

const STUB_ENDPOINT: Endpoint = { id: 'stub', address: '127.0.0.1:1' };
export const NO_RETRY: RetryPolicy = { retries: 0, attemptTimeoutMs: 0, sessionTransfer: false };

/** An Upstream of one endpoint whose streams `open` makes: for micro benchmarks and unit tests. */
export function stubUpstream(open: () => unknown): Upstream & { failures: number } {
  return {
    clusterName: 'stub',
    retryBudget: new RetryBudget(),
    failures: 0,
    pick: () => STUB_ENDPOINT,
    request: (_endpoint, _headers, listener, streaming) => new Exchange(open() as BackendStream, listener, streaming ? new AbortController() : null),
    succeeded() {},
    failed() {
      this.failures++;
    },
  };
}
