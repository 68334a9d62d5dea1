/**
 * The HTTP/JSON gateway through real processes: a grpc-js order service (a real .proto with
 * int64, an enum, a Timestamp, bytes, nested and repeated fields, a server-streaming method),
 * corral with HTTP_PORT, and plain fetch and node:http2 clients.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import http2 from 'node:http2';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Proxy } from '../../cmd/processes.js';
import { startOrdersBackend, type OrdersBackend } from '../http/orders-backend.js';
import { freePort } from '../support/etcd.js';
import { until } from '../support/grpc.js';
import { JWT_SECRET, token } from '../support/tokens.js';

const JSON_HEADERS = { 'content-type': 'application/json' };
let backend: OrdersBackend;
let proxy: Proxy;
let base: string;
let configPath: string;
let configText: string;
const protos = fileURLToPath(new URL('../http/protos', import.meta.url));

beforeAll(async () => {
  const { startProxy } = await import('../../cmd/processes.js');
  backend = await startOrdersBackend();
  const dir = mkdtempSync(join(tmpdir(), 'corral-gateway-'));
  const config = join(dir, 'gateway.yaml');
  configPath = config;
  configText = `clusters:
  orders: { type: static, address: "${backend.address}" }
http:
  proto_files: [${protos}/shop/v1/orders.proto]
  proto_paths: [${protos}]
  cors: { allowed_origins: ["https://shop.example"] }
  routes:
    - { name: get-order, path: "/api/v1/orders/{id}", method: GET, service: orders, grpc_service: shop.v1.OrderService, grpc_method: GetOrder }
    - { name: my-order, path: "/api/v1/me/orders/{id}", method: GET, service: orders, grpc_service: shop.v1.OrderService, grpc_method: GetOrder, auth_required: true }
    - { name: create-order, path: /api/v1/orders, method: POST, service: orders, grpc_service: shop.v1.OrderService, grpc_method: CreateOrder, body: "*" }
    - { name: list-orders, path: /api/v1/orders, method: GET, service: orders, grpc_service: shop.v1.OrderService, grpc_method: ListOrders }
    - { name: search, path: "/api/v1/orders:search", method: POST, service: orders, grpc_service: shop.v1.OrderService, grpc_method: SearchOrders, body: "*" }
`;
  writeFileSync(config, configText);
  const port = await freePort();
  proxy = await startProxy({ CONFIG_PATH: config, HTTP_PORT: String(port), JWT_SECRET, COLLAPSER_CACHE_DURATION: '0', COLLAPSER_METHODS: '' });
  base = `http://127.0.0.1:${port}`;
});

afterAll(async () => {
  await proxy?.stop();
  await backend?.close();
});

const ORDER = {
  totalCents: '9007199254740993',
  status: 'STATUS_OPEN',
  created: '2026-11-24T01:22:03Z',
  items: [{ sku: 'a', quantity: '2' }],
  note: 'aGk=',
};

describe('HTTP/JSON to gRPC', () => {
  it('answers a GET with the message in canonical proto3 JSON, path variables in the request and as metadata', async () => {
    const res = await fetch(`${base}/api/v1/orders/o-1?with_items=true`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(await res.json()).toEqual({ id: 'o-1', ...ORDER });
    expect(res.headers.get('grpc-metadata-seen-x-path-id')).toBe('o-1');
    expect(res.headers.get('grpc-metadata-seen-x-forwarded-method')).toBe('GET');
    expect(res.headers.get('grpc-metadata-seen-x-forwarded-path')).toBe('/api/v1/orders/o-1');
    // Trailers as Grpc-Trailer- headers (grpc-gateway's convention), never grpc-status itself.
    expect(res.headers.get('grpc-trailer-x-served-by')).toBe('orders-backend');
    expect(res.headers.get('grpc-trailer-grpc-status')).toBeNull();
  });

  it('takes a POST body as the message, and passes Grpc-Metadata- headers as metadata', async () => {
    // Through the backend and back: Duration, a wrapper and a Struct as well.
    const more = { holdFor: '90s', coupon: 'WELCOME', attributes: { gift: true, tags: ['a'], box: { size: 'S' } } };
    const res = await fetch(`${base}/api/v1/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'grpc-metadata-x-client-note': 'hello' },
      body: JSON.stringify({ order: { id: 'ignored', ...ORDER, ...more }, requestId: 'r1' }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ id: 'new-r1', ...ORDER, ...more });
    expect(res.headers.get('grpc-metadata-seen-x-client-note')).toBe('hello');
  });

  it('maps gRPC errors and its own refusals to HTTP statuses with a JSON error body', async () => {
    const notFound = await fetch(`${base}/api/v1/orders/missing`);
    expect(notFound.status).toBe(404);
    expect(await notFound.json()).toEqual({ code: 'NOT_FOUND', message: 'no order missing', grpc_code: 5 });
    expect(notFound.headers.get('grpc-trailer-x-served-by')).toBe('orders-backend');
    const unknownField = await fetch(`${base}/api/v1/orders/o-1?colour=red`);
    expect(unknownField.status).toBe(400);
    expect((await unknownField.json()).message).toMatch(/colour/);
    const malformed = await fetch(`${base}/api/v1/orders`, { method: 'POST', body: '{"order":', headers: JSON_HEADERS });
    expect(malformed.status).toBe(400);
    expect((await malformed.json()).message).toMatch(/malformed JSON/);
    const tooLarge = await fetch(`${base}/api/v1/orders`, { method: 'POST', body: JSON.stringify({ requestId: 'x'.repeat(5 * 1024 * 1024) }), headers: JSON_HEADERS });
    expect(tooLarge.status).toBe(413);
    expect((await tooLarge.json()).code).toBe('PAYLOAD_TOO_LARGE');
    const noRoute = await fetch(`${base}/api/v2/orders`);
    expect(noRoute.status).toBe(404);
    expect((await noRoute.json()).code).toBe('NOT_FOUND');
    const wrongMethod = await fetch(`${base}/api/v1/orders/o-1`, { method: 'DELETE' });
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get('allow')).toBe('GET');
  });

  it('requires a bearer token on auth_required routes, and sends the verified identity, never a forged one', async () => {
    const missing = await fetch(`${base}/api/v1/me/orders/o-2`);
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toBe('Bearer');
    expect((await missing.json()).code).toBe('UNAUTHENTICATED');
    const forged = await fetch(`${base}/api/v1/me/orders/o-2`, { headers: { authorization: 'Bearer not-a-jwt' } });
    expect(forged.status).toBe(401);
    const expired = await fetch(`${base}/api/v1/me/orders/o-2`, { headers: { authorization: `Bearer ${token({ sub: 'alice', exp: Math.floor(Date.now() / 1000) - 60 })}` } });
    expect(expired.status).toBe(401);
    const otherSecret = await fetch(`${base}/api/v1/me/orders/o-2`, { headers: { authorization: `Bearer ${token({ sub: 'alice' }, 'another-secret-of-32-bytes-or-more')}` } });
    expect(otherSecret.status).toBe(401);
    const forging = await fetch(`${base}/api/v1/me/orders/o-2`, {
      headers: { authorization: `Bearer ${token({ sub: 'alice' })}`, 'grpc-metadata-x-user-id': 'mallory' },
    });
    expect(forging.status).toBe(400);
    expect((await forging.json()).message).toBe("header 'Grpc-Metadata-x-user-id' would set 'x-user-id', which HTTP/2, gRPC or corral reserve");
    const ok = await fetch(`${base}/api/v1/me/orders/o-2`, { headers: { authorization: `Bearer ${token({ sub: 'alice' })}` } });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('grpc-metadata-seen-x-user-id')).toBe('alice');
  });

  it('collapses a herd of identical GETs into one backend call, and never shares between two users', async () => {
    const before = backend.calls.GetOrder ?? 0;
    const herd = await Promise.all(Array.from({ length: 200 }, () => fetch(`${base}/api/v1/orders/slow-herd`)));
    expect(herd.map((r) => r.status)).toEqual(herd.map(() => 200));
    expect((backend.calls.GetOrder ?? 0) - before).toBe(1);
    const mid = backend.calls.GetOrder ?? 0;
    const as = (sub: string) => fetch(`${base}/api/v1/me/orders/slow-users`, { headers: { authorization: `Bearer ${token({ sub })}` } });
    const users = await Promise.all([as('alice'), as('bob'), as('alice'), as('bob')]);
    expect(users.map((r) => r.headers.get('grpc-metadata-seen-x-user-id'))).toEqual(['alice', 'bob', 'alice', 'bob']);
    expect((backend.calls.GetOrder ?? 0) - mid).toBe(2);
  });

  it('collapses a POST whose method is declared NO_SIDE_EFFECTS, and never a plain POST', async () => {
    const searches = backend.calls.SearchOrders ?? 0;
    const post = (path: string, body: unknown) => fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const herd = await Promise.all(Array.from({ length: 20 }, () => post('/api/v1/orders:search', { id: 'found' })));
    expect(herd.map((r) => r.status)).toEqual(herd.map(() => 200));
    expect((backend.calls.SearchOrders ?? 0) - searches).toBe(1);
    const creates = backend.calls.CreateOrder ?? 0;
    await Promise.all(Array.from({ length: 5 }, () => post('/api/v1/orders', { order: { id: 'x' }, requestId: 'same' })));
    expect((backend.calls.CreateOrder ?? 0) - creates).toBe(5);
  });

  it('streams a server-streaming method as newline-delimited JSON, with an error line when it fails after starting', async () => {
    const res = await fetch(`${base}/api/v1/orders`);
    expect(res.headers.get('content-type')).toBe('application/x-ndjson');
    const lines = (await res.text()).trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.result.id)).toEqual(['o-1', 'o-2', 'o-3']);
    const failing = (await (await fetch(`${base}/api/v1/orders?page_size=99`)).text()).trim().split('\n').map((l) => JSON.parse(l));
    expect(failing.at(-1)).toEqual({ error: { code: 'INTERNAL_ERROR', message: 'the store broke', grpc_code: 13 } });
  });

  it('answers CORS preflight for allowed origins', async () => {
    const res = await fetch(`${base}/api/v1/orders/o-1`, {
      method: 'OPTIONS',
      headers: { origin: 'https://shop.example', 'access-control-request-method': 'GET' },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe('https://shop.example');
    expect(res.headers.get('access-control-allow-methods')).toMatch(/GET/);
    const other = await fetch(`${base}/api/v1/orders/o-1`, { method: 'OPTIONS', headers: { origin: 'https://evil.example', 'access-control-request-method': 'GET' } });
    expect(other.status).toBe(403);
  });

  it('speaks h2c on the same port', async () => {
    const session = http2.connect(base);
    try {
      const body = await new Promise<string>((resolve, reject) => {
        const req = session.request({ ':method': 'GET', ':path': '/api/v1/orders/h2' });
        let text = '';
        req.on('data', (d: Buffer) => (text += d.toString()));
        req.on('end', () => resolve(text));
        req.on('error', reject);
        req.end();
      });
      expect(JSON.parse(body)).toMatchObject({ id: 'h2' });
    } finally {
      session.close();
    }
  });

  it('reports each HTTP call to the metrics by its route and status', async () => {
    await until('the calls are counted', async () => (await proxy.metric('corral_calls_handled_total{route="http:get-order",grpc_code="NOT_FOUND"}')) >= 1);
    expect(await proxy.metric('corral_calls_handled_total{route="http:get-order",cluster="orders",grpc_code="OK"}')).toBeGreaterThanOrEqual(2);
    expect(await proxy.metric('corral_calls_handled_total{route="http:my-order",outcome="rejected",grpc_code="UNAUTHENTICATED"}')).toBe(4);
    expect(await proxy.metric('corral_requests_total{route="http:get-order",outcome="follower"}')).toBeGreaterThanOrEqual(199);
  });

  it('answers curl as it answers fetch', async () => {
    // Not execFileSync: the backend runs in this process and must go on answering.
    const { stdout: out } = await promisify(execFile)('curl', ['-sS', '-i', '-m', '10', `${base}/api/v1/orders/curl-1`], { encoding: 'utf8' });
    expect(out).toMatch(/^HTTP\/1\.1 200/);
    expect(JSON.parse(out.slice(out.indexOf('\r\n\r\n') + 4))).toMatchObject({ id: 'curl-1', status: 'STATUS_OPEN' });
  });

  it('takes a changed route on SIGHUP, and keeps the running routes when the new file names a method that does not exist', async () => {
    writeFileSync(configPath, configText.replace('/api/v1/orders/{id}', '/api/v2/orders/{id}'));
    proxy.child.kill('SIGHUP');
    await until('the new route answers', async () => (await fetch(`${base}/api/v2/orders/o-9`)).status === 200);
    expect((await fetch(`${base}/api/v1/orders/o-9`)).status).toBe(404);
    writeFileSync(configPath, configText.replace('grpc_method: GetOrder }', 'grpc_method: GetOrderz }'));
    proxy.child.kill('SIGHUP');
    await until('the reload is refused', async () => proxy.lines.some((l) => l.includes('config reload failed') && l.includes('GetOrderz')));
    expect((await fetch(`${base}/api/v2/orders/o-9`)).status).toBe(200);
  });
});

describe('the same method policy on both fronts', () => {
  it('COLLAPSER_METHODS and COLLAPSER_SKIP_METHODS decide for gateway routes as for native calls', async () => {
    const { startOrdersGateway, ordersClient } = await import('../support/orders-gateway.js');
    const gateway = await startOrdersGateway(
      `  routes:
    - { name: get-by-post, path: "/api/v1/orders:get", method: POST, service: orders, grpc_service: shop.v1.OrderService, grpc_method: GetOrder, body: "*" }
    - { name: search, path: "/api/v1/orders:search", method: POST, service: orders, grpc_service: shop.v1.OrderService, grpc_method: SearchOrders, body: "*" }
`,
      { COLLAPSER_METHODS: '/shop.v1.OrderService/GetOrder', COLLAPSER_SKIP_METHODS: '/shop.v1.OrderService/SearchOrders', COLLAPSER_CACHE_DURATION: '0' },
      'default: { action: use_cluster, use_cluster: orders }\n',
    );
    const native = await ordersClient(gateway.proxy.address);
    try {
      const { orders } = gateway;
      const post = (path: string, id: string) =>
        fetch(`${gateway.base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id }) });
      const count = async (method: string, herd: () => Promise<unknown>) => {
        const before = orders.calls[method] ?? 0;
        await Promise.all(Array.from({ length: 5 }, herd));
        return (orders.calls[method] ?? 0) - before;
      };
      const call = (method: string, id: string) => () => new Promise((resolve, reject) => native[method]({ id }, (err: Error | null, r: unknown) => (err ? reject(err) : resolve(r))));
      // Listed: a POST route collapses, as the native call does.
      expect(await count('GetOrder', () => post('/api/v1/orders:get', 'slow-listed'))).toBe(1);
      expect(await count('GetOrder', call('GetOrder', 'slow-listed-native'))).toBe(1);
      // Skipped: its declaration (NO_SIDE_EFFECTS) does not count, over HTTP or gRPC.
      expect(await count('SearchOrders', () => post('/api/v1/orders:search', 'skipped'))).toBe(5);
      expect(await count('SearchOrders', call('SearchOrders', 'skipped-native'))).toBe(5);
    } finally {
      native.close();
      await gateway.stop();
    }
  });
});

describe('identity on the HTTP front', () => {
  it('keeps the verified identity in the key of an auth_required route when COLLAPSER_KEY_METADATA narrows it', async () => {
    const { startOrdersGateway } = await import('../support/orders-gateway.js');
    const gateway = await startOrdersGateway(
      `  routes:
    - { name: my-order, path: "/api/v1/me/orders/{id}", method: GET, service: orders, grpc_service: shop.v1.OrderService, grpc_method: GetOrder, auth_required: true }
`,
      { JWT_SECRET, COLLAPSER_KEY_METADATA: 'x-tenant', COLLAPSER_CACHE_DURATION: '0' },
    );
    try {
      const before = gateway.orders.calls.GetOrder ?? 0;
      const as = (sub: string) => fetch(`${gateway.base}/api/v1/me/orders/slow-narrowed`, { headers: { authorization: `Bearer ${token({ sub })}` } });
      const answers = await Promise.all([as('alice'), as('bob'), as('alice'), as('bob')]);
      expect(answers.map((r) => r.headers.get('grpc-metadata-seen-x-user-id'))).toEqual(['alice', 'bob', 'alice', 'bob']);
      expect((gateway.orders.calls.GetOrder ?? 0) - before).toBe(2);
    } finally {
      await gateway.stop();
    }
  });

  it('strips identity metadata a native gRPC client forges when only HTTP routes authenticate', async () => {
    const { startOrdersGateway, ordersClient } = await import('../support/orders-gateway.js');
    const grpc = await import('@grpc/grpc-js');
    const gateway = await startOrdersGateway(
      `  routes:
    - { name: my-order, path: "/api/v1/me/orders/{id}", method: GET, service: orders, grpc_service: shop.v1.OrderService, grpc_method: GetOrder, auth_required: true }
`,
      { JWT_SECRET },
      'default: { action: use_cluster, use_cluster: orders }\n',
    );
    const native = await ordersClient(gateway.proxy.address);
    try {
      const forged = new grpc.Metadata();
      forged.set('x-user-id', 'mallory');
      const seen = await new Promise<InstanceType<typeof grpc.Metadata>>((resolve, reject) => {
        const call = native.GetOrder({ id: 'o-1' }, forged, (err: Error | null) => err && reject(err));
        call.on('metadata', resolve);
      });
      expect(seen.get('seen-x-user-id')).toEqual([]);
    } finally {
      native.close();
      await gateway.stop();
    }
  });
});
