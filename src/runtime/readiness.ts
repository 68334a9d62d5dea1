import type { ClusterSet } from '../cluster/cluster-set.js';
import type { OutageCover } from '../collapse/outage-cover.js';
import type { Logger } from '../log/logger.js';
import type { Reflector } from '../reflection/reflector.js';
import type { RegistryAgent } from '../registry/agent.js';

/** What /ready answers, and why. */
export interface ReadinessAnswer {
  ok: boolean;
  /** Ready only because answers kept for errors stand in for a backend that is not connected. */
  degraded: boolean;
  reason: string;
}

/** How often readiness is looked at between probes, so a change is logged when it happens. */
const WATCH_MS = 1000;

/**
 * /ready: ready once each static cluster has a connected endpoint and the endpoints known
 * at start have said which methods are reads (server reflection), until shutdown begins.
 * A cluster that lost its backend keeps corral ready (degraded) while answers kept for
 * errors (stale-if-error) could still stand in for it: taking the pod out of its Service
 * then would keep those answers from the clients they are kept for. Endpoint sources that
 * fail and the registry's state are reported, but do not make this sidecar unready: their
 * clusters keep their last lists, and callers reach it anyway.
 */
export class Readiness {
  private draining = false;
  private degraded = false;
  private watch: NodeJS.Timeout | null = null;

  constructor(
    private readonly clusters: () => ClusterSet,
    private readonly reflector: Reflector | null,
    private readonly agent: RegistryAgent | null,
    private readonly cover: OutageCover | null,
    private readonly logger: Logger,
  ) {}

  /** Looks every second, so entering and leaving the degraded state is logged as it happens. */
  start(): void {
    if (this.cover !== null) this.watch = setInterval(() => this.check(), WATCH_MS).unref();
  }

  /** Shutdown began: not ready from now on. */
  drain(): void {
    this.draining = true;
    if (this.watch !== null) clearInterval(this.watch);
  }

  check(): ReadinessAnswer {
    if (this.draining) return { ok: false, degraded: false, reason: `draining${this.notes()}` };
    const now = performance.now();
    let why: string | null = null;
    const covered: string[] = [];
    for (const { cluster, why: disconnected } of this.clusters().disconnected()) {
      const until = this.cover?.until(cluster) ?? 0;
      if (until <= now) {
        why = disconnected;
        break;
      }
      covered.push(`${disconnected}; answers kept for errors (stale-if-error) stand in for up to ${Math.ceil((until - now) / 1000)}s more`);
    }
    const asking = this.reflector?.firstAsks() ?? [];
    if (why === null && asking.length > 0) why = `asking ${asking.join(', ')} which methods are reads (server reflection)`;
    const degraded = why === null && covered.length > 0;
    this.log(degraded, why, covered);
    if (why !== null) return { ok: false, degraded: false, reason: `${why}${this.notes()}` };
    return { ok: true, degraded, reason: `${degraded ? `ready, degraded: ${covered.join('; ')}` : 'ready'}${this.notes()}` };
  }

  private log(degraded: boolean, why: string | null, covered: string[]): void {
    if (degraded === this.degraded) return;
    this.degraded = degraded;
    if (degraded) this.logger.warn({ clusters: covered }, 'backend down: staying ready while answers kept for errors (stale-if-error) stand in for it');
    else if (why === null) this.logger.info('backend back: no longer degraded');
    else this.logger.warn({ why }, 'answers kept for errors can no longer stand in for the backend: not ready');
  }

  private notes(): string {
    const failing = this.clusters().sourcesFailing();
    const sources = failing === null ? '' : `; endpoint sources failing, last lists kept: ${failing}`;
    const agent = this.agent;
    return agent === null ? sources : `${sources}; registry: ${agent.state}${agent.lastError === null ? '' : ` (${agent.lastError})`}`;
  }
}
