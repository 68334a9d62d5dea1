import { z } from 'zod';
import { parseDuration } from '../spec/duration.js';
import { parseMethodList } from '../spec/method-list.js';
import { Status } from '../wire/status.js';

/** The shapes of corral's environment variables, as zod fields with their messages. */

/**
 * A Go-style duration; `positive` refuses 0 where 0 cannot work (a timer of 0 fires at once).
 * The default text is kept as the field's metadata, for messages that name the value in effect.
 */
export function duration(defaultValue: string, positive = false) {
  return z
    .string()
    .default(defaultValue)
    .transform((text, ctx) => {
      const ms = parseDuration(text.trim());
      if (ms === undefined) {
        ctx.addIssue({ code: 'custom', message: 'expected a duration such as 100ms, 10s, 1m or 1m30s' });
        return z.NEVER;
      }
      if (positive && ms < 1) {
        ctx.addIssue({ code: 'custom', message: 'expected a duration of at least 1ms (0 cannot work here)' });
        return z.NEVER;
      }
      return ms;
    })
    .meta({ default: defaultValue, duration: true });
}

export function integer(defaultValue: number, min: number, max: number, what: string) {
  return z
    .string()
    .default(String(defaultValue))
    .transform((text, ctx) => {
      const trimmed = text.trim();
      const n = /^\d+$/.test(trimmed) ? Number(trimmed) : NaN;
      if (!(n >= min && n <= max)) {
        ctx.addIssue({ code: 'custom', message: `expected ${what}, a whole number from ${min} to ${max}` });
        return z.NEVER;
      }
      return n;
    })
    .meta({ default: String(defaultValue) });
}

/** COLLAPSER_METHODS, COLLAPSER_SKIP_METHODS: full method names and service prefixes. */
export const methodList = z
  .string()
  .optional()
  .transform((text, ctx) => {
    if (text === undefined || text.trim() === '') return undefined;
    const parsed = parseMethodList(text);
    if (typeof parsed === 'string') {
      ctx.addIssue({ code: 'custom', message: parsed });
      return z.NEVER;
    }
    return parsed;
  });

/** A whole number up to `max`, or undefined when the variable is unset. */
export const optionalWhole = (max: number, what: string) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, `expected ${what}`)
    .transform(Number)
    .refine((n) => n <= max, `expected ${what}`)
    .optional();

/** A file path, or undefined when the variable is unset. */
export const path = z.string().trim().min(1, 'expected a file path').optional();

export const port = (defaultValue: number) => integer(defaultValue, 0, 65535, 'a TCP port (0 picks a free one)');
export const MiB = 1024 * 1024;

/** Statuses no answer may be cached with: an authorization answer must never be shared in time. */
const NEVER_CACHED = new Set(['UNAUTHENTICATED', 'PERMISSION_DENIED', 'OK']);

/** COLLAPSER_CACHE_STATUSES: NOT_FOUND=2s,INVALID_ARGUMENT=1s -> code to ms. */
export const statusTtls = z
  .string()
  .optional()
  .transform((text, ctx) => {
    const ttls = new Map<number, number>();
    if (text === undefined || text.trim() === '') return ttls;
    for (const entry of text.split(',').map((e) => e.trim()).filter((e) => e !== '')) {
      const [name, time] = entry.split('=', 2).map((p) => p.trim()) as [string, string | undefined];
      const code = (Status as Record<string, number>)[name];
      const ms = time === undefined ? undefined : parseDuration(time);
      if (code === undefined || ms === undefined) {
        ctx.addIssue({ code: 'custom', message: `'${entry}': expected STATUS=duration, e.g. NOT_FOUND=2s (status names as in grpc: NOT_FOUND, INVALID_ARGUMENT...)` });
        return z.NEVER;
      }
      if (NEVER_CACHED.has(name)) {
        ctx.addIssue({
          code: 'custom',
          message: name === 'OK' ? `'${entry}': OK answers follow COLLAPSER_CACHE_DURATION` : `'${entry}': ${name} is never cached: an authorization answer must never be shared in time`,
        });
        return z.NEVER;
      }
      ttls.set(code, ms);
    }
    return ttls;
  });
