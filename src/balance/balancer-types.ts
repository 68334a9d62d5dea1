import { z } from 'zod';
import { PickerBalancer, ShardMapBalancer, type Balancer, type ClusterView } from './balancer.js';
import { LeastRequestPicker } from './least-request.js';
import { RingHashPicker } from './ring-hash.js';
import { RoundRobinPicker } from './round-robin.js';
import { metadataName, typeUnion } from '../spec/fields.js';

/**
 * One `type` of a route's balancer: the YAML fields it takes and the Balancer it makes.
 * A new balancer is a Balancer and an entry in BALANCER_TYPES.
 */
export interface BalancerType<Spec extends { type: string }> {
  readonly schema: z.ZodType<Spec>;
  create(spec: Spec, cluster: ClusterView): Balancer;
}

function balancerType<Spec extends { type: string }>(type: BalancerType<Spec>): BalancerType<Spec> {
  return type;
}

export const BALANCER_TYPES = {
  round_robin: balancerType({
    schema: z.strictObject({ type: z.literal('round_robin') }),
    create: () => new PickerBalancer((endpoints) => new RoundRobinPicker(endpoints)),
  }),
  least_request: balancerType({
    schema: z.strictObject({ type: z.literal('least_request') }),
    create: (_spec, cluster) => new PickerBalancer((endpoints) => new LeastRequestPicker(endpoints, (e) => cluster.load(e))),
  }),
  sticky_sessions: balancerType({
    schema: z.strictObject({ type: z.literal('sticky_sessions'), header: metadataName }),
    create: (spec) => new PickerBalancer((endpoints) => new RingHashPicker(endpoints, spec.header)),
  }),
};

type Types = typeof BALANCER_TYPES;
/** A route's balancer as configured, one of the registered types. */
export type BalancerSpec = { [K in keyof Types]: Types[K] extends BalancerType<infer S> ? S : never }[keyof Types];

export const balancerSchema = typeUnion<BalancerSpec>(BALANCER_TYPES);

/**
 * The balancer for a route of any registered type; a cluster with a shard map is balanced
 * by its map, whatever the route says (only a shard's brokers hold its data).
 */
export function createBalancer(spec: BalancerSpec, cluster: ClusterView, shardMap = false): Balancer {
  if (shardMap) return new ShardMapBalancer(cluster);
  return (BALANCER_TYPES[spec.type] as unknown as BalancerType<BalancerSpec>).create(spec, cluster);
}
