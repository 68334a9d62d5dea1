/**
 * `make bench`: the micro benchmarks and the end-to-end comparison, one summary table,
 * written to bench/results/ with the machine's details.
 *   node dist/bench/run.js [--requests 20000] [--rounds 5] [--clients 1] [--streams 128] [--corral-node-options '...']
 *     [--compare-node /usr/bin/node] [--compare-v8-flags ''] [--gateway-only] [--sustained-seconds 120]
 * With --compare-node or --compare-v8-flags a second corral ('corral B') runs side by side
 * with the first, on that node binary and/or with those CORRAL_V8_FLAGS.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runE2e, type E2eResult, type Target } from './e2e.js';
import { allocationLines, runAllocation } from './allocation.js';
import { idleRss } from './idle-memory.js';
import { runTls, tlsLines } from './tls.js';
import { runGateway, type GatewayReport } from './gateway.js';
import { fleetLines, runFleet } from './fleet.js';
import { outageLines, runOutage } from './outage.js';
import { goodputSvg, overloadLines, runOverload } from './overload.js';
import { runWatchers, watchersLines } from './watchers.js';
import type { MicroResult } from './micro.js';

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '20000' },
    rounds: { type: 'string', default: '5' },
    // One connection: h2load starts every client at the top of the URI list, so with more
    // than one the "unique keys" workload would send each key once per client.
    clients: { type: 'string', default: '1' },
    streams: { type: 'string', default: '128' },
    'corral-node-options': { type: 'string', default: '' },
    'compare-node': { type: 'string' },
    'compare-v8-flags': { type: 'string' },
    // The HTTP/JSON gateway's section alone (results written to gateway.md, latest.md untouched).
    'gateway-only': { type: 'boolean', default: false },
    // corral's memory under sustained load (bench/sustained-memory.ts): seconds of the 5 s-TTL shape; 0 skips it.
    'sustained-seconds': { type: 'string', default: '120' },
  },
});
const compareNode = values['compare-node'];
const compareFlags = values['compare-v8-flags'];
const options = {
  corralNodeOptions: values['corral-node-options'],
  compare: compareNode !== undefined || compareFlags !== undefined ? { node: compareNode, v8Flags: compareFlags } : null,
  requests: Number(values.requests),
  rounds: Number(values.rounds),
  clients: Number(values.clients),
  streamsPerClient: Number(values.streams),
};

/** First line a tool prints about its version (nginx -v writes it to stderr). */
const version = (cmd: string, args: string[]) => {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return `${r.stdout ?? ''}${r.stderr ?? ''}`.split('\n')[0]!.trim() || `${cmd}: not found`;
};
const machine = {
  date: new Date().toISOString(),
  cpu: `${cpus().length} x ${cpus()[0]?.model ?? '?'}`,
  memoryGiB: Math.round(totalmem() / 2 ** 30),
  node: process.version,
  nginx: version('nginx', ['-v']).replace('nginx version: ', ''),
  h2load: version('h2load', ['--version']),
};

const resultsDir = fileURLToPath(new URL('../../bench/results/', import.meta.url));
mkdirSync(resultsDir, { recursive: true });
const gateway = await runGateway({ requests: options.requests, rounds: options.rounds });
const gatewayLines = gatewayReport(gateway);
if (values['gateway-only']) {
  const report = [`# corral benchmark: HTTP/JSON gateway, ${machine.date}`, '', `Machine: ${machine.cpu}, ${machine.memoryGiB} GiB; ${machine.node}; ${machine.h2load}.`, '', ...gatewayLines].join('\n') + '\n';
  process.stdout.write('\n' + report);
  writeFileSync(`${resultsDir}/gateway.md`, report);
  process.exit(0);
}

// Micro benchmarks run in their own process, with --expose-gc for the bytes/op estimate.
const micro = JSON.parse(
  execFileSync(process.execPath, ['--expose-gc', fileURLToPath(new URL('./micro.js', import.meta.url)), '--json'], { encoding: 'utf8' }),
) as MicroResult[];
const e2e = await runE2e(options);

const targets = { 'cache hit (key + lookup + replay)': 1000, follower: 1500, leader: 5000 };
const microTarget = (name: string) => Object.entries(targets).find(([k]) => name.startsWith(k.split(' ')[0]!))?.[1];
const get = (workload: E2eResult['workload'], target: E2eResult['target']) =>
  e2e.results.find((r) => r.workload === workload && r.target === target)!;

const lines: string[] = [];
lines.push(`# corral benchmark, ${machine.date}`, '');
lines.push(`Machine: ${machine.cpu}, ${machine.memoryGiB} GiB; ${machine.node}; ${machine.nginx}; ${machine.h2load}.`);
lines.push(
  `End to end: h2load -n ${options.requests} -c ${options.clients} -m ${options.streamsPerClient}, ${options.rounds} rounds interleaved, medians; nginx with 1 worker; 100-byte message${options.corralNodeOptions ? `; corral run with NODE_OPTIONS='${options.corralNodeOptions}'` : ''}.`,
  '',
);
lines.push('## Micro (tinybench, per operation, key computed every time)', '');
lines.push('| scenario | median ns/op | p99 ns/op | ops/s | ~bytes/op | target |', '|---|---:|---:|---:|---:|---:|');
for (const m of micro) {
  const target = microTarget(m.name);
  lines.push(
    `| ${m.name} | ${m.nsPerOp.toFixed(0)} | ${m.p99NsPerOp.toFixed(0)} | ${Math.round(m.opsPerSec).toLocaleString('en')} | ${m.bytesPerOp ?? '?'} | ${target ? `<= ${target}${m.nsPerOp <= target ? ' met' : ' **missed**'}` : ''} |`,
  );
}
lines.push('', '## End to end (h2load)', '');
lines.push(
  'req/s is the median of the rounds, with the slowest and fastest round beside it; CPU is the target process\'s own (direct: the backend\'s; nginx: master and worker) per request over every round.',
  '',
);
lines.push('| workload | target | req/s | rounds min-max | p50 ms | p99 ms | failed | backend calls | CPU µs/req |', '|---|---|---:|---:|---:|---:|---:|---:|---:|');
for (const r of e2e.results) {
  const rps = r.rounds.map((m) => m.reqPerSec);
  lines.push(
    `| ${r.workload} | ${r.target} | ${Math.round(r.median.reqPerSec).toLocaleString('en')} | ${Math.round(Math.min(...rps)).toLocaleString('en')}-${Math.round(Math.max(...rps)).toLocaleString('en')} | ${r.median.p50Ms.toFixed(2)} | ${r.median.p99Ms.toFixed(2)} | ${r.median.failed} | ${r.backendCalls.toLocaleString('en')} | ${r.cpuUsPerRequest === undefined ? '' : r.cpuUsPerRequest.toFixed(1)} |`,
  );
}
lines.push('', '## corral processes', '');
lines.push('| target | node | V8 flags | peak RSS MiB | hot key req/s | unique keys req/s | CPU µs/req hot / unique |', '|---|---|---|---:|---:|---:|---:|');
for (const c of e2e.corrals) {
  const hot = get('hot key', c.target);
  const unique = get('unique keys', c.target);
  lines.push(
    `| ${c.target} | ${c.node} | ${c.v8Flags || '(none)'} | ${c.peakRssMiB.toFixed(1)} | ${Math.round(hot.median.reqPerSec).toLocaleString('en')} | ${Math.round(unique.median.reqPerSec).toLocaleString('en')} | ${hot.cpuUsPerRequest!.toFixed(1)} / ${unique.cpuUsPerRequest!.toFixed(1)} |`,
  );
}
if (e2e.corrals.length === 2) {
  const [a, b] = ['corral', 'corral B'] as const;
  const r = (w: E2eResult['workload'], f: (x: E2eResult) => number) => ratio(f(get(w, a)), f(get(w, b))).toFixed(2);
  lines.push(
    '',
    `corral / corral B: hot key req/s ${r('hot key', (x) => x.median.reqPerSec)}x, CPU/req ${r('hot key', (x) => x.cpuUsPerRequest!)}x; unique keys req/s ${r('unique keys', (x) => x.median.reqPerSec)}x, CPU/req ${r('unique keys', (x) => x.cpuUsPerRequest!)}x; peak RSS ${ratio(e2e.corrals[0]!.peakRssMiB, e2e.corrals[1]!.peakRssMiB).toFixed(2)}x`,
  );
}
const hotVsNginx = ratio(get('hot key', 'corral').median.reqPerSec, get('hot key', 'nginx').median.reqPerSec);
const hotVsDirect = ratio(get('hot key', 'corral').median.reqPerSec, get('hot key', 'direct').median.reqPerSec);
const uniqueVsNginx = ratio(get('unique keys', 'corral').median.reqPerSec, get('unique keys', 'nginx').median.reqPerSec);
const hotCalls = get('hot key', 'corral').backendCalls;
const hotRequests = options.requests * options.rounds;
lines.push('', '## Ratios', '');
const cpuRatio = (w: E2eResult['workload'], a: Target, b: Target) => ratio(get(w, a).cpuUsPerRequest!, get(w, b).cpuUsPerRequest!).toFixed(2);
lines.push(`- hot key: corral / nginx = ${hotVsNginx.toFixed(2)}x (target >= 2.0x); corral / direct = ${hotVsDirect.toFixed(2)}x (target >= 0.9x)`);
lines.push(`- hot key: CPU per request, corral / nginx = ${cpuRatio('hot key', 'corral', 'nginx')}x (target <= 0.6x); corral / the backend itself = ${cpuRatio('hot key', 'corral', 'direct')}x`);
lines.push(`- unique keys: corral / nginx = ${uniqueVsNginx.toFixed(2)}x (target >= 1.0x); CPU per request, corral / nginx = ${cpuRatio('unique keys', 'corral', 'nginx')}x, corral / the node:http2 pass-through = ${cpuRatio('unique keys', 'corral', 'floor: node:http2 pass-through')}x`);
lines.push(`- hot key: ${hotRequests.toLocaleString('en')} requests through corral made ${hotCalls} backend calls`);
const floor = get('unique keys', 'floor: node:http2 pass-through').median.reqPerSec;
const grpcJs = get('unique keys', 'floor: grpc-js upstream').median.reqPerSec;
lines.push(`- unique keys: corral / minimal node:http2 pass-through = ${ratio(get('unique keys', 'corral').median.reqPerSec, floor).toFixed(2)}x; nginx / that floor = ${ratio(get('unique keys', 'nginx').median.reqPerSec, floor).toFixed(2)}x`);
lines.push(`- data path: minimal node:http2 pass-through / minimal grpc-js-upstream proxy = ${ratio(floor, grpcJs).toFixed(2)}x (unique keys)`);
lines.push(`- corral peak RSS: ${e2e.corralPeakRssMiB.toFixed(1)} MiB; cache bytes sampled after each h2load run, largest: ${e2e.corralCacheBytesMax} (bound 67108864)`);

const sustainedSeconds = Number(values['sustained-seconds']);
if (sustainedSeconds > 0) {
  // In its own process, with a fresh corral per shape: what the pod manifests' memory is set from.
  const sustained = execFileSync(process.execPath, [fileURLToPath(new URL('./sustained-memory.js', import.meta.url)), '--seconds', String(sustainedSeconds)], {
    encoding: 'utf8',
  });
  lines.push('', '## Memory under sustained load (bench/sustained-memory.ts)', '', ...sustained.trim().split('\n').map((l) => `- ${l}`));
}

// Bytes and objects allocated per call, by path (bench/allocation.ts), and memory at rest.
const allocation = await runAllocation(options.requests);
lines.push('', '## Allocation per call (bench/allocation.ts)', '');
lines.push(`${options.requests.toLocaleString('en')} calls per path after as many to warm up; bytes on the V8 heap from its used size around every GC (exact), objects from V8's sampling heap profiler (an estimate).`, '');
lines.push(...allocationLines(allocation));
const idle = await idleRss();
lines.push('', '## Idle memory (bench/idle-memory.ts)', '');
lines.push(...idle.map((r) => `- ${r.setting}: RSS ${r.rssMiB.toFixed(1)} MiB (${r.anonMiB.toFixed(1)} MiB of its own, ${r.fileMiB.toFixed(1)} MiB mapped from files: the node binary and libraries, shared with every process that maps them), ${r.seconds} s after start`));

// TLS on the front against nginx's (bench/tls.ts).
const tls = await runTls({ rounds: Math.min(options.rounds, 3), requests: options.requests });
lines.push('', ...tlsLines(tls, Math.min(options.rounds, 3)));

lines.push('', ...gatewayLines);
// The fleet: sidecars in front of their own replicas, one collapser (bench/fleet.ts).
const fleet = await runFleet({ requests: Math.min(options.requests, 8000) });
lines.push('', ...fleetLines(fleet));
// The cache policy while the backend is down or slow (bench/outage.ts).
const outage = await runOutage();
lines.push('', ...outageLines(outage));
// One client against the others: a flood of streams that never finish, and of idle connections (bench/attacks.ts).
const attacks = execFileSync(process.execPath, [fileURLToPath(new URL('./attacks.js', import.meta.url))], { encoding: 'utf8' });
lines.push('', '## Attacks (bench/attacks.ts)', '', ...attacks.trim().split('\n').map((l) => `- ${l}`));

// A herd of distinct calls against a backend of fixed capacity (bench/overload.ts), with its plot for docs/overload.md.
const overload = await runOverload();
const overloadSection = overloadLines(overload);
lines.push('', ...overloadSection);
writeFileSync(`${resultsDir}/overload.md`, [`# corral benchmark: overload, ${machine.date}`, '', `Machine: ${machine.cpu}; ${machine.node}; ${machine.nginx}.`, '', ...overloadSection].join('\n') + '\n');
writeFileSync(fileURLToPath(new URL('../../docs/overload-goodput.svg', import.meta.url)), goodputSvg(overload));

// Watchers of one long server stream, straight to the backend and fanned out by corral (bench/watchers.ts).
const watchers = await runWatchers();
const watchersSection = watchersLines(watchers);
lines.push('', ...watchersSection);
writeFileSync(`${resultsDir}/watchers.md`, [`# corral benchmark: watchers, ${machine.date}`, '', `Machine: ${machine.cpu}; ${machine.node}.`, '', ...watchersSection].join('\n') + '\n');

const report = lines.join('\n') + '\n';
process.stdout.write('\n' + report);
writeFileSync(`${resultsDir}/latest.md`, report);
writeFileSync(`${resultsDir}/latest.json`, JSON.stringify({ machine, options, micro, e2e, allocation, idle, tls, gateway, fleet, outage, overload, watchers }, null, 2) + '\n');

function ratio(a: number, b: number): number {
  return b > 0 ? a / b : 0;
}

/** The gateway section: each path's medians, and the ratios against grpc-js calling the backend directly. */
function gatewayReport(g: GatewayReport): string[] {
  const out = ['## HTTP/JSON gateway (GET /v1/items/{id} → bench.v1.Items/GetItem)', ''];
  out.push(`${options.requests.toLocaleString('en')} requests per run, ${options.rounds} rounds interleaved, medians; Node clients keep 128 calls in flight on one connection.`, '');
  out.push('| workload | path | req/s | p50 ms | p99 ms | failed | backend calls | corral CPU µs/req |', '|---|---|---:|---:|---:|---:|---:|---:|');
  for (const r of g.results) {
    out.push(
      `| ${r.workload} | ${r.target} | ${Math.round(r.median.reqPerSec).toLocaleString('en')} | ${r.median.p50Ms.toFixed(2)} | ${r.median.p99Ms.toFixed(2)} | ${r.median.failed} | ${r.backendCalls.toLocaleString('en')} | ${r.cpuUsPerRequest === undefined ? '' : r.cpuUsPerRequest.toFixed(1)} |`,
    );
  }
  out.push('', 'Against the grpc-js client calling the backend directly (req/s ratio, same workload):', '');
  for (const workload of ['hot key', 'unique keys'] as const) {
    const direct = g.results.find((r) => r.workload === workload && r.target === 'grpc-js client → backend')!.median.reqPerSec;
    const others = g.results.filter((r) => r.workload === workload && r.target !== 'grpc-js client → backend');
    out.push(`- ${workload}: ${others.map((r) => `${r.target.replace(' → corral', ' via corral')} ${ratio(r.median.reqPerSec, direct).toFixed(2)}x`).join('; ')}`);
  }
  out.push('', `corral peak RSS over the gateway runs: ${g.corralPeakRssMiB.toFixed(1)} MiB`);
  return out;
}
