/**
 * One client against everyone else, on the gRPC port of a real corral: connections that
 * sit idle, streams that never finish, requests that hold bytes. Each attack runs against
 * the real echo backend, and another client's call must come through.
 */
import http2 from 'node:http2';
import net from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startBackend, startProxy, type Backend, type Proxy } from '../../cmd/processes.js';
import { lookupRequest } from '../support/lookup-request.js';
import { until } from '../support/until.js';

const LOOKUP = '/corral.example.v1.Example/Lookup';
let example: Backend;
let backend: string;
const proxies: Proxy[] = [];
const cleanups: Array<() => void> = [];

beforeAll(async () => {
  example = await startBackend();
  backend = example.address;
});

afterEach(async () => {
  for (const c of cleanups.splice(0)) c();
  await Promise.all(proxies.splice(0).map((p) => p.stop('SIGKILL')));
});

afterAll(() => example?.stop());

async function corral(env: Record<string, string>): Promise<Proxy> {
  const proxy = await startProxy({ BACKEND_ADDRESS: backend, ...env });
  proxies.push(proxy);
  return proxy;
}

const PREFACE_AND_SETTINGS = Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])]);

/** A connection that sends HTTP/2's preface and an empty SETTINGS, then nothing; `closed` resolves when corral ends it. */
function idleConnection(port: number): Promise<{ socket: net.Socket; received: () => Buffer; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.write(PREFACE_AND_SETTINGS);
      resolve({ socket, received: () => Buffer.concat(chunks), closed });
    });
    const closed = new Promise<void>((r) => socket.once('close', () => r()));
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('error', reject);
    cleanups.push(() => socket.destroy());
  });
}

/** Whether the bytes a server sent hold a GOAWAY frame (type 7). */
function holdsGoaway(bytes: Buffer): boolean {
  for (let at = 0; at + 9 <= bytes.length; ) {
    if (bytes[at + 3] === 0x7) return true;
    at += 9 + bytes.readUIntBE(at, 3);
  }
  return false;
}

/** One unary call on a fresh connection: its grpc-status, or how its stream ended. */
function call(address: string): Promise<string> {
  return new Promise((resolve) => {
    const session = http2.connect(`http://${address}`);
    session.on('error', (err) => resolve(`connection error: ${err.message}`));
    const stream = session.request({ ':method': 'POST', ':path': LOOKUP, 'content-type': 'application/grpc', te: 'trailers' });
    let status = '';
    stream.on('response', (h) => (status = String(h['grpc-status'] ?? status)));
    stream.on('trailers', (t) => (status = String(t['grpc-status'])));
    stream.on('error', () => {});
    stream.on('close', () => {
      session.close();
      resolve(status !== '' ? `status ${status}` : `reset ${stream.rstCode}`);
    });
    stream.resume();
    stream.end(lookupRequest(`bystander-${Math.random()}`, 10));
  });
}

interface Half {
  stream: http2.ClientHttp2Stream;
  /** What the stream ended with: 'status N: message', or 'reset N'. */
  ended: Promise<string>;
}

/** A stream that sends `bytes` of a message and never finishes it. */
function halfSent(session: http2.ClientHttp2Session, bytes: Buffer): Half {
  const stream = session.request({ ':method': 'POST', ':path': LOOKUP, 'content-type': 'application/grpc', te: 'trailers' });
  let status = '';
  stream.on('response', (h) => {
    if (h['grpc-status'] !== undefined) status = `status ${h['grpc-status']}: ${h['grpc-message']}`;
  });
  stream.on('error', () => {});
  const ended = new Promise<string>((resolve) => stream.on('close', () => resolve(status !== '' ? status : `reset ${stream.rstCode}`)));
  stream.write(bytes);
  return { stream, ended };
}

function flood(proxy: Proxy, connections: number, streams: number, bytes: Buffer): Half[] {
  const halves: Half[] = [];
  for (let c = 0; c < connections; c++) {
    const session = http2.connect(`http://${proxy.address}`, { peerMaxConcurrentStreams: streams } as http2.ClientSessionOptions);
    session.on('error', () => {});
    cleanups.push(() => session.destroy());
    for (let s = 0; s < streams; s++) halves.push(halfSent(session, bytes));
  }
  return halves;
}

describe('idle connections', () => {
  it('cannot lock new clients out: at MAX_CONNECTIONS the one idle the longest is closed with GOAWAY to let a new one in', async () => {
    const proxy = await corral({ MAX_CONNECTIONS: '200' });
    const idle = [];
    for (let i = 0; i < 200; i++) idle.push(await idleConnection(proxy.grpcPort));
    // Before this change the next client was reset for as long as the attacker held them.
    expect(await call(proxy.address)).toBe('status 0');
    await idle[0]!.closed;
    expect(holdsGoaway(idle[0]!.received())).toBe(true);
    expect(idle[1]!.socket.destroyed).toBe(false);
    expect(await proxy.metric('corral_client_connections_closed_total{port="grpc",reason="evicted"}')).toBeGreaterThanOrEqual(1);
    expect(await proxy.metric('corral_client_connections{port="grpc"}')).toBeLessThanOrEqual(200);
  });

  it('are closed with GOAWAY after CLIENT_IDLE_TIMEOUT; a connection with a call open is not', async () => {
    const proxy = await corral({ CLIENT_IDLE_TIMEOUT: '300ms' });
    const idle = await idleConnection(proxy.grpcPort);
    const session = http2.connect(`http://${proxy.address}`);
    session.on('error', () => {});
    cleanups.push(() => session.destroy());
    const open = halfSent(session, Buffer.from([0, 0, 0]));
    await idle.closed;
    expect(holdsGoaway(idle.received())).toBe(true);
    await new Promise((r) => setTimeout(r, 600));
    expect(session.closed || session.destroyed).toBe(false);
    expect(open.stream.closed).toBe(false);
    expect(await proxy.metric('corral_client_connections_closed_total{port="grpc",reason="idle_timeout"}')).toBe(1);
  });

  it('from one address are bounded by MAX_CONNECTIONS_PER_PEER', async () => {
    const proxy = await corral({ MAX_CONNECTIONS_PER_PEER: '3' });
    for (let i = 0; i < 3; i++) await idleConnection(proxy.grpcPort);
    const fourth = await idleConnection(proxy.grpcPort);
    await fourth.closed;
    expect(await proxy.metric('corral_client_connections_closed_total{port="grpc",reason="refused"}')).toBe(1);
  });
});

describe('streams that never finish', () => {
  it('are bounded by MAX_OPEN_CALLS over every connection; another client still gets in, and the heaviest connection pays', async () => {
    const proxy = await corral({ MAX_OPEN_CALLS: '300' });
    // Two connections of 250 streams, 3 bytes of a message each: 500 wanted, 300 allowed.
    const halves = flood(proxy, 2, 250, Buffer.from([0, 0, 0]));
    await until('the flood is refused past the bound', async () => (await proxy.metric('corral_calls_refused_total{reason="open_calls"}')) > 0);
    // Calls shed to make room linger until their status has gone out, then are reset.
    await until('the flood holds the bound', async () => (await proxy.metric('corral_calls_in_progress')) === 300);
    // A client on a connection of its own gets its answer; a call of the heaviest connection made room.
    expect(await call(proxy.address)).toBe('status 0');
    // The second connection's streams made room by shedding the first's until both held 150;
    // its last 100 were refused. Then the bystander's call shed one more.
    const endings = await Promise.all(halves.map((h) => Promise.race([h.ended, new Promise<string>((r) => setTimeout(() => r('open'), 1000))])));
    const shed = endings.filter((e) => e.startsWith('status 8: corral is at MAX_OPEN_CALLS and this connection held the most open calls'));
    expect(shed.length).toBe(101);
    expect(endings.filter((e) => e === `reset ${http2.constants.NGHTTP2_REFUSED_STREAM}`)).toHaveLength(100);
    expect(endings.filter((e) => e === 'open')).toHaveLength(299);
    // The flood goes: every call it held is released.
    for (const c of cleanups.splice(0)) c();
    await until('the flood is released', async () => (await proxy.metric('corral_calls_in_progress')) === 0);
    expect(await call(proxy.address)).toBe('status 0');
  });

  it('are released once answered: a call answered while its client still sends (a deadline) is reset with NO_ERROR after its status', async () => {
    const proxy = await corral({});
    const session = http2.connect(`http://${proxy.address}`);
    session.on('error', () => {});
    cleanups.push(() => session.destroy());
    const stream = session.request({ ':method': 'POST', ':path': LOOKUP, 'content-type': 'application/grpc', te: 'trailers', 'grpc-timeout': '200m' });
    const headers = new Promise<http2.IncomingHttpHeaders>((resolve) => stream.on('response', resolve));
    stream.on('error', () => {});
    stream.write(Buffer.from([0, 0, 0]));
    expect((await headers)['grpc-status']).toBe('4');
    await new Promise<void>((resolve) => stream.on('close', () => resolve()));
    expect(stream.rstCode).toBe(http2.constants.NGHTTP2_NO_ERROR);
    await until('the call is released', async () => (await proxy.metric('corral_calls_in_progress')) === 0);
  });

  it('hold no more request bytes than MAX_REQUEST_BUFFER_BYTES: a call that would go over ends RESOURCE_EXHAUSTED, others go on', async () => {
    const proxy = await corral({ MAX_REQUEST_BUFFER_BYTES: String(256 * 1024), COLLAPSER_HALF_CLOSE_WAIT: '10s' });
    // Eight streams of 60 KB of a 1 MiB message each: the fifth takes corral past 256 KiB.
    const prefix = Buffer.from([0, 0, 0x10, 0, 0]);
    const halves = flood(proxy, 1, 8, Buffer.concat([prefix, Buffer.alloc(60 * 1024, 0x61)]));
    const endings = await Promise.all(halves.map((h) => Promise.race([h.ended, new Promise<string>((r) => setTimeout(() => r('open'), 1500))])));
    const exhausted = endings.filter((e) => e.startsWith('status 8: corral holds 262144 bytes of requests not yet forwarded (MAX_REQUEST_BUFFER_BYTES)'));
    expect(exhausted.length).toBeGreaterThanOrEqual(1);
    expect(endings.filter((e) => e === 'open').length).toBeGreaterThanOrEqual(3);
    expect(await proxy.metric('corral_request_buffer_bytes')).toBeLessThanOrEqual(256 * 1024 + 64 * 1024);
    for (const c of cleanups.splice(0)) c();
    await until('the bytes are released', async () => (await proxy.metric('corral_request_buffer_bytes')) === 0);
    expect(await call(proxy.address)).toBe('status 0');
  });

  it('are refused with REFUSED_STREAM while live memory is above OVERLOAD_HEAP_BYTES, and it says so', async () => {
    const proxy = await corral({ OVERLOAD_HEAP_BYTES: '1024' });
    await until('corral says it is overloaded', async () => (await proxy.metric('corral_overloaded')) === 1);
    expect(await call(proxy.address)).toBe(`reset ${http2.constants.NGHTTP2_REFUSED_STREAM}`);
    expect(await proxy.metric('corral_calls_refused_total{reason="memory"}')).toBe(1);
    expect(proxy.lines.join('\n')).toMatch(/memory above OVERLOAD_HEAP_BYTES: refusing new calls until it falls/);
  });
});
