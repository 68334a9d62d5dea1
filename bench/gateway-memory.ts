/**
 * Peak RSS of corral on the gateway's path: a fresh corral per load shape (the gateway
 * benchmark's configuration and clients), `--requests` unique or hot requests, then its
 * VmHWM from /proc; and idle RSS with the descriptors loaded and without them.
 *   node dist/bench/gateway-memory.js [--requests 100000]
 */
import { parseArgs } from 'node:util';
import { EVERY_METHOD, startProcess, startProxy, type Started } from '../cmd/processes.js';
import { echoJs, h2load, peakRssMiB, rssMiB } from './e2e.js';
import { gatewayConfig, nodeClient } from './gateway.js';

const { values } = parseArgs({ options: { requests: { type: 'string', default: '100000' } } });
const requests = Number(values.requests);

const settle = () => new Promise((r) => setTimeout(r, 2000));

const echo = await startProcess(echoJs, ['0'], process.env, 'echo listening');
const started: Started[] = [echo];
try {
  const echoPort = echo.ready.port as number;
  const config = gatewayConfig(echoPort);
  const shapes: Record<string, (grpcPort: number, httpPort: number) => unknown> = {
    'h2load h2c, unique GETs': (_g, h) =>
      h2load(Array.from({ length: requests }, (_, i) => `http://127.0.0.1:${h}/v1/items/u${i}`), { requests, clients: 1, streams: 128 }, []),
    'node:http HTTP/1.1, unique GETs': (_g, h) => nodeClient('http1', h, 'unique', requests, 1),
    'node:http2, unique GETs': (_g, h) => nodeClient('http2', h, 'unique', requests, 1),
    'grpc-js native gRPC, unique calls': (g) => nodeClient('grpc-js', g, 'unique', requests, 1),
    'grpc-js native gRPC, hot calls': (g) => nodeClient('grpc-js', g, 'hot', requests, 1),
  };
  const lines: string[] = [];
  for (const [name, run] of Object.entries(shapes)) {
    const corral = await startProxy({ ...EVERY_METHOD, CONFIG_PATH: config, HTTP_PORT: '0' });
    run(corral.grpcPort, corral.ready.httpPort as number);
    lines.push(`${name}: peak RSS ${peakRssMiB(corral.child.pid!).toFixed(1)} MiB`);
    await corral.stop();
  }
  for (const [name, env] of [
    ['idle, descriptors loaded', { CONFIG_PATH: config, HTTP_PORT: '0' }],
    ['idle, BACKEND_ADDRESS alone', { BACKEND_ADDRESS: `127.0.0.1:${echoPort}` }],
  ] as const) {
    const corral = await startProxy({ ...EVERY_METHOD, ...env });
    await settle();
    lines.push(`${name}: RSS ${rssMiB(corral.child.pid!).toFixed(1)} MiB`);
    await corral.stop();
  }
  process.stdout.write(`${process.version}, ${requests.toLocaleString('en')} requests per shape\n${lines.join('\n')}\n`);
} finally {
  for (const p of started) await p.stop();
}
