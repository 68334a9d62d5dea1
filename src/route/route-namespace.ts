import { createHash } from 'node:crypto';
import type { ClusterSpec } from '../discovery/cluster-types.js';
import type { RouteSpec } from './route-spec.js';

/**
 * The part of every cache key that names the route a call took: a hash of the route's
 * definition and its cluster's. Two sidecars with the same configuration agree on it (as
 * collapsing across a fleet needs), a reload that leaves a route as it was keeps its
 * cached answers, and a route or cluster that changes gets keys of its own, so no answer
 * outlives the definitions that produced it.
 */
export function routeNamespace(route: RouteSpec, cluster: ClusterSpec | undefined): string {
  // The name is only a label: renaming a route keeps its cached answers.
  return createHash('sha256').update(JSON.stringify({ route: { ...route, name: undefined }, cluster })).digest('base64url').slice(0, 22);
}
