import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from '../../src/spec/duration.js';

describe('formatDuration', () => {
  it('writes milliseconds in the largest units that fit exactly', () => {
    expect([0, 10, 100, 1000, 1500, 30_000, 90_000, 300_000, 3_600_000, 5_400_250].map(formatDuration)).toEqual([
      '0s', '10ms', '100ms', '1s', '1s500ms', '30s', '1m30s', '5m', '1h', '1h30m250ms',
    ]);
  });

  it('reads back as what it was written from', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 10 * 86_400_000 }), (ms) => parseDuration(formatDuration(ms)) === ms));
  });
});
