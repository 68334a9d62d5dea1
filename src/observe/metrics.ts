import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { OUTCOMES, type Outcome } from '../call.js';
import type { AuthFailure, Observer } from '../observer.js';
import { BUILD } from './build-info.js';

/**
 * A count kept as a plain number on the request path and handed to prom-client when
 * scraped: Counter.inc() resolves labels and validates on every call, which the
 * cache-hit path cannot afford (docs/performance.md).
 */
export class Tally {
  value = 0;
  inc(): void {
    this.value++;
  }
}

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * corral's Prometheus metrics, kept by observing the stages. Children for each label
 * value are made once here, so the request path increments a prepared child instead of
 * resolving labels per call.
 */
export class Metrics implements Observer {
  readonly registry = new Registry();
  readonly requests: Record<Outcome, Tally>;
  readonly requestSeconds: Record<Outcome, Histogram.Internal<'outcome'>>;
  readonly backendCalls: Counter<'kind'>;
  private readonly backendCallsOf: Record<'flight' | 'bypass', Counter.Internal>;
  readonly backendSeconds: Histogram;
  readonly flightsInProgress: Gauge;
  readonly followersPerFlight: Histogram;
  readonly flightsOverflowed: Counter;
  readonly slowCallersDropped: Counter;
  readonly authFailures: Record<AuthFailure, Counter.Internal>;
  readonly retries: Counter;
  readonly sessionTransfers: Counter;
  readonly ejections: Counter;

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    new Gauge({
      name: 'corral_build_info',
      help: "corral's version and the node runtime it runs on; always 1",
      labelNames: ['version', 'node'],
      registers: [this.registry],
    }).set(BUILD, 1);
    const registers = [this.registry];
    const requests = Object.fromEntries(OUTCOMES.map((o) => [o, new Tally()])) as Record<Outcome, Tally>;
    this.requests = requests;
    new Counter({
      name: 'corral_requests_total',
      help: 'Calls received, by how the collapser stage served them',
      labelNames: ['outcome'],
      registers,
      collect() {
        this.reset();
        for (const outcome of OUTCOMES) this.inc({ outcome }, requests[outcome].value);
      },
    });
    const requestSeconds = new Histogram({
      name: 'corral_request_duration_seconds',
      help: 'Time from request headers to the end of the response, by outcome',
      labelNames: ['outcome'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.requestSeconds = Object.fromEntries(OUTCOMES.map((o) => [o, requestSeconds.labels(o)])) as Record<Outcome, Histogram.Internal<'outcome'>>;
    this.backendCalls = new Counter({
      name: 'corral_backend_calls_total',
      help: 'Calls corral started on the backend: one per flight (collapsed) or per bypassed stream',
      labelNames: ['kind'],
      registers,
    });
    this.backendCallsOf = { flight: this.backendCalls.labels('flight'), bypass: this.backendCalls.labels('bypass') };
    this.backendSeconds = new Histogram({
      name: 'corral_backend_call_duration_seconds',
      help: 'Duration of the backend call of each flight',
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.flightsInProgress = new Gauge({
      name: 'corral_flights_in_progress',
      help: 'Collapsed backend calls under way',
      registers,
    });
    this.followersPerFlight = new Histogram({
      name: 'corral_flight_followers',
      help: 'Followers that joined each flight',
      buckets: [0, 1, 2, 5, 10, 50, 100, 500, 1000, 5000, 10000],
      registers,
    });
    this.flightsOverflowed = new Counter({
      name: 'corral_flight_overflows_total',
      help: 'Flights whose response outgrew COLLAPSER_MAX_RESPONSE_BYTES and stopped taking followers',
      registers,
    });
    this.slowCallersDropped = new Counter({
      name: 'corral_slow_callers_dropped_total',
      help: 'Waiters ended with RESOURCE_EXHAUSTED because they read a shared response too slowly',
      registers,
    });
    const authFailures = new Counter({
      name: 'corral_auth_failures_total',
      help: 'Calls refused UNAUTHENTICATED on routes with authorization: required, by reason',
      labelNames: ['reason'],
      registers,
    });
    this.authFailures = { missing_session: authFailures.labels('missing_session'), invalid_token: authFailures.labels('invalid_token') };
    this.retries = new Counter({
      name: 'corral_backend_retries_total',
      help: 'Backend attempts made again on another endpoint after a failure (RETRY_COUNT)',
      registers,
    });
    this.sessionTransfers = new Counter({
      name: 'corral_session_transfers_total',
      help: 'Responses continued on another endpoint after their backend failed mid-response (session_transfer)',
      registers,
    });
    this.ejections = new Counter({
      name: 'corral_endpoint_ejections_total',
      help: 'Endpoints taken out of their cluster for a while after a backend failure',
      registers,
    });
  }

  served(outcome: Outcome): void {
    this.requests[outcome].inc();
  }

  callEnded(outcome: Outcome, seconds: number): void {
    // Stages count the calls they take; a call no stage took was refused (bad input, limits).
    if (outcome === 'rejected') this.requests.rejected.inc();
    this.requestSeconds[outcome].observe(seconds);
  }

  backendCallStarted(kind: 'flight' | 'bypass'): void {
    this.backendCallsOf[kind].inc();
    if (kind === 'flight') this.flightsInProgress.inc();
  }

  flightLanded(followers: number, seconds: number): void {
    this.flightsInProgress.dec();
    this.followersPerFlight.observe(followers);
    this.backendSeconds.observe(seconds);
  }

  flightOverflowed(): void {
    this.flightsOverflowed.inc();
  }

  slowCallerDropped(): void {
    this.slowCallersDropped.inc();
  }

  retried(): void {
    this.retries.inc();
  }

  sessionTransferred(): void {
    this.sessionTransfers.inc();
  }

  authFailed(reason: AuthFailure): void {
    this.authFailures[reason].inc();
  }

  endpointEjected(): void {
    this.ejections.inc();
  }

  /** Adds a gauge with one label, its series read at scrape time (so series of things gone go with them). */
  labelledGaugeFrom(name: string, help: string, label: string, read: () => Iterable<readonly [string, number]>): void {
    new Gauge({
      name,
      help,
      labelNames: [label],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [value, n] of read()) this.set({ [label]: value }, n);
      },
    });
  }

  /** Adds gauges read at scrape time from a live object, e.g. the cache's size. */
  gaugeFrom(name: string, help: string, read: () => number): void {
    new Gauge({
      name,
      help,
      registers: [this.registry],
      collect() {
        this.set(read());
      },
    });
  }
}
