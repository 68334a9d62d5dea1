import type { Metadata, ResponseListener } from '../call/call.js';
import type { Balancer } from '../balance/balancer.js';
import type { Cluster } from '../cluster/cluster.js';
import type { Endpoint } from '../discovery/endpoint.js';
import type { BackendExchange, Upstream } from '../upstream/upstream.js';
import { GrpcError, Status } from '../wire/status.js';

/**
 * A route's way to its cluster: picks an endpoint per attempt with the route's balancer,
 * opens the stream on that endpoint's pool, and reports failures to the cluster, which
 * ejects the endpoint. The balancer is told the cluster's pickable endpoints when they
 * changed since the last call (a new list, an ejection, a re-admission).
 */
export class RouteUpstream implements Upstream {
  private version = -1;

  constructor(
    readonly cluster: Cluster,
    private readonly balancer: Balancer,
  ) {}

  get clusterName(): string {
    return this.cluster.name;
  }

  pick(headers: Metadata, tried: ReadonlySet<string> | null): Endpoint {
    if (this.version !== this.cluster.version) {
      this.balancer.update(this.cluster.pickable);
      this.version = this.cluster.version;
    }
    const endpoint = this.balancer.pick(headers);
    if (tried === null || !tried.has(endpoint.id)) return endpoint;
    return this.untried(tried);
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
