import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatGrpcTimeout, parseGrpcTimeout } from '../../src/wire/timeout.js';
import { encodeGrpcMessage, statusFromRstCode, Status } from '../../src/wire/status.js';

describe('grpc-timeout', () => {
  it('parses every unit', () => {
    expect(parseGrpcTimeout('1H')).toBe(3_600_000);
    expect(parseGrpcTimeout('2M')).toBe(120_000);
    expect(parseGrpcTimeout('3S')).toBe(3000);
    expect(parseGrpcTimeout('250m')).toBe(250);
    expect(parseGrpcTimeout('1500u')).toBeCloseTo(1.5);
    expect(parseGrpcTimeout('2000000n')).toBeCloseTo(2);
  });

  it('rejects malformed values with INTERNAL', () => {
    for (const bad of ['', 'S', '10', '10x', '123456789S', '-1S', '1.5S']) {
      expect(() => parseGrpcTimeout(bad), bad).toThrowError(/malformed grpc-timeout/);
    }
  });

  it('formats any duration so that it parses back to at least that long', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10 * 365 * 24 * 3600 * 1000 }), (ms) => {
        const text = formatGrpcTimeout(ms);
        expect(text.length).toBeLessThanOrEqual(9);
        expect(parseGrpcTimeout(text)).toBeGreaterThanOrEqual(ms);
      }),
    );
  });
});

describe('status helpers', () => {
  it('percent-encodes grpc-message outside printable ASCII and %', () => {
    expect(encodeGrpcMessage('plain text')).toBe('plain text');
    expect(encodeGrpcMessage('100%')).toBe('100%25');
    expect(encodeGrpcMessage('ünï\n')).toBe('%C3%BCn%C3%AF%0A');
  });

  it('maps RST_STREAM codes as the gRPC spec says', () => {
    expect(statusFromRstCode(0x7)).toBe(Status.UNAVAILABLE);
    expect(statusFromRstCode(0x8)).toBe(Status.CANCELLED);
    expect(statusFromRstCode(0xb)).toBe(Status.RESOURCE_EXHAUSTED);
    expect(statusFromRstCode(0x2)).toBe(Status.INTERNAL);
  });
});
