import { z } from 'zod';
import { DnsResolver } from './dns.js';
import { EtcdResolver } from './etcd.js';
import { DEFAULT_PREFIX } from '../registry/contract.js';
import { HOST_PORT, type Resolver } from './endpoint.js';
import { HttpDiscoverer } from './http-discoverer.js';
import { DEFAULT_POLLING } from './polling.js';
import { ShardMapResolver } from './shard-map.js';
import { StaticResolver } from './static.js';
import type { Logger } from '../log/logger.js';
import type { ClientTls } from '../tls/client-tls.js';
import { hostPort, httpUrl, millis, typeUnion } from '../spec/fields.js';

/** What a resolver may use besides its cluster's spec. */
export interface ResolverContext {
  logger: Logger;
  /** How to reach etcd (REGISTRY_ETCD_* TLS files), for clusters of type etcd; null: cleartext. */
  etcdTls: ClientTls | null;
}

/**
 * One `type` of cluster: the YAML fields it takes (checked, with defaults, turned into
 * its spec) and the Resolver it makes. A new discovery source is a Resolver and an entry
 * in CLUSTER_TYPES; the topology's schema and the routing pick it up from there.
 */
export interface ClusterType<Spec extends { type: string }> {
  readonly schema: z.ZodType<Spec>;
  create(spec: Spec, context: ResolverContext): Resolver;
  /** A fixed list of addresses: connected at once, and /ready waits until one answers. */
  readonly fixed: boolean;
}

function clusterType<Spec extends { type: string }>(type: ClusterType<Spec>): ClusterType<Spec> {
  return type;
}

export const CLUSTER_TYPES = {
  static: clusterType({
    schema: z
      .strictObject({ type: z.literal('static'), address: hostPort.optional(), addresses: z.array(hostPort).min(1).optional() })
      .refine((c) => c.address !== undefined || c.addresses !== undefined, 'a static cluster needs address or addresses')
      .transform((c) => ({ type: 'static' as const, addresses: [...(c.address ? [c.address] : []), ...(c.addresses ?? [])] })),
    create: (spec) => new StaticResolver(spec.addresses),
    fixed: true,
  }),
  dynamic: clusterType({
    schema: z
      .strictObject({ type: z.literal('dynamic'), discoverer_url: httpUrl, discoverer_interval_ms: millis(100).default(5000) })
      .transform((c) => ({ type: 'dynamic' as const, discovererUrl: c.discoverer_url, intervalMs: c.discoverer_interval_ms })),
    create: (spec, { logger }) => new HttpDiscoverer(spec.discovererUrl, { ...DEFAULT_POLLING, intervalMs: spec.intervalMs }, logger),
    fixed: false,
  }),
  dns: clusterType({
    schema: z.strictObject({ type: z.literal('dns'), address: hostPort, dns_interval_ms: millis(100).default(5000) }).transform((c) => {
      const [, host, port] = HOST_PORT.exec(c.address)!;
      return { type: 'dns' as const, host: host!.replace(/^\[|\]$/g, ''), port: Number(port), intervalMs: c.dns_interval_ms };
    }),
    create: (spec, { logger }) => new DnsResolver(spec.host, spec.port, { ...DEFAULT_POLLING, intervalMs: spec.intervalMs }, logger),
    fixed: false,
  }),
  etcd: clusterType({
    schema: z
      .strictObject({
        type: z.literal('etcd'),
        etcd_endpoints: z.array(hostPort).min(1),
        service: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'expected a service name of letters, digits and _ . -'),
        prefix: z.string().startsWith('/').endsWith('/').default(DEFAULT_PREFIX),
      })
      .transform((c) => ({ type: 'etcd' as const, endpoints: c.etcd_endpoints, service: c.service, prefix: c.prefix })),
    create: (spec, { logger, etcdTls }) => new EtcdResolver({ ...spec, tls: etcdTls }, logger),
    fixed: false,
  }),
  shard_map: clusterType({
    schema: z
      .strictObject({ type: z.literal('shard_map'), shard_map_url: httpUrl, shard_map_interval_ms: millis(100).default(5000) })
      .transform((c) => ({ type: 'shard_map' as const, url: c.shard_map_url, intervalMs: c.shard_map_interval_ms })),
    create: (spec, { logger }) => new ShardMapResolver(spec.url, { ...DEFAULT_POLLING, intervalMs: spec.intervalMs }, logger),
    fixed: false,
  }),
};

type Types = typeof CLUSTER_TYPES;
/** A cluster as configured, one of the registered types. */
export type ClusterSpec = { [K in keyof Types]: Types[K] extends ClusterType<infer S> ? S : never }[keyof Types];

export const clusterSchema = typeUnion<ClusterSpec>(CLUSTER_TYPES);

function typeOf(spec: ClusterSpec): ClusterType<ClusterSpec> {
  return CLUSTER_TYPES[spec.type] as unknown as ClusterType<ClusterSpec>;
}

/** The resolver for a cluster of any registered type. */
export function createResolver(spec: ClusterSpec, context: ResolverContext): Resolver {
  return typeOf(spec).create(spec, context);
}

/** True for a fixed list of addresses (see ClusterType.fixed). */
export function isFixed(spec: ClusterSpec): boolean {
  return typeOf(spec).fixed;
}
