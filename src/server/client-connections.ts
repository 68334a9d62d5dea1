import type { Socket } from 'node:net';

export interface ConnectionLimits {
  /** MAX_CONNECTIONS: connections held at once; at the limit, the one idle the longest makes room. */
  maxConnections: number;
  /** MAX_CONNECTIONS_PER_PEER: connections from one client address; 0: no limit. */
  maxConnectionsPerPeer: number;
  /** CLIENT_IDLE_TIMEOUT: a connection with no call open for this long is closed; 0: never. */
  idleTimeoutMs: number;
}

/** Why corral closed a client connection, for metrics. */
export type ConnectionClosure = 'evicted' | 'idle_timeout' | 'refused';

/** Where a socket or an HTTP/2 session keeps its ClientConnection. */
export const kClientConnection = Symbol('corral.clientConnection');

/** A call open on a connection, which corral may end to make room for another connection's (see Overload). */
export interface OpenCall {
  /** Ends the call at once with a status saying why. */
  shed(): void;
  /** It was shed: it no longer counts as open. */
  readonly wasShed: boolean;
}

/** One client connection as the table sees it. */
export class ClientConnection {
  /** Calls open on it now, oldest first. */
  readonly calls = new Set<OpenCall>();
  /** When its last call ended (or it was accepted), on performance.now()'s clock. */
  idleSince = performance.now();
  /**
   * Closes it politely once it speaks a protocol (an HTTP/2 session's GOAWAY); until then
   * (a TLS handshake, no preface yet) the socket is destroyed.
   */
  closer: (() => void) | null = null;

  constructor(
    readonly socket: Socket,
    /** The client's address, for the per-peer limit. */
    readonly peer: string,
    /** address:port, how a TLS socket or an HTTP/2 session finds the entry of its TCP socket. */
    readonly key: string,
  ) {}

  close(): void {
    if (this.closer !== null) this.closer();
    else this.socket.destroy();
  }
}

/**
 * The client connections of one port, bounded as nginx and Envoy bound theirs, so that
 * connections nobody uses cannot lock other clients out:
 *
 * - at MAX_CONNECTIONS a new connection makes room by closing (GOAWAY) the one that has
 *   had no call open for the longest; only when every connection carries a call is the
 *   new one refused;
 * - a connection with no call open for CLIENT_IDLE_TIMEOUT is closed (nginx's
 *   http2_idle_timeout, Envoy's idle_timeout); gRPC clients reconnect when they next call;
 * - MAX_CONNECTIONS_PER_PEER bounds what one client address may hold.
 *
 * Connections with no call are kept in a Set in the order they became idle (a Set keeps
 * insertion order), so the longest idle is its first entry: no scan, no sort.
 */
export class ClientConnections {
  private readonly byKey = new Map<string, ClientConnection>();
  private readonly idle = new Set<ClientConnection>();
  private readonly perPeer = new Map<string, number>();
  private readonly sweeper: NodeJS.Timeout | null;
  /** Connections corral closed, by why. */
  readonly closed: Record<ConnectionClosure, number> = { evicted: 0, idle_timeout: 0, refused: 0 };

  constructor(private readonly limits: ConnectionLimits) {
    const idleMs = limits.idleTimeoutMs;
    this.sweeper = idleMs > 0 ? setInterval(() => this.sweep(), Math.max(25, Math.min(idleMs / 4, 5000))).unref() : null;
  }

  /** Connections open now. */
  get size(): number {
    return this.byKey.size;
  }

  /**
   * A new TCP connection: its entry, or null when it was refused (and destroyed). At the
   * limit the longest idle connection is closed to make room.
   */
  admit(socket: Socket): ClientConnection | null {
    const peer = socket.remoteAddress;
    if (peer === undefined || socket.destroyed) return null;
    const perPeer = this.limits.maxConnectionsPerPeer;
    const fromPeer = this.perPeer.get(peer) ?? 0;
    if ((perPeer > 0 && fromPeer >= perPeer) || (this.byKey.size >= this.limits.maxConnections && !this.evictOne())) {
      this.closed.refused++;
      socket.destroy();
      return null;
    }
    const connection = new ClientConnection(socket, peer, `${peer}:${socket.remotePort}`);
    this.byKey.set(connection.key, connection);
    this.perPeer.set(peer, fromPeer + 1);
    this.idle.add(connection);
    (socket as Socket & { [kClientConnection]?: ClientConnection })[kClientConnection] = connection;
    socket.once('close', () => this.forget(connection));
    return connection;
  }

  /** The entry of a socket admitted here, or of a TLS socket or HTTP/2 session over one. */
  of(socket: { remoteAddress?: string | undefined; remotePort?: number | undefined }): ClientConnection | undefined {
    return this.byKey.get(`${socket.remoteAddress}:${socket.remotePort}`);
  }

  callStarted(connection: ClientConnection, call: OpenCall): void {
    if (connection.calls.size === 0) this.idle.delete(connection);
    connection.calls.add(call);
  }

  callEnded(connection: ClientConnection, call: OpenCall): void {
    if (!connection.calls.delete(call) || connection.calls.size > 0 || !this.byKey.has(connection.key)) return;
    connection.idleSince = performance.now();
    this.idle.add(connection);
  }

  /** The connection with the most calls open; null when none has any. Scans: asked only at MAX_OPEN_CALLS. */
  heaviest(): ClientConnection | null {
    let heaviest: ClientConnection | null = null;
    for (const c of this.byKey.values()) if (c.calls.size > (heaviest?.calls.size ?? 0)) heaviest = c;
    return heaviest;
  }

  /** Stops the idle sweep. */
  close(): void {
    if (this.sweeper !== null) clearInterval(this.sweeper);
  }

  private evictOne(): boolean {
    const longest = this.idle.values().next();
    if (longest.done === true) return false;
    this.closed.evicted++;
    this.drop(longest.value);
    return true;
  }

  private sweep(): void {
    const before = performance.now() - this.limits.idleTimeoutMs;
    for (const connection of this.idle) {
      if (connection.idleSince > before) return;
      this.closed.idle_timeout++;
      this.drop(connection);
    }
  }

  /** Closes a connection and stops counting it at once (its socket may take a moment to close). */
  private drop(connection: ClientConnection): void {
    this.forget(connection);
    connection.close();
  }

  private forget(connection: ClientConnection): void {
    if (this.byKey.get(connection.key) !== connection) return;
    this.byKey.delete(connection.key);
    this.idle.delete(connection);
    const n = (this.perPeer.get(connection.peer) ?? 1) - 1;
    if (n === 0) this.perPeer.delete(connection.peer);
    else this.perPeer.set(connection.peer, n);
  }
}
