import type { OutgoingHttpHeaders } from 'node:http2';
import type { Readable } from 'node:stream';
import type { DownstreamListener, ResponseSink } from '../call.js';
import type { GrpcError } from '../wire/status.js';

/** A request to send: the whole body, or the bytes read so far and the stream of the rest. */
export type RequestBody = Buffer | { readonly head: readonly Buffer[]; readonly source: Readable };

/**
 * A backend call under way. The stage that started it tells it, as a DownstreamListener,
 * when its receiver went away (cancel) or drained (read from the backend again), and may
 * end it with a reason of its own.
 */
export interface OriginCall extends DownstreamListener {
  /** Ends the call; the sink gets `reason`. */
  abort(reason: GrpcError): void;
}

/**
 * Where calls leave corral: the backend call as a stage. Flights and the passthrough
 * start their backend calls here, so a step between the collapser and the backend (a
 * fleet-wide collapser, a recorder) is an Origin that wraps another.
 */
export interface Origin {
  /** Starts a call; its response flows into `sink`. */
  start(headers: OutgoingHttpHeaders, body: RequestBody, sink: ResponseSink): OriginCall;
}
