import { randomUUID } from 'node:crypto';
import type { Etcd3, Lease } from 'etcd3';
import type { Logger } from '../log/logger.js';
import type { ClientTls } from '../tls/client-tls.js';
import { connectEtcd } from './etcd-client.js';
import { instanceKey, namingKey, namingValue, type InstanceRecord, type InstanceState } from './contract.js';

export interface AgentOptions {
  endpoints: readonly string[];
  service: string;
  /** host:port callers dial: corral's own front. */
  address: string;
  ttlSeconds: number;
  prefix: string;
  version: string;
  /** etcd over TLS (REGISTRY_ETCD_*); null: cleartext. */
  tls: ClientTls | null;
}

const REVOKE_ATTEMPTS = 4;
const REVOKE_RETRY_MS = 500;

/** Where the registration stands, for /ready's reason and metrics. */
export type RegistrationState = 'unregistered' | 'registered' | 'draining' | 'stopped';

/**
 * corral registering the service it fronts in etcd (the Link Bridge agent, with etcd as
 * the Raft-replicated broker). Its instance record and etcd's naming entry live under one
 * lease whose keepalive is the heartbeat: if corral dies, the keys expire after the TTL.
 *
 * A lost lease (etcd unreachable for longer than the TTL, or revoked) is registered
 * again with a new lease, with backoff, while corral keeps serving. etcd3's keepalive
 * stream can stay open through a network cut, so a lease is also taken for lost when no
 * keepalive has succeeded for a TTL. drain() marks the instance DRAINING (and removes the
 * naming entry) under the same lease; stop() revokes the lease, removing both keys.
 */
export class RegistryAgent {
  readonly instanceId = randomUUID();
  state: RegistrationState = 'unregistered';
  lastError: string | null = null;
  private readonly client: Etcd3;
  private readonly startedAt = new Date().toISOString();
  private lease: Lease | null = null;
  private lastKeepalive = 0;
  private watchdog: NodeJS.Timeout | null = null;
  private retry: NodeJS.Timeout | null = null;
  private failures = 0;
  private draining = false;
  /** A registration under way: drain() and stop() wait for it, so they act on its lease. */
  private registering: Promise<void> | null = null;

  constructor(
    private readonly options: AgentOptions,
    private readonly logger: Logger,
  ) {
    this.client = connectEtcd(options.endpoints, options.tls);
  }

  get key(): string {
    return instanceKey(this.options.prefix, this.options.service, this.instanceId);
  }

  /** Registers; keeps trying in the background until it has, and again whenever the lease is lost. */
  /** Registers once `ready` holds (polled every 100 ms), so callers find an instance that can serve. */
  startWhen(ready: () => boolean): void {
    const check = setInterval(() => {
      if (this.state === 'stopped') clearInterval(check);
      else if (ready()) {
        clearInterval(check);
        this.start();
      }
    }, 100);
    check.unref();
  }

  start(): void {
    this.registerNow();
    this.watchdog = setInterval(() => this.checkLease(), (this.options.ttlSeconds * 1000) / 3).unref();
  }

  /** The drain notice: DRAINING under the same lease, naming entry removed; callers move to other instances. */
  async drain(): Promise<void> {
    this.draining = true;
    await this.registering;
    if (this.lease === null || this.state !== 'registered') return;
    try {
      await this.client
        .if(this.key, 'Create', '>', 0)
        .then(this.client.put(this.key).value(this.record('DRAINING')).lease(await this.lease.grant()), this.client.delete().key(this.namingKey()))
        .commit();
      this.state = 'draining';
      this.logger.info({ key: this.key }, 'registry: instance marked DRAINING');
    } catch (err) {
      this.lastError = (err as Error).message;
      this.logger.warn({ err: this.lastError }, 'registry: could not mark the instance DRAINING');
    }
  }

  /** Revokes the lease (the keys go at once) and closes the client. */
  async stop(): Promise<void> {
    if (this.watchdog !== null) clearInterval(this.watchdog);
    if (this.retry !== null) clearTimeout(this.retry);
    await this.registering;
    this.state = 'stopped';
    if (this.retry !== null) clearTimeout(this.retry);
    const lease = this.lease;
    this.lease = null;
    if (lease !== null) await this.revoke(lease);
    this.client.close();
  }

  /**
   * Revokes the lease, trying again briefly: after an etcd outage the client may refuse
   * calls to a member for a few seconds. If it cannot, the keys expire after the TTL.
   */
  private async revoke(lease: Lease): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await lease.revoke();
        return;
      } catch (err) {
        if (attempt === REVOKE_ATTEMPTS) {
          this.logger.warn({ err: (err as Error).message }, 'registry: could not revoke the lease; the keys expire after the TTL');
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, REVOKE_RETRY_MS));
      }
    }
  }

  private namingKey(): string {
    return namingKey(this.options.prefix, this.options.service, this.options.address);
  }

  private record(state: InstanceState): string {
    const record: InstanceRecord = {
      instance_id: this.instanceId,
      address: this.options.address,
      state,
      started_at: this.startedAt,
      version: this.options.version,
    };
    return JSON.stringify(record);
  }

  private registerNow(): void {
    this.retry = null;
    this.registering = this.register().finally(() => (this.registering = null));
  }

  private async register(): Promise<void> {
    if (this.state === 'stopped') return;
    const lease = this.client.lease(this.options.ttlSeconds, { autoKeepAlive: true });
    lease.on('lost', (err) => this.lost(lease, err.message));
    lease.on('keepaliveSucceeded', () => (this.lastKeepalive = Date.now()));
    try {
      const id = await lease.grant();
      const state: InstanceState = this.draining ? 'DRAINING' : 'SERVING';
      const puts = [this.client.put(this.key).value(this.record(state)).lease(id)];
      if (!this.draining) puts.push(this.client.put(this.namingKey()).value(namingValue(this.options.address)).lease(id));
      await this.client.if(this.key, 'Version', '>', -1).then(...puts).commit();
      this.lease = lease;
      this.lastKeepalive = Date.now();
      this.state = this.draining ? 'draining' : 'registered';
      this.lastError = null;
      this.failures = 0;
      this.logger.info({ key: this.key, address: this.options.address, ttlSeconds: this.options.ttlSeconds }, 'registry: registered');
    } catch (err) {
      lease.release();
      this.failed((err as Error).message);
    }
  }

  private lost(lease: Lease, why: string): void {
    if (this.lease !== lease || this.state === 'stopped') return;
    this.lease = null;
    lease.release();
    this.state = 'unregistered';
    this.failed(`lease lost: ${why}`);
  }

  /** No keepalive for a whole TTL: the lease has expired in etcd, whatever the stream says. */
  private checkLease(): void {
    const lease = this.lease;
    if (lease === null || Date.now() - this.lastKeepalive <= this.options.ttlSeconds * 1000) return;
    this.lost(lease, `no keepalive succeeded for ${this.options.ttlSeconds}s`);
  }

  private failed(why: string): void {
    if (this.state === 'stopped' || this.retry !== null) return;
    this.failures++;
    this.lastError = why;
    const wait = Math.min(5000, 250 * 2 ** (this.failures - 1));
    this.logger.warn({ err: why, retryInMs: wait }, 'registry: not registered; retrying');
    this.retry = setTimeout(() => this.registerNow(), wait).unref();
  }
}
