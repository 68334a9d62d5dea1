/**
 * What bounds the gateway's connections, in-process against a real HttpGateway on
 * 127.0.0.1 with a stub route behind it: the connection limit, the wait for a new
 * connection's first bytes, and slow h2c readers that must not get a connection's other
 * requests refused.
 */
import http2 from 'node:http2';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { create, toBinary } from '@bufbuild/protobuf';
import { afterEach, describe, expect, it } from 'vitest';
import type { Call, CallControl, Downstream, Handler } from '../../src/call/call.js';
import type { Observer } from '../../src/call/observer.js';
import { Descriptors } from '../../src/http/descriptors.js';
import { CorsPolicy } from '../../src/http/cors.js';
import { HttpGateway, type GatewayOptions } from '../../src/http/gateway.js';
import { HttpRouteTable } from '../../src/http/http-routes.js';
import { createLogger } from '../../src/log/logger.js';
import { combineObservers } from '../../src/observe/observers.js';

const root = fileURLToPath(new URL('./protos', import.meta.url));
const descriptors = await Descriptors.load({ protoPaths: [root], protoFiles: [`${root}/shop/v1/orders.proto`], descriptorSet: undefined });
const getOrder = descriptors.method('shop.v1.OrderService', 'GetOrder');
const table = HttpRouteTable.build(
  [{ name: 'get', path: '/o/{id}', method: 'GET', cluster: 'c', grpcService: 'shop.v1.OrderService', grpcMethod: 'GetOrder', authRequired: false, timeoutMs: 5000, body: null, collapse: false, responseBody: null }],
  descriptors,
);

/** Answers GetOrder at once: an order whose note is 3 MB when the id is "big". */
const stub: Handler = {
  handle(call: Call, downstream: Downstream) {
    const id = JSON.stringify(call.metadata['x-path-id']).slice(1, -1);
    const message = toBinary(getOrder.output, create(getOrder.output, { id, note: id === 'big' ? new Uint8Array(3 << 20) : new Uint8Array() }));
    const frame = Buffer.alloc(5 + message.length);
    frame.writeUInt32BE(message.length, 1);
    frame.set(message, 5);
    const control: CallControl = { backend: null, abort() {}, pause() {}, resume() {} };
    downstream.onStart(control);
    downstream.onHeaders({ ':status': 200, 'content-type': 'application/grpc' }, false);
    downstream.onData(frame);
    downstream.onTrailers({ 'grpc-status': '0' });
  },
};

let gateway: HttpGateway | null = null;
afterEach(async () => {
  await gateway?.close();
  gateway = null;
});

async function start(options: Partial<GatewayOptions> = {}): Promise<number> {
  gateway = new HttpGateway(
    { table, registry: descriptors.registry, handlers: new Map([['get', stub]]), cors: new CorsPolicy(null), json: { useProtoNames: false, emitUnpopulated: false } },
    { host: '127.0.0.1', port: 0, maxBodyBytes: 1 << 20, maxConnections: 100, maxConcurrentStreams: 100, firstBytesTimeoutMs: 60_000, ...options },
    createLogger('silent'),
    combineObservers({} as Observer, {}),
  );
  return gateway.listen();
}

/** Resolves when the server closes the socket. */
const closed = (socket: net.Socket) => new Promise<void>((resolve) => socket.once('close', () => resolve()));
const connect = (port: number) => new Promise<net.Socket>((resolve) => { const s = net.connect(port, '127.0.0.1', () => resolve(s)); s.on('error', () => {}); });

describe('the gateway bounds its connections', () => {
  it('closes connections beyond MAX_CONNECTIONS, and serves the ones it holds', async () => {
    const port = await start({ maxConnections: 2 });
    const [a, b] = [await connect(port), await connect(port)];
    a.write('GET /o/1 HTTP/1.1\r\nHost: x\r\n');
    b.write('GET /o/2 HTTP/1.1\r\nHost: x\r\n');
    const third = await connect(port);
    await closed(third);
    let answer = '';
    a.on('data', (d: Buffer) => (answer += d.toString()));
    a.write('\r\n');
    await new Promise((r) => setTimeout(r, 200));
    expect(answer).toMatch(/^HTTP\/1\.1 200/);
    a.destroy();
    b.destroy();
  });

  it('closes when its last connection ended before close() was called (shutdown drains first)', async () => {
    const port = await start();
    const res = await fetch(`http://127.0.0.1:${port}/o/1`, { headers: { connection: 'close' } });
    expect(res.status).toBe(200);
    await res.text();
    gateway!.drain();
    await new Promise((r) => setTimeout(r, 100));
    const closing = gateway!.close();
    gateway = null;
    const outcome = await Promise.race([closing.then(() => 'closed'), new Promise((r) => setTimeout(() => r('still waiting'), 2000))]);
    expect(outcome).toBe('closed');
  });

  it('closes a connection that sends nothing within the first-bytes timeout', async () => {
    const port = await start({ firstBytesTimeoutMs: 200 });
    const silent = await connect(port);
    const t0 = performance.now();
    await closed(silent);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(150);
  });

  it('serves a new h2c request while the same connection holds large answers its client is not reading', async () => {
    const port = await start();
    const session = http2.connect(`http://127.0.0.1:${port}`);
    try {
      const unread = Array.from({ length: 4 }, () => {
        const req = session.request({ ':path': '/o/big' });
        req.pause();
        req.end();
        return req;
      });
      await new Promise((r) => setTimeout(r, 500));
      const small = await new Promise<{ status: number | undefined; rstCode: number; body: string }>((resolve) => {
        const req = session.request({ ':path': '/o/small' });
        let status: number | undefined;
        let body = '';
        req.on('response', (h) => (status = h[':status']));
        req.on('data', (d: Buffer) => (body += d.toString()));
        req.on('close', () => resolve({ status, rstCode: req.rstCode ?? 0, body }));
        req.on('error', () => {});
        req.end();
      });
      expect(small).toMatchObject({ status: 200, rstCode: 0 });
      expect(JSON.parse(small.body)).toEqual({ id: 'small' });
      for (const req of unread) req.close();
    } finally {
      session.destroy();
    }
  });
});
