import { Counter, Gauge, Registry, collectDefaultMetrics, type Metric } from 'prom-client';
import { OUTCOMES, type Outcome, type RouteLabel } from '../call/call.js';
import { SHED_REASONS, type AuthFailure, type FinishedCall, type Observer, type ShedReason } from '../call/observer.js';
import { statusName } from '../wire/status.js';
import { PRIORITIES, type Priority } from '../admission/concurrency-spec.js';
import { BUILD } from './build-info.js';
import { LeanHistogram, type HistogramSeries } from './lean-histogram.js';

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** gRPC's status codes, 0 to 16; any other reads as UNKNOWN. */
const CODES = 17;
const OUTCOME_INDEX = Object.fromEntries(OUTCOMES.map((o, i) => [o, i])) as Record<Outcome, number>;
const KINDS = ['flight', 'bypass'] as const;
const QUEUE_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];
/** The method label of every method neither the lists nor the descriptors name. */
export const OTHER_METHOD = 'other';
/** The route label of a call no route took (refused before routing, or no route matched). */
const UNROUTED: RouteLabel = { name: 'unrouted', cluster: '' };

/**
 * One route's counts, kept as plain numbers on the request path and handed to
 * prom-client when scraped: Counter.inc() resolves labels and validates on every call,
 * which the cache-hit path cannot afford (docs/performance.md). Series are labelled by
 * route and cluster names from the configuration, never by anything a client sends.
 */
class RouteSeries {
  readonly handled = new Float64Array(OUTCOMES.length * CODES);
  readonly backendCalls = new Float64Array(KINDS.length);
  readonly durations: Array<HistogramSeries | undefined> = [];
  constructor(readonly label: RouteLabel) {}
}

/** One cluster's backend answers by status, its ejections, and what its concurrency limit refused. */
class ClusterSeries {
  readonly handled = new Float64Array(CODES);
  ejections = 0;
  /** By priority, then reason. */
  readonly shed = new Float64Array(PRIORITIES.length * SHED_REASONS.length);
  unsent = 0;
  retriesRefused = 0;
  queueSeconds: HistogramSeries | undefined = undefined;
}

/** Emits every non-zero count of `counts` as a series at scrape time. */
function emit(counter: Counter<string>, counts: ArrayLike<number>, labels: (i: number) => Record<string, string>): void {
  for (let i = 0; i < counts.length; i++) if (counts[i]! > 0) counter.inc(labels(i), counts[i]!);
}

/**
 * corral's Prometheus metrics, kept by observing the stages. Labels: `route` (the
 * route's name from the configuration, `default`, or `unrouted`), `cluster`, `outcome`
 * and `grpc_code` (the code's name, as go-grpc-prometheus labels it).
 */
export class Metrics implements Observer {
  readonly registry = new Registry();
  private readonly routes = new Map<string, RouteSeries>();
  private readonly clusters = new Map<string, ClusterSeries>();
  private readonly requestSeconds: LeanHistogram<'route' | 'outcome'>;
  private readonly backendSeconds: HistogramSeries;
  private readonly flightsInProgress: Gauge;
  private readonly followersPerFlight: HistogramSeries;
  private readonly flightsOverflowed: Counter;
  private readonly slowCallersDropped: Counter;
  private readonly skipped: Counter;
  private readonly authFailures: Record<AuthFailure, Counter.Internal>;
  private readonly retries: Counter;
  private readonly sessionTransfers: Counter;
  private readonly queueSeconds: LeanHistogram<'cluster'>;
  private waitsTooLong = 0;
  /** Calls ended by method label, outcome and status: methods named by the configuration or the descriptors, the rest as `other`. */
  private readonly methods = new Map<string, Float64Array>();
  /**
   * The `method` label of a full method name: itself when the lists or the descriptors
   * name it (a set the configuration and the backends bound), else `other`, so a client
   * inventing method names adds no series. Set by the assembly; until then, all `other`.
   */
  methodLabel: (method: string) => string = () => OTHER_METHOD;

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    const registers = [this.registry];
    new Gauge({
      name: 'corral_build_info',
      help: "corral's version and the node runtime it runs on; always 1",
      labelNames: ['version', 'node'],
      registers,
    }).set(BUILD, 1);
    const routes = this.routes;
    const clusters = this.clusters;
    // Counted when a call ends, as the access log writes it: only then is its outcome final
    // (a leader may end stale_if_error or shed, a follower bypass); calls_in_progress shows the rest.
    this.countedAtScrape('corral_requests_total', 'Calls ended, by route and how they were served (corral_calls_handled_total summed over grpc_code)', ['route', 'cluster', 'outcome'], (c) => {
      for (const s of routes.values()) {
        const byOutcome = new Float64Array(OUTCOMES.length);
        for (let i = 0; i < s.handled.length; i++) byOutcome[Math.floor(i / CODES)]! += s.handled[i]!;
        emit(c, byOutcome, (i) => ({ route: s.label.name, cluster: s.label.cluster, outcome: OUTCOMES[i]! }));
      }
    });
    this.countedAtScrape('corral_calls_handled_total', 'Calls ended, by route, how they were served and the gRPC status their client got', ['route', 'cluster', 'outcome', 'grpc_code'], (c) => {
      for (const s of routes.values()) {
        emit(c, s.handled, (i) => ({
          route: s.label.name,
          cluster: s.label.cluster,
          outcome: OUTCOMES[Math.floor(i / CODES)]!,
          grpc_code: statusName(i % CODES),
        }));
      }
    });
    const methods = this.methods;
    this.countedAtScrape(
      'corral_method_calls_total',
      'Calls ended, by gRPC method (those the lists or the descriptors name; every other is "other"), how they were served and the status their client got',
      ['method', 'outcome', 'grpc_code'],
      (c) => {
        for (const [method, counts] of methods) {
          emit(c, counts, (i) => ({ method, outcome: OUTCOMES[Math.floor(i / CODES)]!, grpc_code: statusName(i % CODES) }));
        }
      },
    );
    this.countedAtScrape(
      'corral_max_wait_exceeded_total',
      'Followers that waited COLLAPSER_MAX_WAIT for their flight, then got a stale answer or made their own backend call',
      [],
      (c) => c.inc(this.waitsTooLong),
    );
    this.countedAtScrape(
      'corral_backend_calls_total',
      'Backend calls corral started, by route: one per flight (collapsed) or per call passed through (bypass)',
      ['route', 'cluster', 'kind'],
      (c) => {
        for (const s of routes.values()) emit(c, s.backendCalls, (i) => ({ route: s.label.name, cluster: s.label.cluster, kind: KINDS[i]! }));
      },
    );
    this.countedAtScrape('corral_backend_handled_total', 'Backend calls ended, by cluster and the gRPC status they ended with (after retries)', ['cluster', 'grpc_code'], (c) => {
      for (const [cluster, s] of clusters) emit(c, s.handled, (i) => ({ cluster, grpc_code: statusName(i) }));
    });
    this.countedAtScrape(
      'corral_shed_total',
      "Calls not sent to their cluster's backend because its concurrency limit bound (BACKEND_CONCURRENCY), by cluster, the route's priority and why: over_limit (admission queue full), queue_timeout (no slot within BACKEND_QUEUE_TIMEOUT), deadline (too little time left for the backend's latency)",
      ['cluster', 'priority', 'reason'],
      (c) => {
        for (const [cluster, s] of clusters) {
          emit(c, s.shed, (i) => ({ cluster, priority: PRIORITIES[Math.floor(i / SHED_REASONS.length)]!, reason: SHED_REASONS[i % SHED_REASONS.length]! }));
        }
      },
    );
    this.countedAtScrape('corral_admission_unsent_total', 'Queued backend calls never sent because every caller had left, by cluster', ['cluster'], (c) => {
      for (const [cluster, s] of clusters) if (s.unsent > 0) c.inc({ cluster }, s.unsent);
    });
    this.countedAtScrape('corral_retry_budget_exhausted_total', "Failed attempts not retried because 20% of the cluster's calls were retries already (the retry budget), by cluster", ['cluster'], (c) => {
      for (const [cluster, s] of clusters) if (s.retriesRefused > 0) c.inc({ cluster }, s.retriesRefused);
    });
    this.countedAtScrape('corral_endpoint_ejections_total', 'Endpoints taken out of their cluster for a while after a backend failure, by cluster', ['cluster'], (c) => {
      for (const [cluster, s] of clusters) if (s.ejections > 0) c.inc({ cluster }, s.ejections);
    });
    this.requestSeconds = this.histogram(
      new LeanHistogram('corral_request_duration_seconds', 'Time from request headers to the end of the response, by route and outcome', LATENCY_BUCKETS),
    );
    this.backendSeconds = this.histogram(
      new LeanHistogram('corral_backend_call_duration_seconds', 'Duration of the backend call of each flight', LATENCY_BUCKETS),
    ).series({});
    this.queueSeconds = this.histogram(
      new LeanHistogram('corral_admission_queue_seconds', "Time calls waited in their cluster's admission queue before they were sent or shed", QUEUE_BUCKETS),
    );
    this.flightsInProgress = new Gauge({ name: 'corral_flights_in_progress', help: 'Collapsed backend calls under way', registers });
    this.followersPerFlight = this.histogram(
      new LeanHistogram('corral_flight_followers', 'Followers that joined each flight', [0, 1, 2, 5, 10, 50, 100, 500, 1000, 5000, 10000]),
    ).series({});
    const counter = (name: string, help: string) => new Counter({ name, help, registers });
    this.flightsOverflowed = counter('corral_flight_overflows_total', 'Flights whose response outgrew COLLAPSER_MAX_RESPONSE_BYTES and stopped taking followers');
    this.slowCallersDropped = counter(
      'corral_slow_callers_dropped_total',
      'Waiters ended with RESOURCE_EXHAUSTED because they read a shared response too slowly (a replayed response, or a live stream they fell too far behind)',
    );
    this.skipped = counter('corral_stream_messages_skipped_total', 'Messages of a latest stream (stream_join: latest) a watcher that was not reading skipped: a newer one replaced them');
    const authFailures = new Counter({
      name: 'corral_auth_failures_total',
      help: 'Calls refused UNAUTHENTICATED on routes with authorization: required, by reason',
      labelNames: ['reason'],
      registers,
    });
    this.authFailures = { missing_session: authFailures.labels('missing_session'), invalid_token: authFailures.labels('invalid_token') };
    this.retries = counter('corral_backend_retries_total', 'Backend attempts made again on another endpoint after a failure (RETRY_COUNT)');
    this.sessionTransfers = counter('corral_session_transfers_total', 'Responses continued on another endpoint after their backend failed mid-response (session_transfer)');
  }

  callEnded(call: FinishedCall): void {
    const series = this.route(call.route);
    const outcome = OUTCOME_INDEX[call.outcome];
    series.handled[outcome * CODES + call.code]!++;
    const method = this.methodLabel(call.method);
    let byMethod = this.methods.get(method);
    if (byMethod === undefined) this.methods.set(method, (byMethod = new Float64Array(OUTCOMES.length * CODES)));
    byMethod[outcome * CODES + call.code]!++;
    const histogram = (series.durations[outcome] ??= this.requestSeconds.series({ route: series.label.name, outcome: call.outcome }));
    histogram.observe((performance.now() - call.startedAt) / 1000);
  }

  backendCallStarted(kind: 'flight' | 'bypass', route: RouteLabel | null): void {
    this.route(route).backendCalls[kind === 'flight' ? 0 : 1]!++;
    if (kind === 'flight') this.flightsInProgress.inc();
  }

  backendCallEnded(cluster: string, code: number): void {
    this.cluster(cluster).handled[code]!++;
  }

  flightLanded(followers: number, seconds: number): void {
    this.flightsInProgress.dec();
    this.followersPerFlight.observe(followers);
    this.backendSeconds.observe(seconds);
  }

  flightOverflowed(): void {
    this.flightsOverflowed.inc();
  }

  messagesSkipped(): void {
    this.skipped.inc();
  }

  slowCallerDropped(): void {
    this.slowCallersDropped.inc();
  }

  waitedTooLong(): void {
    this.waitsTooLong++;
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

  endpointEjected(cluster: string): void {
    this.cluster(cluster).ejections++;
  }

  shed(cluster: string, priority: string, reason: ShedReason): void {
    const p = PRIORITIES.indexOf(priority as Priority);
    this.cluster(cluster).shed[(p < 0 ? 1 : p) * SHED_REASONS.length + SHED_REASONS.indexOf(reason)]!++;
  }

  admissionWaited(cluster: string, seconds: number): void {
    const series = this.cluster(cluster);
    (series.queueSeconds ??= this.queueSeconds.series({ cluster })).observe(seconds);
  }

  unsent(cluster: string): void {
    this.cluster(cluster).unsent++;
  }

  retryRefused(cluster: string): void {
    this.cluster(cluster).retriesRefused++;
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

  /** Adds a counter read at scrape time from a live count that only grows. */
  /** A gauge with one label, its series read at scrape time: label value -> value. */
  gaugesFrom(name: string, help: string, label: string, read: () => Record<string, number>): void {
    new Gauge({
      name,
      help,
      labelNames: [label],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [value, n] of Object.entries(read())) this.set({ [label]: value }, n);
      },
    });
  }

  counterFrom(name: string, help: string, read: () => number): void {
    this.countedAtScrape(name, help, [], (c) => c.inc(read()));
  }

  /** Registers a histogram observed on the request path (prom-client renders it like its own). */
  private histogram<L extends string>(histogram: LeanHistogram<L>): LeanHistogram<L> {
    this.registry.registerMetric(histogram as unknown as Metric);
    return histogram;
  }

  /** A counter whose series are set from plain counts when scraped, never on the request path. */
  private countedAtScrape(name: string, help: string, labelNames: string[], fill: (counter: Counter<string>) => void): void {
    new Counter({
      name,
      help,
      labelNames,
      registers: [this.registry],
      collect() {
        this.reset();
        fill(this);
      },
    });
  }

  /** Adds a counter whose labelled series are read at scrape time from live counts that only grow. */
  labelledCounterFrom<L extends string>(name: string, help: string, labelNames: readonly L[], read: () => Iterable<readonly [Record<L, string>, number]>): void {
    this.countedAtScrape(name, help, [...labelNames], (c) => {
      for (const [labels, value] of read()) if (value > 0) c.inc(labels, value);
    });
  }

  /**
   * Adds a gauge whose series are read at scrape time, so series of things gone (an
   * endpoint that left, a cluster of an old configuration) go with them.
   */
  labelledGaugeFrom<L extends string>(name: string, help: string, labelNames: readonly L[], read: () => Iterable<readonly [Record<L, string>, number]>): void {
    new Gauge({
      name,
      help,
      labelNames,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [labels, value] of read()) this.set(labels, value);
      },
    });
  }

  private route(label: RouteLabel | null): RouteSeries {
    const route = label ?? UNROUTED;
    let series = this.routes.get(route.name);
    if (series === undefined || series.label.cluster !== route.cluster) {
      // A reload may point a route of the same name at another cluster: its series start anew.
      series = new RouteSeries(route);
      this.routes.set(route.name, series);
    }
    return series;
  }

  private cluster(name: string): ClusterSeries {
    let series = this.clusters.get(name);
    if (series === undefined) this.clusters.set(name, (series = new ClusterSeries()));
    return series;
  }
}
