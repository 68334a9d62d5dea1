import { openSync } from 'node:fs';
import { pino } from 'pino';
import type { FinishedCall, Observer } from '../observer.js';
import { statusName } from '../wire/status.js';
import { firstValue } from '../wire/metadata.js';

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
  private readonly out: ReturnType<typeof pino.destination>;

  constructor(target: AccessLogTarget) {
    // Opened here, synchronously, so that a path corral cannot write is a start-up error.
    const fd = typeof target === 'string' ? openSync(target, 'a') : target;
    this.out = pino.destination({ dest: fd, sync: false, minLength: 0 });
  }

  callEnded(call: FinishedCall): void {
    const backend = call.outcome === 'cache_hit' ? null : call.backend;
    const line = {
      time: new Date().toISOString(),
      method: call.method,
      route: call.route?.name ?? null,
      cluster: call.route?.cluster ?? null,
      endpoint: backend?.endpoint || null,
      outcome: call.outcome,
      grpc_code: statusName(call.code),
      grpc_status: call.code,
      grpc_message: call.message,
      duration_ms: Math.round((performance.now() - call.startedAt) * 1000) / 1000,
      request_bytes: call.requestBytes,
      response_bytes: call.responseBytes,
      retries: backend?.retries ?? 0,
      trace_id: traceIdOf(call.traceparent),
    };
    this.out.write(JSON.stringify(line) + '\n');
  }

  /** Writes what is buffered; at shutdown. */
  close(): void {
    try {
      this.out.flushSync();
    } catch {
      // nothing buffered, or the file is gone: nothing more can be done
    }
  }
}
