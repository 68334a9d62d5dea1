import type { BackendCall, CallControl } from '../call/call.js';
import type { Recording } from './recording.js';

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
    /** performance.now() until which it is fresh. */
    readonly freshUntil: number,
    /** Then until which it is served while one call refreshes it. */
    readonly staleUntil: number,
    /** Then until which it is served only instead of a transient failure. */
    readonly errorUntil: number,
    readonly backend: BackendCall | null,
  ) {}

  /** It may stand in for a failure after its revalidation window: a refresh keeps it to fall back on. */
  get keptForErrors(): boolean {
    return this.errorUntil > this.staleUntil;
  }

  abort(): void {}
  pause(): void {}
  resume(): void {}
}
