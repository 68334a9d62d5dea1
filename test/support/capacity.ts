/**
 * The capacity-limited backend (bench/capacity-backend.ts: WORKERS calls at once, each
 * SERVICE_MS, one FIFO queue, calls finished even after their caller left) and raw calls
 * to it with grpc-js, for the overload tests.
 */
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { startProcess } from '../../cmd/processes.js';
import { backendJson } from '../../bench/backend-stats.js';

const capacityJs = fileURLToPath(new URL('../../dist/bench/capacity-backend.js', import.meta.url));

export interface CapacityBackend {
  address: string;
  port: number;
  stats(): Promise<{ answered: number; wasted: number; calls: number; maxQueue: number; byTag: Record<string, number> }>;
  stop(): Promise<unknown>;
}

export async function startCapacityBackend(workers: number, serviceMs: number): Promise<CapacityBackend> {
  const started = await startProcess(capacityJs, ['0', String(workers), String(serviceMs)], process.env, 'capacity backend listening');
  const port = started.ready.port as number;
  return {
    port,
    address: `127.0.0.1:${port}`,
    stats: () => backendJson(port, '/stats') as ReturnType<CapacityBackend['stats']>,
    stop: () => started.stop(),
  };
}

export interface RawResult {
  /** The request's text, as the backend echoes it. */
  name: string;
  code: number;
  details: string;
  /** Response headers (or, for a trailers-only answer, the status metadata) and trailers. */
  headers: grpc.Metadata | null;
  trailers: grpc.Metadata | null;
  /** When it ended, in order of the test's calls. */
  endedAt: number;
}

const bytes = (b: Buffer) => b;

/** A grpc-js client calling any method with raw bytes. */
export function rawClient(address: string, options: grpc.ChannelOptions = {}): grpc.Client {
  return new grpc.Client(address, grpc.credentials.createInsecure(), options);
}

/** A unary call whose request is `name`'s bytes (tag-first: `tag-...`); never rejects. */
export function rawCall(
  client: grpc.Client,
  name: string,
  options: { method?: string; metadata?: Record<string, string>; deadlineMs?: number } = {},
): Promise<RawResult> & { call: grpc.ClientUnaryCall } {
  const md = new grpc.Metadata();
  for (const [k, v] of Object.entries(options.metadata ?? {})) md.set(k, v);
  const callOptions: grpc.CallOptions = options.deadlineMs === undefined ? {} : { deadline: Date.now() + options.deadlineMs };
  let call!: grpc.ClientUnaryCall;
  const promise = new Promise<RawResult>((resolve) => {
    const result: RawResult = { name, code: -1, details: '', headers: null, trailers: null, endedAt: 0 };
    call = client.makeUnaryRequest(options.method ?? '/bench.Echo/Get', bytes, bytes, Buffer.from(name), md, callOptions, () => {});
    call.on('metadata', (m: grpc.Metadata) => (result.headers = m));
    call.on('status', (s: grpc.StatusObject) => {
      result.code = s.code;
      result.details = s.details;
      result.trailers = s.metadata;
      result.endedAt = performance.now();
      resolve(result);
    });
  });
  return Object.assign(promise, { call });
}
