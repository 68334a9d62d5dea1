/**
 * Operating corral, through real processes: a grpc-js backend, corral with two named
 * routes and the default, the access log in a file, the outcome header, tracing to a
 * local OTLP/HTTP receiver, and grpc-js clients. What is checked is what an operator
 * reads: /metrics, the access log lines, the admin endpoints and the spans received.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backend, Proxy } from '../../cmd/processes.js';
import { client, grpc, metadata, release, unary, until, type Client, type UnaryResult } from '../support/grpc.js';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '../support/otlp-receiver.js';

let backend: Backend;
let proxy: Proxy;
let otlp: OtlpReceiver;
let c: Client;
const dir = mkdtempSync(join(tmpdir(), 'corral-observe-'));
const accessLogPath = join(dir, 'access.log');
const CALLER_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const CALLER_SPAN = '00f067aa0ba902b7';

beforeAll(async () => {
  const { startBackend, startProxy } = await import('../../cmd/processes.js');
  backend = await startBackend();
  otlp = await startOtlpReceiver();
  const routes = join(dir, 'routes.yaml');
  writeFileSync(
    routes,
    `routes:
  - name: lookups
    prefix: /corral.example.v1.Example/Lookup
    cluster: backend
  - name: uploads
    prefix: /corral.example.v1.Example/Upload
    cluster: backend
    collapse: false
default: { action: use_cluster, use_cluster: backend }
clusters:
  backend: { type: static, address: "${backend.address}" }
`,
  );
  proxy = await startProxy({
    CONFIG_PATH: routes,
    ACCESS_LOG: accessLogPath,
    RESPONSE_OUTCOME_HEADER: 'x-corral-outcome',
    COLLAPSER_CACHE_DURATION: '60s',
    JWT_SECRET: 'a-secret-the-config-dump-must-not-show',
    OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
    OTEL_BSP_SCHEDULE_DELAY: '50',
    OTEL_SERVICE_NAME: 'corral-under-test',
  });
  await proxy.untilReady();
  c = client(proxy.address);
});

afterAll(async () => {
  c?.close();
  await proxy?.stop();
  await backend?.stop();
  await otlp?.close();
});

const outcomeOf = (r: UnaryResult) => r.headers?.get('x-corral-outcome')[0] ?? r.trailers?.get('x-corral-outcome')[0];

function upload(): Promise<{ error: grpc.ServiceError | null; headers: grpc.Metadata | null }> {
  return new Promise((resolve) => {
    let headers: grpc.Metadata | null = null;
    const call = c.Upload((error: grpc.ServiceError | null) => setImmediate(() => resolve({ error, headers })));
    call.on('metadata', (m: grpc.Metadata) => (headers = m));
    call.write({ data: Buffer.from('one') });
    call.write({ data: Buffer.from('two') });
    call.end();
  });
}

describe('observing calls on several routes', () => {
  const results: Record<string, UnaryResult> = {};
  let flightsDuringHerd: any;

  beforeAll(async () => {
    // A leader (sent with a caller's traceparent) and two followers on one gated flight, then a cache hit.
    const traced = metadata({ traceparent: `00-${CALLER_TRACE}-${CALLER_SPAN}-01` });
    const leader = unary(c, 'Lookup', { key: 'observed', gate: 'observed' }, traced);
    await until('the leader is in flight', async () => (await proxy.metric('corral_flights_in_progress')) === 1);
    const herd = [unary(c, 'Lookup', { key: 'observed', gate: 'observed' }), unary(c, 'Lookup', { key: 'observed', gate: 'observed' })];
    await until('two followers joined', async () => (await proxy.metric('corral_calls_in_progress{outcome="follower"}')) >= 2);
    flightsDuringHerd = JSON.parse((await proxy.admin('/flights')).body);
    await release(backend.address, 'observed');
    results.leader = await leader;
    const [f1, f2] = await Promise.all(herd);
    results.follower1 = f1!;
    results.follower2 = f2!;
    results.hit = await unary(c, 'Lookup', { key: 'observed', gate: 'observed' });
    results.notFound = await unary(c, 'Lookup', { key: 'missing', failCode: grpc.status.NOT_FOUND, failMessage: 'no such key' });
    results.stats = await unary(c, 'Stats', { nonce: 'observed' });
    const up = await upload();
    expect(up.error).toBeNull();
    (results as any).upload = { headers: up.headers, trailers: null, error: null, reply: null };
  });

  it('answers every call as it would direct', () => {
    for (const name of ['leader', 'follower1', 'follower2', 'hit', 'stats']) expect(results[name]!.error).toBeNull();
    expect(results.notFound!.error?.code).toBe(grpc.status.NOT_FOUND);
  });

  it('tells each client how its call was served, in x-corral-outcome', () => {
    expect(outcomeOf(results.leader!)).toBe('leader');
    expect(outcomeOf(results.follower1!)).toBe('follower');
    expect(outcomeOf(results.hit!)).toBe('cache_hit');
    expect(outcomeOf((results as any).upload)).toBe('bypass');
  });

  it('labels metrics by route, cluster, outcome and grpc_code, never by the raw method', async () => {
    const m = (labels: string) => proxy.metric(`corral_calls_handled_total{${labels}}`);
    expect(await m('route="lookups",cluster="backend",outcome="leader",grpc_code="OK"')).toBe(1);
    expect(await m('route="lookups",cluster="backend",outcome="follower",grpc_code="OK"')).toBe(2);
    expect(await m('route="lookups",cluster="backend",outcome="cache_hit",grpc_code="OK"')).toBe(1);
    expect(await m('route="lookups",cluster="backend",outcome="leader",grpc_code="NOT_FOUND"')).toBe(1);
    expect(await m('route="uploads",cluster="backend",outcome="bypass",grpc_code="OK"')).toBe(1);
    expect(await m('route="default",cluster="backend",grpc_code="OK"')).toBeGreaterThanOrEqual(1);
    // Collapse savings per route: served without a backend call against backend calls.
    expect(await proxy.metric('corral_requests_total{route="lookups",outcome="follower"}')).toBe(2);
    expect(await proxy.metric('corral_backend_calls_total{route="lookups",kind="flight"}')).toBe(2);
    expect(await proxy.metric('corral_backend_handled_total{cluster="backend",grpc_code="NOT_FOUND"}')).toBe(1);
    expect(await proxy.metric(`corral_endpoint_sessions{cluster="backend",endpoint="${backend.address}"}`)).toBeGreaterThanOrEqual(1);
    expect(await proxy.metric(`corral_endpoint_ejected{cluster="backend",endpoint="${backend.address}"}`)).toBe(0);
    const { body } = await proxy.admin('/metrics');
    // Only the per-method series name methods: those the backend describes (a bounded set), never a client's.
    expect(body).not.toMatch(/corral_(?!method_calls_total)[a-z_]+\{[^}]*corral\.example/);
    expect(body).toMatch(/corral_build_info\{version="[^"]+",node="v24/);
  });

  it('writes one access log line per call, with route, cluster, endpoint, outcome, status, bytes and trace id', async () => {
    await until('the access log has the calls', async () => readFileSync(accessLogPath, 'utf8').split('\n').length > 7);
    const lines = readFileSync(accessLogPath, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const lookups = lines.filter((l) => l.method === '/corral.example.v1.Example/Lookup');
    const byOutcome = (o: string) => lookups.filter((l) => l.outcome === o && l.grpc_code === 'OK');
    expect(byOutcome('leader')).toHaveLength(1);
    expect(byOutcome('follower')).toHaveLength(2);
    expect(byOutcome('cache_hit')).toHaveLength(1);
    const leader = byOutcome('leader')[0];
    expect(leader).toMatchObject({ route: 'lookups', cluster: 'backend', endpoint: backend.address, grpc_status: 0, retries: 0, trace_id: CALLER_TRACE });
    expect(leader.request_bytes).toBeGreaterThan(5);
    expect(leader.response_bytes).toBeGreaterThan(5);
    expect(leader.duration_ms).toBeGreaterThan(0);
    expect(byOutcome('follower')[0]).toMatchObject({ endpoint: backend.address });
    expect(byOutcome('cache_hit')[0]).toMatchObject({ endpoint: null, route: 'lookups' });
    expect(byOutcome('follower')[0].trace_id).toMatch(/^[0-9a-f]{32}$/);
    expect(lookups.find((l) => l.grpc_code === 'NOT_FOUND')).toMatchObject({ grpc_status: 5, grpc_message: 'no such key', outcome: 'leader' });
    expect(lines.find((l) => l.route === 'uploads')).toMatchObject({ outcome: 'bypass', method: '/corral.example.v1.Example/Upload', grpc_code: 'OK' });
  });

  it('sends a server span per call and a client span per backend call; followers and cache hits link to it', async () => {
    const lookupSpans = () => otlp.spans.filter((s) => s.name === 'corral.example.v1.Example/Lookup');
    const served = (outcome: string) => lookupSpans().filter((s) => s.kind === 2 && s.attributes['corral.outcome'] === outcome && s.attributes['rpc.grpc.status_code'] === 0);
    await until('the spans arrived', async () => served('follower').length === 2 && served('cache_hit').length === 1 && served('leader').length === 1);
    const leader = served('leader')[0]!;
    expect(leader).toMatchObject({ traceId: CALLER_TRACE, parentSpanId: CALLER_SPAN, service: 'corral-under-test' });
    expect(leader.attributes).toMatchObject({ 'rpc.system': 'grpc', 'rpc.service': 'corral.example.v1.Example', 'rpc.method': 'Lookup', 'corral.route': 'lookups' });
    const backendCall = lookupSpans().find((s: ReceivedSpan) => s.kind === 3 && s.parentSpanId === leader.spanId)!;
    expect(backendCall).toMatchObject({ traceId: CALLER_TRACE });
    expect(backendCall.attributes).toMatchObject({ 'rpc.system': 'grpc', 'rpc.grpc.status_code': 0, 'server.port': backend.port });
    // The backend received the client span's context.
    expect(results.leader!.reply.metadata.traceparent).toBe(`00-${CALLER_TRACE}-${backendCall.spanId}-01`);
    for (const s of [...served('follower'), ...served('cache_hit')]) {
      expect(s.links).toContainEqual({ traceId: CALLER_TRACE, spanId: backendCall.spanId });
    }
    const failed = lookupSpans().find((s) => s.kind === 2 && s.attributes['rpc.grpc.status_code'] === 5);
    expect(failed?.status).toMatchObject({ code: 2, message: 'no such key' });
  });

  it('shows flights under way without their keys or payloads', () => {
    expect(flightsDuringHerd.flights).toHaveLength(1);
    expect(flightsDuringHerd.flights[0]).toMatchObject({ method: '/corral.example.v1.Example/Lookup', route: 'lookups', cluster: 'backend', waiters: 3 });
    expect(JSON.stringify(flightsDuringHerd)).not.toContain('observed');
  });
});

describe('admin endpoints', () => {
  it('lists them at /', async () => {
    const { status, body } = await proxy.admin('/');
    expect(status).toBe(200);
    const paths = JSON.parse(body).endpoints.map((e: { method: string; path: string }) => `${e.method} ${e.path}`);
    expect(paths).toEqual(expect.arrayContaining(['GET /config_dump', 'GET /clusters', 'GET /flights', 'GET /logging', 'POST /logging?level=debug']));
  });

  it('serves the views and /logging on the admin port only; the metrics port keeps /metrics, /health and /ready', async () => {
    for (const path of ['/config_dump', '/clusters', '/flights', '/logging', '/']) {
      const res = await fetch(`http://127.0.0.1:${proxy.metricsPort}${path}`);
      expect(res.status, path).toBe(404);
      expect(await res.text()).toContain(`the admin endpoints are on 127.0.0.1:${proxy.adminPort} (ADMIN_PORT)`);
    }
    const refused = await fetch(`http://127.0.0.1:${proxy.metricsPort}/logging?level=silent`, { method: 'POST' });
    expect(refused.status).toBe(405);
    for (const path of ['/metrics', '/health', '/ready']) {
      expect((await fetch(`http://127.0.0.1:${proxy.metricsPort}${path}`)).status, path).toBe(200);
      const wrongPort = await fetch(`http://127.0.0.1:${proxy.adminPort}${path}`);
      expect([wrongPort.status, await wrongPort.text()], path).toEqual([404, `not found: ${path} is on 127.0.0.1:${proxy.metricsPort} (METRICS_PORT); GET / lists this port's endpoints\n`]);
    }
  });

  it('refuses a POST /logging that a web page could send cross-origin without a preflight', async () => {
    const post = (headers: Record<string, string>, body?: string) =>
      fetch(`http://127.0.0.1:${proxy.adminPort}/logging?level=silent`, { method: 'POST', headers, ...(body === undefined ? {} : { body }) });
    for (const [headers, body] of [
      [{ origin: 'https://evil.example' }, undefined],
      [{ 'content-type': 'text/plain' }, 'x'],
      [{ 'content-type': 'application/x-www-form-urlencoded' }, 'a=b'],
      [{ 'content-type': 'multipart/form-data; boundary=x' }, '--x--'],
    ] as Array<[Record<string, string>, string | undefined]>) {
      const res = await post(headers, body);
      expect(res.status, JSON.stringify(headers)).toBe(403);
    }
    expect(JSON.parse((await proxy.admin('/logging')).body)).toEqual({ level: 'info' });
  });

  it('dumps the configuration in effect with defaults filled in and the secret redacted', async () => {
    const dump = JSON.parse((await proxy.admin('/config_dump')).body);
    expect(dump.generation).toBe(0);
    expect(dump.environment).toMatchObject({ JWT_SECRET: '[redacted]', COLLAPSER_MAX_FOLLOWERS: 10000, RESPONSE_OUTCOME_HEADER: 'x-corral-outcome' });
    // Durations as they are written, not as milliseconds.
    expect(dump.environment).toMatchObject({ COLLAPSER_CACHE_DURATION: '1m', BACKEND_QUEUE_TIMEOUT: '100ms', BACKEND_KEEPALIVE_TIME: '5m', COLLAPSER_STALE_IF_ERROR: '0s' });
    expect(dump.topology.routes.map((r: { name: string }) => r.name)).toEqual(['lookups', 'uploads']);
    expect(dump.topology.routes[0]).toMatchObject({ balancer: { type: 'round_robin' }, collapse: 'declared or listed reads', authorization: 'none', cacheTtlMs: 60_000, timeoutMs: 10_000 });
    expect(JSON.stringify(dump)).not.toContain('a-secret-the-config-dump-must-not-show');
  });

  it("shows every cluster, its resolver's health and each endpoint's state", async () => {
    const view = JSON.parse((await proxy.admin('/clusters')).body);
    const cluster = view.clusters.find((x: { name: string }) => x.name === 'backend');
    expect(cluster).toMatchObject({ type: 'static', resolver: { kind: 'static', lastError: null } });
    expect(cluster.resolver.lastUpdate).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(cluster.endpoints).toEqual([
      expect.objectContaining({ address: backend.address, state: 'serving', ejectedUntil: null, callsInProgress: 0 }),
    ]);
    expect(cluster.endpoints[0].sessions).toBeGreaterThanOrEqual(1);
  });

  it('changes the log level at run time, and refuses a level that does not exist', async () => {
    const post = (q: string) => fetch(`http://127.0.0.1:${proxy.adminPort}/logging${q}`, { method: 'POST' });
    const set = await post('?level=debug');
    expect(set.status).toBe(200);
    expect(await set.json()).toEqual({ level: 'debug' });
    expect(JSON.parse((await proxy.admin('/logging')).body)).toEqual({ level: 'debug' });
    const bad = await post('?level=loud');
    expect(bad.status).toBe(400);
    expect((await bad.json()).error).toMatch(/one of fatal, error, warn, info, debug, trace, silent/);
    await post('?level=info');
  });
});
