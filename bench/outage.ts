/**
 * The cache policy section of `make bench`: what a herd gets while the backend is slow or
 * down, with and without COLLAPSER_STALE_IF_ERROR and COLLAPSER_STALE_WHILE_REVALIDATE.
 * One corral in front of the echo backend, a closed-loop client keeping 32 calls of one
 * hot key in flight and reading each call's grpc-status (h2load counts HTTP statuses only).
 *   1. Outage: 14 s of load; the backend is killed at 2 s and started again on its port at
 *      12 s. Calls failed and backend calls, stale-if-error off and on.
 *   2. Slow refresh: backend answers after 200 ms, TTL 500 ms, 6 s of load. Callers' p99,
 *      stale-while-revalidate off and on.
 *   node dist/bench/outage.js
 */
import http2 from 'node:http2';
import { fileURLToPath } from 'node:url';
import { EVERY_METHOD, startProcess, startProxy, type Started } from '../cmd/processes.js';
import { encodeFrame } from '../src/wire/frame.js';
import { backendCalls, percentile } from './e2e.js';

const echoJs = fileURLToPath(new URL('./echo-backend.js', import.meta.url));
const BODY = encodeFrame(Buffer.alloc(100, 0x61));

export interface OutageReport {
  outage: Array<{ staleIfError: boolean; calls: number; failed: number; backendCalls: number }>;
  refresh: Array<{ staleWhileRevalidate: boolean; calls: number; p50Ms: number; p99Ms: number; p999Ms: number; waited: number; backendCalls: number }>;
}

/** Keeps `concurrency` calls of one key in flight for `seconds`; every call's grpc-status and latency. */
async function load(port: number, seconds: number, concurrency: number): Promise<{ ok: number; failed: number; latencies: number[] }> {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  session.on('error', () => {});
  const until = performance.now() + seconds * 1000;
  const result = { ok: 0, failed: 0, latencies: [] as number[] };
  const one = (): Promise<void> =>
    new Promise((resolve) => {
      const started = performance.now();
      const req = session.request({ ':method': 'POST', ':path': '/bench.Echo/Hot', 'content-type': 'application/grpc', te: 'trailers' });
      let status: string | undefined;
      req.on('response', (h) => (status = h['grpc-status'] as string | undefined));
      req.on('trailers', (t) => (status = t['grpc-status'] as string | undefined));
      req.on('data', () => {});
      const done = () => {
        result.latencies.push(performance.now() - started);
        if (status === '0') result.ok++;
        else result.failed++;
        resolve();
      };
      req.on('close', done);
      req.on('error', () => {});
      req.end(BODY);
    });
  const worker = async () => {
    while (performance.now() < until) await one();
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  session.close();
  result.latencies.sort((a, b) => a - b);
  return result;
}


async function echo(port: number, delayMs: number): Promise<Started & { port: number }> {
  const started = await startProcess(echoJs, [String(port), String(delayMs)], process.env, 'echo listening');
  return { ...started, port: started.ready.port as number };
}

export async function runOutage(): Promise<OutageReport> {
  const report: OutageReport = { outage: [], refresh: [] };
  for (const staleIfError of [false, true]) {
    let backend = await echo(0, 5);
    const port = backend.port;
    let calls = 0;
    const corral = await startProxy({ ...EVERY_METHOD, BACKEND_ADDRESS: `127.0.0.1:${port}`, COLLAPSER_CACHE_DURATION: '200ms', ...(staleIfError ? { COLLAPSER_STALE_IF_ERROR: '1m' } : {}) });
    try {
      const running = load(corral.grpcPort, 14, 32);
      await new Promise((r) => setTimeout(r, 2000));
      calls += await backendCalls(port);
      await backend.stop('SIGKILL');
      await new Promise((r) => setTimeout(r, 10_000));
      backend = await echo(port, 5);
      const r = await running;
      calls += await backendCalls(port);
      report.outage.push({ staleIfError, calls: r.ok + r.failed, failed: r.failed, backendCalls: calls });
    } finally {
      await corral.stop();
      await backend.stop();
    }
  }
  for (const staleWhileRevalidate of [false, true]) {
    const backend = await echo(0, 200);
    const corral = await startProxy({
      ...EVERY_METHOD,
      BACKEND_ADDRESS: `127.0.0.1:${backend.port}`,
      COLLAPSER_CACHE_DURATION: '500ms',
      ...(staleWhileRevalidate ? { COLLAPSER_STALE_WHILE_REVALIDATE: '1m' } : {}),
    });
    try {
      const r = await load(corral.grpcPort, 6, 32);
      report.refresh.push({
        staleWhileRevalidate,
        calls: r.ok + r.failed,
        p50Ms: percentile(r.latencies, 50),
        p99Ms: percentile(r.latencies, 99),
        p999Ms: percentile(r.latencies, 99.9),
        // Callers that waited for the backend (it answers after 200 ms): a share too small for p99 to show.
        waited: r.latencies.filter((ms) => ms >= 100).length,
        backendCalls: await backendCalls(backend.port),
      });
    } finally {
      await corral.stop();
      await backend.stop();
    }
  }
  return report;
}

export function outageLines(r: OutageReport): string[] {
  const out = ['## Cache policy: a herd while the backend is down or slow (bench/outage.ts)', ''];
  out.push('One hot key, 32 calls in flight, closed loop, grpc-status read per call. Outage: 14 s of load, the backend killed at 2 s and back at 12 s; TTL 200 ms:', '');
  out.push('| COLLAPSER_STALE_IF_ERROR | calls | failed | backend calls |', '|---|---:|---:|---:|');
  for (const o of r.outage) out.push(`| ${o.staleIfError ? '1m' : 'off'} | ${o.calls.toLocaleString('en')} | ${o.failed.toLocaleString('en')} | ${o.backendCalls.toLocaleString('en')} |`);
  out.push('', 'Slow refresh: the backend answers after 200 ms, TTL 500 ms, 6 s of load:', '');
  out.push('| COLLAPSER_STALE_WHILE_REVALIDATE | calls | p50 ms | p99 ms | p99.9 ms | calls that waited >= 100 ms | backend calls |', '|---|---:|---:|---:|---:|---:|---:|');
  for (const f of r.refresh) {
    out.push(
      `| ${f.staleWhileRevalidate ? '1m' : 'off'} | ${f.calls.toLocaleString('en')} | ${f.p50Ms.toFixed(2)} | ${f.p99Ms.toFixed(2)} | ${f.p999Ms.toFixed(2)} | ${f.waited.toLocaleString('en')} | ${f.backendCalls} |`,
    );
  }
  return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  process.stdout.write(outageLines(await runOutage()).join('\n') + '\n');
}
