import type { Invalidation } from './invalidate.js';

/** Invalidations of the same prefixes made at once before pacing starts: a client's few writes in a row each read fresh. */
export const INVALIDATION_BURST = 10;
/** Prefix sets paced at once; past it, a write invalidates without pacing (fresh, just not bounded in rate). */
const MAX_PACED = 10_000;

/** A token bucket per prefix set (a service, or a route's `invalidates`). */
interface Bucket {
  readonly key: string;
  readonly prefixes: readonly string[];
  tokens: number;
  /** When tokens were last added, on performance.now()'s clock. */
  filledAt: number;
  /** A write arrived that no token was left for: applied when the next one comes. */
  pending: boolean;
  timer: NodeJS.Timeout | null;
}

/**
 * Writes empty the answers of the same prefixes at most INVALIDATION_BURST times at once,
 * then once per interval (a token bucket): a client's occasional writes, or a few in a row
 * with reads between, are each followed by a fresh read, but past the burst the writes of
 * an interval are folded into one invalidation at its end. Otherwise any client could
 * empty the cache of a hot key by writing in a loop, and make every one of its readers'
 * calls a backend call. Only an invalidation that dropped something (an answer, a flight)
 * spends a token: writes with no read between them cost nothing, however many. A read
 * after a folded write is at most one interval old.
 */
export class PacedInvalidation implements Invalidation {
  private readonly buckets = new Map<string, Bucket>();
  /** Invalidations made, and writes folded into one made later. */
  readonly counts = { applied: 0, coalesced: 0 };

  constructor(
    private readonly target: Invalidation,
    private readonly intervalMs: number,
  ) {}

  invalidate(prefixes: readonly string[]): number {
    const key = prefixes.length === 1 ? prefixes[0]! : prefixes.join('\n');
    let bucket = this.buckets.get(key);
    if (bucket === undefined) {
      if (this.buckets.size >= MAX_PACED) {
        this.counts.applied++;
        return this.target.invalidate(prefixes);
      }
      bucket = { key, prefixes, tokens: INVALIDATION_BURST, filledAt: performance.now(), pending: false, timer: null };
      this.buckets.set(key, bucket);
    }
    this.refill(bucket);
    let dropped = 0;
    if (bucket.tokens >= 1 && !bucket.pending) {
      dropped = this.apply(bucket);
    } else {
      if (!bucket.pending && bucket.timer !== null) {
        // It was waiting to be full again: now a write waits for its next token, sooner.
        clearTimeout(bucket.timer);
        bucket.timer = null;
      }
      bucket.pending = true;
      this.counts.coalesced++;
    }
    this.schedule(bucket);
    return dropped;
  }

  /** @internal A bucket's timer: a pending write's turn, or the bucket full again and forgotten. */
  tick(bucket: Bucket): void {
    bucket.timer = null;
    this.refill(bucket);
    if (bucket.pending && bucket.tokens >= 1) {
      bucket.pending = false;
      this.apply(bucket);
    }
    if (!bucket.pending && bucket.tokens >= INVALIDATION_BURST) this.buckets.delete(bucket.key);
    else this.schedule(bucket);
  }

  private refill(bucket: Bucket): void {
    const now = performance.now();
    bucket.tokens = Math.min(INVALIDATION_BURST, bucket.tokens + (now - bucket.filledAt) / this.intervalMs);
    bucket.filledAt = now;
  }

  /** One timer per bucket: when a token is there for its pending write, or when it is full. */
  private schedule(bucket: Bucket): void {
    if (bucket.timer !== null) return;
    const missing = bucket.pending ? 1 - bucket.tokens : INVALIDATION_BURST - bucket.tokens;
    bucket.timer = setTimeout(onTick, Math.max(1, Math.ceil(missing * this.intervalMs)), this, bucket).unref();
  }

  private apply(bucket: Bucket): number {
    this.counts.applied++;
    const dropped = this.target.invalidate(bucket.prefixes);
    if (dropped > 0) bucket.tokens--;
    return dropped;
  }
}

function onTick(paced: PacedInvalidation, bucket: Bucket): void {
  paced.tick(bucket);
}
