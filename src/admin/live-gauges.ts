import type { ClusterSet } from '../cluster/cluster-set.js';
import type { EndpointPools } from '../cluster/endpoint-pools.js';
import type { Metrics } from '../observe/metrics.js';

/** What the gauges read at scrape time. */
export interface LiveState {
  cache: { readonly entries: number; readonly bytes: number; readonly maxBytes: number } | null;
  /** 1 while /ready answers 200. */
  ready(): boolean;
  pools: EndpointPools;
  /** The clusters of the configuration in effect (a reload replaces them). */
  clusters(): ClusterSet;
  callsInProgress(): number;
}

/** Gauges read from live objects when Prometheus scrapes, so they cost nothing per call. */
export function registerLiveGauges(metrics: Metrics, live: LiveState): void {
  const { cache, pools } = live;
  metrics.gaugeFrom('corral_cache_entries', 'Responses in the cache', () => cache?.entries ?? 0);
  metrics.gaugeFrom('corral_cache_bytes', 'Bytes held by the cache', () => cache?.bytes ?? 0);
  metrics.gaugeFrom('corral_cache_max_bytes', "The cache's byte bound (COLLAPSER_CACHE_MAX_BYTES)", () => cache?.maxBytes ?? 0);
  metrics.gaugeFrom('corral_ready', '1 while /ready answers 200 (a backend connected, not draining), else 0', () => (live.ready() ? 1 : 0));
  metrics.gaugeFrom('corral_endpoint_pools', 'Backend endpoints with a connection pool', () => pools.size);
  metrics.gaugeFrom('corral_upstream_sessions', 'HTTP/2 sessions open to backends, over every endpoint', () => pools.sessions);
  metrics.gaugeFrom('corral_endpoints_ejected', 'Endpoints sitting out after a backend failure, over every cluster', () => live.clusters().ejected);
  metrics.gaugeFrom('corral_calls_in_progress', 'Client calls open, on the gRPC port and the HTTP/JSON gateway', () => live.callsInProgress());
  metrics.labelledGaugeFrom(
    'corral_resolver_up',
    'Per cluster: 1 while its endpoint source (discoverer, DNS, shard map) answers, 0 after a lookup failed (the last good list is kept)',
    ['cluster'],
    function* () {
      for (const [cluster, c] of live.clusters().entries()) yield [{ cluster }, c.resolver.health.lastError === null ? 1 : 0];
    },
  );
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
