import type { ClusterSet } from '../cluster/cluster-set.js';
import type { Reflector } from '../reflection/reflector.js';
import type { RegistryAgent } from '../registry/agent.js';

/** What /ready answers, and why. */
export interface ReadinessAnswer {
  ok: boolean;
  reason: string;
}

/**
 * /ready: ready once each static cluster has a connected endpoint and the endpoints known
 * at start have said which methods are reads (server reflection), until shutdown begins.
 * Endpoint sources that fail and the registry's state are reported, but do not make this
 * sidecar unready: their clusters keep their last lists, and callers reach it anyway.
 */
export class Readiness {
  private draining = false;

  constructor(
    private readonly clusters: () => ClusterSet,
    private readonly reflector: Reflector | null,
    private readonly agent: RegistryAgent | null,
  ) {}

  /** Shutdown began: not ready from now on. */
  drain(): void {
    this.draining = true;
  }

  check(): ReadinessAnswer {
    if (this.draining) return { ok: false, reason: `draining${this.notes()}` };
    const asking = this.reflector?.firstAsks() ?? [];
    const why = this.clusters().notReady() ?? (asking.length === 0 ? null : `asking ${asking.join(', ')} which methods are reads (server reflection)`);
    return why === null ? { ok: true, reason: `ready${this.notes()}` } : { ok: false, reason: `${why}${this.notes()}` };
  }

  private notes(): string {
    const failing = this.clusters().sourcesFailing();
    const sources = failing === null ? '' : `; endpoint sources failing, last lists kept: ${failing}`;
    const agent = this.agent;
    return agent === null ? sources : `${sources}; registry: ${agent.state}${agent.lastError === null ? '' : ` (${agent.lastError})`}`;
  }
}
