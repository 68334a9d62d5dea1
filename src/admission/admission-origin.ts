import type { Call, ResponseSink } from '../call/call.js';
import type { Origin } from '../upstream/origin.js';
import type { Admission } from './admission.js';
import type { Priority } from './concurrency-spec.js';
import type { TenantOf } from './tenant.js';

/**
 * A route's backend calls through its cluster's Admission, at the route's priority and
 * each call's tenant. A call whose request is a stream passes uncounted: how long it
 * lasts is up to its client, so it says nothing of the backend's latency.
 */
export class AdmissionOrigin implements Origin {
  constructor(
    private readonly admission: Admission,
    private readonly next: Origin,
    private readonly priority: Priority,
    private readonly tenantOf: TenantOf | null,
  ) {}

  start(call: Call, sink: ResponseSink, key?: string): void {
    if (call.stream) {
      this.next.start(call, sink, key);
      return;
    }
    this.admission.start(this.next, call, sink, key, this.priority, this.tenantOf === null ? '' : this.tenantOf(call.metadata));
  }
}
