import type { Handler, Metadata, RouteLabel } from '../call/call.js';
import type { MetadataMatcher } from './route-spec.js';

export type { MetadataMatcher };

/** What a route table matches on. */
export interface RouteCondition {
  /** Matched against the start of the full method name, e.g. /pkg.Service/ or /pkg.Service/Method. */
  readonly prefix: string;
  readonly metadata: readonly MetadataMatcher[];
}

export interface Route extends RouteLabel, RouteCondition {
  /** The route's stages: its collapser (or passthrough) in front of its cluster. */
  readonly handler: Handler;
}

function matches(m: MetadataMatcher, headers: Metadata): boolean {
  const value = headers[m.name];
  if ('present' in m) return (value !== undefined) === m.present;
  if (value === undefined) return false;
  return typeof value === 'string' ? value === m.equals : value.includes(m.equals);
}

/**
 * The routes of one configuration. A call takes the route with the longest prefix of
 * its method; among routes with the same prefix, the one with the most metadata
 * matchers that all hold (so specific rules win over general ones, whatever the order
 * in the file); then the first in the file. No match gives the default, or null.
 */
export class RouteTable<R extends RouteCondition = Route> {
  private readonly routes: readonly R[];

  constructor(
    routes: readonly R[],
    private readonly fallback: R | null,
  ) {
    this.routes = routes
      .map((route, index) => ({ route, index }))
      .sort((a, b) => b.route.prefix.length - a.route.prefix.length || b.route.metadata.length - a.route.metadata.length || a.index - b.index)
      .map((r) => r.route);
  }

  match(method: string, headers: Metadata): R | null {
    for (const route of this.routes) {
      if (!method.startsWith(route.prefix)) continue;
      let ok = true;
      for (const m of route.metadata) {
        if (!matches(m, headers)) {
          ok = false;
          break;
        }
      }
      if (ok) return route;
    }
    return this.fallback;
  }
}
