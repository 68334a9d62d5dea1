import { adminServers } from './admin/endpoints.js';
import { collapsedBesidesReflection, collapsingSummary, ignoredFieldsCheck, misspelledMethods } from './runtime/collapsing.js';
import { registerAdmissionGauges, registerLiveGauges } from './admin/live-gauges.js';
import { EndpointPools } from './cluster/endpoint-pools.js';
import { ResponseCache } from './collapse/cache.js';
import { OutageCover } from './collapse/outage-cover.js';
import { CachePurge, parsePurge } from './collapse/cache-purge.js';
import { PurgeChannel } from './registry/purge-channel.js';
import { PurgeLog } from './collapse/purge-log.js';
import { PacedInvalidation } from './collapse/paced-invalidation.js';
import { checkAuthSecret, type Config } from './config/config.js';
import { authenticatedRoutes, loadTopology } from './config/topology.js';
import { HttpGateway } from './http/gateway.js';
import { createLogger, type Logger } from './log/logger.js';
import { AccessLog } from './observe/access-log.js';
import { BUILD } from './observe/build-info.js';
import { Metrics, OTHER_METHOD } from './observe/metrics.js';
import { combineObservers } from './observe/observers.js';
import { LearnedDescriptors } from './reflection/learned-reads.js';
import { Reflector } from './reflection/reflector.js';
import { RegistryAgent } from './registry/agent.js';
import { Router } from './route/router.js';
import { fleetOf } from './runtime/fleet.js';
import { ForwardedCalls } from './fleet/forwarded-calls.js';
import { Generations } from './runtime/generations.js';
import { loadHttpApi, needsHttpSection } from './runtime/http-api.js';
import { Pipeline } from './runtime/pipeline.js';
import { pipelineContext } from './runtime/pipeline-context.js';
import { Readiness } from './runtime/readiness.js';
import { shutdownSteps } from './runtime/shutdown-steps.js';
import { Shutdown } from './runtime/shutdown.js';
import { bound, logDescriptors, logStartUp } from './runtime/start-up.js';
import { serverTlsOf, watchCertificates } from './runtime/tls.js';
import { Front } from './server/front.js';
import { Guard } from './server/guard.js';
import { Overload } from './server/overload.js';
import { MemoryWatch, defaultHeapBound } from './server/memory-watch.js';
import { ConfigError } from './spec/errors.js';
import type { Handler } from './call/call.js';
import type { HttpRoute } from './http/http-routes.js';

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

/** How long a new gateway connection may stay silent: node's HTTP/1.1 headers timeout. */
const FIRST_BYTES_TIMEOUT_MS = 60_000;

/** The composition root: builds each part from the Config, front to upstream, and starts them. */
export async function startCorral(config: Config): Promise<Corral> {
  const logger = createLogger(config.logLevel);
  const metrics = new Metrics();
  const accessLog = AccessLog.open(config.accessLog);
  // Loaded only when asked for: with tracing off, the OpenTelemetry SDK is not even in memory.
  const tracing = config.tracing === null ? null : await import('./trace/index.js').then((t) => t.startTracing(config.tracing!));
  const observer = accessLog === null ? metrics : combineObservers(metrics, accessLog);
  const { timeoutMs: _flightTimeout, ...poolOptions } = config.backend;
  const pools = new EndpointPools(poolOptions, logger);
  const { cacheMaxBytes, cacheTtlMs, maxResponseBytes } = config.collapser;
  const cache = cacheMaxBytes > 0 ? new ResponseCache({ ttlMs: cacheTtlMs, maxBytes: cacheMaxBytes, maxEntryBytes: maxResponseBytes }) : null;
  const learned = config.collapser.reflection ? new LearnedDescriptors() : null;
  const wrapOrigin = tracing === null ? null : tracing.clientSpans.bind(tracing);
  const agent = config.registry === null ? null : new RegistryAgent({ ...config.registry, version: BUILD.version }, logger);
  const tls = serverTlsOf(config.tls);
  const fleet = fleetOf(config, agent, { metrics, observer, logger, poolOptions }, tls);
  // Writes drop stale answers at most once per interval for the same prefixes, on the generation in effect.
  const intervalMs = config.collapser.invalidationIntervalMs;
  const writes = intervalMs > 0 ? new PacedInvalidation({ invalidate: (prefixes) => generations.now.invalidate(prefixes) }, intervalMs) : null;
  // Which clusters answers kept for errors could still stand in for: readiness during an outage.
  const outageCover = cache === null ? null : new OutageCover();
  // POST /cache/purge: drops (or marks stale) what it names; flights under way do not put it back.
  const purges = cache === null ? null : new PurgeLog();
  const purge = purges === null ? null : new CachePurge(cache, purges);
  const context = pipelineContext(config, { pools, cache, logger, observer, learned, wrapOrigin, fleet, writes, outageCover, purges });

  const source = config.configPath ?? 'BACKEND_ADDRESS';
  const api = await loadHttpApi(config.topology, source);
  if (config.http !== null) needsHttpSection(api, source);
  const first = new Pipeline(config.topology, context, null, api);
  // A mistyped method in a safety list would silently do nothing: refused, as a mistyped variable is.
  const misspelled = misspelledMethods(config, first.declared);
  if (misspelled.length > 0) throw new ConfigError(misspelled.join('; '));
  // A field path the descriptors of the file say is no field would silently key on what it names.
  const ignored = ignoredFieldsCheck(config, first.declared);
  if (ignored.error !== null) throw new ConfigError(ignored.error);
  if (ignored.warning !== null) logger.warn(ignored.warning);
  const current = (): Pipeline => generations.now;
  const besides = collapsedBesidesReflection(collapsingSummary(config, first.declared));
  const reflector = learned === null ? null : new Reflector(learned, () => current().clusters.endpoints(), logger, besides);
  // Per-method series only for the methods the lists or the descriptors name: a bounded set.
  const { only, skip } = context.methods;
  metrics.methodLabel = (m) => (current().declared?.has(m) || only?.methods.has(m) || skip?.methods.has(m) ? m : OTHER_METHOD);

  // One bound on what the process holds for clients, over both fronts.
  const overload = new Overload(config.overload);
  const heapBound = config.overload.heapBytes ?? defaultHeapBound();
  const memory = heapBound > 0 ? new MemoryWatch(overload, heapBound, logger) : null;
  const router = new Router(first.table);
  const routed = fleet === null ? router : new ForwardedCalls(fleet, router);
  const frontOptions = { host: config.listenHost, port: config.grpcPort, ...config.server, outcomeHeader: config.outcomeHeader, tls, fleet: fleet !== null };
  const front = new Front(new Guard(tracing === null ? routed : tracing.serverSpans(routed), logger), frontOptions, observer, logger, overload);
  const traceHttp =
    tracing === null ? null : (handler: Handler, { spec }: HttpRoute) => tracing.httpServerSpans(handler, { method: spec.method, route: spec.path });
  const { maxConnections, maxConnectionsPerPeer, idleTimeoutMs, maxConcurrentStreams } = config.server;
  const gateway =
    config.http === null
      ? null
      : new HttpGateway(
          first.gatewayState(traceHttp),
          { host: config.listenHost, ...config.http, maxConnections, maxConnectionsPerPeer, idleTimeoutMs, maxConcurrentStreams, firstBytesTimeoutMs: FIRST_BYTES_TIMEOUT_MS, tls },
          logger,
          observer,
          overload,
        );
  const openCalls = (): number => front.activeCalls + (gateway?.activeCalls ?? 0);

  const generations = new Generations(
    first,
    {
      load: async () => {
        if (config.configPath === undefined) {
          logger.info('SIGHUP: no CONFIG_PATH to reload');
          return null;
        }
        const topology = loadTopology(config.configPath);
        checkAuthSecret(topology, config.jwtSecret);
        const nextApi = await loadHttpApi(topology, config.configPath);
        if (gateway !== null) needsHttpSection(nextApi, config.configPath);
        return { topology, api: nextApi };
      },
      build: ({ topology, api: nextApi }, previous) => new Pipeline(topology, context, previous, nextApi),
      swap: (next) => {
        router.table = next.table;
        if (gateway !== null) gateway.state = next.gatewayState(traceHttp);
        logDescriptors(next, logger);
        // A reload is when an operator expects corral to look again: every endpoint is asked anew.
        reflector?.refresh();
        const { routes, clusters } = next.topology;
        const authenticated = authenticatedRoutes(next.topology);
        logger.info({ generation: generations.generation, routes: routes.length, clusters: Object.keys(clusters), authenticated }, 'config reloaded');
      },
      stopping: () => shutdown.started,
    },
    logger,
  );

  const readiness = new Readiness(() => current().clusters, reflector, agent, outageCover, logger);
  const ready = () => readiness.check();
  metrics.gaugeFrom(
    'corral_degraded',
    '1 while corral is ready only because answers kept for errors (stale-if-error) stand in for a backend that is not connected',
    () => (ready().degraded ? 1 : 0),
  );
  if (agent !== null) {
    const registered = () => (agent.state === 'registered' || agent.state === 'draining' ? 1 : 0);
    metrics.gaugeFrom('corral_registry_registered', '1 while this corral is registered in etcd (REGISTRY_*), DRAINING included', registered);
  }
  if (accessLog !== null) {
    metrics.counterFrom('corral_access_log_dropped_total', 'Access log lines dropped because the destination fell 16 MiB behind', () => accessLog.dropped);
  }
  registerLiveGauges(metrics, { cache, pools, ready: () => ready().ok, clusters: () => current().clusters, flights: () => current().flights(), openOutcomes: () => (gateway === null ? front.openOutcomes() : [...front.openOutcomes(), ...gateway.openOutcomes()]), admissions: context.admissions });
  if (writes !== null) {
    metrics.labelledCounterFrom(
      'corral_invalidations_total',
      'Writes that dropped cached answers: applied (at once, or at the end of COLLAPSER_INVALIDATION_INTERVAL for the writes folded into it), coalesced (a write folded into the next applied one)',
      ['how'],
      () => Object.entries(writes.counts).map(([how, n]) => [{ how }, n] as const),
    );
  }
  registerAdmissionGauges(metrics, { overload, memory, connections: { grpc: front.connections, http: gateway?.connections ?? null } });
  if (purge !== null) {
    metrics.labelledCounterFrom(
      'corral_cache_purged_total',
      'Cached answers purged (POST /cache/purge), by what the purge named (tag, method, key, all) and whether they were only marked stale (soft)',
      ['how', 'soft'],
      () => Object.entries(purge.counts).map(([kind, n]) => [{ how: kind.split(' ')[0]!, soft: String(kind.endsWith('soft')) }, n] as const),
    );
  }
  // With the fleet, a purge asked of one member reaches every member through etcd.
  const fleetPurges = fleet === null || purge === null ? null : new PurgeChannel({ ...config.registry!, self: agent!.instanceId }, logger);
  void fleetPurges?.start((query, origin) => {
    const request = parsePurge(new URLSearchParams(query));
    if (typeof request === 'string') logger.warn({ purge: query, origin, err: request }, 'a fleet purge that corral cannot apply: ignored');
    else logger.info({ purge: query, origin, purged: purge!.purge(request) }, 'cache purged for the fleet');
  });
  const state = { config, routing: current, generation: () => generations.generation, pools, fleet, admissions: context.admissions, purge, fleetPurges };
  const { probes, admin } = adminServers(config, { registry: metrics.registry, ready, state, logger });

  // Certificate files are watched; SIGHUP reads them too.
  const certificates = tls === null ? null : watchCertificates(config.tls!, tls, { grpc: front, http: gateway }, metrics, logger, [fleet]);

  first.start();
  readiness.start();
  reflector?.start();
  fleet?.start();
  const grpcPort = await bound(front.listen(), 'GRPC_PORT', config.grpcPort, config.listenHost);
  const httpPort = gateway === null ? null : await bound(gateway.listen(), 'HTTP_PORT', config.http!.port, config.listenHost);
  const metricsPort = await bound(probes.listen(), 'METRICS_PORT', config.metricsPort, config.metricsHost);
  const adminPort = await bound(admin.listen(), 'ADMIN_PORT', config.adminPort, config.adminHost);
  logStartUp(config, first, { grpcPort, httpPort, metricsPort, adminPort }, logger);
  agent?.startWhen(() => ready().ok);

  const fleetSide = fleet === null ? null : { stop: () => (fleet.stop(), fleetPurges?.stop()) };
  const running = { config, logger, readiness, agent, front, gateway, openCalls, pipeline: current, reflector, fleet: fleetSide, pools, cache, accessLog, tracing, memory };
  const shutdown = new Shutdown(shutdownSteps({ ...running, servers: [admin, probes] }), logger);
  return { grpcPort, metricsPort, adminPort, logger, reload: () => {
      certificates?.reload();
      return generations.reload();
    }, shutdown: () => shutdown.run() };
}
