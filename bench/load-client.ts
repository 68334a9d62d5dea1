/**
 * A closed-loop load client in its own process: `concurrency` calls in flight on one
 * connection until `requests` are done, then one JSON line with req/s, p50/p99 latency and
 * failures. The gateway benchmark's client for the paths h2load cannot drive.
 *   node dist/bench/load-client.js grpc-js|http2|http1 PORT hot|unique REQUESTS CONCURRENCY ROUND
 * grpc-js: GetItem through a @grpc/grpc-js client (messages decoded, as an application
 * does). http2: GET /v1/items/<id> on node:http2, the JSON body read whole. http1: the same
 * GETs over HTTP/1.1 keep-alive, on at most 64 connections (h2load cannot send unique
 * keys over several connections: each starts at the top of its list).
 */
import http from 'node:http';
import http2 from 'node:http2';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

const [kind, port, keys, requests, concurrency, round] = process.argv.slice(2) as [string, string, string, string, string, string];
const total = Number(requests);
const id = (i: number) => (keys === 'hot' ? 'hot' : `u${round}x${i}`);

type Send = (i: number, done: (ok: boolean) => void) => void;

function grpcJsSender(): { send: Send; close(): void } {
  const proto = fileURLToPath(new URL('../../bench/protos/bench/v1/items.proto', import.meta.url));
  const loaded = grpc.loadPackageDefinition(protoLoader.loadSync(proto)) as any;
  const client = new loaded.bench.v1.Items(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  return {
    send: (i, done) => client.GetItem({ id: id(i) }, (err: grpc.ServiceError | null) => done(err === null)),
    close: () => client.close(),
  };
}

function http2Sender(): { send: Send; close(): void } {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  return {
    send: (i, done) => {
      const req = session.request({ ':method': 'GET', ':path': `/v1/items/${id(i)}` });
      let status = 0;
      let body = '';
      req.setEncoding('utf8');
      req.on('response', (h) => (status = Number(h[':status'])));
      req.on('data', (d: string) => (body += d));
      req.on('end', () => done(status === 200 && body.length > 0));
      req.on('error', () => done(false));
      req.end();
    },
    close: () => session.close(),
  };
}

function http1Sender(): { send: Send; close(): void } {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  return {
    send: (i, done) => {
      const req = http.get({ host: '127.0.0.1', port: Number(port), path: `/v1/items/${id(i)}`, agent }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => done(res.statusCode === 200 && body.length > 0));
      });
      req.on('error', () => done(false));
    },
    close: () => agent.destroy(),
  };
}

const senders = { 'grpc-js': grpcJsSender, http2: http2Sender, http1: http1Sender } as const;
const sender = senders[kind as keyof typeof senders]();
const latencies = new Float64Array(total);
let started = 0;
let finished = 0;
let failed = 0;
const begin = performance.now();
await new Promise<void>((resolve) => {
  const next = (): void => {
    if (started === total) return;
    const i = started++;
    const t0 = performance.now();
    sender.send(i, (ok) => {
      latencies[i] = performance.now() - t0;
      if (!ok) failed++;
      if (++finished === total) resolve();
      else next();
    });
  };
  for (let c = 0; c < Number(concurrency); c++) next();
});
const seconds = (performance.now() - begin) / 1000;
sender.close();
const sorted = Array.from(latencies).sort((a, b) => a - b);
const at = (p: number) => sorted[Math.min(total - 1, Math.ceil((p / 100) * total) - 1)]!;
process.stdout.write(JSON.stringify({ reqPerSec: total / seconds, p50Ms: at(50), p99Ms: at(99), failed }) + '\n');
