import type { Call, ResponseSink } from '../call/call.js';

/**
 * Where calls leave corral: the backend call as a stage. Flights and the passthrough
 * start their backend calls here, so a step between the collapser and the backend (a
 * fleet-wide collapser, a recorder) is an Origin that wraps another.
 */
export interface Origin {
  /**
   * Starts a backend call with `call`'s request; the response flows into `sink`, which
   * first gets, in onStart, the control to abort, pause and resume the call with. `key`
   * is the collapse key when the call is a flight's (a fleet sends it to the key's owner).
   */
  start(call: Call, sink: ResponseSink, key?: string): void;
}
