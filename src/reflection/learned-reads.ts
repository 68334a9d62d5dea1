import type { Registry } from '@bufbuild/protobuf';

/**
 * Descriptors learned from the backends over server reflection, kept for the process:
 * each configuration's routing reads what is known when it is built and is told of what
 * is learned after, so a reload does not forget and a late backend still counts.
 */
export class LearnedDescriptors {
  private readonly registries: Registry[] = [];
  private readonly listeners = new Set<(registry: Registry) => void>();

  add(registry: Registry): void {
    this.registries.push(registry);
    for (const listener of this.listeners) listener(registry);
  }

  /** Calls `listener` with every registry learned so far and each one learned later; returns the unsubscribe. */
  follow(listener: (registry: Registry) => void): () => void {
    for (const registry of this.registries) listener(registry);
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
