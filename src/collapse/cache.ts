import { LRUCache } from 'lru-cache';
import { underAny } from './method-set.js';
import type { CachedAnswer } from './cached-answer.js';
import type { PurgeTarget, ResponseStore } from './store.js';

export interface ResponseCacheOptions {
  /** How long a response stays fresh, in ms, unless set() says otherwise; also paces the sweep of stale entries. */
  ttlMs: number;
  /** Bound on the bytes all entries hold together. */
  maxBytes: number;
  /** Bound on one entry; a larger response is not cached. */
  maxEntryBytes: number;
  /** Clock for TTLs; performance by default (tests pass their own). */
  clock?: { now(): number };
}

/**
 * Heap an entry costs beyond its header text and body: the Recording, node's header
 * objects, the key and lru-cache's slots, measured with --expose-gc (docs/performance.md).
 * Without it the cache's bound did not bound memory.
 */
export const ENTRY_OVERHEAD_BYTES = 1024;

/**
 * Completed OK responses by key, for a short TTL, bounded in bytes overall and per
 * entry. Stale entries are dropped when read, when space is needed, and by one sweep
 * per TTL (no timer per entry), so a stream of distinct keys does not fill the bound
 * with expired answers.
 */
export class ResponseCache implements ResponseStore {
  private readonly lru: LRUCache<string, CachedAnswer>;
  private readonly sweeper: NodeJS.Timeout;
  /**
   * Keys by method, so a write can drop what it made stale; bounded by the entries. A
   * method with one entry holds its key alone: a Set per method cost ~350 bytes an entry
   * where every key had a method of its own.
   */
  private readonly byMethod = new Map<string, string | Set<string>>();
  /** Keys by the tags the backend gave their answers (cache-tag, surrogate-key); bounded by the entries and their tags. */
  private readonly byTag = new Map<string, Set<string>>();

  constructor(options: ResponseCacheOptions) {
    this.lru = new LRUCache<string, CachedAnswer>({
      ttl: options.ttlMs,
      maxSize: options.maxBytes,
      maxEntrySize: Math.min(options.maxEntryBytes, options.maxBytes),
      sizeCalculation: (answer) => answer.recording.bytes + ENTRY_OVERHEAD_BYTES,
      ttlAutopurge: false,
      ...(options.clock ? { perf: options.clock, ttlResolution: 0 } : {}),
      updateAgeOnGet: false,
      dispose: (answer, key) => {
        this.unindex(answer.method, key);
        for (const tag of answer.tags) this.untag(tag, key);
      },
    });
    const sweepMs = Math.min(1000, Math.max(100, options.ttlMs));
    this.sweeper = setInterval(() => this.lru.purgeStale(), sweepMs).unref();
  }

  /** Stops the sweep. */
  close(): void {
    clearInterval(this.sweeper);
  }

  get(key: string): CachedAnswer | undefined {
    return this.lru.get(key);
  }

  /** Caches an answer; `ttlMs` overrides the default TTL (its windows, as the CachePolicy set them). */
  set(key: string, answer: CachedAnswer, ttlMs?: number): void {
    answer.recording.compact(ENTRY_OVERHEAD_BYTES);
    const method = answer.method;
    if (ttlMs === undefined) this.lru.set(key, answer);
    else this.lru.set(key, answer, { ttl: ttlMs });
    if (!this.lru.has(key)) return; // larger than an entry may be
    for (const tag of answer.tags) {
      let keys = this.byTag.get(tag);
      if (keys === undefined) this.byTag.set(tag, (keys = new Set()));
      keys.add(key);
    }
    const keys = this.byMethod.get(method);
    if (keys === undefined) this.byMethod.set(method, key);
    else if (typeof keys === 'string') {
      if (keys !== key) this.byMethod.set(method, new Set([keys, key]));
    } else keys.add(key);
  }

  /** Drops every response to a method under one of the prefixes; returns how many. */
  invalidate(prefixes: readonly string[]): number {
    const stale: string[] = [];
    for (const [method, keys] of this.byMethod) {
      if (!underAny(method, prefixes)) continue;
      if (typeof keys === 'string') stale.push(keys);
      else stale.push(...keys);
    }
    for (const key of stale) this.lru.delete(key);
    return stale.length;
  }

  purge(target: PurgeTarget, staleAt?: number): number {
    // Gathered first (no spread: a purge of everything may name tens of thousands), then
    // purged: deleting disposes of an entry, which changes the indexes being read.
    const keys: string[] = [];
    const add = (from: Iterable<string>) => {
      for (const key of from) keys.push(key);
    };
    if ('all' in target) add(this.lru.keys());
    else if ('key' in target) {
      if (this.lru.has(target.key)) keys.push(target.key);
    } else if ('tag' in target) add(this.byTag.get(target.tag) ?? []);
    else {
      const prefix = target.method.endsWith('/') ? [target.method] : null;
      for (const [method, indexed] of this.byMethod) {
        if (prefix === null ? method !== target.method : !underAny(method, prefix)) continue;
        if (typeof indexed === 'string') keys.push(indexed);
        else add(indexed);
      }
    }
    let purged = 0;
    for (const key of keys) {
      if (staleAt === undefined) {
        if (this.lru.delete(key)) purged++;
        continue;
      }
      const answer = this.lru.peek(key);
      if (answer === undefined) continue;
      answer.markStale(staleAt);
      purged++;
    }
    return purged;
  }

  private untag(tag: string, key: string): void {
    const keys = this.byTag.get(tag);
    if (keys === undefined) return;
    keys.delete(key);
    if (keys.size === 0) this.byTag.delete(tag);
  }

  private unindex(method: string, key: string): void {
    const keys = this.byMethod.get(method);
    if (keys === undefined) return;
    if (typeof keys === 'string') {
      if (keys === key) this.byMethod.delete(method);
      return;
    }
    keys.delete(key);
    if (keys.size === 1) this.byMethod.set(method, keys.values().next().value!);
  }

  get entries(): number {
    return this.lru.size;
  }

  get bytes(): number {
    return this.lru.calculatedSize;
  }

  /** The byte bound. */
  get maxBytes(): number {
    return this.lru.maxSize;
  }
}
