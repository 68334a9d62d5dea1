/**
 * Overload protection with real processes: the capacity-limited backend (a fixed number
 * of workers, one FIFO queue, calls finished after their caller left), corral with
 * BACKEND_CONCURRENCY, and grpc-js and fetch clients. The orderings checked here are made
 * certain by a backend of one worker and a limit of one call: corral lets the queued calls
 * in one at a time, and the backend answers them in that order. Goodput under load is the
 * bench's (bench/overload.ts), not a test's: it depends on the machine.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EVERY_METHOD, freePort, proxyExit, startProxy, type Proxy } from '../../cmd/processes.js';
import { rawCall, rawClient, startCapacityBackend, type CapacityBackend, type RawResult } from '../support/capacity.js';
import { until } from '../support/until.js';
import type * as grpc from '@grpc/grpc-js';

const dir = mkdtempSync(join(tmpdir(), 'corral-overload-'));
let backend: CapacityBackend;
let proxy: Proxy | null = null;
let client: grpc.Client | null = null;

beforeAll(async () => {
  // One worker, 300 ms a call: what is at the backend and what waits at corral is always known.
  backend = await startCapacityBackend(1, 300);
});
afterAll(() => backend?.stop());
afterEach(async () => {
  client?.close();
  client = null;
  await proxy?.stop();
  proxy = null;
});

async function corral(env: Record<string, string>): Promise<{ proxy: Proxy; client: grpc.Client }> {
  proxy = await startProxy({ ...EVERY_METHOD, BACKEND_ADDRESS: backend.address, RESPONSE_OUTCOME_HEADER: 'x-corral-outcome', ...env });
  client = rawClient(proxy.address);
  return { proxy, client };
}

/** corral with a routes file: one static cluster at the backend, `clusterExtra` added to it, and `routes`. */
async function corralWithRoutes(clusterExtra: string, routes: string, env: Record<string, string> = {}): Promise<{ proxy: Proxy; client: grpc.Client }> {
  const file = join(dir, `routes-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(
    file,
    `default: { action: use_cluster, use_cluster: backend }
routes:
${routes}
clusters:
  backend: { type: static, addresses: ['${backend.address}']${clusterExtra} }
`,
  );
  proxy = await startProxy({ ...EVERY_METHOD, CONFIG_PATH: file, RESPONSE_OUTCOME_HEADER: 'x-corral-outcome', ...env });
  client = rawClient(proxy.address);
  return { proxy, client };
}

const outcome = (r: RawResult) => r.headers?.get('x-corral-outcome')[0] ?? r.trailers?.get('x-corral-outcome')[0];
const byEnd = (results: RawResult[]) => [...results].sort((a, b) => a.endedAt - b.endedAt).map((r) => r.name);
const inFlight = (p: Proxy, n: number) => until(`${n} call(s) at the backend`, async () => (await p.metric('corral_backend_calls_in_flight')) === n);
const queued = (p: Proxy, n: number) => until(`${n} call(s) queued`, async () => (await p.metric('corral_admission_queue_length')) === n);

describe('BACKEND_CONCURRENCY', () => {
  it('answers the calls past the limit at once with UNAVAILABLE, grpc-retry-pushback-ms and outcome shed, and counts them', async () => {
    const accessLog = join(dir, 'access.log');
    const { proxy, client } = await corral({ BACKEND_CONCURRENCY: '1', BACKEND_QUEUE_TIMEOUT: '0', ACCESS_LOG: accessLog });
    const first = rawCall(client, 'first-1');
    await inFlight(proxy, 1);
    const shed = await Promise.all([rawCall(client, 'shed-1'), rawCall(client, 'shed-2'), rawCall(client, 'shed-3')]);
    for (const r of shed) {
      expect(r.code).toBe(14);
      expect(r.details).toMatch(/^cluster backend has all the calls it can take \(1 at once, BACKEND_CONCURRENCY=1\) and its admission queue is full: the call was not sent; retry after \d+ms$/);
      expect(Number(r.trailers?.get('grpc-retry-pushback-ms')[0])).toBeGreaterThanOrEqual(10);
      expect(outcome(r)).toBe('shed');
    }
    // Shed while the first is still at the backend: nothing of theirs reached it.
    expect((await backend.stats()).byTag.shed).toBeUndefined();
    expect((await first).code).toBe(0);
    expect(await proxy.metric('corral_shed_total{cluster="backend",priority="normal",reason="over_limit"}')).toBe(3);
    expect(await proxy.metric('corral_calls_handled_total{outcome="shed",grpc_code="UNAVAILABLE"}')).toBe(3);
    expect(await proxy.metric('corral_backend_concurrency_limit{cluster="backend"}')).toBe(1);
    await until('the access log has the shed calls', async () => {
      const { readFileSync } = await import('node:fs');
      return readFileSync(accessLog, 'utf8').split('\n').filter((l) => l.includes('"outcome":"shed"')).length === 3;
    });
  });

  it('a grpc-js client with a retry policy waits out the pushback, then gets its answer (gRFC A6)', async () => {
    const { proxy, client } = await corral({ BACKEND_CONCURRENCY: '1', BACKEND_QUEUE_TIMEOUT: '0' });
    // One call teaches corral the backend's latency (300 ms): its pushbacks are 150 ms or more.
    expect((await rawCall(client, 'learn-1')).code).toBe(0);
    // Back-off of 10 ms between attempts: without the pushback, 5 attempts would be over long before a slot frees.
    const retrying = rawClient(proxy.address, {
      'grpc.service_config': JSON.stringify({
        methodConfig: [
          { name: [{ service: 'bench.Echo' }], retryPolicy: { maxAttempts: 5, initialBackoff: '0.01s', maxBackoff: '0.01s', backoffMultiplier: 1, retryableStatusCodes: ['UNAVAILABLE'] } },
        ],
      }),
    });
    try {
      const busy = rawCall(client, 'busy-0');
      await inFlight(proxy, 1);
      const patient = await rawCall(retrying, 'patient-1');
      expect(patient.code).toBe(0);
      expect((await busy).code).toBe(0);
      expect(await proxy.metric('corral_shed_total')).toBeGreaterThanOrEqual(1);
      expect((await backend.stats()).byTag.patient).toBe(1);
    } finally {
      retrying.close();
    }
  });

  it('queues a call over the limit and sends it when a slot frees: critical calls first', async () => {
    const { proxy, client } = await corralWithRoutes(', concurrency: 1', "  - { prefix: /bench.Critical/, cluster: backend, priority: critical }", { BACKEND_QUEUE_TIMEOUT: '30s' });
    const busy = rawCall(client, 'busy-1');
    await inFlight(proxy, 1);
    const normal = [rawCall(client, 'normal-1'), rawCall(client, 'normal-2')];
    await queued(proxy, 2);
    const critical = rawCall(client, 'critical-1', { method: '/bench.Critical/Get' });
    const results = await Promise.all([busy, ...normal, critical]);
    expect(results.map((r) => r.code)).toEqual([0, 0, 0, 0]);
    expect(byEnd(results)).toEqual(['busy-1', 'critical-1', 'normal-1', 'normal-2']);
    expect(await proxy.metric('corral_admission_queue_seconds_count{cluster="backend"}')).toBe(3);
  });

  it('BACKEND_CONCURRENCY_FAIR_BY: a tenant with one call waiting gets the next slot after one of a loud tenant’s', async () => {
    const { proxy, client } = await corral({ BACKEND_CONCURRENCY: '1', BACKEND_QUEUE_TIMEOUT: '30s', BACKEND_CONCURRENCY_FAIR_BY: 'x-tenant' });
    const loud = { metadata: { 'x-tenant': 'loud' } };
    const busy = rawCall(client, 'busy-2', loud);
    await inFlight(proxy, 1);
    const loudCalls = [1, 2, 3, 4].map((i) => rawCall(client, `loud-${i}`, loud));
    await queued(proxy, 4);
    const quiet = rawCall(client, 'quiet-1', { metadata: { 'x-tenant': 'quiet' } });
    const order = byEnd(await Promise.all([busy, ...loudCalls, quiet]));
    expect(order.slice(0, 3)).toEqual(['busy-2', 'loud-1', 'quiet-1']);
  });

  it('a herd that arrives while calls wait is still one backend call, let in before single calls', async () => {
    const { proxy, client } = await corral({ BACKEND_CONCURRENCY: '1', BACKEND_QUEUE_TIMEOUT: '30s' });
    const before = (await backend.stats()).byTag.herd ?? 0;
    const busy = rawCall(client, 'busy-3');
    await inFlight(proxy, 1);
    const singles = [rawCall(client, 'single-1'), rawCall(client, 'single-2')];
    await queued(proxy, 2);
    const herd = Array.from({ length: 50 }, () => rawCall(client, 'herd-same'));
    const [herdResults, others] = await Promise.all([Promise.all(herd), Promise.all([busy, ...singles])]);
    expect(herdResults.map((r) => r.code)).toEqual(herd.map(() => 0));
    expect(((await backend.stats()).byTag.herd ?? 0) - before).toBe(1);
    const lastHerd = Math.max(...herdResults.map((r) => r.endedAt));
    expect(lastHerd).toBeLessThan(others[1]!.endedAt);
  });

  it('never sends a queued flight whose every caller left', async () => {
    const { proxy, client } = await corral({ BACKEND_CONCURRENCY: '1', BACKEND_QUEUE_TIMEOUT: '30s' });
    const busy = rawCall(client, 'busy-4');
    await inFlight(proxy, 1);
    const gone = rawCall(client, 'gone-1');
    await queued(proxy, 1);
    gone.call.cancel();
    expect((await gone).code).toBe(1);
    expect((await busy).code).toBe(0);
    await until('the queue is empty', async () => (await proxy.metric('corral_admission_queue_length')) === 0);
    expect((await backend.stats()).byTag.gone).toBeUndefined();
    expect(await proxy.metric('corral_admission_unsent_total{cluster="backend"}')).toBe(1);
  });

  it('serves the answer the cache keeps for errors instead of shedding (COLLAPSER_STALE_IF_ERROR)', async () => {
    const { proxy, client } = await corral({ BACKEND_CONCURRENCY: '1', BACKEND_QUEUE_TIMEOUT: '0', COLLAPSER_CACHE_DURATION: '100ms', COLLAPSER_STALE_IF_ERROR: '1m' });
    expect((await rawCall(client, 'kept-1')).code).toBe(0);
    await new Promise((r) => setTimeout(r, 200)); // past its TTL: kept for errors only
    const busy = rawCall(client, 'busy-5');
    await inFlight(proxy, 1);
    const kept = await rawCall(client, 'kept-1');
    expect([kept.code, outcome(kept)]).toEqual([0, 'stale_if_error']);
    const fresh = await rawCall(client, 'never-kept-1');
    expect([fresh.code, outcome(fresh)]).toEqual([14, 'shed']);
    expect((await busy).code).toBe(0);
    expect(await proxy.metric('corral_shed_total{reason="over_limit"}')).toBe(2);
  });

  it('adaptive: calls at light load are never shed, and the limit stays where it starts', async () => {
    const { proxy, client } = await corral({ BACKEND_CONCURRENCY: 'adaptive' });
    for (let i = 0; i < 5; i++) expect((await rawCall(client, `light-${i}`)).code).toBe(0);
    expect(await proxy.metric('corral_shed_total')).toBe(0);
    expect(await proxy.metric('corral_backend_concurrency_limit{cluster="backend"}')).toBe(20);
    const clusters = JSON.parse((await proxy.admin('/clusters')).body) as { clusters: Array<{ name: string; concurrency: Record<string, unknown> }> };
    expect(clusters.clusters[0]!.concurrency).toMatchObject({ setting: 'adaptive', limit: 20, inFlight: 0, queued: 0 });
    const dump = JSON.parse((await proxy.admin('/config_dump')).body) as { concurrency: Record<string, unknown>; environment: Record<string, unknown> };
    expect(dump.concurrency.backend).toMatchObject({ setting: 'adaptive', limit: 20 });
    expect(dump.environment.BACKEND_CONCURRENCY).toBe('adaptive');
  });

  it('answers a shed call at the HTTP/JSON gateway with 503 and Retry-After', async () => {
    // The backend echoes its request: a method whose input and output are one type answers in JSON.
    const protoDir = mkdtempSync(join(dir, 'proto-'));
    writeFileSync(join(protoDir, 'echo.proto'), 'syntax = "proto3";\npackage bench;\nmessage Item { string id = 1; }\nservice Echo { rpc Get(Item) returns (Item); }\n');
    const file = join(dir, 'gateway.yaml');
    writeFileSync(
      file,
      `clusters:
  backend: { type: static, addresses: ['${backend.address}'], concurrency: 1 }
http:
  proto_files: [${protoDir}/echo.proto]
  proto_paths: [${protoDir}]
  routes:
    - { name: get-item, path: "/v1/items/{id}", method: GET, service: backend, grpc_service: bench.Echo, grpc_method: Get }
`,
    );
    const port = await freePort();
    proxy = await startProxy({ ...EVERY_METHOD, CONFIG_PATH: file, HTTP_PORT: String(port), BACKEND_QUEUE_TIMEOUT: '0' });
    const first = fetch(`http://127.0.0.1:${port}/v1/items/first`);
    await inFlight(proxy, 1);
    const shed = await fetch(`http://127.0.0.1:${port}/v1/items/second`);
    expect(shed.status).toBe(503);
    expect(Number(shed.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await shed.json()).toMatchObject({ code: 'SERVICE_UNAVAILABLE', grpc_code: 14, message: expect.stringMatching(/^cluster backend has all the calls it can take/) });
    const ok = await first;
    expect([ok.status, await ok.json()]).toEqual([200, { id: 'first' }]);
  });
});

describe('configuration', () => {
  it.each([
    ['BACKEND_CONCURRENCY', { BACKEND_ADDRESS: '127.0.0.1:1', BACKEND_CONCURRENCY: 'lots' }, "BACKEND_CONCURRENCY='lots': expected off, adaptive, or a number of calls from 1 to 100000"],
    ['BACKEND_QUEUE_TIMEOUT', { BACKEND_ADDRESS: '127.0.0.1:1', BACKEND_QUEUE_TIMEOUT: 'soon' }, "BACKEND_QUEUE_TIMEOUT='soon': expected a duration"],
    [
      'BACKEND_CONCURRENCY_FAIR_BY=identity without one',
      { BACKEND_ADDRESS: '127.0.0.1:1', BACKEND_CONCURRENCY_FAIR_BY: 'identity' },
      'BACKEND_CONCURRENCY_FAIR_BY=identity needs a verified identity',
    ],
  ])('refuses a bad %s at start, naming it', async (_name, env, message) => {
    const { code, stderr } = await proxyExit(env);
    expect(code).toBe(2);
    expect(stderr).toContain(message);
  });

  it('refuses a cluster concurrency or a route priority it does not know, naming the field', async () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(
      file,
      `routes:
  - { prefix: /a/, cluster: backend, priority: urgent }
clusters:
  backend: { type: static, addresses: ['127.0.0.1:1'], concurrency: 0 }
`,
    );
    const { code, stderr } = await proxyExit({ CONFIG_PATH: file });
    expect(code).toBe(2);
    expect(stderr).toContain('routes[0].priority="urgent": expected critical, normal, sheddable');
    expect(stderr).toContain('clusters.backend.concurrency=0: expected off, adaptive, or a number of calls from 1 to 100000');
  });
});
