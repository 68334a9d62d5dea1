import { ConfigError } from '../config/errors.js';
import type { Topology } from '../config/topology.js';
import { DescriptorError } from './descriptors.js';
import type { GatewayState } from './gateway.js';
import { HttpRouteTable, loadDescriptors } from './http-routes.js';

/** A configuration's HTTP routes resolved against its descriptors: what the gateway serves, less the routing's stages. */
export function gatewayRoutes(topology: Topology, source: string): Omit<GatewayState, 'handlers'> {
  const http = topology.http;
  if (http === null) throw new ConfigError(`${source}: HTTP_PORT is set but the file has no http section (routes and descriptors)`);
  try {
    const descriptors = loadDescriptors(http);
    return { table: HttpRouteTable.build(http, descriptors), registry: descriptors.registry, cors: http.cors };
  } catch (err) {
    if (err instanceof DescriptorError) throw new ConfigError(`${source}: ${err.message}`);
    throw err;
  }
}
