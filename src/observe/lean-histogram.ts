/**
 * A Prometheus histogram whose observation is a bucket search and three additions.
 * prom-client's Histogram resolves and hashes its labels and allocates on every
 * observe(), which showed in the per-call allocation (docs/performance.md); this one is
 * registered on prom-client's Registry like any metric and rendered by it at scrape time.
 * A label set's series is made once and kept by the caller.
 */
export class LeanHistogram<L extends string = never> {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly all = new Map<string, HistogramSeries>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly bounds: readonly number[],
  ) {}

  /** The series of these label values (made on first use; label values come from the configuration, not from clients). */
  series(labels: Record<L, string>): HistogramSeries {
    const id = JSON.stringify(labels);
    let s = this.all.get(id);
    if (s === undefined) this.all.set(id, (s = new HistogramSeries(this.bounds, labels)));
    return s;
  }

  /** What prom-client's Registry renders: the metric in its own `get()` shape. */
  get(): { name: string; help: string; type: string; aggregator: string; values: Array<{ labels: Record<string, string | number>; value: number; metricName: string }> } {
    const values = [];
    for (const s of this.all.values()) {
      let cumulative = 0;
      for (let i = 0; i < this.bounds.length; i++) {
        cumulative += s.counts[i]!;
        values.push({ labels: { ...s.labels, le: this.bounds[i]! }, value: cumulative, metricName: `${this.name}_bucket` });
      }
      values.push({ labels: { ...s.labels, le: '+Inf' }, value: s.count, metricName: `${this.name}_bucket` });
      values.push({ labels: s.labels, value: s.sum, metricName: `${this.name}_sum` });
      values.push({ labels: s.labels, value: s.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  reset(): void {
    this.all.clear();
  }
}

export class HistogramSeries {
  /** Observations per bucket (not cumulative); the last one is above every bound. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(
    private readonly bounds: readonly number[],
    readonly labels: Readonly<Record<string, string>>,
  ) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    this.counts[i]!++;
    this.sum += value;
    this.count++;
  }
}
