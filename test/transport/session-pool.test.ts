/**
 * SessionPool against real node:http2 servers on 127.0.0.1: how many sessions it opens,
 * what it does when nothing answers, and requests a backend could not take.
 */
import http2, { type Http2Server, type ServerHttp2Stream } from 'node:http2';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log/logger.js';
import { SessionPool, type SessionPoolOptions } from '../../src/transport/session-pool.js';
import { UnforwardableRequest } from '../../src/transport/backend-exchange.js';
import { Status, type GrpcError } from '../../src/wire/status.js';
import { until } from '../support/until.js';

const logger = createLogger('silent');
const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

/** An h2c server that holds every stream open until the test ends, counting sessions. */
async function holdingServer(settings: http2.Settings = {}) {
  const server: Http2Server = http2.createServer({ settings });
  const held: ServerHttp2Stream[] = [];
  let sessions = 0;
  server.on('session', () => sessions++);
  server.on('stream', (stream) => held.push(stream));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  cleanups.push(() => {
    for (const s of held) s.close();
    server.close();
  });
  return { address: `127.0.0.1:${port}`, held, sessions: () => sessions };
}

function pool(address: string, options: Partial<SessionPoolOptions> = {}): SessionPool {
  const p = new SessionPool(
    {
      address,
      connectTimeoutMs: 1000,
      reconnectMinMs: 200,
      reconnectMaxMs: 1000,
      keepaliveTimeMs: 60_000,
      keepaliveTimeoutMs: 1000,
      maxSessions: 4,
      streamsPerSession: 2,
      ...options,
    },
    logger,
  );
  cleanups.unshift(() => p.destroy());
  return p;
}

const request = { ':method': 'POST', ':path': '/p.S/M', 'content-type': 'application/grpc', te: 'trailers' };

describe('SessionPool', () => {
  it('opens another session only when the open ones are full, up to maxSessions', async () => {
    const backend = await holdingServer();
    const p = pool(backend.address, { streamsPerSession: 2, maxSessions: 2 });
    for (let i = 0; i < 5; i++) p.request(request).end();
    await until('backend.held.length === 5', () => backend.held.length === 5);
    expect(p.sessionCount).toBe(2);
    expect(backend.sessions()).toBe(2);
    expect(p.activeStreams).toBe(5); // the fifth waits in nghttp2 on the least busy session
  });

  it("counts a session full at the backend's own stream limit when it is lower", async () => {
    const backend = await holdingServer({ maxConcurrentStreams: 1 });
    const p = pool(backend.address, { streamsPerSession: 10, maxSessions: 3 });
    p.start();
    await until('p.ready', () => p.ready);
    for (let i = 0; i < 3; i++) p.request(request).end();
    await until('backend.held.length === 3', () => backend.held.length === 3);
    expect(backend.sessions()).toBe(3);
  });

  it('fails fast with UNAVAILABLE naming the backend while nothing answers, without a dial per call', async () => {
    const closed = net.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const address = `127.0.0.1:${(closed.address() as net.AddressInfo).port}`;
    await new Promise((resolve) => closed.close(resolve));
    const p = pool(address, { reconnectMinMs: 60_000, reconnectMaxMs: 60_000 });
    p.start();
    await until('the pool has failed to connect', () => p.lastFailure !== '');
    let error: GrpcError | null = null;
    try {
      p.request(request);
    } catch (err) {
      error = err as GrpcError;
    }
    expect(error?.code).toBe(Status.UNAVAILABLE);
    expect(error?.message).toContain(`backend ${address} unreachable (`);
    expect(error?.message).toMatch(/ECONNREFUSED/);
    expect(p.sessionCount).toBe(0); // backing off: no new dial for this call
  });

  it("refuses metadata larger than the backend's SETTINGS_MAX_HEADER_LIST_SIZE, as a request no endpoint could take", async () => {
    const backend = await holdingServer({ maxHeaderListSize: 1024 });
    const p = pool(backend.address);
    p.start();
    await until('p.ready', () => p.ready);
    let error: unknown = null;
    try {
      p.request({ ...request, 'x-big': 'x'.repeat(2000) });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(UnforwardableRequest);
    expect((error as GrpcError).code).toBe(Status.RESOURCE_EXHAUSTED);
    expect((error as GrpcError).message).toMatch(/accepts at most 1024/);
  });

  it('recycles its sessions after a failure: the next call gets a fresh connection, the open call finishes on the old one', async () => {
    const backend = await holdingServer();
    const p = pool(backend.address);
    p.request(request).end();
    await until('backend.held.length === 1', () => backend.held.length === 1);
    p.recycle();
    p.request(request).end();
    await until('backend.held.length === 2', () => backend.held.length === 2);
    expect(backend.sessions()).toBe(2);
    expect(backend.held[0]!.destroyed).toBe(false);
  });
});
