import type { BackendCall } from '../call/call.js';
import { CachedAnswer } from './cached-answer.js';
import type { Recording } from './recording.js';

/** How long answers are kept, and how they may be served once they are no longer fresh. */
export interface CacheSettings {
  /** How long an OK answer is fresh (COLLAPSER_CACHE_DURATION, a route's cache_ttl_ms). */
  ttlMs: number;
  /** After that, served at once while one background call refreshes it (RFC 5861 stale-while-revalidate). */
  staleWhileRevalidateMs: number;
  /** After that, served instead of a transient failure of the flight that would refresh it (RFC 5861 stale-if-error). */
  staleIfErrorMs: number;
  /** Answers ending with these gRPC codes are cached this long too (negative caching), by code. */
  statusTtls: ReadonlyMap<number, number>;
  /** The most a backend's max-age may set (COLLAPSER_CACHE_MAX_TTL). */
  maxTtlMs: number;
}

/** The statuses that say "try again later", not "this is the answer": a stale answer may stand in for them. */
const TRANSIENT = new Set([2 /* UNKNOWN */, 4 /* DEADLINE_EXCEEDED */, 8 /* RESOURCE_EXHAUSTED */, 13 /* INTERNAL */, 14 /* UNAVAILABLE */]);

export function isTransient(code: number): boolean {
  return TRANSIENT.has(code);
}

/** An answer's lifetimes, as offsets from when it landed. */
export interface Lifetimes {
  freshMs: number;
  staleWhileRevalidateMs: number;
  staleIfErrorMs: number;
}

/** The directives of RFC 9111's cache-control that a gRPC backend may send in its headers or trailers. */
interface CacheControl {
  maxAgeMs?: number;
  noStore: boolean;
  staleWhileRevalidateMs?: number;
  staleIfErrorMs?: number;
}

function seconds(value: string | undefined): number | undefined {
  if (value === undefined || !/^\d{1,9}$/.test(value)) return undefined;
  return Number(value) * 1000;
}

/** The `cache-control` of an answer (its headers, else its trailers), or null when it has none. */
function cacheControl(recording: Recording): CacheControl | null {
  const raw = recording.headers?.['cache-control'] ?? recording.trailers?.['cache-control'];
  if (raw === undefined) return null;
  const control: CacheControl = { noStore: false };
  for (const part of String(raw).toLowerCase().split(',')) {
    const [name, value] = part.trim().split('=', 2) as [string, string | undefined];
    const v = value?.replace(/^"|"$/g, '');
    if (name === 'no-store' || name === 'private' || name === 'no-cache') control.noStore = true;
    else if (name === 'max-age') control.maxAgeMs = seconds(v);
    else if (name === 'stale-while-revalidate') control.staleWhileRevalidateMs = seconds(v);
    else if (name === 'stale-if-error') control.staleIfErrorMs = seconds(v);
  }
  return control;
}

/**
 * How long a landed answer is kept and how it may be served: an OK answer for the TTL (or
 * the backend's max-age, capped), an answer with a listed status for that status's time,
 * then the windows (the policy's, or the backend's own directives). Null: not kept (an
 * unlisted status, no-store or private, or nothing to keep it for).
 */
function lifetimes(recording: Recording, policy: CacheSettings): Lifetimes | null {
  const status = Number(recording.status);
  if (recording.status === undefined || Number.isNaN(status)) return null;
  const control = cacheControl(recording);
  if (control?.noStore) return null;
  let freshMs: number;
  if (status === 0) freshMs = control?.maxAgeMs === undefined ? policy.ttlMs : Math.min(control.maxAgeMs, policy.maxTtlMs);
  else {
    const ttl = policy.statusTtls.get(status);
    if (ttl === undefined) return null;
    freshMs = ttl;
  }
  // Only an OK answer stands in for a later one: a cached error is served while fresh only.
  const windows = status === 0;
  const life = {
    freshMs,
    staleWhileRevalidateMs: windows ? (control?.staleWhileRevalidateMs ?? policy.staleWhileRevalidateMs) : 0,
    staleIfErrorMs: windows ? (control?.staleIfErrorMs ?? policy.staleIfErrorMs) : 0,
  };
  return totalMs(life) > 0 ? life : null;
}

/** How long the cache keeps an answer: fresh, then served while revalidating, then only instead of an error. */
function totalMs(life: Lifetimes): number {
  return life.freshMs + life.staleWhileRevalidateMs + life.staleIfErrorMs;
}

/** The most tags an answer keeps, and the longest tag: what a backend sends is bounded like the rest. */
const MAX_TAGS = 32;
const MAX_TAG_LENGTH = 128;
const TAG = /^[\x21-\x7e]+$/;

/**
 * The tags a backend gave its answer for purging by tag, from the response metadata
 * `cache-tag` (Cloudflare's name) or `surrogate-key` (Fastly's), in its headers or
 * trailers: space- or comma-separated; at most MAX_TAGS of printable ASCII, each at most
 * MAX_TAG_LENGTH long; others are left out.
 */
export function cacheTags(recording: Recording): readonly string[] {
  const tags = new Set<string>();
  for (const fields of [recording.headers, recording.trailers]) {
    if (fields === null) continue;
    for (const name of ['cache-tag', 'surrogate-key']) {
      const value = fields[name];
      if (value === undefined) continue;
      for (const tag of String(value).split(/[\s,]+/)) {
        if (tag !== '' && tag.length <= MAX_TAG_LENGTH && TAG.test(tag) && tags.size < MAX_TAGS) tags.add(tag);
      }
    }
  }
  return tags.size === 0 ? [] : [...tags];
}

/** How a cached answer may be used now. */
export type Usability = 'fresh' | 'stale' | 'error_only' | 'unusable';

/**
 * The one place that decides what the cache keeps and how a kept answer may be used
 * (Envoy's CachePolicy: cacheability and usability; the key is KeyMaker's): a landed
 * answer becomes an entry with its windows, and an entry is, at a given time, fresh
 * (served as it is), stale (served while one call refreshes it), kept only for errors
 * (served if the flight that replaces it fails transiently), or of no use.
 */
export class CachePolicy {
  constructor(readonly settings: CacheSettings) {}

  /** The cache entry a landed answer makes, and how long the store keeps it; null when it is not kept. */
  entry(recording: Recording, method: string, backend: BackendCall | null, now: number): { answer: CachedAnswer; ttlMs: number } | null {
    const life = lifetimes(recording, this.settings);
    if (life === null) return null;
    const freshUntil = now + life.freshMs;
    const staleUntil = freshUntil + life.staleWhileRevalidateMs;
    const kept = backend === null ? null : { endpoint: backend.endpoint, retries: backend.retries, traceparent: backend.traceparent };
    return { answer: new CachedAnswer(recording, method, freshUntil, staleUntil, staleUntil + life.staleIfErrorMs, kept, cacheTags(recording)), ttlMs: totalMs(life) };
  }

  usability(answer: CachedAnswer, now: number): Usability {
    return now < answer.freshUntil ? 'fresh' : now < answer.staleUntil ? 'stale' : now < answer.errorUntil ? 'error_only' : 'unusable';
  }
}
