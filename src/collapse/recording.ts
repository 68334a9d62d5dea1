import type { Headers, ResponseListener } from '../call/call.js';
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
 * The chunks copied into one buffer of its own. Not Buffer.concat: that takes small
 * results from node's shared pool (64 KiB slabs since Node 22), and a cached entry
 * would keep its whole slab alive.
 */
function exactCopy(chunks: readonly Buffer[]): Buffer {
  let length = 0;
  for (const chunk of chunks) length += chunk.length;
  const out = Buffer.allocUnsafeSlow(length);
  let at = 0;
  for (const chunk of chunks) at += chunk.copy(out, at);
  return out;
}

/**
 * Headers as an ordinary object. node gives them as a prototype-free object, which V8
 * keeps in dictionary mode (a hash table of ~200 bytes of its own); kept in the cache,
 * that was a fifth of an entry's heap. Assigned one by one into a literal, they make a
 * fast-mode object that responses with the same header names share a shape with (and no
 * entries arrays, as Object.fromEntries(Object.entries()) made). A backend's header
 * named __proto__ is defined as an own property, so it stays a header.
 */
function compactHeaders(headers: Headers): Headers {
  const out: Headers = {};
  for (const name in headers) {
    if (name === '__proto__') Object.defineProperty(out, name, { value: headers[name], enumerable: true, writable: true, configurable: true });
    else out[name] = headers[name]!;
  }
  return out;
}

/**
 * One backend response as it arrived, a tape: headers, the DATA chunks untouched (the
 * message frames, compressed or not), and trailers or the error that ended it. It can be
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
   * For keeping in the cache: copies the chunks into one buffer of their exact size when
   * they are several, or when a chunk is a view into a socket read much larger than
   * itself (it would keep that read alive whole). A lone small chunk is kept as it is:
   * the slack it can pin is within `slackBytes`, which the cache charges every entry.
   */
  compact(slackBytes: number): void {
    if (this.headers !== null) this.headers = compactHeaders(this.headers);
    if (this.trailers !== null) this.trailers = compactHeaders(this.trailers);
    const only = this.chunks.length === 1 ? this.chunks[0]! : null;
    if (only !== null && only.buffer.byteLength <= only.length + slackBytes) return;
    if (this.chunks.length > 0) this.chunks = [exactCopy(this.chunks)];
  }

  /** grpc-status of a completed response, or undefined while it is incomplete or failed. */
  get status(): string | undefined {
    const from = this.endedByHeaders ? this.headers : this.trailers;
    const status = from?.['grpc-status'];
    return status === undefined ? undefined : String(status);
  }

  /** Plays what has been recorded so far into a sink. */
  replay(sink: ResponseListener): void {
    if (this.headers !== null) {
      sink.onHeaders(this.headers, this.endedByHeaders);
      if (this.endedByHeaders) return;
    }
    for (const chunk of this.chunks) sink.onData(chunk);
    if (this.trailers !== null) sink.onTrailers(this.trailers);
    else if (this.error !== null) sink.onError(this.error);
  }
}
