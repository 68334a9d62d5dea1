import { MethodOptions_IdempotencyLevel } from '@bufbuild/protobuf/wkt';
import { ConfigError } from '../config/errors.js';
import type { Topology } from '../config/topology.js';
import { DescriptorError } from './descriptors.js';
import type { GatewayState } from './gateway.js';
import { HttpRouteTable, loadDescriptors } from './http-routes.js';

/**
 * A configuration's HTTP routes resolved against its descriptors: what the gateway serves,
 * less the routing's stages. Also settles each route's `collapse`, so call it before the
 * Routing of the same topology is built.
 */
export function gatewayRoutes(topology: Topology, source: string): Omit<GatewayState, 'handlers'> {
  const http = topology.http;
  if (http === null) throw new ConfigError(`${source}: HTTP_PORT is set but the file has no http section (routes and descriptors)`);
  try {
    const descriptors = loadDescriptors(http);
    const table = HttpRouteTable.build(http, descriptors);
    // Collapsed: what the route says; else GET routes, and methods declared free of side effects.
    for (const route of table.all()) {
      route.spec.collapse ??= route.spec.method === 'GET' || route.method.idempotency === MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS;
    }
    return { table, registry: descriptors.registry, cors: http.cors };
  } catch (err) {
    if (err instanceof DescriptorError) throw new ConfigError(`${source}: ${err.message}`);
    throw err;
  }
}
