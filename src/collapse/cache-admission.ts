/** Slots of the use counts: 2^20 one-byte counters (1 MiB), addressed by 20 bits of the key's digest. */
const SLOT_BITS = 20;
/** How long uses count: the counts start again from zero after this. */
const WINDOW_MS = 10_000;

/**
 * nginx's `proxy_cache_min_uses` (COLLAPSER_CACHE_MIN_USES): an answer is cached only once
 * its key has been asked for this many times (leaders and followers, within a window of
 * 10 s). Unique keys, asked once, then never enter the cache: their answers are not kept
 * only to be collected, which on a unique-key load was a sixth of the throughput
 * (docs/performance.md). Herds are unaffected: their followers count.
 *
 * The counts are one byte per slot of a fixed table indexed by the key's digest: nothing
 * is allocated per call and nothing grows; keys that share a slot count together, which
 * can only admit an answer early.
 */
export class CacheAdmission {
  private readonly uses = new Uint8Array(1 << SLOT_BITS);

  constructor(private readonly minUses: number) {
    // One table for the process: its counts start again every window (no clock read per call).
    setInterval(() => this.uses.fill(0), WINDOW_MS).unref();
  }

  /** A caller asked for the key. */
  asked(key: string): void {
    const i = slot(key);
    if (this.uses[i]! < 255) this.uses[i]!++;
  }

  /** Whether the key's answer may be cached. */
  admits(key: string): boolean {
    return this.uses[slot(key)]! >= this.minUses;
  }
}

/** 20 bits of the key: its first characters are digest bytes (the key is a binary SHA-256). */
function slot(key: string): number {
  return ((key.charCodeAt(0) << 12) | (key.charCodeAt(1) << 4) | (key.charCodeAt(2) >> 4)) & ((1 << SLOT_BITS) - 1);
}
