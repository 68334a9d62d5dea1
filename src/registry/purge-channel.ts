import { randomUUID } from 'node:crypto';
import type { Etcd3, Watcher } from 'etcd3';
import type { Logger } from '../log/logger.js';
import type { ClientTls } from '../tls/client-tls.js';
import { connectEtcd } from './etcd-client.js';
import { purgesPrefix, type PurgeRecord } from './contract.js';

/** How long a purge's key lives in etcd: long enough for every member's watch to see it. */
const PURGE_TTL_SECONDS = 30;

export interface PurgeChannelOptions {
  endpoints: string[];
  service: string;
  prefix: string;
  tls: ClientTls | null;
  /** This member's instance id: its own purges come back to it and are skipped. */
  self: string;
}

/**
 * A fleet's purges over etcd: a member that is asked to purge publishes the purge under
 * {prefix}services/{service}/purges/, with a lease that ends it by itself, and every
 * member applies the purges it sees there (its own excepted: it applied them already).
 * Only what can write to etcd can purge a fleet's caches: no client reaches it. Purges
 * made while a member's watch is down are missed by that member (its answers end with
 * their TTL); the watch resumes from its last revision when etcd answers again.
 */
export class PurgeChannel {
  private readonly client: Etcd3;
  private readonly prefix: string;
  private watcher: Watcher | null = null;
  private stopped = false;

  constructor(
    private readonly options: PurgeChannelOptions,
    private readonly logger: Logger,
  ) {
    this.client = connectEtcd(options.endpoints, options.tls);
    this.prefix = purgesPrefix(options.prefix, options.service);
  }

  /** Applies every purge another member publishes from now on. */
  async start(apply: (query: string, origin: string) => void): Promise<void> {
    try {
      const watcher = await this.client.watch().prefix(this.prefix).create();
      if (this.stopped) {
        void watcher.cancel();
        return;
      }
      this.watcher = watcher;
      watcher.on('put', (kv) => {
        let record: PurgeRecord;
        try {
          record = JSON.parse(kv.value.toString()) as PurgeRecord;
        } catch {
          this.logger.warn({ key: kv.key.toString() }, 'not a purge record: ignored');
          return;
        }
        if (typeof record.query !== 'string' || record.origin === this.options.self) return;
        apply(record.query, String(record.origin));
      });
      watcher.on('error', (err) => this.logger.warn({ err: err.message }, 'fleet purge watch failed; purges from other members are missed until it is back'));
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, 'cannot watch the fleet\'s purges in etcd; purges reach this member only when asked of it');
    }
  }

  /** Tells every member of the fleet; rejects when etcd cannot be written. */
  async publish(query: string): Promise<void> {
    const lease = this.client.lease(PURGE_TTL_SECONDS, { autoKeepAlive: false });
    const record: PurgeRecord = { query, origin: this.options.self, at: new Date().toISOString() };
    await lease.put(this.prefix + randomUUID()).value(JSON.stringify(record));
  }

  stop(): void {
    this.stopped = true;
    void this.watcher?.cancel().catch(() => undefined);
    this.client.close();
  }
}
