import type { ClientConnection, ClientConnections } from './client-connections.js';

export interface OverloadLimits {
  /** MAX_OPEN_CALLS: client calls open at once, on every front together. */
  maxOpenCalls: number;
  /** MAX_REQUEST_BUFFER_BYTES: request bytes corral holds, read before it knew a call's shape or kept for its retries. */
  maxRequestBytes: number;
}

/** Why a new call was refused, for metrics. */
export type Refusal = 'open_calls' | 'request_bytes' | 'memory';

/**
 * What the whole process holds for its clients, and whether it takes one more call: the
 * fronts ask before they accept a call, and refuse it (REFUSED_STREAM, which gRPC clients
 * retry; 503 on HTTP/1.1) while held request bytes or live memory are over their bounds
 * (Envoy's overload manager stops accepting requests the same way). Each connection's own
 * bound (MAX_CONCURRENT_STREAMS) does not bound the process: many connections of
 * half-sent streams took corral past its memory limit.
 *
 * At MAX_OPEN_CALLS one client must not lock the others out: a new call is taken if some
 * connection holds at least two calls more than the new call's connection, and the oldest
 * call of the connection holding the most is ended (shed) to make room. Only when the
 * calls are spread evenly is a new call refused.
 */
export class Overload {
  openCalls = 0;
  requestBytes = 0;
  /** Set by the MemoryWatch while live memory is above OVERLOAD_HEAP_BYTES. */
  memoryHigh = false;
  readonly refused: Record<Refusal, number> = { open_calls: 0, request_bytes: 0, memory: 0 };
  /** Calls ended to make room for another connection's at MAX_OPEN_CALLS. */
  shed = 0;
  /** Every front's connections, where the heaviest is looked for. */
  private readonly tables: ClientConnections[] = [];

  constructor(readonly limits: OverloadLimits) {}

  /** A front's connections: their calls count toward MAX_OPEN_CALLS and may be shed. */
  watch(table: ClientConnections): void {
    this.tables.push(table);
  }

  /** Takes a new call on `connection` (true), or counts why not (false). */
  admit(connection: ClientConnection | undefined): boolean {
    const why =
      this.requestBytes >= this.limits.maxRequestBytes ? 'request_bytes'
      : this.memoryHigh ? 'memory'
      : this.openCalls >= this.limits.maxOpenCalls && !this.makeRoom(connection) ? 'open_calls'
      : null;
    if (why === null) {
      this.openCalls++;
      return true;
    }
    this.refused[why]++;
    return false;
  }

  /** Sheds the oldest call of the connection holding the most, if it holds two more than `connection`. */
  private makeRoom(connection: ClientConnection | undefined): boolean {
    if (connection === undefined) return false;
    let heaviest: ClientConnection | null = null;
    for (const table of this.tables) {
      const h = table.heaviest();
      if (h !== null && h.calls.size > (heaviest?.calls.size ?? 0)) heaviest = h;
    }
    if (heaviest === null || heaviest.calls.size <= connection.calls.size + 1) return false;
    const oldest = heaviest.calls.values().next().value!;
    // No longer counted, on its connection or here: its slot is the new call's at once.
    heaviest.calls.delete(oldest);
    this.shed++;
    this.openCalls--;
    oldest.shed();
    return true;
  }

  /**
   * A call's client sent `bytes` that corral now holds. False when that takes the process
   * over MAX_REQUEST_BUFFER_BYTES: the call must end (the bytes are counted until it does).
   */
  hold(bytes: number): boolean {
    this.requestBytes += bytes;
    return this.requestBytes <= this.limits.maxRequestBytes;
  }

  /** A call admitted here ended; it held `heldBytes`. A shed call left the count when it was shed. */
  callEnded(heldBytes: number, wasShed: boolean): void {
    if (!wasShed) this.openCalls--;
    this.requestBytes -= heldBytes;
  }
}

/** Why a call was shed at MAX_OPEN_CALLS. */
export const SHED =
  'corral is at MAX_OPEN_CALLS and this connection held the most open calls: its oldest was ended to let another client in; spread calls or open fewer at once';

/** Why a call that would take corral over MAX_REQUEST_BUFFER_BYTES ends. */
export function requestBufferFull(limit: number): string {
  return `corral holds ${limit} bytes of requests not yet forwarded (MAX_REQUEST_BUFFER_BYTES); retry shortly`;
}
