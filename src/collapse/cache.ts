import { LRUCache } from 'lru-cache';
import type { Recording } from './recording.js';

export interface ResponseCacheOptions {
  /** How long a response stays fresh, in ms. */
  ttlMs: number;
  /** Bound on the bytes all entries hold together. */
  maxBytes: number;
  /** Bound on one entry; a larger response is not cached. */
  maxEntryBytes: number;
  /** Clock for TTLs; performance by default (tests pass their own). */
  clock?: { now(): number };
}

/**
 * Completed OK responses by key, for a short TTL, bounded in bytes overall and per
 * entry. Stale entries are dropped when read or when space is needed, never by timers.
 */
export class ResponseCache {
  private readonly lru: LRUCache<string, Recording>;

  constructor(options: ResponseCacheOptions) {
    this.lru = new LRUCache<string, Recording>({
      ttl: options.ttlMs,
      maxSize: options.maxBytes,
      maxEntrySize: Math.min(options.maxEntryBytes, options.maxBytes),
      sizeCalculation: (recording) => Math.max(1, recording.bytes),
      ttlAutopurge: false,
      ...(options.clock ? { perf: options.clock, ttlResolution: 0 } : {}),
      updateAgeOnGet: false,
    });
  }

  get(key: string): Recording | undefined {
    return this.lru.get(key);
  }

  set(key: string, recording: Recording): void {
    this.lru.set(key, recording);
  }

  get entries(): number {
    return this.lru.size;
  }

  get bytes(): number {
    return this.lru.calculatedSize;
  }
}
