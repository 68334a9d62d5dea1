import { z } from 'zod';

/**
 * How many calls a cluster's backend gets at once: `off` (no limit), a fixed number, or
 * `adaptive` (found from the latencies corral measures). BACKEND_CONCURRENCY, and a
 * cluster's `concurrency` in the routes file.
 */
export type ConcurrencySpec = 'off' | 'adaptive' | number;

/** A route's claim on a bound cluster: critical calls are admitted first, sheddable ones shed first. */
export const PRIORITIES = ['critical', 'normal', 'sheddable'] as const;
export type Priority = (typeof PRIORITIES)[number];

/** The highest fixed limit accepted: past it, a limit binds nothing a backend could take. */
const MAX_FIXED = 100_000;

/** A concurrency setting as written (YAML or the environment): off, adaptive, or a whole number of calls. */
export function parseConcurrency(text: string): ConcurrencySpec | undefined {
  const t = text.trim();
  if (t === 'off' || t === 'adaptive') return t;
  if (!/^\d+$/.test(t)) return undefined;
  const n = Number(t);
  return n >= 1 && n <= MAX_FIXED ? n : undefined;
}

export const CONCURRENCY_MESSAGE = `expected off, adaptive, or a number of calls from 1 to ${MAX_FIXED}`;

/** A cluster's `concurrency` field: off, adaptive or a number (YAML gives it as a number or a string). */
export const concurrencySchema = z.union([z.number(), z.string()]).transform((value, ctx) => {
  const spec = parseConcurrency(String(value));
  if (spec === undefined) {
    ctx.addIssue({ code: 'custom', message: CONCURRENCY_MESSAGE });
    return z.NEVER;
  }
  return spec;
});
