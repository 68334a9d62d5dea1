import { getExtension, hasExtension, type DescExtension, type DescMethod, type DescService } from '@bufbuild/protobuf';
import { HTTP_METHODS, type HttpMethod, type HttpRouteSpec } from './http-spec.js';
import { defaultRoute, type RouteSpec } from '../route/route-spec.js';

/** Where gRPC calls go: the routes, and the cluster of calls no route takes (null: refused). */
export interface GrpcRoutes {
  routes: readonly RouteSpec[];
  default: { action: 'error' } | { action: 'use_cluster'; cluster: string };
}
import { RouteTable } from '../route/route-table.js';
import { DescriptorError, type Descriptors } from './descriptors.js';
import { PathTemplate, TemplateError } from './path-template.js';

/** google.api.HttpRule as @bufbuild/protobuf reads it from the descriptors' own copy of http.proto. */
interface HttpRule {
  pattern: { case: Lowercase<HttpMethod>; value: string } | { case: 'custom'; value: { kind: string; path: string } } | { case: undefined };
  body: string;
  responseBody: string;
  additionalBindings: HttpRule[];
}

/** A route's timeout when the gRPC route sets none: MyGateway's default for HTTP routes, as for YAML ones. */
const DEFAULT_TIMEOUT_MS = 30_000;

export interface AnnotatedRoutes {
  routes: HttpRouteSpec[];
  /** Bindings not served, each with why (custom verbs such as HEAD). */
  skipped: string[];
}

/**
 * HTTP routes from the `google.api.http` options of `services` (all services when true),
 * additional_bindings included. An annotated method is served by the cluster its gRPC
 * route sends a call without metadata to, with that route's authentication (bearer
 * token), timeout and collapse: false, as Envoy's transcoder hands the translated call to
 * its route table. Named `<package.Service>.<Method>`, then `#1`, `#2` for further bindings.
 */
export function annotatedRoutes(descriptors: Descriptors, services: true | readonly string[], topology: GrpcRoutes): AnnotatedRoutes {
  const found: AnnotatedRoutes = { routes: [], skipped: [] };
  const extension = descriptors.registry.getExtension('google.api.http');
  if (extension === undefined) return found;
  const grpcRoutes = new RouteTable<RouteSpec>(
    topology.routes,
    topology.default.action === 'use_cluster' ? defaultRoute('/', topology.default.cluster) : null,
  );
  for (const service of chosen(descriptors, services)) {
    for (const method of service.methods) {
      const options = method.proto.options;
      if (options === undefined || !hasExtension(options, extension)) continue;
      const rule = getExtension(options, extension as DescExtension) as unknown as HttpRule;
      const grpcPath = `/${service.typeName}/${method.name}`;
      const route = grpcRoutes.match(grpcPath, {});
      if (route === null) throw new DescriptorError(`${grpcPath} has a google.api.http option, but no route sends it to a cluster (add a route or a default cluster)`);
      [rule, ...rule.additionalBindings].forEach((binding, i) => {
        const name = i === 0 ? `${service.typeName}.${method.name}` : `${service.typeName}.${method.name}#${i}`;
        const spec = bindingRoute(binding, name, method, route);
        if (typeof spec === 'string') found.skipped.push(`${name}: ${spec}`);
        else found.routes.push(spec);
      });
    }
  }
  return found;
}

function chosen(descriptors: Descriptors, services: true | readonly string[]): DescService[] {
  if (services === true) return [...descriptors.registry].filter((d) => d.kind === 'service');
  return services.map((name) => {
    const service = descriptors.registry.getService(name);
    if (service === undefined) throw new DescriptorError(`http.annotations: no service ${name} in the descriptors`);
    return service;
  });
}

/** One binding as a route, or why it is not served. */
function bindingRoute(rule: HttpRule, name: string, method: DescMethod, route: RouteSpec): HttpRouteSpec | string {
  const pattern = rule.pattern;
  if (pattern.case === undefined) return 'no HTTP method and path';
  const verb = (pattern.case === 'custom' ? pattern.value.kind : pattern.case).toUpperCase();
  const path = pattern.case === 'custom' ? pattern.value.path : pattern.value;
  if (!(HTTP_METHODS as readonly string[]).includes(verb)) return `method ${verb} is not served (${HTTP_METHODS.join(', ')} are)`;
  try {
    new PathTemplate(path);
  } catch (err) {
    if (err instanceof TemplateError) throw new DescriptorError(`${name}: path '${path}': ${err.message}`);
    throw err;
  }
  if (rule.responseBody !== '' && !method.output.fields.some((f) => f.name === rule.responseBody)) {
    throw new DescriptorError(`${name}: response_body '${rule.responseBody}' is not a field of ${method.output.typeName}`);
  }
  return {
    name,
    path,
    method: verb as HttpMethod,
    cluster: route.cluster,
    grpcService: method.parent.typeName,
    grpcMethod: method.name,
    authRequired: route.authorization === 'required',
    timeoutMs: route.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    body: rule.body === '' ? null : rule.body,
    collapse: route.collapse,
    responseBody: rule.responseBody === '' ? null : rule.responseBody,
  };
}
