import type { Call, ResponseSink } from '../call/call.js';
import { FLEET_HOP } from '../call/fleet-hop.js';
import { HeldAnswer } from '../call/held-answer.js';
import type { Origin } from '../upstream/origin.js';
import type { GrpcError } from '../wire/status.js';
import type { Fleet, Peer } from './fleet.js';

export { FLEET_HOP };

/**
 * A route's origin in a fleet: a flight for a key another sidecar owns goes to that
 * sidecar's corral, which collapses it with its own callers and answers from its cache or
 * its backend; every other call (this sidecar owns the key, a passed-through call, a call
 * that was forwarded here) goes to the local backend. If the owner fails before any of
 * its answer reached a caller, the flight is made here instead (fail open).
 */
export class FleetOrigin implements Origin {
  constructor(
    private readonly fleet: Fleet,
    private readonly local: Origin,
  ) {}

  start(call: Call, sink: ResponseSink, key?: string): void {
    const metadata = call.metadata;
    if (metadata[FLEET_HOP] !== undefined) {
      delete metadata[FLEET_HOP];
      this.local.start(call, sink, key);
      return;
    }
    const peer = key === undefined ? null : this.fleet.peerFor(key);
    if (peer === null) {
      this.local.start(call, sink, key);
      return;
    }
    this.fleet.forwarded++;
    metadata[FLEET_HOP] = this.fleet.self.id;
    peer.origin.start(call, new Forwarded(call, sink, key, peer, this));
  }

  /** The owner failed before answering: the call is made here. */
  fallBack(call: Call, sink: ResponseSink, key: string | undefined, peer: Peer, error: GrpcError): void {
    delete call.metadata[FLEET_HOP];
    this.fleet.fellBack(peer, error.message);
    this.local.start(call, sink, key);
  }
}

/**
 * A forwarded flight's view of its answer: until a message or the status has arrived, a
 * failure (not one its callers caused by leaving) turns into a local call.
 */
class Forwarded extends HeldAnswer {
  constructor(
    private readonly call: Call,
    sink: ResponseSink,
    private readonly key: string | undefined,
    private readonly peer: Peer,
    private readonly origin: FleetOrigin,
  ) {
    super(sink);
  }

  protected rescues(error: GrpcError | null): boolean {
    return error !== null && this.abortedWith === null;
  }

  protected rescue(error: GrpcError | null): void {
    this.origin.fallBack(this.call, this, this.key, this.peer, error!);
  }
}
