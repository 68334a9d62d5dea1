import type { ClusterSet } from '../cluster/cluster-set.js';
import type { EndpointPools } from '../cluster/endpoint-pools.js';
import type { Metrics } from '../observe/metrics.js';
import type { ClientConnections } from '../server/client-connections.js';
import type { MemoryWatch } from '../server/memory-watch.js';
import type { Overload } from '../server/overload.js';
import type { Admission } from '../admission/admission.js';
import type { Admissions } from '../admission/admissions.js';
import { OUTCOMES, type Outcome } from '../call/call.js';
import type { SharedCall } from '../collapse/shared-call.js';

/** What the gauges read at scrape time. */
export interface LiveState {
  cache: { readonly entries: number; readonly bytes: number; readonly maxBytes: number } | null;
  /** 1 while /ready answers 200. */
  ready(): boolean;
  pools: EndpointPools;
  /** The clusters of the configuration in effect (a reload replaces them). */
  clusters(): ClusterSet;
  /** How each open client call is being served so far, over both fronts. */
  openOutcomes(): Iterable<Outcome>;
  /** The flights under way on the configuration in effect. */
  flights(): Iterable<SharedCall>;
  /** Each cluster's concurrency limit, for the clusters that have one. */
  admissions: Admissions;
}

/** Gauges read from live objects when Prometheus scrapes, so they cost nothing per call. */
export function registerLiveGauges(metrics: Metrics, live: LiveState): void {
  const { cache, pools } = live;
  metrics.gaugeFrom('corral_cache_entries', 'Responses in the cache', () => cache?.entries ?? 0);
  metrics.gaugeFrom('corral_cache_bytes', 'Bytes held by the cache', () => cache?.bytes ?? 0);
  metrics.gaugeFrom('corral_cache_max_bytes', "The cache's byte bound (COLLAPSER_CACHE_MAX_BYTES)", () => cache?.maxBytes ?? 0);
  metrics.gaugeFrom('corral_ready', '1 while /ready answers 200 (a backend connected, or answers kept for errors standing in for it; not draining), else 0', () => (live.ready() ? 1 : 0));
  metrics.gaugeFrom('corral_endpoint_pools', 'Backend endpoints with a connection pool', () => pools.size);
  metrics.gaugeFrom('corral_upstream_sessions', 'HTTP/2 sessions open to backends, over every endpoint', () => pools.sessions);
  metrics.gaugeFrom('corral_endpoints_ejected', 'Endpoints sitting out after a backend failure, over every cluster', () => live.clusters().ejected);
  metrics.labelledGaugeFrom(
    'corral_fanout_streams',
    'Long server streams fanned out live (stream_join latest or live), by method (as corral_method_calls_total names it) and join',
    ['method', 'join'],
    () => fanout(live.flights(), metrics.methodLabel, (counts) => counts.streams),
  );
  metrics.labelledGaugeFrom(
    'corral_fanout_watchers',
    'Watchers of the streams fanned out live, by method and join',
    ['method', 'join'],
    () => fanout(live.flights(), metrics.methodLabel, (counts) => counts.watchers),
  );
  metrics.labelledGaugeFrom(
    'corral_calls_in_progress',
    'Client calls open, on the gRPC port and the HTTP/JSON gateway, by how they are served so far (pending: no stage has taken the call yet)',
    ['outcome'],
    function* () {
      const counts = new Float64Array(OUTCOMES.length);
      for (const outcome of live.openOutcomes()) counts[OUTCOMES.indexOf(outcome)]!++;
      // Every series, zeros too: sum() over them is the number of open calls, 0 included.
      for (let i = 0; i < OUTCOMES.length; i++) yield [{ outcome: OUTCOMES[i] === 'rejected' ? 'pending' : OUTCOMES[i]! }, counts[i]!];
    },
  );
  metrics.labelledGaugeFrom(
    'corral_resolver_up',
    'Per cluster: 1 while its endpoint source (discoverer, DNS, shard map) answers, 0 after a lookup failed (the last good list is kept)',
    ['cluster'],
    function* () {
      for (const [cluster, c] of live.clusters().entries()) yield [{ cluster }, c.resolver.health.lastError === null ? 1 : 0];
    },
  );
  const perCluster = (name: string, help: string, read: (a: Admission) => number) =>
    metrics.labelledGaugeFrom(name, help, ['cluster'], function* () {
      for (const [cluster, a] of live.admissions.entries()) yield [{ cluster }, read(a)];
    });
  perCluster('corral_backend_concurrency_limit', "Per cluster with a limit (BACKEND_CONCURRENCY): the calls its backend may have at once, as the adaptive limit stands now", (a) => a.limit);
  perCluster('corral_backend_calls_in_flight', 'Per cluster with a limit: calls sent to its backend and not yet answered (each holds a slot)', (a) => a.inFlight);
  perCluster('corral_admission_queue_length', "Per cluster with a limit: calls waiting for a slot", (a) => a.queued);
  // Per endpoint: series come and go with the endpoints the clusters list.
  const perEndpoint = (name: string, help: string, read: (e: { callsInProgress: number; sessions: number; state: string }) => number) =>
    metrics.labelledGaugeFrom(name, help, ['cluster', 'endpoint'], function* () {
      for (const [cluster, c] of live.clusters().entries()) {
        for (const e of c.endpointStates()) yield [{ cluster, endpoint: e.address }, read(e)];
      }
    });
  perEndpoint('corral_endpoint_calls_in_progress', 'Backend streams open to each endpoint of each cluster', (e) => e.callsInProgress);
  perEndpoint('corral_endpoint_sessions', 'HTTP/2 sessions open to each endpoint of each cluster', (e) => e.sessions);
  perEndpoint('corral_endpoint_ejected', 'Per endpoint: 1 while it sits out after a backend failure', (e) => (e.state === 'ejected' ? 1 : 0));
}

/** What bounds the process and its client connections: the fronts' refusals and closures. */
export interface AdmissionState {
  overload: Overload;
  memory: MemoryWatch | null;
  /** Each port's connections; null for a port that is off. */
  connections: { grpc: ClientConnections; http: ClientConnections | null };
}

export function registerAdmissionGauges(metrics: Metrics, state: AdmissionState): void {
  const { overload, memory } = state;
  const ports = (Object.entries(state.connections) as Array<[string, ClientConnections | null]>).filter(
    (p): p is [string, ClientConnections] => p[1] !== null,
  );
  metrics.labelledGaugeFrom('corral_client_connections', 'Client connections open, per port (grpc, http)', ['port'], function* () {
    for (const [port, c] of ports) yield [{ port }, c.size];
  });
  metrics.labelledCounterFrom(
    'corral_client_connections_closed_total',
    'Client connections corral closed, per port: evicted (the longest idle, to make room at MAX_CONNECTIONS), idle_timeout (CLIENT_IDLE_TIMEOUT), refused (at MAX_CONNECTIONS with none idle, or MAX_CONNECTIONS_PER_PEER)',
    ['port', 'reason'],
    function* () {
      for (const [port, c] of ports) for (const [reason, n] of Object.entries(c.closed)) yield [{ port, reason }, n];
    },
  );
  metrics.labelledCounterFrom(
    'corral_calls_refused_total',
    'Calls refused before corral took them (REFUSED_STREAM, or 503 over HTTP/1.1): open_calls (MAX_OPEN_CALLS), request_bytes (MAX_REQUEST_BUFFER_BYTES), memory (OVERLOAD_HEAP_BYTES)',
    ['reason'],
    () => Object.entries(overload.refused).map(([reason, n]) => [{ reason }, n] as const),
  );
  metrics.gaugeFrom('corral_request_buffer_bytes', 'Request bytes corral holds for calls under way (bounded by MAX_REQUEST_BUFFER_BYTES)', () => overload.requestBytes);
  metrics.gaugeFrom('corral_overloaded', '1 while live memory is above OVERLOAD_HEAP_BYTES and new calls are refused', () => (overload.memoryHigh ? 1 : 0));
  if (memory !== null) {
    metrics.gaugeFrom('corral_live_memory_bytes', 'V8 heap in use plus external memory, as compared with OVERLOAD_HEAP_BYTES', () => memory.liveBytes);
  }
}

/** The fanned-out streams under way and their watchers, summed by method label and join. */
function fanout(
  flights: Iterable<SharedCall>,
  label: (method: string) => string,
  pick: (counts: { streams: number; watchers: number }) => number,
): Array<readonly [{ method: string; join: string }, number]> {
  const sums = new Map<string, { method: string; join: string; streams: number; watchers: number }>();
  for (const flight of flights) {
    if (flight.joins === 'replay') continue;
    const method = label(flight.method);
    const id = `${method} ${flight.joins}`;
    let sum = sums.get(id);
    if (sum === undefined) sums.set(id, (sum = { method, join: flight.joins, streams: 0, watchers: 0 }));
    sum.streams++;
    sum.watchers += flight.waiting;
  }
  return [...sums.values()].map((s) => [{ method: s.method, join: s.join }, pick(s)] as const);
}
