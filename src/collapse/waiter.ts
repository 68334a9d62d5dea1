import type { BackendCall, Call, CallControl, Downstream } from '../call/call.js';
import type { GrpcError } from '../wire/status.js';

/** The part of a Flight its waiters steer. */
export interface WaitedFlight {
  readonly backend: BackendCall | null;
  leave(waiter: Waiter): void;
  fellBehind(waiter: Waiter): void;
  caughtUp(waiter: Waiter): void;
}

/**
 * One caller waiting on a flight (its leader or a follower): the control its client end
 * steers the flight with. Leaving or pausing is this caller's alone; the flight decides
 * what it means for the backend call the others share.
 */
export class Waiter implements CallControl {
  /** Its client is not taking the response now. */
  behind = false;
  /** COLLAPSER_MAX_WAIT's timer for a follower, until its answer starts or it leaves. */
  timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly flight: WaitedFlight,
    readonly downstream: Downstream,
    /** A follower's own call, for the backend call it makes if it waits too long. */
    readonly call: Call | null = null,
  ) {}

  get backend(): BackendCall | null {
    return this.flight.backend;
  }

  abort(_reason: GrpcError): void {
    this.flight.leave(this);
  }

  pause(): void {
    this.flight.fellBehind(this);
  }

  resume(): void {
    this.flight.caughtUp(this);
  }
}
