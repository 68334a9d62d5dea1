import type { Metadata, ResponseListener } from '../call/call.js';
import type { Balancer } from '../balance/balancer.js';
import type { Cluster } from './cluster.js';
import type { Endpoint, Resolution } from '../discovery/endpoint.js';
import type { BackendExchange } from '../transport/backend-exchange.js';
import { GrpcError, Status } from '../wire/status.js';
import type { RetryBudget } from './retry-budget.js';

/**
 * Where a call's backend attempts go: a route's cluster, as the stages above it see it.
 * The flights and the passthrough only ask it for an endpoint, a stream to it, and tell
 * it how the attempt went; choosing, connecting and ejecting stay below.
 */
export interface Upstream {
  /** The cluster's name, for metrics. */
  readonly clusterName: string;
  /** How many of the cluster's calls may be retries at once. */
  readonly retryBudget: RetryBudget;
  /**
   * The endpoint for a call's next attempt, avoiding the ids in `tried` (where it failed
   * already); throws a GrpcError when there is none.
   */
  pick(headers: Metadata, tried: ReadonlySet<string> | null): Endpoint;
  /**
   * Opens a backend call to a picked endpoint, its response going to `listener`; throws a
   * GrpcError when it cannot now. `streaming`: the request may still be open when the call
   * is cancelled (the backend must then see a reset, never a half-close).
   */
  request(endpoint: Endpoint, headers: Metadata, listener: ResponseListener, streaming: boolean): BackendExchange;
  /** The endpoint answered: response headers arrived. */
  succeeded(endpoint: Endpoint): void;
  /** The endpoint failed an attempt: the connection or stream broke, or it did not answer in time. */
  failed(endpoint: Endpoint, error: GrpcError): void;
}


/**
 * A route's way to its cluster: picks an endpoint per attempt with the route's balancer,
 * opens the stream on that endpoint's pool, and reports failures to the cluster, which
 * ejects the endpoint. The balancer is told each new pickable set of the cluster as it
 * is made (a new list, an ejection, a re-admission), so its picker is built off the
 * call's path; once the route's configuration is replaced (close()), the first call after
 * a change tells it instead, for the flights and retries still under way there.
 */
export class ClusterUpstream implements Upstream {
  private version = -1;
  private unwatch: (() => void) | null;

  constructor(
    readonly cluster: Cluster,
    private readonly balancer: Balancer,
  ) {
    this.unwatch = cluster.watchPickable((pickable) => this.update(pickable, cluster.version));
    this.update(cluster.pickable, cluster.version);
  }

  /** The route's configuration was replaced: stop listening to a cluster the next one may keep. */
  close(): void {
    this.unwatch?.();
    this.unwatch = null;
  }

  get clusterName(): string {
    return this.cluster.name;
  }

  get retryBudget(): RetryBudget {
    return this.cluster.retryBudget;
  }

  pick(headers: Metadata, tried: ReadonlySet<string> | null): Endpoint {
    if (this.version !== this.cluster.version) this.update(this.cluster.pickable, this.cluster.version);
    const endpoint = this.balancer.pick(headers);
    if (tried === null || !tried.has(endpoint.id)) return endpoint;
    return this.untried(tried);
  }

  private update(pickable: Resolution, version: number): void {
    this.balancer.update(pickable);
    this.version = version;
  }

  request(endpoint: Endpoint, headers: Metadata, listener: ResponseListener, streaming: boolean): BackendExchange {
    return this.cluster.pool(endpoint).exchange(headers, listener, streaming);
  }

  succeeded(endpoint: Endpoint): void {
    this.cluster.succeeded(endpoint);
  }

  failed(endpoint: Endpoint, error: GrpcError): void {
    this.cluster.failed(endpoint, error);
  }

  /**
   * The balancer chose an endpoint this call failed on already: every endpoint is ejected,
   * or ejection left the choice where it was. Any endpoint not tried will do, except on a
   * shard map, where only the shard's brokers hold the data.
   */
  private untried(tried: ReadonlySet<string>): Endpoint {
    const { pickable, resolution } = this.cluster;
    if (pickable.shards === undefined) {
      for (const e of pickable.endpoints) if (!tried.has(e.id)) return e;
      for (const e of resolution.endpoints) if (!tried.has(e.id)) return e;
    }
    throw new GrpcError(Status.UNAVAILABLE, `no instance of cluster ${this.cluster.name} left to try`);
  }
}
