import type { Observer } from '../call/observer.js';
import { Admission, type AdmissionOptions } from './admission.js';
import type { ConcurrencySpec } from './concurrency-spec.js';

/**
 * Every cluster's Admission, for the whole process: a reload keeps a cluster's (its calls
 * in flight, what its adaptive limit learned) when the cluster keeps its name and has a
 * limit still.
 */
export class Admissions {
  private readonly byCluster = new Map<string, Admission>();

  constructor(
    /** BACKEND_CONCURRENCY: a cluster's limit unless the routes file gives it one. */
    private readonly fallback: ConcurrencySpec,
    private readonly options: AdmissionOptions,
    private readonly observer: Observer,
  ) {}

  /** A configuration's clusters and their `concurrency` settings: the admissions it uses from now on. */
  configure(clusters: readonly string[], specs: Readonly<Record<string, ConcurrencySpec>>): void {
    const kept = new Set<string>();
    for (const cluster of clusters) {
      const spec = Object.hasOwn(specs, cluster) ? specs[cluster]! : this.fallback;
      if (spec === 'off') continue;
      kept.add(cluster);
      const admission = this.byCluster.get(cluster);
      if (admission === undefined) this.byCluster.set(cluster, new Admission(cluster, spec, this.options, this.observer));
      else admission.reconfigure(spec, this.options);
    }
    // Calls under way in one let go still release into it; it is gone once they have.
    for (const cluster of this.byCluster.keys()) if (!kept.has(cluster)) this.byCluster.delete(cluster);
  }

  /** The cluster's admission; null when its concurrency is off. */
  of(cluster: string): Admission | null {
    return this.byCluster.get(cluster) ?? null;
  }

  entries(): IterableIterator<[string, Admission]> {
    return this.byCluster.entries();
  }
}
