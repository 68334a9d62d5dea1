/** Retries allowed as a share of a cluster's calls under way, and at least this many at once (Envoy's retry_budget). */
const BUDGET_RATIO = 0.2;
const MIN_RETRIES = 3;

/**
 * How many of a cluster's calls may be retries at once: at most 20% of the calls under
 * way, and 3 whatever the load. When a whole cluster fails, each call gets its first
 * attempt and only a few get more, so corral's retries never multiply an outage.
 */
export class RetryBudget {
  /** Calls under way (each counted once, whatever its attempts). */
  private active = 0;
  /** Of those, calls that have been retried. */
  private retrying = 0;

  constructor(
    private readonly ratio = BUDGET_RATIO,
    private readonly min = MIN_RETRIES,
  ) {}

  started(): void {
    this.active++;
  }

  /** A call's first retry: true, and it counts as retrying until it ends, while the budget allows. */
  retry(): boolean {
    if (this.retrying >= Math.max(this.min, this.ratio * this.active)) return false;
    this.retrying++;
    return true;
  }

  ended(retried: boolean): void {
    this.active--;
    if (retried) this.retrying--;
  }
}
