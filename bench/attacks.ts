/**
 * Two attacks by one client on everyone else, measured on a real corral (bin/corral, its
 * shipped V8 flags) in front of the echo backend:
 *
 *   streams:     `--connections` (24) connections x `--streams` (1,000) streams, each sending
 *                3 bytes of a message and never finishing, held `--hold` (10) seconds.
 *                Reports corral's peak RSS (VmHWM), how many streams were refused
 *                (REFUSED_STREAM), and whether another client's call got through meanwhile.
 *   connections: `--idle` (4,096, MAX_CONNECTIONS) connections that send HTTP/2's preface and
 *                SETTINGS, then nothing. Reports how long a new client took to get an OK answer
 *                once they were all open, on the gRPC port.
 *
 * Everything binds 127.0.0.1 and is stopped at the end.
 *   node dist/bench/attacks.js [--attack streams|connections|both] [--env K=V ...]
 */
import http2 from 'node:http2';
import net from 'node:net';
import { parseArgs } from 'node:util';
import { EVERY_METHOD, startProcess, startProxy, type Proxy } from '../cmd/processes.js';
import { encodeFrame } from '../src/wire/frame.js';
import { echoJs, peakRssMiB, rssMiB } from './e2e.js';

const { values } = parseArgs({
  options: {
    attack: { type: 'string', default: 'both' },
    connections: { type: 'string', default: '24' },
    streams: { type: 'string', default: '1000' },
    hold: { type: 'string', default: '10' },
    // Bytes each flood stream sends of its message: 3 is part of the 5-byte prefix; more is a
    // prefix announcing a 4 MiB message, then that many bytes less the prefix.
    bytes: { type: 'string', default: '3' },
    idle: { type: 'string', default: '4096' },
    env: { type: 'string', multiple: true, default: [] },
  },
});
const extraEnv = Object.fromEntries(values.env.map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
const REFUSED_STREAM = http2.constants.NGHTTP2_REFUSED_STREAM;

/** One OK unary call on a fresh connection: resolves with its grpc-status, or the error that ended it. */
function call(address: string, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve) => {
    const session = http2.connect(`http://${address}`);
    const done = (what: string) => {
      clearTimeout(timer);
      session.destroy();
      resolve(what);
    };
    const timer = setTimeout(() => done('no answer'), timeoutMs);
    session.on('error', (err) => done(`connection error: ${err.message}`));
    const stream = session.request({ ':method': 'POST', ':path': '/bench.Echo/Bystander', 'content-type': 'application/grpc', te: 'trailers' });
    let status = '';
    stream.on('response', (h) => (status = String(h['grpc-status'] ?? status)));
    stream.on('trailers', (t) => (status = String(t['grpc-status'])));
    stream.on('error', () => {});
    stream.on('close', () => done(status !== '' ? `grpc-status ${status}` : `reset ${stream.rstCode}`));
    stream.resume();
    stream.end(encodeFrame(Buffer.from(`bystander ${Math.random()}`)));
  });
}

async function streamFlood(proxy: Proxy): Promise<string> {
  const connections = Number(values.connections);
  const perConnection = Number(values.streams);
  const pid = proxy.child.pid!;
  const before = rssMiB(pid);
  const sessions: http2.ClientHttp2Session[] = [];
  let refused = 0;
  let otherErrors = 0;
  let opened = 0;
  const size = Number(values.bytes);
  const partial = size < 5 ? Buffer.alloc(size) : Buffer.concat([Buffer.from([0, 0, 0x40, 0, 0]), Buffer.alloc(size - 5, 0x61)]);
  for (let c = 0; c < connections; c++) {
    const session = http2.connect(`http://${proxy.address}`, { peerMaxConcurrentStreams: perConnection } as http2.ClientSessionOptions);
    session.on('error', () => {});
    sessions.push(session);
    for (let s = 0; s < perConnection; s++) {
      const stream = session.request({ ':method': 'POST', ':path': `/bench.Echo/Slow${c}x${s}`, 'content-type': 'application/grpc', te: 'trailers' });
      stream.on('error', () => {});
      stream.on('close', () => {
        if (stream.rstCode === REFUSED_STREAM) refused++;
        else otherErrors++;
      });
      // Part of a message that never completes.
      stream.write(partial);
      opened++;
    }
  }
  await new Promise((r) => setTimeout(r, 2000));
  const bystander = await call(proxy.address);
  await new Promise((r) => setTimeout(r, Number(values.hold) * 1000 - 2000));
  const peak = peakRssMiB(pid);
  const during = rssMiB(pid);
  const heapMiB = (await proxy.metric('nodejs_heap_size_used_bytes')) / 2 ** 20;
  const externalMiB = (await proxy.metric('nodejs_external_memory_bytes')) / 2 ** 20;
  for (const s of sessions) s.destroy();
  await new Promise((r) => setTimeout(r, 2000));
  const after = await call(proxy.address);
  await new Promise((r) => setTimeout(r, 3000));
  const settled = rssMiB(pid);
  return (
    `streams: ${connections} connections x ${perConnection} streams of ${size} bytes, never finished, held ${values.hold} s: ` +
    `RSS ${before.toFixed(1)} MiB before, ${during.toFixed(1)} MiB at the end (V8 heap used ${heapMiB.toFixed(1)}, external ${externalMiB.toFixed(1)}), peak ${peak.toFixed(1)} MiB; ` +
    `${opened} opened, ${refused} refused (REFUSED_STREAM), ${otherErrors} ended otherwise; ` +
    `another client's call during the flood: ${bystander}; after it: ${after}; RSS 5 s after: ${settled.toFixed(1)} MiB; corral ${proxy.child.exitCode === null ? 'running' : `exited ${proxy.child.exitCode}`}`
  );
}

/** A connection that sends the preface and an empty SETTINGS frame, then nothing. */
function idleConnection(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.write(Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])]));
      resolve(socket);
    });
    socket.on('error', reject);
    socket.resume();
  });
}

async function connectionFlood(proxy: Proxy): Promise<string> {
  const count = Number(values.idle);
  const sockets: net.Socket[] = [];
  let closedByCorral = 0;
  const start = performance.now();
  for (let i = 0; i < count; i++) {
    const socket = await idleConnection(proxy.grpcPort).catch(() => null);
    if (socket === null) continue;
    socket.on('close', () => closedByCorral++);
    sockets.push(socket);
  }
  const openedIn = (performance.now() - start) / 1000;
  await new Promise((r) => setTimeout(r, 500));
  const held = sockets.length - closedByCorral;
  const t0 = performance.now();
  let tries = 0;
  let last = '';
  while (performance.now() - t0 < 30_000) {
    tries++;
    last = await call(proxy.address, 2000);
    if (last === 'grpc-status 0') break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const waited = performance.now() - t0;
  for (const s of sockets) s.destroy();
  return (
    `connections: ${sockets.length} idle connections (preface and SETTINGS, then nothing) opened in ${openedIn.toFixed(1)} s, ${held} still open: ` +
    `a new client ${last === 'grpc-status 0' ? `got an OK answer after ${waited.toFixed(0)} ms (${tries} ${tries === 1 ? 'try' : 'tries'})` : `had no answer after 30 s (${tries} tries; last: ${last})`}; ` +
    `${closedByCorral} attacker connections closed by corral by then`
  );
}

const echo = await startProcess(echoJs, ['0'], process.env, 'echo listening');
const lines = [`${process.version}; corral env ${JSON.stringify(extraEnv)}`];
const attacks = { streams: streamFlood, connections: connectionFlood };
try {
  for (const [name, attack] of Object.entries(attacks)) {
    if (values.attack !== 'both' && values.attack !== name) continue;
    // A fresh corral per attack, so neither inherits the other's memory.
    const proxy = await startProxy({ ...EVERY_METHOD, BACKEND_ADDRESS: `127.0.0.1:${echo.ready.port as number}`, ...extraEnv });
    try {
      lines.push(await attack(proxy));
    } finally {
      await proxy.stop('SIGKILL');
    }
  }
} finally {
  await echo.stop();
}
process.stdout.write(lines.join('\n') + '\n');
