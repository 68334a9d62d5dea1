import { METHOD_ENTRY } from '../spec/method-list.js';
import type { PurgeLog } from './purge-log.js';
import type { PurgeTarget, ResponseStore } from './store.js';

/** How an answer was purged, for the metrics: by what the purge named, and whether it only marked it stale. */
export type PurgeHow = 'tag' | 'method' | 'key' | 'all';

/** A purge as asked for: what it names, and whether it only marks the answers stale. */
export interface PurgeRequest {
  target: PurgeTarget;
  soft: boolean;
}

const KEY_HEX = /^[0-9a-f]{64}$/;

/**
 * Reads `POST /cache/purge?...`: exactly one of `tag=`, `method=` (a full method name, or
 * a service prefix ending in `/`), `key=` (as /flights shows it) or `all=true`, and
 * `soft=true` to mark the answers stale instead of dropping them. Returns the message
 * that says what is wrong otherwise.
 */
export function parsePurge(params: URLSearchParams): PurgeRequest | string {
  const named = ['tag', 'method', 'key', 'all'].filter((p) => params.has(p));
  const unknown = [...params.keys()].filter((p) => !['tag', 'method', 'key', 'all', 'soft'].includes(p));
  if (unknown.length > 0) return `unknown parameter ${unknown.join(', ')}: expected one of tag=, method=, key=, all=true, and soft=true`;
  if (named.length !== 1) return 'expected exactly one of tag=, method= (a method or a service prefix ending in /), key= (as /flights shows it) or all=true';
  const soft = params.get('soft');
  if (soft !== null && soft !== 'true' && soft !== 'false') return `soft='${soft}': expected true or false`;
  const value = params.get(named[0]!)!;
  let target: PurgeTarget;
  switch (named[0]) {
    case 'tag':
      if (value === '' || value.length > 128) return 'tag= expects a tag as the backend sent it (cache-tag, surrogate-key)';
      target = { tag: value };
      break;
    case 'method':
      if (!METHOD_ENTRY.test(value)) return `method='${value}': expected /pkg.Service/Method or a service prefix /pkg.Service/`;
      target = { method: value };
      break;
    case 'key':
      if (!KEY_HEX.test(value)) return `key='${value}': expected the 64 hex digits /flights shows`;
      target = { key: Buffer.from(value, 'hex').toString('latin1') };
      break;
    default:
      if (value !== 'true') return `all='${value}': expected all=true`;
      target = { all: true };
  }
  return { target, soft: soft === 'true' };
}

/** What a purge is by: the kind of its target. */
export function purgeHow(target: PurgeTarget): PurgeHow {
  return 'tag' in target ? 'tag' : 'method' in target ? 'method' : 'key' in target ? 'key' : 'all';
}

/**
 * Purging the cache (Varnish's purge and ban, Fastly's surrogate keys and soft purge,
 * nginx's proxy_cache_purge): drops the answers a purge names, or marks them stale, and
 * records it so that a flight under way cannot put an answer it purged back.
 */
export class CachePurge {
  /** Answers purged, by how and whether only marked stale. */
  readonly counts: Record<`${PurgeHow} ${'hard' | 'soft'}`, number> = {
    'tag hard': 0, 'tag soft': 0, 'method hard': 0, 'method soft': 0, 'key hard': 0, 'key soft': 0, 'all hard': 0, 'all soft': 0,
  };

  constructor(
    private readonly cache: ResponseStore | null,
    private readonly log: PurgeLog,
  ) {}

  /** Applies a purge here; returns how many answers it dropped or marked. */
  purge({ target, soft }: PurgeRequest): number {
    const now = performance.now();
    this.log.record(target, now);
    const purged = this.cache?.purge(target, soft ? now : undefined) ?? 0;
    this.counts[`${purgeHow(target)} ${soft ? 'soft' : 'hard'}`] += purged;
    return purged;
  }
}
