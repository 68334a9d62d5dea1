/**
 * A request ends complete at the backend only when its client half-closed it (END_STREAM)
 * while the call was still open. A stream whose reply has ended, that was reset (with any
 * code, NO_ERROR included) or whose deadline passed is cancelled at the backend, never
 * sent on as complete.
 *
 * grpc-go's client shows the case: when the server ends a stream the client still has
 * open (corral answering DEADLINE_EXCEEDED while the request has not half-closed), it
 * resets the stream with RST_STREAM(NO_ERROR). node:http2 then ends the request's
 * readable side without 'aborted', which looks like a half-close. The raw client below
 * does what grpc-go does: one message, no END_STREAM, and a bare RST_STREAM(NO_ERROR)
 * once the answer has arrived.
 */
import http2 from 'node:http2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Proxy } from '../../cmd/processes.js';
import { encodeFrame } from '../../src/wire/frame.js';
import { startHalfCloseBackend, type HalfCloseBackend } from '../support/half-close-backend.js';
import { startOrdersGateway, type OrdersGateway } from '../support/orders-gateway.js';
import { rawCall } from '../support/raw.js';

interface Unfinished {
  /** grpc-status of the answer, from its headers or trailers. */
  status: number | undefined;
}

/**
 * Sends `messages` and never half-closes; once the answer has ended (or after
 * `resetAfterMs`), resets the stream with a bare RST_STREAM(NO_ERROR), as grpc-go does.
 */
function unfinishedCall(address: string, path: string, messages: number, headers: http2.OutgoingHttpHeaders = {}, resetAfterMs?: number): Promise<Unfinished> {
  const session = http2.connect(`http://${address}`);
  session.on('error', () => {});
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers', ...headers });
    let status: number | undefined;
    // destroy() without an error: node sends RST_STREAM(NO_ERROR) and no END_STREAM first.
    const reset = () => {
      if (!stream.destroyed) stream.destroy();
    };
    stream.on('response', (h, flags: number) => {
      if (h['grpc-status'] !== undefined) status = Number(h['grpc-status']);
      if ((flags & http2.constants.NGHTTP2_FLAG_END_STREAM) !== 0) setImmediate(reset);
    });
    stream.on('trailers', (t) => {
      status = Number(t['grpc-status']);
      setImmediate(reset);
    });
    stream.on('data', () => {});
    stream.on('error', () => {});
    stream.on('close', () => {
      // Let the RST_STREAM go out before the connection closes.
      setTimeout(() => session.close(), 50);
      resolve({ status });
    });
    if (resetAfterMs !== undefined) setTimeout(reset, resetAfterMs);
    setTimeout(() => reject(new Error('unfinished call did not close within 10s')), 10_000).unref();
    for (let i = 0; i < messages; i++) stream.write(encodeFrame(Buffer.from(`part ${i}`)));
  });
}

const settle = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('a request the client never finished, over gRPC', () => {
  let backend: HalfCloseBackend;
  /** Waits a second for the half-close, so the deadline always passes while corral classifies the request. */
  let patient: Proxy;
  /** The default half-close wait (10ms): deadlines around it race classification, as the report measured. */
  let usual: Proxy;

  beforeAll(async () => {
    const { EVERY_METHOD, startProxy } = await import('../../cmd/processes.js');
    backend = await startHalfCloseBackend();
    // The backend answers any method and describes none: every method is a read.
    patient = await startProxy({ ...EVERY_METHOD, BACKEND_ADDRESS: backend.address, COLLAPSER_HALF_CLOSE_WAIT: '1s', COLLAPSER_CACHE_DURATION: '0' });
    usual = await startProxy({ ...EVERY_METHOD, BACKEND_ADDRESS: backend.address, COLLAPSER_CACHE_DURATION: '5s' });
  });

  afterAll(async () => {
    await patient?.stop();
    await usual?.stop();
    await backend?.close();
  });

  it('is never sent on when its deadline passes while corral waits for the half-close', async () => {
    backend.requests.length = 0;
    const r = await unfinishedCall(patient.address, '/half.Close/AtEnd', 1, { 'grpc-timeout': '20m' });
    expect(r.status).toBe(4); // DEADLINE_EXCEEDED
    await settle(200);
    expect(backend.requests).toEqual([]);
    // The same request, finished, reaches the backend complete: the check above can fail.
    const done = await rawCall(patient.address, { path: '/half.Close/AtEnd', chunks: [encodeFrame(Buffer.from('part 0'))] });
    expect(done.grpcStatus).toBe(0);
    expect(backend.requests.map((q) => q.endedBeforeAnswer)).toEqual([true]);
  });

  it('never reaches the backend complete, for deadlines on either side of the half-close wait', async () => {
    backend.requests.length = 0;
    const deadlines = [2, 4, 6, 8, 10, 12, 15, 20];
    const answers = await Promise.all(
      deadlines.flatMap((ms) => [0, 1, 2].map(() => unfinishedCall(usual.address, '/half.Close/AtEnd', 1, { 'grpc-timeout': `${ms}m` }))),
    );
    expect(answers.map((a) => a.status)).toEqual(answers.map(() => 4));
    await settle(300);
    expect(backend.completed).toBe(0);
    // Nothing was cached for the next caller either: its own finished call is answered by the backend.
    const done = await rawCall(usual.address, { path: '/half.Close/AtEnd', chunks: [encodeFrame(Buffer.from('part 0'))] });
    expect(done.grpcStatus).toBe(0);
    expect(backend.completed).toBe(1);
  });

  it('is cancelled at the backend when it was streaming and its deadline passed', async () => {
    backend.requests.length = 0;
    const r = await unfinishedCall(usual.address, '/half.Close/AtEnd', 2, { 'grpc-timeout': '200m' });
    expect(r.status).toBe(4);
    await settle(200);
    expect(backend.requests).toHaveLength(1);
    expect(backend.requests[0]).toMatchObject({ endedBeforeAnswer: false, endedAfterAnswer: false, reset: true, closed: true });
  });

  it('is cancelled at the backend, not half-closed, when the backend answered before the client finished', async () => {
    backend.requests.length = 0;
    const r = await unfinishedCall(usual.address, '/half.Close/Early', 2);
    expect(r.status).toBe(0);
    await settle(200);
    expect(backend.requests).toHaveLength(1);
    expect(backend.requests[0]).toMatchObject({ endedBeforeAnswer: false, endedAfterAnswer: false, reset: true, closed: true });
  });

  it('is cancelled at the backend when the client resets it with NO_ERROR mid-stream', async () => {
    backend.requests.length = 0;
    const r = await unfinishedCall(usual.address, '/half.Close/AtEnd', 2, {}, 100);
    expect(r.status).toBeUndefined();
    await settle(200);
    expect(backend.requests).toHaveLength(1);
    expect(backend.requests[0]).toMatchObject({ endedBeforeAnswer: false, endedAfterAnswer: false, reset: true, closed: true });
  });
});

describe('a request the client never finished, at the HTTP/JSON gateway', () => {
  let gateway: OrdersGateway;

  beforeAll(async () => {
    gateway = await startOrdersGateway(`  routes:
    - { name: create-order, path: /api/v1/orders, method: POST, service: orders, grpc_service: shop.v1.OrderService, grpc_method: CreateOrder, body: "*" }
`);
  });

  afterAll(() => gateway?.stop());

  it('does not call the backend for an h2c body reset with NO_ERROR before its END_STREAM', async () => {
    const body = JSON.stringify({ requestId: 'unfinished', order: { note: 'aGk=' } });
    const { orders, base } = gateway;
    const session = http2.connect(base);
    session.on('error', () => {});
    const stream = session.request({ ':method': 'POST', ':path': '/api/v1/orders', 'content-type': 'application/json' });
    stream.on('error', () => {});
    stream.write(body);
    await settle(100);
    stream.destroy(); // RST_STREAM(NO_ERROR), no END_STREAM
    await settle(300);
    session.close();
    expect(orders.calls.CreateOrder ?? 0).toBe(0);
    // The same body, finished, is a call: the check above can fail.
    const res = await fetch(`${base}/api/v1/orders`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(200);
    expect(orders.calls.CreateOrder).toBe(1);
  });
});
