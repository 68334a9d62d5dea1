import type { Metadata } from '../call/call.js';
import type { Endpoint } from '../discovery/endpoint.js';
import type { Picker } from './picker.js';
import { RoundRobinPicker } from './round-robin.js';

/** Points per endpoint on the ring: enough for an even spread (~±10% at 100) without a large ring. */
export const POINTS_PER_ENDPOINT = 160;

/** FNV-1a, 32 bits: fast, no allocation, and good enough to place keys on a ring. */
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  // Final avalanche: FNV alone clusters keys that differ only at the end.
  return mix32(h);
}

/** murmur3's 32-bit finalizer (fmix32): every input bit moves every output bit. */
export function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Sticky sessions by a header, with consistent hashing (a ring hash, as Envoy's
 * RING_HASH): the same header value always lands on the same endpoint while it stays,
 * and when an endpoint leaves only its keys move. The ring is built from endpoint ids,
 * so it does not depend on the order the endpoints were listed in. A call without the
 * header is balanced round robin.
 */
export class RingHashPicker implements Picker {
  private readonly points: Uint32Array;
  private readonly owners: Endpoint[];
  private readonly fallback: RoundRobinPicker;

  constructor(
    endpoints: readonly Endpoint[],
    private readonly header: string,
  ) {
    const ring: Array<{ hash: number; endpoint: Endpoint }> = [];
    for (const endpoint of endpoints) {
      for (let i = 0; i < POINTS_PER_ENDPOINT; i++) ring.push({ hash: fnv1a(`${endpoint.id}#${i}`), endpoint });
    }
    ring.sort((x, y) => x.hash - y.hash || (x.endpoint.id < y.endpoint.id ? -1 : 1));
    this.points = Uint32Array.from(ring, (p) => p.hash);
    this.owners = ring.map((p) => p.endpoint);
    this.fallback = new RoundRobinPicker(endpoints);
  }

  pick(headers: Metadata): Endpoint {
    const value = headers[this.header];
    if (value === undefined) return this.fallback.pick();
    return this.owner(typeof value === 'string' ? value : value.join(','));
  }

  /** The endpoint that owns a key: the first point at or after its hash, wrapping around. */
  owner(key: string): Endpoint {
    const h = fnv1a(key);
    let lo = 0;
    let hi = this.points.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.points[mid]! < h) lo = mid + 1;
      else hi = mid;
    }
    return this.owners[lo === this.points.length ? 0 : lo]!;
  }
}
