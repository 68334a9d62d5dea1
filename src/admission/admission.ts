import type { BackendCall, Call, CallControl, Headers, ResponseSink } from '../call/call.js';
import type { Observer, ShedReason } from '../call/observer.js';
import type { Origin } from '../upstream/origin.js';
import { GrpcError, Status, statusCode } from '../wire/status.js';
import { Shed } from '../wire/shed.js';
import { AdmissionQueue, type Queued } from './admission-queue.js';
import type { ConcurrencySpec, Priority } from './concurrency-spec.js';
import { AdaptiveLimit, FixedLimit, type ConcurrencyLimit } from './limit.js';

export interface AdmissionOptions {
  /** BACKEND_QUEUE_TIMEOUT: the longest a call waits for a slot; 0: it never waits. */
  queueTimeoutMs: number;
}

/** How much of the latest latency each new sample takes, for the time a call is expected to need. */
const LATENCY_SMOOTHING = 0.2;
/** The admission queue holds at most this many calls per slot of the limit, and at least MIN_QUEUE. */
const QUEUE_PER_SLOT = 0.5;
const MIN_QUEUE = 8;

const CALLERS_LEFT = new GrpcError(Status.CANCELLED, 'every caller left before the backend call was sent');

/**
 * One cluster's concurrency limit: how many of its calls are at the backend at once, and
 * what happens to the others. A call is sent at once while a slot is free; otherwise it
 * waits in the admission queue (AdmissionQueue's order) at most BACKEND_QUEUE_TIMEOUT and
 * never past the point where its deadline leaves less than the backend's latency, then
 * is shed: answered at once with UNAVAILABLE and grpc-retry-pushback-ms (or with a kept
 * answer, by the cache policy wrapped around the flight). A full queue sheds its least
 * valuable call to make room, so a newcomer is never refused for an older call that is
 * likelier to miss its deadline.
 *
 * A slot is held from the moment the call is sent until its first response message or
 * its end: the limit bounds the backend's work on answers, not how long a stream stays
 * open, and the latency it learns from is the time to that first answer.
 */
export class Admission {
  /** Calls sent and holding a slot. */
  inFlight = 0;
  private limiter: ConcurrencyLimit;
  private readonly queue = new AdmissionQueue<Ticket>();
  /** The backend's recent latency (smoothed), for what a deadline must leave; 0 before any call. */
  latencyMs = 0;
  /** Since when the queue has not been empty: past BACKEND_QUEUE_TIMEOUT, the newest are let in first. */
  private standingSince = 0;

  constructor(
    readonly cluster: string,
    public spec: Exclude<ConcurrencySpec, 'off'>,
    private options: AdmissionOptions,
    private readonly observer: Observer,
  ) {
    this.limiter = limiterOf(spec);
  }

  /** Calls allowed at the backend at once now. */
  get limit(): number {
    return this.limiter.limit;
  }

  get queued(): number {
    return this.queue.size;
  }

  /** A reload: a new kind of limit starts afresh; an adaptive limit kept keeps what it learned. */
  reconfigure(spec: Exclude<ConcurrencySpec, 'off'>, options: AdmissionOptions): void {
    if (spec !== this.spec) this.limiter = limiterOf(spec);
    this.spec = spec;
    this.options = options;
    this.drain(performance.now());
  }

  /** Sends `call` to `next` when the limit allows; its response, or the reason it was not sent, goes to `sink`. */
  start(next: Origin, call: Call, sink: ResponseSink, key: string | undefined, priority: Priority, tenant: string): void {
    const ticket = new Ticket(this, next, call, sink, key, priority, tenant);
    sink.onStart(ticket);
    if (ticket.state !== WAITING) return;
    if (this.inFlight < this.limiter.limit && this.queue.size === 0) {
      this.send(ticket);
      return;
    }
    const now = performance.now();
    if (ticket.worth() === 0) {
      // A refresh nobody waits for: the kept answer stays until the backend has room.
      this.unsent(ticket, now);
      return;
    }
    const { queueTimeoutMs } = this.options;
    const timeLeft = call.deadline - now - this.latencyMs;
    if (queueTimeoutMs === 0 || timeLeft <= 0) {
      this.shed(ticket, queueTimeoutMs === 0 ? 'over_limit' : 'deadline', now);
      return;
    }
    if (this.queue.size >= Math.max(MIN_QUEUE, QUEUE_PER_SLOT * this.limiter.limit)) {
      const victim = this.queue.victim(priority);
      if (victim === null) {
        this.shed(ticket, 'over_limit', now);
        return;
      }
      this.queue.remove(victim);
      this.shed(victim, 'over_limit', now);
    }
    if (this.queue.size === 0) this.standingSince = now;
    ticket.queuedAt = now;
    ticket.expiry = timeLeft < queueTimeoutMs ? 'deadline' : 'queue_timeout';
    ticket.timer = setTimeout(onQueueTimeout, Math.min(queueTimeoutMs, timeLeft), ticket);
    this.queue.push(ticket);
  }

  /** @internal A queued call waited as long as it may. */
  expire(ticket: Ticket): void {
    ticket.timer = null;
    if (ticket.state !== WAITING || !this.queue.remove(ticket)) return;
    this.shed(ticket, ticket.expiry, performance.now());
  }

  /** @internal A queued call was aborted (its client left, its flight timed out). */
  withdraw(ticket: Ticket): void {
    if (this.queue.remove(ticket)) this.unsent(ticket, performance.now());
  }

  /** @internal A sent call got its first answer or ended: its slot is free; `answered`: its latency counts. */
  release(ticket: Ticket, answered: boolean): void {
    this.inFlight--;
    const now = performance.now();
    if (answered) {
      const rtt = now - ticket.sentAt;
      this.limiter.sample(rtt, ticket.inFlightAtSend, now);
      this.latencyMs = this.latencyMs === 0 ? rtt : this.latencyMs + LATENCY_SMOOTHING * (rtt - this.latencyMs);
    }
    this.drain(now);
  }

  /** Lets queued calls in while slots are free. */
  private drain(now: number): void {
    while (this.inFlight < this.limiter.limit && this.queue.size > 0) {
      const ticket = this.queue.take(now - this.standingSince > this.options.queueTimeoutMs)!;
      ticket.unqueue();
      if (ticket.worth() === 0) this.unsent(ticket, now);
      else if (ticket.call.deadline - now < this.latencyMs) this.shed(ticket, 'deadline', now);
      else {
        this.observer.admissionWaited(this.cluster, (now - ticket.queuedAt) / 1000);
        this.send(ticket);
      }
    }
  }

  private send(ticket: Ticket): void {
    this.inFlight++;
    ticket.state = SENT;
    ticket.holding = true;
    ticket.sentAt = performance.now();
    ticket.inFlightAtSend = this.inFlight;
    ticket.next.start(ticket.call, ticket, ticket.key);
  }

  private shed(ticket: Ticket, reason: ShedReason, now: number): void {
    ticket.unqueue();
    ticket.state = DONE;
    if (ticket.queuedAt > 0) this.observer.admissionWaited(this.cluster, (now - ticket.queuedAt) / 1000);
    this.observer.shed(this.cluster, ticket.priority, reason);
    // About a queue's wait and a call's time at the backend, jittered so shed callers do not come back together.
    const pushbackMs = Math.max(10, Math.round((this.options.queueTimeoutMs + this.latencyMs) * (0.5 + Math.random())));
    ticket.sink.onError(new Shed(`${shedWhy(this, reason)}; retry after ${pushbackMs}ms`, pushbackMs));
  }

  private unsent(ticket: Ticket, now: number): void {
    ticket.unqueue();
    ticket.state = DONE;
    if (ticket.queuedAt > 0) this.observer.admissionWaited(this.cluster, (now - ticket.queuedAt) / 1000);
    this.observer.unsent(this.cluster);
    ticket.sink.onError(ticket.abortedWith ?? CALLERS_LEFT);
  }
}

function limiterOf(spec: Exclude<ConcurrencySpec, 'off'>): ConcurrencyLimit {
  return spec === 'adaptive' ? new AdaptiveLimit() : new FixedLimit(spec);
}

/** What a shed call's client is told, by why it was shed. */
function shedWhy(admission: Admission, reason: ShedReason): string {
  const at = `cluster ${admission.cluster} has all the calls it can take (${admission.limit} at once, BACKEND_CONCURRENCY=${admission.spec})`;
  switch (reason) {
    case 'over_limit':
      return `${at} and its admission queue is full: the call was not sent`;
    case 'queue_timeout':
      return `${at}: no slot came free within BACKEND_QUEUE_TIMEOUT, the call was not sent`;
    case 'deadline':
      return `${at}: the call's deadline leaves less than the backend's latency (${Math.round(admission.latencyMs)}ms), the call was not sent`;
  }
}

const WAITING = 0;
const SENT = 1;
const DONE = 2;

/**
 * One call through an Admission: while it waits, the control its receiver steers it by
 * (an abort takes it out of the queue); once sent, the receiver of its response, which
 * frees its slot at the first message or the end.
 */
class Ticket implements CallControl, ResponseSink, Queued {
  state: typeof WAITING | typeof SENT | typeof DONE = WAITING;
  queuedAt = 0;
  sentAt = 0;
  inFlightAtSend = 0;
  timer: NodeJS.Timeout | null = null;
  /** What it is shed for when its timer fires: BACKEND_QUEUE_TIMEOUT, or the time its deadline leaves. */
  expiry: ShedReason = 'queue_timeout';
  /** Holds a slot: sent, and no answer yet. */
  holding = false;
  private control: CallControl | null = null;
  abortedWith: GrpcError | null = null;
  private paused = false;

  constructor(
    readonly admission: Admission,
    readonly next: Origin,
    readonly call: Call,
    readonly sink: ResponseSink,
    readonly key: string | undefined,
    readonly priority: Priority,
    readonly tenant: string,
  ) {}

  worth(): number {
    return this.sink.waiting ?? 1;
  }

  get backend(): BackendCall | null {
    return this.control?.backend ?? null;
  }

  unqueue(): void {
    if (this.timer === null) return;
    clearTimeout(this.timer);
    this.timer = null;
  }

  abort(reason: GrpcError): void {
    if (this.state === DONE || this.abortedWith !== null) return;
    this.abortedWith = reason;
    if (this.control !== null) this.control.abort(reason);
    else if (this.state === WAITING) this.admission.withdraw(this);
  }

  pause(): void {
    this.paused = true;
    this.control?.pause();
  }

  resume(): void {
    this.paused = false;
    this.control?.resume();
  }

  onStart(control: CallControl): void {
    this.control = control;
    if (this.abortedWith !== null) control.abort(this.abortedWith);
    else if (this.paused) control.pause();
  }

  // Only answers count toward the latency: a failure or a refusal may come back faster than any answer could.
  onHeaders(headers: Headers, endsResponse: boolean): void {
    if (endsResponse) this.end(statusCode(headers['grpc-status']) === Status.OK);
    // A stream's backend took the call once it answers with headers: a watch that has no
    // message for an hour must not hold a slot that long. Its time to headers says nothing
    // of how long the backend takes to answer, so it teaches no latency.
    else if (this.holding && this.sink.longLived === true) this.free(false);
    this.sink.onHeaders(headers, endsResponse);
  }

  onData(chunk: Buffer): void {
    if (this.holding) this.free(true);
    this.sink.onData(chunk);
  }

  onTrailers(trailers: Headers): void {
    this.end(statusCode(trailers['grpc-status']) === Status.OK);
    this.sink.onTrailers(trailers);
  }

  onError(error: GrpcError): void {
    this.end(false);
    this.sink.onError(error);
  }

  private end(answered: boolean): void {
    this.state = DONE;
    if (this.holding) this.free(answered);
  }

  private free(answered: boolean): void {
    this.holding = false;
    this.admission.release(this, answered);
  }
}

function onQueueTimeout(ticket: Ticket): void {
  ticket.admission.expire(ticket);
}
