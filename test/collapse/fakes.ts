import type { CallControl, Downstream, Headers, Outcome, RouteLabel } from '../../src/call/call.js';
import { GrpcError, Status } from '../../src/wire/status.js';

const GONE = new GrpcError(Status.CANCELLED, 'the client cancelled the call');

/** A Downstream that records what it is sent, and steers its call as a client end would. */
export class RecordingDownstream implements Downstream {
  outcome: Outcome = 'rejected';
  route: RouteLabel | null = null;
  collapseKey: string | null = null;
  events: string[] = [];
  headers: Headers | null = null;
  data: Buffer[] = [];
  trailers: Headers | null = null;
  error: GrpcError | null = null;
  control: CallControl | null = null;
  /** False simulates a client that is not reading: bytes pile up and the call is paused. */
  accepting = true;
  bufferedBytes = 0;
  open = true;
  private awaitingDrain = false;

  onStart(control: CallControl): void {
    this.control = control;
  }
  onHeaders(headers: Headers, endsResponse: boolean): void {
    this.events.push(endsResponse ? 'headers(end)' : 'headers');
    this.headers = headers;
  }
  onData(chunk: Buffer): void {
    this.events.push(`data:${chunk.toString()}`);
    this.data.push(chunk);
    if (this.accepting) return;
    this.bufferedBytes += chunk.length;
    if (this.awaitingDrain) return;
    this.awaitingDrain = true;
    this.control?.pause();
  }
  onTrailers(trailers: Headers): void {
    this.events.push('trailers');
    this.trailers = trailers;
  }
  onError(error: GrpcError): void {
    this.events.push(`error:${error.code}`);
    this.error = error;
  }
  /** The client read what was buffered. */
  drain(): void {
    this.accepting = true;
    this.bufferedBytes = 0;
    this.awaitingDrain = false;
    this.control?.resume();
  }
  /** The client goes away. */
  leave(): void {
    this.open = false;
    this.control?.abort(GONE);
  }
}
