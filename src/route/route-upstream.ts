import type { ClientHttp2Stream, IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http2';
import { buildPicker, type BalancerSpec } from '../balance/balancer.js';
import type { Picker } from '../balance/picker.js';
import type { Cluster } from '../cluster/cluster.js';
import type { Upstream } from '../upstream/upstream.js';

/**
 * A route's way to its cluster: picks an endpoint per call with the route's balancer,
 * then opens the stream on that endpoint's pool. The picker is rebuilt only when the
 * cluster's endpoint list changed since the last call.
 */
export class RouteUpstream implements Upstream {
  private picker: Picker | null = null;
  private version = -1;

  constructor(
    readonly cluster: Cluster,
    private readonly balancer: BalancerSpec,
  ) {}

  request(headers: OutgoingHttpHeaders, signal?: AbortSignal): ClientHttp2Stream {
    if (this.version !== this.cluster.version || this.picker === null) {
      this.picker = buildPicker(this.balancer, this.cluster.resolution, this.cluster);
      this.version = this.cluster.version;
    }
    const endpoint = this.picker.pick(headers as IncomingHttpHeaders);
    return this.cluster.pool(endpoint).request(headers, signal);
  }
}
