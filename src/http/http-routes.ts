import type { DescMethod } from '@bufbuild/protobuf';
import type { RouteLabel } from '../call/call.js';
import type { HttpMethod, HttpRouteSpec } from './http-spec.js';
import { DescriptorError, type Descriptors } from './descriptors.js';
import { PathTemplate, segmentCount } from './path-template.js';
import { fieldAt } from './transcode.js';

/** An HTTP route ready to serve: its template and the gRPC method it calls. */
export interface HttpRoute {
  readonly spec: HttpRouteSpec;
  readonly template: PathTemplate;
  readonly method: DescMethod;
  /** /package.Service/Method */
  readonly grpcPath: string;
  /** What metrics and logs call it: `http:<name>`, and its cluster. */
  readonly label: RouteLabel;
  /** As the route says; unset: GET routes, and other verbs as the method policy says (COLLAPSER_METHODS, NO_SIDE_EFFECTS). */
  readonly collapse: boolean | undefined;
}

export type HttpMatch =
  | { readonly route: HttpRoute; readonly variables: ReadonlyMap<string, string> }
  | { readonly route: null; readonly allow: readonly HttpMethod[] };

/**
 * The gateway's routes. A request takes the route whose template matches its path most
 * specifically (literal segments before variables before '**'), among those of its HTTP
 * method; a path that matches only under other methods is answered 405 with Allow.
 * Between equally specific templates the first in the list wins.
 */
export class HttpRouteTable {
  private readonly routes: readonly HttpRoute[];

  constructor(routes: readonly HttpRoute[]) {
    this.routes = [...routes].sort((a, b) => compareSpecificity(b.template.specificity, a.template.specificity));
  }

  /** Resolves every route's gRPC method; a DescriptorError names the route that asks for what is not there. */
  static build(specs: readonly HttpRouteSpec[], descriptors: Descriptors): HttpRouteTable {
    return new HttpRouteTable(
      specs.map((r) => {
        let method: DescMethod;
        try {
          method = descriptors.method(r.grpcService, r.grpcMethod);
        } catch (err) {
          throw new DescriptorError(`http.routes[${r.name}]: ${(err as Error).message}`);
        }
        if (r.body !== null && r.body !== '*' && !method.input.fields.some((f) => f.name === r.body)) {
          throw new DescriptorError(`http.routes[${r.name}]: body '${r.body}' is not a field of ${method.input.typeName}`);
        }
        const template = new PathTemplate(r.path);
        const stray = template.variables.find((v) => fieldAt(method.input, v) === undefined);
        if (stray !== undefined) throw new DescriptorError(`http.routes[${r.name}]: path variable '${stray}' is not a field of ${method.input.typeName}`);
        return {
          spec: r,
          template,
          method,
          grpcPath: `/${r.grpcService}/${r.grpcMethod}`,
          label: { name: `http:${r.name}`, cluster: r.cluster },
          collapse: r.collapse,
        };
      }),
    );
  }

  all(): readonly HttpRoute[] {
    return this.routes;
  }

  /** The route for a request, the methods its path allows (405), or null (404). */
  match(method: string, path: string): HttpMatch | null {
    let allow: Set<HttpMethod> | null = null;
    const segments = segmentCount(path);
    for (const route of this.routes) {
      if (!route.template.fits(segments)) continue;
      const found = route.template.match(path);
      if (found === null) continue;
      if (route.spec.method === method) return { route, variables: found.variables };
      (allow ??= new Set()).add(route.spec.method);
    }
    return allow === null ? null : { route: null, allow: [...allow] };
  }
}

function compareSpecificity(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) - (b[i] ?? 0);
  return 0;
}
