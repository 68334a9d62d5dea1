import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { balancerSchema, type BalancerSpec } from './balancer-types.js';
import { clusterSchema, type ClusterSpec } from './cluster-types.js';
import { ConfigError } from './errors.js';
import { metadataName, millis } from './fields.js';
import { httpSchema, httpSpecOf, type HttpSpec } from './http-spec.js';

export type { BalancerSpec, ClusterSpec };

/** Where calls go: MyGateway's YAML structure, plus corral's per-route policy. */
export interface Topology {
  default: { action: 'error' } | { action: 'use_cluster'; cluster: string };
  routes: RouteSpec[];
  clusters: Record<string, ClusterSpec>;
  /** The HTTP/JSON gateway's routes and descriptors; null when the file has no http section. */
  http: HttpSpec | null;
}

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
  timeoutMs: number | undefined;
  keyMetadata: string[] | undefined;
  /**
   * A single-message call whose backend fails after its response started is replayed on
   * another endpoint and its client's stream goes on (resumable subscriptions).
   */
  sessionTransfer: boolean;
  /** When a call on this route ends OK, cached responses of methods under these prefixes are dropped. */
  invalidates: string[];
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
  };
}

const matcherSchema = z.union(
  [
    z.strictObject({ name: metadataName, equals: z.string() }),
    z.strictObject({ name: metadataName, present: z.boolean() }),
  ],
  { error: 'expected {name, equals: value} or {name, present: true|false}' },
);

const routeSchema = z.strictObject({
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
  timeout_ms: millis(1).optional(),
  key_metadata: z.array(metadataName).optional(),
  session_transfer: z.boolean().default(false),
  invalidates: z.array(z.string().startsWith('/', 'expected a method prefix starting with /, e.g. /pkg.Service/Get')).default([]),
});

const fileSchema = z.strictObject({
  default: z
    .discriminatedUnion(
      'action',
      [z.strictObject({ action: z.literal('error') }), z.strictObject({ action: z.literal('use_cluster'), use_cluster: z.string().min(1) })],
      { error: 'expected action: error, or action: use_cluster with use_cluster: <cluster>' },
    )
    .default({ action: 'error' }),
  routes: z.array(routeSchema).default([]),
  clusters: z.record(z.string().min(1), clusterSchema),
  http: httpSchema.optional(),
});

function pathText(path: ReadonlyArray<PropertyKey>): string {
  let text = '';
  for (const p of path) text += typeof p === 'number' ? `[${p}]` : text === '' ? String(p) : `.${String(p)}`;
  return text || '(top level)';
}

function valueAt(root: unknown, path: ReadonlyArray<PropertyKey>): unknown {
  let v: unknown = root;
  for (const p of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[p];
  }
  return v;
}

/** Parses and checks a topology file's text; the ConfigError names each bad field and its value. */
export function parseTopology(text: string, source: string): Topology {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new ConfigError(`${source}: not valid YAML: ${(err as Error).message}`);
  }
  const parsed = fileSchema.safeParse(raw ?? {});
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const at = issue.code === 'unrecognized_keys' ? [...issue.path, issue.keys[0]!] : issue.path;
      const value = valueAt(raw, at);
      const shown = value === undefined || (typeof value === 'object' && value !== null) ? '' : `=${JSON.stringify(value)}`;
      const message = issue.code === 'unrecognized_keys' ? `unknown field (${issue.keys.join(', ')})` : issue.message;
      return `${pathText(at)}${shown}: ${message}`;
    });
    throw new ConfigError(`${source}: ${problems.join('; ')}`);
  }
  const file = parsed.data;
  const problems: string[] = [];
  const clusters: Record<string, ClusterSpec> = file.clusters;
  const known = Object.keys(clusters).join(', ') || 'none';
  const routes = file.routes.map((r, i): RouteSpec => {
    if (!(r.cluster in clusters)) problems.push(`routes[${i}].cluster=${JSON.stringify(r.cluster)}: no such cluster (known: ${known})`);
    return {
      name: r.name,
      prefix: r.prefix,
      cluster: r.cluster,
      authorization: r.authorization,
      balancer: r.balancer,
      metadata: r.metadata,
      collapse: r.collapse,
      cacheTtlMs: r.cache_ttl_ms,
      timeoutMs: r.timeout_ms,
      keyMetadata: r.key_metadata,
      sessionTransfer: r.session_transfer,
      invalidates: r.invalidates,
    };
  });
  const named = file.routes.map((r) => r.name).filter((n) => n !== undefined);
  for (const n of new Set(named)) {
    if (named.indexOf(n) !== named.lastIndexOf(n)) problems.push(`routes: the name ${JSON.stringify(n)} is given to more than one route`);
  }
  if (file.default.action === 'use_cluster' && !(file.default.use_cluster in clusters)) {
    problems.push(`default.use_cluster=${JSON.stringify(file.default.use_cluster)}: no such cluster (known: ${known})`);
  }
  const http = file.http === undefined ? null : httpSpecOf(file.http);
  for (const [i, r] of (http?.routes ?? []).entries()) {
    if (!(r.cluster in clusters)) problems.push(`http.routes[${i}].service=${JSON.stringify(r.cluster)}: no such cluster (known: ${known})`);
    if (http!.routes.findIndex((o) => o.name === r.name) !== i) problems.push(`http.routes[${i}].name=${JSON.stringify(r.name)}: given to more than one route`);
  }
  if (problems.length > 0) throw new ConfigError(`${source}: ${problems.join('; ')}`);
  return {
    http,
    default: file.default.action === 'use_cluster' ? { action: 'use_cluster', cluster: file.default.use_cluster } : { action: 'error' },
    routes,
    clusters,
  };
}

/** The prefixes of routes with `authorization: required`. */
export function authenticatedRoutes(topology: Topology): string[] {
  const http = (topology.http?.routes ?? []).filter((r) => r.authRequired).map((r) => `http route ${r.name}`);
  return [...topology.routes.filter((r) => r.authorization === 'required').map((r) => r.prefix), ...http];
}

/** Reads CONFIG_PATH. */
export function loadTopology(path: string): Topology {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`CONFIG_PATH='${path}': cannot read it: ${(err as Error).message}`);
  }
  return parseTopology(text, path);
}

/** Without CONFIG_PATH: every call goes to BACKEND_ADDRESS, as before routing existed. */
export function singleBackendTopology(address: string): Topology {
  return { default: { action: 'use_cluster', cluster: 'backend' }, routes: [], clusters: { backend: { type: 'static', addresses: [address] } }, http: null };
}
