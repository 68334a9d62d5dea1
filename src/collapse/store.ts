import type { CachedAnswer } from './cached-answer.js';

/**
 * What a purge drops (or, soft, marks stale): the answers the backend tagged so, the
 * answers to a method (or to every method under a service prefix ending in `/`), the
 * answer of one key, or every answer.
 */
export type PurgeTarget = { tag: string } | { method: string } | { key: string } | { all: true };

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
  /**
   * Drops the answers `target` names, or with `staleAt` marks them no longer fresh from
   * then (a soft purge: served stale while one call refreshes them, as the policy allows);
   * returns how many.
   */
  purge(target: PurgeTarget, staleAt?: number): number;
}
