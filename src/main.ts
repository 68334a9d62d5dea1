import { ResponseCache } from './collapse/cache.js';
import { Collapser } from './collapse/collapser.js';
import { KeyMaker } from './collapse/key.js';
import type { Config } from './config/config.js';
import { AdminServer } from './observe/admin.js';
import { createLogger, type Logger } from './observe/logger.js';
import { Metrics } from './observe/metrics.js';
import { Front } from './server/front.js';
import { Passthrough } from './upstream/passthrough.js';
import { SessionPool } from './upstream/session-pool.js';
import { GrpcError, Status } from './wire/status.js';

/** A running corral: the front, the collapser, the upstream pool and the admin server. */
export interface Corral {
  grpcPort: number;
  metricsPort: number;
  logger: Logger;
  /** Graceful stop: not ready, GOAWAY to clients, calls under way finish within the grace period. */
  shutdown(): Promise<void>;
}

/** The composition root: builds each stage from the Config, front to upstream, and starts them. */
export async function startCorral(config: Config): Promise<Corral> {
  const logger = createLogger(config.logLevel);
  const metrics = new Metrics();
  const pool = new SessionPool({ ...config.backend }, logger, metrics);
  const cache =
    config.collapser.cacheTtlMs > 0 && config.collapser.cacheMaxBytes > 0
      ? new ResponseCache({
          ttlMs: config.collapser.cacheTtlMs,
          maxBytes: config.collapser.cacheMaxBytes,
          maxEntryBytes: config.collapser.maxResponseBytes,
        })
      : null;
  const collapser = new Collapser(
    new Passthrough(pool, metrics),
    pool,
    new KeyMaker({ metadata: config.collapser.keyMetadata }),
    cache,
    {
      timeoutMs: config.backend.timeoutMs,
      maxResponseBytes: config.collapser.maxResponseBytes,
      maxFollowers: config.collapser.maxFollowers,
    },
    metrics,
  );
  metrics.gaugeFrom('corral_cache_entries', 'Responses in the cache', () => cache?.entries ?? 0);
  metrics.gaugeFrom('corral_cache_bytes', 'Bytes held by the cache', () => cache?.bytes ?? 0);

  const front = new Front(
    collapser,
    {
      host: config.listenHost,
      port: config.grpcPort,
      ...config.server,
    },
    metrics,
    logger,
  );
  metrics.gaugeFrom('corral_calls_in_progress', 'Client calls open on the front', () => front.activeCalls);
  let draining = false;
  const admin = new AdminServer({
    host: config.listenHost,
    port: config.metricsPort,
    registry: metrics.registry,
    ready: () => {
      if (draining) return { ok: false, reason: 'draining' };
      if (!pool.ready) return { ok: false, reason: `backend ${config.backend.address} not connected: ${pool.lastFailure || 'connecting'}` };
      return { ok: true, reason: 'ready' };
    },
  });

  pool.start();
  const grpcPort = await front.listen();
  const metricsPort = await admin.listen();
  logger.info(
    { grpcPort, metricsPort, backend: config.backend.address, cacheTtlMs: config.collapser.cacheTtlMs },
    'corral listening',
  );

  let stopping: Promise<void> | null = null;
  const shutdown = (): Promise<void> =>
    (stopping ??= (async () => {
      draining = true;
      logger.info({ graceMs: config.shutdownGraceMs, calls: front.activeCalls }, 'draining');
      front.drain();
      const deadline = performance.now() + config.shutdownGraceMs;
      while (front.activeCalls > 0 && performance.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const left = front.activeCalls;
      if (left > 0) {
        logger.warn({ calls: left }, 'grace period over: ending the calls still open');
        collapser.abortAll(new GrpcError(Status.UNAVAILABLE, 'corral shut down before the backend answered'));
        front.destroy();
      }
      pool.destroy();
      cache?.close();
      await admin.close();
      logger.info('stopped');
    })());

  return { grpcPort, metricsPort, logger, shutdown };
}
