import http2, { type ClientHttp2Session, type ClientHttp2Stream, type OutgoingHttpHeaders } from 'node:http2';
import type { Metadata, ResponseListener } from '../call/call.js';
import type { Logger } from '../log/logger.js';
import { headerListSize } from '../wire/metadata.js';
import { GrpcError, Status } from '../wire/status.js';
import type { ClientTls } from '../tls/client-tls.js';
import { UnforwardableRequest } from './backend-exchange.js';
import { Exchange, NOT_HTTP2, kConnection, type BackendConnection, type BackendStream } from './exchange.js';

export interface SessionPoolOptions {
  /** host:port of the backend. */
  address: string;
  /** A session that has not connected by then is abandoned. */
  connectTimeoutMs: number;
  /** First and largest wait between failed connection attempts (grpc's backoff: x1.6, +-20% jitter). */
  reconnectMinMs: number;
  reconnectMaxMs: number;
  /** PING interval while a session carries streams, and how long to wait for the ack. */
  keepaliveTimeMs: number;
  keepaliveTimeoutMs: number;
  /** Sessions opened at most; more are opened only when the others are full. */
  maxSessions: number;
  /**
   * A session counts as full at this many streams, or at the peer's limit if lower. Spreading
   * calls over a few sessions gave more unique-key throughput than one session
   * (bench/streams-per-session.sh; figures in docs/performance.md).
   */
  streamsPerSession: number;
  /** TLS to the backend (the cluster's `tls`, or BACKEND_TLS_*); null: cleartext HTTP/2 (h2c). */
  tls?: ClientTls | null;
  /** What messages and logs call the other end: `backend` (the default), or `fleet peer`. */
  role?: string;
}

type PooledStream = ClientHttp2Stream & { [kConnection]: PooledSession };

const BACKOFF_MULTIPLIER = 1.6;
const BACKOFF_JITTER = 0.2;
/** nghttp2 assumes this stream limit until the peer's SETTINGS arrive (node's peerMaxConcurrentStreams). */
const ASSUMED_STREAM_LIMIT = 100;
/** What node reports for a SETTINGS value the peer left unbounded. */
const NO_LIMIT = 2 ** 32 - 1;

type State = 'connecting' | 'ready' | 'closing';

/** One HTTP/2 connection to the backend, with the count of streams it carries. */
class PooledSession implements BackendConnection {
  state: State = 'connecting';
  /** The peer's SETTINGS arrived: it speaks HTTP/2. */
  spokeHttp2 = false;
  active = 0;
  keepalive: NodeJS.Timeout | null = null;
  closedBy: string | null = null;
  constructor(
    readonly pool: SessionPool,
    readonly session: ClientHttp2Session,
    /** The peer's stream limit; until its SETTINGS arrive, what the backend advertised before. */
    public limit: number,
    /** The peer's SETTINGS_MAX_HEADER_LIST_SIZE, likewise. */
    public headerListLimit: number,
  ) {}

  get address(): string {
    return this.pool.address;
  }

  get name(): string {
    return this.pool.name;
  }

  /** Closes it for `why`: calls on it then fail with that reason, not with what the closing looks like. */
  close(why: string): void {
    this.closedBy = why;
    this.session.destroy(new Error(why));
  }

  get lost(): boolean {
    return this.session.destroyed;
  }
}

/**
 * Persistent HTTP/2 sessions to one backend, shared by every call: no dial per call.
 * A new session is opened only when every open one is full: at streamsPerSession or at the
 * stream limit the backend advertised (up to maxSessions). A session that fails to connect is retried with
 * exponential backoff in the background; while there is none usable, calls fail fast
 * with UNAVAILABLE naming the backend and the last error, as grpc does.
 */
export class SessionPool {
  private readonly sessions: PooledSession[] = [];
  private readonly authority: string;
  /** `backend`, or `fleet peer`: what messages and logs call the other end. */
  private readonly role: string;
  /** The role and address, as messages name it. */
  readonly name: string;
  private failures = 0;
  private nextAttemptAt = 0;
  private lastError = '';
  private retryTimer: NodeJS.Timeout | null = null;
  private closed = false;
  private closedReason = 'corral is shutting down';
  /** The stream limit the backend advertised last, the best guess for a session still connecting. */
  private advertisedLimit = ASSUMED_STREAM_LIMIT;
  /** The header list size the backend advertised last; none is assumed before it does. */
  private advertisedHeaderListLimit = NO_LIMIT;

  constructor(
    private readonly options: SessionPoolOptions,
    private readonly logger: Logger,
  ) {
    this.authority = `${options.tls ? 'https' : 'http'}://${options.address}`;
    this.role = options.role ?? 'backend';
    this.name = `${this.role} ${options.address}`;
  }

  /** Opens the first session now, so the pool is warm and /ready reflects the backend. */
  start(): void {
    if (this.closed || this.sessions.length > 0) return;
    this.connect();
  }

  get address(): string {
    return this.options.address;
  }

  /**
   * True while at least one session is connected and its peer has sent its SETTINGS: the
   * backend speaks HTTP/2, and its stream limits are known (a session counted before them
   * would take more streams than the backend allows, queued in nghttp2).
   */
  get ready(): boolean {
    return this.sessions.some((s) => s.state === 'ready' && s.spokeHttp2);
  }

  /**
   * Times the backend came back: a session connected while none was, after one had been
   * (a restart, a network cut, an ejection's recycle). A new version may serve new methods.
   */
  comebacks = 0;
  private everConnected = false;

  /** Why the pool is not ready, for /ready and logs. */
  get lastFailure(): string {
    return this.lastError;
  }

  /**
   * A backend call on one of the sessions, its response going to `listener`. A streaming
   * request gets an AbortController, so cancelling it resets the stream (see Exchange).
   */
  exchange(headers: Metadata, listener: ResponseListener, streaming: boolean): Exchange {
    const controller = streaming ? new AbortController() : null;
    return new Exchange(this.request(headers as OutgoingHttpHeaders, controller?.signal), listener, controller);
  }

  /**
   * Opens a stream on the least busy usable session; throws GrpcError(UNAVAILABLE) when
   * there is none, and UnforwardableRequest when the metadata is larger than the backend
   * accepts: grpc-core closes the whole connection on such a request, failing every call on it.
   */
  request(headers: OutgoingHttpHeaders, signal?: AbortSignal): BackendStream {
    const pooled = this.pick();
    if (pooled.headerListLimit < NO_LIMIT) this.checkHeaderList(headers, pooled.headerListLimit);
    const stream = (signal ? pooled.session.request(headers, { signal }) : pooled.session.request(headers)) as PooledStream;
    pooled.active++;
    stream[kConnection] = pooled;
    stream.on('close', onPooledStreamClose);
    return stream;
  }

  private checkHeaderList(headers: OutgoingHttpHeaders, limit: number): void {
    const size = headerListSize(headers);
    if (size <= limit) return;
    throw new UnforwardableRequest(
      Status.RESOURCE_EXHAUSTED,
      `request metadata is ${size} bytes; ${this.name} accepts at most ${limit} (its SETTINGS_MAX_HEADER_LIST_SIZE)`,
    );
  }

  /** HTTP/2 sessions open or opening. */
  get sessionCount(): number {
    return this.sessions.length;
  }

  /** Streams open on this pool's sessions, for least-request balancing. */
  get activeStreams(): number {
    let n = 0;
    for (const s of this.sessions) n += s.active;
    return n;
  }

  /**
   * The endpoint left its cluster: no new streams; each session closes once the calls it
   * carries finish (HTTP/2 GOAWAY semantics), and no reconnect is attempted.
   */
  drain(): void {
    this.closed = true;
    this.closedReason = `${this.name} left its cluster`;
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    for (const s of this.sessions) {
      s.state = 'closing';
      s.session.close();
    }
  }

  /**
   * Closes the connections in use after a backend failure, as MyGateway does, without
   * failing anyone: each connected session takes no new calls and closes once its calls
   * finish (GOAWAY), and the next call opens a fresh one. Unlike drain(), the pool stays
   * open. Sessions still connecting are left to succeed or back off.
   */
  recycle(): void {
    for (const s of this.sessions) {
      if (s.state !== 'ready') continue;
      s.state = 'closing';
      s.session.close();
    }
  }

  /** Ends every session at once, failing the streams they carry. Shutdown calls it once the front has drained. */
  destroy(): void {
    this.closed = true;
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    for (const s of this.sessions) s.session.destroy();
  }

  private pick(): PooledSession {
    if (this.closed) throw new GrpcError(Status.UNAVAILABLE, this.closedReason);
    const perSession = this.options.streamsPerSession;
    let least: PooledSession | null = null;
    let usable = 0;
    for (const s of this.sessions) {
      if (s.state === 'closing') continue;
      usable++;
      if (s.active < s.limit && s.active < perSession) return s;
      if (least === null || s.active < least.active) least = s;
    }
    if (usable < this.options.maxSessions && performance.now() >= this.nextAttemptAt) return this.connect();
    // Every session is at its limit and no more may be opened: nghttp2 queues the stream until one frees up.
    if (least !== null) return least;
    const wait = Math.max(0, Math.round(this.nextAttemptAt - performance.now()));
    throw new GrpcError(
      Status.UNAVAILABLE,
      `${this.name} unreachable (${this.lastError || 'no connection'}); next attempt in ${wait}ms`,
    );
  }

  private connect(): PooledSession {
    const session = http2.connect(this.authority, {
      settings: { enablePush: false },
      // gRPC allows metadata values with leading or trailing spaces; RFC 9113's check would drop them.
      strictFieldWhitespaceValidation: false,
      // As on the front (and as grpc-js does): no node cap that refuses streams on a busy session.
      maxSessionMemory: Number.MAX_SAFE_INTEGER,
      ...tlsOptions(this.options.tls),
    } as http2.SecureClientSessionOptions);
    const pooled = new PooledSession(this, session, this.advertisedLimit, this.advertisedHeaderListLimit);
    this.sessions.push(pooled);
    const connectTimer = setTimeout(() => {
      pooled.close(`connect timed out after ${this.options.connectTimeoutMs}ms`);
    }, this.options.connectTimeoutMs);

    session.once('connect', () => {
      clearTimeout(connectTimer);
      if (this.everConnected && !this.sessions.some((s) => s.state === 'ready')) this.comebacks++;
      this.everConnected = true;
      pooled.state = 'ready';
      this.failures = 0;
      this.nextAttemptAt = 0;
      this.lastError = '';
      pooled.keepalive = setInterval(() => this.ping(pooled), this.options.keepaliveTimeMs).unref();
      this.logger.info({ [this.role]: this.options.address, sessions: this.sessions.length }, `${this.role} session connected`);
    });
    session.on('remoteSettings', (settings) => {
      pooled.spokeHttp2 = true;
      pooled.limit = settings.maxConcurrentStreams ?? NO_LIMIT;
      this.advertisedLimit = pooled.limit;
      pooled.headerListLimit = settings.maxHeaderListSize ?? NO_LIMIT;
      this.advertisedHeaderListLimit = pooled.headerListLimit;
    });
    session.on('goaway', () => {
      pooled.state = 'closing';
    });
    session.on('error', (err: Error) => {
      this.lastError = describeConnectError(err, this.options.tls);
    });
    session.once('close', () => {
      clearTimeout(connectTimer);
      if (pooled.closedBy !== null) this.lastError = pooled.closedBy;
      else if (pooled.state !== 'connecting' && !pooled.spokeHttp2) this.lastError = NOT_HTTP2;
      if (pooled.keepalive !== null) clearInterval(pooled.keepalive);
      const neverConnected = pooled.state === 'connecting';
      this.sessions.splice(this.sessions.indexOf(pooled), 1);
      if (neverConnected) this.backOff();
      else this.logger.info({ [this.role]: this.options.address, ...(pooled.closedBy === null ? {} : { why: pooled.closedBy }) }, `${this.role} session closed`);
      if (this.sessions.length === 0) this.scheduleReconnect();
    });
    return pooled;
  }

  private backOff(): void {
    const base = Math.min(
      this.options.reconnectMaxMs,
      this.options.reconnectMinMs * BACKOFF_MULTIPLIER ** this.failures,
    );
    this.failures++;
    const delay = base * (1 + BACKOFF_JITTER * (Math.random() * 2 - 1));
    this.nextAttemptAt = performance.now() + delay;
    this.logger.warn(
      { [this.role]: this.options.address, err: this.lastError, retryInMs: Math.round(delay) },
      `${this.role} connection failed`,
    );
  }

  /** Keeps one session warm while there are none, so the pool notices the backend coming back. */
  private scheduleReconnect(): void {
    if (this.closed || this.retryTimer !== null) return;
    const delay = Math.max(0, this.nextAttemptAt - performance.now());
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (!this.closed && this.sessions.length === 0) this.connect();
    }, delay);
  }

  /** PINGs only sessions that carry streams, as grpc clients do by default: idle pings get GOAWAY from grpc-go. */
  private ping(pooled: PooledSession): void {
    if (pooled.active === 0 || pooled.state !== 'ready') return;
    const timeout = setTimeout(() => {
      pooled.close(`it stopped answering PINGs (none acknowledged within ${this.options.keepaliveTimeoutMs}ms)`);
    }, this.options.keepaliveTimeoutMs);
    try {
      pooled.session.ping((err) => {
        clearTimeout(timeout);
        if (err) this.lastError = err.message;
      });
    } catch {
      clearTimeout(timeout); // the session is closing; its 'close' handler cleans up
    }
  }
}

/** What a TLS connection to the backend is opened with: its CA, corral's certificate, the name to verify. */
function tlsOptions(tls: ClientTls | null | undefined): http2.SecureClientSessionOptions {
  if (!tls) return {};
  return {
    ALPNProtocols: ['h2'],
    ...(tls.ca !== undefined ? { ca: tls.ca } : {}),
    ...(tls.cert !== undefined ? { cert: tls.cert, key: tls.key } : {}),
    ...(tls.serverName !== undefined ? { servername: tls.serverName } : {}),
    ...(tls.checkServerIdentity !== undefined ? { checkServerIdentity: tls.checkServerIdentity } : {}),
  };
}

/** A connection error as the calls see it: a certificate that does not verify says so. */
function describeConnectError(err: Error, tls: ClientTls | null | undefined): string {
  const code = (err as NodeJS.ErrnoException).code ?? '';
  if (tls && (TLS_VERIFY_CODES.has(code) || code.startsWith('ERR_TLS_') || code.startsWith('ERR_SSL_'))) {
    return `TLS: the backend's certificate did not verify (${code}: ${err.message}); check the cluster's tls.ca_file and tls.server_name (or BACKEND_TLS_CA_FILE, BACKEND_TLS_SERVER_NAME)`;
  }
  return err.message;
}

/** OpenSSL's verification failures, as node names them in err.code. */
const TLS_VERIFY_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'CERT_SIGNATURE_FAILURE', 'CERT_UNTRUSTED', 'CERT_REJECTED',
  'HOSTNAME_MISMATCH', 'INVALID_CA',
]);

function onPooledStreamClose(this: PooledStream): void {
  this[kConnection].active--;
}
