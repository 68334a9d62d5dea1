import type { CorsSpec, JsonAnswerSpec } from '../http/http-spec.js';
import { ConfigError } from '../spec/errors.js';
import type { Topology } from '../config/topology.js';
import { annotatedRoutes } from '../http/annotated-routes.js';
import { DescriptorError, Descriptors } from '../http/descriptors.js';
import { HttpRouteTable } from '../http/http-routes.js';

/** A configuration's `http` section made ready: its descriptors and the gateway's routes. */
export interface HttpApi {
  readonly descriptors: Descriptors;
  readonly table: HttpRouteTable;
  readonly cors: CorsSpec | null;
  readonly json: JsonAnswerSpec;
  /** google.api.http bindings not served, each with why: for the log. */
  readonly skipped: readonly string[];
}

/**
 * Loads the descriptors the topology's `http` section names and resolves its routes, the
 * YAML ones first (they win over an annotation with the same method and path); null when
 * the topology has no http section. Read at start and on SIGHUP, before the Pipeline.
 */
export async function loadHttpApi(topology: Topology, source: string): Promise<HttpApi | null> {
  const http = topology.http;
  if (http === null) return null;
  try {
    const descriptors = await Descriptors.load(http);
    const annotated = http.annotations === false ? { routes: [], skipped: [] } : annotatedRoutes(descriptors, http.annotations, topology);
    const table = HttpRouteTable.build([...http.routes, ...annotated.routes], descriptors);
    return { descriptors, table, cors: http.cors, json: http.json, skipped: annotated.skipped };
  } catch (err) {
    if (err instanceof DescriptorError) throw new ConfigError(`${source}: ${err.message}`);
    throw err;
  }
}

/** HTTP_PORT set: the file must have an http section. */
export function needsHttpSection(api: HttpApi | null, source: string): asserts api is HttpApi {
  if (api === null) throw new ConfigError(`${source}: HTTP_PORT is set but the file has no http section (routes and descriptors)`);
}
