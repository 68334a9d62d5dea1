import type { Call, Downstream, Handler, Headers } from '../call/call.js';
import { ForwardingDownstream } from '../call/forwarding-downstream.js';

/** What a write's OK makes stale: cached answers and flights under way. */
export interface Invalidation {
  /** Returns how many answers and flights it dropped. */
  invalidate(prefixes: readonly string[]): number;
}

/**
 * Drops what a write made stale: when a call through this stage ends OK, answers to the
 * methods under `prefixes` are dropped (and flights under way take no one new) before the
 * client sees the OK, so a read made after a write through the same corral is fresh.
 * With `prefixes` null, a call invalidates the service of its own method
 * (`/pkg.Service/`): what corral does by default for every call it does not collapse.
 */
export class Invalidate implements Handler {
  constructor(
    private readonly prefixes: readonly string[] | null,
    private readonly target: Invalidation,
    private readonly next: Handler,
  ) {}

  handle(call: Call, downstream: Downstream): void {
    this.next.handle(call, new InvalidatingDownstream(downstream, this.prefixes ?? call.method, this.target));
  }
}

/** A client end that notices an OK status on its way out; everything else passes to the real one. */
class InvalidatingDownstream extends ForwardingDownstream {
  constructor(
    inner: Downstream,
    /** The prefixes, or the method whose service is invalidated (worked out only on an OK). */
    private readonly stale: readonly string[] | string,
    private readonly target: Invalidation,
  ) {
    super(inner);
  }

  protected override ending(status: Headers | null): void {
    // The backend applied the write whether or not its client is still there.
    if (status === null || String(status['grpc-status']) !== '0') return;
    const stale = this.stale;
    this.target.invalidate(typeof stale === 'string' ? [serviceOf(stale)] : stale);
  }
}

/** `/pkg.Service/` of `/pkg.Service/Method`: a prefix of every method of that service. */
function serviceOf(method: string): string {
  const end = method.indexOf('/', 1);
  return end < 0 ? method : method.slice(0, end + 1);
}
