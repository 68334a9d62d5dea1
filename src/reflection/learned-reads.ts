import type { Registry } from '@bufbuild/protobuf';

/**
 * Descriptors learned from the backends over server reflection, one per endpoint (the
 * latest answer), kept for the process: each configuration's routing reads what is known
 * when it is built and is told when it changes, so a reload does not forget and a late
 * backend still counts. Bounded by the endpoints listed now: one that leaves is forgotten.
 */
export class LearnedDescriptors {
  private readonly byEndpoint = new Map<string, Registry>();
  private readonly listeners = new Set<(registries: Iterable<Registry>) => void>();

  /** What `address` answered; replaces what it answered before. */
  set(address: string, registry: Registry): void {
    this.byEndpoint.set(address, registry);
    this.changed();
  }

  forget(address: string): void {
    if (this.byEndpoint.delete(address)) this.changed();
  }

  /** Calls `listener` with every registry known now, and again each time they change; returns the unsubscribe. */
  follow(listener: (registries: Iterable<Registry>) => void): () => void {
    listener(this.byEndpoint.values());
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private changed(): void {
    for (const listener of this.listeners) listener(this.byEndpoint.values());
  }
}
