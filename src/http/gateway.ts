import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import type { Handler } from '../call.js';
import type { CorsSpec } from '../config/http-spec.js';
import type { Logger } from '../observe/logger.js';
import type { Observer } from '../observer.js';
import { Status } from '../wire/status.js';
import { httpCall } from './http-call.js';
import type { HttpRoute, HttpRouteTable } from './http-routes.js';
import { JsonReply, type HttpResponse } from './json-reply.js';
import { BadRequest, requestMessage } from './transcode.js';
import type { JsonValue, Registry } from '@bufbuild/protobuf';

/** The HTTP/2 connection preface: a client speaking h2c with prior knowledge starts with it. */
const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
const NO_HEADERS: Record<string, string> = {};

/** What the gateway serves; replaced whole on reload. */
export interface GatewayState {
  table: HttpRouteTable;
  /** The descriptors' types, for JSON of Any and the well-known types. */
  registry: Registry;
  /** Each route's stages (auth, collapser, origin), by route name. */
  handlers: ReadonlyMap<string, Handler>;
  cors: CorsSpec | null;
}

export interface GatewayOptions {
  host: string;
  port: number;
  /** Largest request body (413 beyond it). */
  maxBodyBytes: number;
}

/**
 * The HTTP/JSON front: HTTP/1.1 (keep-alive) and h2c on one port, told apart by the
 * HTTP/2 preface. A request is matched to an HTTP route, its JSON becomes the route's
 * gRPC request message (transcode.ts), and the call goes through that route's stages
 * (the same collapser and upstream as native gRPC calls); the answer is written back as
 * JSON by a JsonReply.
 */
export class HttpGateway {
  private readonly server: net.Server;
  private readonly h1: http.Server;
  private readonly h2: http2.Http2Server;

  constructor(
    public state: GatewayState,
    private readonly options: GatewayOptions,
    private readonly logger: Logger,
    private readonly observer: Observer,
  ) {
    const handle = (req: IncomingMessage, res: ServerResponse) => void this.serve(req, res);
    this.h1 = http.createServer({ keepAlive: true }, handle);
    this.h2 = http2.createServer({}, handle as never);
    this.server = net.createServer((socket) => this.sniff(socket));
  }

  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port, this.options.host, () => resolve((this.server.address() as net.AddressInfo).port));
    });
  }

  close(): Promise<void> {
    this.h1.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  /** @internal The response of a call has closed. */
  replyClosed(reply: JsonReply): void {
    this.observer.callEnded(reply);
  }

  /** Hands a connection to the HTTP/2 server when its first bytes are the start of the preface, else to HTTP/1.1. */
  private sniff(socket: net.Socket): void {
    socket.once('readable', () => {
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

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { table, handlers, cors, registry } = this.state;
    const url = new URL(req.url ?? '/', 'http://gateway');
    const corsHeaders = this.cors(cors, req);
    if (req.method === 'OPTIONS' && cors !== null && req.headers['access-control-request-method'] !== undefined) {
      res.writeHead(corsHeaders === null ? 403 : 204, corsHeaders === null ? {} : {
        ...corsHeaders,
        'access-control-allow-methods': cors.allowedMethods.join(', '),
        'access-control-allow-headers': cors.allowedHeaders.join(', '),
        'access-control-max-age': String(cors.maxAgeSeconds),
      });
      res.end();
      return;
    }
    const match = table.match(req.method ?? 'GET', url.pathname);
    const reply = new JsonReply(res as HttpResponse, corsHeaders ?? NO_HEADERS, this);
    if (match === null) return reply.fail(Status.NOT_FOUND, `no route for ${req.method} ${url.pathname}`);
    if (match.route === null) {
      const allow = match.allow.join(', ');
      return reply.refuse(405, 'METHOD_NOT_ALLOWED', Status.UNIMPLEMENTED, `${req.method} is not allowed on ${url.pathname}; allowed: ${allow}`, { allow });
    }
    const { route, variables } = match;
    let body: JsonValue | undefined;
    try {
      body = await this.readJson(req, route);
    } catch (err) {
      const tooLarge = (err as { tooLarge?: boolean }).tooLarge === true;
      if (tooLarge) return reply.refuse(413, 'PAYLOAD_TOO_LARGE', Status.RESOURCE_EXHAUSTED, (err as Error).message);
      return reply.fail(Status.INVALID_ARGUMENT, (err as Error).message);
    }
    let message: Uint8Array;
    try {
      message = requestMessage(route.method, registry, variables, url.searchParams, body, route.spec.body);
    } catch (err) {
      return reply.fail(Status.INVALID_ARGUMENT, err instanceof BadRequest ? err.message : String(err));
    }
    const call = httpCall(route, req.method!, url.pathname, req.headers, variables, message);
    reply.answers(route, registry);
    reply.requestBytes = call.body!.length;
    reply.traceparent = call.metadata.traceparent;
    handlers.get(route.spec.name)!.handle(call, reply);
  }

  /** CORS response headers for an allowed origin; null when the origin is not allowed (or CORS is off). */
  private cors(cors: CorsSpec | null, req: IncomingMessage): Record<string, string> | null {
    const origin = req.headers.origin;
    if (cors === null || origin === undefined) return null;
    if (!cors.allowedOrigins.includes('*') && !cors.allowedOrigins.includes(origin)) return null;
    return { 'access-control-allow-origin': cors.allowedOrigins.includes('*') ? '*' : origin, vary: 'Origin' };
  }

  private readJson(req: IncomingMessage, route: HttpRoute): Promise<JsonValue | undefined> {
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
        chunks.push(chunk);
      });
      req.on('end', () => {
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
