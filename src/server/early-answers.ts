import { constants, type ServerHttp2Stream } from 'node:http2';

/** How long after its answer ended a stream is left for its client to finish, and how often they are checked. */
const LINGER_MS = 500;

/**
 * Calls answered while their client was still sending: once the answer has gone out, the
 * stream is reset with RST_STREAM(NO_ERROR), which tells the client to stop sending
 * (RFC 9113 8.1; grpc-go's server does the same). Otherwise a client that never
 * half-closes would keep every call it was answered (a refusal, a deadline, a shed call)
 * open and counted against MAX_OPEN_CALLS for as long as it likes.
 *
 * Not at once: node:http2 drops trailers still queued behind a reset, so the client would
 * lose its status. A stream is reset once nothing of its answer is queued and it has
 * lingered LINGER_MS, checked by one timer for all of them.
 */
export class EarlyAnswers {
  /** Streams by when their answer ended, oldest first (a Map keeps insertion order). */
  private readonly lingering = new Map<ServerHttp2Stream, number>();
  private timer: NodeJS.Timeout | null = null;

  /** `stream`'s answer has ended; its client has not finished sending. */
  add(stream: ServerHttp2Stream): void {
    this.lingering.set(stream, performance.now());
    this.timer ??= setInterval(() => this.sweep(), LINGER_MS / 2).unref();
  }

  /** The stream closed (the client finished, or reset it). */
  delete(stream: ServerHttp2Stream): void {
    this.lingering.delete(stream);
  }

  close(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  private sweep(): void {
    const before = performance.now() - LINGER_MS;
    for (const [stream, at] of this.lingering) {
      if (at > before) break;
      // Still writing its answer to a slow reader: checked again on the next sweep.
      if (stream.bufferSize > 0) continue;
      this.lingering.delete(stream);
      if (!stream.destroyed) stream.close(constants.NGHTTP2_NO_ERROR);
    }
    if (this.lingering.size === 0) this.close();
  }
}
