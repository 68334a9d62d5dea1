import { constants, type ServerHttp2Stream } from 'node:http2';

/** How long after its answer ended a stream is left for its client to finish; checked twice as often. */
const LINGER_MS = 500;

/** A call as the sweep sees it: whether its answer has ended, and its client stream. */
export interface AnsweredCall {
  /** False once the answer has ended (or the client is gone). */
  readonly open: boolean;
  readonly stream: ServerHttp2Stream;
}

/**
 * Calls answered while their client was still sending: once the answer has gone out, the
 * stream is reset with RST_STREAM(NO_ERROR), which tells the client to stop sending
 * (RFC 9113 8.1; grpc-go's server does the same). Otherwise a client that never
 * half-closes would keep every call it was answered (a refusal, a deadline, a shed call)
 * open and counted against MAX_OPEN_CALLS for as long as it likes.
 *
 * Not at once: node:http2 drops trailers still queued behind a reset, so the client would
 * lose its status. A stream is reset once nothing of its answer is queued and it has
 * lingered LINGER_MS. One timer sweeps the front's open calls, so the call path does no
 * work for it: a check in the reply's hot functions showed in bench/allocation.ts, as V8
 * inlined less of them.
 */
export class EarlyAnswers {
  /** When each call was first seen answered with its client still sending. */
  private readonly seen = new Map<AnsweredCall, number>();
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly calls: Iterable<AnsweredCall>) {
    this.timer = setInterval(() => this.sweep(), LINGER_MS / 2).unref();
  }

  /** The call closed. */
  delete(call: AnsweredCall): void {
    if (this.seen.size > 0) this.seen.delete(call);
  }

  close(): void {
    clearInterval(this.timer);
  }

  private sweep(): void {
    const now = performance.now();
    for (const call of this.calls) {
      const stream = call.stream;
      // Still answering, the client has finished (or left), or the answer is still queued for a slow reader.
      if (call.open || stream.destroyed || stream.readableEnded || stream.bufferSize > 0) continue;
      const since = this.seen.get(call);
      if (since === undefined) this.seen.set(call, now);
      else if (now - since >= LINGER_MS) {
        this.seen.delete(call);
        stream.close(constants.NGHTTP2_NO_ERROR);
      }
    }
  }
}
