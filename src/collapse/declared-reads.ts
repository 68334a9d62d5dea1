import type { DescMessage, Registry } from '@bufbuild/protobuf';
import { MethodOptions_IdempotencyLevel } from '@bufbuild/protobuf/wkt';
import { closest } from '../names/closest.js';

/**
 * What the descriptors say about side effects: every method they describe, and which of
 * them declare `option idempotency_level = NO_SIDE_EFFECTS` (gRPC's mark for a call that
 * may be cached). A described method without it is taken for a write and not collapsed.
 */
export class DeclaredReads {
  private readonly described = new Set<string>();
  private readonly reads = new Set<string>();
  /** Methods whose response is a stream: their flights are bounded by their callers, not BACKEND_TIMEOUT. */
  private readonly serverStreams = new Set<string>();
  /** Each described method's request message type, for keys that leave fields out (KeyCanon). */
  private readonly inputs = new Map<string, DescMessage>();
  /** Changes with every relearn: what is cached from the descriptors is made again. */
  version = 0;

  constructor(private readonly files: Registry | null = null) {
    if (files !== null) this.learn(files);
  }

  /**
   * What the files say, and what the backends declare now (over server reflection): a
   * backend that came back as a new version may have changed its declarations.
   */
  relearn(learned: Iterable<Registry>): void {
    this.described.clear();
    this.reads.clear();
    this.serverStreams.clear();
    this.inputs.clear();
    this.version++;
    if (this.files !== null) this.learn(this.files);
    for (const registry of learned) this.learn(registry);
  }

  private learn(registry: Registry): void {
    for (const desc of registry) {
      if (desc.kind !== 'service') continue;
      for (const method of desc.methods) {
        const path = `/${desc.typeName}/${method.name}`;
        this.described.add(path);
        this.inputs.set(path, method.input);
        if (method.methodKind === 'server_streaming') this.serverStreams.add(path);
        if (method.idempotency === MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS) this.reads.add(path);
      }
    }
  }

  /** True for a method declared NO_SIDE_EFFECTS. */
  isRead(method: string): boolean {
    return this.reads.has(method);
  }

  /** True for a method the descriptors say answers with a stream. */
  streams(method: string): boolean {
    return this.serverStreams.has(method);
  }

  has(method: string): boolean {
    return this.described.has(method);
  }

  /** A described method's request message type. */
  input(method: string): DescMessage | undefined {
    return this.inputs.get(method);
  }

  /** Every described method's request message type. */
  inputTypes(): Iterable<[string, DescMessage]> {
    return this.inputs.entries();
  }

  /** A described method spelled the same but for case (a typo in a method list), or null. */
  sameButCase(method: string): string | null {
    const lower = method.toLowerCase();
    for (const m of this.described) if (m !== method && m.toLowerCase() === lower) return m;
    return null;
  }

  /**
   * What is wrong with the full method names of a list (COLLAPSER_METHODS, ...) as these
   * descriptors see them: a method that differs from a described one only in case, or
   * that its service, described, does not have. Each names the closest described method.
   * Methods of services the descriptors do not describe are judged only with
   * `wholeService` (what the backends themselves described: a method none of them has).
   */
  misspelled(list: string, entries: Iterable<string>, wholeService = false): string[] {
    const problems: string[] = [];
    for (const entry of entries) {
      if (this.described.has(entry)) continue;
      const cased = this.sameButCase(entry);
      if (cased !== null) {
        problems.push(`${list}: ${entry} differs only in case from the described ${cased}; gRPC method names are case-sensitive`);
        continue;
      }
      const service = entry.slice(0, entry.lastIndexOf('/') + 1);
      const siblings = [...this.described].filter((m) => m.startsWith(service));
      const candidates = siblings.length > 0 ? siblings : this.sameServiceButCase(service);
      if (candidates.length > 0) {
        problems.push(`${list}: the descriptors describe no ${entry}; did you mean ${closest(entry, candidates)!.name}?`);
      } else if (wholeService) {
        const near = closest(entry, this.described);
        if (near !== null) problems.push(`${list}: no backend describes ${entry} (the closest described is ${near.name}): a typo, or a backend without server reflection serves it`);
      }
    }
    return problems;
  }

  private sameServiceButCase(service: string): string[] {
    const lower = service.toLowerCase();
    return [...this.described].filter((m) => m.toLowerCase().startsWith(lower));
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
