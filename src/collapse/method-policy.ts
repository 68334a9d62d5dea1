import type { Call, Downstream, Handler } from '../call.js';
import type { MethodSet } from './method-set.js';

/**
 * Which methods a route collapses (COLLAPSER_METHODS, COLLAPSER_SKIP_METHODS): a call to
 * one that is not collapsed, such as a write, goes straight to the passthrough, so it is
 * never shared with another caller and never cached. Built only when a list is set.
 */
export class MethodPolicy implements Handler {
  constructor(
    /** When set, only these are collapsed. */
    private readonly only: MethodSet | null,
    /** Never collapsed. */
    private readonly skip: MethodSet | null,
    private readonly collapser: Handler,
    private readonly passthrough: Handler,
  ) {}

  handle(call: Call, downstream: Downstream): void {
    const collapses = (this.only === null || this.only.has(call.method)) && (this.skip === null || !this.skip.has(call.method));
    (collapses ? this.collapser : this.passthrough).handle(call, downstream);
  }
}
