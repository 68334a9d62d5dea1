import { z } from 'zod';
import { FIELD_PATH, HOST_PORT } from '../spec/fields.js';
import { ConfigError } from '../spec/errors.js';
import { formatDuration } from '../spec/duration.js';
import { parseStreamJoins } from '../spec/stream-join.js';
import { statusName } from '../wire/status.js';
import { duration, integer, methodList, MiB, optionalWhole, path, port, statusTtls } from './env-fields.js';
import { ALSO_OURS, serviceLinkCollisions, unknownVariables } from './unknown-variables.js';
import { CONCURRENCY_MESSAGE, parseConcurrency } from '../admission/concurrency-spec.js';

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
  // Calls at a cluster's backend at once: off, a number, or adaptive (docs/overload.md); a cluster's `concurrency` overrides it.
  BACKEND_CONCURRENCY: z
    .string()
    .default('off')
    .transform((text, ctx) => {
      const spec = parseConcurrency(text);
      if (spec === undefined) {
        ctx.addIssue({ code: 'custom', message: CONCURRENCY_MESSAGE });
        return z.NEVER;
      }
      return spec;
    })
    .meta({ default: 'off' }),
  // Whose calls share a cluster's slots in turn when its limit binds: a metadata name, or identity.
  BACKEND_CONCURRENCY_FAIR_BY: z
    .string()
    .trim()
    .toLowerCase()
    .regex(/^[0-9a-z_.-]+$/, 'expected a metadata name (e.g. x-tenant) or identity')
    .refine((n) => !n.startsWith('grpc-') && !n.startsWith(':'), 'grpc- names are gRPC\'s own; expected a metadata name the clients set, or identity')
    .optional(),
  BACKEND_QUEUE_TIMEOUT: duration('100ms'),
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
  // Request fields left out of every collapsed method's key, where its request has them.
  COLLAPSER_KEY_IGNORE_FIELDS: z
    .string()
    .optional()
    .transform((v) => (v === undefined || v.trim() === '' ? [] : v.split(',').map((p) => p.trim()).filter((p) => p !== '')))
    .refine((paths) => paths.every((p) => FIELD_PATH.test(p)), 'expected field paths of the request, comma-separated, e.g. request_id,trace.span_id'),
  COLLAPSER_METHODS: methodList,
  COLLAPSER_SKIP_METHODS: methodList,
  // How callers join a server stream under way: /pkg.S/Watch=latest,/pkg.Events/=live (replay when unlisted).
  COLLAPSER_STREAM_JOIN: z
    .string()
    .optional()
    .transform((text, ctx) => {
      if (text === undefined || text.trim() === '') return [];
      const parsed = parseStreamJoins(text);
      if (typeof parsed === 'string') {
        ctx.addIssue({ code: 'custom', message: parsed });
        return z.NEVER;
      }
      return parsed;
    }),
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

export type Env = z.output<typeof schema>;

/** The name of every variable loadConfig reads. */
export const VARIABLE_NAMES: readonly string[] = Object.keys(schema.shape);

/** The environment read: every variable parsed, with what start-up should warn about. */
export interface ReadEnvironment {
  e: Env;
  /** Variables that look like corral's but are not (a typo within two edits is refused instead). */
  warnings: string[];
  /** The name the gRPC port was given by: GRPC_PORT, or MyGateway's SERVICE_PORT_GRPC. */
  portName: string;
  /** A variable as it was set, or its default, for a message that names it. */
  shown(name: keyof Env): string;
  /** Every variable as /config_dump shows it: durations written as durations (100ms, 5m), not milliseconds. */
  readable: Record<string, unknown>;
}

/**
 * Reads corral's variables from `env`: each checked on its own against its shape and bounds
 * (a ConfigError names every bad one and its value), unknown names with corral's prefixes
 * refused when they are a typo of one and warned of otherwise.
 */
export function readEnvironment(env: NodeJS.ProcessEnv): ReadEnvironment {
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
  const shown = (name: keyof Env): string => input[name] ?? String((schema.shape[name].meta() as { default?: unknown } | undefined)?.default ?? '');
  return { e: parsed.data, warnings, portName, shown, readable: readable(parsed.data) };
}

/** The parsed environment with its durations as durations, and status TTLs as they are written. */
function readable(e: Env): Record<string, unknown> {
  const shown: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(e)) {
    const meta = schema.shape[name as keyof Env].meta() as { duration?: boolean } | undefined;
    if (meta?.duration === true && typeof value === 'number') shown[name] = formatDuration(value);
    else if (value instanceof Map) shown[name] = [...value].map(([code, ms]) => `${statusName(code as number)}=${formatDuration(ms as number)}`).join(',');
    else shown[name] = value;
  }
  return shown;
}
