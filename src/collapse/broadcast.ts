import type { BackendCall, Call, CallControl, Downstream, Headers, ResponseSink, RouteLabel } from '../call/call.js';
import type { Observer } from '../call/observer.js';
import type { Origin } from '../upstream/origin.js';
import { MessageSplitter } from '../wire/message-splitter.js';
import { GrpcError, Status } from '../wire/status.js';
import type { SharedCall } from './shared-call.js';

export interface BroadcastOptions {
  /** Watchers beyond the first that may share one backend stream. */
  maxFollowers: number;
  /** How far (bytes) a `live` watcher may fall behind before it is ended. */
  maxBehindBytes: number;
}

/** The collapser, told when a broadcast ended (it takes no more watchers). */
export interface BroadcastOwner {
  flightLanded(call: SharedCall): void;
}

/** One client of a broadcast: what it has not been given yet while it is not reading. */
class Watcher implements CallControl {
  /** Its client is not taking messages now. */
  behind = false;
  /** `latest`: the newest message it missed (the ones before are skipped). */
  pending: Buffer | null = null;
  /** `live`: every message it missed, in order, and their bytes. */
  queue: Buffer[] = [];
  queuedBytes = 0;

  constructor(
    private readonly broadcast: Broadcast,
    readonly downstream: Downstream,
  ) {}

  get backend(): BackendCall | null {
    return this.broadcast.backend;
  }

  abort(_reason: GrpcError): void {
    this.broadcast.leave(this);
  }

  pause(): void {
    this.behind = true;
  }

  resume(): void {
    this.broadcast.caughtUp(this);
  }
}

/**
 * One backend server stream fanned out live to every watcher with the same key, for as
 * long as it runs (a `Watch` of state or events). Nothing is recorded for replay, so it
 * never outgrows COLLAPSER_MAX_RESPONSE_BYTES and takes watchers until it ends: a watcher
 * joining a `latest` stream gets the headers and the latest message at once (each message
 * is the whole state), one joining a `live` stream gets the headers and the messages from
 * then on (each is one event). Messages go out whole: a joiner starts on a boundary.
 *
 * The backend is read at its own pace, never paused for a watcher. One that is not
 * reading is given nothing until it reads again: on a `latest` stream it then gets only
 * the newest message (the others are skipped, as xDS servers do with a slow client); on a
 * `live` stream it gets what it missed, and is ended once that is more than
 * maxBehindBytes. Its memory is bounded by that, plus what its connection buffers.
 *
 * The backend stream ends when its last watcher leaves (cancelled at once), when the
 * backend ends it (every watcher gets the status), or when the flight is aborted. An
 * ended stream is never joined: a new caller starts a new one.
 */
export class Broadcast implements ResponseSink, SharedCall {
  readonly longLived = true;
  readonly recording = null;
  cacheable = false;
  /** Every message is sent as it comes: a caller that wants a fresh answer may join too. */
  fresh = true;
  readonly servedStale = false;
  route: RouteLabel | null = null;
  private call: CallControl | null = null;
  private readonly watchers = new Set<Watcher>();
  private readonly splitter = new MessageSplitter();
  private headers: Headers | null = null;
  /** `latest`: the newest message, which a joiner starts with. */
  private latest: Buffer | null = null;
  private ended = false;
  private joined = 0;
  private startedAt = 0;
  /** Every watcher left before the backend call began: it is ended as soon as it does. */
  private abandoned: GrpcError | null = null;
  /** Made once per broadcast: called for each whole message. */
  private readonly sendAll = (frame: Buffer): void => {
    if (this.joins === 'latest') this.latest = frame;
    for (const watcher of this.watchers) this.send(watcher, frame);
  };

  constructor(
    readonly key: string,
    readonly method: string,
    readonly joins: 'latest' | 'live',
    private readonly options: BroadcastOptions,
    private readonly owner: BroadcastOwner,
    private readonly observer: Observer,
  ) {}

  start(origin: Origin, call: Call): void {
    this.startedAt = performance.now();
    this.observer.backendCallStarted('flight', this.route);
    origin.start(call, this, this.key);
  }

  onStart(control: CallControl): void {
    this.call = control;
    if (this.abandoned !== null) control.abort(this.abandoned);
  }

  get backend(): BackendCall | null {
    return this.call?.backend ?? null;
  }

  get waiting(): number {
    return this.watchers.size;
  }

  get started(): number {
    return this.startedAt;
  }

  join(downstream: Downstream): boolean {
    if (this.ended || this.watchers.size > this.options.maxFollowers) return false;
    this.joined++;
    const watcher = new Watcher(this, downstream);
    this.watchers.add(watcher);
    downstream.onStart(watcher);
    if (this.headers !== null) {
      downstream.onHeaders(this.headers, false);
      if (this.latest !== null) this.send(watcher, this.latest);
    }
    return true;
  }

  onHeaders(headers: Headers, endsResponse: boolean): void {
    this.headers = headers;
    for (const watcher of this.watchers) watcher.downstream.onHeaders(headers, endsResponse);
    if (endsResponse) this.end();
  }

  onData(chunk: Buffer): void {
    this.splitter.push(chunk, this.sendAll);
  }

  onTrailers(trailers: Headers): void {
    for (const watcher of this.watchers) {
      // What it has not been given yet goes first: the trailers follow the last message.
      this.flush(watcher, true);
      watcher.downstream.onTrailers(trailers);
    }
    this.end();
  }

  onError(error: GrpcError): void {
    for (const watcher of this.watchers) watcher.downstream.onError(error);
    this.end();
  }

  /**
   * A watcher's client is gone. The last one to go ends the backend stream (nothing else
   * bounds it), and the stream takes no joiner from then on: a new caller starts another.
   */
  leave(watcher: Watcher): void {
    if (!this.watchers.delete(watcher) || this.watchers.size > 0 || this.ended) return;
    this.abandoned = new GrpcError(Status.CANCELLED, 'every watcher of the shared stream left');
    this.end();
    this.call?.abort(this.abandoned);
  }

  /** A watcher reads again: it gets what it missed (the newest message, or every one). */
  caughtUp(watcher: Watcher): void {
    watcher.behind = false;
    this.flush(watcher, false);
  }

  abort(reason: GrpcError): void {
    this.call?.abort(reason);
  }

  private send(watcher: Watcher, frame: Buffer): void {
    if (!watcher.behind) {
      watcher.downstream.onData(frame);
      return;
    }
    if (this.joins === 'latest') {
      if (watcher.pending !== null) this.observer.messagesSkipped();
      watcher.pending = frame;
      return;
    }
    watcher.queue.push(frame);
    watcher.queuedBytes += frame.length;
    if (watcher.queuedBytes > this.options.maxBehindBytes) this.drop(watcher);
  }

  /** Gives a watcher what it missed, while it reads (or all of it, at the end). */
  private flush(watcher: Watcher, all: boolean): void {
    if (watcher.pending !== null) {
      const frame = watcher.pending;
      watcher.pending = null;
      watcher.downstream.onData(frame);
    }
    // By index, not shift(): a live watcher's queue may hold thousands of messages.
    const queue = watcher.queue;
    let sent = 0;
    while (sent < queue.length && (all || !watcher.behind)) {
      const frame = queue[sent++]!;
      watcher.queuedBytes -= frame.length;
      watcher.downstream.onData(frame);
    }
    if (sent > 0) watcher.queue = sent === queue.length ? [] : queue.slice(sent);
  }

  private drop(watcher: Watcher): void {
    watcher.queue = [];
    watcher.queuedBytes = 0;
    this.leave(watcher);
    this.observer.slowCallerDropped();
    watcher.downstream.onError(
      new GrpcError(
        Status.RESOURCE_EXHAUSTED,
        `client fell more than ${this.options.maxBehindBytes} bytes behind a live stream (COLLAPSER_MAX_RESPONSE_BYTES): its events cannot be skipped; call again to watch from now`,
      ),
    );
  }

  private end(): void {
    if (this.ended) return;
    this.ended = true;
    this.watchers.clear();
    this.observer.flightLanded(this.joined - 1, (performance.now() - this.startedAt) / 1000);
    this.owner.flightLanded(this);
  }
}
