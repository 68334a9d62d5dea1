import type { Call, Downstream, Handler } from '../call.js';
import type { DeclaredReads } from './declared-reads.js';
import type { MethodSet } from './method-set.js';

/**
 * Which methods a route collapses: a call to one that is not collapsed, such as a write,
 * goes straight to the passthrough, so it is never shared with another caller and never
 * cached. COLLAPSER_SKIP_METHODS always excludes; COLLAPSER_METHODS, when set, is the whole
 * list; otherwise the descriptors' idempotency levels decide for the methods they
 * describe. Built only when one of them is given.
 */
export class MethodPolicy implements Handler {
  constructor(
    /** When set, only these are collapsed. */
    private readonly only: MethodSet | null,
    /** Never collapsed. */
    private readonly skip: MethodSet | null,
    private readonly declared: DeclaredReads | null,
    private readonly collapser: Handler,
    private readonly passthrough: Handler,
  ) {}

  handle(call: Call, downstream: Downstream): void {
    const method = call.method;
    const listed = this.only === null ? (this.declared === null || this.declared.allows(method)) : this.only.has(method);
    const collapses = listed && (this.skip === null || !this.skip.has(method));
    (collapses ? this.collapser : this.passthrough).handle(call, downstream);
  }
}
