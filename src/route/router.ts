import type { Call, Downstream, Handler } from '../call/call.js';
import { GrpcError, Status } from '../wire/status.js';
import type { RouteTable } from './route-table.js';

/**
 * The routing stage: hands each call to its route's stages. The table is swapped whole
 * on reload; a call keeps the route it was given, so reloading drops nothing.
 */
export class Router implements Handler {
  constructor(public table: RouteTable) {}

  handle(call: Call, downstream: Downstream): void {
    const route = this.table.match(call.method, call.metadata);
    if (route === null) {
      downstream.onError(new GrpcError(Status.UNIMPLEMENTED, `no route for ${call.method} (default action: error)`));
      return;
    }
    downstream.route = route;
    route.handler.handle(call, downstream);
  }
}
