/**
 * A client connection with several large answers queued (its reader is slow) must still
 * be able to start calls: node's per-session memory cap (maxSessionMemory, 10 MB by
 * default) would refuse them with RST_STREAM(ENHANCE_YOUR_CALM), failing calls that work
 * direct. grpc-js lifts that cap for the same reason.
 */
import http2 from 'node:http2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backend, Proxy } from '../../cmd/processes.js';
import { lookupRequest } from '../support/lookup-request.js';
import { rawCall } from '../support/raw.js';

let backend: Backend;
let proxy: Proxy;

beforeAll(async () => {
  const { startBackend, startProxy } = await import('../../cmd/processes.js');
  backend = await startBackend();
  proxy = await startProxy({ BACKEND_ADDRESS: backend.address, COLLAPSER_CACHE_DURATION: '60s' });
  await proxy.untilReady(); // Lookup is known to be a read: the calls below are cache hits
});

afterAll(async () => {
  await proxy?.stop();
  await backend?.stop();
});

interface Opened {
  stream: http2.ClientHttp2Stream;
  done: Promise<{ status: string | undefined; bytes: number; rstCode: number }>;
}

function open(session: http2.ClientHttp2Session, body: Buffer): Opened {
  const stream = session.request({ ':method': 'POST', ':path': '/corral.example.v1.Example/Lookup', 'content-type': 'application/grpc', te: 'trailers' });
  let status: string | undefined;
  let bytes = 0;
  stream.on('response', (h) => (status ??= h['grpc-status'] as string | undefined));
  stream.on('trailers', (t) => (status = t['grpc-status'] as string | undefined));
  stream.on('data', (d: Buffer) => (bytes += d.length));
  stream.on('error', () => {});
  const done = new Promise<{ status: string | undefined; bytes: number; rstCode: number }>((resolve) =>
    stream.on('close', () => resolve({ status, bytes, rstCode: stream.rstCode ?? 0 })),
  );
  stream.end(body);
  return { stream, done };
}

describe('a connection with large answers waiting to be read', () => {
  it('still starts new calls, and every answer arrives whole', async () => {
    const big = lookupRequest('session-memory', 3_000_000);
    const warm = await rawCall(proxy.address, { chunks: [big] });
    expect(warm.grpcStatus).toBe(0);

    const session = http2.connect(`http://${proxy.address}`);
    session.on('error', () => {});
    try {
      // Four cache hits of 3 MB each, not read yet: corral queues ~12 MB on this connection.
      const slow = [1, 2, 3, 4].map(() => open(session, big));
      for (const s of slow) s.stream.pause();
      await new Promise((r) => setTimeout(r, 300));
      const small = await open(session, lookupRequest('session-memory-small', 10)).done;
      expect(small).toMatchObject({ status: '0', rstCode: 0 });
      for (const s of slow) s.stream.resume();
      const results = await Promise.all(slow.map((s) => s.done));
      expect(results.map((r) => `${r.status}:${r.bytes}`)).toEqual(slow.map(() => `0:${warm.data.length}`));
    } finally {
      session.close();
    }
  });
});
