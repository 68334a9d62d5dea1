import { collapsesNothing, collapsingLine, collapsingSummary } from './collapsing.js';
import type { Config } from '../config/config.js';
import { authenticatedRoutes } from '../config/topology.js';
import type { Logger } from '../log/logger.js';
import { BUILD, MIN_NODE, nodeIsSupported } from '../observe/build-info.js';
import { ConfigError } from '../spec/errors.js';
import type { Pipeline } from './pipeline.js';

/** The ports corral listens on (HTTP_PORT: null without the gateway). */
export interface Ports {
  grpcPort: number;
  httpPort: number | null;
  metricsPort: number;
  adminPort: number;
}

/** What start-up says once every port listens: where, what is collapsed and why, and what to fix. */
export function logStartUp(config: Config, pipeline: Pipeline, ports: Ports, logger: Logger): void {
  logger.info(
    {
      ...ports,
      version: BUILD.version,
      node: BUILD.node,
      // On GRPC_PORT and HTTP_PORT: cleartext, TLS, or mTLS (client certificates required).
      tls: config.tls === null ? 'off' : config.tls.clientCertificates ? 'mtls' : 'on',
      config: config.configPath ?? 'BACKEND_ADDRESS',
      routes: config.topology.routes.length,
      clusters: Object.keys(config.topology.clusters),
      cacheTtlMs: config.collapser.cacheTtlMs,
      retries: config.retry.retries,
      authenticated: authenticatedRoutes(config.topology),
    },
    'corral listening',
  );
  for (const warning of config.warnings) logger.warn(warning);
  logDescriptors(pipeline, logger);
  const collapsing = collapsingSummary(config, pipeline.declared);
  if (collapsesNothing(collapsing)) logger.warn(collapsingLine(collapsing));
  else logger.info(collapsing, collapsingLine(collapsing));
  if (!nodeIsSupported()) {
    logger.warn(
      { node: BUILD.node, supported: `>=${MIN_NODE.join('.')}` },
      'unsupported node: metadata values with leading or trailing spaces are dropped; run corral on Node 24',
    );
  }
}

/** What the http section's descriptors changed: gRPC methods declared reads, and annotations not served. */
export function logDescriptors(pipeline: Pipeline, logger: Logger): void {
  if (pipeline.api === null) return;
  for (const skipped of pipeline.api.skipped) logger.warn(`google.api.http binding not served: ${skipped}`);
  if (pipeline.declared === null || pipeline.declared.counts.described === 0) return;
  const { described, reads } = pipeline.declared.counts;
  logger.info(
    { described, reads },
    'descriptors loaded: of the gRPC methods they describe, those declared idempotency_level NO_SIDE_EFFECTS are collapsed',
  );
}

/** A port that cannot be bound is a configuration problem: it names the variable, not a stack. */
export async function bound(listening: Promise<number>, variable: string, port: number, host: string): Promise<number> {
  try {
    return await listening;
  } catch (err) {
    const code = (err as { code?: string }).code;
    const why: Record<string, string> = {
      EADDRINUSE: 'address already in use',
      EACCES: 'permission denied (ports below 1024 need privileges)',
      EADDRNOTAVAIL: `no such address on this host: ${host}`,
    };
    if (code === undefined || !(code in why)) throw err;
    throw new ConfigError(`${variable}=${port}: ${why[code]}`);
  }
}
