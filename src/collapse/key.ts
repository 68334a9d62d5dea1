import { createHash, hash } from 'node:crypto';
import type { Metadata } from '../call/call.js';

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
  // a call one corral of a fleet forwarded to another (fleet/fleet-origin.ts)
  'corral-fleet-hop',
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

/** Bodies up to this size are hashed in one crypto.hash call, faster than createHash for small inputs. */
const ONE_SHOT_HASH_MAX = 16 * 1024;

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
}

/**
 * The collapse key: SHA-256 over the full method name, the metadata that could change
 * the answer, and the request body (the framed message, compressed flag included).
 * Entries are sorted by name so header order does not matter; every part is delimited
 * by a newline, which no method name, header name or value can contain.
 */
export class KeyMaker {
  private readonly only: ReadonlySet<string> | null;
  private readonly prefix: string;
  private readonly authority: boolean;

  constructor(options: KeyOptions = {}) {
    this.only = options.metadata ? new Set(options.metadata) : null;
    this.authority = options.authority ?? true;
    this.prefix = options.namespace === undefined ? '' : options.namespace + '\n';
  }

  key(method: string, headers: Metadata, body: Buffer): string {
    const names: string[] = [];
    for (const name in headers) {
      if (this.counts(name, headers[name])) names.push(name);
    }
    names.sort();
    let text = this.prefix + method + '\n';
    for (const name of names) {
      const value = headers[name]!;
      if (typeof value === 'string') {
        text += name + ':' + value + '\n';
      } else {
        for (const v of value) text += name + ':' + v + '\n';
      }
    }
    text += '\n';
    if (body.length <= ONE_SHOT_HASH_MAX) {
      // One string, one hash call: cheaper than building a Buffer for the prefix and
      // concatenating. The body as latin1 maps each byte to one char, so distinct bodies
      // stay distinct (crypto.hash then encodes the string as UTF-8, also one-to-one).
      return hash('sha256', text + body.toString('latin1'), 'binary');
    }
    return createHash('sha256').update(text, 'latin1').update(body).digest('binary');
  }

  private counts(name: string, value: string | string[] | undefined): boolean {
    if (value === undefined) return false;
    // The backend sees the caller's :authority (virtual hosts, tenants by host name):
    // always in the key, as nginx's default cache key has $host. Other pseudo-headers are
    // the same for every gRPC call of a method.
    if (name.charCodeAt(0) === 0x3a /* ':' pseudo-header */) return this.authority && name === ':authority';
    if (this.only !== null) return this.only.has(name);
    if (!TRANSPORT_AND_TRACING_HEADERS.has(name)) return true;
    // The codec changes how the same bytes are read: only plain proto is left out.
    return name === 'content-type' && value !== 'application/grpc' && value !== 'application/grpc+proto';
  }
}
