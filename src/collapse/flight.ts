import type { BackendCall, Call, CallControl, Downstream, Headers, ResponseSink, RouteLabel } from '../call/call.js';
import type { Observer } from '../call/observer.js';
import type { Origin } from '../upstream/origin.js';
import { FRAME_HEADER_BYTES } from '../wire/frame.js';
import { GrpcError, Status } from '../wire/status.js';
import { Recording } from './recording.js';
import type { SharedCall } from './shared-call.js';
import { StaleIfError } from './stale-if-error.js';
import { Waiter } from './waiter.js';

export interface FlightOptions {
  /** The backend call is aborted with DEADLINE_EXCEEDED after this long (not a server stream's). */
  timeoutMs: number;
  /** Recording bound; past it the flight stops taking followers and stops recording. */
  maxResponseBytes: number;
  /** Followers beyond the leader that may wait on one flight. */
  maxFollowers: number;
  /** How long a follower waits before it is answered another way (COLLAPSER_MAX_WAIT); 0: as long as the flight takes. */
  maxWaitMs?: number;
}

/** The collapser, told when a flight may no longer be joined. */
export interface FlightOwner {
  /** The response outgrew the recording bound: new callers must not join this flight. */
  flightOverflowed(flight: Flight): void;
  /** A follower waited maxWaitMs and left the flight: answer it another way. */
  waitedTooLong(flight: Flight, downstream: Downstream, call: Call): void;
  /** The response is complete or failed. */
  flightLanded(flight: SharedCall): void;
}

/**
 * One backend call made on behalf of every caller with the same key. The flight alone
 * can end it (BACKEND_TIMEOUT, shutdown); it is detached from every client, so a
 * waiter that goes away only leaves. A server stream (as the descriptors say) is not cut
 * at BACKEND_TIMEOUT: it lives as long as its callers ask for, and ends when the backend
 * ends it or when its last caller leaves (each at its own deadline, or cancelling).
 * Each part of the response is recorded and passed at once to every waiter, so a
 * follower that joins late gets the recording replayed and then the rest live.
 *
 * A waiter never slows the others: the backend is read as fast as the fastest waiter
 * takes the response, and a waiter that falls more than maxResponseBytes behind is
 * dropped with RESOURCE_EXHAUSTED. Only while every waiter is behind (the backend
 * outruns all of its clients, as a large response does) is the backend paused, as a
 * passed-through call would be, so no waiter is dropped for reading at its own
 * connection's pace.
 */
export class Flight implements ResponseSink, SharedCall {
  readonly joins = 'replay';
  /** The one backend call; only the flight ends it (timeout, shutdown), never a client. */
  private call: CallControl | null = null;
  /** The response so far; null once it outgrew the bound and stopped being recorded. */
  recording: Recording | null = new Recording();
  private readonly waiters = new Set<Waiter>();
  /** Waiters whose clients are not taking the response now. */
  private behind = 0;
  private joined = 0;
  private landed = false;
  private timer: NodeJS.Timeout | null = null;
  private startedAt = 0;
  /** A server stream every caller left before the backend call began: ended as soon as it does. */
  private abandoned: GrpcError | null = null;
  /** For a method no descriptor describes: where its first message ends (-1: not known yet), and the bytes so far. */
  private firstMessageEnd = -1;
  private bytesSeen = 0;

  /** The route of the call that started it, for the admin endpoints. */
  route: RouteLabel | null = null;

  /** False once a write made the response stale before it landed: it is not cached. */
  cacheable = true;

  /** Started for a caller that asked for a fresh answer (cache-control: no-cache). */
  fresh = false;

  /** The waiters got a kept answer instead of this flight's (stale-if-error): nothing of it is cached. */
  servedStale = false;

  constructor(
    readonly key: string,
    /** The full method name, for invalidation. */
    readonly method: string,
    private readonly options: FlightOptions,
    private readonly owner: FlightOwner,
    private readonly observer: Observer,
    /**
     * The response is a stream (the descriptors say so, or it turned out to be one):
     * bounded by its callers, not BACKEND_TIMEOUT.
     */
    public longLived = false,
    /**
     * No descriptor describes the method: if a second message arrives, the response is a
     * stream after all, and its callers bound it from then on.
     */
    private mayStream = false,
  ) {}

  /**
   * Starts the backend call with the leader's request. With `stale` (the last OK answer,
   * within its stale-if-error window), a transient failure before a message gives every
   * waiter that answer instead (StaleIfError).
   */
  start(origin: Origin, call: Call, stale: Recording | null = null): void {
    this.startedAt = performance.now();
    this.observer.backendCallStarted('flight', this.route);
    if (!this.longLived) this.timer = setTimeout(onFlightTimeout, this.options.timeoutMs, this);
    origin.start(call, stale === null ? this : new StaleIfError(this, stale), this.key);
  }

  onStart(control: CallControl): void {
    this.call = control;
    if (this.abandoned !== null) control.abort(this.abandoned);
  }

  /** The backend call, for logs and traces of every waiter. */
  get backend(): BackendCall | null {
    return this.call?.backend ?? null;
  }

  /** Callers waiting now. */
  get waiting(): number {
    return this.waiters.size;
  }

  /** When the backend call started, on performance.now()'s clock. */
  get started(): number {
    return this.startedAt;
  }

  /**
   * Adds a waiter and plays it what has arrived so far. False when the flight is full
   * or no longer joinable; the caller must then be served some other way.
   */
  join(downstream: Downstream, call: Call | null = null): boolean {
    if (this.landed || this.recording === null) return false;
    if (this.waiters.size > this.options.maxFollowers) return false;
    this.joined++;
    const waiter = new Waiter(this, downstream, call);
    this.waiters.add(waiter);
    downstream.onStart(waiter);
    this.recording.replay(downstream);
    const maxWait = this.options.maxWaitMs ?? 0;
    if (maxWait > 0 && call !== null && this.recording.headers === null) waiter.timer = setTimeout(onWaitedTooLong, maxWait, this, waiter);
    return true;
  }

  /** @internal A follower waited maxWaitMs: if nothing of the answer has reached it, it goes. */
  waitedTooLong(waiter: Waiter): void {
    waiter.timer = null;
    if (this.landed || !this.waiters.has(waiter) || (this.recording?.headers ?? null) !== null) return;
    this.leave(waiter);
    this.observer.waitedTooLong();
    this.owner.waitedTooLong(this, waiter.downstream, waiter.call!);
  }

  onHeaders(headers: Headers, endsResponse: boolean): void {
    this.recording?.setHeaders(headers, endsResponse);
    for (const waiter of this.waiters) waiter.downstream.onHeaders(headers, endsResponse);
    if (endsResponse) this.land();
  }

  /** The flight failed transiently: every waiter gets the last OK answer instead. */
  serveStale(stale: Recording): void {
    if (this.landed) return;
    this.servedStale = true;
    for (const waiter of this.waiters) {
      waiter.downstream.outcome = 'stale_if_error';
      stale.replay(waiter.downstream);
    }
    this.land();
  }

  onData(chunk: Buffer): void {
    if (this.mayStream) this.lookForASecondMessage(chunk);
    const recording = this.recording;
    if (recording !== null) {
      recording.addChunk(chunk);
      if (recording.bytes > this.options.maxResponseBytes) this.overflow();
    }
    for (const waiter of this.waiters) {
      waiter.downstream.onData(chunk);
      if (waiter.behind && waiter.downstream.bufferedBytes > this.options.maxResponseBytes) this.dropSlow(waiter);
    }
  }

  onTrailers(trailers: Headers): void {
    this.recording?.setTrailers(trailers);
    for (const waiter of this.waiters) waiter.downstream.onTrailers(trailers);
    this.land();
  }

  onError(error: GrpcError): void {
    if (this.recording !== null) this.recording.error = error;
    for (const waiter of this.waiters) waiter.downstream.onError(error);
    this.land();
  }

  /**
   * A waiter's client is gone: it leaves; the call goes on for the others and the cache.
   * A server stream nobody waits on any more is ended: nothing bounds it but its callers.
   */
  leave(waiter: Waiter): void {
    if (!this.waiters.delete(waiter)) return;
    if (waiter.timer !== null) clearTimeout(waiter.timer);
    if (waiter.behind) this.behind--;
    if (this.longLived && this.waiters.size === 0 && !this.landed) {
      this.abandoned = new GrpcError(Status.CANCELLED, 'every caller of the collapsed stream left');
      this.call?.abort(this.abandoned);
      return;
    }
    // It may have been the one the backend was paused for; or the others are all behind.
    if (this.behind > 0 && this.behind === this.waiters.size) this.call?.pause();
    else this.call?.resume();
  }

  /** A waiter's client stopped taking the response; the backend waits only once all have. */
  fellBehind(waiter: Waiter): void {
    if (waiter.behind || !this.waiters.has(waiter)) return;
    waiter.behind = true;
    if (++this.behind === this.waiters.size) this.call?.pause();
  }

  /** A waiter caught up: the backend is read again. */
  caughtUp(waiter: Waiter): void {
    if (!waiter.behind) return;
    waiter.behind = false;
    this.behind--;
    this.call?.resume();
  }

  /** Ends the backend call; every waiter gets `reason`. */
  abort(reason: GrpcError): void {
    this.call?.abort(reason);
  }

  /** @internal */
  timedOut(): void {
    this.abort(
      new GrpcError(
        Status.DEADLINE_EXCEEDED,
        `backend did not finish within BACKEND_TIMEOUT (${this.options.timeoutMs}ms)`,
      ),
    );
  }

  /**
   * A response longer than its first message is a stream: the timer goes, and the flight
   * lives as long as its callers (who had no way to say it streams).
   */
  private lookForASecondMessage(chunk: Buffer): void {
    if (this.firstMessageEnd < 0 && this.bytesSeen === 0 && chunk.length >= FRAME_HEADER_BYTES) {
      this.firstMessageEnd = FRAME_HEADER_BYTES + chunk.readUInt32BE(1);
    } else if (this.firstMessageEnd < 0) {
      // The first prefix came split across chunks (rare): it is not worth following.
      this.mayStream = false;
      return;
    }
    this.bytesSeen += chunk.length;
    if (this.bytesSeen <= this.firstMessageEnd) return;
    this.mayStream = false;
    this.longLived = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private overflow(): void {
    this.recording = null;
    this.observer.flightOverflowed();
    this.owner.flightOverflowed(this);
  }

  private dropSlow(waiter: Waiter): void {
    this.leave(waiter);
    this.observer.slowCallerDropped();
    waiter.downstream.onError(
      new GrpcError(
        Status.RESOURCE_EXHAUSTED,
        `client read the shared response too slowly: more than ${this.options.maxResponseBytes} bytes unread (COLLAPSER_MAX_RESPONSE_BYTES)`,
      ),
    );
  }

  private land(): void {
    if (this.landed) return;
    this.landed = true;
    if (this.timer !== null) clearTimeout(this.timer);
    for (const waiter of this.waiters) if (waiter.timer !== null) clearTimeout(waiter.timer);
    this.waiters.clear();
    this.behind = 0;
    this.observer.flightLanded(this.joined - 1, (performance.now() - this.startedAt) / 1000);
    this.owner.flightLanded(this);
  }
}

function onWaitedTooLong(flight: Flight, waiter: Waiter): void {
  flight.waitedTooLong(waiter);
}

function onFlightTimeout(flight: Flight): void {
  flight.timedOut();
}
