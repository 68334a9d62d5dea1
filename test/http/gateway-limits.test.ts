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
import { Overload } from '../../src/server/overload.js';
import { GrpcError, Status } from '../../src/wire/status.js';
import { until } from '../support/until.js';

const root = fileURLToPath(new URL('./protos', import.meta.url));
const descriptors = await Descriptors.load({ protoPaths: [root], protoFiles: [`${root}/shop/v1/orders.proto`], descriptorSet: undefined });
const getOrder = descriptors.method('shop.v1.OrderService', 'GetOrder');
const table = HttpRouteTable.build(
  [{ name: 'get', path: '/o/{id}', method: 'GET', cluster: 'c', grpcService: 'shop.v1.OrderService', grpcMethod: 'GetOrder', authRequired: false, timeoutMs: 5000, body: null, collapse: false, responseBody: null }],
  descriptors,
);

/** Calls to /o/hold, held open until the test answers them. */
const held: Downstream[] = [];

/** Answers GetOrder at once (an order whose note is 3 MB when the id is "big"), except /o/hold. */
const stub: Handler = {
  handle(call: Call, downstream: Downstream) {
    const id = JSON.stringify(call.metadata['x-path-id']).slice(1, -1);
    if (id === 'hold') {
      downstream.onStart({ backend: null, abort() {}, pause() {}, resume() {} });
      held.push(downstream);
      return;
    }
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
  for (const d of held.splice(0)) d.onError(new GrpcError(Status.CANCELLED, 'test over'));
  await gateway?.close();
  gateway = null;
});

async function start(options: Partial<GatewayOptions> = {}, overload = new Overload({ maxOpenCalls: 1000, maxRequestBytes: 1 << 20 })): Promise<number> {
  gateway = new HttpGateway(
    { table, registry: descriptors.registry, handlers: new Map([['get', stub]]), cors: new CorsPolicy(null), json: { useProtoNames: false, emitUnpopulated: false } },
    {
      host: '127.0.0.1',
      port: 0,
      maxBodyBytes: 1 << 20,
      maxConnections: 100,
      maxConnectionsPerPeer: 0,
      idleTimeoutMs: 0,
      maxConcurrentStreams: 100,
      firstBytesTimeoutMs: 60_000,
      ...options,
    },
    createLogger('silent'),
    combineObservers({} as Observer, {}),
    overload,
  );
  return gateway.listen();
}

/** An HTTP/1.1 GET on its own connection; resolves with the socket once the request is sent. */
async function h1Get(port: number, path: string): Promise<{ socket: net.Socket; answer: () => string }> {
  const socket = await connect(port);
  let answer = '';
  socket.on('data', (d: Buffer) => (answer += d.toString()));
  socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
  return { socket, answer: () => answer };
}

/** Resolves when the server closes the socket. */
const closed = (socket: net.Socket) => new Promise<void>((resolve) => socket.once('close', () => resolve()));
const connect = (port: number) => new Promise<net.Socket>((resolve) => { const s = net.connect(port, '127.0.0.1', () => resolve(s)); s.on('error', () => {}); });

describe('the gateway bounds its connections', () => {
  it('at MAX_CONNECTIONS, closes the connection idle the longest to let a new one in; refuses it only when all carry a call', async () => {
    const port = await start({ maxConnections: 3 });
    const busy = await h1Get(port, '/o/hold');
    await until('the call is held', () => held.length === 1);
    // Idle in the order they came: the first has been idle the longest.
    const oldIdle = await connect(port);
    const newIdle = await connect(port);
    // A fourth: the connection idle the longest goes, the busy one and the newer idle one stay.
    const fourth = await h1Get(port, '/o/1');
    await closed(oldIdle);
    await until('the fourth connection is answered', () => fourth.answer().startsWith('HTTP/1.1 200'));
    expect(newIdle.destroyed).toBe(false);
    expect(busy.socket.destroyed).toBe(false);
    expect(gateway!.connections.closed.evicted).toBe(1);
    // Every connection carries a call: a new one is refused, and the calls go on.
    const calls = await Promise.all([h1Get(port, '/o/hold'), h1Get(port, '/o/hold')]);
    await until('three calls are held', () => held.length === 3);
    const refused = await connect(port);
    await closed(refused);
    expect(gateway!.connections.closed.refused).toBe(1);
    held[0]!.onHeaders({ ':status': 200, 'content-type': 'application/grpc' }, false);
    held[0]!.onData(Buffer.from([0, 0, 0, 0, 0]));
    held[0]!.onTrailers({ 'grpc-status': '0' });
    await until('the held call is answered', () => busy.answer().startsWith('HTTP/1.1 200'));
    for (const c of [busy, fourth, ...calls]) c.socket.destroy();
    newIdle.destroy();
  });

  it('closes a connection with no call open for CLIENT_IDLE_TIMEOUT, never one that carries a call', async () => {
    const port = await start({ idleTimeoutMs: 150 });
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.on('error', () => {});
    const goaway = new Promise<number>((resolve) => session.once('goaway', (code) => resolve(code)));
    const busy = await h1Get(port, '/o/hold');
    await until('the call is held', () => held.length === 1);
    const t0 = performance.now();
    expect(await goaway).toBe(http2.constants.NGHTTP2_NO_ERROR);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(100);
    // A connection opened after the busy one times out too: sweeps ran past the busy one's time, and left it.
    const later = await connect(port);
    await closed(later);
    expect(busy.socket.destroyed).toBe(false);
    expect(gateway!.connections.closed.idle_timeout).toBeGreaterThanOrEqual(1);
    busy.socket.destroy();
    session.destroy();
  });

  it('refuses a connection past MAX_CONNECTIONS_PER_PEER', async () => {
    const port = await start({ maxConnectionsPerPeer: 2 });
    const calls = [await h1Get(port, '/o/hold'), await h1Get(port, '/o/hold')];
    await until('both calls are held', () => held.length === 2);
    const third = await connect(port);
    await closed(third);
    expect(gateway!.connections.closed.refused).toBe(1);
    for (const c of calls) c.socket.destroy();
  });

  it('refuses calls past MAX_OPEN_CALLS: 503 with Retry-After over HTTP/1.1, REFUSED_STREAM over h2c; takes them again once calls end', async () => {
    const overload = new Overload({ maxOpenCalls: 1, maxRequestBytes: 1 << 20 });
    const port = await start({}, overload);
    const holding = await h1Get(port, '/o/hold');
    await until('the call is held', () => held.length === 1);
    const res = await fetch(`http://127.0.0.1:${port}/o/1`);
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
    expect((await res.json()).message).toMatch(/refuses new calls/);
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.on('error', () => {});
    const rst = await new Promise<number>((resolve) => {
      const req = session.request({ ':path': '/o/2' });
      req.on('error', () => {});
      req.on('close', () => resolve(req.rstCode ?? 0));
      req.end();
    });
    expect(rst).toBe(http2.constants.NGHTTP2_REFUSED_STREAM);
    expect(overload.refused.open_calls).toBe(2);
    holding.socket.destroy();
    await until('the held call ended', () => overload.openCalls === 0);
    expect((await fetch(`http://127.0.0.1:${port}/o/3`)).status).toBe(200);
    session.destroy();
  });

  it('closes when its last connection ended before close() was called (shutdown drains first)', async () => {
    const port = await start();
    const res = await fetch(`http://127.0.0.1:${port}/o/1`, { headers: { connection: 'close' } });
    expect(res.status).toBe(200);
    await res.text();
    gateway!.drain();
    await until('the connection has gone', () => gateway!.connections.size === 0);
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
      // Their answers have started and wait, unread, on the connection.
      await Promise.all(unread.map((req) => new Promise((resolve) => req.once('response', resolve))));
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
