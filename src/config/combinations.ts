import { ConfigError } from '../spec/errors.js';
import type { ReadEnvironment } from './environment.js';

/**
 * The checks between variables, each valid on its own: what one allows another may rule
 * out (a minimum above its maximum, two ports the same, nothing to call).
 */
export function checkCombinations({ e, portName, shown }: ReadEnvironment): void {
  if (e.BACKEND_RECONNECT_MIN > e.BACKEND_RECONNECT_MAX) {
    throw new ConfigError(
      `invalid configuration: BACKEND_RECONNECT_MIN='${shown('BACKEND_RECONNECT_MIN')}' is above BACKEND_RECONNECT_MAX='${shown('BACKEND_RECONNECT_MAX')}'`,
    );
  }
  if (e.CONFIG_PATH === undefined && e.BACKEND_ADDRESS === undefined) {
    throw new ConfigError(
      'invalid configuration: BACKEND_ADDRESS is required: the host:port of the gRPC backend, e.g. 127.0.0.1:50051 (or CONFIG_PATH, a YAML file of routes and clusters)',
    );
  }
  const ports: Array<[string, number]> = [[portName, e.GRPC_PORT], ['METRICS_PORT', e.METRICS_PORT], ['ADMIN_PORT', e.ADMIN_PORT]];
  if (e.HTTP_PORT !== undefined) ports.push(['HTTP_PORT', e.HTTP_PORT]);
  for (const [i, [name, value]] of ports.entries()) {
    const same = ports.slice(i + 1).find(([, other]) => value !== 0 && other === value);
    if (same !== undefined) throw new ConfigError(`invalid configuration: ${name}=${value} and ${same[0]}=${same[1]} are the same port; give each its own`);
  }
  if (e.EJECTION_BASE_TIME > e.EJECTION_MAX_TIME) {
    throw new ConfigError(
      `invalid configuration: EJECTION_BASE_TIME='${shown('EJECTION_BASE_TIME')}' is above EJECTION_MAX_TIME='${shown('EJECTION_MAX_TIME')}'`,
    );
  }
}
