import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import http2, { constants, type Http2Session, type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import type { Handler, Outcome } from '../call/call.js';
import type { Logger } from '../log/logger.js';
import type { Observer } from '../call/observer.js';
import { metadataProblem, restoreRepeatedFields } from '../wire/metadata.js';
import { parseGrpcTimeout } from '../wire/timeout.js';
import { GrpcError, Status } from '../wire/status.js';
import { Intake, type IntakeContext, type IntakeOptions } from './intake.js';
import { QuietWatch } from './quiet-watch.js';
import { listen } from './listen.js';
import { Reply, type ReplyOwner } from './reply.js';
import type { ClientIdentities } from '../tls/client-certificate.js';
import { secureServerOptions, type ServerTls } from '../tls/server-tls.js';
import { secureContextOf, type LoadedCertificate } from '../tls/certificate-files.js';
import { ClientConnections, kClientConnection, type ClientConnection, type ConnectionLimits } from './client-connections.js';
import type { Overload } from './overload.js';
import { EarlyAnswers } from './early-answers.js';
import { dropOwnMetadata } from '../call/own-metadata.js';
import { FLEET_HOP } from '../call/fleet-hop.js';

export interface FrontOptions extends IntakeOptions, ConnectionLimits {
  /** RESPONSE_OUTCOME_HEADER: response metadata that tells the client how its call was served; null when off. */
  outcomeHeader: string | null;
  host: string;
  port: number;
  maxConcurrentStreams: number;
  /**
   * A connection that has not finished its TLS handshake and sent HTTP/2's preface and
   * SETTINGS by then is closed: otherwise silent connections would hold MAX_CONNECTIONS.
   */
  handshakeTimeoutMs: number;
  /** TLS on this port; null or unset: cleartext HTTP/2 (h2c). */
  tls?: ServerTls | null;
  /**
   * COLLAPSER_FLEET is on: a call may carry the hop mark of a fleet peer (over TLS only
   * from a connection with the peers' identity). Off, every corral-* name is dropped.
   */
  fleet?: boolean;
}


const METHOD_NAME = /^\/[^/]+\/[^/]+$/;

/**
 * The HTTP/2 front: accepts every gRPC method on cleartext HTTP/2 (h2c, as a sidecar
 * is reached inside its pod) or over TLS, checks that a request is gRPC, and turns each
 * stream into a Call for the handler. It knows nothing of collapsing.
 */
export class Front implements ReplyOwner {
  readonly outcomeHeader: string | null;
  private readonly server: http2.Http2Server | http2.Http2SecureServer;
  private readonly identities: ClientIdentities | null;
  private readonly sessions = new Set<Http2Session>();
  private readonly calls = new Set<Reply>();
  private readonly intake: IntakeContext;
  /** Calls answered while their clients still send: reset once the answer went out. */
  private readonly earlyAnswers = new EarlyAnswers(this.calls);
  /** The one corral-* name a call may keep: the fleet's hop mark, when the fleet is on. */
  private readonly hopMark: string | null;
  /** This port's connections: bounded, idle ones closed. */
  readonly connections: ClientConnections;

  constructor(
    handler: Handler,
    private readonly options: FrontOptions,
    private readonly observer: Observer,
    private readonly logger: Logger,
    /** What the process holds for every front: refuses calls past its bounds. */
    private readonly overload: Overload,
  ) {
    const serverOptions = {
      settings: { maxConcurrentStreams: options.maxConcurrentStreams },
      // gRPC allows metadata values with leading or trailing spaces; RFC 9113's check would drop them.
      strictFieldWhitespaceValidation: false,
      // node refuses new streams (ENHANCE_YOUR_CALM) while a session's unsent data exceeds this
      // (10 MB by default): a client reading large answers slowly would have its other calls
      // fail. grpc-js lifts it too; what a connection holds is bounded by its streams instead.
      maxSessionMemory: Number.MAX_SAFE_INTEGER,
    } as http2.ServerOptions;
    const tls = options.tls ?? null;
    this.server = tls === null ? http2.createServer(serverOptions) : http2.createSecureServer({ ...serverOptions, ...secureServerOptions(tls), ALPNProtocols: ['h2'], handshakeTimeout: options.handshakeTimeoutMs });
    this.identities = tls === null ? null : tls.identities;
    this.connections = new ClientConnections(options);
    overload.watch(this.connections);
    // First, so that a refused connection gets no further (over TLS: before its handshake).
    this.server.prependListener('connection', (socket: Socket) => this.connections.admit(socket));
    this.outcomeHeader = options.outcomeHeader;
    this.hopMark = options.fleet === true ? FLEET_HOP : null;
    this.intake = { handler, maxMessageBytes: options.maxMessageBytes, watch: new QuietWatch(options.halfCloseWaitMs), overload };
    // The secure server emits the same events.
    (this.server as http2.Http2Server).on('stream', (stream, headers, _flags, raw: string[] | undefined) => this.accept(stream, headers, raw));
    this.server.on('session', (session) => this.track(session));
    this.server.on('sessionError', (err) => logger.debug({ err: err.message }, 'client session error'));
    // A client refused in the handshake (no certificate, another CA, cleartext): its connection ends there.
    this.server.on('tlsClientError', (err: Error) => logger.debug({ err: err.message }, 'TLS handshake refused'));
  }

  listen(): Promise<number> {
    return listen(this.server, this.options.port, this.options.host);
  }

  /** New TLS handshakes use this certificate (and client CA); open connections carry on. */
  setCertificate(certificate: LoadedCertificate): void {
    (this.server as http2.Http2SecureServer).setSecureContext(secureContextOf(certificate));
  }

  /** Client calls still open. */
  get activeCalls(): number {
    return this.calls.size;
  }

  /** How each open call is being served, so far. */
  *openOutcomes(): Generator<Outcome> {
    for (const reply of this.calls) yield reply.outcome;
  }

  /** Stops accepting connections and sends GOAWAY on every session; calls under way go on. */
  drain(): void {
    this.connections.close();
    this.earlyAnswers.close();
    this.server.close();
    for (const session of this.sessions) session.close();
  }

  /** Ends every call still open with `error`, as a gRPC status its client can read. */
  failOpenCalls(error: GrpcError): void {
    for (const reply of [...this.calls]) reply.fail(error);
  }

  /** Ends every remaining session at once. */
  destroy(): void {
    this.connections.close();
    this.earlyAnswers.close();
    for (const session of this.sessions) session.destroy();
  }

  /** @internal */
  replyClosed(reply: Reply): void {
    this.calls.delete(reply);
    this.earlyAnswers.delete(reply);
    this.overload.callEnded(reply.heldBytes, reply.wasShed);
    if (reply.connection !== null) this.connections.callEnded(reply.connection, reply);
    this.observer.callEnded(reply);
  }

  private track(session: Http2Session): void {
    this.sessions.add(session);
    const connection = this.connections.of(session.socket);
    if (connection !== undefined) {
      (session as Http2Session & { [kClientConnection]?: ClientConnection })[kClientConnection] = connection;
      connection.closer = () => session.close();
    }
    // Until the client's SETTINGS arrive, the connection is on a clock (one timer per connection).
    // Reset, not closed: a graceful close would wait for a client that says nothing.
    const silent = setTimeout(resetSilent, this.options.handshakeTimeoutMs, session);
    session.once('remoteSettings', () => clearTimeout(silent));
    session.on('close', () => {
      clearTimeout(silent);
      this.sessions.delete(session);
    });
    session.on('error', (err) => this.logger.debug({ err: err.message }, 'client session error'));
  }

  private accept(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, raw: string[] | undefined): void {
    // Past the process's bounds the call is refused before corral spends anything on it;
    // REFUSED_STREAM tells the client nothing was processed, so it may retry.
    const connection = (stream.session as Http2Session & { [kClientConnection]?: ClientConnection })[kClientConnection];
    if (!this.overload.admit(connection)) {
      stream.on('error', ignoreRefusedStream);
      stream.close(constants.NGHTTP2_REFUSED_STREAM);
      return;
    }
    restoreRepeatedFields(headers, raw);
    // Over TLS, corral owns x-forwarded-client-cert: the connection's certificate, never what the client sent.
    if (this.identities !== null) this.identities.apply(headers, stream.session!.socket as TLSSocket);
    if (raw !== undefined) dropOwnMetadata(headers, raw, this.hopMark);
    const reply = new Reply(stream, this, typeof headers[':path'] === 'string' ? headers[':path'] : '', headers);
    this.calls.add(reply);
    if (connection !== undefined) {
      reply.connection = connection;
      this.connections.callStarted(connection, reply);
    }
    if (this.refusal(headers, reply)) {
      stream.resume();
      return;
    }
    let deadline = Infinity;
    const timeout = headers['grpc-timeout'];
    if (timeout !== undefined) {
      try {
        const ms = parseGrpcTimeout(String(timeout));
        reply.expireAfter(ms);
        deadline = reply.startedAt + ms;
      } catch (err) {
        reply.fail(err as GrpcError);
        stream.resume();
        return;
      }
    }
    new Intake(stream, headers[':path']!, headers, deadline, reply, this.intake);
  }

  /** Answers a request that is not a well-formed gRPC call; returns true when it did. */
  private refusal(headers: IncomingHttpHeaders, reply: Reply): boolean {
    if (headers[':method'] !== 'POST') {
      reply.reject(405, new GrpcError(Status.INTERNAL, `gRPC requires POST, got ${headers[':method']}`), {
        allow: 'POST',
      });
      return true;
    }
    const contentType = headers[constants.HTTP2_HEADER_CONTENT_TYPE];
    if (typeof contentType !== 'string' || !/^application\/grpc(?:$|[+;])/.test(contentType)) {
      reply.reject(
        415,
        new GrpcError(Status.INTERNAL, `unsupported content-type '${contentType ?? ''}': gRPC needs application/grpc`),
      );
      return true;
    }
    const path = headers[':path'];
    if (typeof path !== 'string' || !METHOD_NAME.test(path)) {
      reply.fail(new GrpcError(Status.UNIMPLEMENTED, `malformed method name '${path ?? ''}': expected /package.Service/Method`));
      return true;
    }
    const problem = metadataProblem(headers);
    if (problem !== null) {
      reply.fail(problem);
      return true;
    }
    return false;
  }
}

/** Ends a connection that did not finish setting up in time. */
function resetSilent(session: Http2Session): void {
  try {
    (session.socket as Socket).resetAndDestroy();
  } catch {
    // already let go of its socket: closing anyway
  }
}

/** node reports a stream it closed with an error code as an 'error' of that stream; a refusal is not one. */
function ignoreRefusedStream(): void {}
