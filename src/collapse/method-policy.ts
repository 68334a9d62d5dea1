import type { Call, Downstream, Handler } from '../call/call.js';
import type { DeclaredReads } from './declared-reads.js';
import type { MethodSet } from './method-set.js';

/** What says which methods are reads, for every route of a configuration. */
export interface ReadSources {
  /** COLLAPSER_METHODS: collapsed (`*`: every method). */
  only: MethodSet | null;
  /** COLLAPSER_SKIP_METHODS: never collapsed, whatever else says so. */
  skip: MethodSet | null;
  /** The descriptors (files, and what the backends declare over server reflection). */
  declared: DeclaredReads | null;
}

/** Why a method is collapsed, or why not. */
export type CollapseReason = 'skipped' | 'route' | 'listed' | 'declared' | 'not declared a read';

/**
 * Which calls a route collapses. A call is collapsed only when something says its method
 * is a read: the route (collapse: true, or an HTTP GET), COLLAPSER_METHODS, or the
 * descriptors' `idempotency_level = NO_SIDE_EFFECTS`. Anything else (a write, a method
 * nobody described) goes to the passthrough: never shared with another caller, never
 * cached. COLLAPSER_SKIP_METHODS wins over all of them. The descriptors are read per
 * call, as server reflection may learn them after the route is built.
 */
export class MethodPolicy implements Handler {
  constructor(
    private readonly sources: ReadSources,
    /** The route says its calls are reads. */
    private readonly routeSaysRead: boolean,
    private readonly collapser: Handler,
    private readonly passthrough: Handler,
  ) {}

  handle(call: Call, downstream: Downstream): void {
    (collapses(collapseReason(this.sources, call.method, this.routeSaysRead)) ? this.collapser : this.passthrough).handle(call, downstream);
  }

  /** Whether anything could ever make this route collapse (the descriptors may be learned later). */
  static mayCollapse(sources: ReadSources, routeSaysRead: boolean): boolean {
    return routeSaysRead || sources.only !== null || sources.declared !== null;
  }
}

/** Whether a method with this reason is collapsed. */
export function collapses(reason: CollapseReason): boolean {
  return reason === 'route' || reason === 'listed' || reason === 'declared';
}

/** Why `method` is collapsed or not: the one rule, for each call and for start-up, validate and /config_dump. */
export function collapseReason(sources: ReadSources, method: string, routeSaysRead = false): CollapseReason {
  if (sources.skip?.has(method)) return 'skipped';
  if (routeSaysRead) return 'route';
  if (sources.only?.has(method)) return 'listed';
  if (sources.declared?.isRead(method)) return 'declared';
  return 'not declared a read';
}
