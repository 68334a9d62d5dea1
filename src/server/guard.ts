import type { Call, Downstream, Handler } from '../call/call.js';
import type { Logger } from '../log/logger.js';
import { GrpcError, Status } from '../wire/status.js';

/**
 * The first stage behind a front: an exception thrown while a call is being handled
 * (a defect, or input no check foresaw) ends that call with INTERNAL and is logged; it
 * never unwinds into node's event loop, where it would end the process and every other
 * caller's call with it.
 */
export class Guard implements Handler {
  constructor(
    private readonly next: Handler,
    private readonly logger: Logger,
  ) {}

  handle(call: Call, downstream: Downstream): void {
    try {
      this.next.handle(call, downstream);
    } catch (err) {
      this.logger.error({ err: (err as Error).stack ?? String(err), method: call.method }, 'a call failed inside corral; it ends with INTERNAL');
      if (downstream.open) downstream.onError(new GrpcError(Status.INTERNAL, `corral failed on this call: ${(err as Error).message}`));
    }
  }
}
