/**
 * End-to-end comparison, side by side in one run: h2load against (1) the bare node:http2
 * echo backend, (2) nginx with grpc_pass in front of it, (3) corral in front of it.
 * Same payload (one gRPC frame, 100-byte message), same concurrency, several rounds
 * interleaved, medians reported. Everything binds 127.0.0.1 and is stopped at the end.
 *
 * Workloads: hot key (every request identical) and unique keys (every request has its
 * own method path, so no two share a key).
 */
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EVERY_METHOD, freePort, startProcess, startProxy, type Proxy, type Started } from '../cmd/processes.js';
import { encodeFrame } from '../src/wire/frame.js';
import { backendJson } from './backend-stats.js';

export interface E2eOptions {
  /** NODE_OPTIONS for corral alone, e.g. V8 heap flags to compare. */
  corralNodeOptions: string;
  /** A second corral, side by side with the first: another node binary and/or other CORRAL_V8_FLAGS. */
  compare: { node: string | undefined; v8Flags: string | undefined } | null;
  requests: number;
  clients: number;
  streamsPerClient: number;
  rounds: number;
}

export interface Measurement {
  reqPerSec: number;
  p50Ms: number;
  p99Ms: number;
  failed: number;
}

/**
 * What h2load is pointed at: the bare backend, nginx, corral, a second corral ('corral B',
 * on another runtime or flags), or a minimal pass-through on node:http2 or with grpc-js upstream.
 */
export type Target = 'direct' | 'nginx' | 'corral' | 'corral B' | 'floor: node:http2 pass-through' | 'floor: grpc-js upstream';

export interface E2eResult {
  workload: 'hot key' | 'unique keys';
  target: Target;
  median: Measurement;
  rounds: Measurement[];
  backendCalls: number;
  /** The target's CPU time (user + system) per request over every measured round, in microseconds (direct: the backend's). */
  cpuUsPerRequest?: number;
}

/** One corral process of the run: its runtime, flags and peak memory. */
export interface CorralRun {
  target: 'corral' | 'corral B';
  node: string;
  v8Flags: string;
  peakRssMiB: number;
}

const work = mkdtempSync(join(tmpdir(), 'corral-bench-'));
// The request of every call: one gRPC frame of a 100-byte message.
writeFileSync(join(work, 'frame.bin'), encodeFrame(Buffer.alloc(100, 0x61)));
export const echoJs = fileURLToPath(new URL('./echo-backend.js', import.meta.url));
const floorJs = fileURLToPath(new URL('./floor-proxies.js', import.meta.url));

export async function waitForPort(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.on('connect', () => (s.destroy(), resolve(true)));
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on ${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** nginx with grpc_pass to the backend, one worker; over TLS (HTTP/2 by ALPN) with `tls`. */
export async function startNginx(
  backendPort: number,
  tls: { certFile: string; keyFile: string } | null = null,
): Promise<{ port: number; pids(): number[]; stop(): Promise<void> }> {
  const port = await freePort();
  const conf = join(work, `nginx-${port}.conf`);
  const listen = tls === null ? `listen 127.0.0.1:${port} http2;` : `listen 127.0.0.1:${port} ssl http2;\n    ssl_certificate ${tls.certFile};\n    ssl_certificate_key ${tls.keyFile};`;
  // One worker: the same single event loop corral has.
  writeFileSync(
    conf,
    `worker_processes 1;
error_log ${work}/nginx-error.log warn;
pid ${work}/nginx-${port}.pid;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 100000000; # the default (1000) closes a client connection after 1000 calls
  client_body_temp_path ${work};
  proxy_temp_path ${work};
  fastcgi_temp_path ${work};
  uwsgi_temp_path ${work};
  scgi_temp_path ${work};
  upstream echo { server 127.0.0.1:${backendPort}; keepalive 64; }
  server {
    ${listen}
    http2_max_concurrent_streams 1000;
    location / { grpc_pass grpc://echo; }
  }
}
`,
  );
  const child = spawn('nginx', ['-c', conf, '-p', work, '-g', 'daemon off;'], { stdio: 'ignore' });
  await waitForPort(port);
  return {
    port,
    // The master and its worker: their CPU is nginx's.
    pids: () => [child.pid!, ...execFileSync('pgrep', ['-P', String(child.pid)], { encoding: 'utf8' }).trim().split('\n').filter(Boolean).map(Number)],
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

export function percentile(sorted: number[], p: number): number {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** What h2load sends: the gRPC calls of the end-to-end comparison. */
export const grpcRequest = () => ['-d', join(work, 'frame.bin'), '-H', 'content-type: application/grpc', '-H', 'te: trailers'];

/**
 * One h2load run of `load.requests` over `load.clients` connections, `load.streams` in
 * flight on each; `request` adds h2load's flags for what to send (a body, headers, --h1).
 * Latencies come from its per-request log (microseconds, third column).
 */
export function h2load(uris: string[], load: { requests: number; clients: number; streams: number }, request: string[]): Measurement {
  const uriFile = join(work, 'uris.txt');
  const log = join(work, 'h2load.log');
  writeFileSync(uriFile, uris.join('\n') + '\n');
  const args = [
    '-n', String(load.requests),
    '-c', String(load.clients),
    '-m', String(load.streams),
    ...request,
    `--log-file=${log}`,
    ...(uris.length === 1 ? [uris[0]!] : ['-i', uriFile]),
  ];
  return h2loadMeasurement(execFileSync('h2load', args, { encoding: 'utf8', maxBuffer: 16 << 20 }), log);
}

/** What one h2load run measured: req/s and failures from its output, latencies from its per-request log (µs, third column). */
export function h2loadMeasurement(out: string, log: string): Measurement {
  const summary = h2loadSummary(out);
  const latencies = readFileSync(log, 'utf8')
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => Number(l.split('\t')[2]) / 1000)
    .sort((a, b) => a - b);
  return {
    reqPerSec: summary.reqPerSec,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    failed: summary.failed,
  };
}

export function median(ms: Measurement[]): Measurement {
  const mid = (f: (m: Measurement) => number) => {
    const v = ms.map(f).sort((a, b) => a - b);
    return v[Math.floor(v.length / 2)]!;
  };
  return { reqPerSec: mid((m) => m.reqPerSec), p50Ms: mid((m) => m.p50Ms), p99Ms: mid((m) => m.p99Ms), failed: mid((m) => m.failed) };
}

export async function backendCalls(port: number): Promise<number> {
  return ((await backendJson(port, '/calls')) as { calls: number }).calls;
}

/** CPU seconds (user + system) a process has used. */
export function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  // utime and stime are fields 14 and 15 of /proc/pid/stat, in clock ticks of 1/100 s on Linux.
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}
const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** req/s, and requests succeeded and failed, from h2load's summary. */
export function h2loadSummary(out: string): { reqPerSec: number; succeeded: number; failed: number } {
  const rps = /finished in [\d.]+\w+, ([\d.]+) req\/s/.exec(out);
  const counts = /requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed/.exec(out);
  if (rps === null || counts === null) throw new Error(`cannot read h2load output:\n${out}`);
  return { reqPerSec: Number(rps[1]), succeeded: Number(counts[1]), failed: Number(counts[2]) };
}

/** Resident memory now, in MiB. */
export function rssMiB(pid: number): number {
  return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
}

/** The highest resident memory the process reached (VmHWM), in MiB. */
export function peakRssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

export interface E2eReport {
  results: E2eResult[];
  corrals: CorralRun[];
  corralPeakRssMiB: number;
  corralCacheBytesMax: number;
}

/** The echo backend and nginx in front of it (over TLS with `tls`), added to what the caller stops. */
export async function echoBehindNginx(
  tls: { certFile: string; keyFile: string } | null,
  started: Started[],
  stops: Array<() => Promise<unknown>>,
): Promise<{ echo: Started; echoPort: number; nginx: Awaited<ReturnType<typeof startNginx>> }> {
  const echo = await startProcess(echoJs, ['0'], process.env, 'echo listening');
  started.push(echo);
  const echoPort = echo.ready.port as number;
  const nginx = await startNginx(echoPort, tls);
  stops.push(nginx.stop);
  return { echo, echoPort, nginx };
}

export async function runE2e(options: E2eOptions): Promise<E2eReport> {
  const started: Started[] = [];
  const stops: Array<() => Promise<unknown>> = [];
  try {
    const { echo, echoPort, nginx } = await echoBehindNginx(null, started, stops);
    const corral = await startProxy({ ...EVERY_METHOD, BACKEND_ADDRESS: `127.0.0.1:${echoPort}`, NODE_OPTIONS: options.corralNodeOptions });
    started.push(corral);
    const corrals: Array<{ target: 'corral' | 'corral B'; proxy: Proxy }> = [{ target: 'corral', proxy: corral }];
    if (options.compare !== null) {
      const b = await startProxy(
        {
          ...EVERY_METHOD,
          BACKEND_ADDRESS: `127.0.0.1:${echoPort}`,
          NODE_OPTIONS: options.corralNodeOptions,
          ...(options.compare.v8Flags !== undefined ? { CORRAL_V8_FLAGS: options.compare.v8Flags } : {}),
        },
        options.compare.node !== undefined ? { node: options.compare.node } : {},
      );
      started.push(b);
      corrals.push({ target: 'corral B', proxy: b });
    }
    const floorHttp2 = await startProcess(floorJs, ['http2', String(echoPort)], process.env, 'floor proxy listening');
    started.push(floorHttp2);
    const floorGrpcJs = await startProcess(floorJs, ['grpc-js', String(echoPort)], process.env, 'floor proxy listening');
    started.push(floorGrpcJs);
    const targets: Partial<Record<Target, number>> = {
      direct: echoPort,
      nginx: nginx.port,
      ...Object.fromEntries(corrals.map((c) => [c.target, c.proxy.grpcPort])),
      'floor: node:http2 pass-through': floorHttp2.ready.port as number,
      'floor: grpc-js upstream': floorGrpcJs.ready.port as number,
    };
    // Whose CPU each target's rounds are charged: direct is the backend's own.
    const processes: Partial<Record<Target, () => number[]>> = {
      direct: () => [echo.child.pid!],
      nginx: nginx.pids,
      ...Object.fromEntries(corrals.map((c) => [c.target, () => [c.proxy.child.pid!]])),
      'floor: node:http2 pass-through': () => [floorHttp2.child.pid!],
      'floor: grpc-js upstream': () => [floorGrpcJs.child.pid!],
    };
    const cpuOf = (name: string) => (processes[name as Target]?.() ?? []).reduce((sum, pid) => sum + cpuSeconds(pid), 0);
    const results: E2eResult[] = [];
    let cacheBytesMax = 0;
    for (const workload of ['hot key', 'unique keys'] as const) {
      const rounds: Record<string, Measurement[]> = {};
      const calls: Record<string, number> = {};
      const cpu: Record<string, number> = {};
      for (const name of Object.keys(targets)) {
        rounds[name] = [];
        calls[name] = 0;
        cpu[name] = 0;
      }
      const load = { requests: options.requests, clients: options.clients, streams: options.streamsPerClient };
      const urisFor = (port: number, round: string) =>
        workload === 'hot key'
          ? [`http://127.0.0.1:${port}/bench.Echo/Hot`]
          : Array.from({ length: options.requests }, (_, i) => `http://127.0.0.1:${port}/bench.Echo/U${round}x${i}`);
      // A warm-up run per target, not counted: JIT and connections settle before the rounds.
      for (const port of Object.values(targets)) h2load(urisFor(port, 'warm'), load, grpcRequest());
      for (let round = 0; round < options.rounds; round++) {
        for (const [name, port] of Object.entries(targets)) {
          const before = await backendCalls(echoPort);
          const cpuBefore = cpuOf(name);
          rounds[name]!.push(h2load(urisFor(port, String(round)), load, grpcRequest()));
          cpu[name]! += cpuOf(name) - cpuBefore;
          calls[name]! += (await backendCalls(echoPort)) - before;
          if (name === 'corral') cacheBytesMax = Math.max(cacheBytesMax, await corral.metric('corral_cache_bytes'));
        }
      }
      for (const name of Object.keys(targets) as Target[]) {
        results.push({
          workload,
          target: name,
          median: median(rounds[name]!),
          rounds: rounds[name]!,
          backendCalls: calls[name]!,
          cpuUsPerRequest: (cpu[name]! * 1e6) / (options.requests * options.rounds),
        });
      }
    }
    const runs: CorralRun[] = corrals.map(({ target, proxy }) => ({
      target,
      node: String(proxy.ready.node),
      v8Flags: readFileSync(`/proc/${proxy.child.pid}/cmdline`, 'utf8').split('\0').slice(1, -1).filter((a) => a.startsWith('--')).join(' '),
      peakRssMiB: peakRssMiB(proxy.child.pid!),
    }));
    return { results, corrals: runs, corralPeakRssMiB: runs[0]!.peakRssMiB, corralCacheBytesMax: cacheBytesMax };
  } finally {
    for (const stop of stops) await stop();
    for (const p of started.reverse()) await p.stop();
  }
}
