/**
 * The fleet section of `make bench` (COLLAPSER_FLEET): N corral sidecars, each in front of
 * its own echo replica, registered in a local etcd (Debian's etcd-server), 127.0.0.1 only.
 *   1. Backend calls for one hot key, a herd spread evenly over 1, 2, 4 and 8 sidecars,
 *      fleet on and off (replicas answer after 5 ms, cache off, so only flights collapse).
 *   2. The price of one hop, two sidecars: a hot key through the owner and through the
 *      other (its flights go to the owner), p50/p99; unique keys through one sidecar with
 *      the fleet on (half its keys go to the other) and off: req/s and CPU per call.
 *   node dist/bench/fleet.js [--requests 4000]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { EVERY_METHOD, freePort, startProcess, startProxy, type Proxy, type Started } from '../cmd/processes.js';
import { encodeFrame } from '../src/wire/frame.js';
import { backendCalls, cpuSeconds, h2loadMeasurement, type Measurement } from './e2e.js';

export interface FleetReport {
  /** Backend calls for the hot-key herd, by fleet size, with the fleet on and off. */
  herd: Array<{ sidecars: number; requests: number; on: number; off: number }>;
  /** A hot key through the owner and through the other sidecar (forwarded). */
  hop: { owner: Measurement; forwarded: Measurement };
  /** Unique keys through one sidecar: a two-member fleet, and the fleet off. */
  unique: { on: Measurement & { cpuUsPerCall: number }; off: Measurement & { cpuUsPerCall: number } };
}

const echoJs = fileURLToPath(new URL('./echo-backend.js', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'corral-bench-fleet-'));
const frame = join(work, 'frame.bin');
writeFileSync(frame, encodeFrame(Buffer.alloc(100, 0x61)));

/** h2load, asynchronously (several run at once against different sidecars; e2e's h2load() waits for its run). */
function h2load(uris: string[], requests: number, streams: number): Promise<Measurement> {
  const uriFile = join(work, `uris-${Math.random().toString(36).slice(2)}.txt`);
  const log = `${uriFile}.log`;
  writeFileSync(uriFile, uris.join('\n') + '\n');
  const args = ['-n', String(requests), '-c', '1', '-m', String(streams), '-d', frame, '-H', 'content-type: application/grpc', '-H', 'te: trailers', `--log-file=${log}`];
  args.push(...(uris.length === 1 ? [uris[0]!] : ['-i', uriFile]));
  return new Promise((resolve, reject) => {
    const child = spawn('h2load', args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.on('error', reject);
    child.on('close', () => {
      try {
        resolve(h2loadMeasurement(out, log));
      } catch (err) {
        reject(err);
      }
    });
  });
}

async function startEtcd(): Promise<{ endpoint: string; stop(): void }> {
  const [client, peer] = [await freePort(), await freePort()];
  const child = spawn(
    'etcd',
    ['--data-dir', join(work, 'etcd'), '--listen-client-urls', `http://127.0.0.1:${client}`, '--advertise-client-urls', `http://127.0.0.1:${client}`, '--listen-peer-urls', `http://127.0.0.1:${peer}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${peer}`, '--initial-cluster', `default=http://127.0.0.1:${peer}`],
    { stdio: 'ignore' },
  );
  for (let i = 0; i < 200; i++) {
    const ok = await fetch(`http://127.0.0.1:${client}/health`).then((r) => r.ok, () => false);
    if (ok) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return { endpoint: `127.0.0.1:${client}`, stop: () => child.kill('SIGKILL') };
}

interface Sidecar {
  proxy: Proxy;
  echo: Started;
  echoPort: number;
}

/** `n` sidecars, each with its own echo replica (answering after `delayMs`), in one fleet (or none). */
async function startFleet(n: number, fleet: { etcd: string; service: string } | null, delayMs: number): Promise<Sidecar[]> {
  const sidecars: Sidecar[] = [];
  for (let i = 0; i < n; i++) {
    const echo = await startProcess(echoJs, ['0', String(delayMs)], process.env, 'echo listening');
    const echoPort = echo.ready.port as number;
    const port = await freePort();
    const env: Record<string, string> = { BACKEND_ADDRESS: `127.0.0.1:${echoPort}`, GRPC_PORT: String(port), COLLAPSER_CACHE_DURATION: '0' };
    if (fleet !== null) {
      Object.assign(env, {
        COLLAPSER_FLEET: 'on',
        REGISTRY_ETCD_ENDPOINTS: fleet.etcd,
        REGISTRY_SERVICE: fleet.service,
        REGISTRY_ADVERTISE_ADDRESS: `127.0.0.1:${port}`,
        REGISTRY_TTL: '2s',
      });
    }
    sidecars.push({ proxy: await startProxy({ ...EVERY_METHOD, ...env }), echo, echoPort });
  }
  if (fleet !== null) {
    for (const s of sidecars) {
      for (let i = 0; i < 400 && (await s.proxy.metric('corral_fleet_members')) !== n; i++) await new Promise((r) => setTimeout(r, 50));
    }
  }
  return sidecars;
}

async function stopAll(sidecars: Sidecar[]): Promise<void> {
  await Promise.all(sidecars.map((s) => s.proxy.stop('SIGKILL')));
  await Promise.all(sidecars.map((s) => s.echo.stop()));
}

async function totalCalls(sidecars: Sidecar[]): Promise<number> {
  let n = 0;
  for (const s of sidecars) n += await backendCalls(s.echoPort);
  return n;
}

const HOT = '/bench.Echo/Hot';

export async function runFleet(options: { requests: number }): Promise<FleetReport> {
  const etcd = await startEtcd();
  try {
    const herd: FleetReport['herd'] = [];
    for (const n of [1, 2, 4, 8]) {
      const per = Math.ceil(options.requests / n);
      const row = { sidecars: n, requests: per * n, on: 0, off: 0 };
      for (const on of [true, false]) {
        const sidecars = await startFleet(n, on ? { etcd: etcd.endpoint, service: `bench-fleet-${n}` } : null, 5);
        try {
          await Promise.all(sidecars.map((s) => h2load([`http://${s.proxy.address}${HOT}`], per, 32)));
          row[on ? 'on' : 'off'] = await totalCalls(sidecars);
        } finally {
          await stopAll(sidecars);
        }
      }
      herd.push(row);
    }

    // The price of one hop: two sidecars, replicas answering at once, cache off.
    const pair = await startFleet(2, { etcd: etcd.endpoint, service: 'bench-fleet-hop' }, 0);
    let hop: FleetReport['hop'];
    let fleetUnique: Measurement & { cpuUsPerCall: number };
    try {
      const before = await pair[0]!.proxy.metric('corral_fleet_forwarded_total');
      await h2load([`http://${pair[0]!.proxy.address}${HOT}`], 10, 1);
      const forwardedBy = (await pair[0]!.proxy.metric('corral_fleet_forwarded_total')) > before ? 0 : 1;
      const [via, owner] = [pair[forwardedBy]!, pair[1 - forwardedBy]!];
      const seq = Math.min(options.requests, 2000);
      hop = { owner: await h2load([`http://${owner.proxy.address}${HOT}`], seq, 1), forwarded: await h2load([`http://${via.proxy.address}${HOT}`], seq, 1) };
      fleetUnique = await unique(pair[0]!.proxy, pair.map((s) => s.proxy), options.requests);
    } finally {
      await stopAll(pair);
    }
    const single = await startFleet(1, null, 0);
    let offUnique: Measurement & { cpuUsPerCall: number };
    try {
      offUnique = await unique(single[0]!.proxy, [single[0]!.proxy], options.requests);
    } finally {
      await stopAll(single);
    }
    return { herd, hop, unique: { on: fleetUnique, off: offUnique } };
  } finally {
    etcd.stop();
  }
}

/** Unique keys through `via`; CPU per call counts every corral in `corrals` (a forwarded call costs both). */
async function unique(via: Proxy, corrals: Proxy[], requests: number): Promise<Measurement & { cpuUsPerCall: number }> {
  const uris = Array.from({ length: requests }, (_, i) => `http://${via.address}/bench.Echo/M${i}`);
  const cpu = () => corrals.reduce((s, p) => s + cpuSeconds(p.child.pid!), 0);
  const before = cpu();
  const m = await h2load(uris, requests, 128);
  return { ...m, cpuUsPerCall: ((cpu() - before) * 1e6) / requests };
}

/** The section's lines for bench/results/latest.md and docs. */
export function fleetLines(r: FleetReport): string[] {
  const out = ['## Fleet (COLLAPSER_FLEET: sidecars in front of their own replicas, registered in a local etcd)', ''];
  out.push('Backend calls for one hot key, the herd spread evenly over the sidecars (h2load, 32 in flight per sidecar; replicas answer after 5 ms; cache off):', '');
  out.push('| sidecars | requests | backend calls, fleet on | fleet off |', '|---:|---:|---:|---:|');
  for (const h of r.herd) out.push(`| ${h.sidecars} | ${h.requests.toLocaleString('en')} | ${h.on.toLocaleString('en')} | ${h.off.toLocaleString('en')} |`);
  const f = (m: Measurement) => `${m.p50Ms.toFixed(2)} / ${m.p99Ms.toFixed(2)} ms`;
  out.push('', `One hop (two sidecars, one call at a time, hot key, cache off): through the owner ${f(r.hop.owner)} (p50 / p99), through the other sidecar ${f(r.hop.forwarded)}.`);
  const u = r.unique;
  out.push(
    `Unique keys through one sidecar (h2load, 128 in flight): fleet of two ${Math.round(u.on.reqPerSec).toLocaleString('en')} req/s, ${u.on.cpuUsPerCall.toFixed(0)} µs CPU per call over both corrals; fleet off ${Math.round(u.off.reqPerSec).toLocaleString('en')} req/s, ${u.off.cpuUsPerCall.toFixed(0)} µs (${(u.on.reqPerSec / u.off.reqPerSec).toFixed(2)}x req/s, ${(u.on.cpuUsPerCall / u.off.cpuUsPerCall).toFixed(2)}x CPU).`,
  );
  return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { requests: { type: 'string', default: '4000' } } });
  const report = await runFleet({ requests: Number(values.requests) });
  process.stdout.write(fleetLines(report).join('\n') + '\n');
}
