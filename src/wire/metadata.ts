import { GrpcError, Status } from './status.js';

type HeaderMap = Record<string, unknown>;

/** The first value of a metadata entry: an entry sent more than once is an array. */
export function firstValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/**
 * Puts back the values of every field sent more than once, in order, as an array (node
 * sends an array as separate fields). node:http2 joins repeated fields into one value
 * with ", " ("; " for cookie) and keeps only the first of the names it deems
 * single-valued; gRPC metadata keeps each value, and a grpc-core peer rejects a joined
 * -bin value with a connection error. `raw` is the field list node received (the last
 * argument of its 'stream', 'response' and 'trailers' events). Allocates nothing unless
 * a name repeats.
 */
export function restoreRepeatedFields<T extends object>(headers: T, raw: readonly string[] | undefined): T {
  if (raw === undefined) return headers;
  const map = headers as HeaderMap;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.charCodeAt(0) === 0x3a /* ':' */) continue;
    const value = map[name];
    if (typeof value === 'string' && value !== raw[i + 1]) map[name] = valuesOf(raw, name);
  }
  return headers;
}

function valuesOf(raw: readonly string[], name: string): string[] {
  const values: string[] = [];
  for (let i = 0; i < raw.length; i += 2) if (raw[i] === name) values.push(raw[i + 1]!);
  return values;
}

/**
 * Names node:http2 refuses to send more than once (its kSingleValueHeaders), limited to
 * the ones that are not pseudo-headers: a request repeating one cannot be forwarded as it is.
 */
const SINGLE_VALUE_NAMES: ReadonlySet<string> = new Set([
  'access-control-allow-credentials', 'access-control-max-age', 'access-control-request-method', 'age',
  'authorization', 'content-encoding', 'content-language', 'content-length', 'content-location', 'content-md5',
  'content-range', 'content-type', 'date', 'dnt', 'etag', 'expires', 'from', 'host', 'if-match',
  'if-modified-since', 'if-none-match', 'if-range', 'if-unmodified-since', 'last-modified', 'location',
  'max-forwards', 'proxy-authorization', 'range', 'referer', 'retry-after', 'tk', 'upgrade-insecure-requests',
  'user-agent', 'x-content-type-options',
]);

/** Standard base64, padded or not (gRPC accepts both); no separators inside one value. */
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/**
 * Whether a -bin value is base64 as an encoder writes it (RFC 4648 3.5): the bits of its
 * last character past the end of its bytes are zero. 'YR==' decodes to 'a' for a lenient
 * decoder, but grpc-core reads it as a connection error and closes the whole connection.
 */
function isBase64(value: string): boolean {
  if (!BASE64.test(value)) return false;
  let end = value.length;
  while (end > 0 && value.charCodeAt(end - 1) === 0x3d /* '=' */) end--;
  const padded = end < value.length;
  if (padded ? value.length % 4 !== 0 : end % 4 === 1) return false;
  // 2 characters of a last group carry 12 bits for 1 byte (4 spare), 3 carry 18 for 2 (2 spare).
  const spare = end % 4 === 2 ? 0x0f : end % 4 === 3 ? 0x03 : 0;
  return spare === 0 || (ALPHABET.indexOf(value[end - 1]!) & spare) === 0;
}

/**
 * Why request metadata cannot be forwarded as it came, or null. A backend session is
 * shared by many callers: metadata a backend reads as a connection error (grpc-core closes
 * the whole connection on a -bin value that is not base64) must fail only its own call.
 */
export function metadataProblem(headers: HeaderMap): GrpcError | null {
  for (const name in headers) {
    const value = headers[name];
    if (typeof value === 'string') {
      if (name.endsWith('-bin') && !isBase64(value)) return malformedBinary(name, value);
    } else if (Array.isArray(value)) {
      if (SINGLE_VALUE_NAMES.has(name)) {
        return new GrpcError(Status.INTERNAL, `malformed request: '${name}' was sent ${value.length} times; HTTP/2 allows it once`);
      }
      if (name.endsWith('-bin')) {
        for (const v of value as string[]) if (!isBase64(v)) return malformedBinary(name, v);
      }
    }
  }
  return null;
}

function malformedBinary(name: string, value: string): GrpcError {
  const shown = value.length > 40 ? `${value.slice(0, 40)}...` : value;
  return new GrpcError(
    Status.INTERNAL,
    `malformed binary metadata '${name}': '${shown}' is not base64 as an encoder writes it (padded or not, the spare bits of its last character zero); send each -bin value base64-encoded in a field of its own`,
  );
}

/** Bytes a header list counts for SETTINGS_MAX_HEADER_LIST_SIZE: name, value and 32 per field (RFC 9113 6.5.2). */
export function headerListSize(headers: HeaderMap): number {
  let size = 0;
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined) continue;
    if (Array.isArray(value)) {
      for (const v of value) size += name.length + String(v).length + 32;
    } else {
      size += name.length + String(value).length + 32;
    }
  }
  return size;
}

/**
 * The HTTP/2 request headers of a gRPC call (the spec's request-headers): its metadata,
 * in place, with the fields HTTP/2 needs. Metadata from the HTTP/2 front has them
 * already (:path is the method) and is left as it is; a call from another front gets
 * them here. :authority is the caller's when it sent one.
 */
export function requestHeaders(method: string, metadata: Record<string, string | string[] | undefined>): Record<string, string | string[] | undefined> {
  if (metadata[':path'] === method) return metadata;
  metadata[':method'] = 'POST';
  metadata[':scheme'] = 'http';
  metadata[':path'] = method;
  metadata['content-type'] ??= 'application/grpc';
  metadata.te = 'trailers';
  return metadata;
}
