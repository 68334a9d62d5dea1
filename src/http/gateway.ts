import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import tls, { type TLSSocket } from 'node:tls';
import { secureContextOf, type LoadedCertificate } from '../tls/certificate-files.js';
import { secureServerOptions, type ServerTls } from '../tls/server-tls.js';
import type { Readable } from 'node:stream';
import type { Handler, MessageCall, Outcome } from '../call/call.js';
import type { JsonAnswerSpec } from './http-spec.js';
import type { Logger } from '../log/logger.js';
import type { Observer } from '../call/observer.js';
import { listen } from '../server/listen.js';
import { halfClosedByClient } from '../wire/half-close.js';
import { Status } from '../wire/status.js';
import type { CorsPolicy } from './cors.js';
import { httpCall } from './http-call.js';
import { httpError } from './http-errors.js';
import type { HttpRoute, HttpRouteTable } from './http-routes.js';
import { JsonReply, type HttpResponse } from './json-reply.js';
import { BadRequest, requestMessage } from './transcode.js';
import { ClientConnections, kClientConnection, type ClientConnection, type ConnectionLimits, type OpenCall } from '../server/client-connections.js';
import { SHED, requestBufferFull, type Overload } from '../server/overload.js';
import type { JsonValue, Registry } from '@bufbuild/protobuf';

/** A JSON media type: application/json, or a +json type, with parameters or none. */
const JSON_TYPE = /^application\/(?:[\w.+-]*\+)?json\s*(?:;|$)/i;
/** The HTTP/2 connection preface: a client speaking h2c with prior knowledge starts with it. */
const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

/** What the gateway serves; replaced whole on reload. */
export interface GatewayState {
  table: HttpRouteTable;
  /** The descriptors' types, for JSON of Any and the well-known types. */
  registry: Registry;
  /** Each route's stages (auth, collapser, origin), by route name. */
  handlers: ReadonlyMap<string, Handler>;
  cors: CorsPolicy;
  /** How answers are written as JSON. */
  json: JsonAnswerSpec;
}

/** MAX_CONNECTIONS and the other connection bounds apply to this port apart from the gRPC port. */
export interface GatewayOptions extends ConnectionLimits {
  host: string;
  port: number;
  /** Largest request body (413 beyond it). */
  maxBodyBytes: number;
  /** Streams at once on one h2c connection (MAX_CONCURRENT_STREAMS). */
  maxConcurrentStreams: number;
  /** A new connection that sends nothing for this long is closed (node's HTTP/1.1 headers timeout is 60 s too). */
  firstBytesTimeoutMs: number;
  /** TLS on this port (ALPN h2 and http/1.1); null or unset: cleartext, HTTP/1.1 and h2c. */
  tls?: ServerTls | null;
}

/**
 * The HTTP/JSON front: HTTP/1.1 (keep-alive) and h2c on one port, told apart by the
 * HTTP/2 preface (over TLS: by ALPN, h2 or http/1.1). A request is matched to an HTTP route, its JSON becomes the route's
 * gRPC request message (transcode.ts), and the call goes through that route's stages
 * (the same collapser and upstream as native gRPC calls); the answer is written back as
 * JSON by a JsonReply.
 */
export class HttpGateway {
  private readonly server: net.Server | tls.Server;
  private readonly h1: http.Server;
  private readonly h2: http2.Http2Server;
  /** Every connection, to end them after the grace period. */
  private readonly sockets = new Set<net.Socket>();
  private readonly sessions = new Set<http2.ServerHttp2Session>();
  /** Calls whose answer has not closed yet. */
  private readonly open = new Set<JsonReply>();
  private draining = false;
  /** This port's connections: bounded, idle ones closed. */
  readonly connections: ClientConnections;

  constructor(
    public state: GatewayState,
    private readonly options: GatewayOptions,
    private readonly logger: Logger,
    private readonly observer: Observer,
    /** What the process holds for every front: refuses calls past its bounds. */
    private readonly overload: Overload,
  ) {
    this.connections = new ClientConnections(options);
    overload.watch(this.connections);
    const handle = (req: IncomingMessage, res: ServerResponse) => this.request(req, res);
    this.h1 = http.createServer({ keepAlive: true }, handle);
    this.h2 = http2.createServer(
      {
        settings: { maxConcurrentStreams: options.maxConcurrentStreams },
        // As on the gRPC port: node would refuse a connection's new streams while a slow
        // client leaves more than 10 MB of answers unread; its streams bound it instead.
        maxSessionMemory: Number.MAX_SAFE_INTEGER,
      },
      handle as never,
    );
    this.h2.on('session', (session: http2.ServerHttp2Session) => {
      this.sessions.add(session);
      session.once('close', () => this.sessions.delete(session));
      const connection = this.connections.of(session.socket);
      if (connection === undefined) return;
      (session as Tagged)[kClientConnection] = connection;
      connection.closer = () => session.close();
    });
    this.server =
      !options.tls
        ? net.createServer((socket) => this.sniff(socket))
        : tls.createServer(
            { ...secureServerOptions(options.tls), ALPNProtocols: ['h2', 'http/1.1'], handshakeTimeout: options.firstBytesTimeoutMs },
            (socket) => this.negotiated(socket),
          );
    // Over TLS, a connection is counted from its first byte, before its handshake.
    if (options.tls) this.server.prependListener('connection', (socket: net.Socket) => this.connections.admit(socket));
  }

  /** New TLS handshakes use this certificate (and client CA); open connections carry on. */
  setCertificate(certificate: LoadedCertificate): void {
    (this.server as tls.Server).setSecureContext(secureContextOf(certificate));
  }

  /** HTTP calls whose answer has not closed yet. */
  get activeCalls(): number {
    return this.open.size;
  }

  /** How each open call is being served, so far. */
  *openOutcomes(): Generator<Outcome> {
    for (const reply of this.open) yield reply.outcome;
  }

  listen(): Promise<number> {
    return listen(this.server, this.options.port, this.options.host);
  }

  /**
   * Stops taking connections and tells clients to go, letting calls under way finish:
   * GOAWAY on h2c, idle HTTP/1.1 connections closed, busy ones after their answer
   * (Connection: close).
   */
  drain(): void {
    this.draining = true;
    this.server.close();
    for (const session of this.sessions) session.close();
    this.h1.closeIdleConnections();
    for (const reply of this.open) reply.closesConnection();
  }

  /** Ends every connection at once (after the grace period, or in tests). */
  destroy(): void {
    this.draining = true;
    this.connections.close();
    this.server.close();
    for (const socket of this.sockets) socket.destroy();
  }

  /** Drains, then ends what is left; resolves when the port is closed. */
  close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.drain();
    this.destroy();
    return closed;
  }

  /** @internal The response of a call has closed. */
  replyClosed(reply: JsonReply): void {
    this.open.delete(reply);
    this.observer.callEnded(reply);
  }

  /**
   * An exception while a request was served (a defect, or input no check foresaw): that
   * request gets 500 and the error is logged; nothing else is affected.
   */
  private failed(err: unknown, res: ServerResponse): void {
    this.logger.error({ err: (err as Error).stack ?? String(err) }, 'an HTTP request failed inside corral; it gets 500');
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const { status, body } = httpError(Status.INTERNAL, `corral failed on this request: ${(err as Error).message}`);
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  }

  /**
   * Takes a request within the process's bounds, and counts it on its connection (which is
   * not idle while it is open). Over the bounds, an h2c stream is refused with
   * REFUSED_STREAM and an HTTP/1.1 request answered 503 with Retry-After.
   */
  private request(req: IncomingMessage, res: ServerResponse): void {
    const connection = (req.httpVersionMajor === 2 ? (req as unknown as { stream: { session: Tagged } }).stream.session : (req.socket as Tagged))[kClientConnection];
    if (!this.overload.admit(connection)) return refuseOverloaded(req, res);
    const held = new AdmittedRequest(req, res);
    if (connection !== undefined) this.connections.callStarted(connection, held);
    res.once('close', () => {
      this.overload.callEnded(held.bytes, held.wasShed);
      if (connection !== undefined) this.connections.callEnded(connection, held);
    });
    void this.serve(req, res, held).catch((err: unknown) => this.failed(err, res));
  }

  /** Hands a connection to the HTTP/2 server when its first bytes are the start of the preface, else to HTTP/1.1. */
  private sniff(socket: net.Socket): void {
    if (this.connections.admit(socket) === null) return;
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    socket.setTimeout(this.options.firstBytesTimeoutMs, () => socket.destroy());
    socket.once('readable', () => {
      socket.setTimeout(0);
      const head: Buffer | null = socket.read();
      if (head === null) return socket.destroy();
      socket.unshift(head);
      const n = Math.min(head.length, PREFACE.length);
      (n >= 3 && head.subarray(0, n).equals(PREFACE.subarray(0, n)) ? this.h2 : this.h1).emit('connection', socket);
    });
    socket.on('error', (err) => {
      this.logger.debug({ err: err.message }, 'gateway connection error');
      socket.destroy();
    });
  }

  /** A TLS connection goes to the server of the protocol its client chose in the handshake. */
  private negotiated(socket: TLSSocket): void {
    const connection = this.connections.of(socket);
    if (connection === undefined) return void socket.destroy();
    (socket as Tagged)[kClientConnection] = connection;
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    socket.on('error', (err) => {
      this.logger.debug({ err: err.message }, 'gateway connection error');
      socket.destroy();
    });
    (socket.alpnProtocol === 'h2' ? this.h2 : this.h1).emit('connection', socket);
  }

  private async serve(req: IncomingMessage, res: ServerResponse, held: AdmittedRequest): Promise<void> {
    const { table, handlers, cors, registry, json } = this.state;
    const url = new URL(req.url ?? '/', 'http://gateway');
    const preflight = cors.preflight(req.method, req.headers);
    if (preflight !== null) {
      res.writeHead(preflight.status, preflight.headers);
      res.end();
      return;
    }
    const match = table.match(req.method ?? 'GET', url.pathname);
    const reply = new JsonReply(res as HttpResponse, req.method ?? 'GET', url.pathname, cors.headers(req.headers), cors, this);
    held.reply = reply;
    this.open.add(reply);
    if (this.draining) reply.closesConnection();
    if (match === null) return reply.fail(Status.NOT_FOUND, `no route for ${req.method} ${url.pathname}`);
    if (match.route === null) {
      const allow = match.allow.join(', ');
      return reply.refuse(405, 'METHOD_NOT_ALLOWED', Status.UNIMPLEMENTED, `${req.method} is not allowed on ${url.pathname}; allowed: ${allow}`, { allow });
    }
    const { route, variables } = match;
    if (route.spec.body !== null && !JSON_TYPE.test(req.headers['content-type'] ?? '')) {
      // Also what keeps a cross-origin page from writing without a preflight: the content
      // types a browser sends without one (text/plain, forms) are all refused.
      const given = req.headers['content-type'] === undefined ? 'none' : `'${req.headers['content-type']}'`;
      return reply.refuse(415, 'UNSUPPORTED_MEDIA_TYPE', Status.INVALID_ARGUMENT, `${req.method} ${url.pathname} takes a JSON body: send Content-Type: application/json (got ${given})`);
    }
    let body: JsonValue | undefined;
    try {
      body = await this.readJson(req, route, held);
    } catch (err) {
      const tooLarge = (err as { tooLarge?: boolean }).tooLarge === true;
      if (tooLarge) return reply.refuse(413, 'PAYLOAD_TOO_LARGE', Status.RESOURCE_EXHAUSTED, (err as Error).message);
      if ((err as { overloaded?: boolean }).overloaded === true) {
        return reply.refuse(503, 'SERVICE_UNAVAILABLE', Status.RESOURCE_EXHAUSTED, (err as Error).message, { 'retry-after': '1' });
      }
      return reply.fail(Status.INVALID_ARGUMENT, (err as Error).message);
    }
    // The client went away while its body was read: nobody waits for this call.
    if (!reply.open) return;
    let call: MessageCall;
    try {
      const message = requestMessage(route.method, registry, variables, url.searchParams, body, route.spec.body);
      call = httpCall(route, req.method!, url.pathname, req.headers, variables, message);
    } catch (err) {
      if (err instanceof BadRequest) return reply.fail(Status.INVALID_ARGUMENT, err.message);
      throw err;
    }
    // Over TLS, corral owns x-forwarded-client-cert: the connection's certificate, never what the client sent.
    if (this.options.tls) this.options.tls.identities.apply(call.metadata, req.socket as TLSSocket);
    reply.answers(route, registry, json);
    reply.requestBytes = call.body.length;
    reply.traceparent = call.metadata.traceparent;
    handlers.get(route.spec.name)!.handle(call, reply);
  }

  private readJson(req: IncomingMessage, route: HttpRoute, held: AdmittedRequest): Promise<JsonValue | undefined> {
    const limit = this.options.maxBodyBytes;
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > limit) {
          req.removeAllListeners('data');
          req.resume();
          reject(Object.assign(new Error(`the request body is larger than ${limit} bytes`), { tooLarge: true }));
          return;
        }
        held.bytes += chunk.length;
        if (!this.overload.hold(chunk.length)) {
          req.removeAllListeners('data');
          req.resume();
          reject(Object.assign(new Error(requestBufferFull(this.overload.limits.maxRequestBytes)), { overloaded: true }));
          return;
        }
        chunks.push(chunk);
      });
      req.on('end', () => {
        // An h2c stream reset before its END_STREAM ends here too: that body is incomplete.
        if (!halfClosedByClient((req as { stream?: Readable }).stream ?? req)) {
          return reject(new Error('the client reset the request before its end'));
        }
        if (size === 0 || route.spec.body === null) return resolve(undefined);
        try {
          resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as JsonValue);
        } catch (err) {
          reject(new Error(`malformed JSON body: ${(err as Error).message}`));
        }
      });
      req.on('error', reject);
    });
  }
}

type Tagged = { [kClientConnection]?: ClientConnection };

/** A request the process took: what it holds, and how it is ended to make room at MAX_OPEN_CALLS. */
class AdmittedRequest implements OpenCall {
  /** Body bytes held, counted against MAX_REQUEST_BUFFER_BYTES. */
  bytes = 0;
  /** Its answer, once it has a route. */
  reply: JsonReply | null = null;
  wasShed = false;

  constructor(
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
  ) {}

  /** 429 saying why (the reply's own error once it has one), or a reset once its answer has started. */
  shed(): void {
    this.wasShed = true;
    if (this.reply !== null) return this.reply.fail(Status.RESOURCE_EXHAUSTED, SHED);
    if (this.res.headersSent) return void this.res.destroy();
    const { status, body } = httpError(Status.RESOURCE_EXHAUSTED, SHED);
    this.res.writeHead(status, { 'content-type': 'application/json', ...(this.req.httpVersionMajor === 1 ? { connection: 'close' } : {}) });
    this.res.end(JSON.stringify(body));
  }
}

/** A request past the process's bounds: nothing of it was processed, and the client may retry. */
function refuseOverloaded(req: IncomingMessage, res: ServerResponse): void {
  if (req.httpVersionMajor === 2) {
    (req as unknown as { stream: http2.ServerHttp2Stream }).stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
    return;
  }
  const { status, body } = httpError(Status.UNAVAILABLE, 'corral is at its bounds (open calls, buffered requests or memory) and refuses new calls for now; retry shortly');
  res.writeHead(status, { 'content-type': 'application/json', 'retry-after': '1' });
  res.end(JSON.stringify(body));
}
