/**
 * The watchers section of `make bench`: N clients watching one topic, straight to the
 * backend (N backend streams) and through corral with stream_join latest and live (one
 * backend stream). The backend (ticker-backend.ts) sends every stream a message of
 * MESSAGE_BYTES every INTERVAL_MS, stamped with when it sent it. Reported: backend
 * streams, delivery latency from the backend's send to each watcher (p50, p99), the CPU
 * and memory of the process in the middle (corral; the backend itself, direct) per watcher.
 *   node dist/bench/watchers.js [N ...]
 */
import http2 from 'node:http2';
import { fileURLToPath } from 'node:url';
import { startProcess, startProxy, type Started } from '../cmd/processes.js';
import { encodeFrame, FRAME_HEADER_BYTES } from '../src/wire/frame.js';
import { MessageSplitter } from '../src/wire/message-splitter.js';
import { backendJson } from './backend-stats.js';
import { cpuSeconds, percentile, rssMiB } from './e2e.js';

const tickerJs = fileURLToPath(new URL('./ticker-backend.js', import.meta.url));
const INTERVAL_MS = 100;
const MESSAGE_BYTES = 1024;
const MEASURE_MS = 5000;
/** Watchers per client connection (corral takes MAX_CONCURRENT_STREAMS, 1000, per connection). */
const PER_SESSION = 500;
const METHOD = '/bench.Ticker/Watch';

export interface WatchersRun {
  target: 'direct' | 'corral, latest' | 'corral, live';
  watchers: number;
  /** All watchers had their first message: within this long of opening. */
  joinedMs: number;
  backendStreams: number;
  messages: number;
  p50Ms: number;
  p99Ms: number;
  /** The middle process (corral; direct: the backend): CPU over the measured window per watcher-second, memory per watcher. */
  cpuUsPerWatcherSecond: number;
  kibPerWatcher: number;
  failed: number;
}

async function ticker(): Promise<Started & { port: number }> {
  const started = await startProcess(tickerJs, ['0', String(INTERVAL_MS), String(MESSAGE_BYTES)], process.env, 'ticker listening');
  return { ...started, port: started.ready.port as number };
}

/** `n` watchers of one topic on `port`: each message's delivery latency, once `measuring` is set. */
function watch(port: number, n: number) {
  const sessions = Array.from({ length: Math.ceil(n / PER_SESSION) }, () => {
    const s = http2.connect(`http://127.0.0.1:${port}`);
    s.on('error', () => {});
    return s;
  });
  const state = { first: 0, latencies: [] as number[], measuring: false, failed: 0, firstAt: [] as number[] };
  const opened = performance.now();
  const body = encodeFrame(Buffer.from('topic-1'));
  const streams: http2.ClientHttp2Stream[] = [];
  for (let i = 0; i < n; i++) {
    const stream = sessions[Math.floor(i / PER_SESSION)]!.request({ ':method': 'POST', ':path': METHOD, 'content-type': 'application/grpc', te: 'trailers' });
    const splitter = new MessageSplitter();
    let got = false;
    const onMessage = (frame: Buffer) => {
      if (!got) {
        got = true;
        state.first++;
        state.firstAt.push(performance.now() - opened);
      }
      if (state.measuring) state.latencies.push(performance.timeOrigin + performance.now() - frame.readDoubleBE(FRAME_HEADER_BYTES));
    };
    stream.on('data', (chunk: Buffer) => splitter.push(chunk, onMessage));
    stream.on('error', () => state.failed++);
    stream.on('trailers', () => state.failed++);
    stream.end(body);
    streams.push(stream);
  }
  return {
    state,
    close() {
      for (const s of streams) s.close(http2.constants.NGHTTP2_CANCEL);
      for (const s of sessions) s.destroy();
    },
  };
}

async function waitFor(check: () => boolean, ms: number): Promise<boolean> {
  const deadline = performance.now() + ms;
  while (!check()) {
    if (performance.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}

async function run(target: WatchersRun['target'], n: number): Promise<WatchersRun> {
  const backend = await ticker();
  const corral =
    target === 'direct'
      ? null
      : await startProxy({
          BACKEND_ADDRESS: `127.0.0.1:${backend.port}`,
          COLLAPSER_METHODS: '*',
          COLLAPSER_REFLECTION: 'off',
          COLLAPSER_STREAM_JOIN: `${METHOD}=${target === 'corral, latest' ? 'latest' : 'live'}`,
          MAX_CONNECTIONS: '1000',
        });
  const middle = corral ?? backend;
  try {
    const baseline = rssMiB(middle.child.pid!);
    const w = watch(corral?.grpcPort ?? backend.port, n);
    const joined = await waitFor(() => w.state.first === n, 30_000);
    const joinedMs = w.state.firstAt.sort((a, b) => a - b).at(-1) ?? Infinity;
    await new Promise((r) => setTimeout(r, 500));
    const cpu0 = cpuSeconds(middle.child.pid!);
    w.state.measuring = true;
    await new Promise((r) => setTimeout(r, MEASURE_MS));
    w.state.measuring = false;
    const cpu = cpuSeconds(middle.child.pid!) - cpu0;
    const kib = ((rssMiB(middle.child.pid!) - baseline) * 1024) / n;
    const stats = (await backendJson(backend.port, '/')) as { calls: number };
    w.close();
    const latencies = w.state.latencies.sort((a, b) => a - b);
    return {
      target,
      watchers: n,
      joinedMs: joined ? joinedMs : Infinity,
      backendStreams: stats.calls,
      messages: latencies.length,
      p50Ms: percentile(latencies, 50),
      p99Ms: percentile(latencies, 99),
      cpuUsPerWatcherSecond: (cpu * 1e6) / (n * (MEASURE_MS / 1000)),
      kibPerWatcher: kib,
      failed: w.state.failed + (n - w.state.first),
    };
  } finally {
    await corral?.stop();
    await backend.stop();
  }
}

export async function runWatchers(counts = [100, 1000, 10_000]): Promise<WatchersRun[]> {
  const runs: WatchersRun[] = [];
  for (const n of counts) for (const target of ['direct', 'corral, latest', 'corral, live'] as const) runs.push(await run(target, n));
  return runs;
}

export function watchersLines(runs: WatchersRun[]): string[] {
  const out = ['## Watchers: one long server stream fanned out (bench/watchers.ts)', ''];
  out.push(
    `N watchers of one topic; the backend sends every stream a ${MESSAGE_BYTES}-byte message every ${INTERVAL_MS} ms, stamped when sent. Latency: from that stamp to the watcher reading it, over ${MEASURE_MS / 1000} s. CPU and memory: corral's (direct: the backend's), per watcher; memory is RSS growth from before the watchers came.`,
    '',
  );
  out.push('| watchers | target | backend streams | all joined within ms | messages read | p50 ms | p99 ms | CPU µs per watcher-second | KiB per watcher | failed |', '|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of runs) {
    out.push(
      `| ${r.watchers.toLocaleString('en')} | ${r.target} | ${r.backendStreams.toLocaleString('en')} | ${Number.isFinite(r.joinedMs) ? Math.round(r.joinedMs) : 'not all'} | ${r.messages.toLocaleString('en')} | ${r.p50Ms.toFixed(2)} | ${r.p99Ms.toFixed(2)} | ${r.cpuUsPerWatcherSecond.toFixed(1)} | ${r.kibPerWatcher.toFixed(1)} | ${r.failed} |`,
    );
  }
  return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const counts = process.argv.slice(2).map(Number).filter((n) => n > 0);
  process.stdout.write(watchersLines(await runWatchers(counts.length > 0 ? counts : undefined)).join('\n') + '\n');
}
