/** One backend instance a cluster can send calls to. */
export interface Endpoint {
  /** Stable identity: the discoverer's instance_id, the broker id, or the address. */
  readonly id: string;
  /** host:port ([v6]:port for IPv6). */
  readonly address: string;
}

/** A shard of the queue proxy's map: the brokers that hold one topic partition. */
export interface Shard {
  readonly topic: string;
  readonly partition: string;
  readonly brokers: readonly Endpoint[];
  readonly leader: Endpoint | null;
}

/** What a Resolver found: the endpoints, and for shard maps which endpoint holds what. */
export interface Resolution {
  readonly endpoints: readonly Endpoint[];
  readonly shards?: readonly Shard[];
}

/** How a resolver's source is doing. */
export interface ResolverHealth {
  /** When the last good list arrived (Date.now()); null before the first. */
  readonly lastUpdateAt: number | null;
  /** Why the latest lookup failed; null while lookups succeed. */
  readonly lastError: string | null;
}

/**
 * A source of endpoints for one cluster, in the spirit of grpc-js's resolvers: it
 * reports every good list it finds and, on failure, says so in its health while the
 * cluster keeps the last good list.
 */
export interface Resolver {
  /** What kind of source, for logs. */
  readonly kind: string;
  /** For metrics, logs and the admin endpoints: "etcd unreachable" shows here. */
  readonly health: ResolverHealth;
  /** Starts resolving; `update` gets every new good Resolution. */
  start(update: (resolution: Resolution) => void): void;
  /** Asks for a new lookup soon (a shard-map miss); the resolver rate-limits it. */
  refresh(): void;
  /** Stops every timer and request. */
  stop(): void;
  /** Tells the source an endpoint failed, so it stops listing it (MyGateway's discoverer has this). */
  unregister?(id: string): Promise<boolean>;
}

export { HOST_PORT } from '../spec/fields.js';

/** `host:port` for an address, bracketing IPv6 literals. */
export function joinHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
