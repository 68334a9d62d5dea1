#!/usr/bin/env node
/**
 * The herd client: fires N concurrent identical Lookup calls through corral and prints
 * how many reached the backend. With several targets (a fleet of sidecars, each in front
 * of its own replica) the calls are spread over them in turn and the backend calls are
 * counted behind each one.
 *
 *   node dist/cmd/client.js [--target 127.0.0.1:50052[,host:port...]] [--requests 1000] [--delay 200ms] [--key demo]
 */
import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { parseDuration } from '../src/spec/duration.js';
import { commandLine, fail } from './command-line.js';
import { ExampleClient } from './example-service.js';

export interface HerdResult {
  requests: number;
  ok: number;
  failed: Record<string, number>;
  backendCalls: number;
  /** Backend calls behind each target, in the order given. */
  backendCallsByTarget: Record<string, number>;
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  wallMs: number;
}

type Unary = (req: object, md: grpc.Metadata, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, reply: any) => void) => void;

function unary(client: grpc.Client, method: string, req: object, deadlineMs = 30_000): Promise<any> {
  return new Promise((resolve, reject) => {
    ((client as any)[method] as Unary).call(client, req, new grpc.Metadata(), { deadline: Date.now() + deadlineMs }, (err, reply) =>
      err ? reject(err) : resolve(reply),
    );
  });
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** Lookup calls the backend has answered; asked with a fresh nonce, so corral never collapses or caches it. */
async function backendLookups(client: grpc.Client, method = 'Lookup'): Promise<number> {
  const stats = await unary(client, 'Stats', { nonce: randomUUID() });
  return Number(stats.calls[method] ?? 0);
}

/**
 * `requests` concurrent identical Release calls (a write: the example backend does not
 * declare it NO_SIDE_EFFECTS); resolves with how many reached the backend.
 */
export async function runWrites(target: string, requests: number, gate: string): Promise<number> {
  const client = new ExampleClient(target, grpc.credentials.createInsecure());
  try {
    const before = await backendLookups(client, 'Release');
    await Promise.all(Array.from({ length: requests }, () => unary(client, 'Release', { gate })));
    return (await backendLookups(client, 'Release')) - before;
  } finally {
    client.close();
  }
}

export async function runHerd(target: string | string[], requests: number, delayMs: number, key: string): Promise<HerdResult> {
  const targets = typeof target === 'string' ? [target] : target;
  const clients = targets.map((t) => new ExampleClient(t, grpc.credentials.createInsecure()));
  try {
    const counted = () => Promise.all(clients.map((c) => backendLookups(c)));
    const before = await counted();
    const latencies: number[] = [];
    const failed: Record<string, number> = {};
    const started = performance.now();
    await Promise.all(
      Array.from({ length: requests }, async (_, i) => {
        const t0 = performance.now();
        try {
          await unary(clients[i % clients.length]!, 'Lookup', { key, delayMs });
          latencies.push(performance.now() - t0);
        } catch (err) {
          const name = grpc.status[(err as grpc.ServiceError).code] ?? 'UNKNOWN';
          failed[name] = (failed[name] ?? 0) + 1;
        }
      }),
    );
    const wallMs = performance.now() - started;
    const after = await counted();
    const backendCallsByTarget = Object.fromEntries(targets.map((t, i) => [t, after[i]! - before[i]!]));
    latencies.sort((a, b) => a - b);
    return {
      requests,
      ok: latencies.length,
      failed,
      backendCalls: Object.values(backendCallsByTarget).reduce((a, b) => a + b, 0),
      backendCallsByTarget,
      latencyMs: {
        p50: percentile(latencies, 50),
        p90: percentile(latencies, 90),
        p99: percentile(latencies, 99),
        max: latencies[latencies.length - 1] ?? 0,
      },
      wallMs,
    };
  } finally {
    for (const c of clients) c.close();
  }
}

export function formatHerd(r: HerdResult): string {
  const ms = (v: number) => `${v.toFixed(1)} ms`;
  const failures = Object.entries(r.failed).map(([code, n]) => `${n} ${code}`).join(', ') || 'none';
  return [
    `requests sent       ${r.requests}`,
    `answered OK         ${r.ok}  (failed: ${failures})`,
    `backend calls       ${r.backendCalls}${Object.keys(r.backendCallsByTarget).length > 1 ? `  (${Object.entries(r.backendCallsByTarget).map(([t, n]) => `${n} behind ${t}`).join(', ')})` : ''}`,
    `collapse ratio      ${r.backendCalls > 0 ? (r.requests / r.backendCalls).toFixed(1) : 'n/a'} : 1`,
    `latency p50 / p90   ${ms(r.latencyMs.p50)} / ${ms(r.latencyMs.p90)}`,
    `latency p99 / max   ${ms(r.latencyMs.p99)} / ${ms(r.latencyMs.max)}`,
    `wall time           ${ms(r.wallMs)}`,
  ].join('\n');
}

const USAGE = `The herd client: N concurrent identical Lookup calls, then how many reached the backend.

  node dist/cmd/client.js [--target 127.0.0.1:50052[,host:port...]] [--requests 1000] [--delay 200ms] [--key demo] [--json]

Several targets (comma-separated): the calls go to each in turn, and the backend calls are
counted behind each (one backend per target, as with a sidecar in front of each replica).`;

if (import.meta.url === `file://${process.argv[1]}`) {
  const values = commandLine('client', USAGE, {
    target: { type: 'string', default: '127.0.0.1:50052' },
    requests: { type: 'string', default: '1000' },
    delay: { type: 'string', default: '200ms' },
    key: { type: 'string', default: 'demo' },
    json: { type: 'boolean', default: false },
  });
  const delayMs = parseDuration(values.delay as string);
  const requests = Number(values.requests);
  if (delayMs === undefined || !Number.isInteger(requests) || requests < 1) {
    fail('client', '--delay takes a duration such as 200ms, --requests a positive whole number');
  }
  try {
    const targets = (values.target as string).split(',').map((t) => t.trim()).filter((t) => t !== '');
    const result = await runHerd(targets, requests, delayMs, values.key as string);
    process.stdout.write((values.json ? JSON.stringify(result) : formatHerd(result)) + '\n');
  } catch (err) {
    fail('client', `cannot run the herd against ${values.target}: ${(err as Error).message}`);
  }
}
