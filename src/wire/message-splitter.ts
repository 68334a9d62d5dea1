import { FRAME_HEADER_BYTES } from './frame.js';

/**
 * Cuts the DATA chunks of one stream into whole gRPC messages (each with its 5-byte
 * prefix), for a sender that must start a receiver on a message boundary: a watcher that
 * joins a live stream. A message within one chunk is passed as a view of it; one spread
 * over chunks is copied once into a buffer of its own. Holds at most one partial message.
 */
export class MessageSplitter {
  private partial: Buffer[] = [];
  private partialBytes = 0;
  /** Bytes of the message being gathered, its prefix included; 0 until its prefix is complete. */
  private wanted = 0;

  /** Calls `message` with each message the chunk completes. */
  push(chunk: Buffer, message: (frame: Buffer) => void): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.partialBytes === 0) {
        // At a boundary: whole messages in the chunk go out as views.
        const left = chunk.length - at;
        if (left >= FRAME_HEADER_BYTES) {
          const size = FRAME_HEADER_BYTES + chunk.readUInt32BE(at + 1);
          if (left >= size) {
            message(chunk.subarray(at, at + size));
            at += size;
            continue;
          }
          this.wanted = size;
        }
        this.partial.push(chunk.subarray(at));
        this.partialBytes = left;
        return;
      }
      if (this.wanted === 0) {
        // The prefix itself was split: take what completes it.
        const take = Math.min(FRAME_HEADER_BYTES - this.partialBytes, chunk.length - at);
        this.partial.push(chunk.subarray(at, at + take));
        this.partialBytes += take;
        at += take;
        if (this.partialBytes < FRAME_HEADER_BYTES) return;
        const prefix = Buffer.concat(this.partial, FRAME_HEADER_BYTES);
        this.partial = [prefix];
        this.wanted = FRAME_HEADER_BYTES + prefix.readUInt32BE(1);
      }
      const take = Math.min(this.wanted - this.partialBytes, chunk.length - at);
      this.partial.push(chunk.subarray(at, at + take));
      this.partialBytes += take;
      at += take;
      if (this.partialBytes === this.wanted) {
        const frame = Buffer.concat(this.partial, this.wanted);
        this.partial = [];
        this.partialBytes = 0;
        this.wanted = 0;
        message(frame);
      }
    }
  }
}
