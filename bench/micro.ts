/**
 * Micro benchmarks of the collapser engine (tinybench), in the spirit of the seed's three
 * scenarios but honest: every operation computes the key (SHA-256 over the method, the
 * metadata a grpc-js client sends plus an authorization header, and a 100-byte message).
 *
 * - cache hit:   key + cache lookup + replaying the recorded response to the caller;
 * - follower:    key + joining a flight that already has 10,000 waiters (then leaving it,
 *                so the flight stays the same size);
 * - leader:      key + a new flight + a backend stream on an in-process stub upstream that
 *                answers at once + fan-out to the caller.
 *
 * Each task runs BATCH operations per sample; figures are per operation.
 *   node --expose-gc dist/bench/micro.js [--json]
 */
import { EventEmitter } from 'node:events';
import { Bench } from 'tinybench';
import type { Call, CallControl, Downstream, Metadata } from '../src/call/call.js';
import { ResponseCache } from '../src/collapse/cache.js';
import { createSigner } from 'fast-jwt';
import { Authenticate } from '../src/auth/authenticate.js';
import { TokenVerifier } from '../src/auth/token-verifier.js';
import { Collapser } from '../src/collapse/collapser.js';
import { KeyMaker } from '../src/collapse/key.js';
import { AccessLog } from '../src/observe/access-log.js';
import { Metrics } from '../src/observe/metrics.js';
import type { FinishedCall } from '../src/call/observer.js';
import type { Upstream } from '../src/cluster/cluster-upstream.js';
import { NO_RETRY, stubUpstream } from './stub-upstream.js';
import { RetryingOrigin } from '../src/upstream/retrying-origin.js';
import { encodeFrame } from '../src/wire/frame.js';
import { GrpcError, Status } from '../src/wire/status.js';

const BATCH = 1000;
const GONE = new GrpcError(Status.CANCELLED, 'the client cancelled the call');
const WAITERS = 10_000;

/** A client end that accepts everything and keeps nothing. */
class NullDownstream implements Downstream {
  outcome: Downstream['outcome'] = 'rejected';
  route: Downstream['route'] = null;
  collapseKey: string | null = null;
  bufferedBytes = 0;
  open = true;
  control: CallControl | null = null;
  onStart(control: CallControl): void {
    this.control = control;
  }
  onHeaders(): void {}
  onData(): void {}
  onTrailers(): void {}
  onError(): void {}
  leave(): void {
    this.control?.abort(GONE);
    this.control = null;
  }
}

const responseHeaders = { ':status': 200, 'content-type': 'application/grpc' };
const trailers = { 'grpc-status': '0' };
const responseBody = encodeFrame(Buffer.alloc(100, 0x62));

/** A backend stream that, once the request is sent, answers at once, or never when `silent`. */
class StubStream extends EventEmitter {
  rstCode = 0;
  destroyed = false;
  constructor(private readonly silent: boolean) {
    super();
  }
  pause(): void {}
  resume(): void {}
  end(): void {
    if (this.silent) return;
    this.emit('response', responseHeaders, 0);
    this.emit('data', responseBody);
    this.emit('trailers', trailers);
    // As node does: the readable side ends after the data, and trailers are handed on then.
    this.emit('end');
    this.emit('close');
  }
}

function stubPool(silent: boolean): Upstream {
  return stubUpstream(() => new StubStream(silent));
}

const headers: Metadata = {
  ':method': 'POST',
  ':scheme': 'http',
  ':authority': '127.0.0.1:50052',
  ':path': '/corral.example.v1.Example/Lookup',
  'content-type': 'application/grpc',
  te: 'trailers',
  'user-agent': 'grpc-node-js/1.14.7',
  'grpc-accept-encoding': 'identity,deflate,gzip',
  'accept-encoding': 'identity',
  authorization: 'Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig',
};
const method = headers[':path'] as string;
const payload = (seed: number) => {
  const message = Buffer.alloc(100, 0x61);
  message.writeUInt32BE(seed, 0);
  return encodeFrame(message);
};
const call = (body: Buffer): Call => ({ stream: false, method, metadata: headers, deadline: Infinity, body });

function collapser(pool: Upstream, cache: ResponseCache | null): Collapser {
  const metrics = new Metrics();
  const passthrough = { handle: () => undefined };
  return new Collapser(passthrough, new RetryingOrigin(pool, NO_RETRY, metrics), new KeyMaker(), cache, { timeoutMs: 3_600_000, maxResponseBytes: 4 << 20, maxFollowers: 1e9, cache: { ttlMs: 3_600_000, staleWhileRevalidateMs: 0, staleIfErrorMs: 0, statusTtls: new Map(), maxTtlMs: 3_600_000 }, serverStreams: null }, metrics);
}

// cache hit: one leader fills the cache, then every call is a hit.
const hitBody = payload(1);
const hitCollapser = collapser(stubPool(false), new ResponseCache({ ttlMs: 3_600_000, maxBytes: 64 << 20, maxEntryBytes: 4 << 20 }));
hitCollapser.handle(call(hitBody), new NullDownstream());

// follower: a flight whose backend never answers, with WAITERS callers on it.
const joinBody = payload(2);
const joinCollapser = collapser(stubPool(true), null);
for (let i = 0; i < WAITERS; i++) joinCollapser.handle(call(joinBody), new NullDownstream());

// cache hit behind the auth stage: every call's token is checked (fast-jwt remembers it) before the key is made.
const secret = 'bench-secret-of-32-bytes-or-more!';
const sessionToken = createSigner({ key: secret, algorithm: 'HS256' })({ session_id: 'bench-session', sub: 'bench-user', exp: Math.floor(Date.now() / 1000) + 3600 });
const authHeaders: Metadata = { ...headers, 'session-id': 'bench-session', authorization: `Bearer ${sessionToken}` };
const authCall = (body: Buffer): Call => ({ stream: false, method, metadata: authHeaders, deadline: Infinity, body });
const authHit = new Authenticate(
  new TokenVerifier({ secret }),
  collapser(stubPool(false), new ResponseCache({ ttlMs: 3_600_000, maxBytes: 64 << 20, maxEntryBytes: 4 << 20 })),
  new Metrics(),
);
authHit.handle(authCall(hitBody), new NullDownstream());
// the auth stage alone: the token check and identity headers, handing on to a stage that does nothing.
const authOnly = new Authenticate(new TokenVerifier({ secret }), { handle: () => undefined }, new Metrics());

// leader: a fresh payload each time, no cache, the stub answers at once.
const leadCollapser = collapser(stubPool(false), null);
const leaderBodies = Array.from({ length: BATCH }, (_, i) => payload(1000 + i));

// one access log line, written to /dev/null: the line, its JSON and the batched write.
const accessLog = new AccessLog('/dev/null');
const finished: FinishedCall = {
  method,
  outcome: 'leader',
  route: { name: 'default', cluster: 'backend' },
  collapseKey: 'k'.repeat(32),
  code: 0,
  message: '',
  startedAt: performance.now(),
  requestBytes: 105,
  responseBytes: 110,
  backend: { endpoint: '127.0.0.1:50051', retries: 0, traceparent: null },
  traceparent: undefined,
};

const scenarios: Record<string, () => void> = {
  'cache hit (key + lookup + replay)': () => {
    for (let i = 0; i < BATCH; i++) hitCollapser.handle(call(hitBody), new NullDownstream());
  },
  'cache hit behind JWT auth (verify + key + lookup + replay)': () => {
    for (let i = 0; i < BATCH; i++) authHit.handle(authCall(hitBody), new NullDownstream());
  },
  'auth stage alone (remembered token)': () => {
    for (let i = 0; i < BATCH; i++) authOnly.handle(authCall(hitBody), new NullDownstream());
  },
  [`follower joins a flight with ${WAITERS} waiters`]: () => {
    for (let i = 0; i < BATCH; i++) {
      const d = new NullDownstream();
      joinCollapser.handle(call(joinBody), d);
      d.leave();
    }
  },
  'leader starts a flight (stub upstream)': () => {
    for (let i = 0; i < BATCH; i++) leadCollapser.handle(call(leaderBodies[i]!), new NullDownstream());
  },
  'access log line (ACCESS_LOG=/dev/null)': () => {
    for (let i = 0; i < BATCH; i++) accessLog.callEnded(finished);
  },
};

/** Approximate bytes allocated per operation: heap growth over BATCH operations between two GCs. */
function bytesPerOp(fn: () => void): number | null {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) return null;
  fn();
  gc();
  const before = process.memoryUsage().heapUsed;
  fn();
  const grown = process.memoryUsage().heapUsed - before;
  gc();
  return Math.max(0, Math.round(grown / BATCH));
}

export interface MicroResult {
  name: string;
  nsPerOp: number;
  opsPerSec: number;
  p99NsPerOp: number;
  bytesPerOp: number | null;
}

export async function runMicro(): Promise<MicroResult[]> {
  const bench = new Bench({ time: 1500, warmupTime: 300 });
  for (const [name, fn] of Object.entries(scenarios)) bench.add(name, fn);
  await bench.run();
  return bench.tasks.map((task) => {
    const latency = (task.result as { latency: { p50: number; p99: number } }).latency;
    const nsPerOp = (latency.p50 * 1e6) / BATCH;
    return {
      name: task.name,
      nsPerOp,
      opsPerSec: 1e9 / nsPerOp,
      p99NsPerOp: (latency.p99 * 1e6) / BATCH,
      bytesPerOp: bytesPerOp(scenarios[task.name]!),
    };
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const results = await runMicro();
  if (process.argv.includes('--json')) {
    process.stdout.write(JSON.stringify(results) + '\n');
  } else {
    for (const r of results) {
      console.log(
        `${r.name.padEnd(46)} ${r.nsPerOp.toFixed(0).padStart(6)} ns/op (p99 ${r.p99NsPerOp.toFixed(0)})  ${Math.round(r.opsPerSec).toLocaleString('en').padStart(10)} ops/s  ${r.bytesPerOp ?? '?'} B/op`,
      );
    }
  }
  process.exit(0); // the silent flight's timer would keep the process alive
}
