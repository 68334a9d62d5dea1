/** What the watch needs of a request being classified. */
export interface Quietable {
  /** When its last bytes arrived (performance.now()). */
  lastDataAt: number;
  /** Cleared by the watch when it looks quiet; set again by any bytes that arrive. */
  busy: boolean;
  /** Called after an I/O poll if no bytes arrived since the watch found it quiet. */
  quiet(): void;
}

/**
 * Finds requests that have gone quiet for `waitMs` without ending. One interval sweeps
 * all of them (every waitMs / 2, only while there are any), instead of a timer per call:
 * a request is found between 1 and 1.5 waits after its last bytes.
 *
 * A busy event loop can delay reading bytes the client sent long ago, so loop lag must
 * not count as the client being quiet: candidates are confirmed in setImmediate, which
 * runs after the next I/O poll has read what is already on the sockets.
 */
export class QuietWatch<T extends Quietable> {
  private readonly waiting = new Set<T>();
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly waitMs: number) {}

  add(item: T): void {
    this.waiting.add(item);
    this.timer ??= setInterval(sweep, Math.max(1, this.waitMs / 2), this).unref();
  }

  delete(item: T): void {
    this.waiting.delete(item);
  }

  /** @internal */
  sweep(): void {
    if (this.waiting.size === 0) {
      clearInterval(this.timer!);
      this.timer = null;
      return;
    }
    const now = performance.now();
    let quiet: T[] | null = null;
    for (const item of this.waiting) {
      if (now - item.lastDataAt < this.waitMs) continue;
      item.busy = false;
      (quiet ??= []).push(item);
    }
    if (quiet !== null) setImmediate(confirm, this, quiet);
  }

  /** @internal */
  confirm(quiet: T[]): void {
    for (const item of quiet) {
      if (!item.busy && this.waiting.delete(item)) item.quiet();
    }
  }
}

function sweep(watch: QuietWatch<Quietable>): void {
  watch.sweep();
}

function confirm(watch: QuietWatch<Quietable>, quiet: Quietable[]): void {
  watch.confirm(quiet);
}
