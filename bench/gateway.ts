/**
 * The HTTP/JSON gateway's path, side by side in one run with a grpc-js client calling the
 * backend directly: GET /v1/items/{id} through corral's gateway (transcoded to
 * bench.v1.Items/GetItem) against GetItem from @grpc/grpc-js, on the echo backend (which
 * answers Item{id} with the request's bytes). Hot key (one id) and unique keys (an id per
 * request); rounds interleaved, medians. Everything binds 127.0.0.1 and is stopped at the end.
 *
 * Clients: the closed-loop Node client (load-client.ts) drives grpc-js direct, grpc-js
 * through corral's gRPC port and GETs through the gateway over h2c and HTTP/1.1 (64
 * keep-alive connections), 128 in flight; h2load drives the gateway over h2c (1
 * connection, 128 streams), as fast as the gateway can answer, where the Node clients are
 * themselves the bottleneck.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EVERY_METHOD, startProcess, startProxy, type Started } from '../cmd/processes.js';
import { backendCalls, cpuSeconds, echoJs, h2load, median, peakRssMiB, type Measurement } from './e2e.js';

export interface GatewayOptions {
  requests: number;
  rounds: number;
}

export type GatewayTarget =
  | 'grpc-js client → backend'
  | 'grpc-js client → corral (gRPC)'
  | 'node:http2 GET → corral gateway'
  | 'node:http HTTP/1.1 GET → corral gateway'
  | 'h2load h2c GET → corral gateway';

export interface GatewayResult {
  workload: 'hot key' | 'unique keys';
  target: GatewayTarget;
  median: Measurement;
  backendCalls: number;
  /** corral's CPU time per request over every round, in microseconds; absent for the direct target. */
  cpuUsPerRequest?: number;
}

export interface GatewayReport {
  results: GatewayResult[];
  corralPeakRssMiB: number;
}

const loadClient = fileURLToPath(new URL('./load-client.js', import.meta.url));
const protos = fileURLToPath(new URL('../../bench/protos', import.meta.url));
const STREAMS = 128;

/** One run of the closed-loop Node client (load-client.ts), 128 calls in flight. */
export function nodeClient(kind: 'grpc-js' | 'http2' | 'http1', port: number, keys: 'hot' | 'unique', requests: number, round: number): Measurement {
  const out = execFileSync(process.execPath, [loadClient, kind, String(port), keys, String(requests), String(STREAMS), String(round)], { encoding: 'utf8' });
  return JSON.parse(out) as Measurement;
}

/** The benchmark's configuration: the echo backend as the cluster, GET /v1/items/{id} → bench.v1.Items/GetItem. */
export function gatewayConfig(echoPort: number): string {
  const config = join(mkdtempSync(join(tmpdir(), 'corral-bench-gateway-')), 'gateway.yaml');
  writeFileSync(
    config,
    `clusters:
  echo: { type: static, address: "127.0.0.1:${echoPort}" }
default: { action: use_cluster, use_cluster: echo }
http:
  proto_files: [${protos}/bench/v1/items.proto]
  proto_paths: [${protos}]
  routes:
    - { name: get-item, path: "/v1/items/{id}", method: GET, service: echo, grpc_service: bench.v1.Items, grpc_method: GetItem }
`,
  );
  return config;
}

export async function runGateway(options: GatewayOptions): Promise<GatewayReport> {
  const started: Started[] = [];
  try {
    const echo = await startProcess(echoJs, ['0'], process.env, 'echo listening');
    started.push(echo);
    const echoPort = echo.ready.port as number;
    const config = gatewayConfig(echoPort);
    const corral = await startProxy({ ...EVERY_METHOD, CONFIG_PATH: config, HTTP_PORT: '0' });
    started.push(corral);
    const grpcPort = corral.grpcPort;
    const httpPort = corral.ready.httpPort as number;
    const pid = corral.child.pid!;
    const h2c = { requests: options.requests, clients: 1, streams: STREAMS };
    const uris = (keys: 'hot' | 'unique', round: number) =>
      keys === 'hot' ? [`http://127.0.0.1:${httpPort}/v1/items/hot`] : Array.from({ length: options.requests }, (_, i) => `http://127.0.0.1:${httpPort}/v1/items/u${round}x${i}`);
    const targets: Record<GatewayTarget, { corral: boolean; run(keys: 'hot' | 'unique', round: number): Measurement }> = {
      'grpc-js client → backend': { corral: false, run: (k, r) => nodeClient('grpc-js', echoPort, k, options.requests, r) },
      'grpc-js client → corral (gRPC)': { corral: true, run: (k, r) => nodeClient('grpc-js', grpcPort, k, options.requests, r + 100) },
      'node:http2 GET → corral gateway': { corral: true, run: (k, r) => nodeClient('http2', httpPort, k, options.requests, r + 200) },
      'node:http HTTP/1.1 GET → corral gateway': { corral: true, run: (k, r) => nodeClient('http1', httpPort, k, options.requests, r + 300) },
      'h2load h2c GET → corral gateway': { corral: true, run: (k, r) => h2load(uris(k, r + 400), h2c, []) },
    };
    const results: GatewayResult[] = [];
    for (const workload of ['hot key', 'unique keys'] as const) {
      const keys = workload === 'hot key' ? 'hot' : 'unique';
      const rounds = new Map<GatewayTarget, Measurement[]>();
      const calls = new Map<GatewayTarget, number>();
      const cpu = new Map<GatewayTarget, number>();
      for (let round = 0; round < options.rounds; round++) {
        for (const [name, target] of Object.entries(targets) as Array<[GatewayTarget, (typeof targets)[GatewayTarget]]>) {
          const callsBefore = await backendCalls(echoPort);
          const cpuBefore = cpuSeconds(pid);
          const measured = target.run(keys, round);
          rounds.set(name, [...(rounds.get(name) ?? []), measured]);
          cpu.set(name, (cpu.get(name) ?? 0) + cpuSeconds(pid) - cpuBefore);
          calls.set(name, (calls.get(name) ?? 0) + (await backendCalls(echoPort)) - callsBefore);
        }
      }
      for (const [name, target] of Object.entries(targets) as Array<[GatewayTarget, (typeof targets)[GatewayTarget]]>) {
        const result: GatewayResult = { workload, target: name, median: median(rounds.get(name)!), backendCalls: calls.get(name)! };
        if (target.corral) result.cpuUsPerRequest = (cpu.get(name)! * 1e6) / (options.requests * options.rounds);
        results.push(result);
      }
    }
    return { results, corralPeakRssMiB: peakRssMiB(pid) };
  } finally {
    for (const p of started.reverse()) await p.stop();
  }
}
