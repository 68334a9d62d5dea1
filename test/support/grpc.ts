/** Promise wrappers around the grpc-js example client, for tests. */
import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { ExampleClient, MyServiceClient } from '../../cmd/example-service.js';

export { grpc };

export type Client = grpc.Client & Record<string, any>;

export function client(address: string, options: grpc.ChannelOptions = {}): Client {
  return new ExampleClient(address, grpc.credentials.createInsecure(), options) as Client;
}

/** A client of MyGateway's /my_service.MyServiceAPI methods, as the example backend serves them. */
export function myServiceClient(address: string): Client {
  return new MyServiceClient(address, grpc.credentials.createInsecure()) as unknown as Client;
}

export interface UnaryResult {
  error: grpc.ServiceError | null;
  reply: any;
  headers: grpc.Metadata | null;
  trailers: grpc.Metadata | null;
}

export function metadata(entries: Record<string, string | Buffer> = {}): grpc.Metadata {
  const md = new grpc.Metadata();
  for (const [k, v] of Object.entries(entries)) md.set(k, v as string);
  return md;
}

/** A unary call that never rejects: the result holds the error, headers and trailers. */
export function unary(
  c: Client,
  method: string,
  request: object,
  md: grpc.Metadata = new grpc.Metadata(),
  options: grpc.CallOptions = {},
): Promise<UnaryResult> & { call: grpc.ClientUnaryCall } {
  let call!: grpc.ClientUnaryCall;
  const promise = new Promise<UnaryResult>((resolve) => {
    const result: UnaryResult = { error: null, reply: null, headers: null, trailers: null };
    call = c[method](request, md, options, (err: grpc.ServiceError | null, reply: any) => {
      result.error = err;
      result.reply = reply;
    });
    call.on('metadata', (m: grpc.Metadata) => (result.headers = m));
    call.on('status', (s: grpc.StatusObject) => {
      result.trailers = s.metadata;
      // The callback runs before 'status' in grpc-js; resolve on the next tick to have both.
      setImmediate(() => resolve(result));
    });
  });
  return Object.assign(promise, { call });
}

/** Lookup calls (and others) the backend answered, asked directly of the backend. */
export async function backendStats(backendAddress: string): Promise<{ calls: Record<string, number>; cancelled: number; peers: number }> {
  const c = client(backendAddress);
  try {
    const { reply, error } = await unary(c, 'Stats', { nonce: randomUUID() });
    if (error) throw error;
    const calls: Record<string, number> = {};
    for (const [k, v] of Object.entries(reply.calls as Record<string, unknown>)) calls[k] = Number(v);
    return { calls, cancelled: Number(reply.cancelled), peers: reply.peers };
  } finally {
    c.close();
  }
}

export async function release(backendAddress: string, gate: string): Promise<number> {
  const c = client(backendAddress);
  try {
    const { reply, error } = await unary(c, 'Release', { gate });
    if (error) throw error;
    return reply.released;
  } finally {
    c.close();
  }
}

export { until } from './until.js';

export function collect<T>(stream: grpc.ClientReadableStream<T>): Promise<{ messages: T[]; error: grpc.ServiceError | null; trailers: grpc.Metadata | null }> {
  return new Promise((resolve) => {
    const messages: T[] = [];
    let error: grpc.ServiceError | null = null;
    stream.on('data', (m: T) => messages.push(m));
    stream.on('error', (e: grpc.ServiceError) => (error = e));
    stream.on('status', (s: grpc.StatusObject) => setImmediate(() => resolve({ messages, error, trailers: s.metadata })));
  });
}

/** The usual test set-up: an example backend, corral in front of it, and a grpc-js client of corral. */
export interface Stack {
  backend: import('../../cmd/processes.js').Backend;
  proxy: import('../../cmd/processes.js').Proxy;
  client: Client;
  stop(): Promise<void>;
}

export async function startStack(env: Record<string, string> = {}): Promise<Stack> {
  const { startBackend, startProxy } = await import('../../cmd/processes.js');
  const backend = await startBackend();
  const proxy = await startProxy({ BACKEND_ADDRESS: backend.address, ...env });
  // Ready once the example backend answered server reflection: Lookup and Watch are its declared reads.
  await proxy.untilReady();
  const c = client(proxy.address);
  return {
    backend,
    proxy,
    client: c,
    async stop() {
      c.close();
      await proxy.stop();
      await backend.stop();
    },
  };
}
