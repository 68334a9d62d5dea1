import type { Headers, ResponseSink } from '../call.js';
import type { GrpcError } from '../wire/status.js';

/** Rough cost of one header entry beyond its text, for byte accounting. */
const HEADER_ENTRY_OVERHEAD = 32;

function headerBytes(headers: Headers): number {
  let bytes = 0;
  for (const name in headers) {
    const value = headers[name];
    bytes += name.length + HEADER_ENTRY_OVERHEAD + (typeof value === 'string' ? value.length : String(value).length);
  }
  return bytes;
}

/**
 * One backend response as it arrived: headers, the DATA chunks untouched (the message
 * frames, compressed or not), and trailers or the error that ended it. It can be
 * replayed to any sink, which is how followers that join late and cache hits are served.
 */
export class Recording {
  headers: Headers | null = null;
  endedByHeaders = false;
  chunks: Buffer[] = [];
  trailers: Headers | null = null;
  error: GrpcError | null = null;
  /** Bytes held: chunk lengths plus an estimate for headers and trailers. */
  bytes = 0;

  setHeaders(headers: Headers, endsResponse: boolean): void {
    this.headers = headers;
    this.endedByHeaders = endsResponse;
    this.bytes += headerBytes(headers);
  }

  addChunk(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.bytes += chunk.length;
  }

  setTrailers(trailers: Headers): void {
    this.trailers = trailers;
    this.bytes += headerBytes(trailers);
  }

  /**
   * Copies the chunks into one buffer of their exact size, for keeping in the cache:
   * a chunk from node:http2 can be a view into a larger socket read, which it would keep
   * alive whole.
   */
  compact(): void {
    if (this.chunks.length > 0) this.chunks = [Buffer.concat(this.chunks)];
  }

  /** grpc-status of a completed response, or undefined while it is incomplete or failed. */
  get status(): string | undefined {
    const from = this.endedByHeaders ? this.headers : this.trailers;
    const status = from?.['grpc-status'];
    return status === undefined ? undefined : String(status);
  }

  /** Plays what has been recorded so far into a sink. */
  replay(sink: ResponseSink): void {
    if (this.headers !== null) {
      sink.onHeaders(this.headers, this.endedByHeaders);
      if (this.endedByHeaders) return;
    }
    for (const chunk of this.chunks) sink.onData(chunk);
    if (this.trailers !== null) sink.onTrailers(this.trailers);
    else if (this.error !== null) sink.onError(this.error);
  }
}
