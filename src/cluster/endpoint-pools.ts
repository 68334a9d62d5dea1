import type { Logger } from '../log/logger.js';
import { SessionPool, type SessionPoolOptions } from '../transport/session-pool.js';
import type { ClientTls } from '../tls/client-tls.js';

/** How every pool of a set connects: SessionPoolOptions but the address. */
export type EndpointPoolOptions = Omit<SessionPoolOptions, 'address' | 'tls'>;

interface Held {
  pool: SessionPool;
  holders: number;
}

/**
 * One SessionPool per backend address, shared by every cluster (and so every route)
 * that lists it. A pool is made when a cluster first takes the address and connects on
 * its first call; when the last cluster lets go, it drains: calls under way finish,
 * then its sessions close.
 */
export class EndpointPools {
  private readonly pools = new Map<string, Held>();
  /** Pools no cluster holds, until their last session closes. */
  private readonly leaving = new Set<SessionPool>();

  constructor(
    private readonly options: EndpointPoolOptions,
    private readonly logger: Logger,
  ) {}

  /** The pool of an address (with these TLS settings: one address over TLS and in cleartext is two pools). */
  acquire(address: string, tls: ClientTls | null = null): SessionPool {
    const id = poolId(address, tls);
    let held = this.pools.get(id);
    if (held === undefined) {
      held = { pool: new SessionPool({ ...this.options, address, tls }, this.logger), holders: 0 };
      this.pools.set(id, held);
    }
    held.holders++;
    return held.pool;
  }

  release(address: string, tls: ClientTls | null = null): void {
    const id = poolId(address, tls);
    const held = this.pools.get(id);
    if (held === undefined) return;
    if (--held.holders > 0) return;
    this.pools.delete(id);
    this.logger.info({ backend: address }, 'endpoint left: draining its connections');
    held.pool.drain();
    // Forget the ones done draining as others start, so the set stays as small as what drains.
    for (const pool of this.leaving) if (pool.sessionCount === 0) this.leaving.delete(pool);
    this.leaving.add(held.pool);
  }

  /** Pools of endpoints that left every cluster and still have sessions open. */
  *draining(): Iterable<SessionPool> {
    for (const pool of this.leaving) {
      if (pool.sessionCount === 0) this.leaving.delete(pool);
      else yield pool;
    }
  }

  get size(): number {
    return this.pools.size;
  }

  /** HTTP/2 sessions over every pool. */
  get sessions(): number {
    let n = 0;
    for (const { pool } of this.pools.values()) n += pool.sessionCount;
    return n;
  }

  /** Ends every session at once (shutdown, after the front drained). */
  destroy(): void {
    for (const { pool } of this.pools.values()) pool.destroy();
    for (const pool of this.leaving) pool.destroy();
    this.pools.clear();
    this.leaving.clear();
  }
}

function poolId(address: string, tls: ClientTls | null): string {
  return tls === null ? address : `${address}#tls:${tls.id}`;
}
