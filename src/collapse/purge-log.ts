import type { PurgeTarget } from './store.js';

/** Purges remembered per kind; past it the oldest goes, and flights older than it are not cached. */
const KEEP = 1024;

/**
 * When each recent purge happened, so that a flight under way when a purge arrives does not
 * put the purged answer back (groupcache's known race): a flight that started before a
 * purge that names its method, its key or one of its answer's tags, or before a purge of
 * everything, lands uncached. One comparison per landing while no purge is recent.
 * Bounded: when a kind holds KEEP purges the oldest is forgotten, and every flight that
 * started before it counts as purged (it can only be cached less).
 */
export class PurgeLog {
  private last = -Infinity;
  private all = -Infinity;
  private floor = -Infinity;
  private readonly tags = new Map<string, number>();
  private readonly methods = new Map<string, number>();
  private readonly keys = new Map<string, number>();

  record(target: PurgeTarget, at: number): void {
    this.last = at;
    if ('all' in target) this.all = at;
    else if ('tag' in target) this.remember(this.tags, target.tag, at);
    else if ('key' in target) this.remember(this.keys, target.key, at);
    else this.remember(this.methods, target.method, at);
  }

  /** Whether a flight that started at `startedAt` for `method` and `key`, whose answer carries `tags`, was purged since. */
  covers(startedAt: number, method: string, key: string, tags: readonly string[]): boolean {
    if (startedAt > this.last) return false;
    if (startedAt <= this.floor || startedAt <= this.all) return true;
    if (startedAt <= (this.keys.get(key) ?? -Infinity)) return true;
    for (const tag of tags) if (startedAt <= (this.tags.get(tag) ?? -Infinity)) return true;
    for (const [purged, at] of this.methods) {
      if (startedAt <= at && (purged === method || (purged.endsWith('/') && method.startsWith(purged)))) return true;
    }
    return false;
  }

  private remember(kind: Map<string, number>, name: string, at: number): void {
    kind.delete(name);
    kind.set(name, at);
    if (kind.size <= KEEP) return;
    const [oldest, when] = kind.entries().next().value!;
    kind.delete(oldest);
    this.floor = Math.max(this.floor, when);
  }
}
