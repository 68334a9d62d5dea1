import type { EndpointPools } from '../cluster/endpoint-pools.js';
import type { ResponseCache } from '../collapse/cache.js';
import type { Config } from '../config/config.js';
import type { HttpGateway } from '../http/gateway.js';
import type { Logger } from '../log/logger.js';
import type { AccessLog } from '../observe/access-log.js';
import type { Reflector } from '../reflection/reflector.js';
import type { RegistryAgent } from '../registry/agent.js';
import type { Front } from '../server/front.js';
import { GrpcError, Status } from '../wire/status.js';
import type { Pipeline } from './pipeline.js';
import type { Readiness } from './readiness.js';
import { callsEnded, type ShutdownStep } from './shutdown.js';

/** How long statuses of calls ended at the end of the grace period may take to reach their clients. */
const STATUS_FLUSH_MS = 1000;

/** What a stop ends, in the order it ends them. */
export interface Running {
  config: Config;
  logger: Logger;
  readiness: Readiness;
  agent: RegistryAgent | null;
  front: Front;
  gateway: HttpGateway | null;
  openCalls: () => number;
  pipeline: () => Pipeline;
  reflector: Reflector | null;
  fleet: { stop(): void } | null;
  pools: EndpointPools;
  cache: ResponseCache | null;
  accessLog: AccessLog | null;
  tracing: { shutdown(): Promise<void> } | null;
  /** The watch of live memory against OVERLOAD_HEAP_BYTES; null when off. */
  memory: { close(): void } | null;
  /** The admin and metrics servers: closed last, so /ready says "draining" to the end. */
  servers: ReadonlyArray<{ close(): Promise<void> }>;
}

/**
 * A graceful stop, step by step: say not ready, tell the registry, serve on for
 * SHUTDOWN_DELAY (Kubernetes removes the pod from Services asynchronously), GOAWAY,
 * let calls finish within SHUTDOWN_GRACE, end the ones left (their flights too) and let
 * those statuses reach the clients, then close everything, the admin ports last.
 */
export function shutdownSteps(r: Running): ShutdownStep[] {
  const { config, logger } = r;
  return [
    { name: 'not ready', run: () => r.readiness.drain() },
    // The drain notice goes out first, so callers move away during SHUTDOWN_DELAY.
    { name: 'registry drain notice', run: () => r.agent?.drain() },
    {
      name: 'shutdown delay',
      run: async () => {
        if (config.shutdownDelayMs <= 0) return;
        logger.info({ delayMs: config.shutdownDelayMs }, 'not ready; serving on for SHUTDOWN_DELAY before draining');
        await new Promise((resolve) => setTimeout(resolve, config.shutdownDelayMs));
      },
    },
    {
      name: 'GOAWAY',
      run: () => {
        logger.info({ graceMs: config.shutdownGraceMs, calls: r.openCalls() }, 'draining');
        r.front.drain();
        r.gateway?.drain();
      },
    },
    { name: 'grace', run: () => callsEnded(r.openCalls, config.shutdownGraceMs) },
    {
      name: 'fail open calls',
      run: async () => {
        const left = r.openCalls();
        if (left === 0) return;
        logger.warn({ calls: left }, 'grace period over: ending the calls still open');
        const error = new GrpcError(Status.UNAVAILABLE, `corral shut down: the call was still open when SHUTDOWN_GRACE (${config.shutdownGraceMs}ms) ended`);
        r.front.failOpenCalls(error);
        r.pipeline().abortFlights(error);
        // Let those statuses reach the clients before the connections go.
        await callsEnded(r.openCalls, STATUS_FLUSH_MS);
        r.front.destroy();
      },
    },
    { name: 'close the gateway', run: () => r.gateway?.close() },
    {
      name: 'stop the backends side',
      run: () => {
        r.reflector?.stop();
        r.fleet?.stop();
        r.pipeline().stop();
        r.pools.destroy();
        r.cache?.close();
        r.memory?.close();
        r.accessLog?.close();
      },
    },
    { name: 'unregister', run: () => r.agent?.stop() },
    { name: 'flush traces', run: () => r.tracing?.shutdown() },
    { name: 'close the admin ports', run: async () => void (await Promise.all(r.servers.map((s) => s.close()))) },
  ];
}
