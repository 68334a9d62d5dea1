import type { IncomingHttpHeaders } from 'node:http';
import type { CorsSpec } from './http-spec.js';

/**
 * Response headers a page may read without being named in Access-Control-Expose-Headers
 * (the Fetch standard's CORS-safelisted response header names), and CORS's own.
 */
const READABLE = /^(cache-control|content-language|content-length|content-type|expires|last-modified|pragma|access-control-.*|vary)$/;

/** What CORS adds to every answer of a gateway whose configuration has no cors section. */
const NONE: Readonly<Record<string, string>> = Object.freeze({});

/**
 * The gateway's CORS policy (Envoy's CORS filter and rs/cors are the models). Every
 * answer carries `Vary: Origin` when CORS is configured, whatever the origin (allowed,
 * refused, or none), so no cache serves one origin's answer to another. An allowed
 * origin gets Access-Control-Allow-Origin, Allow-Credentials when configured, and
 * Access-Control-Expose-Headers naming every header corral set on that answer
 * (Grpc-Metadata-*, Grpc-Trailer-*, WWW-Authenticate, Allow...) plus `expose_headers`.
 */
export class CorsPolicy {
  constructor(private readonly spec: CorsSpec | null) {}

  /** The headers an answer to a request with these headers starts from. */
  headers(request: IncomingHttpHeaders): Readonly<Record<string, string>> {
    const spec = this.spec;
    if (spec === null) return NONE;
    const origin = request.origin;
    if (origin === undefined || !this.allows(origin)) return { vary: 'Origin' };
    const any = spec.allowedOrigins.includes('*') && !spec.allowCredentials;
    const out: Record<string, string> = { 'access-control-allow-origin': any ? '*' : origin, vary: 'Origin' };
    if (spec.allowCredentials) out['access-control-allow-credentials'] = 'true';
    return out;
  }

  /**
   * The answer to a preflight (OPTIONS with Access-Control-Request-Method), or null when
   * the request is not one: 204 with what is allowed, or 403 for an origin that is not.
   */
  preflight(method: string | undefined, request: IncomingHttpHeaders): { status: number; headers: Record<string, string> } | null {
    const spec = this.spec;
    if (spec === null || method !== 'OPTIONS' || request['access-control-request-method'] === undefined) return null;
    const vary = 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers';
    const origin = request.origin;
    if (origin === undefined || !this.allows(origin)) return { status: 403, headers: { vary } };
    return {
      status: 204,
      headers: {
        ...this.headers(request),
        vary,
        'access-control-allow-methods': spec.allowedMethods.join(', '),
        'access-control-allow-headers': spec.allowedHeaders.join(', '),
        'access-control-max-age': String(spec.maxAgeSeconds),
      },
    };
  }

  /** Adds Access-Control-Expose-Headers to an answer to an allowed origin: the headers it carries, and the configured ones. */
  expose(out: Record<string, string | string[]>): void {
    if (this.spec === null || out['access-control-allow-origin'] === undefined) return;
    const names = new Set(this.spec.exposeHeaders);
    for (const name of Object.keys(out)) if (!READABLE.test(name)) names.add(name);
    if (names.size > 0) out['access-control-expose-headers'] = [...names].join(', ');
  }

  private allows(origin: string): boolean {
    const allowed = this.spec!.allowedOrigins;
    return allowed.includes('*') || allowed.includes(origin);
  }
}
