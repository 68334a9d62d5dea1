/** A backend stream (node's ClientHttp2Stream, as corral uses it) driven by the test. */
import { EventEmitter } from 'node:events';

export class FakeBackendStream extends EventEmitter {
  rstCode = 0;
  destroyed = false;
  paused = false;
  /** The RST_STREAM code corral reset it with, if it did. */
  resetWith: number | null = null;
  /** What corral sent on it. */
  sent: Buffer[] = [];
  end(body?: Buffer): void {
    if (body) this.sent.push(body);
  }
  pause(): void {
    this.paused = true;
  }
  resume(): void {
    this.paused = false;
  }
  close(code: number): void {
    this.resetWith = code;
    this.rstCode = code;
    this.destroyed = true;
    this.emit('close');
  }
}
