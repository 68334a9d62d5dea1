import { z } from 'zod';
import type { SessionPoolOptions } from '../upstream/session-pool.js';
import { HOST_PORT } from '../spec/fields.js';
import { ConfigError } from '../spec/errors.js';
import { REDACTED } from '../spec/redact.js';
import { otelSettings, type OtelSettings } from './otel.js';
import { duration, integer, methodList, MiB, optionalWhole, path, port, statusTtls } from './env-fields.js';
import { ALSO_OURS, serviceLinkCollisions, unknownVariables } from './unknown-variables.js';
import { authenticatedRoutes, loadTopology, singleBackendTopology, type Topology } from './topology.js';
import { backendTlsOf, etcdTlsOf, frontTlsOf, type FrontTls } from './tls-settings.js';
import type { ClientTls } from '../tls/client-tls.js';

export { ConfigError };

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/**
 * Every environment variable corral reads, its default and its bounds: the one place
 * where defaults live. The README's configuration table mirrors this.
 */
const schema = z.object({
  LISTEN_HOST: z.string().default('0.0.0.0'),
  // Unset: LISTEN_HOST. The kubelet's probes and Prometheus reach a pod on its IP.
  METRICS_HOST: z.string().optional(),
  GRPC_PORT: port(50052),
  METRICS_PORT: port(2112),
  // The views and /logging: localhost only unless told otherwise (Envoy's advice for its admin port).
  ADMIN_HOST: z.string().trim().min(1, 'expected an address to bind, e.g. 127.0.0.1').default('127.0.0.1'),
  ADMIN_PORT: port(9901),
  // Names the admin port answers to besides IP addresses and localhost (DNS rebinding).
  ADMIN_ALLOWED_HOSTS: z
    .string()
    .optional()
    .transform((v) => (v === undefined ? [] : v.split(',').map((h) => h.trim().toLowerCase()).filter((h) => h !== ''))),
  CONFIG_PATH: z.string().trim().min(1, 'expected a path to a YAML file').optional(),
  BACKEND_ADDRESS: z
    .string()
    .optional()
    .refine((v) => v === undefined || HOST_PORT.test(v.trim()), {
      message: 'expected host:port, e.g. 127.0.0.1:50051 or [::1]:50051',
    })
    .transform((v) => v?.trim()),
  BACKEND_TIMEOUT: duration('10s', true),
  BACKEND_CONNECT_TIMEOUT: duration('10s', true),
  BACKEND_RECONNECT_MIN: duration('200ms', true),
  BACKEND_RECONNECT_MAX: duration('5s', true),
  BACKEND_KEEPALIVE_TIME: duration('5m', true),
  BACKEND_KEEPALIVE_TIMEOUT: duration('20s', true),
  BACKEND_MAX_SESSIONS: integer(16, 1, 1024, 'a session count'),
  BACKEND_STREAMS_PER_SESSION: integer(32, 1, 2 ** 31 - 1, 'a stream count'),
  COLLAPSER_CACHE_DURATION: duration('100ms'),
  COLLAPSER_STALE_WHILE_REVALIDATE: duration('0s'),
  COLLAPSER_STALE_IF_ERROR: duration('0s'),
  COLLAPSER_CACHE_STATUSES: statusTtls,
  COLLAPSER_CACHE_MAX_TTL: duration('5m'),
  COLLAPSER_CACHE_MIN_USES: integer(1, 1, 255, 'a count of uses'),
  COLLAPSER_MAX_WAIT: duration('0s'),
  COLLAPSER_CACHE_MAX_BYTES: integer(64 * MiB, 0, 2 ** 40, 'a size in bytes'),
  COLLAPSER_MAX_RESPONSE_BYTES: integer(4 * MiB, 1024, 2 ** 32, 'a size in bytes'),
  COLLAPSER_MAX_FOLLOWERS: integer(10_000, 1, 10_000_000, 'a count'),
  COLLAPSER_HALF_CLOSE_WAIT: duration('10ms', true),
  COLLAPSER_KEY_METADATA: z
    .string()
    .optional()
    .transform((v) =>
      v === undefined || v.trim() === ''
        ? undefined
        : v.split(',').map((name) => name.trim().toLowerCase()).filter((name) => name !== ''),
    ),
  COLLAPSER_METHODS: methodList,
  COLLAPSER_SKIP_METHODS: methodList,
  COLLAPSER_READ_YOUR_WRITES: z.enum(['on', 'off'], { error: 'expected on or off' }).default('on'),
  // Past a burst of 10, a service's (or a route's invalidates) answers are dropped at most once per this long; 0: every write.
  COLLAPSER_INVALIDATION_INTERVAL: duration('100ms'),
  COLLAPSER_REFLECTION: z.enum(['on', 'off'], { error: 'expected on or off' }).default('on'),
  COLLAPSER_FLEET: z.enum(['on', 'off'], { error: 'expected on or off' }).default('off'),
  // Over TLS, the SPIFFE ID fleet peers present: only the sidecars may hold it.
  COLLAPSER_FLEET_PEER_ID: z.string().trim().startsWith('spiffe://', 'expected a SPIFFE ID, spiffe://trust-domain/path').optional(),
  MAX_MESSAGE_BYTES: integer(4 * MiB, 0, 2 ** 31, 'a size in bytes'),
  MAX_CONCURRENT_STREAMS: integer(1000, 1, 2 ** 31 - 1, 'a stream count'),
  MAX_CONNECTIONS: integer(4096, 1, 1_000_000, 'a connection count'),
  MAX_CONNECTIONS_PER_PEER: integer(0, 0, 1_000_000, 'a connection count (0: no limit)'),
  // nginx's http2_idle_timeout; gRPC clients reconnect on their next call.
  CLIENT_IDLE_TIMEOUT: duration('3m'),
  MAX_OPEN_CALLS: integer(10_000, 1, 10_000_000, 'a call count'),
  MAX_REQUEST_BUFFER_BYTES: integer(64 * MiB, 1024, 2 ** 40, 'a size in bytes'),
  // Unset: half the container's memory limit, when there is one (server/memory-watch.ts).
  OVERLOAD_HEAP_BYTES: optionalWhole(2 ** 50, 'a size in bytes (0: not watched)'),
  // A connection that has not finished its TLS handshake and sent HTTP/2's preface by then is closed (grpc-go's ConnectionTimeout).
  HANDSHAKE_TIMEOUT: duration('10s', true),
  SHUTDOWN_GRACE: duration('20s'),
  SHUTDOWN_DELAY: duration('0s'),
  // MyGateway's names and units (whole milliseconds), so its deployments carry over.
  RETRY_COUNT: integer(2, 0, 10, 'a retry count'),
  RETRY_TIMEOUT_MS: integer(0, 0, 2 ** 31 - 1, 'a timeout in milliseconds (0: none)'),
  EJECTION_BASE_TIME: duration('30s', true),
  EJECTION_MAX_TIME: duration('5m', true),
  JWT_SECRET: z.string().optional(),
  JWT_AUDIENCE: z.string().trim().min(1, 'expected the audience tokens must name in aud').optional(),
  JWT_ISSUER: z.string().trim().min(1, 'expected the issuer tokens must name in iss').optional(),
  JWT_LEEWAY: duration('30s'),
  LOG_LEVEL: z.enum(LOG_LEVELS, { error: `expected one of ${LOG_LEVELS.join(', ')}` }).default('info'),
  REGISTRY_ETCD_ENDPOINTS: z
    .string()
    .optional()
    .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.split(',').map((e) => e.trim()).filter((e) => e !== '')))
    .refine((list) => list === undefined || list.every((e) => HOST_PORT.test(e)), 'expected host:port of etcd members, comma-separated'),
  REGISTRY_SERVICE: z.string().trim().regex(/^[A-Za-z0-9_.-]+$/, 'expected a service name of letters, digits and _ . -').optional(),
  REGISTRY_ADVERTISE_ADDRESS: z
    .string()
    .trim()
    .refine((v) => HOST_PORT.test(v), 'expected the host:port callers dial to reach this corral, e.g. 10.0.0.7:50052')
    .optional(),
  // etcd over TLS: the registry, the fleet's members and clusters of type etcd.
  REGISTRY_ETCD_CA_FILE: path,
  REGISTRY_ETCD_CERT_FILE: path,
  REGISTRY_ETCD_KEY_FILE: path,
  REGISTRY_TTL: duration('10s', true).refine((ms) => ms >= 2000, 'expected at least 2s'),
  REGISTRY_PREFIX: z.string().trim().startsWith('/', "expected a key prefix starting and ending with '/'").endsWith('/', "expected a key prefix starting and ending with '/'").default('/corral/v1/'),
  // TLS on the gRPC and HTTP ports; mTLS with a client CA (docs/tls.md).
  TLS_CERT_FILE: path,
  TLS_KEY_FILE: path,
  TLS_CLIENT_CA_FILE: path,
  // TLS to BACKEND_ADDRESS (with CONFIG_PATH: each cluster's tls).
  BACKEND_TLS: z.enum(['on', 'off'], { error: 'expected on or off' }).default('off'),
  BACKEND_TLS_CA_FILE: path,
  BACKEND_TLS_CERT_FILE: path,
  BACKEND_TLS_KEY_FILE: path,
  BACKEND_TLS_SERVER_NAME: z.string().trim().min(1, 'expected the name the backend certificate carries').optional(),
  // Unset: no HTTP gateway (a default would turn it on).
  HTTP_PORT: optionalWhole(65535, 'a TCP port (0 picks a free one)'),
  HTTP_MAX_BODY_BYTES: optionalWhole(2 ** 31, 'a size in bytes'),
  ACCESS_LOG: z.string().trim().min(1, 'expected off, stdout or a file path').default('off'),
  RESPONSE_OUTCOME_HEADER: z
    .string()
    .trim()
    .toLowerCase()
    .regex(/^[0-9a-z_.-]+$/, 'expected a metadata name in lower case, e.g. x-corral-outcome')
    .refine((n) => !n.startsWith('grpc-'), 'grpc- names are reserved by gRPC')
    .optional(),
});

type Env = z.output<typeof schema>;

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
    /** COLLAPSER_METHODS: when set, only these methods (and service prefixes) are collapsed. */
    onlyMethods: string[] | undefined;
    /** COLLAPSER_SKIP_METHODS: never collapsed nor cached. */
    skipMethods: string[] | undefined;
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
  const input: Record<string, string | undefined> = {};
  for (const name of Object.keys(schema.shape)) input[name] = env[name];
  // MyGateway's name for the listening port.
  const portName = env.GRPC_PORT === undefined && env.SERVICE_PORT_GRPC !== undefined ? 'SERVICE_PORT_GRPC' : 'GRPC_PORT';
  if (env.GRPC_PORT !== undefined && env.SERVICE_PORT_GRPC !== undefined && env.GRPC_PORT.trim() !== env.SERVICE_PORT_GRPC.trim()) {
    throw new ConfigError(
      `invalid configuration: GRPC_PORT='${env.GRPC_PORT}' and SERVICE_PORT_GRPC='${env.SERVICE_PORT_GRPC}' disagree; set one`,
    );
  }
  input.GRPC_PORT = env.GRPC_PORT ?? env.SERVICE_PORT_GRPC;
  const { typos, warnings } = unknownVariables(env, [...Object.keys(schema.shape), ...ALSO_OURS]);
  const refused = [...serviceLinkCollisions(env), ...typos];
  if (refused.length > 0) throw new ConfigError(`invalid configuration: ${refused.join('; ')}`);
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const key = String(issue.path[0]);
      const name = key === 'GRPC_PORT' ? portName : key;
      const value = input[key];
      return value === undefined ? `${name} ${issue.message}` : `${name}='${value}': ${issue.message}`;
    });
    throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
  }
  const e = parsed.data;
  if (e.BACKEND_RECONNECT_MIN > e.BACKEND_RECONNECT_MAX) {
    throw new ConfigError(
      `invalid configuration: BACKEND_RECONNECT_MIN='${env.BACKEND_RECONNECT_MIN ?? '200ms'}' is above BACKEND_RECONNECT_MAX='${env.BACKEND_RECONNECT_MAX ?? '5s'}'`,
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
      `invalid configuration: EJECTION_BASE_TIME='${env.EJECTION_BASE_TIME ?? '30s'}' is above EJECTION_MAX_TIME='${env.EJECTION_MAX_TIME ?? '5m'}'`,
    );
  }
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
    environment: { ...e, JWT_SECRET: e.JWT_SECRET === undefined ? undefined : REDACTED },
    collapser: {
      cacheTtlMs: e.COLLAPSER_CACHE_DURATION,
      cacheMaxBytes: e.COLLAPSER_CACHE_MAX_BYTES,
      maxResponseBytes: e.COLLAPSER_MAX_RESPONSE_BYTES,
      maxFollowers: e.COLLAPSER_MAX_FOLLOWERS,
      keyMetadata: e.COLLAPSER_KEY_METADATA,
      onlyMethods: e.COLLAPSER_METHODS,
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
