import type { Metadata } from '../call/call.js';
import type { Endpoint, Resolution } from '../discovery/endpoint.js';
import { EMPTY_PICKER, type Picker } from './picker.js';
import { ShardPicker } from './shard-picker.js';

/** What a balancer may read of the cluster: the calls open on each endpoint, and a way to ask for fresh data. */
export interface ClusterView {
  load(endpoint: Endpoint): number;
  refresh(): void;
}

/**
 * A route's balancer over its cluster, for as long as the route lives (grpc-js's load
 * balancer is the model): told every new set of endpoints the route may pick from, and
 * asked for one endpoint per attempt, synchronously. A balancer with state of its own
 * keeps it across updates.
 */
export interface Balancer {
  update(resolution: Resolution): void;
  /** Throws a GrpcError when it cannot choose. */
  pick(metadata: Metadata): Endpoint;
}

/** A balancer without state of its own: a new Picker for each set of endpoints. */
export class PickerBalancer implements Balancer {
  private picker: Picker = EMPTY_PICKER;

  constructor(
    private readonly build: (endpoints: readonly Endpoint[]) => Picker,
  ) {}

  update({ endpoints }: Resolution): void {
    this.picker = endpoints.length === 0 ? EMPTY_PICKER : this.build(endpoints);
  }

  pick(metadata: Metadata): Endpoint {
    return this.picker.pick(metadata);
  }
}

/**
 * The balancer of a cluster with a shard map: picks by the call's topic/partition/
 * to-leader metadata over the map (ShardPicker), and asks the cluster to refresh the map
 * when a call matches no shard.
 */
export class ShardMapBalancer implements Balancer {
  private picker: Picker = EMPTY_PICKER;

  constructor(private readonly cluster: ClusterView) {}

  update({ endpoints, shards }: Resolution): void {
    this.picker = new ShardPicker(shards ?? [], endpoints, () => this.cluster.refresh());
  }

  pick(metadata: Metadata): Endpoint {
    return this.picker.pick(metadata);
  }
}
