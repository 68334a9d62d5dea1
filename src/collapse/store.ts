import type { CachedAnswer } from './cached-answer.js';

/**
 * Where completed responses are kept for reuse: the collapser asks it before leading a
 * flight. ResponseCache (an in-process, byte-bounded LRU) is the one store today; a store
 * shared by a fleet of sidecars would be another.
 */
export interface ResponseStore {
  get(key: string): CachedAnswer | undefined;
  /** Keeps an answer for `ttlMs` (the store's default when undefined). */
  set(key: string, answer: CachedAnswer, ttlMs: number | undefined): void;
  /** Drops every response to a method under one of the prefixes (a write made them stale); returns how many. */
  invalidate(prefixes: readonly string[]): number;
}
