/**
 * The interop TestService on grpc-js, as gRPC's interop server behaves: payloads of
 * the sizes asked for, the status asked for, x-grpc-test-echo-initial echoed in the
 * response headers and x-grpc-test-echo-trailing-bin in the trailers. It counts the
 * calls the client cancelled, by the x-case metadata the caller sets.
 */
import { grpc } from '../support/grpc.js';
import { testService } from '../support/interop-service.js';

interface Params {
  size: number;
  interval_us: number;
}
interface EchoStatus {
  code: number;
  message: string;
}

const payload = (size: number) => ({ body: Buffer.alloc(size) });

function echoes(call: { metadata: grpc.Metadata }): { initial: grpc.Metadata; trailing: grpc.Metadata } {
  const initial = new grpc.Metadata();
  const trailing = new grpc.Metadata();
  for (const v of call.metadata.get('x-grpc-test-echo-initial')) initial.add('x-grpc-test-echo-initial', v);
  for (const v of call.metadata.get('x-grpc-test-echo-trailing-bin')) trailing.add('x-grpc-test-echo-trailing-bin', v);
  return { initial, trailing };
}

/**
 * grpc-js ends the readable side of a cancelled call as if the client had half-closed,
 * and reports the cancel some turns later: a stream's answer waits this long, so a
 * cancel is not mistaken for the end of the request.
 */
const CANCEL_GRACE_MS = 100;

const sleep = (us: number) => new Promise((resolve) => setTimeout(resolve, us / 1000));

export interface InteropServer {
  address: string;
  /** Calls whose client cancelled, by their x-case metadata. */
  cancelled: Map<string, number>;
  close(): Promise<void>;
}

export async function startGrpcJsInteropServer(): Promise<InteropServer> {
  const cancelled = new Map<string, number>();
  const watch = (call: { metadata: grpc.Metadata; on(event: 'cancelled', l: () => void): unknown }, answered: { done: boolean }) => {
    call.on('cancelled', () => {
      if (answered.done) return;
      const name = String(call.metadata.get('x-case')[0] ?? '');
      cancelled.set(name, (cancelled.get(name) ?? 0) + 1);
    });
  };
  const server = new grpc.Server({ 'grpc.max_receive_message_length': 16 << 20 });
  server.addService(testService, {
    EmptyCall(_call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) {
      callback(null, {});
    },
    UnaryCall(call: grpc.ServerUnaryCall<{ response_size: number; response_status: EchoStatus | null }, unknown>, callback: grpc.sendUnaryData<unknown>) {
      const { initial, trailing } = echoes(call);
      call.sendMetadata(initial);
      const status = call.request.response_status;
      if (status && status.code !== 0) {
        callback({ code: status.code, details: status.message, metadata: trailing });
        return;
      }
      callback(null, { payload: payload(call.request.response_size) }, trailing);
    },
    async StreamingOutputCall(call: grpc.ServerWritableStream<{ response_parameters: Params[] }, unknown>) {
      const answered = { done: false };
      watch(call, answered);
      for (const p of call.request.response_parameters) {
        if (p.interval_us > 0) await sleep(p.interval_us);
        if (call.cancelled) return;
        call.write({ payload: payload(p.size) });
      }
      answered.done = true;
      call.end();
    },
    StreamingInputCall(call: grpc.ServerReadableStream<{ payload: { body: Buffer } | null }, unknown>, callback: grpc.sendUnaryData<unknown>) {
      const answered = { done: false };
      watch(call, answered);
      let total = 0;
      call.on('data', (m: { payload: { body: Buffer } | null }) => (total += m.payload?.body.length ?? 0));
      call.on('end', () =>
        setTimeout(() => {
          if (call.cancelled) return;
          answered.done = true;
          callback(null, { aggregated_payload_size: total });
        }, CANCEL_GRACE_MS),
      );
    },
    FullDuplexCall(call: grpc.ServerDuplexStream<{ response_parameters: Params[]; response_status: EchoStatus | null }, unknown>) {
      const answered = { done: false };
      watch(call, answered);
      const { initial, trailing } = echoes(call);
      call.sendMetadata(initial);
      let chain = Promise.resolve();
      call.on('data', (m: { response_parameters: Params[]; response_status: EchoStatus | null }) => {
        chain = chain.then(async () => {
          if (m.response_status && m.response_status.code !== 0) {
            answered.done = true;
            call.emit('error', { code: m.response_status.code, details: m.response_status.message, metadata: trailing });
            return;
          }
          for (const p of m.response_parameters) {
            if (p.interval_us > 0) await sleep(p.interval_us);
            if (!call.cancelled) call.write({ payload: payload(p.size) });
          }
        });
      });
      // grpc-js ends the readable side of a cancelled call too, some turns before 'cancelled'.
      call.on('end', () => {
        void chain.then(() =>
          setTimeout(() => {
            if (answered.done || call.cancelled) return;
            answered.done = true;
            call.end(trailing);
          }, CANCEL_GRACE_MS),
        );
      });
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return {
    address: `127.0.0.1:${port}`,
    cancelled,
    close: () => new Promise((resolve) => server.tryShutdown(() => resolve())),
  };
}
