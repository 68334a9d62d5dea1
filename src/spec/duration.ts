const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  μs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/** Milliseconds written back as a duration in the largest units that fit exactly: 100ms, 10s, 1m30s, 0s. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  let rest = ms;
  let text = '';
  for (const [unit, size] of [['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) text += `${n}${unit}`;
    rest -= n * size;
  }
  return rest > 0 ? `${text}${rest}ms` : text;
}

const PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;

/**
 * Parses a duration the way Go's time.ParseDuration does ("100ms", "1.5s", "1m30s"),
 * so the seed's environment variables mean the same here. Returns milliseconds, or
 * undefined when the text is not a duration. "0" alone is allowed, as in Go; negative
 * durations are not, since no setting here can use one.
 */
export function parseDuration(text: string): number | undefined {
  if (text === '0') return 0;
  if (text.length === 0) return undefined;
  PART.lastIndex = 0;
  let total = 0;
  while (PART.lastIndex < text.length) {
    const match = PART.exec(text);
    if (match === null) return undefined;
    total += Number(match[1]) * UNIT_MS[match[2]!]!;
  }
  return total;
}
