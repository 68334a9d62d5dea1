/**
 * What corral allocates per call, by path: bytes on the V8 heap (exact: from the used heap
 * before and after every GC, bench/alloc-probe.mjs) and objects (the sampling heap
 * profiler's estimate), for a leader, a follower, a cache hit and a passed-through call,
 * next to the minimal node:http2 pass-through (what any Node proxy allocates). On Node 24
 * the peak RSS follows this rate, so a regression shows here as a number even when the
 * machine is too noisy for req/s to show it.
 *   node dist/bench/allocation.js [--calls 20000] [--json]
 * Binds 127.0.0.1 only and stops what it starts. Needs h2load.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { EVERY_METHOD, startProcess, startProxy, type Started } from '../cmd/processes.js';
import { backendCalls, echoJs, grpcRequest, h2load } from './e2e.js';

export type AllocationPath = 'leader' | 'follower' | 'cache hit' | 'passthrough' | 'floor: node:http2 pass-through';

export interface AllocationRow {
  path: AllocationPath;
  bytesPerCall: number;
  objectsPerCall: number;
  /** Of the bytes, what corral's own functions allocated (sampled); the rest is node's (http2, streams, events) and V8's. */
  corralBytesPerCall: number;
  /** corral's functions that allocate the most, bytes per call (sampled). */
  top: Array<{ site: string; bytes: number }>;
  calls: number;
  gcs: number;
}

interface ProbeReport {
  bytes: number;
  gcs: number;
  sites: Array<{ site: string; objects: number; bytes: number }>;
}

const probe = fileURLToPath(new URL('../../bench/alloc-probe.mjs', import.meta.url));
const floorJs = fileURLToPath(new URL('./floor-proxies.js', import.meta.url));

/** How each path is made: corral's settings, and what the load sends. */
const PATHS: Array<{ path: AllocationPath; env: Record<string, string>; uris: 'unique' | 'hot'; delayMs: number }> = [
  // Every call its own key: each one leads a flight and its answer is cached.
  { path: 'leader', env: { COLLAPSER_METHODS: '*' }, uris: 'unique', delayMs: 0 },
  // One key, nothing cached, a backend that answers after 50 ms: 128 callers share each flight.
  { path: 'follower', env: { COLLAPSER_METHODS: '*', COLLAPSER_CACHE_DURATION: '0' }, uris: 'hot', delayMs: 50 },
  // One key cached for longer than the run: every measured call is served from the cache.
  { path: 'cache hit', env: { COLLAPSER_METHODS: '*', COLLAPSER_CACHE_DURATION: '5m' }, uris: 'hot', delayMs: 0 },
  // No method listed or declared: every call goes to the backend untouched.
  { path: 'passthrough', env: { COLLAPSER_METHODS: '' }, uris: 'unique', delayMs: 0 },
];

export async function runAllocation(calls: number): Promise<AllocationRow[]> {
  const rows: AllocationRow[] = [];
  let leaderBytes = 0;
  let leaderObjects = 0;
  for (const p of PATHS) {
    const out = join(tmpdir(), `corral-alloc-${process.pid}.json`);
    const started: Started[] = [];
    try {
      const echo = await startProcess(echoJs, ['0', String(p.delayMs)], process.env, 'echo listening');
      started.push(echo);
      const proxy = await startProxy({
        ...EVERY_METHOD,
        ...p.env,
        BACKEND_ADDRESS: `127.0.0.1:${echo.ready.port as number}`,
        NODE_OPTIONS: `--import ${probe}`,
        BENCH_ALLOC_OUT: out,
      });
      started.push(proxy);
      const { report, backend } = await measure(proxy, proxy.grpcPort, p.uris, calls, out, echo.ready.port as number);
      let { bytes, objects } = totals(report, calls);
      if (p.path === 'leader') [leaderBytes, leaderObjects] = [bytes, objects];
      if (p.path === 'follower') {
        // Each backend call of the measured part had a leader among the calls: take them out.
        const leaders = Math.min(backend, calls - 1);
        bytes = (bytes * calls - leaderBytes * leaders) / (calls - leaders);
        objects = (objects * calls - leaderObjects * leaders) / (calls - leaders);
      }
      rows.push(row(p.path, report, calls, bytes, objects));
    } finally {
      for (const s of started.reverse()) await s.stop();
      rmSync(out, { force: true });
    }
  }
  // The floor: the minimal pass-through proxy, with the same probe.
  const out = join(tmpdir(), `corral-alloc-floor-${process.pid}.json`);
  const started: Started[] = [];
  try {
    const echo = await startProcess(echoJs, ['0'], process.env, 'echo listening');
    started.push(echo);
    const floor = await startProcess(floorJs, ['http2', String(echo.ready.port as number)], { ...process.env, NODE_OPTIONS: `--import ${probe}`, BENCH_ALLOC_OUT: out }, 'floor proxy listening');
    started.push(floor);
    const { report } = await measure(floor, floor.ready.port as number, 'unique', calls, out, echo.ready.port as number);
    const { bytes, objects } = totals(report, calls);
    rows.push(row('floor: node:http2 pass-through', report, calls, bytes, objects));
  } finally {
    for (const s of started.reverse()) await s.stop();
    rmSync(out, { force: true });
  }
  return rows;
}

/** A warm-up run, then the measured one between the probe's two signals. */
async function measure(target: Started, port: number, uris: 'unique' | 'hot', calls: number, out: string, echoPort: number): Promise<{ report: ProbeReport; backend: number }> {
  const load = { requests: calls, clients: 1, streams: 128 };
  const list = (round: string) =>
    uris === 'hot' ? [`http://127.0.0.1:${port}/bench.Echo/Hot`] : Array.from({ length: calls }, (_, i) => `http://127.0.0.1:${port}/bench.Echo/U${round}x${i}`);
  h2load(list('warm'), load, grpcRequest());
  target.child.kill('SIGUSR2');
  await new Promise((r) => setTimeout(r, 200));
  const before = await backendCalls(echoPort);
  const measured = h2load(list('measured'), load, grpcRequest());
  if (measured.failed > 0) throw new Error(`${measured.failed} calls failed while measuring allocation`);
  target.child.kill('SIGUSR2');
  const backend = (await backendCalls(echoPort)) - before;
  for (let i = 0; i < 100 && !existsSync(out); i++) await new Promise((r) => setTimeout(r, 100));
  return { report: JSON.parse(readFileSync(out, 'utf8')) as ProbeReport, backend };
}

function totals(report: ProbeReport, calls: number): { bytes: number; objects: number } {
  return { bytes: report.bytes / calls, objects: report.sites.reduce((n, s) => n + s.objects, 0) / calls };
}

function row(path: AllocationPath, report: ProbeReport, calls: number, bytes: number, objects: number): AllocationRow {
  const ours = report.sites.filter((s) => s.site.includes('dist/src/') && !s.site.includes(' < '));
  return {
    path,
    bytesPerCall: bytes,
    objectsPerCall: objects,
    corralBytesPerCall: ours.reduce((n, s) => n + s.bytes, 0) / calls,
    top: ours.slice(0, 3).map((s) => ({ site: s.site.replace(/^(\S+) dist\/src\//, '$1 '), bytes: s.bytes / calls })),
    calls,
    gcs: report.gcs,
  };
}

export function allocationLines(rows: AllocationRow[]): string[] {
  const out = [
    '| path | bytes/call | objects/call | of the bytes, in corral\'s own functions | where corral allocates most (bytes/call) |',
    '|---|---:|---:|---:|---|',
  ];
  for (const r of rows) {
    out.push(
      `| ${r.path} | ${Math.round(r.bytesPerCall).toLocaleString('en')} | ${r.objectsPerCall.toFixed(0)} | ${Math.round(r.corralBytesPerCall).toLocaleString('en')} | ${r.top.map((t) => `${t.site} ${Math.round(t.bytes)}`).join('; ')} |`,
    );
  }
  return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { calls: { type: 'string', default: '20000' }, json: { type: 'boolean', default: false } } });
  const rows = await runAllocation(Number(values.calls));
  process.stdout.write(values.json ? JSON.stringify(rows) + '\n' : allocationLines(rows).join('\n') + '\n');
}
