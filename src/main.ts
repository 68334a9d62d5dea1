import { ResponseCache } from './collapse/cache.js';
import { ConfigError, LOG_LEVELS, checkAuthSecret, type Config } from './config/config.js';
import { TokenVerifier } from './auth/token-verifier.js';
import { AccessLog } from './observe/access-log.js';
import { AdminServer } from './admin/admin.js';
import { clustersView, configDump, flightsView, type AdminState } from './admin/admin-views.js';
import { combineObservers } from './observe/observers.js';
import { RegistryAgent } from './registry/agent.js';
import { CorsPolicy } from './http/cors.js';
import { HttpGateway, type GatewayState } from './http/gateway.js';
import { loadHttpApi, type HttpApi } from './runtime/http-api.js';
import { createLogger, type Logger } from './log/logger.js';
import { registerLiveGauges } from './admin/live-gauges.js';
import { Metrics, OTHER_METHOD } from './observe/metrics.js';
import { BUILD, MIN_NODE, nodeIsSupported } from './observe/build-info.js';
import { LearnedDescriptors } from './reflection/learned-reads.js';
import { Reflector } from './reflection/reflector.js';
import { Front } from './server/front.js';
import { Guard } from './server/guard.js';
import { EndpointPools } from './cluster/endpoint-pools.js';
import { authenticatedRoutes, loadTopology } from './config/topology.js';
import { Router } from './route/router.js';
import { MethodSet } from './collapse/method-set.js';
import { collapsesNothing, collapsingLine, collapsingSummary, misspelledMethods } from './admin/collapsing.js';
import { Pipeline, type PipelineContext } from './runtime/pipeline.js';
import { GrpcError, Status } from './wire/status.js';
import type { TracingStages } from './trace/index.js';

/** A running corral: the front, the router, the clusters and the admin server. */
export interface Corral {
  grpcPort: number;
  metricsPort: number;
  adminPort: number;
  logger: Logger;
  /**
   * Re-reads CONFIG_PATH (and the descriptors it names) and swaps routes and clusters
   * without dropping calls; a bad file keeps the old ones. Reloads run one after another.
   */
  reload(): Promise<void>;
  /** Graceful stop: not ready, GOAWAY to clients, calls under way finish within the grace period. */
  shutdown(): Promise<void>;
}

/** The composition root: builds each stage from the Config, front to upstream, and starts them. */
export async function startCorral(config: Config): Promise<Corral> {
  const logger = createLogger(config.logLevel);
  const metrics = new Metrics();
  const accessLog = openAccessLog(config.accessLog);
  // Loaded only when asked for: with tracing off, the OpenTelemetry SDK is not even in memory.
  const tracing = config.tracing === null ? null : await import('./trace/index.js').then((t) => t.startTracing(config.tracing!));
  const observer = accessLog === null ? metrics : combineObservers(metrics, accessLog);
  const { timeoutMs, ...poolOptions } = config.backend;
  const pools = new EndpointPools(poolOptions, logger);
  const cache =
    config.collapser.cacheMaxBytes > 0
      ? new ResponseCache({
          ttlMs: config.collapser.cacheTtlMs,
          maxBytes: config.collapser.cacheMaxBytes,
          maxEntryBytes: config.collapser.maxResponseBytes,
        })
      : null;
  const learned = config.collapser.reflection ? new LearnedDescriptors() : null;
  const context: PipelineContext = {
    pools,
    cache,
    logger,
    observer,
    verifier: config.jwtSecret === undefined ? null : new TokenVerifier({ secret: config.jwtSecret, ...config.jwtClaims }),
    bearerVerifier: config.jwtSecret === undefined ? null : new TokenVerifier({ secret: config.jwtSecret, ...config.jwtClaims, requireSession: false }),
    ejection: config.ejection,
    retry: config.retry,
    wrapOrigin: tracing === null ? null : (origin) => tracing.clientSpans(origin),
    learned,
    methods: {
      only: config.collapser.onlyMethods === undefined ? null : new MethodSet(config.collapser.onlyMethods),
      skip: config.collapser.skipMethods === undefined ? null : new MethodSet(config.collapser.skipMethods),
    },
    defaults: {
      timeoutMs,
      cacheTtlMs: config.collapser.cacheTtlMs,
      keyMetadata: config.collapser.keyMetadata,
      maxResponseBytes: config.collapser.maxResponseBytes,
      maxFollowers: config.collapser.maxFollowers,
      readYourWrites: config.collapser.readYourWrites,
    },
  };
  let generation = 0;
  const source = config.configPath ?? 'BACKEND_ADDRESS';
  const api = await loadHttpApi(config.topology, source);
  if (config.http !== null) needsHttpSection(api, source);
  let routing = new Pipeline(config.topology, context, null, api);
  // A mistyped method in a safety list would silently do nothing: refused, as start-up refuses a typo'd variable.
  const misspelled = misspelledMethods(config, routing.declared);
  if (misspelled.length > 0) throw new ConfigError(misspelled.join('; '));
  const reflector = learned === null ? null : new Reflector(learned, () => routing.clusters.endpoints(), logger);
  // Per-method series only for the methods the lists or the descriptors name: a bounded set.
  const { only, skip } = context.methods;
  metrics.methodLabel = (method) =>
    routing.declared?.has(method) || only?.methods.has(method) || skip?.methods.has(method) ? method : OTHER_METHOD;
  const router = new Router(routing.table);
  const front = new Front(
    new Guard(tracing === null ? router : tracing.serverSpans(router), logger),
    {
      host: config.listenHost,
      port: config.grpcPort,
      ...config.server,
      outcomeHeader: config.outcomeHeader,
    },
    observer,
    logger,
  );
  let draining = false;
  const agent = config.registry === null ? null : new RegistryAgent({ ...config.registry, version: BUILD.version }, logger);
  // Not being registered does not make this sidecar unready: /ready only says so.
  const readinessNotes = () => {
    const failing = routing.clusters.sourcesFailing();
    const sources = failing === null ? '' : `; endpoint sources failing, last lists kept: ${failing}`;
    return agent === null ? sources : `${sources}; registry: ${agent.state}${agent.lastError === null ? '' : ` (${agent.lastError})`}`;
  };
  const readiness = (): { ok: boolean; reason: string } => {
    if (draining) return { ok: false, reason: `draining${readinessNotes()}` };
    const asking = reflector?.firstAsks() ?? [];
    const why = routing.clusters.notReady() ?? (asking.length === 0 ? null : `asking ${asking.join(', ')} which methods are reads (server reflection)`);
    return why === null ? { ok: true, reason: `ready${readinessNotes()}` } : { ok: false, reason: `${why}${readinessNotes()}` };
  };
  if (agent !== null) {
    metrics.gaugeFrom('corral_registry_registered', '1 while this corral is registered in etcd (REGISTRY_*), DRAINING included', () =>
      agent.state === 'registered' || agent.state === 'draining' ? 1 : 0,
    );
  }
  if (accessLog !== null) {
    metrics.counterFrom('corral_access_log_dropped_total', 'Access log lines dropped because the destination fell 16 MiB behind', () => accessLog.dropped);
  }
  registerLiveGauges(metrics, {
    cache,
    pools,
    ready: () => readiness().ok,
    clusters: () => routing.clusters,
    callsInProgress: () => openCalls(),
  });
  const state: AdminState = { config, routing: () => routing, generation: () => generation, pools };
  const probes = new AdminServer({
    host: config.metricsHost,
    port: config.metricsPort,
    probes: { registry: metrics.registry, ready: readiness, adminAddress: `${config.adminHost}:${config.adminPort}` },
  });
  const admin = new AdminServer({
    host: config.adminHost,
    port: config.adminPort,
    admin: {
      views: {
        '/config_dump': { describe: 'the configuration in effect: environment and topology, defaults filled in, secrets redacted', read: () => configDump(state) },
        '/clusters': { describe: "each cluster, its resolver's health, and each endpoint's state", read: () => clustersView(state) },
        '/flights': { describe: 'flights under way: method, route, waiters, age', read: () => flightsView(state) },
      },
      logLevel: () => logger.level,
      setLogLevel: (level) => {
        if (!(LOG_LEVELS as readonly string[]).includes(level)) throw new Error(`expected level= one of ${LOG_LEVELS.join(', ')}`);
        logger.level = level;
        logger.info({ level }, 'log level changed');
        return level;
      },
    },
  });

  const gateway =
    config.http === null
      ? null
      : new HttpGateway(
          gatewayState(api!, routing, tracing),
          {
            host: config.listenHost,
            ...config.http,
            maxConnections: config.server.maxConnections,
            maxConcurrentStreams: config.server.maxConcurrentStreams,
            firstBytesTimeoutMs: FIRST_BYTES_TIMEOUT_MS,
          },
          logger,
          observer,
        );
  // The gRPC port's calls and the gateway's: what shutdown waits for, and corral_calls_in_progress.
  const openCalls = (): number => front.activeCalls + (gateway?.activeCalls ?? 0);

  routing.start();
  reflector?.start();
  const grpcPort = await bound(front.listen(), 'GRPC_PORT', config.grpcPort, config.listenHost);
  const httpPort = gateway === null ? null : await bound(gateway.listen(), 'HTTP_PORT', config.http!.port, config.listenHost);
  const metricsPort = await bound(probes.listen(), 'METRICS_PORT', config.metricsPort, config.metricsHost);
  const adminPort = await bound(admin.listen(), 'ADMIN_PORT', config.adminPort, config.adminHost);
  logger.info(
    {
      grpcPort,
      metricsPort,
      adminPort,
      httpPort,
      version: BUILD.version,
      node: BUILD.node,
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
  if (agent !== null) registerWhenReady(agent, () => readiness().ok && !draining);
  logDescriptors(api, routing, logger);
  const collapsing = collapsingSummary(config, routing.declared);
  if (collapsesNothing(collapsing)) logger.warn(collapsingLine(collapsing));
  else logger.info(collapsing, collapsingLine(collapsing));
  if (!nodeIsSupported()) {
    logger.warn(
      { node: BUILD.node, supported: `>=${MIN_NODE.join('.')}` },
      'unsupported node: metadata values with leading or trailing spaces are dropped; run corral on Node 24',
    );
  }

  const reloadNow = async (): Promise<void> => {
    if (config.configPath === undefined) {
      logger.info('SIGHUP: no CONFIG_PATH to reload');
      return;
    }
    let topology;
    let nextApi;
    try {
      topology = loadTopology(config.configPath);
      checkAuthSecret(topology, config.jwtSecret);
      nextApi = await loadHttpApi(topology, config.configPath);
      if (gateway !== null) needsHttpSection(nextApi, config.configPath);
    } catch (err) {
      logger.error({ err: (err as Error).message }, 'config reload failed: keeping the running config');
      return;
    }
    if (stopping !== null) return;
    const next = new Pipeline(topology, context, routing, nextApi);
    generation++;
    next.start();
    const previous = routing;
    routing = next;
    router.table = next.table;
    if (gateway !== null) gateway.state = gatewayState(nextApi!, next, tracing);
    logDescriptors(nextApi, next, logger);
    previous.stop();
    // A reload is when an operator expects corral to look again: every endpoint is asked anew.
    reflector?.refresh();
    logger.info(
      { generation, routes: topology.routes.length, clusters: Object.keys(topology.clusters), authenticated: authenticatedRoutes(topology) },
      'config reloaded',
    );
  };
  let reloads = Promise.resolve();
  const reload = (): Promise<void> =>
    (reloads = reloads.then(reloadNow).catch((err: unknown) => logger.error({ err: (err as Error).message }, 'config reload failed')));

  let stopping: Promise<void> | null = null;
  const shutdown = (): Promise<void> =>
    (stopping ??= (async () => {
      draining = true;
      // The drain notice goes out first, so callers move away during SHUTDOWN_DELAY.
      await agent?.drain();
      if (config.shutdownDelayMs > 0) {
        // Kubernetes removes the pod from Services asynchronously: keep serving what still arrives.
        logger.info({ delayMs: config.shutdownDelayMs }, 'not ready; serving on for SHUTDOWN_DELAY before draining');
        await new Promise((resolve) => setTimeout(resolve, config.shutdownDelayMs));
      }
      logger.info({ graceMs: config.shutdownGraceMs, calls: openCalls() }, 'draining');
      front.drain();
      gateway?.drain();
      await callsEnded(openCalls, config.shutdownGraceMs);
      const left = openCalls();
      if (left > 0) {
        logger.warn({ calls: left }, 'grace period over: ending the calls still open');
        const error = new GrpcError(
          Status.UNAVAILABLE,
          `corral shut down: the call was still open when SHUTDOWN_GRACE (${config.shutdownGraceMs}ms) ended`,
        );
        front.failOpenCalls(error);
        routing.abortFlights(error);
        // Let those statuses reach the clients before the connections go.
        await callsEnded(openCalls, STATUS_FLUSH_MS);
        front.destroy();
      }
      await gateway?.close();
      reflector?.stop();
      routing.stop();
      pools.destroy();
      cache?.close();
      accessLog?.close();
      await agent?.stop();
      await tracing?.shutdown();
      await admin.close();
      await probes.close();
      logger.info('stopped');
    })());

  return { grpcPort, metricsPort, adminPort, logger, reload, shutdown };
}

/** Registers once /ready would say ready, so callers find an instance that can serve. */
function registerWhenReady(agent: RegistryAgent, ready: () => boolean): void {
  const check = setInterval(() => {
    if (agent.state === 'stopped') clearInterval(check);
    else if (ready()) {
      clearInterval(check);
      agent.start();
    }
  }, 100);
  check.unref();
}

/** ACCESS_LOG's target, opened at start so that one corral cannot write is a configuration error. */
function openAccessLog(target: Config['accessLog']): AccessLog | null {
  if (target === null) return null;
  try {
    return new AccessLog(target);
  } catch (err) {
    throw new ConfigError(`invalid configuration: ACCESS_LOG='${target}': cannot write it: ${(err as Error).message}`);
  }
}

/** A port that cannot be bound is a configuration problem: it names the variable, not a stack. */
async function bound(listening: Promise<number>, variable: string, port: number, host: string): Promise<number> {
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

/** Waits until the front has no call open, or `ms` have passed. */
async function callsEnded(openCalls: () => number, ms: number): Promise<void> {
  const deadline = performance.now() + ms;
  while (openCalls() > 0 && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
}

/** How long a new gateway connection may stay silent: node's HTTP/1.1 headers timeout. */
const FIRST_BYTES_TIMEOUT_MS = 60_000;

/** How long statuses of calls ended at the end of the grace period may take to reach their clients. */
const STATUS_FLUSH_MS = 1000;

function needsHttpSection(api: HttpApi | null, source: string): asserts api is HttpApi {
  if (api === null) throw new ConfigError(`${source}: HTTP_PORT is set but the file has no http section (routes and descriptors)`);
}

/** The gateway's view of a configuration: its routes, the descriptors' types, each route's stages (traced when tracing is on). */
function gatewayState(api: HttpApi, routing: Pipeline, tracing: Pick<TracingStages, 'httpServerSpans'> | null): GatewayState {
  const handlers =
    tracing === null
      ? routing.httpHandlers
      : new Map(routing.httpRoutes.map(({ spec }) => [spec.name, tracing.httpServerSpans(routing.httpHandlers.get(spec.name)!, { method: spec.method, route: spec.path })]));
  return { table: api.table, registry: api.descriptors.registry, cors: new CorsPolicy(api.cors), json: api.json, handlers };
}

/** What the descriptors changed: gRPC methods no longer collapsed, and annotations not served. */
function logDescriptors(api: HttpApi | null, routing: Pipeline, logger: Logger): void {
  if (api === null) return;
  for (const skipped of api.skipped) logger.warn(`google.api.http binding not served: ${skipped}`);
  if (routing.declared === null || routing.declared.counts.described === 0) return;
  const { described, reads } = routing.declared.counts;
  logger.info(
    { described, reads },
    'descriptors loaded: of the gRPC methods they describe, those declared idempotency_level NO_SIDE_EFFECTS are collapsed',
  );
}
