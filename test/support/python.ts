/**
 * Python grpcio (grpc-core, from Debian's python3-grpcio) as an independent gRPC server
 * and client for the interop tests: test/interop/python/{server,client}.py.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startProcess, type Started } from '../../cmd/processes.js';

/** Debian's python, which has the grpcio and grpcio-tools packages (`make test` installs them). */
export const PYTHON = '/usr/bin/python3';
const script = (name: string) => fileURLToPath(new URL(`../interop/python/${name}.py`, import.meta.url));

export interface PythonServer extends Started {
  address: string;
}

export async function startPythonServer(tls?: { certFile: string; keyFile: string }): Promise<PythonServer> {
  const args = tls === undefined ? [] : ['--tls-cert', tls.certFile, '--tls-key', tls.keyFile];
  const started = await startProcess(script('server'), args, process.env, 'interop server listening', 30_000, PYTHON);
  return { ...started, address: `127.0.0.1:${started.ready.port as number}` };
}

export interface CaseResult {
  copy: number;
  case: string;
  ok: boolean;
  observed?: unknown;
  error?: string;
}

/** Runs the client's cases against a target, `copies` at once; resolves with every result. */
export function runPythonClient(
  target: string,
  options: { copies?: number; cases?: string[]; tls?: { caFile: string; certFile?: string; keyFile?: string } } = {},
): Promise<CaseResult[]> {
  const args = [script('client'), '--target', target, '--copies', String(options.copies ?? 1)];
  if (options.cases) args.push('--cases', options.cases.join(','));
  if (options.tls) {
    args.push('--ca', options.tls.caFile);
    if (options.tls.certFile !== undefined) args.push('--cert', options.tls.certFile, '--key', options.tls.keyFile!);
  }
  return new Promise((resolve, reject) => {
    execFile(PYTHON, args, { timeout: 120_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      if (err) {
        reject(new Error(`interop client failed: ${err.message}\n${stderr}`));
        return;
      }
      resolve(stdout.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as CaseResult));
    });
  });
}
