export interface EjectionOptions {
  /** How long a first ejection lasts. */
  baseMs: number;
  /** The longest an ejection lasts, however many came before it. */
  maxMs: number;
}

interface Ejection {
  /** Ejections in a row: reset by a call the endpoint answers. */
  count: number;
  timer: NodeJS.Timeout | null;
  /** When the current ejection ends (Date.now()). */
  until: number;
}

/**
 * Outlier ejection for one cluster, in the manner of Envoy's: an endpoint that failed
 * sits out baseMs x 2^(n-1) for its n-th ejection in a row (at most maxMs), then is
 * admitted again, or sooner if it answers a call meanwhile. If it fails again at once,
 * the next ejection is twice as long; once it answers a call as an admitted endpoint,
 * its count starts over. The set is bounded by the cluster's
 * endpoints: `keepOnly` forgets those no longer listed.
 */
export class Ejections {
  private readonly records = new Map<string, Ejection>();

  constructor(
    private readonly options: EjectionOptions,
    /** Told when an endpoint is ejected or admitted again. */
    private readonly changed: () => void,
  ) {}

  /** True while `id` sits out. */
  has(id: string): boolean {
    return this.records.get(id)?.timer != null;
  }

  /** When `id`'s ejection ends (Date.now()), or null when it is not out. */
  until(id: string): number | null {
    const record = this.records.get(id);
    return record?.timer != null ? record.until : null;
  }

  /** Ejected endpoints right now. */
  get size(): number {
    let n = 0;
    for (const r of this.records.values()) if (r.timer !== null) n++;
    return n;
  }

  /** Takes `id` out; returns how long for, or null when it is out already. */
  eject(id: string): number | null {
    let record = this.records.get(id);
    if (record === undefined) this.records.set(id, (record = { count: 0, timer: null, until: 0 }));
    if (record.timer !== null) return null;
    const ms = Math.min(this.options.maxMs, this.options.baseMs * 2 ** record.count);
    record.count++;
    record.until = Date.now() + ms;
    record.timer = setTimeout(() => {
      record.timer = null;
      this.changed();
    }, ms).unref();
    this.changed();
    return ms;
  }

  /**
   * The endpoint answered a call. One sitting out (it got the call because every endpoint
   * was out, or it finished one it had) is admitted again at once: it works, and /clusters
   * and the metrics must not say otherwise. Its count is kept, so one that fails again is
   * out twice as long; the next answer starts the count over.
   */
  succeeded(id: string): void {
    if (this.records.size === 0) return;
    const record = this.records.get(id);
    if (record === undefined) return;
    if (record.timer === null) {
      this.records.delete(id);
      return;
    }
    clearTimeout(record.timer);
    record.timer = null;
    this.changed();
  }

  /** Forgets endpoints the cluster no longer lists. */
  keepOnly(ids: ReadonlySet<string>): void {
    for (const [id, record] of this.records) {
      if (ids.has(id)) continue;
      if (record.timer !== null) clearTimeout(record.timer);
      this.records.delete(id);
    }
  }

  clear(): void {
    this.keepOnly(new Set());
  }
}
