import type { EndpointPools } from '../cluster/endpoint-pools.js';
import type { Config } from '../config/config.js';
import type { HttpSpec } from '../http/http-spec.js';
import type { HttpRoute } from '../http/http-routes.js';
import type { Pipeline } from '../runtime/pipeline.js';
import type { Fleet } from '../fleet/fleet.js';
import { statusName } from '../wire/status.js';
import { redactedUrlsIn, redactedUrlsOf } from '../spec/redact.js';
import { collapsingSummary } from '../runtime/collapsing.js';
import { collapseReason, collapses, type ReadSources } from '../collapse/method-policy.js';
import type { Admissions } from '../admission/admissions.js';
import type { CachePurge } from '../collapse/cache-purge.js';
import { keyHex } from '../collapse/key.js';

/** What the admin endpoints read: the configuration and the routing in effect. */
export interface AdminState {
  config: Config;
  routing(): Pipeline;
  generation(): number;
  pools: EndpointPools;
  /** COLLAPSER_FLEET's members and counts; null when off. */
  fleet: Fleet | null;
  /** Each cluster's concurrency limit (BACKEND_CONCURRENCY, a cluster's `concurrency`). */
  admissions: Admissions;
  /** POST /cache/purge; null without a cache. */
  purge: CachePurge | null;
  /** With COLLAPSER_FLEET: tells the other members of each purge; null otherwise. */
  fleetPurges: { publish(query: string): Promise<void> } | null;
}

/** GET /config_dump: the effective configuration, defaults filled in, secrets redacted. */
export function configDump(state: AdminState): unknown {
  const { config } = state;
  const { topology, httpRoutes, declared, reads, learned } = state.routing();
  // What a route leaves unset takes the environment's value: shown as it applies.
  const routes = topology.routes.map((route) => ({
    ...route,
    name: route.name ?? null,
    collapse: route.collapse ?? 'declared or listed reads',
    cacheTtlMs: route.cacheTtlMs ?? config.collapser.cacheTtlMs,
    staleWhileRevalidateMs: route.staleWhileRevalidateMs ?? config.collapser.cachePolicy.staleWhileRevalidateMs,
    staleIfErrorMs: route.staleIfErrorMs ?? config.collapser.cachePolicy.staleIfErrorMs,
    cacheStatuses: Object.fromEntries([...config.collapser.cachePolicy.statusTtls].map(([code, ms]) => [statusName(code), ms])),
    timeoutMs: route.timeoutMs ?? config.backend.timeoutMs,
    keyMetadata: route.keyMetadata ?? config.collapser.keyMetadata ?? 'all but transport and tracing headers',
  }));
  // A URL in the configuration (a discoverer's, a shard map's) may carry credentials: never shown.
  return redactedUrlsOf({
    generation: state.generation(),
    configPath: config.configPath ?? null,
    environment: config.environment,
    topology: {
      ...topology,
      routes,
      // What each cluster's TLS is, never the bytes of its files (its key among them).
      clusterTls: Object.fromEntries(
        Object.entries(topology.clusterTls).map(([name, tls]) => [
          name,
          { ca: tls.ca === undefined ? 'the system roots' : 'ca_file', clientCertificate: tls.cert !== undefined, serverName: tls.serverName ?? null },
        ]),
      ),
      http: topology.http === null ? null : httpDump(topology.http, httpRoutes, reads),
    },
    // Each cluster's limit as set, and where an adaptive one stands now.
    concurrency: Object.fromEntries(Object.keys(topology.clusters).map((name) => [name, concurrencyOf(state, name)])),
    // What the lists, the routes and the descriptors (files, and what the backends declared over reflection) say.
    collapsing: { ...collapsingSummary(config, declared), byEndpoint: learned === null ? null : [...learned.endpoints()] },
    fleet:
      state.fleet === null
        ? null
        : { self: state.fleet.self, members: state.fleet.memberList(), forwarded: state.fleet.forwarded, served: state.fleet.served, fallbacks: state.fleet.fallbacks },
  });
}

/** The http section as served: every route, those read from google.api.http options included, collapse settled. */
function httpDump(http: HttpSpec, served: readonly HttpRoute[], reads: ReadSources): unknown {
  const inFile = new Set(http.routes.map((r) => r.name));
  return {
    ...http,
    routes: served.map(({ spec, grpcPath, collapse }) => ({
      name: spec.name,
      from: inFile.has(spec.name) ? 'file' : 'google.api.http',
      method: spec.method,
      path: spec.path,
      grpcMethod: grpcPath,
      cluster: spec.cluster,
      authRequired: spec.authRequired,
      timeoutMs: spec.timeoutMs,
      body: spec.body,
      responseBody: spec.responseBody,
      ...httpCollapse(spec.method, grpcPath, collapse, reads),
    })),
  };
}

/** Whether an HTTP route collapses now, and why: its collapse setting, GET, or the method policy. */
function httpCollapse(verb: string, grpcPath: string, collapse: boolean | undefined, reads: ReadSources): { collapse: boolean; why: string } {
  if (collapse === false) return { collapse: false, why: 'collapse: false' };
  const reason = collapseReason(reads, grpcPath, collapse === true || verb === 'GET');
  const why = reason === 'route' ? (collapse === true ? 'collapse: true' : 'GET') : reason;
  return { collapse: collapses(reason), why };
}

/** GET /clusters: each cluster, its resolver's health, and each endpoint's state; then endpoints draining away. */
export function clustersView(state: AdminState): unknown {
  const clusters = [];
  for (const [name, cluster] of state.routing().clusters.entries()) {
    const { lastUpdateAt, lastError } = cluster.resolver.health;
    clusters.push({
      name,
      type: state.routing().clusters.spec(name)?.type ?? null,
      resolver: {
        kind: cluster.resolver.kind,
        lastUpdate: lastUpdateAt === null ? null : new Date(lastUpdateAt).toISOString(),
        lastError: lastError === null ? null : redactedUrlsIn(lastError),
      },
      concurrency: concurrencyOf(state, name),
      endpoints: [...cluster.endpointStates()],
    });
  }
  const draining = [...state.pools.draining()].map((pool) => ({
    address: pool.address,
    state: 'draining',
    callsInProgress: pool.activeStreams,
    sessions: pool.sessionCount,
  }));
  return { clusters, draining };
}

/** A cluster's concurrency limit: its setting, and with one, the limit now, the calls holding slots and those waiting. */
function concurrencyOf(state: AdminState, cluster: string): unknown {
  const admission = state.admissions.of(cluster);
  if (admission === null) return { setting: 'off' };
  return { setting: admission.spec, limit: admission.limit, inFlight: admission.inFlight, queued: admission.queued, latencyMs: Math.round(admission.latencyMs * 10) / 10 };
}

/** GET /flights: flights under way, with their keys (digests: they reveal nothing of the request) for a purge by key; never a payload. */
export function flightsView(state: AdminState): unknown {
  const now = performance.now();
  const flights = [];
  for (const flight of state.routing().flights()) {
    flights.push({
      method: flight.method,
      route: flight.route?.name ?? null,
      cluster: flight.route?.cluster ?? null,
      key: keyHex(flight.key),
      waiters: flight.waiting,
      // How a caller joins it: replay (a recorded response), latest or live (fanned out, stream_join).
      join: flight.joins,
      ageMs: Math.round(now - flight.started),
      // In a fleet: the member that owns the key (this one, or the peer the flight went to).
      ...(state.fleet === null ? {} : { owner: state.fleet.ownerOf(flight.key)?.id ?? null }),
    });
  }
  return { flights };
}
