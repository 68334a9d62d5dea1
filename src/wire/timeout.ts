import { GrpcError, Status } from './status.js';

const UNIT_MS: Record<string, number> = {
  H: 3_600_000,
  M: 60_000,
  S: 1000,
  m: 1,
  u: 0.001,
  n: 0.000001,
};

/**
 * The longest delay a node timer holds (2^31-1 ms, 24.8 days): a longer one fires at
 * once. A grpc-timeout may say up to 99999999 hours.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Parses a `grpc-timeout` header ("TimeoutValue TimeoutUnit": at most 8 digits and
 * one of H M S m u n) into milliseconds. A malformed value is the client's protocol
 * error, reported as INTERNAL as grpc-go does.
 */
export function parseGrpcTimeout(value: string): number {
  const unit = UNIT_MS[value.charAt(value.length - 1)];
  const digits = value.slice(0, -1);
  if (unit === undefined || digits.length === 0 || digits.length > 8 || !/^\d+$/.test(digits)) {
    throw new GrpcError(Status.INTERNAL, `malformed grpc-timeout header '${value}'`);
  }
  return Number(digits) * unit;
}

/** Formats milliseconds as a `grpc-timeout` value, in the coarsest unit that fits 8 digits. */
export function formatGrpcTimeout(ms: number): string {
  const whole = Math.max(0, Math.ceil(ms));
  if (whole < 1e8) return `${whole}m`;
  const seconds = Math.ceil(whole / 1000);
  if (seconds < 1e8) return `${seconds}S`;
  return `${Math.min(99_999_999, Math.ceil(seconds / 60))}M`;
}
