/**
 * The overload section of `make bench`: a herd of distinct calls against a backend with a
 * fixed capacity (bench/capacity-backend.ts: 8 workers, 25 ms a call, 320 calls/s; it
 * finishes calls whose callers left). Open-loop load (bench/open-loop.ts) of distinct
 * calls, each with a 300 ms deadline the client keeps, from half the capacity to five
 * times it, against the backend direct, nginx in front of it, and corral without a limit,
 * with a fixed limit and adaptive. Then, with the adaptive limit: recovery after an
 * overload, a critical route, a quiet tenant beside a loud one, a herd mid-overload.
 * Each run gets a fresh backend (one buried by an earlier run would take its queue's
 * time to dig out). Writes bench/results/overload.md and docs/overload-goodput.svg.
 *   node dist/bench/overload.js [--seconds 5]
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { EVERY_METHOD, startProcess, startProxy, type Proxy } from '../cmd/processes.js';
import { peakRssMiB, percentile, startNginx } from './e2e.js';
import { backendJson } from './backend-stats.js';
import { distinct, goodput, openLoop, type CallResult, type LoadShape } from './open-loop.js';

const WORKERS = 8;
const SERVICE_MS = 25;
const CAPACITY = (WORKERS * 1000) / SERVICE_MS;
const DEADLINE_MS = 300;
const LOADS = [0.5, 1, 1.5, 2, 3, 5];
const FIXED_LIMIT = 16;
const TARGETS = ['direct', 'nginx', 'corral, no limit', `corral, limit ${FIXED_LIMIT}`, 'corral, adaptive'] as const;
type Target = (typeof TARGETS)[number];

const capacityJs = fileURLToPath(new URL('./capacity-backend.js', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'corral-overload-'));

export interface SweepPoint {
  target: Target;
  load: number;
  goodput: number;
  okPct: number;
  p99OkMs: number;
  /** Calls answered UNAVAILABLE or RESOURCE_EXHAUSTED, and how fast (p90). */
  refused: number;
  refusedP90Ms: number;
  backendMaxQueue: number;
  /** The adaptive limit at the end of the run. */
  limit: number | null;
  /** corral's peak RSS over the run (VmHWM); null for the targets without corral. */
  corralPeakRssMiB: number | null;
}

export interface OverloadReport {
  seconds: number;
  sweep: SweepPoint[];
  recovery: Array<{ target: Target; okPctFirst2s: number; okPctAfter2s: number }>;
  priority: { criticalOkPct: number; normalGoodput: number; limit: number };
  fairness: { quietOkPct: number; loudGoodput: number };
  herd: { okPct: number; backendCalls: number; aroundGoodput: number };
}

interface Backend {
  port: number;
  stats(): Promise<{ maxQueue: number; byTag: Record<string, number> }>;
  stop(): Promise<unknown>;
}

async function capacityBackend(): Promise<Backend> {
  const started = await startProcess(capacityJs, ['0', String(WORKERS), String(SERVICE_MS)], process.env, 'capacity backend listening');
  const port = started.ready.port as number;
  return { port, stats: () => backendJson(port, '/stats') as Promise<{ maxQueue: number; byTag: Record<string, number> }>, stop: () => started.stop() };
}

/** A target in front of a fresh backend; everything started is stopped after `run`. */
async function withTarget<T>(target: Target, env: Record<string, string>, run: (port: number, backend: Backend, proxy: Proxy | null) => Promise<T>): Promise<T> {
  const backend = await capacityBackend();
  const stops: Array<() => Promise<unknown>> = [() => backend.stop()];
  try {
    if (target === 'direct') return await run(backend.port, backend, null);
    if (target === 'nginx') {
      const nginx = await startNginx(backend.port);
      stops.push(nginx.stop);
      return await run(nginx.port, backend, null);
    }
    const limit = target === 'corral, adaptive' ? 'adaptive' : target === 'corral, no limit' ? 'off' : String(FIXED_LIMIT);
    const proxy = await startProxy({ ...EVERY_METHOD, BACKEND_ADDRESS: `127.0.0.1:${backend.port}`, BACKEND_CONCURRENCY: limit, ...env });
    stops.push(() => proxy.stop());
    return await run(proxy.grpcPort, backend, proxy);
  } finally {
    for (const stop of stops.reverse()) await stop();
  }
}

const shape = (port: number, load: number, seconds: number, tag: string, extra: Partial<LoadShape> = {}): LoadShape => ({
  port,
  rate: load * CAPACITY,
  seconds,
  deadlineMs: DEADLINE_MS,
  path: '/bench.Echo/Get',
  request: distinct(tag),
  ...extra,
});

const ok = (r: readonly CallResult[]) => r.filter((c) => c.status === 0);
const okPct = (r: readonly CallResult[]) => (r.length === 0 ? 0 : (100 * ok(r).length) / r.length);
const sorted = (r: readonly CallResult[]) => r.map((c) => c.latencyMs).sort((a, b) => a - b);
const limitOf = async (proxy: Proxy | null) => (proxy === null ? null : proxy.metric('corral_backend_concurrency_limit'));

async function sweepPoint(target: Target, load: number, seconds: number): Promise<SweepPoint> {
  return withTarget(target, {}, async (port, backend, proxy) => {
    const results = await openLoop(shape(port, load, seconds, 'sweep'));
    const refused = results.filter((c) => c.status === 14 || c.status === 8);
    return {
      target,
      load,
      goodput: goodput(results, seconds),
      okPct: okPct(results),
      p99OkMs: percentile(sorted(ok(results)), 99),
      refused: refused.length,
      refusedP90Ms: percentile(sorted(refused), 90),
      backendMaxQueue: (await backend.stats()).maxQueue,
      limit: await limitOf(proxy),
      corralPeakRssMiB: proxy === null ? null : peakRssMiB(proxy.child.pid!),
    };
  });
}

const after = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** 3x the capacity, then half of it at once: how soon calls are answered again. */
async function recovery(target: Target, seconds: number): Promise<OverloadReport['recovery'][number]> {
  return withTarget(target, {}, async (port) => {
    const overload = openLoop(shape(port, 3, seconds, 'over'));
    await after(seconds * 1000);
    const calm = await openLoop(shape(port, 0.5, seconds, 'calm'));
    await overload;
    return { target, okPctFirst2s: okPct(calm.filter((c) => c.sentMs < 2000)), okPctAfter2s: okPct(calm.filter((c) => c.sentMs >= 2000)) };
  });
}

async function priority(seconds: number): Promise<OverloadReport['priority']> {
  return withTarget('direct', {}, async (backendPort) => {
    const routes = join(work, 'priority.yaml');
    writeFileSync(
      routes,
      `default: { action: use_cluster, use_cluster: backend }
routes:
  - { prefix: /bench.Critical/, cluster: backend, priority: critical }
clusters:
  backend: { type: static, addresses: ['127.0.0.1:${backendPort}'], concurrency: adaptive }
`,
    );
    const proxy = await startProxy({ ...EVERY_METHOD, CONFIG_PATH: routes });
    try {
      const [normal, critical] = await Promise.all([
        openLoop(shape(proxy.grpcPort, 2.25, seconds, 'normal')),
        openLoop(shape(proxy.grpcPort, 0.75, seconds, 'critical', { path: '/bench.Critical/Get' })),
      ]);
      return { criticalOkPct: okPct(critical), normalGoodput: goodput(normal, seconds), limit: await proxy.metric('corral_backend_concurrency_limit') };
    } finally {
      await proxy.stop();
    }
  });
}

async function fairness(seconds: number): Promise<OverloadReport['fairness']> {
  return withTarget('corral, adaptive', { BACKEND_CONCURRENCY_FAIR_BY: 'x-tenant' }, async (port) => {
    const [loud, quiet] = await Promise.all([
      openLoop(shape(port, 3, seconds, 'loud', { metadata: { 'x-tenant': 'loud' } })),
      openLoop(shape(port, 0.2, seconds, 'quiet', { metadata: { 'x-tenant': 'quiet' } })),
    ]);
    return { quietOkPct: okPct(quiet), loudGoodput: goodput(loud, seconds) };
  });
}

/** 200 identical calls at once, 2 s into 3x the capacity in distinct calls. */
async function herd(seconds: number): Promise<OverloadReport['herd']> {
  return withTarget('corral, adaptive', {}, async (port, backend) => {
    const around = openLoop(shape(port, 3, seconds, 'around'));
    await after(2000);
    const same = distinct('herd')(0);
    // 200 calls in the first millisecond (as fast as the client sends them).
    const herdCalls = await openLoop({ ...shape(port, 0, 0.001, 'herd'), rate: 200_000, request: () => same });
    const background = await around;
    return { okPct: okPct(herdCalls), backendCalls: (await backend.stats()).byTag.herd ?? 0, aroundGoodput: goodput(background, seconds) };
  });
}

export async function runOverload(seconds = 5): Promise<OverloadReport> {
  const sweep: SweepPoint[] = [];
  for (const load of LOADS) for (const target of TARGETS) sweep.push(await sweepPoint(target, load, seconds));
  const recoveries = [await recovery('corral, no limit', seconds), await recovery('corral, adaptive', seconds)];
  return { seconds, sweep, recovery: recoveries, priority: await priority(seconds), fairness: await fairness(seconds), herd: await herd(seconds) };
}

const f0 = (n: number) => Math.round(n).toLocaleString('en');

export function overloadLines(r: OverloadReport): string[] {
  const out = ['## Overload: a herd of distinct calls (bench/overload.ts)', ''];
  out.push(
    `A backend with a fixed capacity (${WORKERS} workers, ${SERVICE_MS} ms a call: ${CAPACITY} calls/s; it finishes calls whose callers left), open-loop load of distinct calls with a ${DEADLINE_MS} ms deadline the client keeps, ${r.seconds} s per run, a fresh backend per run. Goodput: calls answered OK within their deadline, per second. Refused: answered UNAVAILABLE or RESOURCE_EXHAUSTED.`,
    '',
  );
  out.push(
    '| offered | target | goodput/s | OK % | p99 of OK ms | refused | refused p90 ms | backend queue max | adaptive limit | corral peak RSS MiB |',
    '|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  );
  for (const p of r.sweep) {
    out.push(
      `| ${p.load}x (${f0(p.load * CAPACITY)}/s) | ${p.target} | ${f0(p.goodput)} | ${p.okPct.toFixed(1)} | ${p.p99OkMs.toFixed(0)} | ${f0(p.refused)} | ${p.refused > 0 ? p.refusedP90Ms.toFixed(1) : ''} | ${f0(p.backendMaxQueue)} | ${p.limit === null || p.target !== 'corral, adaptive' ? '' : p.limit} | ${p.corralPeakRssMiB === null ? '' : p.corralPeakRssMiB.toFixed(0)} |`,
    );
  }
  out.push('', `With the adaptive limit (${CAPACITY} calls/s of capacity):`, '');
  for (const rec of r.recovery) {
    out.push(`- recovery, ${rec.target}: 3x for ${r.seconds} s, then 0.5x: ${rec.okPctFirst2s.toFixed(1)}% OK in the first 2 s of the calm, ${rec.okPctAfter2s.toFixed(1)}% after`);
  }
  out.push(
    `- priority: 2.25x on a normal route and 0.75x on a \`priority: critical\` one: ${r.priority.criticalOkPct.toFixed(1)}% of critical calls OK in time; normal goodput ${f0(r.priority.normalGoodput)}/s; limit ${r.priority.limit}`,
  );
  out.push(`- fairness (BACKEND_CONCURRENCY_FAIR_BY=x-tenant): a quiet tenant at 0.2x beside a loud one at 3x: ${r.fairness.quietOkPct.toFixed(1)}% of the quiet one's calls OK; the loud one's goodput ${f0(r.fairness.loudGoodput)}/s`);
  out.push(`- herd: 200 identical calls 2 s into 3x in distinct calls: ${r.herd.okPct.toFixed(1)}% OK, ${r.herd.backendCalls} backend call(s) for them; goodput of the distinct calls ${f0(r.herd.aroundGoodput)}/s`);
  return out;
}

/** Goodput against offered load, one line per target: an SVG made here, for docs/overload.md. */
export function goodputSvg(r: OverloadReport): string {
  const W = 640;
  const H = 380;
  const left = 60;
  const right = 170;
  const top = 20;
  const bottom = 50;
  const maxX = Math.max(...LOADS);
  const maxY = CAPACITY * 1.15;
  const x = (load: number) => left + (load / maxX) * (W - left - right);
  const y = (calls: number) => H - bottom - (calls / maxY) * (H - top - bottom);
  const colors: Record<Target, string> = {
    direct: '#999999',
    nginx: '#d62728',
    'corral, no limit': '#ff7f0e',
    [`corral, limit ${FIXED_LIMIT}`]: '#1f77b4',
    'corral, adaptive': '#2ca02c',
  } as Record<Target, string>;
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  parts.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  for (let calls = 0; calls <= maxY; calls += 50) {
    parts.push(`<line x1="${left}" y1="${y(calls)}" x2="${W - right}" y2="${y(calls)}" stroke="#eeeeee"/>`);
    parts.push(`<text x="${left - 6}" y="${y(calls) + 4}" text-anchor="end">${calls}</text>`);
  }
  for (const load of LOADS) parts.push(`<text x="${x(load)}" y="${H - bottom + 16}" text-anchor="middle">${load}x</text>`);
  parts.push(`<line x1="${left}" y1="${y(CAPACITY)}" x2="${W - right}" y2="${y(CAPACITY)}" stroke="black" stroke-dasharray="4 4"/>`);
  parts.push(`<text x="${x(LOADS[0]!)}" y="${y(CAPACITY) - 6}">backend capacity (${CAPACITY}/s)</text>`);
  parts.push(`<text x="${(left + W - right) / 2}" y="${H - 10}" text-anchor="middle">offered load (x capacity, distinct calls, ${DEADLINE_MS} ms deadline)</text>`);
  parts.push(`<text x="14" y="${(top + H - bottom) / 2}" text-anchor="middle" transform="rotate(-90 14 ${(top + H - bottom) / 2})">calls OK in time per second</text>`);
  TARGETS.forEach((target, i) => {
    const points = r.sweep.filter((p) => p.target === target).map((p) => `${x(p.load).toFixed(1)},${y(p.goodput).toFixed(1)}`);
    parts.push(`<polyline points="${points.join(' ')}" fill="none" stroke="${colors[target]}" stroke-width="2.5"/>`);
    for (const p of points) parts.push(`<circle cx="${p.split(',')[0]}" cy="${p.split(',')[1]}" r="3" fill="${colors[target]}"/>`);
    const ly = top + 110 + i * 20;
    parts.push(`<line x1="${W - right + 10}" y1="${ly}" x2="${W - right + 30}" y2="${ly}" stroke="${colors[target]}" stroke-width="2.5"/>`);
    parts.push(`<text x="${W - right + 36}" y="${ly + 4}">${target}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { seconds: { type: 'string', default: '5' }, scenario: { type: 'string' } } });
  // One scenario alone, printed as JSON: while tuning.
  const scenarios: Record<string, (s: number) => Promise<unknown>> = { priority, fairness, herd, recovery: (s) => recovery('corral, adaptive', s) };
  if (values.scenario !== undefined) {
    process.stdout.write(JSON.stringify(await scenarios[values.scenario]!(Number(values.seconds))) + '\n');
    process.exit(0);
  }
  const report = await runOverload(Number(values.seconds));
  const lines = [`# corral benchmark: overload, ${new Date().toISOString()}`, '', `Machine: ${cpus().length} x ${cpus()[0]?.model ?? '?'}; ${process.version}.`, '', ...overloadLines(report)];
  const text = lines.join('\n') + '\n';
  process.stdout.write(text);
  writeFileSync(fileURLToPath(new URL('../../bench/results/overload.md', import.meta.url)), text);
  writeFileSync(fileURLToPath(new URL('../../docs/overload-goodput.svg', import.meta.url)), goodputSvg(report));
}
