/**
 * Routes from google.api.http options, and the descriptors' idempotency levels deciding
 * which native gRPC calls are collapsed: a grpc-js backend of OrderService and OrderApi
 * (the same methods, annotated), corral with HTTP_PORT, two include paths and tracing to a
 * local OTLP receiver, fetch and grpc-js clients.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as protoLoader from '@grpc/proto-loader';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Proxy } from '../../cmd/processes.js';
import { startOrdersBackend, type OrdersBackend } from '../http/orders-backend.js';
import { freePort } from '../support/etcd.js';
import { grpc, until } from '../support/grpc.js';
import { startOtlpReceiver, type OtlpReceiver } from '../support/otlp-receiver.js';

const JSON_HEADERS = { 'content-type': 'application/json' };
let backend: OrdersBackend;
let proxy: Proxy;
let base: string;
let orders: grpc.Client & Record<string, any>;
let otlp: OtlpReceiver;
let accessLog: string;
const [protos, annotated, bundled] = ['../http/protos', '../http/annotated', '../../proto'].map((dir) => fileURLToPath(new URL(dir, import.meta.url))) as [string, string, string];

beforeAll(async () => {
  const { startProxy } = await import('../../cmd/processes.js');
  backend = await startOrdersBackend();
  otlp = await startOtlpReceiver();
  const dir = mkdtempSync(join(tmpdir(), 'corral-annotations-'));
  const config = join(dir, 'gateway.yaml');
  accessLog = join(dir, 'access.log');
  writeFileSync(
    config,
    `clusters:
  orders: { type: static, address: "${backend.address}" }
default: { action: use_cluster, use_cluster: orders }
http:
  proto_files: [${annotated}/shop/v1/order_api.proto]
  proto_paths: [${protos}, ${annotated}]
  annotations: [shop.v1.OrderApi]
`,
  );
  const port = await freePort();
  proxy = await startProxy({
    CONFIG_PATH: config,
    HTTP_PORT: String(port),
    COLLAPSER_METHODS: '', // the descriptors decide, as shipped
    COLLAPSER_CACHE_DURATION: '0',
    OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
    OTEL_BSP_SCHEDULE_DELAY: '50',
    ACCESS_LOG: accessLog,
  });
  base = `http://127.0.0.1:${port}`;
  const definition = protoLoader.loadSync('shop/v1/order_api.proto', { includeDirs: [protos, annotated, bundled], longs: String, enums: String });
  const Service = (grpc.loadPackageDefinition(definition) as any).shop.v1.OrderService;
  orders = new Service(`127.0.0.1:${proxy.grpcPort}`, grpc.credentials.createInsecure());
});

afterAll(async () => {
  orders?.close();
  await proxy?.stop();
  await backend?.close();
  await otlp?.close();
});

const ndjson = async (res: Response) => (await res.text()).trim().split('\n').map((l) => JSON.parse(l));

describe('routes from google.api.http options', () => {
  it('serves each binding, additional_bindings included, with its body rule and response_body', async () => {
    const get = await fetch(`${base}/v2/orders/o-1`);
    expect(get.status).toBe(200);
    expect(await get.json()).toMatchObject({ id: 'o-1', totalCents: '9007199254740993', status: 'STATUS_OPEN', created: '2026-11-24T01:22:03Z' });
    expect(await (await fetch(`${base}/v2/orders:lookup?id=o-2`)).json()).toMatchObject({ id: 'o-2' });
    const created = await fetch(`${base}/v2/orders?request_id=r9`, { method: 'POST', body: JSON.stringify({ totalCents: '12' }), headers: JSON_HEADERS });
    expect(await created.json()).toEqual({ id: 'new-r9', totalCents: '12' });
    expect(await (await fetch(`${base}/v2/orders/o-3/items`)).json()).toEqual([{ sku: 'a', quantity: '2' }]);
    expect((await ndjson(await fetch(`${base}/v2/orders`))).map((l) => l.result.id)).toEqual(['o-1', 'o-2', 'o-3']);
    expect(backend.calls.Probe).toBeUndefined();
    // The admin's configuration dump lists the routes as served, collapse settled.
    const http = JSON.parse((await proxy.admin('/config_dump')).body).topology.http;
    expect(http.routes.find((r: any) => r.name === 'shop.v1.OrderApi.OrderItems')).toEqual({
      name: 'shop.v1.OrderApi.OrderItems',
      from: 'google.api.http',
      method: 'GET',
      path: '/v2/orders/{id}/items',
      grpcMethod: '/shop.v1.OrderApi/OrderItems',
      cluster: 'orders',
      authRequired: false,
      timeoutMs: 30000,
      body: null,
      responseBody: 'items',
      collapse: true,
      why: 'GET',
    });
    expect(http.routes.map((r: any) => r.name)).toHaveLength(6);
    const { collapsing } = JSON.parse((await proxy.admin('/config_dump')).body);
    expect(collapsing.declared.reads).toHaveLength(2);
    expect(proxy.lines.some((l) => l.includes('google.api.http binding not served: shop.v1.OrderApi.Probe: method HEAD is not served'))).toBe(true);
  });

  it('collapses annotated GETs and the method declared NO_SIDE_EFFECTS, and names the route in the metrics', async () => {
    const gets = backend.calls.GetOrder ?? 0;
    const herd = await Promise.all(Array.from({ length: 50 }, () => fetch(`${base}/v2/orders/slow-annotated`)));
    expect(herd.map((r) => r.status)).toEqual(herd.map(() => 200));
    expect((backend.calls.GetOrder ?? 0) - gets).toBe(1);
    const searches = backend.calls.SearchOrders ?? 0;
    await Promise.all(Array.from({ length: 20 }, () => fetch(`${base}/v2/orders:search`, { method: 'POST', body: '{"id":"s-1"}', headers: JSON_HEADERS })));
    expect((backend.calls.SearchOrders ?? 0) - searches).toBe(1);
    await until('the route is counted', async () => (await proxy.metric('corral_requests_total{route="http:shop.v1.OrderApi.GetOrder",outcome="follower"}')) >= 49);
  });
});

describe('the access log', () => {
  it('has the HTTP method, path and status of each HTTP call beside its gRPC method and status', async () => {
    expect((await fetch(`${base}/v2/orders/missing`)).status).toBe(404);
    const lines = () => readFileSync(accessLog, 'utf8').trim().split('\n').filter((l) => l !== '').map((l) => JSON.parse(l));
    await until('the line is written', async () => lines().some((l) => l.http_path === '/v2/orders/missing'));
    expect(lines().find((l) => l.http_path === '/v2/orders/missing')).toMatchObject({
      method: '/shop.v1.OrderApi/GetOrder',
      route: 'http:shop.v1.OrderApi.GetOrder',
      http_method: 'GET',
      http_status: 404,
      grpc_code: 'NOT_FOUND',
      grpc_message: 'no order missing',
    });
    expect(lines().find((l) => l.http_path === '/v2/orders:lookup')).toMatchObject({ http_method: 'GET', http_status: 200, grpc_code: 'OK' });
  });
});

describe('tracing HTTP calls', () => {
  it("gives each an HTTP server span under the caller's traceparent, named by its route, with the backend call under it", async () => {
    const trace = '0af7651916cd43dd8448eb211c80319c';
    const res = await fetch(`${base}/v2/orders/traced`, { headers: { traceparent: `00-${trace}-b7ad6b7169203331-01` } });
    expect(res.status).toBe(200);
    const spans = () => otlp.spans.filter((s) => s.traceId === trace);
    await until('the spans arrived', async () => spans().length >= 2);
    const server = spans().find((s) => s.kind === 2)!;
    expect(server).toMatchObject({ name: 'GET /v2/orders/{id}', parentSpanId: 'b7ad6b7169203331' });
    expect(server.attributes).toMatchObject({
      'http.request.method': 'GET',
      'http.route': '/v2/orders/{id}',
      'url.path': '/v2/orders/traced',
      'http.response.status_code': 200,
      'rpc.service': 'shop.v1.OrderApi',
      'rpc.method': 'GetOrder',
      'rpc.grpc.status_code': 0,
      'corral.route': 'http:shop.v1.OrderApi.GetOrder',
      'corral.outcome': 'leader',
    });
    expect(spans().find((s) => s.kind === 3)).toMatchObject({ parentSpanId: server.spanId });
    // An error status: the one the client got.
    const failedTrace = '1af7651916cd43dd8448eb211c80319c';
    await fetch(`${base}/v2/orders/missing`, { headers: { traceparent: `00-${failedTrace}-b7ad6b7169203331-01` } });
    await until('the failed call is traced', async () => otlp.spans.some((s) => s.traceId === failedTrace && s.kind === 2));
    const failed = otlp.spans.find((s) => s.traceId === failedTrace && s.kind === 2)!;
    expect(failed.attributes).toMatchObject({ 'http.response.status_code': 404, 'rpc.grpc.status_code': 5 });
    // A 4xx is the client's: the server span's status is left unset (OpenTelemetry's HTTP conventions).
    expect(failed.status?.code ?? 0).toBe(0);
  });
});

describe('native gRPC calls when descriptors are configured', () => {
  const call = (method: string, id: string) =>
    new Promise<any>((resolve, reject) => orders[method]({ id }, (err: grpc.ServiceError | null, reply: any) => (err ? reject(err) : resolve(reply))));

  it('collapses only the methods declared NO_SIDE_EFFECTS: twenty identical GetOrder calls reach the backend twenty times', async () => {
    const gets = backend.calls.GetOrder ?? 0;
    const replies = await Promise.all(Array.from({ length: 20 }, () => call('GetOrder', 'slow-native')));
    expect(replies.map((r) => r.id)).toEqual(replies.map(() => 'slow-native'));
    expect((backend.calls.GetOrder ?? 0) - gets).toBe(20);
    const searches = backend.calls.SearchOrders ?? 0;
    await Promise.all(Array.from({ length: 20 }, () => call('SearchOrders', 'native')));
    expect((backend.calls.SearchOrders ?? 0) - searches).toBe(1);
    expect(proxy.lines.some((l) => l.includes('descriptors loaded') && l.includes('"described":10') && l.includes('"reads":2'))).toBe(true);
  });
});
