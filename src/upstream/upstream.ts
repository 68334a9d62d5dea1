import type { ClientHttp2Stream, OutgoingHttpHeaders } from 'node:http2';
import type { Metadata } from '../call.js';
import type { Endpoint } from '../discovery/endpoint.js';
import { GrpcError } from '../wire/status.js';

/** What a route allows after a backend failure. */
export interface RetryPolicy {
  /** Attempts after the first, each on an endpoint the call has not failed on (RETRY_COUNT). */
  readonly retries: number;
  /** An attempt without response headers after this long has failed (RETRY_TIMEOUT_MS); 0: no limit. */
  readonly attemptTimeoutMs: number;
  /** A single-message call is replayed on another endpoint even after its response started (session_transfer). */
  readonly sessionTransfer: boolean;
}

/**
 * Where a call's backend attempts go: a route's cluster, as the stages above it see it.
 * The flights and the passthrough only ask it for an endpoint, a stream to it, and tell
 * it how the attempt went; choosing, connecting and ejecting stay below.
 */
export interface Upstream {
  readonly retry: RetryPolicy;
  /**
   * The endpoint for a call's next attempt, avoiding the ids in `tried` (where it failed
   * already); throws a GrpcError when there is none.
   */
  pick(headers: Metadata, tried: ReadonlySet<string> | null): Endpoint;
  /** Opens a stream to a picked endpoint; throws a GrpcError when it cannot now. */
  request(endpoint: Endpoint, headers: OutgoingHttpHeaders, signal?: AbortSignal): ClientHttp2Stream;
  /** The endpoint answered: response headers arrived. */
  succeeded(endpoint: Endpoint): void;
  /** The endpoint failed an attempt: the connection or stream broke, or it did not answer in time. */
  failed(endpoint: Endpoint, error: GrpcError): void;
}

/**
 * A request that cannot be sent as it is to any endpoint, such as metadata larger than the
 * backend accepts: the call gets this status at once, it is not retried, and no endpoint is
 * blamed (ejected) for it.
 */
export class UnforwardableRequest extends GrpcError {}
