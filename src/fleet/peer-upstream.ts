import type { Metadata, ResponseListener } from '../call/call.js';
import type { Endpoint } from '../discovery/endpoint.js';
import type { SessionPool } from '../transport/session-pool.js';
import type { BackendExchange } from '../transport/backend-exchange.js';
import type { Upstream } from '../cluster/cluster-upstream.js';
import type { Member } from './rendezvous.js';
import { RetryBudget } from '../cluster/retry-budget.js';

/**
 * The way to one peer corral: its one endpoint and the session pool of its connection.
 * A forwarded call is never retried on the peer; the fleet falls back to the local
 * backend instead, and ejection does not apply (one endpoint, the member list decides).
 */
export class PeerUpstream implements Upstream {
  /** One label for every peer: member ids are random, so per-peer series would grow without bound. */
  readonly clusterName = 'fleet';
  /** Never drawn on: a forwarded call is not retried on the peer. */
  readonly retryBudget = new RetryBudget();
  private readonly endpoint: Endpoint;

  constructor(
    member: Member,
    private readonly pool: SessionPool,
  ) {
    this.endpoint = { id: member.id, address: member.address };
  }

  pick(): Endpoint {
    return this.endpoint;
  }

  request(_endpoint: Endpoint, headers: Metadata, listener: ResponseListener, streaming: boolean): BackendExchange {
    return this.pool.exchange(headers, listener, streaming);
  }

  succeeded(): void {}

  failed(): void {}
}
