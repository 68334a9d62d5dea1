/**
 * The interop cases gRPC's own implementations run against each other (large_unary,
 * client_streaming, ... unimplemented_method), with a grpc-js client and a grpc-js
 * backend, direct and through corral, twenty copies of every case at once.
 *
 * By design, corral collapses unary and server-streaming calls: identical requests from
 * the twenty copies may share one backend call, and a cancelled collapsed call is not
 * cancelled at the backend. Streams from the client are passed through, so their cancels
 * reach the backend: cancel_after_begin and cancel_after_first_response check that.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Proxy } from '../../cmd/processes.js';
import { grpc } from '../support/grpc.js';
import { testClient, type TestClient } from '../support/interop-service.js';
import { startGrpcJsInteropServer, type InteropServer } from './grpc-js-service.js';

const COPIES = 20;
let server: InteropServer;
let proxy: Proxy;

beforeAll(async () => {
  const { startProxy } = await import('../../cmd/processes.js');
  server = await startGrpcJsInteropServer();
  proxy = await startProxy({ BACKEND_ADDRESS: server.address });
});

afterAll(async () => {
  await proxy?.stop();
  await server?.close();
});

type Msg = { payload: { body: Buffer } | null };
const payload = (size: number) => ({ body: Buffer.alloc(size) });
const sizes = (messages: Msg[]) => messages.map((m) => m.payload?.body.length ?? 0);
const tagged = (name: string, md = new grpc.Metadata()) => (md.set('x-case', name), md);

function unary(c: TestClient, method: string, request: object, md: grpc.Metadata, options: grpc.CallOptions = {}) {
  return new Promise<{ err: grpc.ServiceError | null; reply: any; initial: grpc.Metadata | null; trailing: grpc.Metadata | null }>((resolve) => {
    let initial: grpc.Metadata | null = null;
    let reply: any = null;
    let err: grpc.ServiceError | null = null;
    const call = c[method](request, md, options, (e: grpc.ServiceError | null, r: any) => ((err = e), (reply = r)));
    call.on('metadata', (m: grpc.Metadata) => (initial = m));
    call.on('status', (s: grpc.StatusObject) => setImmediate(() => resolve({ err, reply, initial, trailing: s.metadata })));
  });
}

/** Reads a response stream to its end: messages, and the error if it failed. */
function drain(stream: grpc.ClientReadableStream<Msg> | grpc.ClientDuplexStream<unknown, Msg>) {
  return new Promise<{ messages: Msg[]; err: grpc.ServiceError | null; initial: grpc.Metadata | null; trailing: grpc.Metadata | null }>((resolve) => {
    const messages: Msg[] = [];
    let err: grpc.ServiceError | null = null;
    let initial: grpc.Metadata | null = null;
    stream.on('metadata', (m: grpc.Metadata) => (initial = m));
    stream.on('data', (m: Msg) => messages.push(m));
    stream.on('error', (e: grpc.ServiceError) => (err = e));
    stream.on('status', (s: grpc.StatusObject) => setImmediate(() => resolve({ messages, err, initial, trailing: s.metadata })));
  });
}

const SPECIAL_MESSAGE = '\t\ntest with whitespace\r\nand Unicode BMP ☺ and non-BMP 😈\t\n';
const TRAILING_BIN = Buffer.from([0xab, 0xab, 0xab]);

/** Each case makes its calls and returns what it saw; a thrown error is a failed case. */
const CASES: Record<string, (c: TestClient) => Promise<unknown>> = {
  async large_unary(c) {
    const r = await unary(c, 'UnaryCall', { response_size: 314159, payload: payload(271828) }, tagged('large_unary'));
    expect(r.err).toBeNull();
    return r.reply.payload.body.length;
  },
  async client_streaming(c) {
    const done = new Promise<any>((resolve, reject) => {
      const call = c.StreamingInputCall(tagged('client_streaming'), (e: Error | null, r: any) => (e ? reject(e) : resolve(r)));
      for (const n of [27182, 8, 1828, 45904]) call.write({ payload: payload(n) });
      call.end();
    });
    const reply = await done;
    expect(reply.aggregated_payload_size).toBe(74922);
    return reply.aggregated_payload_size;
  },
  async server_streaming(c) {
    const r = await drain(c.StreamingOutputCall({ response_parameters: [31415, 9, 2653, 58979].map((size) => ({ size })) }, tagged('server_streaming')));
    expect(r.err).toBeNull();
    expect(sizes(r.messages)).toEqual([31415, 9, 2653, 58979]);
    return sizes(r.messages);
  },
  async ping_pong(c) {
    const call = c.FullDuplexCall(tagged('ping_pong'));
    const pongs: number[] = [];
    const requests = [27182, 8, 1828, 45904];
    const responses = [31415, 9, 2653, 58979];
    const finished = drain(call);
    await new Promise<void>((resolve, reject) => {
      call.on('data', (m: Msg) => {
        pongs.push(m.payload!.body.length);
        if (pongs.length < requests.length) call.write({ response_parameters: [{ size: responses[pongs.length] }], payload: payload(requests[pongs.length]!) });
        else resolve();
      });
      call.on('error', reject);
      call.write({ response_parameters: [{ size: responses[0] }], payload: payload(requests[0]!) });
    });
    call.end();
    const r = await finished;
    expect(r.err).toBeNull();
    expect(pongs).toEqual(responses);
    return pongs;
  },
  async empty_stream(c) {
    const call = c.FullDuplexCall(tagged('empty_stream'));
    call.end();
    const r = await drain(call);
    expect(r.err).toBeNull();
    expect(r.messages).toEqual([]);
    return r.messages.length;
  },
  async cancel_after_begin(c) {
    const err = await new Promise<grpc.ServiceError>((resolve) => {
      const call = c.StreamingInputCall(tagged('cancel_after_begin'), (e: grpc.ServiceError) => resolve(e));
      call.cancel();
    });
    expect(err.code).toBe(grpc.status.CANCELLED);
    return err.code;
  },
  async cancel_after_first_response(c) {
    const call = c.FullDuplexCall(tagged('cancel_after_first_response'));
    const finished = drain(call);
    await new Promise<void>((resolve) => {
      call.once('data', () => resolve());
      call.write({ response_parameters: [{ size: 31415 }], payload: payload(27182) });
    });
    call.cancel();
    const r = await finished;
    expect(r.err?.code).toBe(grpc.status.CANCELLED);
    return r.err?.code;
  },
  async timeout_on_sleeping_server(c) {
    const call = c.FullDuplexCall(tagged('timeout_on_sleeping_server'), { deadline: Date.now() + 1 });
    call.write({ payload: payload(27182) });
    const r = await drain(call);
    expect(r.err?.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    return r.err?.code;
  },
  async custom_metadata(c) {
    const md = () => {
      const m = tagged('custom_metadata');
      m.set('x-grpc-test-echo-initial', 'test_initial_metadata_value');
      m.set('x-grpc-test-echo-trailing-bin', TRAILING_BIN);
      return m;
    };
    const u = await unary(c, 'UnaryCall', { response_size: 314159, payload: payload(271828) }, md());
    const call = c.FullDuplexCall(md());
    const finished = drain(call);
    call.write({ response_parameters: [{ size: 314159 }], payload: payload(271828) });
    call.end();
    const d = await finished;
    const seen = [u, d].map((r) => [r.initial?.get('x-grpc-test-echo-initial'), r.trailing?.get('x-grpc-test-echo-trailing-bin')]);
    expect(u.err).toBeNull();
    expect(d.err).toBeNull();
    expect(seen).toEqual([
      [['test_initial_metadata_value'], [TRAILING_BIN]],
      [['test_initial_metadata_value'], [TRAILING_BIN]],
    ]);
    return seen.map(([a, b]) => [a, (b as Buffer[]).map((x) => x.toString('hex'))]);
  },
  async status_code_and_message(c) {
    const status = { code: 2, message: 'test status message' };
    const u = await unary(c, 'UnaryCall', { response_status: status }, tagged('status_code_and_message'));
    const call = c.FullDuplexCall(tagged('status_code_and_message'));
    const finished = drain(call);
    call.write({ response_status: status });
    call.end();
    const d = await finished;
    const seen = [u.err, d.err].map((e) => [e?.code, e?.details]);
    expect(seen).toEqual([
      [2, 'test status message'],
      [2, 'test status message'],
    ]);
    return seen;
  },
  async special_status_message(c) {
    const u = await unary(c, 'UnaryCall', { response_status: { code: 2, message: SPECIAL_MESSAGE } }, tagged('special_status_message'));
    expect([u.err?.code, u.err?.details]).toEqual([2, SPECIAL_MESSAGE]);
    return [u.err?.code, u.err?.details];
  },
  async unimplemented_method(c) {
    const u = await unary(c, 'UnimplementedCall', {}, tagged('unimplemented_method'));
    expect(u.err?.code).toBe(grpc.status.UNIMPLEMENTED);
    return u.err?.code;
  },
};

/** Runs every case `copies` times at once on one client; resolves with 'case: ok' or the failure, and observations. */
async function runAll(address: string, copies: number) {
  const c = testClient(address);
  try {
    const runs = Object.entries(CASES).flatMap(([name, run]) =>
      Array.from({ length: copies }, () =>
        run(c).then(
          (observed) => ({ name, ok: true, observed, why: '' }),
          (err: Error) => ({ name, ok: false, observed: null, why: err.message }),
        ),
      ),
    );
    return await Promise.all(runs);
  } finally {
    c.close();
  }
}

describe('grpc-js interop cases, grpc-js client and backend, twenty copies at once', () => {
  it('pass direct, then pass through corral with what they saw direct', async () => {
    const direct = await runAll(server.address, COPIES);
    expect(direct.filter((r) => !r.ok).map((r) => `${r.name}: ${r.why}`)).toEqual([]);
    server.cancelled.clear();
    const through = await runAll(proxy.address, COPIES);
    expect(through.filter((r) => !r.ok).map((r) => `${r.name}: ${r.why}`)).toEqual([]);
    for (const r of through) expect(r.observed, r.name).toEqual(direct.find((d) => d.name === r.name)!.observed);
  }, 60_000);

  it.each([['direct'], ['through corral']])('pass a client stream\'s cancel on to the backend, call by call: %s', async (how) => {
    server.cancelled.clear();
    const c = testClient(how === 'direct' ? server.address : proxy.address);
    try {
      await Promise.all(Array.from({ length: COPIES }, () => CASES.cancel_after_first_response!(c)));
    } finally {
      c.close();
    }
    const deadline = Date.now() + 5000;
    while ((server.cancelled.get('cancel_after_first_response') ?? 0) < COPIES && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(server.cancelled.get('cancel_after_first_response')).toBe(COPIES);
  });
});
