import type { ClientHttp2Stream, OutgoingHttpHeaders } from 'node:http2';

/**
 * Where a call's backend stream comes from: one endpoint's SessionPool, or a route that
 * picks an endpoint of its cluster per call. The stages above (flights, passthrough)
 * only ever ask for a stream.
 */
export interface Upstream {
  /** Opens a backend stream; throws a GrpcError when none can be opened now. */
  request(headers: OutgoingHttpHeaders, signal?: AbortSignal): ClientHttp2Stream;
}
