import { createHash, hash } from 'node:crypto';
import { FLEET_HOP } from '../call/fleet-hop.js';
import type { Metadata } from '../call/call.js';
import { CLIENT_CERT_HEADER } from '../tls/client-certificate.js';
import type { KeyCanon } from './key-canon.js';

/**
 * Metadata that describes the transport or the trace, not the question: leaving it out
 * lets callers that differ only in these share a response. Everything else counts,
 * so callers with a different `authorization`, session, tenant or baggage never share.
 */
export const TRANSPORT_AND_TRACING_HEADERS: ReadonlySet<string> = new Set([
  // HTTP/2 and gRPC transport
  'te',
  'content-type', // counted when it names a codec other than proto, see below
  'content-length',
  'user-agent',
  'grpc-timeout',
  'grpc-accept-encoding',
  'accept-encoding',
  'grpc-previous-rpc-attempts',
  // how the caller lets its request be served (no-cache: not from the cache), not the question
  'cache-control',
  // a call one corral of a fleet forwarded to another (fleet/fleet-origin.ts)
  FLEET_HOP,
  // tracing
  'traceparent',
  'tracestate',
  'grpc-trace-bin',
  'grpc-tags-bin',
  'x-request-id',
  'x-b3-traceid',
  'x-b3-spanid',
  'x-b3-parentspanid',
  'x-b3-sampled',
  'x-b3-flags',
  'b3',
  'x-cloud-trace-context',
  'uber-trace-id',
  'x-amzn-trace-id',
  'x-datadog-trace-id',
  'x-datadog-parent-id',
  'x-datadog-sampling-priority',
  'sentry-trace',
]);

/**
 * Every key is written here, then hashed: making a key allocates its digest and little
 * else (the per-call allocation in docs/performance.md). One buffer for the process: a
 * key is made synchronously, start to end. It grows to the largest key made so far,
 * which the header list limit and BODY_COPY_MAX bound.
 */
let scratch = Buffer.allocUnsafeSlow(4096);
/** Bodies up to this size are copied behind the metadata and hashed in one call; larger ones are hashed where they are. */
const BODY_COPY_MAX = 16 * 1024;
/** The names that count, sorted as they are found (few per call: no sort's work array). */
const counted: string[] = [];

export interface KeyOptions {
  /** When set, only these metadata names (lower case) count; otherwise all but TRANSPORT_AND_TRACING_HEADERS. */
  metadata?: readonly string[] | undefined;
  /**
   * Hashed in front of everything else: the route (and config generation) a call took,
   * so routes that send the same method to different clusters never share a response.
   */
  namespace?: string;
  /**
   * Whether the caller's :authority counts (the default). A fleet leaves it out: there a
   * client's :authority names the sidecar it reached (each pod's own address), not the
   * question, and every sidecar must key the same call the same.
   */
  authority?: boolean;
  /** Makes a described method's request canonical for its key (ignored fields, sorted maps); null: keyed as sent. */
  canon?: KeyCanon | null;
}

/**
 * The collapse key: SHA-256 over the full method name, the metadata that could change
 * the answer, and the request body (the framed message, compressed flag included).
 * Entries are sorted by name so header order does not matter; every part is delimited
 * by a newline, which no method name, header name or value can contain, and the body,
 * last, is hashed as its bytes.
 */
export class KeyMaker {
  private readonly only: ReadonlySet<string> | null;
  private readonly prefix: string;
  private readonly authority: boolean;
  private readonly canon: KeyCanon | null;

  constructor(options: KeyOptions = {}) {
    this.canon = options.canon ?? null;
    this.only = options.metadata ? new Set(options.metadata) : null;
    this.authority = options.authority ?? true;
    this.prefix = options.namespace === undefined ? '' : options.namespace + '\n';
  }

  key(method: string, headers: Metadata, body: Buffer): string {
    if (this.canon !== null) body = this.canon.body(method, body);
    let chars = this.prefix.length + method.length + 2;
    for (const name in headers) {
      const value = headers[name];
      if (!this.counts(name, value)) continue;
      insertSorted(counted, name);
      if (typeof value === 'string') chars += name.length + value.length + 2;
      else for (const v of value!) chars += name.length + v.length + 2;
    }
    // UTF-8 takes at most 3 bytes for each UTF-16 unit.
    const inline = body.length <= BODY_COPY_MAX;
    const size = chars * 3 + (inline ? body.length : 0);
    if (scratch.length < size) scratch = Buffer.allocUnsafeSlow(Math.max(size, scratch.length * 2));
    const out = scratch;
    let at = out.write(this.prefix, 0, 'utf8');
    at += out.write(method, at, 'utf8');
    out[at++] = NEWLINE;
    for (let i = 0; i < counted.length; i++) {
      const name = counted[i]!;
      const value = headers[name]!;
      if (typeof value === 'string') {
        at = field(out, at, name, value);
      } else {
        for (const v of value) at = field(out, at, name, v);
      }
    }
    counted.length = 0;
    out[at++] = NEWLINE;
    if (!inline) return createHash('sha256').update(out.subarray(0, at)).update(body).digest('binary');
    at += body.copy(out, at);
    return hash('sha256', out.subarray(0, at), 'binary');
  }

  private counts(name: string, value: string | string[] | undefined): boolean {
    if (value === undefined) return false;
    // The backend sees the caller's :authority (virtual hosts, tenants by host name):
    // always in the key, as nginx's default cache key has $host. Other pseudo-headers are
    // the same for every gRPC call of a method.
    if (name.charCodeAt(0) === 0x3a /* ':' pseudo-header */) return this.authority && name === ':authority';
    // The client's certificate (set by corral's TLS front) is its identity: counted even when narrowed.
    if (this.only !== null) return this.only.has(name) || name === CLIENT_CERT_HEADER;
    if (!TRANSPORT_AND_TRACING_HEADERS.has(name)) return true;
    // The codec changes how the same bytes are read: only plain proto is left out.
    return name === 'content-type' && value !== 'application/grpc' && value !== 'application/grpc+proto';
  }
}

const NEWLINE = 0x0a;
const COLON = 0x3a;

/** Writes `name:value\n` (UTF-8) at `at`; returns where it ended. */
function field(out: Buffer, at: number, name: string, value: string): number {
  at += out.write(name, at, 'utf8');
  out[at++] = COLON;
  at += out.write(value, at, 'utf8');
  out[at++] = NEWLINE;
  return at;
}

function insertSorted(names: string[], name: string): void {
  let i = names.length;
  names.push(name);
  while (i > 0 && names[i - 1]! > name) {
    names[i] = names[i - 1]!;
    i--;
  }
  names[i] = name;
}

/**
 * A collapse key as /flights and the access log show it, and a purge by key takes it: the
 * hex of its SHA-256 digest. (A reused buffer and a table of digits were both slower.)
 */
export function keyHex(key: string): string {
  return Buffer.from(key, 'latin1').toString('hex');
}
