import type { z } from 'zod';
import type { Logger } from '../log/logger.js';
import type { Resolution, Resolver, ResolverHealth } from './endpoint.js';
import { redactedUrl, redactedUrlsIn } from '../spec/redact.js';

export interface PollingOptions {
  /** Time between lookups while they succeed. */
  intervalMs: number;
  /** A lookup that takes longer is abandoned and counts as a failure. */
  timeoutMs: number;
  /** Longest wait between lookups after failures; the wait doubles per failure from intervalMs / 4. */
  maxBackoffMs: number;
  /** Shortest time between two lookups asked for by refresh(). */
  minRefreshMs: number;
}

export const DEFAULT_POLLING: Omit<PollingOptions, 'intervalMs'> = {
  timeoutMs: 5_000,
  maxBackoffMs: 30_000,
  minRefreshMs: 1_000,
};

/**
 * A resolver that looks its endpoints up on an interval. A failed lookup keeps the last
 * good list and is retried with exponential backoff; refresh() asks for an early lookup,
 * at most once per minRefreshMs and never while backing off.
 */
export abstract class PollingResolver implements Resolver {
  abstract readonly kind: string;
  health: ResolverHealth = { lastUpdateAt: null, lastError: null };
  private update: ((resolution: Resolution) => void) | null = null;
  private timer: NodeJS.Timeout | null = null;
  private running: AbortController | null = null;
  private failures = 0;
  private lastAttemptAt = -Infinity;
  private notBefore = 0;
  private stopped = false;

  constructor(
    protected readonly options: PollingOptions,
    protected readonly logger: Logger,
  ) {}

  /** One lookup; throws with a message that says what went wrong. */
  protected abstract lookup(signal: AbortSignal): Promise<Resolution>;

  /** Where the resolver looks, for logs. */
  protected abstract get target(): string;

  /** GETs a JSON document and checks it against `schema`; throws naming the first mismatch. */
  protected async getJson<S extends z.ZodType>(url: string, schema: S, signal: AbortSignal): Promise<z.output<S>> {
    const response = await fetchWithCredentials(url, { signal });
    if (!response.ok) throw new Error(`GET ${url} answered HTTP ${response.status}`);
    const parsed = schema.safeParse(await response.json());
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new Error(`GET ${url}: unexpected answer at ${issue.path.join('.') || 'top level'}: ${issue.message}`);
    }
    return parsed.data;
  }

  start(update: (resolution: Resolution) => void): void {
    this.update = update;
    void this.poll();
  }

  refresh(): void {
    const now = performance.now();
    if (this.stopped || this.running !== null || now < this.notBefore || now - this.lastAttemptAt < this.options.minRefreshMs) return;
    void this.poll();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.running?.abort();
  }

  private async poll(): Promise<void> {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.lastAttemptAt = performance.now();
    const controller = new AbortController();
    this.running = controller;
    const timeout = setTimeout(() => controller.abort(new Error(`no answer within ${this.options.timeoutMs}ms`)), this.options.timeoutMs);
    let wait = this.options.intervalMs;
    try {
      const resolution = await this.lookup(controller.signal);
      if (this.stopped) return;
      if (this.failures > 0) this.logger.info({ source: this.kind, target: redactedUrl(this.target) }, 'endpoint lookup recovered');
      this.failures = 0;
      this.notBefore = 0;
      this.health = { lastUpdateAt: Date.now(), lastError: null };
      this.update?.(resolution);
    } catch (err) {
      if (this.stopped) return;
      this.failures++;
      wait = Math.min(this.options.maxBackoffMs, (this.options.intervalMs / 4) * 2 ** (this.failures - 1));
      this.notBefore = performance.now() + wait;
      // Shown in /clusters and logs: a URL's credentials never are.
      const reason = redactedUrlsIn(controller.signal.aborted ? (controller.signal.reason as Error).message : (err as Error).message);
      const target = redactedUrl(this.target);
      this.health = { lastUpdateAt: this.health.lastUpdateAt, lastError: `${target}: ${reason}` };
      this.logger.warn(
        { source: this.kind, target, err: reason, failures: this.failures, retryInMs: Math.round(wait) },
        'endpoint lookup failed; keeping the last good list',
      );
    } finally {
      clearTimeout(timeout);
      this.running = null;
    }
    if (!this.stopped) this.timer = setTimeout(() => void this.poll(), wait).unref();
  }
}

/**
 * fetch(), with a URL's user information (`https://user:password@host/`) sent as HTTP
 * Basic authentication, as curl sends it: fetch refuses a URL that holds credentials.
 */
export function fetchWithCredentials(text: string, init: RequestInit): Promise<Response> {
  const url = new URL(text);
  if (url.username === '' && url.password === '') return fetch(url, init);
  const basic = Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64');
  url.username = '';
  url.password = '';
  return fetch(url, { ...init, headers: { ...(init.headers as Record<string, string> | undefined), authorization: `Basic ${basic}` } });
}
