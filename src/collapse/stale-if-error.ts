import { HeldAnswer } from '../call/held-answer.js';
import { GrpcError, Status } from '../wire/status.js';
import { isTransient } from './cache-policy.js';
import type { Flight } from './flight.js';
import type { Recording } from './recording.js';

/**
 * Between a flight and its backend call when the flight has a kept answer (within its
 * stale-if-error window): a transient failure before a message (an error, or an answer
 * ending UNAVAILABLE, DEADLINE_EXCEEDED...) gives every waiter the kept answer instead;
 * any other status is the backend's answer and passes on. Headers are held until then
 * (HeldAnswer), so no waiter sees the start of an answer it does not get.
 */
export class StaleIfError extends HeldAnswer {
  constructor(
    private readonly flight: Flight,
    private readonly stale: Recording,
  ) {
    super(flight);
  }

  protected rescues(_error: GrpcError | null, status: number): boolean {
    return isTransient(status);
  }

  protected rescue(): void {
    this.flight.serveStale(this.stale);
    // The backend call may still be open (its headers came): it is no use to anyone now.
    this.abort(new GrpcError(Status.CANCELLED, 'a stale answer was served instead'));
  }
}
