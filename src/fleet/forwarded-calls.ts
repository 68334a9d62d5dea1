import type { Call, Downstream, Handler } from '../call/call.js';
import { FLEET_HOP } from '../call/fleet-hop.js';
import type { Fleet } from './fleet.js';

/**
 * In front of the router of a fleet member: counts the calls other members forwarded here
 * as the owner of their key, however this corral then answers them (its cache, a flight
 * it already has, or a flight of its own), so the fleet's forwarded and served counts
 * agree.
 */
export class ForwardedCalls implements Handler {
  constructor(
    private readonly fleet: Fleet,
    private readonly next: Handler,
  ) {}

  handle(call: Call, downstream: Downstream): void {
    if (call.metadata[FLEET_HOP] !== undefined) this.fleet.served++;
    this.next.handle(call, downstream);
  }
}
