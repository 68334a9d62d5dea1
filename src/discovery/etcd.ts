import type { Etcd3, IKeyValue, Watcher } from 'etcd3';
import type { Logger } from '../log/logger.js';
import type { ClientTls } from '../tls/client-tls.js';
import { instancesPrefix, parseInstance, type InstanceRecord } from '../registry/contract.js';
import { connectEtcd } from '../registry/etcd-client.js';
import { HOST_PORT, type Endpoint, type Resolution, type Resolver, type ResolverHealth } from './endpoint.js';

export interface EtcdResolverOptions {
  /** host:port of etcd members; any of them serves. */
  endpoints: readonly string[];
  service: string;
  prefix: string;
  /** First and largest wait before listing again after a failure. */
  retryMinMs?: number;
  retryMaxMs?: number;
  /** etcd over TLS (REGISTRY_ETCD_CA_FILE and its client certificate); cleartext when null or unset. */
  tls?: ClientTls | null;
}

/**
 * A cluster's instances from corral's registry in etcd: lists the service's instance
 * keys, then watches them from the listed revision on, so changes arrive pushed. A watch
 * etcd cancels (its revision was compacted, or the member went away) lists again. Only
 * SERVING instances are endpoints: a DRAINING one gets no new calls, its calls in
 * progress finish, and sticky sessions move off it. While etcd cannot be reached the last
 * list stays and the health says why; an empty registry is an empty cluster.
 */
export class EtcdResolver implements Resolver {
  readonly kind = 'etcd';
  health: ResolverHealth = { lastUpdateAt: null, lastError: null };
  private readonly client: Etcd3;
  private readonly prefix: string;
  private readonly instances = new Map<string, InstanceRecord>();
  private update: ((resolution: Resolution) => void) | null = null;
  private watcher: Watcher | null = null;
  private retry: NodeJS.Timeout | null = null;
  private failures = 0;
  private stopped = false;

  constructor(
    private readonly options: EtcdResolverOptions,
    private readonly logger: Logger,
    client?: Etcd3,
  ) {
    this.client = client ?? connectEtcd(options.endpoints, options.tls ?? null);
    this.prefix = instancesPrefix(options.prefix, options.service);
  }

  start(update: (resolution: Resolution) => void): void {
    this.update = update;
    void this.list();
  }

  /** Changes are pushed; nothing to ask for. */
  refresh(): void {}

  stop(): void {
    this.stopped = true;
    if (this.retry !== null) clearTimeout(this.retry);
    void this.watcher?.cancel().catch(() => undefined);
    this.client.close();
  }

  private async list(): Promise<void> {
    this.retry = null;
    try {
      const response = await this.client.getAll().prefix(this.prefix).exec();
      if (this.stopped) return;
      this.instances.clear();
      for (const kv of response.kvs) this.put(kv);
      this.report();
      if (this.failures > 0) this.logger.info({ source: 'etcd', service: this.options.service }, 'etcd answers again');
      this.failures = 0;
      await this.watchFrom(BigInt(response.header.revision) + 1n);
    } catch (err) {
      this.failed(err as Error);
    }
  }

  private async watchFrom(revision: bigint): Promise<void> {
    const watcher = await this.client.watch().prefix(this.prefix).startRevision(revision.toString()).create();
    if (this.stopped) {
      void watcher.cancel();
      return;
    }
    this.watcher = watcher;
    watcher.on('put', (kv) => {
      this.put(kv);
      this.report();
    });
    watcher.on('delete', (kv) => {
      this.instances.delete(kv.key.toString().slice(this.prefix.length));
      this.report();
    });
    watcher.on('disconnected', (err) => {
      // The client reconnects to another member and resumes from its last revision.
      this.health = { lastUpdateAt: this.health.lastUpdateAt, lastError: `etcd watch disconnected: ${err.message}` };
    });
    watcher.on('connected', () => {
      if (this.health.lastError !== null) this.health = { lastUpdateAt: this.health.lastUpdateAt, lastError: null };
    });
    watcher.on('error', (err) => {
      // Canceled by etcd, e.g. its start revision was compacted: list afresh.
      if (this.watcher === watcher) this.watcher = null;
      void watcher.cancel().catch(() => undefined);
      this.failed(err);
    });
  }

  private put(kv: IKeyValue): void {
    const id = kv.key.toString().slice(this.prefix.length);
    const record = parseInstance(kv.value.toString());
    if (record === null || !HOST_PORT.test(record.address)) {
      this.logger.warn({ source: 'etcd', key: kv.key.toString() }, 'not an instance record: ignored');
      return;
    }
    this.instances.set(id, record);
  }

  private report(): void {
    const endpoints: Endpoint[] = [];
    for (const [id, record] of this.instances) if (record.state === 'SERVING') endpoints.push({ id, address: record.address });
    endpoints.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    this.health = { lastUpdateAt: Date.now(), lastError: null };
    this.update?.({ endpoints });
  }

  private failed(err: Error): void {
    if (this.stopped) return;
    this.failures++;
    const min = this.options.retryMinMs ?? 250;
    const wait = Math.min(this.options.retryMaxMs ?? 10_000, min * 2 ** (this.failures - 1));
    this.health = { lastUpdateAt: this.health.lastUpdateAt, lastError: `etcd ${this.options.endpoints.join(',')}: ${err.message}` };
    this.logger.warn({ source: 'etcd', service: this.options.service, err: err.message, retryInMs: wait }, 'etcd lookup failed; keeping the last list');
    this.retry = setTimeout(() => void this.list(), wait).unref();
  }
}
