import { GrpcError, Status } from './status.js';

/** Every gRPC message on the wire: 1 byte compressed flag, 4 bytes big-endian length, payload. */
export const FRAME_HEADER_BYTES = 5;

/** Frames one message. */
export function encodeFrame(payload: Uint8Array, compressed = false): Buffer {
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.length);
  frame[0] = compressed ? 1 : 0;
  frame.writeUInt32BE(payload.length, 1);
  frame.set(payload, FRAME_HEADER_BYTES);
  return frame;
}

/**
 * Follows message boundaries across the DATA chunks of one stream without buffering
 * them: the proxy forwards bytes as they come and only needs to know how many messages
 * have passed, whether it stopped inside one, and that none is larger than allowed.
 * It checks each message's prefix as soon as it is seen, so an oversize message is
 * refused before its body arrives.
 */
export class FrameScanner {
  /** Messages completed so far. */
  messages = 0;
  /** Bytes seen so far. */
  bytes = 0;
  private headerSeen = 0;
  private flag = 0;
  private length = 0;
  private bodyLeft = 0;

  /**
   * @param maxMessageBytes largest message length a prefix may declare
   * @param compressionAllowed whether the stream declared a grpc-encoding other than identity
   */
  constructor(
    private readonly maxMessageBytes: number,
    private readonly compressionAllowed: boolean,
  ) {}

  /** True when the bytes so far end exactly on a message boundary. */
  get atBoundary(): boolean {
    return this.headerSeen === 0 && this.bodyLeft === 0;
  }

  /** Accounts for one chunk; throws a GrpcError on a malformed or oversize message. */
  push(chunk: Uint8Array): void {
    this.bytes += chunk.length;
    let i = 0;
    while (i < chunk.length) {
      if (this.bodyLeft > 0) {
        const take = Math.min(this.bodyLeft, chunk.length - i);
        this.bodyLeft -= take;
        i += take;
        if (this.bodyLeft === 0) this.messages++;
        continue;
      }
      const byte = chunk[i++]!;
      if (this.headerSeen === 0) {
        this.flag = byte;
        this.length = 0;
      } else {
        this.length = this.length * 256 + byte;
      }
      if (++this.headerSeen < FRAME_HEADER_BYTES) continue;
      this.headerSeen = 0;
      this.checkHeader();
      this.bodyLeft = this.length;
      if (this.length === 0) this.messages++;
    }
  }

  private checkHeader(): void {
    const flag = this.flag;
    if (flag > 1) {
      throw new GrpcError(Status.INTERNAL, `malformed message: compressed-flag byte is ${flag}, must be 0 or 1`);
    }
    if (flag === 1 && !this.compressionAllowed) {
      throw new GrpcError(
        Status.INTERNAL,
        'malformed message: compressed flag set but the call declared no grpc-encoding',
      );
    }
    if (this.length > this.maxMessageBytes) {
      throw new GrpcError(
        Status.RESOURCE_EXHAUSTED,
        `message of ${this.length} bytes exceeds the limit of ${this.maxMessageBytes} bytes (MAX_MESSAGE_BYTES)`,
      );
    }
  }
}
