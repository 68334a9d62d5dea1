/**
 * How long answers kept for errors (stale-if-error) could still stand in for each
 * cluster's backend: the latest end of such a window among the answers stored for it.
 * Readiness reads it, so a sidecar whose backend is down stays in its Service while the
 * cache can still answer for it. An upper bound: an answer may have been evicted or
 * purged since. Keyed by the cluster names of the configuration (a bounded set).
 */
export class OutageCover {
  private readonly ends = new Map<string, number>();

  /** An answer for `cluster` may be served instead of an error until `until` (performance.now()). */
  kept(cluster: string, until: number): void {
    if (until > (this.ends.get(cluster) ?? 0)) this.ends.set(cluster, until);
  }

  /** Until when some kept answer could stand in for `cluster` (performance.now()); 0 when none could. */
  until(cluster: string): number {
    return this.ends.get(cluster) ?? 0;
  }
}
