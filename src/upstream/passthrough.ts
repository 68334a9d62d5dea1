import type { Call, Downstream, Handler } from '../call/call.js';
import type { Observer } from '../call/observer.js';
import type { Origin } from './origin.js';

/**
 * Forwards a call to the backend as it is, one backend stream per client stream:
 * request bytes flow as the client sends them, the response as the backend sends it,
 * with back-pressure both ways, and a client reset becomes a backend reset. This is
 * how client- and bidi-streaming calls are served: they are never collapsed.
 */
export class Passthrough implements Handler {
  constructor(
    private readonly origin: Origin,
    private readonly observer: Observer,
  ) {}

  handle(call: Call, downstream: Downstream): void {
    downstream.outcome = 'bypass';
    this.observer.backendCallStarted('bypass', downstream.route);
    // A route with collapsing off hands whole requests here too.
    this.origin.start(call, downstream);
  }
}
