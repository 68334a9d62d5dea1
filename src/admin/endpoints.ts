import type { Registry } from 'prom-client';
import { LOG_LEVELS, type Config } from '../config/config.js';
import type { Logger } from '../log/logger.js';
import { AdminServer } from './admin.js';
import { parsePurge } from '../collapse/cache-purge.js';
import { clustersView, configDump, flightsView, type AdminState } from './admin-views.js';

/** The metrics port (probes and /metrics) and the admin port (views and /logging) of a configuration. */
export function adminServers(
  config: Config,
  parts: { registry: Registry; ready: () => { ok: boolean; reason: string }; state: AdminState; logger: Logger },
): { probes: AdminServer; admin: AdminServer } {
  const { state, logger } = parts;
  const probes: AdminServer = new AdminServer({
    host: config.metricsHost,
    port: config.metricsPort,
    probes: { registry: parts.registry, ready: parts.ready, adminAddress: (): string => admin.address },
  });
  const admin: AdminServer = new AdminServer({
    host: config.adminHost,
    port: config.adminPort,
    allowedHosts: new Set(config.adminAllowedHosts),
    admin: {
      views: {
        '/config_dump': { describe: 'the configuration in effect: environment and topology, defaults filled in, secrets redacted', read: () => configDump(state) },
        '/clusters': { describe: "each cluster, its resolver's health, and each endpoint's state", read: () => clustersView(state) },
        '/flights': { describe: 'flights under way: method, route, waiters, age', read: () => flightsView(state) },
      },
      logLevel: () => logger.level,
      probesAddress: (): string => probes.address,
      purge:
        state.purge === null
          ? null
          : async (params) => {
              const request = parsePurge(params);
              if (typeof request === 'string') return { status: 400, body: { error: request } };
              const purged = state.purge!.purge(request);
              logger.info({ purge: params.toString(), purged }, 'cache purged');
              if (state.fleetPurges === null) return { status: 200, body: { purged, soft: request.soft } };
              // The other members purge as they see it in etcd; they answer nobody.
              try {
                await state.fleetPurges.publish(params.toString());
                return { status: 200, body: { purged, soft: request.soft, fleet: 'published' } };
              } catch (err) {
                const error = `purged here, but not published to the fleet (etcd): ${(err as Error).message}`;
                logger.warn({ purge: params.toString(), err: (err as Error).message }, 'cache purge not published to the fleet');
                return { status: 502, body: { purged, soft: request.soft, error } };
              }
            },
      setLogLevel: (level) => {
        if (!(LOG_LEVELS as readonly string[]).includes(level)) throw new Error(`expected level= one of ${LOG_LEVELS.join(', ')}`);
        logger.level = level;
        logger.info({ level }, 'log level changed');
        return level;
      },
    },
  });
  return { probes, admin };
}
