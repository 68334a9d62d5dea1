import type { Registry } from '@bufbuild/protobuf';
import type { CorsPolicy } from './cors.js';
import type { BackendCall, CallControl, Downstream, Headers, Outcome, RouteLabel } from '../call/call.js';
import type { FinishedCall } from '../call/observer.js';
import { GrpcError, Status, decodeGrpcMessage, statusCode } from '../wire/status.js';
import { Shed } from '../wire/shed.js';
import { httpError } from './http-errors.js';
import type { HttpRoute } from './http-routes.js';
import type { JsonAnswerSpec } from './http-spec.js';
import { responseJson } from './transcode.js';

/** What the gateway writes to: node's HTTP/1.1 response and its HTTP/2 compatibility response both have it. */
export interface HttpResponse {
  readonly writableLength: number;
  readonly headersSent: boolean;
  readonly req: { readonly httpVersionMajor: number };
  setHeader(name: string, value: string): unknown;
  writeHead(status: number, headers: Record<string, string | string[]>): unknown;
  write(chunk: string): boolean;
  end(chunk?: string): unknown;
  on(event: 'close', listener: () => void): unknown;
  once(event: 'drain', listener: () => void): unknown;
}

/** Response metadata that is HTTP/2 or gRPC's own, not the backend's: never a Grpc-Metadata- header. */
const NOT_METADATA = /^(:|content-type$|grpc-status$|grpc-message$|grpc-status-details-bin$|grpc-encoding$|grpc-accept-encoding$|date$|te$)/;

/**
 * The client end of a call that came in as HTTP/JSON: the gateway's Downstream. A unary
 * call's answer is written whole at the end, as JSON with 200, or as an error body with
 * the status the gRPC code maps to. A server-streaming call's messages go out as they
 * come, one `{"result": ...}` line each (newline-delimited JSON, grpc-gateway's format),
 * and a failure after the first as an `{"error": ...}` line. Response metadata goes out as
 * `Grpc-Metadata-*` headers, and a unary call's trailers as `Grpc-Trailer-*` headers.
 */
export class JsonReply implements Downstream, FinishedCall {
  outcome: Outcome = 'rejected';
  collapseKey: string | null = null;
  route: RouteLabel | null = null;
  readonly startedAt = performance.now();
  /** The gRPC method called; '' when no route took the request. */
  method = '';
  requestBytes = 0;
  responseBytes = 0;
  traceparent: string | string[] | undefined = undefined;
  /** The HTTP request as the access log shows it; status is set when the answer starts. */
  readonly http: { method: string; path: string; status: number };
  /** The status the client was given, as a gRPC code; CANCELLED until one was. */
  code: number = Status.CANCELLED;
  message = 'the HTTP client went away';
  private control: CallControl | null = null;
  private servedBy: CallControl | null = null;
  private metadata: Headers | null = null;
  /** Trailers, when they came before the answer was started (a unary call's always do). */
  private trailers: Headers | null = null;
  /** The route it answers for, once one took the request; its method's output type decodes the answer. */
  private answering: HttpRoute | null = null;
  private registry: Registry | null = null;
  private json: JsonAnswerSpec | undefined = undefined;
  private readonly messages: Buffer[] = [];
  private pending: Buffer[] = [];
  private started = false;
  private done = false;
  private awaitingDrain = false;

  constructor(
    private readonly res: HttpResponse,
    httpMethod: string,
    path: string,
    private readonly extraHeaders: Readonly<Record<string, string>>,
    /** Adds what a page may read to the answer's headers. */
    private readonly cors: CorsPolicy,
    /** Told once the HTTP response has closed (metrics, access log). */
    private readonly owner: { replyClosed(reply: JsonReply): void },
  ) {
    this.http = { method: httpMethod, path, status: 0 };
    res.on('close', () => {
      if (!this.done) {
        this.done = true;
        if (this.outcome === 'rejected') this.outcome = 'cancelled';
        this.control?.abort(new GrpcError(Status.CANCELLED, 'the HTTP client went away'));
      }
      this.owner.replyClosed(this);
    });
  }

  /** Draining: an HTTP/1.1 connection closes once this answer is written (h2c clients get GOAWAY instead). */
  closesConnection(): void {
    if (this.res.req.httpVersionMajor === 1 && !this.res.headersSent) this.res.setHeader('connection', 'close');
  }

  /** A route took the request: the answer is its gRPC method's output, as JSON. */
  answers(route: HttpRoute, registry: Registry, json: JsonAnswerSpec): void {
    this.json = json;
    this.answering = route;
    this.registry = registry;
    this.method = route.grpcPath;
    this.route = route.label;
  }

  private get streaming(): boolean {
    return this.answering?.method.methodKind === 'server_streaming';
  }

  private toJson(message: Uint8Array): unknown {
    return responseJson(this.answering!.method, this.registry!, message, this.answering!.spec.responseBody, this.json);
  }

  get backend(): BackendCall | null {
    return this.servedBy?.backend ?? null;
  }

  get bufferedBytes(): number {
    return this.res.writableLength;
  }

  get open(): boolean {
    return !this.done;
  }

  onStart(control: CallControl): void {
    this.control = control;
    this.servedBy = control;
  }

  onHeaders(headers: Headers, endsResponse: boolean): void {
    this.metadata = headers;
    if (endsResponse) this.finish(statusCode(headers['grpc-status']), decodeGrpcMessage(headers['grpc-message']));
  }

  onData(chunk: Buffer): void {
    if (this.done) return;
    this.responseBytes += chunk.length;
    this.pending.push(chunk);
    this.takeMessages();
  }

  onTrailers(trailers: Headers): void {
    this.trailers = trailers;
    this.finish(statusCode(trailers['grpc-status']), decodeGrpcMessage(trailers['grpc-message']));
  }

  onError(error: GrpcError): void {
    if (error instanceof Shed) {
      // Over HTTP, the pushback is Retry-After, in whole seconds.
      this.outcome = 'shed';
      this.fail(error.code, error.message, { 'retry-after': String(Math.max(1, Math.ceil(error.pushbackMs / 1000))) });
      return;
    }
    this.finish(error.code, error.message);
  }

  /** The gateway itself refuses the request (no route, bad JSON, ...). */
  fail(grpcCode: number, message: string, headers: Record<string, string> = {}): void {
    if (this.done) return;
    this.done = true;
    this.code = grpcCode;
    this.message = message;
    this.control?.abort(new GrpcError(Status.CANCELLED, message));
    if (this.started) {
      this.res.end(JSON.stringify({ error: httpError(grpcCode, message).body }) + '\n');
      return;
    }
    const { status, body } = httpError(grpcCode, message);
    this.writeHead(status, { ...headers, ...(grpcCode === Status.UNAUTHENTICATED ? { 'www-authenticate': 'Bearer' } : {}) });
    this.res.end(JSON.stringify(body));
  }

  /** An HTTP-level refusal with its own status (405 with Allow, 413), before any call was made. */
  refuse(httpStatus: number, code: string, grpcCode: number, message: string, headers: Record<string, string> = {}): void {
    if (this.done) return;
    this.done = true;
    this.code = grpcCode;
    this.message = message;
    this.writeHead(httpStatus, headers);
    this.res.end(JSON.stringify({ code, message, grpc_code: grpcCode }));
  }

  /** Splits what arrived into whole messages (the scanner has followed their frames). */
  private takeMessages(): void {
    let buffered = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending);
    while (buffered.length >= 5) {
      if (buffered[0] !== 0) {
        this.fail(Status.INTERNAL, `the backend's response is compressed or not gRPC framing (flag byte ${buffered[0]})`);
        return;
      }
      const length = buffered.readUInt32BE(1);
      if (buffered.length < 5 + length) break;
      const message = buffered.subarray(5, 5 + length);
      buffered = buffered.subarray(5 + length);
      if (this.streaming) this.writeLine({ result: this.toJson(message) });
      else this.messages.push(message);
    }
    this.pending = buffered.length === 0 ? [] : [buffered];
  }

  private writeLine(line: unknown): void {
    if (!this.started) this.writeHead(200, { 'content-type': 'application/x-ndjson' });
    if (!this.res.write(JSON.stringify(line) + '\n') && !this.awaitingDrain) {
      this.awaitingDrain = true;
      this.control?.pause();
      this.res.once('drain', () => {
        this.awaitingDrain = false;
        this.control?.resume();
      });
    }
  }

  private finish(code: number, message: string): void {
    if (this.done) return;
    if (code !== Status.OK) {
      this.fail(code, message);
      return;
    }
    this.done = true;
    this.code = Status.OK;
    this.message = '';
    if (this.streaming) {
      if (!this.started) this.writeHead(200, { 'content-type': 'application/x-ndjson' });
      this.res.end();
      return;
    }
    if (this.messages.length !== 1) {
      this.done = false;
      this.fail(Status.INTERNAL, `a unary method answered ${this.messages.length} messages`);
      return;
    }
    let body: string;
    try {
      body = JSON.stringify(this.toJson(this.messages[0]!));
    } catch (err) {
      this.done = false;
      this.fail(Status.INTERNAL, `the backend's answer does not decode as its method's message: ${(err as Error).message}`);
      return;
    }
    this.writeHead(200, { 'content-type': 'application/json' });
    this.res.end(body);
  }

  private writeHead(status: number, headers: Record<string, string>): void {
    this.started = true;
    this.http.status = status;
    const out: Record<string, string | string[]> = { 'content-type': 'application/json', ...this.extraHeaders, ...headers };
    if (this.metadata !== null) copyMetadata(this.metadata, 'grpc-metadata-', out);
    if (this.trailers !== null) copyMetadata(this.trailers, 'grpc-trailer-', out);
    this.cors.expose(out);
    this.res.writeHead(status, out);
  }
}

/** The backend's metadata as HTTP headers under `prefix` (grpc-gateway's Grpc-Metadata- and Grpc-Trailer-). */
function copyMetadata(from: Headers, prefix: string, out: Record<string, string | string[]>): void {
  for (const [name, value] of Object.entries(from)) {
    if (value === undefined || NOT_METADATA.test(name)) continue;
    out[`${prefix}${name}`] = Array.isArray(value) ? value : String(value);
  }
}
