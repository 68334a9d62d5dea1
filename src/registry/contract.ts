/**
 * The registry's layout in etcd, a contract other programs may read:
 *
 *   {prefix}services/{service}/instances/{instance_id}  →  InstanceRecord as JSON, under the instance's lease
 *   {prefix}naming/{service}/{address}                   →  {"Op":0,"Addr":"{address}","Metadata":null}
 *
 * The second is etcd's own naming format (go.etcd.io/etcd/client/v3/naming/endpoints, the
 * JSON of its Update struct as json.Marshal writes it), so grpc-go clients with etcd's
 * resolver find the same instances: they dial target `{prefix}naming/{service}`.
 */
export const DEFAULT_PREFIX = '/corral/v1/';

export type InstanceState = 'SERVING' | 'DRAINING';

export interface InstanceRecord {
  instance_id: string;
  /** host:port callers dial. */
  address: string;
  state: InstanceState;
  /** ISO time the process started. */
  started_at: string;
  /** corral's version. */
  version: string;
}

export function instancesPrefix(prefix: string, service: string): string {
  return `${prefix}services/${service}/instances/`;
}

export function instanceKey(prefix: string, service: string, instanceId: string): string {
  return instancesPrefix(prefix, service) + instanceId;
}

export function namingKey(prefix: string, service: string, address: string): string {
  return `${prefix}naming/${service}/${address}`;
}

/** The value etcd's endpoints.Manager writes for an added endpoint. */
export function namingValue(address: string): string {
  return JSON.stringify({ Op: 0, Addr: address, Metadata: null });
}

/** An instance record read back; null when the value is not one. */
export function parseInstance(value: string): InstanceRecord | null {
  try {
    const r = JSON.parse(value) as Partial<InstanceRecord>;
    if (typeof r.instance_id !== 'string' || typeof r.address !== 'string' || (r.state !== 'SERVING' && r.state !== 'DRAINING')) return null;
    return r as InstanceRecord;
  } catch {
    return null;
  }
}

/**
 * A fleet's purges (COLLAPSER_FLEET with POST /cache/purge): one key per purge, under a
 * short lease, which every member watches and applies.
 *   {prefix}services/{service}/purges/{purge_id}  →  PurgeRecord as JSON
 */
export function purgesPrefix(prefix: string, service: string): string {
  return `${prefix}services/${service}/purges/`;
}

export interface PurgeRecord {
  /** The purge as POST /cache/purge takes it: tag=, method=, key= or all=true, and soft=. */
  query: string;
  /** The instance it was asked of (which applied it already). */
  origin: string;
  /** ISO time it was asked. */
  at: string;
}
