/**
 * TLS on the front, side by side: corral (TLS_CERT_FILE, cleartext to the backend) against
 * nginx (`listen ... ssl http2`, grpc_pass in cleartext, one worker), both in front of the
 * echo backend, with a P-256 certificate made here with openssl.
 *   - hot key and unique keys over one TLS connection, 128 streams (as the cleartext bench):
 *     req/s and CPU per request;
 *   - handshakes: 1,000 clients, each its own connection with one call: new connections per
 *     second and CPU per connection.
 * Rounds interleaved, medians. Binds 127.0.0.1 only, stops what it starts.
 *   node dist/bench/tls.js [--rounds 3] [--requests 20000]
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { EVERY_METHOD, startProxy, type Started } from '../cmd/processes.js';
import { cpuSeconds, echoBehindNginx, grpcRequest, h2load, median, type Measurement } from './e2e.js';

export interface TlsRow {
  workload: 'hot key' | 'unique keys' | 'new connections';
  target: 'nginx' | 'corral';
  /** req/s; for new connections, connections (each with one call) per second. */
  perSecond: number;
  rounds: number[];
  /** CPU per request (per connection for new connections), microseconds. */
  cpuUs: number;
}

/** A self-signed P-256 certificate for 127.0.0.1 and localhost (clients here do not verify it). */
function certificate(dir: string): { certFile: string; keyFile: string } {
  const certFile = join(dir, 'server.crt');
  const keyFile = join(dir, 'server.key');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyFile, '-out', certFile,
    '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
  ], { stdio: 'ignore' });
  return { certFile, keyFile };
}

export async function runTls(options: { rounds: number; requests: number }): Promise<TlsRow[]> {
  const dir = mkdtempSync(join(tmpdir(), 'corral-bench-tls-'));
  const tls = certificate(dir);
  const started: Started[] = [];
  const stops: Array<() => Promise<unknown>> = [];
  try {
    const { echoPort, nginx } = await echoBehindNginx(tls, started, stops);
    const corral = await startProxy({ ...EVERY_METHOD, BACKEND_ADDRESS: `127.0.0.1:${echoPort}`, TLS_CERT_FILE: tls.certFile, TLS_KEY_FILE: tls.keyFile });
    started.push(corral);
    const targets = {
      nginx: { port: nginx.port, pids: nginx.pids },
      corral: { port: corral.grpcPort, pids: () => [corral.child.pid!] },
    };
    const cpuOf = (pids: number[]) => pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
    const connections = 1000;
    const workloads = [
      { workload: 'hot key' as const, load: { requests: options.requests, clients: 1, streams: 128 }, uris: (port: number) => [`https://127.0.0.1:${port}/bench.Echo/Hot`] },
      {
        workload: 'unique keys' as const,
        load: { requests: options.requests, clients: 1, streams: 128 },
        uris: (port: number, round: string) => Array.from({ length: options.requests }, (_, i) => `https://127.0.0.1:${port}/bench.Echo/T${round}x${i}`),
      },
      // h2load runs each client's connection on one thread: a thousand handshakes, one call each.
      { workload: 'new connections' as const, load: { requests: connections, clients: connections, streams: 1 }, uris: (port: number) => [`https://127.0.0.1:${port}/bench.Echo/Hot`] },
    ];
    const rows: TlsRow[] = [];
    for (const w of workloads) {
      const measured: Record<string, Measurement[]> = { nginx: [], corral: [] };
      const cpu: Record<string, number> = { nginx: 0, corral: 0 };
      for (const t of Object.values(targets)) h2load(w.uris(t.port, 'warm'), w.load, grpcRequest());
      for (let round = 0; round < options.rounds; round++) {
        for (const [name, t] of Object.entries(targets)) {
          const before = cpuOf(t.pids());
          measured[name]!.push(h2load(w.uris(t.port, String(round)), w.load, grpcRequest()));
          cpu[name]! += cpuOf(t.pids()) - before;
        }
      }
      for (const name of ['nginx', 'corral'] as const) {
        rows.push({
          workload: w.workload,
          target: name,
          perSecond: median(measured[name]!).reqPerSec,
          rounds: measured[name]!.map((m) => m.reqPerSec),
          cpuUs: (cpu[name]! * 1e6) / (w.load.requests * options.rounds),
        });
      }
    }
    return rows;
  } finally {
    for (const stop of stops) await stop();
    for (const p of started.reverse()) await p.stop();
  }
}

export function tlsLines(rows: TlsRow[], rounds: number): string[] {
  const out = [
    '## TLS on the front (bench/tls.ts)',
    '',
    `corral with TLS_CERT_FILE and nginx with \`listen ssl http2\`, cleartext to the echo backend; a P-256 certificate; h2load over TLS (ALPN h2). ${rounds} rounds interleaved, medians. *new connections*: 1,000 clients, each its own TLS connection with one call (per second: connections).`,
    '',
    '| workload | target | per second | rounds min-max | CPU µs per request (per connection) |',
    '|---|---|---:|---:|---:|',
  ];
  for (const r of rows) {
    out.push(`| ${r.workload} | ${r.target} | ${Math.round(r.perSecond).toLocaleString('en')} | ${Math.round(Math.min(...r.rounds)).toLocaleString('en')}-${Math.round(Math.max(...r.rounds)).toLocaleString('en')} | ${r.cpuUs.toFixed(1)} |`);
  }
  const ratio = (w: TlsRow['workload'], f: (r: TlsRow) => number) => {
    const c = rows.find((r) => r.workload === w && r.target === 'corral')!;
    const n = rows.find((r) => r.workload === w && r.target === 'nginx')!;
    return (f(c) / f(n)).toFixed(2);
  };
  out.push('');
  for (const w of ['hot key', 'unique keys', 'new connections'] as const) {
    out.push(`- ${w}: corral / nginx = ${ratio(w, (r) => r.perSecond)}x per second, ${ratio(w, (r) => r.cpuUs)}x the CPU`);
  }
  return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { rounds: { type: 'string', default: '3' }, requests: { type: 'string', default: '20000' } } });
  const rounds = Number(values.rounds);
  const rows = await runTls({ rounds, requests: Number(values.requests) });
  process.stdout.write(tlsLines(rows, rounds).join('\n') + '\n');
}
