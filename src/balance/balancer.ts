import type { Endpoint, Resolution } from '../discovery/endpoint.js';
import { LeastRequestPicker } from './least-request.js';
import { EMPTY_PICKER, type Picker } from './picker.js';
import { RingHashPicker } from './ring-hash.js';
import { RoundRobinPicker } from './round-robin.js';
import { ShardPicker } from './shard-picker.js';

export type BalancerSpec =
  | { type: 'round_robin' }
  | { type: 'least_request' }
  | { type: 'sticky_sessions'; header: string };

/** What a picker may read of the cluster: the calls open on each endpoint, and a way to ask for fresh data. */
export interface ClusterView {
  load(endpoint: Endpoint): number;
  refresh(): void;
}

/**
 * Builds the picker for a route over its cluster's current endpoints. A cluster with a
 * shard map picks by the call's topic/partition/to-leader metadata instead.
 */
export function buildPicker(spec: BalancerSpec, resolution: Resolution, cluster: ClusterView): Picker {
  const { endpoints } = resolution;
  if (resolution.shards !== undefined) return new ShardPicker(resolution.shards, endpoints, () => cluster.refresh());
  if (endpoints.length === 0) return EMPTY_PICKER;
  switch (spec.type) {
    case 'round_robin':
      return new RoundRobinPicker(endpoints);
    case 'least_request':
      return new LeastRequestPicker(endpoints, (e) => cluster.load(e));
    case 'sticky_sessions':
      return new RingHashPicker(endpoints, spec.header);
  }
}
