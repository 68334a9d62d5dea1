import { EventEmitter } from 'node:events';
import type { Endpoint, Resolution } from '../discovery/endpoint.js';
import type { GrpcError } from '../wire/status.js';
import { Ejections, type EjectionOptions } from './ejections.js';

interface OutlierEvents {
  /** `endpoint` failed `cause` and sits out for `forMs`. */
  ejected: [endpoint: Endpoint, forMs: number, cause: GrpcError];
  /** A new pickable set: balancers build their pickers now, not on the next call. */
  pickable: [pickable: Resolution];
}

/**
 * A cluster's endpoint set as routes see it: the endpoints resolved, less those ejected
 * after a failure (Envoy's outlier detection). `version` changes with each new pickable
 * set, so a route tells its balancer only then. It emits 'ejected'; what else an
 * ejection does (closing the endpoint's connections, asking a discoverer to unregister
 * it, metrics and logs) listens to it.
 *
 * When every endpoint is ejected, all of them are pickable again (Envoy's panic mode):
 * ejection must never leave a cluster with less than it had without it. Shard maps keep
 * every broker: a shard's data lives only there.
 */
export class OutlierDetection extends EventEmitter<OutlierEvents> {
  /** The endpoints as resolved. */
  resolved: Resolution = { endpoints: [] };
  /** What routes pick from. */
  pickable: Resolution = this.resolved;
  version = 0;
  private readonly ejections: Ejections;

  constructor(options: EjectionOptions) {
    super();
    this.ejections = new Ejections(options, () => this.repick());
  }

  /** A new list from the resolver; ejections of endpoints no longer listed are forgotten. */
  update(resolution: Resolution): void {
    this.resolved = resolution;
    this.ejections.keepOnly(new Set(resolution.endpoints.map((e) => e.id)));
    this.repick();
  }

  /** An attempt on `endpoint` failed: eject it, unless it is out already. */
  failed(endpoint: Endpoint, cause: GrpcError): void {
    const ms = this.ejections.eject(endpoint.id);
    if (ms !== null) this.emit('ejected', endpoint, ms, cause);
  }

  /** `endpoint` answered a call. */
  succeeded(endpoint: Endpoint): void {
    this.ejections.succeeded(endpoint.id);
  }

  /** When `endpoint`'s ejection ends (Date.now()), or null when it is not ejected. */
  ejectedUntil(endpoint: Endpoint): number | null {
    return this.ejections.until(endpoint.id);
  }

  /** Endpoints sitting out. */
  get ejected(): number {
    return this.ejections.size;
  }

  clear(): void {
    this.ejections.clear();
  }

  private repick(): void {
    const { endpoints, shards } = this.resolved;
    let pickable = this.resolved;
    if (this.ejections.size > 0 && shards === undefined) {
      const admitted = endpoints.filter((e) => !this.ejections.has(e.id));
      if (admitted.length > 0) pickable = { endpoints: admitted };
    }
    this.pickable = pickable;
    this.version++;
    this.emit('pickable', pickable);
  }
}
