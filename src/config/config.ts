import type { SessionPoolOptions } from '../transport/session-pool.js';
import { ConfigError } from '../spec/errors.js';
import { REDACTED } from '../spec/redact.js';
import { otelSettings, type OtelSettings } from './otel.js';
import { readEnvironment, type Env } from './environment.js';
import { checkCombinations } from './combinations.js';
import { authenticatedRoutes, loadTopology, singleBackendTopology, type Topology } from './topology.js';
import { backendTlsOf, etcdTlsOf, frontTlsOf, type FrontTls } from './tls-settings.js';
import type { ClientTls } from '../tls/client-tls.js';
import type { ConcurrencySpec } from '../admission/concurrency-spec.js';
import type { StreamJoin } from '../spec/stream-join.js';

export { ConfigError };
export { LOG_LEVELS } from './environment.js';
export { REDACTED } from '../spec/redact.js';

export interface Config {
  /** Things start-up should warn about: variables that look like corral's but are not. */
  warnings: string[];
  listenHost: string;
  /** Where /metrics, /health and /ready listen (METRICS_HOST, else LISTEN_HOST). */
  metricsHost: string;
  /** Where the admin endpoints (views, /logging) listen: ADMIN_HOST, 127.0.0.1 by default. */
  adminHost: string;
  adminPort: number;
  /** ADMIN_ALLOWED_HOSTS: Host names the admin port answers besides IP literals and localhost. */
  adminAllowedHosts: string[];
  grpcPort: number;
  metricsPort: number;
  logLevel: Env['LOG_LEVEL'];
  shutdownGraceMs: number;
  /** After SIGTERM: /ready is 503 at once, but calls are served as usual this long before draining. */
  shutdownDelayMs: number;
  server: {
    maxMessageBytes: number;
    maxConcurrentStreams: number;
    /** Per port: at the limit, the connection idle the longest is closed to make room. */
    maxConnections: number;
    /** MAX_CONNECTIONS_PER_PEER: per port and client address; 0: no limit. */
    maxConnectionsPerPeer: number;
    /** CLIENT_IDLE_TIMEOUT: a client connection with no call open this long is closed; 0: never. */
    idleTimeoutMs: number;
    /** How long a request may stay quiet before its end before it is taken for a stream. */
    halfCloseWaitMs: number;
    /** A new connection must finish its TLS handshake and send HTTP/2's preface and SETTINGS within this. */
    handshakeTimeoutMs: number;
  };
  /** What the whole process holds for its clients, both fronts together; past it new calls are refused. */
  overload: {
    maxOpenCalls: number;
    maxRequestBytes: number;
    /** OVERLOAD_HEAP_BYTES; undefined: half the container's memory limit, if any; 0: not watched. */
    heapBytes: number | undefined;
  };
  /** Connection settings of every endpoint's pool; the addresses come from the topology. */
  backend: Omit<SessionPoolOptions, 'address'> & {
    /** Deadline of each flight's backend call, unless its route sets timeout_ms. */
    timeoutMs: number;
  };
  /** CONFIG_PATH, re-read on SIGHUP; undefined when BACKEND_ADDRESS alone configures corral. */
  configPath: string | undefined;
  /** Routes and clusters: from CONFIG_PATH, or one static cluster at BACKEND_ADDRESS. */
  topology: Topology;
  /** Attempts on other endpoints after a backend failure, and how long each may wait for response headers. */
  retry: {
    retries: number;
    /** 0: an attempt waits as long as the call may. */
    attemptTimeoutMs: number;
  };
  /** Overload protection (docs/overload.md): each cluster's concurrency limit and what happens past it. */
  concurrency: {
    /** BACKEND_CONCURRENCY: a cluster's limit unless the routes file gives it one. */
    limit: ConcurrencySpec;
    /** BACKEND_QUEUE_TIMEOUT: the longest a call waits for a slot; 0: shed at once. */
    queueTimeoutMs: number;
    /** BACKEND_CONCURRENCY_FAIR_BY: a metadata name or `identity`; null: the slots are not shared out. */
    fairBy: string | null;
  };
  /** Outlier ejection: a failed endpoint sits out base x 2^(n-1) for its n-th ejection in a row, at most max. */
  ejection: {
    baseMs: number;
    maxMs: number;
  };
  /** HMAC secret for routes with `authorization: required`; undefined when unset. */
  jwtSecret: string | undefined;
  /** What a token must also say: its audience and issuer (unchecked when undefined), and the clock skew allowed for exp, nbf and iat. */
  jwtClaims: { audience: string | undefined; issuer: string | undefined; leewayMs: number };
  /** HTTP_PORT: where the HTTP/JSON gateway listens; null when off. */
  http: { port: number; maxBodyBytes: number } | null;
  /** ACCESS_LOG: a file path, 1 for stdout, or null when off. */
  accessLog: string | 1 | null;
  /** RESPONSE_OUTCOME_HEADER: response metadata telling how a call was served; null when off. */
  outcomeHeader: string | null;
  /** TLS_CERT_FILE, TLS_KEY_FILE, TLS_CLIENT_CA_FILE: TLS on the gRPC and HTTP ports; null: cleartext. */
  tls: FrontTls | null;
  /** Registration of this corral in etcd (REGISTRY_*); null when REGISTRY_ETCD_ENDPOINTS is unset. */
  registry: { endpoints: string[]; service: string; address: string; ttlSeconds: number; prefix: string; tls: ClientTls | null } | null;
  /** REGISTRY_ETCD_CA_FILE and its client certificate: every etcd connection over TLS; null: cleartext. */
  etcdTls: ClientTls | null;
  /** OpenTelemetry tracing from the OTEL_* variables; null when they do not ask for it. */
  tracing: OtelSettings | null;
  /** Every variable corral reads, with defaults filled in and secrets redacted: for /config_dump. */
  environment: Record<string, unknown>;
  collapser: {
    cacheTtlMs: number;
    cacheMaxBytes: number;
    maxResponseBytes: number;
    maxFollowers: number;
    /** When set, only these metadata names count in the key; otherwise all but transport and tracing headers. */
    keyMetadata: string[] | undefined;
    /** COLLAPSER_KEY_IGNORE_FIELDS: request fields left out of the key. */
    keyIgnoreFields: string[];
    /** COLLAPSER_METHODS: when set, only these methods (and service prefixes) are collapsed. */
    onlyMethods: string[] | undefined;
    /** COLLAPSER_SKIP_METHODS: never collapsed nor cached. */
    skipMethods: string[] | undefined;
    /** COLLAPSER_STREAM_JOIN: how callers join a server stream under way, by method or service prefix. */
    streamJoins: Array<[string, StreamJoin]>;
    /** COLLAPSER_READ_YOUR_WRITES: a call not collapsed that ends OK drops its service's cached answers. */
    readYourWrites: boolean;
    /** COLLAPSER_INVALIDATION_INTERVAL: past a burst, writes drop the same answers at most once per this long; 0: every write. */
    invalidationIntervalMs: number;
    /** COLLAPSER_FLEET: one backend call per key for every corral registered under REGISTRY_SERVICE. */
    fleet: boolean;
    /** The cache policy beyond the TTL: stale windows, negative caching, the cap on a backend's max-age. */
    cachePolicy: { staleWhileRevalidateMs: number; staleIfErrorMs: number; statusTtls: ReadonlyMap<number, number>; maxTtlMs: number };
    /** COLLAPSER_MAX_WAIT: a follower waits this long for its flight at most; 0: as long as it takes. */
    maxWaitMs: number;
    /** COLLAPSER_CACHE_MIN_USES: an answer is cached once its key was asked this many times (nginx's proxy_cache_min_uses). */
    cacheMinUses: number;
    /** COLLAPSER_REFLECTION: ask the backends which methods they declare NO_SIDE_EFFECTS (gRPC server reflection). */
    reflection: boolean;
  };
}

/** Reads and validates the environment; throws a ConfigError naming every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const read = readEnvironment(env);
  checkCombinations(read);
  return configOf(read.e, env, read.warnings, read.readable);
}

/** The Config the variables say, once each is valid and they agree. */
function configOf(e: Env, env: NodeJS.ProcessEnv, warnings: string[], readable: Record<string, unknown>): Config {
  const topology = e.CONFIG_PATH !== undefined ? loadTopology(e.CONFIG_PATH) : singleBackendTopology(e.BACKEND_ADDRESS!, backendTlsOf(e));
  const etcdTls = etcdTlsOf(e);
  const jwtSecret = e.JWT_SECRET === undefined || e.JWT_SECRET === '' ? undefined : e.JWT_SECRET;
  checkAuthSecret(topology, jwtSecret);
  return {
    warnings,
    configPath: e.CONFIG_PATH,
    topology,
    listenHost: e.LISTEN_HOST,
    metricsHost: e.METRICS_HOST ?? e.LISTEN_HOST,
    adminHost: e.ADMIN_HOST,
    adminPort: e.ADMIN_PORT,
    adminAllowedHosts: e.ADMIN_ALLOWED_HOSTS,
    grpcPort: e.GRPC_PORT,
    metricsPort: e.METRICS_PORT,
    logLevel: e.LOG_LEVEL,
    shutdownGraceMs: e.SHUTDOWN_GRACE,
    shutdownDelayMs: e.SHUTDOWN_DELAY,
    server: {
      maxMessageBytes: e.MAX_MESSAGE_BYTES,
      maxConcurrentStreams: e.MAX_CONCURRENT_STREAMS,
      maxConnections: e.MAX_CONNECTIONS,
      maxConnectionsPerPeer: e.MAX_CONNECTIONS_PER_PEER,
      idleTimeoutMs: e.CLIENT_IDLE_TIMEOUT,
      halfCloseWaitMs: e.COLLAPSER_HALF_CLOSE_WAIT,
      handshakeTimeoutMs: e.HANDSHAKE_TIMEOUT,
    },
    overload: { maxOpenCalls: e.MAX_OPEN_CALLS, maxRequestBytes: e.MAX_REQUEST_BUFFER_BYTES, heapBytes: e.OVERLOAD_HEAP_BYTES },
    backend: {
      timeoutMs: e.BACKEND_TIMEOUT,
      connectTimeoutMs: e.BACKEND_CONNECT_TIMEOUT,
      reconnectMinMs: e.BACKEND_RECONNECT_MIN,
      reconnectMaxMs: e.BACKEND_RECONNECT_MAX,
      keepaliveTimeMs: e.BACKEND_KEEPALIVE_TIME,
      keepaliveTimeoutMs: e.BACKEND_KEEPALIVE_TIMEOUT,
      maxSessions: e.BACKEND_MAX_SESSIONS,
      streamsPerSession: e.BACKEND_STREAMS_PER_SESSION,
    },
    retry: { retries: e.RETRY_COUNT, attemptTimeoutMs: e.RETRY_TIMEOUT_MS },
    concurrency: { limit: e.BACKEND_CONCURRENCY, queueTimeoutMs: e.BACKEND_QUEUE_TIMEOUT, fairBy: fairByOf(e, topology) },
    ejection: { baseMs: e.EJECTION_BASE_TIME, maxMs: e.EJECTION_MAX_TIME },
    jwtSecret,
    jwtClaims: { audience: e.JWT_AUDIENCE, issuer: e.JWT_ISSUER, leewayMs: e.JWT_LEEWAY },
    http: e.HTTP_PORT === undefined ? null : { port: e.HTTP_PORT, maxBodyBytes: e.HTTP_MAX_BODY_BYTES ?? e.MAX_MESSAGE_BYTES },
    accessLog: e.ACCESS_LOG === 'off' ? null : e.ACCESS_LOG === 'stdout' ? 1 : e.ACCESS_LOG,
    outcomeHeader: e.RESPONSE_OUTCOME_HEADER ?? null,
    tracing: otelSettings(env),
    registry: registryOf(e, etcdTls),
    etcdTls,
    tls: frontTlsOf(e),
    environment: { ...readable, JWT_SECRET: e.JWT_SECRET === undefined ? undefined : REDACTED },
    collapser: {
      cacheTtlMs: e.COLLAPSER_CACHE_DURATION,
      cacheMaxBytes: e.COLLAPSER_CACHE_MAX_BYTES,
      maxResponseBytes: e.COLLAPSER_MAX_RESPONSE_BYTES,
      maxFollowers: e.COLLAPSER_MAX_FOLLOWERS,
      keyMetadata: e.COLLAPSER_KEY_METADATA,
      keyIgnoreFields: e.COLLAPSER_KEY_IGNORE_FIELDS,
      onlyMethods: e.COLLAPSER_METHODS,
      streamJoins: e.COLLAPSER_STREAM_JOIN,
      skipMethods: e.COLLAPSER_SKIP_METHODS,
      readYourWrites: e.COLLAPSER_READ_YOUR_WRITES === 'on',
      invalidationIntervalMs: e.COLLAPSER_INVALIDATION_INTERVAL,
      reflection: e.COLLAPSER_REFLECTION === 'on',
      fleet: e.COLLAPSER_FLEET === 'on',
      cachePolicy: {
        staleWhileRevalidateMs: e.COLLAPSER_STALE_WHILE_REVALIDATE,
        staleIfErrorMs: e.COLLAPSER_STALE_IF_ERROR,
        statusTtls: e.COLLAPSER_CACHE_STATUSES,
        maxTtlMs: e.COLLAPSER_CACHE_MAX_TTL,
      },
      maxWaitMs: e.COLLAPSER_MAX_WAIT,
      cacheMinUses: e.COLLAPSER_CACHE_MIN_USES,
    },
  };
}

/**
 * BACKEND_CONCURRENCY_FAIR_BY. `identity` needs an identity corral verifies (a route that
 * checks tokens, or client certificates): anything else is what the client says it is.
 */
function fairByOf(e: Env, topology: Topology): string | null {
  const fairBy = e.BACKEND_CONCURRENCY_FAIR_BY ?? null;
  if (fairBy === 'identity' && authenticatedRoutes(topology).length === 0 && e.TLS_CLIENT_CA_FILE === undefined) {
    throw new ConfigError(
      'invalid configuration: BACKEND_CONCURRENCY_FAIR_BY=identity needs a verified identity: a route with authorization: required (JWT), or client certificates (TLS_CLIENT_CA_FILE); to share by what clients send, name the metadata instead',
    );
  }
  return fairBy;
}

/** REGISTRY_*: all of service and advertised address once etcd endpoints are given. */
function registryOf(e: Env, tls: ClientTls | null): Config['registry'] {
  if (e.REGISTRY_ETCD_ENDPOINTS === undefined) {
    // The fleet is the corrals registered under one service: it needs the registry.
    if (e.COLLAPSER_FLEET === 'on') {
      throw new ConfigError(
        'invalid configuration: COLLAPSER_FLEET=on needs the registry: set REGISTRY_ETCD_ENDPOINTS, REGISTRY_SERVICE and REGISTRY_ADVERTISE_ADDRESS',
      );
    }
    return null;
  }
  const missing = [
    e.REGISTRY_SERVICE === undefined ? 'REGISTRY_SERVICE (the name callers look this service up by)' : null,
    e.REGISTRY_ADVERTISE_ADDRESS === undefined ? "REGISTRY_ADVERTISE_ADDRESS (the host:port callers dial: this corral's gRPC port)" : null,
  ].filter((m) => m !== null);
  if (missing.length > 0) throw new ConfigError(`invalid configuration: REGISTRY_ETCD_ENDPOINTS is set, so ${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} required`);
  return {
    endpoints: e.REGISTRY_ETCD_ENDPOINTS,
    service: e.REGISTRY_SERVICE!,
    address: e.REGISTRY_ADVERTISE_ADDRESS!,
    ttlSeconds: Math.ceil(e.REGISTRY_TTL / 1000),
    prefix: e.REGISTRY_PREFIX,
    tls,
  };
}

/**
 * Routes that require authorization cannot run without the secret to check tokens with:
 * refusing to start is better than answering every such call UNAUTHENTICATED.
 */
export function checkAuthSecret(topology: Topology, jwtSecret: string | undefined): void {
  if (jwtSecret !== undefined) return;
  const guarded = authenticatedRoutes(topology);
  if (guarded.length > 0) {
    throw new ConfigError(
      `invalid configuration: JWT_SECRET is required: route${guarded.length > 1 ? 's' : ''} ${guarded.join(', ')} ha${guarded.length > 1 ? 've' : 's'} authorization: required (set JWT_SECRET to the HMAC secret the tokens are signed with)`,
    );
  }
}
