/**
 * Starts the example backend and corral as child processes on 127.0.0.1 and waits for
 * the line each prints once it listens. Used by the demo and the integration tests;
 * every process started here is stopped by stop() or when this process exits.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

// Children always run the built JavaScript: beside this file in dist/cmd/, or in dist/cmd/ when tests load it from cmd/.
const builtDir = import.meta.url.includes('/dist/cmd/') ? './' : '../dist/cmd/';
const distCmd = (name: string) => fileURLToPath(new URL(`${builtDir}${name}.js`, import.meta.url));

/** The launcher corral ships with: node with corral's V8 flags (bin/corral). */
const launcher = fileURLToPath(new URL(import.meta.url.includes('/dist/cmd/') ? '../../bin/corral' : '../bin/corral', import.meta.url));

/** PATH with the folder of `node` first, so the launcher's `node` is that one. */
function onPath(node: string, path = ''): string {
  return `${dirname(node)}:${path}`;
}

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export interface Started {
  child: ChildProcess;
  /** The JSON line that said it listens. */
  ready: Record<string, unknown>;
  /** Every line it printed so far. */
  lines: string[];
  /** The exit code, once it has exited (null when a signal ended it). */
  exited: Promise<number | null>;
  /** Sends a signal and waits for the exit; resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts a script (with node, or the interpreter given) and waits for its JSON line `{"msg": readyMsg}`. */
export async function startProcess(
  script: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  readyMsg: string,
  timeoutMs = 15_000,
  interpreter = process.execPath,
): Promise<Started> {
  const child = spawn(interpreter, [script, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  const lines: string[] = [];
  const exited = once(child, 'exit').then(([code]) => {
    running.delete(child);
    return code as number | null;
  });
  child.stderr!.on('data', (d: Buffer) => lines.push(d.toString()));
  const ready = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${script} did not say '${readyMsg}' within ${timeoutMs}ms:\n${lines.join('\n')}`)), timeoutMs);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${script} exited with ${code} before it listened:\n${lines.join('\n')}`));
    });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      lines.push(line);
      try {
        const parsed = JSON.parse(line) as Record<string, unknown>;
        if (parsed.msg === readyMsg) {
          clearTimeout(timer);
          resolve(parsed);
        }
      } catch {
        // not a JSON line
      }
    });
  });
  return {
    child,
    ready,
    lines,
    exited,
    stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

export interface Backend extends Started {
  port: number;
  address: string;
}

export async function startBackend(
  options: { delay?: string; maxStreams?: number; port?: number; name?: string; tls?: { certFile: string; keyFile: string; clientCaFile?: string } } = {},
): Promise<Backend> {
  const args = ['--port', String(options.port ?? 0), '--delay', options.delay ?? '0', '--name', options.name ?? 'example'];
  if (options.maxStreams !== undefined) args.push('--max-streams', String(options.maxStreams));
  if (options.tls !== undefined) {
    args.push('--tls-cert', options.tls.certFile, '--tls-key', options.tls.keyFile);
    if (options.tls.clientCaFile !== undefined) args.push('--tls-client-ca', options.tls.clientCaFile);
  }
  const started = await startProcess(distCmd('backend'), args, process.env, 'backend listening');
  const port = started.ready.port as number;
  return { ...started, port, address: `127.0.0.1:${port}` };
}

export interface Proxy extends Started {
  grpcPort: number;
  metricsPort: number;
  adminPort: number;
  address: string;
  /** GETs a path: /metrics, /health and /ready from the metrics port, anything else from the admin port. */
  admin(path: string): Promise<{ status: number; body: string }>;
  /** The value of one series in /metrics, e.g. corral_requests_total{outcome="leader"}; 0 when absent. */
  metric(series: string): Promise<number>;
  /** Resolves once /ready answers 200 (within 15 s, else rejects with what /ready said). */
  untilReady(): Promise<void>;
}

/** What the metrics port serves; the admin port serves the rest. */
const PROBE_PATHS = ['/metrics', '/health', '/ready'];

/**
 * For a backend that describes nothing (a bare node:http2 server answering any method, the
 * echo backend of the benchmarks): every method is taken for a read, and nobody is asked
 * over server reflection. corral runs on its shipped defaults unless a test or benchmark
 * says so, with these or other variables (an empty value is unset).
 */
export const EVERY_METHOD = { COLLAPSER_METHODS: '*', COLLAPSER_REFLECTION: 'off' };

/**
 * corral as it ships: bin/corral (its V8 flags and its defaults), on this process's node
 * unless `node` names another binary (the bench compares runtimes).
 */
export async function startProxy(env: Record<string, string>, options: { node?: string } = {}): Promise<Proxy> {
  const node = options.node ?? process.execPath;
  const started = await startProcess(
    launcher,
    [],
    {
      ...process.env,
      PATH: onPath(node, process.env.PATH),
      CORRAL_NODE: node,
      LISTEN_HOST: '127.0.0.1',
      // SERVICE_PORT_GRPC (MyGateway's name) stands in for GRPC_PORT when given.
      ...('SERVICE_PORT_GRPC' in env ? {} : { GRPC_PORT: '0' }),
      METRICS_PORT: '0',
      ADMIN_PORT: '0',
      LOG_LEVEL: 'info',
      ...env,
    },
    'corral listening',
    15_000,
    '/bin/sh',
  );
  const grpcPort = started.ready.grpcPort as number;
  const metricsPort = started.ready.metricsPort as number;
  const adminPort = started.ready.adminPort as number;
  const admin = async (path: string) => {
    const port = PROBE_PATHS.includes(new URL(path, 'http://x').pathname) ? metricsPort : adminPort;
    // One retry: a pooled keep-alive socket may have been closed by the server while idle.
    const get = () => fetch(`http://127.0.0.1:${port}${path}`);
    const res = await get().catch(get);
    return { status: res.status, body: await res.text() };
  };
  return {
    ...started,
    grpcPort,
    metricsPort,
    adminPort,
    address: `127.0.0.1:${grpcPort}`,
    admin,
    async metric(series: string) {
      const { body } = await admin('/metrics');
      return sumOfSeries(body, series);
    },
    async untilReady() {
      let last = { status: 0, body: '' };
      for (let i = 0; i < 300; i++) {
        last = await admin('/ready');
        if (last.status === 200) return;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`corral not ready after 15 s: ${last.status} ${last.body}`);
    },
  };
}

/**
 * The sum of every series of a metric whose labels include the ones asked for, as
 * PromQL's sum() would give: `corral_requests_total{outcome="leader"}` counts leaders on
 * every route. 0 when none.
 */
export function sumOfSeries(body: string, series: string): number {
  const brace = series.indexOf('{');
  const name = brace < 0 ? series : series.slice(0, brace);
  const wanted = brace < 0 ? [] : series.slice(brace + 1, -1).split(/,(?=[a-z_]+=")/).filter((l) => l !== '');
  let sum = 0;
  for (const line of body.split('\n')) {
    if (!line.startsWith(name) || (line[name.length] !== '{' && line[name.length] !== ' ')) continue;
    const space = line.lastIndexOf(' ');
    const labels = line[name.length] === '{' ? line.slice(name.length + 1, line.lastIndexOf('}')) : '';
    const have = labels.split(/,(?=[a-z_]+=")/);
    if (wanted.every((l) => have.includes(l))) sum += Number(line.slice(space + 1));
  }
  return sum;
}

/**
 * Runs corral (with `args`) expecting it to exit by itself: resolves with its exit code and
 * what it wrote. Only the variables given (plus PATH and HOME) reach it.
 */
export async function proxyExit(env: Record<string, string>, args: string[] = []): Promise<{ code: number | null; stderr: string; stdout: string }> {
  const child = spawn('/bin/sh', [launcher, ...args], {
    env: { PATH: onPath(process.execPath, process.env.PATH), HOME: process.env.HOME, GRPC_PORT: '0', METRICS_PORT: '0', ADMIN_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  let stdout = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  // 'close' comes after the output streams are read to their end.
  const [code] = (await once(child, 'close')) as [number | null];
  return { code, stderr, stdout };
}

/** A TCP port on 127.0.0.1 that was free a moment ago (nothing listens on it). */
export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}
