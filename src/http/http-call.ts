import type { IncomingHttpHeaders } from 'node:http';
import type { MessageCall, Metadata } from '../call/call.js';
import { USER_EMAIL_HEADER, USER_ID_HEADER } from '../auth/identity.js';
import { OWN_METADATA_PREFIX } from '../call/own-metadata.js';
import { metadataProblem } from '../wire/metadata.js';
import { percentEncoded } from '../wire/percent-encoding.js';
import { BadRequest } from './transcode.js';
import { formatGrpcTimeout } from '../wire/timeout.js';
import type { HttpRoute } from './http-routes.js';

const GRPC_METADATA = 'grpc-metadata-';
/** HTTP headers that pass as they are: the token, and trace context. */
const PASSED = ['authorization', 'traceparent', 'tracestate'];
/** A metadata name as gRPC allows it (HTTP has lowercased it already). */
const METADATA_NAME = /^[0-9a-z_.-]+$/;
/** A metadata value that is not -bin: printable ASCII. */
const PRINTABLE = /^[\x20-\x7e]*$/;

/**
 * Names a Grpc-Metadata-* header may never set: HTTP/2's and HTTP/1.1's own fields
 * (a content-length the body does not have makes a backend close the whole connection,
 * failing every caller on it), gRPC's (grpc-*), corral's own (corral-*), and what corral sets itself (the
 * forwarded path and method, path variables, the verified identity, the token and
 * trace context, which come from their own HTTP headers).
 */
function reserved(name: string): boolean {
  switch (name) {
    case 'content-length':
    case 'content-type':
    case 'te':
    case 'host':
    case 'connection':
    case 'keep-alive':
    case 'proxy-connection':
    case 'transfer-encoding':
    case 'upgrade':
    case 'http2-settings':
    case 'authorization':
    case 'traceparent':
    case 'tracestate':
    case USER_ID_HEADER:
    case USER_EMAIL_HEADER:
      return true;
    default:
      return name.startsWith('grpc-') || name.startsWith('x-forwarded-') || name.startsWith('x-path-') || name.startsWith(OWN_METADATA_PREFIX);
  }
}

/** The metadata a Grpc-Metadata-* header asks for, or a BadRequest naming the header. */
function clientMetadata(header: string, value: string | string[]): [string, string | string[]] {
  const name = header.slice(GRPC_METADATA.length);
  const shown = `Grpc-Metadata-${name}`;
  if (!METADATA_NAME.test(name)) throw new BadRequest(`header '${shown}': '${name}' is not a gRPC metadata name (0-9 a-z _ . -)`);
  if (reserved(name)) throw new BadRequest(`header '${shown}' would set '${name}', which HTTP/2, gRPC or corral reserve`);
  if (!name.endsWith('-bin')) {
    for (const v of Array.isArray(value) ? value : [value]) {
      if (!PRINTABLE.test(v)) throw new BadRequest(`header '${shown}': a metadata value must be printable ASCII (use a -bin name, base64, for bytes)`);
    }
  }
  return [name, value];
}

/**
 * A transcoded request as a gRPC Call: the route's method, the message framed, and the
 * metadata the gateway sends: x-forwarded-method and -path, x-path-<variable> for each
 * path variable, the client's Grpc-Metadata-* headers (grpc-gateway's convention), its
 * authorization and trace headers, and grpc-timeout from the route's timeout.
 *
 * The metadata passes the checks the gRPC port applies (-bin values base64, a name that
 * HTTP/2 allows once sent once), and a Grpc-Metadata-* header that names a reserved
 * field or is not valid metadata is refused: BadRequest, 400 naming the header.
 */
export function httpCall(route: HttpRoute, httpMethod: string, path: string, headers: IncomingHttpHeaders, variables: ReadonlyMap<string, string>, message: Uint8Array): MessageCall {
  // Keyed by names the client chose: no prototype to reach.
  const metadata = Object.create(null) as Metadata;
  for (const header of Object.keys(headers)) {
    const value = headers[header];
    if (value === undefined) continue;
    if (header.startsWith(GRPC_METADATA)) {
      const [name, v] = clientMetadata(header, value);
      metadata[name] = v;
    } else if (PASSED.includes(header)) {
      metadata[header] = value;
    }
  }
  const problem = metadataProblem(metadata);
  if (problem !== null) throw new BadRequest(problem.message);
  metadata['x-forwarded-method'] = httpMethod;
  metadata['x-forwarded-path'] = path;
  // Metadata values are printable ASCII: other bytes percent-encoded, as grpc-message is.
  for (const [name, value] of variables) metadata[`x-path-${name.toLowerCase()}`] = percentEncoded(value);
  metadata['grpc-timeout'] = formatGrpcTimeout(route.spec.timeoutMs);
  const body = Buffer.allocUnsafe(5 + message.length);
  body[0] = 0;
  body.writeUInt32BE(message.length, 1);
  body.set(message, 5);
  return { stream: false, method: route.grpcPath, metadata, deadline: performance.now() + route.spec.timeoutMs, body };
}
