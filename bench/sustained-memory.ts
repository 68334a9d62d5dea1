/**
 * corral's memory under sustained load: what the pod manifests' requests and limits are
 * set from. A fresh corral (bin/corral, its shipped V8 flags) in front of the echo
 * backend per shape; its RSS and cache bytes sampled every second; its peak RSS (VmHWM).
 *
 *   rounds:    40,000 unique-key then 40,000 hot-key calls, h2load on one connection with
 *              128 streams, 100-byte messages, the default cache (100 ms TTL), 5 times;
 *   sustained: `--seconds` (120) of 32 concurrent unique calls with 1 KiB answers and a
 *              5 s TTL, so the cache sits at its bound (COLLAPSER_CACHE_MAX_BYTES) and
 *              turns over all the time.
 *
 * Everything binds 127.0.0.1 and is stopped at the end. Needs h2load.
 *   node dist/bench/sustained-memory.js [--seconds 120] [--shape rounds|sustained|both] [--env K=V ...]
 * `--env` adds variables to corral's environment (CORRAL_V8_FLAGS, COLLAPSER_CACHE_MAX_BYTES...).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { EVERY_METHOD, startProcess, startProxy, type Proxy } from '../cmd/processes.js';
import { encodeFrame } from '../src/wire/frame.js';
import { cpuSeconds, echoJs, h2loadSummary, peakRssMiB, rssMiB } from './e2e.js';

const run = promisify(execFile);
const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '120' },
    shape: { type: 'string', default: 'both' },
    env: { type: 'string', multiple: true, default: [] },
  },
});
const seconds = Number(values.seconds);
const extraEnv = Object.fromEntries(values.env.map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
const work = mkdtempSync(join(tmpdir(), 'corral-sustained-'));

/** The largest the cache got, sampled every second from /metrics until stopped. */
function cacheHighWater(proxy: Proxy): { stop(): number } {
  let maxMiB = 0;
  const timer = setInterval(() => {
    void proxy.metric('corral_cache_bytes').then((b) => (maxMiB = Math.max(maxMiB, b / 2 ** 20)), () => {});
  }, 1000);
  return {
    stop() {
      clearInterval(timer);
      return maxMiB;
    },
  };
}

async function h2load(args: string[]): Promise<{ reqPerSec: number; succeeded: number; failed: number }> {
  // Not e2e's h2load: that one blocks the event loop, and the cache is sampled meanwhile.
  const { stdout } = await run('h2load', args, { maxBuffer: 64 << 20 });
  return h2loadSummary(stdout);
}

async function shapeRounds(echoPort: number): Promise<string> {
  const frame = join(work, 'frame-100.bin');
  writeFileSync(frame, encodeFrame(Buffer.alloc(100, 0x61)));
  const proxy = await startProxy({ ...EVERY_METHOD, BACKEND_ADDRESS: `127.0.0.1:${echoPort}`, ...extraEnv });
  const watch = cacheHighWater(proxy);
  const base = `http://127.0.0.1:${proxy.grpcPort}`;
  const common = ['-c', '1', '-m', '128', '-d', frame, '-H', 'content-type: application/grpc', '-H', 'te: trailers'];
  const rates: string[] = [];
  const cpuBefore = cpuSeconds(proxy.child.pid!);
  try {
    for (let round = 0; round < 5; round++) {
      const uris = join(work, 'unique.txt');
      writeFileSync(uris, Array.from({ length: 40_000 }, (_, i) => `${base}/bench.Echo/R${round}x${i}`).join('\n') + '\n');
      const unique = await h2load(['-n', '40000', ...common, '-i', uris]);
      const hot = await h2load(['-n', '40000', ...common, `${base}/bench.Echo/Hot`]);
      rates.push(`${Math.round(unique.reqPerSec)}/${Math.round(hot.reqPerSec)}`);
    }
    const cpuPerCall = ((cpuSeconds(proxy.child.pid!) - cpuBefore) * 1e6) / 400_000;
    const cacheMiB = watch.stop();
    return `rounds (5 x 40,000 unique + 40,000 hot, 128 streams, 100 B): peak RSS ${peakRssMiB(proxy.child.pid!).toFixed(1)} MiB; RSS at the end ${rssMiB(proxy.child.pid!).toFixed(1)} MiB; cache at most ${cacheMiB.toFixed(1)} MiB; req/s unique/hot per round ${rates.join(', ')}; corral CPU ${cpuPerCall.toFixed(1)} µs/call`;
  } finally {
    watch.stop();
    await proxy.stop();
  }
}

async function shapeSustained(echoPort: number): Promise<string> {
  const frame = join(work, 'frame-1k.bin');
  writeFileSync(frame, encodeFrame(Buffer.alloc(1024, 0x62)));
  const proxy = await startProxy({ ...EVERY_METHOD, BACKEND_ADDRESS: `127.0.0.1:${echoPort}`, COLLAPSER_CACHE_DURATION: '5s', ...extraEnv });
  const watch = cacheHighWater(proxy);
  const base = `http://127.0.0.1:${proxy.grpcPort}`;
  // h2load cycles through its list: 400,000 keys take longer than the 5 s TTL to come round.
  const uris = join(work, 'sustained.txt');
  writeFileSync(uris, Array.from({ length: 400_000 }, (_, i) => `${base}/bench.Echo/S${i}`).join('\n') + '\n');
  try {
    const cpuBefore = cpuSeconds(proxy.child.pid!);
    const load = await h2load(['-D', String(seconds), '-c', '1', '-m', '32', '-d', frame, '-H', 'content-type: application/grpc', '-H', 'te: trailers', '-i', uris]);
    const cpuPerCall = ((cpuSeconds(proxy.child.pid!) - cpuBefore) * 1e6) / load.succeeded;
    const cacheMiB = watch.stop();
    return `sustained (${seconds} s, 32 concurrent unique calls, 1 KiB answers, 5 s TTL): peak RSS ${peakRssMiB(proxy.child.pid!).toFixed(1)} MiB; RSS at the end ${rssMiB(proxy.child.pid!).toFixed(1)} MiB; cache at most ${cacheMiB.toFixed(1)} MiB; ${Math.round(load.reqPerSec)} req/s, ${load.failed} failed, corral CPU ${cpuPerCall.toFixed(1)} µs/call`;
  } finally {
    watch.stop();
    await proxy.stop();
  }
}

const echo = await startProcess(echoJs, ['0'], process.env, 'echo listening');
try {
  const echoPort = echo.ready.port as number;
  const lines = [`${process.version}; corral env ${JSON.stringify(extraEnv)}`];
  if (values.shape !== 'sustained') lines.push(await shapeRounds(echoPort));
  if (values.shape !== 'rounds') lines.push(await shapeSustained(echoPort));
  process.stdout.write(lines.join('\n') + '\n');
} finally {
  await echo.stop();
}
