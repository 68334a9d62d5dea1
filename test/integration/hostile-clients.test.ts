/**
 * corral as an attacker on the network meets it: an unauthenticated client with curl-like
 * requests and a few scripts. Each attack runs against a real corral and a real backend,
 * and a second client's call must come through untouched.
 */
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Proxy } from '../../cmd/processes.js';
import { encodeFrame } from '../../src/wire/frame.js';
import type { OrdersBackend } from '../http/orders-backend.js';
import { startOrdersGateway, type OrdersGateway } from '../support/orders-gateway.js';
import { rawCall } from '../support/raw.js';
import { JWT_SECRET, token } from '../support/tokens.js';

const JSON_HEADERS = { 'content-type': 'application/json' };

describe('at the HTTP/JSON gateway', () => {
  let gateway: OrdersGateway;
  let orders: OrdersBackend;
  let proxy: Proxy;
  let base: string;

  beforeAll(async () => {
    gateway = await startOrdersGateway(
      `  cors: { allowed_origins: ["https://shop.example"], expose_headers: [x-request-id], allow_credentials: true }
  routes:
    - { name: get-order, path: "/api/v1/orders/{id}", method: GET, service: orders, grpc_service: shop.v1.OrderService, grpc_method: GetOrder }
    - { name: my-order, path: "/api/v1/me/orders/{id}", method: GET, service: orders, grpc_service: shop.v1.OrderService, grpc_method: GetOrder, auth_required: true }
    - { name: create-order, path: /api/v1/orders, method: POST, service: orders, grpc_service: shop.v1.OrderService, grpc_method: CreateOrder, body: "*" }
`,
      { JWT_SECRET, JWT_AUDIENCE: 'orders', COLLAPSER_CACHE_DURATION: '0' },
    );
    ({ orders, proxy, base } = gateway);
  });

  afterAll(() => gateway?.stop());

  /** A GET that takes the backend 300 ms, started now: the other client whose call must survive. */
  const bystander = () => fetch(`${base}/api/v1/orders/slow-bystander-${Math.random()}`);

  it('refuses a query or body that reaches for Object.prototype with 400, and keeps running', async () => {
    const other = bystander();
    for (const query of ['__proto__.x-injected=evil', 'constructor.prototype.x-injected=evil']) {
      const res = await fetch(`${base}/api/v1/orders/x?${query}`);
      expect(res.status).toBe(400);
      expect((await res.json()).message).toMatch(/^query parameter '.*' is not a field of shop\.v1\.GetOrderRequest$/);
    }
    for (const body of ['{"__proto__": {"x-injected": "evil"}}', '{"constructor": {"prototype": {"x-injected": "evil"}}}']) {
      const res = await fetch(`${base}/api/v1/orders`, { method: 'POST', body, headers: JSON_HEADERS });
      expect(res.status).toBe(400);
    }
    expect((await other).status).toBe(200);
    // Metrics are labelled from every call's metadata: the process would have died here.
    const after = await fetch(`${base}/api/v1/orders/after`);
    expect(after.status).toBe(200);
    expect(proxy.child.exitCode).toBeNull();
    expect(await proxy.metric('corral_calls_handled_total{route="http:get-order",outcome="leader",grpc_code="OK"}')).toBeGreaterThanOrEqual(2);
  });

  it('refuses Grpc-Metadata-* headers that would reach the backend as HTTP/2, gRPC or corral fields, naming them', async () => {
    const other = bystander();
    const refused: Record<string, string> = {
      'Grpc-Metadata-Content-Length': '5',
      'Grpc-Metadata-Content-Type': 'application/grpc+json',
      'Grpc-Metadata-Host': 'tenant-b.example',
      'Grpc-Metadata-Te': 'gzip',
      'Grpc-Metadata-Authorization': 'Bearer forged',
      'Grpc-Metadata-Grpc-Timeout': '1n',
      'Grpc-Metadata-X-User-Id': 'mallory',
      'Grpc-Metadata-X-Forwarded-Path': '/admin',
      'Grpc-Metadata-Connection': 'close',
      'Grpc-Metadata-Corral-Fleet-Hop': 'forged-peer',
    };
    for (const [header, value] of Object.entries(refused)) {
      const res = await fetch(`${base}/api/v1/orders/md`, { headers: { [header]: value } });
      expect(res.status, header).toBe(400);
      expect((await res.json()).message, header).toContain(`'Grpc-Metadata-${header.slice('Grpc-Metadata-'.length).toLowerCase()}'`);
    }
    const badBin = await fetch(`${base}/api/v1/orders/md`, { headers: { 'Grpc-Metadata-X-Bad-Bin': '!!not-base64!!' } });
    expect(badBin.status).toBe(400);
    expect((await badBin.json()).message).toMatch(/malformed binary metadata 'x-bad-bin'/);
    // Base64 with spare bits set in its last character: a lenient decoder reads 'a', grpc-core closes its connection.
    for (const value of ['YR==', 'YWJ=']) {
      const res = await fetch(`${base}/api/v1/orders/md`, { headers: { 'Grpc-Metadata-X-A-Bin': value } });
      expect(res.status, value).toBe(400);
      expect((await res.json()).message).toContain(`malformed binary metadata 'x-a-bin': '${value}' is not base64 as an encoder writes it`);
    }
    const notPrintable = await fetch(`${base}/api/v1/orders/md`, { headers: { 'Grpc-Metadata-X-Note': 'caf\u00e9' } });
    expect(notPrintable.status).toBe(400);
    // The call of the other client on the same backend connection came through, and nothing was ejected.
    expect((await other).status).toBe(200);
    expect(await proxy.metric('corral_endpoint_ejections_total')).toBe(0);
    // Metadata of a legal name still passes.
    const ok = await fetch(`${base}/api/v1/orders/md`, { headers: { 'Grpc-Metadata-X-Client-Note': 'hello' } });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('grpc-metadata-seen-x-client-note')).toBe('hello');
  });

  it('refuses a body route any content type but JSON with 415, so a cross-origin write always needs a preflight', async () => {
    const before = orders.calls.CreateOrder ?? 0;
    const body = JSON.stringify({ requestId: 'no-cors', order: { note: 'aGk=' } });
    for (const type of ['text/plain', 'text/plain;charset=UTF-8', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
      const res = await fetch(`${base}/api/v1/orders`, { method: 'POST', body, headers: { 'content-type': type, origin: 'https://evil.example' } });
      expect(res.status, type).toBe(415);
    }
    const none = await fetch(`${base}/api/v1/orders`, { method: 'POST' });
    expect(none.status).toBe(415);
    expect(orders.calls.CreateOrder ?? 0).toBe(before);
    const json = await fetch(`${base}/api/v1/orders`, { method: 'POST', body, headers: { 'content-type': 'application/json; charset=utf-8' } });
    expect(json.status).toBe(200);
    expect(orders.calls.CreateOrder).toBe(before + 1);
  });

  it('lets an allowed page read the headers corral sets, and varies every answer by Origin', async () => {
    const allowed = await fetch(`${base}/api/v1/orders/cors`, { headers: { origin: 'https://shop.example' } });
    expect(allowed.status).toBe(200);
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://shop.example');
    expect(allowed.headers.get('access-control-allow-credentials')).toBe('true');
    expect(allowed.headers.get('vary')).toBe('Origin');
    const exposed = allowed.headers.get('access-control-expose-headers')!.split(', ');
    expect(exposed).toEqual(expect.arrayContaining(['x-request-id', 'grpc-metadata-seen-x-path-id', 'grpc-trailer-x-served-by']));
    expect(exposed).not.toContain('content-type');
    const unauthorized = await fetch(`${base}/api/v1/me/orders/cors`, { headers: { origin: 'https://shop.example' } });
    expect(unauthorized.status).toBe(401);
    expect(unauthorized.headers.get('access-control-expose-headers')).toContain('www-authenticate');
    for (const headers of [{ origin: 'https://evil.example' }, {}] as Array<Record<string, string>>) {
      const res = await fetch(`${base}/api/v1/orders/cors`, { headers });
      expect(res.headers.get('vary')).toBe('Origin');
      expect(res.headers.get('access-control-allow-origin')).toBeNull();
      expect(res.headers.get('access-control-expose-headers')).toBeNull();
    }
    const preflight = await fetch(`${base}/api/v1/orders`, {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
    });
    expect(preflight.status).toBe(403);
    expect(preflight.headers.get('vary')).toContain('Origin');
  });

  it('checks the audience of bearer tokens (JWT_AUDIENCE)', async () => {
    const as = (claims: Record<string, unknown>) => fetch(`${base}/api/v1/me/orders/aud`, { headers: { authorization: `Bearer ${token(claims)}` } });
    expect((await as({ sub: 'alice', aud: 'orders' })).status).toBe(200);
    expect((await as({ sub: 'alice', aud: 'billing' })).status).toBe(401);
    expect((await as({ sub: 'alice' })).status).toBe(401);
  });

  it('passes the verified user on percent-encoded: a token for šdmin never reaches the backend as admin; a sub that is not text is 401', async () => {
    const as = (claims: Record<string, unknown>) => fetch(`${base}/api/v1/me/orders/who-${Math.random()}`, { headers: { authorization: `Bearer ${token({ aud: 'orders', ...claims })}` } });
    const res = await as({ sub: 'šdmin' });
    expect(res.status).toBe(200);
    expect(res.headers.get('grpc-metadata-seen-x-user-id')).toBe('%C5%A1dmin');
    expect((await as({ sub: 42 })).status).toBe(401);
  });
});

describe('at the gRPC port', () => {
  /** A bare backend: it resets streams that carry x-reset-me, and answers others with the :authority and user-agent it saw. */
  let server: http2.Http2Server;
  let backendAddress: string;
  let calls = 0;
  let proxy: Proxy;

  beforeAll(async () => {
    const { EVERY_METHOD, startProxy } = await import('../../cmd/processes.js');
    server = http2.createServer();
    server.on('stream', (stream, headers) => {
      calls++;
      stream.on('error', () => {});
      if (headers['x-reset-me'] !== undefined) {
        stream.close(http2.constants.NGHTTP2_PROTOCOL_ERROR);
        return;
      }
      stream.resume();
      stream.on('end', () =>
        setTimeout(() => {
          if (stream.destroyed) return;
          stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
          stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
          const seen = Object.keys(headers).filter((n) => n.startsWith('corral-') || n === 'accept-encoding' || n === 'grpc-previous-rpc-attempts');
          stream.end(encodeFrame(Buffer.from(JSON.stringify({ authority: headers[':authority'], userAgent: headers['user-agent'], seen }))));
        }, 150),
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    backendAddress = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    // A bare backend that answers any method and describes none: every method is a read.
    proxy = await startProxy({ ...EVERY_METHOD, BACKEND_ADDRESS: backendAddress, COLLAPSER_CACHE_DURATION: '0' });
  });

  afterAll(async () => {
    await proxy?.stop();
    await new Promise((resolve) => server?.close(resolve));
  });

  const ask = (headers: http2.OutgoingHttpHeaders) =>
    rawCall(proxy.address, { path: '/tenant.Api/Get', headers, chunks: [encodeFrame(Buffer.from('same question'))] });
  const answer = (r: { data: Buffer }) => JSON.parse(r.data.subarray(5).toString()) as { authority: string; userAgent: string; seen: string[] };

  it('never shares an answer between callers of different :authority, and sends a collapsed call with its own user-agent', async () => {
    calls = 0;
    const [a, b, a2] = await Promise.all([
      ask({ ':authority': 'tenant-a.example', 'user-agent': 'grpc-go/1.60' }),
      ask({ ':authority': 'tenant-b.example', 'user-agent': 'grpc-go/1.60' }),
      ask({ ':authority': 'tenant-a.example', 'user-agent': 'grpc-python/1.51' }),
    ]);
    expect(answer(a).authority).toBe('tenant-a.example');
    expect(answer(b).authority).toBe('tenant-b.example');
    // Same question, same authority, another library: one backend call, which carries neither caller's user-agent.
    expect(a2.data.equals(a.data)).toBe(true);
    expect(answer(a).userAgent).toBe('corral');
    expect(calls).toBe(2);
  });

  it("keeps what is not in the key from the backend: corral's own names, accept-encoding, grpc-previous-rpc-attempts", async () => {
    calls = 0;
    const [marked, plain] = await Promise.all([
      ask({ ':authority': 'strip.example', 'corral-fleet-hop': 'forged-peer', 'corral-anything': 'x', 'accept-encoding': 'gzip', 'grpc-previous-rpc-attempts': '3' }),
      ask({ ':authority': 'strip.example' }),
    ]);
    // One backend call for both, which saw none of the first caller's extras.
    expect(calls).toBe(1);
    expect(answer(marked).seen).toEqual([]);
    expect(plain.data.equals(marked.data)).toBe(true);
  });

  it('does not eject an endpoint for a stream the backend reset because of what the request carried', async () => {
    for (let i = 0; i < 3; i++) {
      const r = await ask({ 'x-reset-me': String(i) });
      expect(r.grpcStatus).toBe(13); // INTERNAL, from RST_STREAM(PROTOCOL_ERROR)
    }
    expect(await proxy.metric('corral_endpoint_ejections_total')).toBe(0);
    const ok = await ask({ ':authority': 'after.example' });
    expect(ok.grpcStatus).toBe(0);
  });

  it('takes the longest grpc-timeout a client may send (8 digits of hours) as a deadline, not as already passed', async () => {
    for (const timeout of ['99999999S', '99999999H', '2147484m']) {
      const r = await ask({ 'grpc-timeout': timeout, ':authority': `deadline-${timeout}` });
      expect(r.grpcStatus, timeout).toBe(0);
    }
  });
});
