import type { DescMethod } from '@bufbuild/protobuf';
import type { RouteLabel } from '../call.js';
import type { HttpMethod, HttpRouteSpec, HttpSpec } from '../config/http-spec.js';
import { DescriptorError, Descriptors } from './descriptors.js';
import { PathTemplate } from './path-template.js';

/** An HTTP route ready to serve: its template and the gRPC method it calls. */
export interface HttpRoute {
  readonly spec: HttpRouteSpec;
  readonly template: PathTemplate;
  readonly method: DescMethod;
  /** /package.Service/Method */
  readonly grpcPath: string;
  /** What metrics and logs call it: `http:<name>`, and its cluster. */
  readonly label: RouteLabel;
}

export type HttpMatch =
  | { readonly route: HttpRoute; readonly variables: ReadonlyMap<string, string> }
  | { readonly route: null; readonly allow: readonly HttpMethod[] };

/** The descriptors an http section names: a descriptor set, or .proto files under one include path. */
export function loadDescriptors(spec: HttpSpec): Descriptors {
  if (spec.descriptorSet !== undefined) return Descriptors.fromDescriptorSet(spec.descriptorSet);
  if (spec.protoPaths.length > 1) {
    throw new DescriptorError(`http.proto_paths: one include directory is supported, got ${spec.protoPaths.length}; put the .proto files under one root or use descriptor_set`);
  }
  return Descriptors.fromProtoFiles(spec.protoPaths[0] ?? '.', spec.protoFiles);
}

/**
 * The gateway's routes. A request takes the route whose template matches its path most
 * specifically (literal segments before variables before '**'), among those of its HTTP
 * method; a path that matches only under other methods is answered 405 with Allow.
 */
export class HttpRouteTable {
  private readonly routes: readonly HttpRoute[];

  constructor(routes: readonly HttpRoute[]) {
    this.routes = [...routes].sort((a, b) => compareSpecificity(b.template.specificity, a.template.specificity));
  }

  /** Resolves every route's gRPC method; a DescriptorError names the route that asks for what is not there. */
  static build(spec: HttpSpec, descriptors: Descriptors): HttpRouteTable {
    return new HttpRouteTable(
      spec.routes.map((r) => {
        let method: DescMethod;
        try {
          method = descriptors.method(r.grpcService, r.grpcMethod);
        } catch (err) {
          throw new DescriptorError(`http.routes[${r.name}]: ${(err as Error).message}`);
        }
        if (r.body !== null && r.body !== '*' && !method.input.fields.some((f) => f.name === r.body)) {
          throw new DescriptorError(`http.routes[${r.name}]: body '${r.body}' is not a field of ${method.input.typeName}`);
        }
        return {
          spec: r,
          template: new PathTemplate(r.path),
          method,
          grpcPath: `/${r.grpcService}/${r.grpcMethod}`,
          label: { name: `http:${r.name}`, cluster: r.cluster },
        };
      }),
    );
  }

  all(): readonly HttpRoute[] {
    return this.routes;
  }

  /** The route for a request, the methods its path allows (405), or null (404). */
  match(method: string, path: string): HttpMatch | null {
    const allow = new Set<HttpMethod>();
    for (const route of this.routes) {
      const found = route.template.match(path);
      if (found === null) continue;
      if (route.spec.method === method) return { route, variables: found.variables };
      allow.add(route.spec.method);
    }
    return allow.size === 0 ? null : { route: null, allow: [...allow] };
  }
}

function compareSpecificity(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) - (b[i] ?? 0);
  return 0;
}
