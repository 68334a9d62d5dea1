import { z } from 'zod';
import { balancerSchema, type BalancerSpec } from '../balance/balancer-types.js';
import { metadataName, millis } from '../spec/fields.js';
import { PRIORITIES, type Priority } from '../admission/concurrency-spec.js';
import { STREAM_JOINS, type StreamJoin } from '../spec/stream-join.js';
import { FIELD_PATH } from '../spec/fields.js';

/** A route's condition on one metadata entry: equal to a value, or present / absent. */
export type MetadataMatcher = { name: string; equals: string } | { name: string; present: boolean };

export interface RouteSpec {
  /** What metrics and logs call it; unset: its prefix and matchers as written. */
  name: string | undefined;
  prefix: string;
  cluster: string;
  authorization: 'none' | 'required';
  balancer: BalancerSpec;
  metadata: MetadataMatcher[];
  /**
   * true: every single-message call of the route is collapsed and cached (the operator says
   * they are reads); false: every call passes through; unset: as COLLAPSER_METHODS,
   * COLLAPSER_SKIP_METHODS and the descriptors say (nothing said: passed through).
   */
  collapse: boolean | undefined;
  /** Unset: the environment's COLLAPSER_CACHE_DURATION, BACKEND_TIMEOUT, COLLAPSER_KEY_METADATA. */
  cacheTtlMs: number | undefined;
  /** Unset: COLLAPSER_STALE_WHILE_REVALIDATE and COLLAPSER_STALE_IF_ERROR. */
  staleWhileRevalidateMs?: number | undefined;
  staleIfErrorMs?: number | undefined;
  timeoutMs: number | undefined;
  keyMetadata: string[] | undefined;
  /** Request fields left out of the key (field paths); unset: COLLAPSER_KEY_IGNORE_FIELDS. */
  keyIgnoreFields?: string[] | undefined;
  /**
   * A single-message call whose backend fails after its response started is replayed on
   * another endpoint and its client's stream goes on (resumable subscriptions).
   */
  sessionTransfer: boolean;
  /** When a call on this route ends OK, cached responses of methods under these prefixes are dropped. */
  invalidates: string[];
  /** Its claim on a cluster whose limit binds: critical calls go first, sheddable ones are shed first. */
  priority: Priority;
  /** How a caller joins a collapsed server stream under way; unset: COLLAPSER_STREAM_JOIN, else replay. */
  streamJoin?: StreamJoin | undefined;
}

/** A route to `cluster` for calls under `prefix`, with every policy at its default. */
export function defaultRoute(prefix: string, cluster: string): RouteSpec {
  return {
    name: undefined,
    prefix,
    cluster,
    authorization: 'none',
    balancer: { type: 'round_robin' },
    metadata: [],
    collapse: undefined,
    cacheTtlMs: undefined,
    timeoutMs: undefined,
    keyMetadata: undefined,
    sessionTransfer: false,
    invalidates: [],
    priority: 'normal',
  };
}

const matcherSchema = z.union(
  [
    z.strictObject({ name: metadataName, equals: z.string() }),
    z.strictObject({ name: metadataName, present: z.boolean() }),
  ],
  { error: 'expected {name, equals: value} or {name, present: true|false}' },
);

/** A route as the YAML file writes it. */
export const routeSchema = z.strictObject({
  name: z
    .string()
    .regex(/^[A-Za-z0-9_.:/-]+$/, 'expected a route name of letters, digits and _ . : / -')
    .refine((n) => n !== 'default' && n !== 'unrouted', 'default and unrouted are names corral gives; choose another')
    .optional(),
  prefix: z.string().startsWith('/', 'expected a method prefix starting with /, e.g. /pkg.Service/'),
  cluster: z.string().min(1),
  authorization: z.enum(['none', 'required'], { error: 'expected none or required' }).default('none'),
  balancer: balancerSchema.default({ type: 'round_robin' }),
  metadata: z.array(matcherSchema).default([]),
  collapse: z.boolean().optional(),
  cache_ttl_ms: millis(0).optional(),
  stale_while_revalidate_ms: millis(0).optional(),
  stale_if_error_ms: millis(0).optional(),
  timeout_ms: millis(1).optional(),
  key_metadata: z.array(metadataName).optional(),
  key_ignore_fields: z.array(z.string().regex(FIELD_PATH, 'expected a field path of the request, e.g. request_id or trace.span_id')).optional(),
  session_transfer: z.boolean().default(false),
  invalidates: z.array(z.string().startsWith('/', 'expected a method prefix starting with /, e.g. /pkg.Service/Get')).default([]),
  priority: z.enum(PRIORITIES, { error: `expected ${PRIORITIES.join(', ')}` }).default('normal'),
  stream_join: z.enum(STREAM_JOINS, { error: `expected ${STREAM_JOINS.join(', ')}` }).optional(),
});

/** A route of the YAML file as the routing takes it. */
export function routeSpecOf(r: z.output<typeof routeSchema>): RouteSpec {
  return {
    name: r.name,
    prefix: r.prefix,
    cluster: r.cluster,
    authorization: r.authorization,
    balancer: r.balancer,
    metadata: r.metadata,
    collapse: r.collapse,
    cacheTtlMs: r.cache_ttl_ms,
    staleWhileRevalidateMs: r.stale_while_revalidate_ms,
    staleIfErrorMs: r.stale_if_error_ms,
    timeoutMs: r.timeout_ms,
    keyMetadata: r.key_metadata,
    keyIgnoreFields: r.key_ignore_fields,
    sessionTransfer: r.session_transfer,
    invalidates: r.invalidates,
    priority: r.priority,
    streamJoin: r.stream_join,
  };
}
