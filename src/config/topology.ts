import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { z } from 'zod';
import type { BalancerSpec } from '../balance/balancer-types.js';
import { clusterSchema, type ClusterSpec } from '../discovery/cluster-types.js';
import { ConfigError } from '../spec/errors.js';
import { clientTlsSchema, loadClientTls, type ClientTls } from '../tls/client-tls.js';
import { httpSchema, httpSpecOf, type HttpSpec } from '../http/http-spec.js';
import { routeSchema, routeSpecOf, type RouteSpec } from '../route/route-spec.js';
import { concurrencySchema, type ConcurrencySpec } from '../admission/concurrency-spec.js';

// yaml is loaded when a configuration file is read: a corral set up by variables alone does not carry it.
const require = createRequire(import.meta.url);

export type { BalancerSpec, ClusterSpec, RouteSpec };
export { defaultRoute, type MetadataMatcher } from '../route/route-spec.js';

/** Where calls go: MyGateway's YAML structure, plus corral's per-route policy. */
export interface Topology {
  default: { action: 'error' } | { action: 'use_cluster'; cluster: string };
  routes: RouteSpec[];
  clusters: Record<string, ClusterSpec>;
  /** The clusters reached over TLS (their `tls` field, or BACKEND_TLS_*), with their files read. */
  clusterTls: Record<string, ClientTls>;
  /** The clusters whose `concurrency` field is set; the others follow BACKEND_CONCURRENCY. */
  clusterConcurrency: Record<string, ConcurrencySpec>;
  /** The HTTP/JSON gateway's routes and descriptors; null when the file has no http section. */
  http: HttpSpec | null;
}

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
    raw = (require('yaml') as typeof import('yaml')).parse(text);
  } catch (err) {
    throw new ConfigError(`${source}: not valid YAML: ${(err as Error).message}`);
  }
  // A cluster's `tls` and `concurrency` are the same for every type of cluster: taken out before the type's own fields are checked.
  const tlsFields = takeField(raw, 'tls');
  const concurrencyFields = takeField(raw, 'concurrency');
  const problems: string[] = [];
  const clusterConcurrency: Record<string, ConcurrencySpec> = {};
  for (const [name, field] of Object.entries(concurrencyFields)) {
    const spec = concurrencySchema.safeParse(field);
    if (spec.success) clusterConcurrency[name] = spec.data;
    else problems.push(...issuesText(spec.error, field, ['clusters', name, 'concurrency']));
  }
  const parsed = fileSchema.safeParse(raw ?? {});
  if (!parsed.success) throw new ConfigError(`${source}: ${[...issuesText(parsed.error, raw, []), ...problems].join('; ')}`);
  const file = parsed.data;
  const clusterTls: Record<string, ClientTls> = {};
  for (const [name, fields] of Object.entries(tlsFields)) {
    const at = ['clusters', name, 'tls'];
    const spec = clientTlsSchema.safeParse(fields);
    if (!spec.success) {
      problems.push(...issuesText(spec.error, fields, at));
      continue;
    }
    const field = (f: string) => `clusters.${name}.tls.${f}`;
    try {
      clusterTls[name] = loadClientTls(spec.data, { ca: field('ca_file'), cert: field('cert_file'), key: field('key_file') });
    } catch (err) {
      problems.push((err as Error).message);
    }
  }
  const clusters: Record<string, ClusterSpec> = file.clusters;
  const known = Object.keys(clusters).join(', ') || 'none';
  const routes = file.routes.map((r, i): RouteSpec => {
    if (!(r.cluster in clusters)) problems.push(`routes[${i}].cluster=${JSON.stringify(r.cluster)}: no such cluster (known: ${known})`);
    return routeSpecOf(r);
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
    clusterTls,
    clusterConcurrency,
  };
}

/** Each zod issue as `path=value: message`, `at` being where the checked value sits in the file. */
function issuesText(error: z.ZodError, raw: unknown, at: ReadonlyArray<PropertyKey>): string[] {
  return error.issues.map((issue) => {
    const path = issue.code === 'unrecognized_keys' ? [...issue.path, issue.keys[0]!] : issue.path;
    const value = valueAt(raw, path);
    const shown = value === undefined || (typeof value === 'object' && value !== null) ? '' : `=${JSON.stringify(value)}`;
    const message = issue.code === 'unrecognized_keys' ? `unknown field (${issue.keys.join(', ')})` : issue.message;
    return `${pathText([...at, ...path])}${shown}: ${message}`;
  });
}

/** Removes each cluster's `field` from the parsed YAML, returning them by cluster name. */
function takeField(raw: unknown, field: string): Record<string, unknown> {
  const taken: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  const clusters = (raw as { clusters?: unknown } | null)?.clusters;
  if (clusters === null || typeof clusters !== 'object' || Array.isArray(clusters)) return taken;
  for (const [name, cluster] of Object.entries(clusters as Record<string, unknown>)) {
    if (cluster === null || typeof cluster !== 'object' || !Object.hasOwn(cluster, field)) continue;
    const { [field]: value, ...rest } = cluster as Record<string, unknown>;
    taken[name] = value;
    Object.defineProperty(clusters, name, { value: rest, enumerable: true, writable: true, configurable: true });
  }
  return taken;
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
export function singleBackendTopology(address: string, tls: ClientTls | null = null): Topology {
  return {
    default: { action: 'use_cluster', cluster: 'backend' },
    routes: [],
    clusters: { backend: { type: 'static', addresses: [address] } },
    clusterTls: tls === null ? {} : { backend: tls },
    clusterConcurrency: {},
    http: null,
  };
}
