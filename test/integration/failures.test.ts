/**
 * Failures and bad input: each gets a clear gRPC status, corral stays up, and nothing
 * is left behind (calls and flights in progress return to zero).
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, proxyExit, startBackend, startProxy, type Backend, type Proxy } from '../../cmd/processes.js';
import { encodeFrame } from '../../src/wire/frame.js';
import { backendStats, client, release, unary, until, type Client, type Stack, grpc, startStack } from '../support/grpc.js';
import { rawCall } from '../support/raw.js';

let backend: Backend;
let proxy: Proxy;
let c: Client;
let stack: Stack;

beforeAll(async () => {
  stack = await startStack();
  ({ backend, proxy, client: c } = stack);
});

afterAll(() => stack?.stop());

async function expectStillServing(): Promise<void> {
  const r = await unary(c, 'Lookup', { key: `alive-${Math.random()}` });
  expect(r.error).toBeNull();
  await until('no calls or flights are left open', async () =>
    (await proxy.metric('corral_calls_in_progress')) === 0 && (await proxy.metric('corral_flights_in_progress')) === 0,
  );
}

describe('bad input', () => {
  it('a message over MAX_MESSAGE_BYTES gets RESOURCE_EXHAUSTED and never reaches the backend', async () => {
    const before = (await backendStats(backend.address)).calls.Lookup ?? 0;
    const r = await unary(c, 'Lookup', { key: 'x'.repeat(5 * 1024 * 1024) });
    expect(r.error?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(r.error?.details).toMatch(/exceeds the limit of 4194304 bytes \(MAX_MESSAGE_BYTES\)/);
    expect((await backendStats(backend.address)).calls.Lookup ?? 0).toBe(before);
    await expectStillServing();
  });

  it('a request that is not gRPC gets the HTTP status the gRPC spec asks for', async () => {
    const wrongType = await rawCall(proxy.address, { headers: { 'content-type': 'application/json' }, chunks: [Buffer.from('{}')] });
    expect(wrongType.headers[':status']).toBe(415);
    expect(wrongType.grpcMessage).toMatch(/unsupported content-type 'application\/json'/);
    const get = await rawCall(proxy.address, { method: 'GET' });
    expect(get.headers[':status']).toBe(405);
    await expectStillServing();
  });

  it('a malformed method name gets UNIMPLEMENTED', async () => {
    const r = await rawCall(proxy.address, { path: '/no-method', chunks: [encodeFrame(Buffer.alloc(0))] });
    expect(r.grpcStatus).toBe(grpc.status.UNIMPLEMENTED);
    expect(r.grpcMessage).toMatch(/malformed method name/);
  });

  it('malformed frames get INTERNAL with a message saying what is wrong', async () => {
    const badFlag = await rawCall(proxy.address, { chunks: [Buffer.from([7, 0, 0, 0, 1, 0])] });
    expect(badFlag.grpcStatus).toBe(grpc.status.INTERNAL);
    expect(badFlag.grpcMessage).toMatch(/compressed-flag byte is 7/);
    const truncated = await rawCall(proxy.address, { chunks: [Buffer.from([0, 0, 0, 0, 10, 1, 2])] });
    expect(truncated.grpcStatus).toBe(grpc.status.INTERNAL);
    expect(truncated.grpcMessage).toMatch(/ended inside a message after 7 bytes/);
    const compressed = await rawCall(proxy.address, { chunks: [encodeFrame(Buffer.from('x'), true)] });
    expect(compressed.grpcMessage).toMatch(/no grpc-encoding/);
    const timeout = await rawCall(proxy.address, { headers: { 'grpc-timeout': 'soon' }, chunks: [encodeFrame(Buffer.alloc(0))] });
    expect(timeout.grpcStatus).toBe(grpc.status.INTERNAL);
    expect(timeout.grpcMessage).toMatch(/malformed grpc-timeout header 'soon'/);
    await expectStillServing();
  });

  it('bytes that are not HTTP/2 at all close that connection only', async () => {
    const socket = net.connect(proxy.grpcPort, '127.0.0.1');
    socket.on('error', () => {});
    socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n' + '\u0000\u00ff'.repeat(100));
    socket.resume(); // read, so the socket sees corral close it
    await new Promise((resolve) => socket.on('close', resolve));
    await expectStillServing();
  });
});

describe('backend failures', () => {
  it('a backend that cannot be reached gives UNAVAILABLE naming it, and /ready says so', async () => {
    const free = await freePort();
    const lonely = await startProxy({ BACKEND_ADDRESS: `127.0.0.1:${free}` });
    const lc = client(lonely.address);
    try {
      const r = await unary(lc, 'Lookup', { key: 'nobody' });
      expect(r.error?.code).toBe(grpc.status.UNAVAILABLE);
      expect(r.error?.details).toMatch(new RegExp(`backend 127.0.0.1:${free} (unreachable|unavailable)`));
      const ready = await lonely.admin('/ready');
      expect(ready.status).toBe(503);
      expect(ready.body).toMatch(/not connected/);
      expect((await lonely.admin('/health')).status).toBe(200);

      // The backend comes up on that port: corral reconnects by itself.
      const late = await startBackend({ port: free });
      try {
        await until('corral is ready', async () => (await lonely.admin('/ready')).status === 200);
        const ok = await unary(lc, 'Lookup', { key: 'somebody' });
        expect(ok.error).toBeNull();
      } finally {
        await late.stop();
      }
    } finally {
      lc.close();
      await lonely.stop();
    }
  });

  it('an ejected endpoint that answers again is shown serving at once, not for the rest of its ejection', async () => {
    const port = await freePort();
    let own = await startBackend({ port });
    const p = await startProxy({ BACKEND_ADDRESS: own.address, EJECTION_BASE_TIME: '5m' });
    await p.untilReady();
    const pc = client(p.address);
    const endpointState = async () => JSON.parse((await p.admin('/clusters')).body).clusters[0].endpoints[0].state as string;
    try {
      await own.stop();
      await until('the endpoint is ejected', async () => {
        await unary(pc, 'Lookup', { key: `down-${Math.random()}` });
        return (await p.metric('corral_endpoints_ejected')) === 1;
      });
      expect(await endpointState()).toBe('ejected');
      own = await startBackend({ port });
      // The only endpoint is out, so it is still tried (panic mode); once it answers, it is back.
      await until('the backend answers through corral', async () => (await unary(pc, 'Lookup', { key: `up-${Math.random()}` })).error === null);
      expect([await endpointState(), await p.metric('corral_endpoints_ejected'), await p.metric(`corral_endpoint_ejected{endpoint="${own.address}"}`)]).toEqual(['serving', 0, 0]);
    } finally {
      pc.close();
      await p.stop();
      await own.stop();
    }
  });

  it('a backend slower than BACKEND_TIMEOUT gives every waiter DEADLINE_EXCEEDED naming it', async () => {
    const impatient = await startProxy({ BACKEND_ADDRESS: backend.address, BACKEND_TIMEOUT: '300ms' });
    await impatient.untilReady();
    const ic = client(impatient.address);
    try {
      const calls = Array.from({ length: 3 }, () => unary(ic, 'Lookup', { key: 'too-slow', delayMs: 5000 }));
      for (const r of await Promise.all(calls)) {
        expect(r.error?.code).toBe(grpc.status.DEADLINE_EXCEEDED);
        expect(r.error?.details).toMatch(/BACKEND_TIMEOUT \(300ms\)/);
      }
      expect(await impatient.metric('corral_flights_in_progress')).toBe(0);
    } finally {
      ic.close();
      await impatient.stop();
    }
  });

  it('opens another backend session when the backend stream limit is reached', async () => {
    const narrow = await startBackend({ maxStreams: 5 });
    const np = await startProxy({ BACKEND_ADDRESS: narrow.address });
    const nc = client(np.address);
    try {
      const calls = Array.from({ length: 20 }, (_, i) => unary(nc, 'Lookup', { key: `limit-${i}`, gate: 'limit' }));
      await until('20 calls reach the backend', async () => (await backendStats(narrow.address)).calls.Lookup === 20);
      expect(await np.metric('corral_upstream_sessions')).toBeGreaterThanOrEqual(4);
      await release(narrow.address, 'limit');
      for (const r of await Promise.all(calls)) expect(r.error).toBeNull();
      expect((await backendStats(narrow.address)).peers).toBeGreaterThanOrEqual(4);
    } finally {
      nc.close();
      await np.stop();
      await narrow.stop();
    }
  });
});

describe('shutdown', () => {
  it('SIGTERM stops new connections and lets calls in flight finish, then exits 0', async () => {
    const p = await startProxy({ BACKEND_ADDRESS: backend.address });
    await p.untilReady();
    const pc = client(p.address);
    try {
      const inFlight = unary(pc, 'Lookup', { key: 'drain', gate: 'drain' });
      await until('the call is in flight', async () => (await p.metric('corral_flights_in_progress')) === 1);
      p.child.kill('SIGTERM');
      await until('corral stops listening', () =>
        new Promise<boolean>((resolve) => {
          const s = net.connect(p.grpcPort, '127.0.0.1');
          s.on('connect', () => (s.destroy(), resolve(false)));
          s.on('error', () => resolve(true));
        }),
      );
      await release(backend.address, 'drain');
      const r = await inFlight;
      expect(r.error).toBeNull();
      expect(r.reply.key).toBe('drain');
      expect(await p.exited).toBe(0);
    } finally {
      pc.close();
      await p.stop();
    }
  });
});

describe('configuration', () => {
  it('a bad variable stops start-up with a message naming it and its value', async () => {
    const { code, stderr } = await proxyExit({ BACKEND_ADDRESS: '127.0.0.1:1', BACKEND_TIMEOUT: 'ten seconds' });
    expect(code).toBe(2);
    expect(stderr).toMatch(/BACKEND_TIMEOUT='ten seconds': expected a duration/);
  });
});
