/**
 * An open-loop gRPC load: calls sent at a fixed rate whatever happens to the earlier
 * ones (as users keep arriving at a slow service), each with a deadline the client keeps
 * itself: at the deadline it cancels the call (RST_STREAM CANCEL) and counts it
 * DEADLINE_EXCEEDED. Every call's status and latency are kept.
 */
import http2 from 'node:http2';
import { encodeFrame } from '../src/wire/frame.js';

export interface LoadShape {
  port: number;
  /** Calls per second. */
  rate: number;
  seconds: number;
  deadlineMs: number;
  /** The full method name. */
  path: string;
  /** Metadata sent with every call. */
  metadata?: Record<string, string>;
  /** The request of call i: distinct payloads make distinct calls. */
  request(i: number): Buffer;
  /** Connections the calls are spread over. */
  connections?: number;
}

export interface CallResult {
  /** When it was sent, in ms from the start of the load. */
  sentMs: number;
  latencyMs: number;
  /** grpc-status; 4 when the client's deadline passed first; -1 when the connection failed. */
  status: number;
  /** grpc-retry-pushback-ms, when the answer had one. */
  pushbackMs: number | null;
}

const DEADLINE_EXCEEDED = 4;

/** A distinct 100-byte request per call. */
export function distinct(tag: string): (i: number) => Buffer {
  return (i) => encodeFrame(Buffer.from(`${tag}-${i}`.padEnd(100, '.')));
}

/** Sends the load and resolves once every call has ended. */
export async function openLoop(shape: LoadShape): Promise<CallResult[]> {
  const sessions = Array.from({ length: shape.connections ?? 4 }, () => {
    const s = http2.connect(`http://127.0.0.1:${shape.port}`);
    s.on('error', () => {});
    return s;
  });
  const headers = {
    ':method': 'POST',
    ':path': shape.path,
    'content-type': 'application/grpc',
    te: 'trailers',
    'grpc-timeout': `${shape.deadlineMs}m`,
    ...shape.metadata,
  };
  const results: CallResult[] = [];
  const pending: Array<Promise<void>> = [];
  const start = performance.now();
  const total = Math.round(shape.rate * shape.seconds);
  let sent = 0;
  const one = (i: number): Promise<void> =>
    new Promise((resolve) => {
      const sentAt = performance.now();
      const result: CallResult = { sentMs: sentAt - start, latencyMs: 0, status: -1, pushbackMs: null };
      let req: http2.ClientHttp2Stream;
      try {
        req = sessions[i % sessions.length]!.request(headers);
      } catch {
        results.push(result);
        resolve();
        return;
      }
      const read = (h: http2.IncomingHttpHeaders) => {
        if (result.status === DEADLINE_EXCEEDED) return; // past the deadline: too late, whatever it says
        if (h['grpc-status'] !== undefined) result.status = Number(h['grpc-status']);
        if (h['grpc-retry-pushback-ms'] !== undefined) result.pushbackMs = Number(h['grpc-retry-pushback-ms']);
      };
      const timer = setTimeout(() => {
        if (result.status === -1) result.status = DEADLINE_EXCEEDED;
        req.close(http2.constants.NGHTTP2_CANCEL);
      }, shape.deadlineMs);
      req.on('response', read);
      req.on('trailers', read);
      req.on('data', () => {});
      req.on('error', () => {});
      req.on('close', () => {
        clearTimeout(timer);
        result.latencyMs = performance.now() - sentAt;
        results.push(result);
        resolve();
      });
      req.end(shape.request(i));
    });
  await new Promise<void>((done) => {
    const tick = () => {
      const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * shape.rate));
      while (sent < due) pending.push(one(sent++));
      if (sent < total) setTimeout(tick, 1);
      else done();
    };
    tick();
  });
  await Promise.all(pending);
  for (const s of sessions) s.close();
  return results;
}

/** The calls answered OK within their deadline, per second of load. */
export function goodput(results: readonly CallResult[], seconds: number): number {
  return results.filter((r) => r.status === 0).length / seconds;
}
