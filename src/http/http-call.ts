import type { IncomingHttpHeaders } from 'node:http';
import type { Call, Metadata } from '../call.js';
import { USER_EMAIL_HEADER, USER_ID_HEADER } from '../auth/identity.js';
import { encodeGrpcMessage } from '../wire/status.js';
import { formatGrpcTimeout } from '../wire/timeout.js';
import type { HttpRoute } from './http-routes.js';

const GRPC_METADATA = 'grpc-metadata-';
/** HTTP headers that pass as they are: the token, and trace context. */
const PASSED = ['authorization', 'traceparent', 'tracestate'];

/**
 * A transcoded request as a gRPC Call: the route's method, the message framed, and the
 * metadata the gateway sends: x-forwarded-method and -path, x-path-<variable> for each
 * path variable, the client's Grpc-Metadata-* headers (grpc-gateway's convention), its
 * authorization and trace headers, and grpc-timeout from the route's timeout. What a
 * client sends under the gateway's own names is not passed on.
 */
export function httpCall(route: HttpRoute, httpMethod: string, path: string, headers: IncomingHttpHeaders, variables: ReadonlyMap<string, string>, message: Uint8Array): Call {
  const metadata: Metadata = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    if (name.startsWith(GRPC_METADATA)) {
      const key = name.slice(GRPC_METADATA.length);
      if (key === '' || key.startsWith('x-forwarded-') || key.startsWith('x-path-') || key === USER_ID_HEADER || key === USER_EMAIL_HEADER || key.startsWith('grpc-')) continue;
      metadata[key] = value;
    } else if (PASSED.includes(name)) {
      metadata[name] = value;
    }
  }
  metadata['x-forwarded-method'] = httpMethod;
  metadata['x-forwarded-path'] = path;
  // Metadata values are printable ASCII: other bytes percent-encoded, as grpc-message is.
  for (const [name, value] of variables) metadata[`x-path-${name.toLowerCase()}`] = encodeGrpcMessage(value);
  metadata['grpc-timeout'] = formatGrpcTimeout(route.spec.timeoutMs);
  const body = Buffer.allocUnsafe(5 + message.length);
  body[0] = 0;
  body.writeUInt32BE(message.length, 1);
  body.set(message, 5);
  return { method: route.grpcPath, metadata, deadline: performance.now() + route.spec.timeoutMs, body, head: [], source: null };
}
