import type { Registry } from '@bufbuild/protobuf';
import { MethodOptions_IdempotencyLevel } from '@bufbuild/protobuf/wkt';

/**
 * What the descriptors say about side effects: every method they describe, and which of
 * them declare `option idempotency_level = NO_SIDE_EFFECTS` (gRPC's mark for a call that
 * may be cached). A described method without it is taken for a write and not collapsed.
 */
export class DeclaredReads {
  private readonly described = new Set<string>();
  private readonly reads = new Set<string>();

  constructor(registry: Registry | null = null) {
    if (registry !== null) this.learn(registry);
  }

  /** Adds what another registry declares: a backend's own descriptors, learned over server reflection. */
  learn(registry: Registry): void {
    for (const desc of registry) {
      if (desc.kind !== 'service') continue;
      for (const method of desc.methods) {
        const path = `/${desc.typeName}/${method.name}`;
        this.described.add(path);
        if (method.idempotency === MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS) this.reads.add(path);
      }
    }
  }

  /** False only for a described method not declared NO_SIDE_EFFECTS; methods not described are left to the route. */
  allows(method: string): boolean {
    return !this.described.has(method) || this.reads.has(method);
  }

  /** The described methods, split as the collapser treats them: declared reads, and the rest (passed through). */
  get methods(): { reads: string[]; passedThrough: string[] } {
    const reads = [...this.reads].sort();
    const passedThrough = [...this.described].filter((m) => !this.reads.has(m)).sort();
    return { reads, passedThrough };
  }

  get counts(): { described: number; reads: number } {
    return { described: this.described.size, reads: this.reads.size };
  }
}
