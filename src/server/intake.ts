import type { ServerHttp2Stream } from 'node:http2';
import type { Call, Handler, Metadata } from '../call/call.js';
import { FrameScanner } from '../wire/frame.js';
import { halfClosedByClient } from '../wire/half-close.js';
import { GrpcError, Status } from '../wire/status.js';
import type { QuietWatch, Quietable } from './quiet-watch.js';
import type { Reply } from './reply.js';
import { requestBufferFull, type Overload } from './overload.js';

const kIntake = Symbol('corral.intake');
type IntakeStream = ServerHttp2Stream & { [kIntake]: Intake };

const enum Phase {
  /** Reading the request to learn whether it is one message or a stream. */
  Classifying,
  /** Handed on as a stream; still checking message frames as they pass. */
  Streaming,
  /** Handed on as one message, or failed. */
  Done,
}

export interface IntakeOptions {
  maxMessageBytes: number;
  halfCloseWaitMs: number;
}

export type IntakeWatch = QuietWatch<Intake>;

/** What every intake of a front shares. */
export interface IntakeContext {
  readonly handler: Handler;
  readonly maxMessageBytes: number;
  readonly watch: IntakeWatch;
  /** Counts the request bytes intakes hold, against the process's bound. */
  readonly overload: Overload;
}

/**
 * Reads one request far enough to tell the two shapes of call apart without a .proto:
 *
 * - the client half-closes right after exactly one message (unary, server streaming):
 *   the whole body is handed on, so the collapser can key and share it;
 * - anything else (a second message starts, or the request goes quiet for
 *   halfCloseWaitMs without ending, see QuietWatch): a stream, handed on at once with
 *   the bytes read so far and the rest flowing from the client unbuffered.
 *
 * Every message prefix is checked as it passes (size limit, compressed flag), in both
 * shapes, so an oversize message is refused before its body is read.
 */
export class Intake implements Quietable {
  private phase = Phase.Classifying;
  private readonly chunks: Buffer[] = [];
  private readonly scanner: FrameScanner;
  lastDataAt = performance.now();
  busy = true;

  constructor(
    private readonly stream: ServerHttp2Stream,
    private readonly method: string,
    private readonly metadata: Metadata,
    private readonly deadline: number,
    private readonly reply: Reply,
    private readonly context: IntakeContext,
  ) {
    const encoding = metadata['grpc-encoding'];
    this.scanner = new FrameScanner(context.maxMessageBytes, encoding !== undefined && encoding !== 'identity');
    (stream as IntakeStream)[kIntake] = this;
    stream.on('data', onIntakeData);
    stream.on('end', onIntakeEnd);
    context.watch.add(this);
  }

  /** @internal */
  data(chunk: Buffer): void {
    if (this.phase === Phase.Done) return;
    this.reply.requestBytes += chunk.length;
    try {
      this.scanner.push(chunk);
    } catch (err) {
      this.fail(err as GrpcError);
      return;
    }
    if (this.phase === Phase.Streaming) return;
    // Held until the call ends (the body of a call that may be retried, or the head of a stream).
    this.chunks.push(chunk);
    this.reply.heldBytes += chunk.length;
    if (!this.context.overload.hold(chunk.length)) {
      this.fail(new GrpcError(Status.RESOURCE_EXHAUSTED, requestBufferFull(this.context.overload.limits.maxRequestBytes)));
      return;
    }
    this.lastDataAt = performance.now();
    this.busy = true;
    const s = this.scanner;
    if (s.messages > 1 || (s.messages === 1 && !s.atBoundary)) this.handOnStream();
  }

  /** @internal */
  end(): void {
    const s = this.scanner;
    if (this.phase === Phase.Done) return;
    if (!halfClosedByClient(this.stream) || !this.reply.open) {
      // Not a half-close (the client reset the stream), or the call ended before it (its
      // deadline passed): the request is incomplete and goes nowhere. A stream already
      // handed on is the upstream's to cancel.
      this.stop();
      return;
    }
    if (!s.atBoundary) {
      this.fail(
        new GrpcError(Status.INTERNAL, `malformed request: the stream ended inside a message after ${s.bytes} bytes`),
      );
      return;
    }
    if (this.phase === Phase.Streaming) return;
    if (s.messages === 1) {
      this.phase = Phase.Done;
      this.context.watch.delete(this);
      const body = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
      this.dispatch(body);
    } else {
      this.handOnStream();
    }
  }

  /** @internal The watch found the request quiet for the half-close wait, after a poll. */
  quiet(): void {
    if (this.phase === Phase.Classifying) this.handOnStream();
  }

  private handOnStream(): void {
    if (!this.reply.open) return this.stop();
    this.phase = Phase.Streaming;
    this.context.watch.delete(this);
    this.dispatch(null);
  }

  private dispatch(body: Buffer | null): void {
    const call: Call =
      body !== null
        ? { stream: false, method: this.method, metadata: this.metadata, deadline: this.deadline, body }
        : { stream: true, method: this.method, metadata: this.metadata, deadline: this.deadline, head: this.chunks, source: this.stream };
    this.context.handler.handle(call, this.reply);
  }

  /** The call is over for its client: nothing more is read into it. */
  private stop(): void {
    const streaming = this.phase === Phase.Streaming;
    this.phase = Phase.Done;
    this.context.watch.delete(this);
    if (!streaming) this.stream.resume();
  }

  private fail(error: GrpcError): void {
    this.phase = Phase.Done;
    this.context.watch.delete(this);
    this.reply.fail(error);
    // Keep reading and dropping what the client still sends, so its stream can close.
    this.stream.resume();
  }
}

function onIntakeData(this: IntakeStream, chunk: Buffer): void {
  this[kIntake].data(chunk);
}

function onIntakeEnd(this: IntakeStream): void {
  this[kIntake].end();
}
