import type { Call, Downstream, Handler, Headers } from '../call.js';
import { ForwardingDownstream } from '../forwarding-downstream.js';

/** What a write's OK makes stale: cached answers and flights under way. */
export interface Invalidation {
  invalidate(prefixes: readonly string[]): void;
}

/**
 * The stage of a route with `invalidates`: when one of its calls ends OK, answers to the
 * methods under those prefixes are dropped before the client sees the OK, so a read made
 * after a write through the same corral is fresh.
 */
export class Invalidate implements Handler {
  constructor(
    private readonly prefixes: readonly string[],
    private readonly target: Invalidation,
    private readonly next: Handler,
  ) {}

  handle(call: Call, downstream: Downstream): void {
    this.next.handle(call, new InvalidatingDownstream(downstream, this.prefixes, this.target));
  }
}

/** A client end that notices an OK status on its way out; everything else passes to the real one. */
class InvalidatingDownstream extends ForwardingDownstream {
  constructor(
    inner: Downstream,
    private readonly prefixes: readonly string[],
    private readonly target: Invalidation,
  ) {
    super(inner);
  }

  protected override ending(status: Headers | null): void {
    // The backend applied the write whether or not its client is still there.
    if (status !== null && String(status['grpc-status']) === '0') this.target.invalidate(this.prefixes);
  }
}
