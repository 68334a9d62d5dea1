import { z } from 'zod';
import { PathTemplate, TemplateError } from './path-template.js';
import { parseDuration } from '../spec/duration.js';

export const HTTP_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];

/** One HTTP/JSON route, in the gateway's YAML shape (MyGateway's HTTP gateway). */
export interface HttpRouteSpec {
  name: string;
  path: string;
  method: HttpMethod;
  /** The cluster of this configuration that serves it. */
  cluster: string;
  grpcService: string;
  grpcMethod: string;
  authRequired: boolean;
  timeoutMs: number;
  /** google.api.http's body: "*" (the whole message), a field name, or null (none). */
  body: string | null;
  /** Unset: GET routes, and methods whose descriptor says idempotency_level NO_SIDE_EFFECTS, are collapsed. */
  collapse: boolean | undefined;
  /** google.api.http's response_body: the response field sent as the body; null for the whole message. */
  responseBody: string | null;
}

export interface CorsSpec {
  allowedOrigins: string[];
  allowedMethods: string[];
  allowedHeaders: string[];
  /** Response headers a page may read besides the ones corral sets on each answer (always exposed). */
  exposeHeaders: string[];
  /** Access-Control-Allow-Credentials: pages may send cookies and HTTP authentication. */
  allowCredentials: boolean;
  maxAgeSeconds: number;
}

export interface HttpSpec {
  protoFiles: string[];
  protoPaths: string[];
  descriptorSet: string | undefined;
  routes: HttpRouteSpec[];
  /** Routes also from google.api.http options: of every service (true), of these services, or none (false). */
  annotations: boolean | string[];
  cors: CorsSpec | null;
  /** How answers are written as JSON (grpc-gateway's MarshalOptions). */
  json: JsonAnswerSpec;
}

/** grpc-gateway's UseProtoNames and EmitUnpopulated: how answers are written as JSON. */
export interface JsonAnswerSpec {
  /** Field names as in the .proto (`cluster_id`), not lowerCamelCase (`clusterId`). */
  useProtoNames: boolean;
  /** Fields at their default value (0, "", false, empty lists) are written too. */
  emitUnpopulated: boolean;
}

const durationText = z.string().refine((v) => (parseDuration(v) ?? 0) > 0, 'expected a duration such as 10s or 500ms');
const identifier = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/;

export const httpSchema = z
  .strictObject({
    proto_files: z.array(z.string().min(1)).default([]),
    proto_paths: z.array(z.string().min(1)).default([]),
    descriptor_set: z.string().min(1).optional(),
    annotations: z
      .union([z.boolean(), z.array(z.string().regex(identifier, 'expected a full service name, e.g. trading.v1.OrderService')).min(1)], {
        error: 'expected true, false, or a list of full service names',
      })
      .default(false),
    routes: z
      .array(
        z.strictObject({
          name: z.string().regex(/^[A-Za-z0-9_.:/-]+$/, 'expected a route name of letters, digits and _ . : / -'),
          path: z.string().superRefine((path, ctx) => {
            try {
              new PathTemplate(path);
            } catch (err) {
              if (err instanceof TemplateError) ctx.addIssue({ code: 'custom', message: err.message });
              else throw err;
            }
          }),
          method: z.enum(HTTP_METHODS, { error: `expected one of ${HTTP_METHODS.join(', ')}` }),
          service: z.string().min(1),
          grpc_service: z.string().regex(identifier, 'expected a full service name, e.g. trading.v1.OrderService'),
          grpc_method: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected a method name, e.g. GetOrder'),
          auth_required: z.boolean().default(false),
          timeout: durationText.default('30s'),
          body: z.string().regex(/^(\*|[A-Za-z_][A-Za-z0-9_]*)$/, 'expected "*" or a field name').optional(),
          collapse: z.boolean().optional(),
        }),
      )
      .default([]),
    json: z
      .strictObject({ use_proto_names: z.boolean().default(false), emit_unpopulated: z.boolean().default(false) })
      .default({ use_proto_names: false, emit_unpopulated: false }),
    cors: z
      .strictObject({
        allowed_origins: z.array(z.string().min(1)).min(1),
        allowed_methods: z.array(z.enum(HTTP_METHODS)).default([...HTTP_METHODS]),
        allowed_headers: z.array(z.string().min(1)).default(['authorization', 'content-type']),
        expose_headers: z.array(z.string().min(1)).default([]),
        allow_credentials: z.boolean().default(false),
        max_age: durationText.default('10m'),
      })
      .optional(),
  })
  .refine((h) => (h.routes.length === 0 && h.annotations === false) || h.proto_files.length > 0 || h.descriptor_set !== undefined, {
    message: 'routes need descriptors: give proto_files (with proto_paths) or descriptor_set',
  });

/** The parsed `http` section, with defaults and durations resolved. */
export function httpSpecOf(raw: z.output<typeof httpSchema>): HttpSpec {
  return {
    protoFiles: raw.proto_files,
    protoPaths: raw.proto_paths,
    descriptorSet: raw.descriptor_set,
    annotations: raw.annotations,
    routes: raw.routes.map((r) => ({
      name: r.name,
      path: r.path,
      method: r.method,
      cluster: r.service,
      grpcService: r.grpc_service,
      grpcMethod: r.grpc_method,
      authRequired: r.auth_required,
      timeoutMs: parseDuration(r.timeout)!,
      body: r.body ?? null,
      collapse: r.collapse,
      responseBody: null,
    })),
    json: { useProtoNames: raw.json.use_proto_names, emitUnpopulated: raw.json.emit_unpopulated },
    cors:
      raw.cors === undefined
        ? null
        : {
            allowedOrigins: raw.cors.allowed_origins,
            allowedMethods: raw.cors.allowed_methods,
            allowedHeaders: raw.cors.allowed_headers.map((h) => h.toLowerCase()),
            exposeHeaders: raw.cors.expose_headers.map((h) => h.toLowerCase()),
            allowCredentials: raw.cors.allow_credentials,
            maxAgeSeconds: Math.round(parseDuration(raw.cors.max_age)! / 1000),
          },
  };
}
