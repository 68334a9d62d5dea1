import type { Registry } from '@bufbuild/protobuf';
import { MethodOptions_IdempotencyLevel } from '@bufbuild/protobuf/wkt';

/**
 * Descriptors learned from the backends over server reflection, one per endpoint (the
 * latest answer), kept for the process: each configuration's routing reads what is known
 * when it is built and is told when it changes, so a reload does not forget and a late
 * backend still counts. Bounded by the endpoints listed now: one that leaves is forgotten.
 */
export class LearnedDescriptors {
  private readonly byEndpoint = new Map<string, { cluster: string; registry: Registry }>();
  private readonly listeners = new Set<(registries: Iterable<Registry>) => void>();

  /** What `address` (of `cluster`) answered; replaces what it answered before. */
  set(cluster: string, address: string, registry: Registry): void {
    this.byEndpoint.set(address, { cluster, registry });
    this.changed();
  }

  /** Per endpoint: its cluster and the methods it declares NO_SIDE_EFFECTS (for /config_dump). */
  *endpoints(): Iterable<{ cluster: string; endpoint: string; reads: string[] }> {
    for (const [endpoint, { cluster, registry }] of this.byEndpoint) yield { cluster, endpoint, reads: declaredReads(registry) };
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

/** The full names of the methods a registry declares idempotency_level = NO_SIDE_EFFECTS. */
export function declaredReads(registry: Registry): string[] {
  const reads: string[] = [];
  for (const desc of registry) {
    if (desc.kind !== 'service') continue;
    for (const m of desc.methods) if (m.idempotency === MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS) reads.push(`/${desc.typeName}/${m.name}`);
  }
  return reads;
}
