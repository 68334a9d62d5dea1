import type { Registry } from '@bufbuild/protobuf';
import { DeclaredReads } from '../collapse/declared-reads.js';

/**
 * Descriptors learned from the backends over server reflection, one per endpoint (the
 * latest answer), kept for the process: each configuration's routing reads what is known
 * when it is built and is told when it changes, so a reload does not forget and a late
 * backend still counts. Bounded by the endpoints listed now: one that leaves is forgotten.
 */
export class LearnedDescriptors {
  private readonly byEndpoint = new Map<string, { cluster: string; registry: Registry; declared: DeclaredReads }>();
  private readonly listeners = new Set<(registries: Iterable<Registry>) => void>();

  /** What `address` (of `cluster`) answered; replaces what it answered before. Returns what that answer declares. */
  set(cluster: string, address: string, registry: Registry): DeclaredReads {
    const declared = new DeclaredReads(registry);
    this.byEndpoint.set(address, { cluster, registry, declared });
    this.changed();
    return declared;
  }

  /** Per endpoint: its cluster and the methods it declares NO_SIDE_EFFECTS (for /config_dump). */
  *endpoints(): Iterable<{ cluster: string; endpoint: string; reads: string[] }> {
    for (const [endpoint, { cluster, declared }] of this.byEndpoint) yield { cluster, endpoint, reads: declared.methods.reads };
  }

  forget(address: string): void {
    if (this.byEndpoint.delete(address)) this.changed();
  }

  /** Calls `listener` with every registry known now, and again each time they change; returns the unsubscribe. */
  follow(listener: (registries: Iterable<Registry>) => void): () => void {
    listener(this.registries());
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private changed(): void {
    for (const listener of this.listeners) listener(this.registries());
  }

  private *registries(): Iterable<Registry> {
    for (const { registry } of this.byEndpoint.values()) yield registry;
  }
}
