import type { Downstream, DownstreamListener, Headers } from '../../src/call.js';
import type { Outcome } from '../../src/observe/metrics.js';
import type { GrpcError } from '../../src/wire/status.js';

/** A Downstream that records what it is sent. */
export class RecordingDownstream implements Downstream {
  outcome: Outcome = 'rejected';
  events: string[] = [];
  headers: Headers | null = null;
  data: Buffer[] = [];
  trailers: Headers | null = null;
  error: GrpcError | null = null;
  listener: DownstreamListener | null = null;
  /** What onData answers: false simulates a client that is not reading. */
  accepting = true;
  bufferedBytes = 0;
  open = true;

  watch(listener: DownstreamListener): void {
    this.listener = listener;
  }
  onHeaders(headers: Headers, endsResponse: boolean): void {
    this.events.push(endsResponse ? 'headers(end)' : 'headers');
    this.headers = headers;
  }
  onData(chunk: Buffer): boolean {
    this.events.push(`data:${chunk.toString()}`);
    this.data.push(chunk);
    if (!this.accepting) this.bufferedBytes += chunk.length;
    return this.accepting;
  }
  onTrailers(trailers: Headers): void {
    this.events.push('trailers');
    this.trailers = trailers;
  }
  onError(error: GrpcError): void {
    this.events.push(`error:${error.code}`);
    this.error = error;
  }
  /** The client goes away. */
  leave(): void {
    this.open = false;
    this.listener?.downstreamGone(this);
  }
}
