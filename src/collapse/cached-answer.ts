import type { BackendCall, CallControl } from '../call/call.js';
import type { Recording } from './recording.js';

const NO_TAGS: readonly string[] = [];

/**
 * An answer in the cache: the recorded response, the method it answers (for
 * invalidation), until when it may be used how (set once, by the CachePolicy, when it is
 * kept), and what is known of the backend call that produced it (for logs and trace
 * links). It is also a cache hit's CallControl: nothing to steer.
 */
export class CachedAnswer implements CallControl {
  constructor(
    readonly recording: Recording,
    readonly method: string,
    /** performance.now() until which it is fresh; a soft purge ends it early. */
    public freshUntil: number,
    /** Then until which it is served while one call refreshes it. */
    public staleUntil: number,
    /** Then until which it is served only instead of a transient failure. */
    readonly errorUntil: number,
    readonly backend: BackendCall | null,
    /** What the backend tagged it with (cache-tag, surrogate-key), for a purge by tag. */
    readonly tags: readonly string[] = NO_TAGS,
  ) {}

  /**
   * A soft purge: no longer fresh from `now`; it may still be served while one call
   * refreshes it for as long a window as it had (stale-while-revalidate), and still stands
   * in for errors as before.
   */
  markStale(now: number): void {
    if (this.freshUntil <= now) return;
    const window = this.staleUntil - this.freshUntil;
    this.freshUntil = now;
    this.staleUntil = now + window;
  }

  /** It may stand in for a failure after its revalidation window: a refresh keeps it to fall back on. */
  get keptForErrors(): boolean {
    return this.errorUntil > this.staleUntil;
  }

  abort(): void {}
  pause(): void {}
  resume(): void {}
}
