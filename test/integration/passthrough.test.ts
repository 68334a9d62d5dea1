/** What corral passes through unchanged: metadata, streaming calls, deadlines and cancellation. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backend, Proxy } from '../../cmd/processes.js';
import { encodeFrame } from '../../src/wire/frame.js';
import { backendStats, collect, metadata, unary, until, type Client, type Stack, grpc, startStack } from '../support/grpc.js';
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

describe('metadata', () => {
  it('reaches the backend, and response headers and trailers come back, -bin values unchanged', async () => {
    const binary = Buffer.from([0, 1, 2, 250, 255]);
    const r = await unary(
      c,
      'Lookup',
      { key: 'md' },
      metadata({ authorization: 'Bearer t', 'x-echo-text': 'hello', 'x-echo-data-bin': binary }),
    );
    expect(r.error).toBeNull();
    expect(r.reply.metadata.authorization).toBe('Bearer t');
    expect(r.reply.metadata['x-echo-text']).toBe('hello');
    expect(r.headers?.get('x-backend')).toEqual(['example']);
    expect(r.headers?.get('x-echo-text')).toEqual(['hello']);
    expect(r.headers?.get('x-echo-data-bin')).toEqual([binary]);
    expect(r.trailers?.get('x-echo-data-bin')).toEqual([binary]);
    expect(r.trailers?.get('x-call-number')).toHaveLength(1);
  });
});

describe('compression', () => {
  it('passes compressed messages through untouched, collapsed or streamed', async () => {
    const { client: makeClient } = await import('../support/grpc.js');
    const gz = makeClient(proxy.address, { 'grpc.default_compression_algorithm': 2 /* gzip */ });
    try {
      const r = await unary(gz, 'Lookup', { key: 'zipped'.repeat(50) });
      expect(r.error).toBeNull();
      expect(r.reply.key).toBe('zipped'.repeat(50));
      const chat = gz.Chat();
      const echo = await new Promise<string>((resolve, reject) => {
        chat.on('data', (m: { text: string }) => resolve(m.text));
        chat.on('error', reject);
        chat.write({ text: 'squeezed'.repeat(50) });
      });
      chat.end();
      expect(echo).toBe(`echo: ${'squeezed'.repeat(50)}`);
    } finally {
      gz.close();
    }
  });

  it('forwards a gzip-compressed frame byte for byte, and asks a flight for an uncompressed answer', async () => {
    const { gzipSync } = await import('node:zlib');
    const key = 'raw-gzip';
    const message = Buffer.from([0x0a, key.length, ...Buffer.from(key)]); // LookupRequest{key}
    const r = await rawCall(proxy.address, {
      headers: { 'grpc-encoding': 'gzip', 'grpc-accept-encoding': 'gzip,identity' },
      chunks: [encodeFrame(gzipSync(message), true)],
    });
    expect(r.grpcStatus).toBe(grpc.status.OK);
    expect(r.headers['grpc-encoding'] ?? 'identity').toBe('identity');
    expect(r.data[0]).toBe(0); // the reply frame is not compressed
    expect(r.data.subarray(5).includes(Buffer.from(key))).toBe(true);
  });
});

describe('streaming calls', () => {
  it('server streaming delivers every message and the trailers', async () => {
    const s = c.Watch({ topic: 'server-stream', count: 4 }, metadata({ 'x-echo-w': 'w' }));
    const { messages, error, trailers } = await collect<{ sequence: number }>(s);
    expect(error).toBeNull();
    expect(messages.map((m) => m.sequence)).toEqual([1, 2, 3, 4]);
    expect(trailers?.get('x-echo-w')).toEqual(['w']);
  });

  it('client streaming is passed through as a stream, not buffered as one message', async () => {
    const bypass = await proxy.metric('corral_requests_total{outcome="bypass"}');
    const summary = await new Promise<{ chunks: number; bytes: number }>((resolve, reject) => {
      const up = c.Upload((err: Error | null, reply: { chunks: number; bytes: number }) => (err ? reject(err) : resolve(reply)));
      up.write({ data: Buffer.alloc(100) });
      up.write({ data: Buffer.alloc(200) });
      setTimeout(() => {
        up.write({ data: Buffer.alloc(300) });
        up.end();
      }, 50);
    });
    expect(summary).toEqual({ chunks: 3, bytes: 600 });
    expect(await proxy.metric('corral_requests_total{outcome="bypass"}')).toBe(bypass + 1);
  });

  it('bidi streaming flows both ways as the client sends, without waiting for it to finish', async () => {
    const chat = c.Chat();
    const replies: string[] = [];
    // Each message is sent only after the echo of the one before: impossible if corral buffered the request.
    await new Promise<void>((resolve, reject) => {
      chat.on('data', (m: { text: string }) => {
        replies.push(m.text);
        if (replies.length < 3) chat.write({ text: `m${replies.length}` });
        else chat.end();
      });
      chat.on('error', reject);
      chat.on('end', resolve);
      chat.write({ text: 'm0' });
    });
    expect(replies).toEqual(['echo: m0', 'echo: m1', 'echo: m2']);
  });

  it('a client that resets a stream resets the backend stream too', async () => {
    const before = (await backendStats(backend.address)).cancelled;
    const controller = new AbortController();
    const message = encodeFrame(Buffer.from([0x0a, 0x02, 0x68, 0x69])); // text: "hi"
    const done = rawCall(proxy.address, {
      path: '/corral.example.v1.Example/Chat',
      chunks: [message],
      keepOpen: true,
      signal: controller.signal,
      onData: () => controller.abort(),
    });
    expect((await done).rstCode).toBe(8);
    await until('the backend sees the cancellation', async () => (await backendStats(backend.address)).cancelled > before);
    expect(await proxy.metric('corral_calls_in_progress')).toBe(0);
  });
});

describe('deadlines', () => {
  it('a client deadline ends the call with DEADLINE_EXCEEDED', async () => {
    const r = await unary(c, 'Lookup', { key: 'slow', delayMs: 3000 }, undefined, { deadline: Date.now() + 200 });
    expect(r.error?.code).toBe(grpc.status.DEADLINE_EXCEEDED);
  });

  it('corral itself enforces grpc-timeout, even for a client that does not', async () => {
    const body = encodeFrame(Buffer.from([0x0a, 0x05, ...Buffer.from('slow2'), 0x10, 0xb8, 0x17])); // key=slow2, delay_ms=3000
    const started = Date.now();
    const r = await rawCall(proxy.address, { headers: { 'grpc-timeout': '200m' }, chunks: [body] });
    expect(r.grpcStatus).toBe(grpc.status.DEADLINE_EXCEEDED);
    expect(r.grpcMessage).toMatch(/grpc-timeout of 200ms/);
    expect(Date.now() - started).toBeLessThan(3000);
  });
});
