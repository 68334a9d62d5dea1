#!/usr/bin/env node
/**
 * The example backend: a grpc-js server for corral.example.v1.Example. Lookup is the
 * "slow, expensive" call a herd hits; it counts every call so the herd client can show
 * how many reached the backend.
 *
 * It also serves MyGateway's /my_service.MyServiceAPI/{Login,MyServiceEcho,MyServiceSubscribe}
 * with the same handlers, and names itself (--name) in the x-backend response header, so
 * tests can see which instance answered.
 *
 *   node dist/cmd/backend.js [--host 127.0.0.1] [--port 50051] [--delay 200ms] [--max-streams N] [--name example]
 *     [--tls-cert FILE --tls-key FILE [--tls-client-ca FILE]]
 */
import * as grpc from '@grpc/grpc-js';
import { parseDuration } from '../src/spec/duration.js';
import { commandLine, fail } from './command-line.js';
import { definition, exampleService, myService, myServiceHandlers } from './example-service.js';
import { ReflectionService } from '@grpc/reflection';
import { readFileSync } from 'node:fs';

const USAGE = `The example backend: corral.example.v1.Example (cmd/proto/example.proto) on grpc-js.

  node dist/cmd/backend.js [--host 127.0.0.1] [--port 50051] [--delay 200ms] [--max-streams N] [--name example]
    [--tls-cert FILE --tls-key FILE [--tls-client-ca FILE]]   serve TLS (with a client CA: require client certificates)`;

const args = commandLine('backend', USAGE, {
  host: { type: 'string', default: '127.0.0.1' },
  port: { type: 'string', default: '50051' },
  delay: { type: 'string', default: '0' },
  'max-streams': { type: 'string' },
  name: { type: 'string', default: 'example' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'tls-client-ca': { type: 'string' },
}) as { host: string; port: string; delay: string; 'max-streams'?: string; name: string; 'tls-cert'?: string; 'tls-key'?: string; 'tls-client-ca'?: string };
const defaultDelayMs = parseDuration(args.delay);
if (defaultDelayMs === undefined) fail('backend', `--delay '${args.delay}' is not a duration such as 200ms`);

const calls: Record<string, number> = {};
const peers = new Set<string>();
let cancelled = 0;
// grpc-js emits 'cancelled' whenever a stream closes, answered or not: only unanswered calls count.
const answered = new WeakSet<object>();
const gates = new Map<string, { open: boolean; waiters: Array<() => void> }>();

function count(method: string, call: { getPeer(): string } & NodeJS.EventEmitter): number {
  calls[method] = (calls[method] ?? 0) + 1;
  peers.add(call.getPeer());
  call.on('cancelled', () => {
    if (!answered.has(call)) cancelled++;
  });
  return calls[method];
}

function gate(name: string) {
  let g = gates.get(name);
  if (g === undefined) gates.set(name, (g = { open: false, waiters: [] }));
  return g;
}

/** Resolves after delayMs, or when the named gate opens. */
function wait(delayMs: number, gateName: string): Promise<void> {
  if (gateName !== '') {
    const g = gate(gateName);
    return g.open ? Promise.resolve() : new Promise((resolve) => g.waiters.push(resolve));
  }
  const ms = delayMs || defaultDelayMs!;
  return ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve();
}

/** Request metadata whose name starts with x-echo is sent back in the response headers and trailers. */
function echoed(metadata: grpc.Metadata): grpc.Metadata {
  const out = new grpc.Metadata();
  out.set('x-backend', args.name);
  for (const [name, value] of Object.entries(metadata.getMap())) {
    if (name.startsWith('x-echo')) out.set(name, value as string & Buffer);
  }
  return out;
}

interface LookupRequest {
  key: string;
  delayMs: number;
  gate: string;
  failCode: number;
  failMessage: string;
  replyBytes: number;
  cacheTags: string;
}

const handlers: grpc.UntypedServiceImplementation = {
  async Lookup(call: grpc.ServerUnaryCall<LookupRequest, unknown>, callback: grpc.sendUnaryData<unknown>) {
    const callNumber = count('Lookup', call);
    const req = call.request;
    const echo = echoed(call.metadata);
    if (req.cacheTags) echo.set('cache-tag', req.cacheTags);
    call.sendMetadata(echo);
    await wait(req.delayMs, req.gate);
    answered.add(call);
    const trailers = echo.clone();
    trailers.set('x-call-number', String(callNumber));
    if (req.failCode !== 0) {
      callback({ code: req.failCode, details: req.failMessage, metadata: trailers });
      return;
    }
    const metadata: Record<string, string> = {};
    for (const [name, value] of Object.entries(call.metadata.getMap())) {
      if (typeof value === 'string') metadata[name] = value;
    }
    callback(null, { key: req.key, callNumber, metadata, padding: Buffer.alloc(req.replyBytes, 0x61) }, trailers);
  },

  async Watch(call: grpc.ServerWritableStream<{ topic: string; count: number; intervalMs: number; gate: string; paddingBytes: number }, unknown>) {
    count('Watch', call);
    const { topic, count: n, intervalMs, gate: gateName, paddingBytes } = call.request;
    call.sendMetadata(echoed(call.metadata));
    await wait(0, gateName);
    const padding = Buffer.alloc(paddingBytes);
    for (let sequence = 1; sequence <= n && !call.cancelled; sequence++) {
      call.write({ topic, sequence, backend: args.name, padding, sentAtMs: performance.timeOrigin + performance.now() });
      if (intervalMs > 0) await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
    answered.add(call);
    call.end(echoed(call.metadata));
  },

  Upload(call: grpc.ServerReadableStream<{ data: Buffer }, unknown>, callback: grpc.sendUnaryData<unknown>) {
    count('Upload', call);
    let chunks = 0;
    let bytes = 0;
    call.on('data', (chunk: { data: Buffer }) => {
      chunks++;
      bytes += chunk.data.length;
    });
    call.on('end', () => {
      answered.add(call);
      callback(null, { chunks, bytes });
    });
  },

  Chat(call: grpc.ServerDuplexStream<{ text: string }, unknown>) {
    count('Chat', call);
    call.on('data', (message: { text: string }) => call.write({ text: `echo: ${message.text}` }));
    // grpc-js ends the readable side of a reset call too: only a status that went out counts as an answer.
    call.on('end', () => call.end());
    call.on('finish', () => answered.add(call));
  },

  async GetPrice(call: grpc.ServerUnaryCall<{ sku: string; requestId: string; delayMs: number }, unknown>, callback: grpc.sendUnaryData<unknown>) {
    const callNumber = count('GetPrice', call);
    await wait(call.request.delayMs, '');
    answered.add(call);
    callback(null, { sku: call.request.sku, callNumber, requestId: call.request.requestId });
  },

  Stats(_call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) {
    callback(null, { calls, cancelled, peers: peers.size });
  },

  Release(call: grpc.ServerUnaryCall<{ gate: string }, unknown>, callback: grpc.sendUnaryData<unknown>) {
    count('Release', call);
    const g = gate(call.request.gate);
    g.open = true;
    const released = g.waiters.length;
    for (const resolve of g.waiters.splice(0)) resolve();
    answered.add(call);
    callback(null, { released });
  },
};

const options: grpc.ServerOptions = {};
if (args['max-streams'] !== undefined) options['grpc.max_concurrent_streams'] = Number(args['max-streams']);
const server = new grpc.Server(options);
server.addService(exampleService, handlers);
server.addService(myService, myServiceHandlers(handlers));
// Its descriptors, Lookup, Watch and GetPrice declared NO_SIDE_EFFECTS, for corral to learn (not counted as calls).
new ReflectionService(definition).addToServer(server);
const credentials =
  args['tls-cert'] === undefined || args['tls-key'] === undefined
    ? grpc.ServerCredentials.createInsecure()
    : grpc.ServerCredentials.createSsl(
        args['tls-client-ca'] === undefined ? null : readFileSync(args['tls-client-ca']),
        [{ cert_chain: readFileSync(args['tls-cert']), private_key: readFileSync(args['tls-key']) }],
        args['tls-client-ca'] !== undefined,
      );
server.bindAsync(`${args.host}:${args.port}`, credentials, (err, port) => {
  if (err) {
    process.stderr.write(`backend: cannot listen on ${args.host}:${args.port}: ${err.message}\n`);
    process.exit(1);
  }
  process.stdout.write(JSON.stringify({ msg: 'backend listening', port }) + '\n');
});

const stop = (): void => server.tryShutdown(() => process.exit(0));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
