import type { Endpoint, Resolution, Resolver, ResolverHealth } from './endpoint.js';

/** A fixed list of addresses; the address is each endpoint's id. */
export class StaticResolver implements Resolver {
  readonly kind = 'static';
  private readonly endpoints: readonly Endpoint[];
  health: ResolverHealth = { lastUpdateAt: null, lastError: null };

  constructor(addresses: readonly string[]) {
    this.endpoints = [...new Set(addresses)].map((address) => ({ id: address, address }));
  }

  start(update: (resolution: Resolution) => void): void {
    this.health = { lastUpdateAt: Date.now(), lastError: null };
    update({ endpoints: this.endpoints });
  }

  refresh(): void {}

  stop(): void {}
}
