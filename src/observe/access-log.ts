import { ConfigError } from '../spec/errors.js';
import { openSync } from 'node:fs';
import { pino } from 'pino';
import type { FinishedCall, Observer } from '../call/observer.js';
import type { Outcome } from '../call/call.js';
import { keyHex } from '../collapse/key.js';
import { statusName } from '../wire/status.js';
import { firstValue } from '../wire/metadata.js';

type Destination = ReturnType<typeof pino.destination>;
const FLUSH_INTERVAL_MS = 1000;
const BATCH_BYTES = 16 * 1024;
/** What may wait for a slow disk or a blocked stdout before lines are dropped (and counted). */
const MAX_PENDING_BYTES = 16 * 1024 * 1024;

function countLines(text: string): number {
  let n = 0;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

/** Outcomes answered from the cache. */
const FROM_CACHE: ReadonlySet<Outcome> = new Set(['cache_hit', 'stale', 'stale_if_error']);

function flushLines(log: AccessLog): void {
  log.flush();
}

/** Where access log lines go: a file path, or fd 1 for stdout. */
export type AccessLogTarget = string | 1;

/** The trace id of a W3C traceparent (version-traceid-spanid-flags), or null. */
function traceIdOf(traceparent: string | string[] | undefined): string | null {
  const value = firstValue(traceparent);
  return value !== undefined && value.length >= 55 && value[2] === '-' ? value.slice(3, 35) : null;
}

/**
 * ACCESS_LOG: one JSON line per finished call, as Envoy's access log has one per request.
 * Lines are written asynchronously as they come (pino's destination, SonicBoom, which
 * joins what piles up into one write), so a slow disk does not hold up calls; what is
 * still buffered is flushed at shutdown.
 */
export class AccessLog implements Pick<Observer, 'callEnded'> {
  private readonly out: Destination;
  private readonly flusher: NodeJS.Timeout;
  private batch: string[] = [];
  private batchBytes = 0;
  /** Lines dropped because the destination could not keep up (MAX_PENDING_BYTES waiting). */
  dropped = 0;

  /** ACCESS_LOG's target, opened at start, so that one corral cannot write is a configuration error; null when off. */
  static open(target: AccessLogTarget | null): AccessLog | null {
    if (target === null) return null;
    try {
      return new AccessLog(target);
    } catch (err) {
      throw new ConfigError(`invalid configuration: ACCESS_LOG='${target}': cannot write it: ${(err as Error).message}`);
    }
  }

  constructor(target: AccessLogTarget) {
    // Opened here, synchronously, so that a path corral cannot write is a start-up error.
    const fd = typeof target === 'string' ? openSync(target, 'a') : target;
    // Lines are joined into writes of BATCH_BYTES here, and what is gathered goes out every
    // second (Envoy's access_log_flush_interval): handing SonicBoom a line at a time cost
    // 5 µs per line (it measures its whole pending string on each write).
    this.out = pino.destination({ dest: fd, sync: false, minLength: 0, maxLength: MAX_PENDING_BYTES });
    this.out.on('drop', (data: string) => (this.dropped += countLines(data)));
    this.flusher = setInterval(flushLines, FLUSH_INTERVAL_MS, this).unref();
  }

  callEnded(call: FinishedCall): void {
    // An answer from the cache names no backend: none answered this call (under stale-if-error, one failed to).
    const backend = FROM_CACHE.has(call.outcome) ? null : call.backend;
    const line = {
      time: new Date().toISOString(),
      method: call.method,
      route: call.route?.name ?? null,
      cluster: call.route?.cluster ?? null,
      endpoint: backend?.endpoint || null,
      outcome: call.outcome,
      // As /flights shows it, for POST /cache/purge?key=.
      key: call.collapseKey === null ? null : keyHex(call.collapseKey),
      grpc_code: statusName(call.code),
      grpc_status: call.code,
      grpc_message: call.message,
      duration_ms: Math.round((performance.now() - call.startedAt) * 1000) / 1000,
      request_bytes: call.requestBytes,
      response_bytes: call.responseBytes,
      retries: backend?.retries ?? 0,
      trace_id: traceIdOf(call.traceparent),
      ...(call.http === undefined ? null : { http_method: call.http.method, http_path: call.http.path, http_status: call.http.status }),
    };
    const text = JSON.stringify(line) + '\n';
    this.batch.push(text);
    this.batchBytes += text.length;
    if (this.batchBytes >= BATCH_BYTES) this.flush();
  }

  /** @internal Hands what was gathered to the destination, which writes it in the background. */
  flush(): void {
    if (this.batch.length === 0) return;
    const text = this.batch.length === 1 ? this.batch[0]! : this.batch.join('');
    this.batch = [];
    this.batchBytes = 0;
    this.out.write(text);
  }

  /** Writes what is buffered; at shutdown. */
  close(): void {
    clearInterval(this.flusher);
    this.flush();
    try {
      this.out.flushSync();
    } catch {
      // nothing buffered, or the file is gone: nothing more can be done
    }
  }
}
