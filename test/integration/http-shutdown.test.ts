/**
 * Stopping corral with the gateway in use: a SIGTERM lets the HTTP calls under way finish,
 * tells idle clients to go (GOAWAY on h2c, Connection: close on HTTP/1.1), and exits
 * without waiting for clients that keep their connections open.
 */
import http2 from 'node:http2';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { startOrdersBackend, type OrdersBackend } from '../http/orders-backend.js';
import { until } from '../support/until.js';

let backend: OrdersBackend | null = null;
afterAll(async () => {
  await backend?.close();
});

describe('shutdown with the gateway in use', () => {
  it('finishes the HTTP call under way and exits, though an h2c client keeps its connection open', async () => {
    const { startProxy } = await import('../../cmd/processes.js');
    backend = await startOrdersBackend();
    const protos = fileURLToPath(new URL('../http/protos', import.meta.url));
    const config = join(mkdtempSync(join(tmpdir(), 'corral-gateway-stop-')), 'gateway.yaml');
    writeFileSync(
      config,
      `clusters: { orders: { type: static, address: "${backend.address}" } }
http:
  proto_files: [${protos}/shop/v1/orders.proto]
  proto_paths: [${protos}]
  routes:
    - { name: get-order, path: "/api/v1/orders/{id}", method: GET, service: orders, grpc_service: shop.v1.OrderService, grpc_method: GetOrder }
`,
    );
    const proxy = await startProxy({ CONFIG_PATH: config, HTTP_PORT: '0', SHUTDOWN_GRACE: '20s' });
    const base = `http://127.0.0.1:${proxy.ready.httpPort as number}`;
    // An h2c client that made one call and keeps its connection.
    const session = http2.connect(base);
    const goaway = new Promise<void>((resolve) => session.once('goaway', () => resolve()));
    session.on('error', () => {});
    await new Promise<void>((resolve) => session.request({ ':path': '/api/v1/orders/first' }).on('close', () => resolve()).resume().end());
    const slow = fetch(`${base}/api/v1/orders/slow-stop`);
    await until('the slow call is under way', async () => (await proxy.metric('corral_calls_in_progress')) === 1);
    const t0 = performance.now();
    proxy.child.kill('SIGTERM');
    const res = await slow;
    expect(res.status).toBe(200);
    expect(res.headers.get('connection')).toBe('close');
    expect(await res.json()).toMatchObject({ id: 'slow-stop' });
    await goaway;
    expect(await proxy.exited).toBe(0);
    // Well inside the 20 s grace: nothing waits for the idle h2c connection.
    expect(performance.now() - t0).toBeLessThan(5000);
    session.destroy();
  });
});
