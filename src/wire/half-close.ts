import type { Readable } from 'node:stream';

type RequestStream = Readable & { readonly aborted?: boolean; readonly closed?: boolean };

/**
 * Whether a request stream that has just emitted 'end' was half-closed by its client
 * (END_STREAM) while it was still open: only then is the request complete.
 *
 * node:http2 also ends a server stream's readable side when the stream closes: on a
 * client reset with any code, and on RST_STREAM(NO_ERROR) without 'aborted' when the
 * response had already ended (grpc-go's client resets that way once the server has
 * answered a stream it still holds open). Such a stream is closed by the time 'end' is
 * emitted, whereas a real half-close leaves it open until the response ends.
 */
export function halfClosedByClient(stream: Readable): boolean {
  const s = stream as RequestStream;
  return s.aborted !== true && s.closed !== true && !s.destroyed;
}
