import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FRAME_HEADER_BYTES, FrameScanner, encodeFrame } from '../../src/wire/frame.js';
import { GrpcError, Status } from '../../src/wire/status.js';

/** Splits a buffer at the given cut points (sorted, de-duplicated). */
function split(buf: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (buf.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let at = 0;
  for (const p of [...points, buf.length]) {
    out.push(buf.subarray(at, p));
    at = p;
  }
  return out;
}

describe('encodeFrame', () => {
  it('writes the compressed flag, a big-endian length and the payload', () => {
    const frame = encodeFrame(Buffer.from('abc'), true);
    expect([...frame]).toEqual([1, 0, 0, 0, 3, 0x61, 0x62, 0x63]);
    expect(encodeFrame(new Uint8Array(0)).length).toBe(FRAME_HEADER_BYTES);
  });
});

describe('FrameScanner', () => {
  it('counts messages however the bytes are chunked, and knows where boundaries fall', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        (payloads, cuts) => {
          const frames = payloads.map((p) => encodeFrame(p));
          const body = Buffer.concat(frames);
          const boundaries = new Set<number>([0]);
          let end = 0;
          for (const f of frames) boundaries.add((end += f.length));
          const scanner = new FrameScanner(1 << 20, false);
          let seen = 0;
          for (const chunk of split(body, cuts)) {
            scanner.push(chunk);
            seen += chunk.length;
            expect(scanner.atBoundary).toBe(boundaries.has(seen));
          }
          expect(scanner.messages).toBe(payloads.length);
          expect(scanner.bytes).toBe(body.length);
        },
      ),
    );
  });

  it('refuses an oversize message from its prefix alone, with RESOURCE_EXHAUSTED', () => {
    const scanner = new FrameScanner(10, false);
    const prefix = Buffer.from([0, 0, 0, 0, 11]);
    expect(() => scanner.push(prefix)).toThrowError(GrpcError);
    try {
      new FrameScanner(10, false).push(prefix);
    } catch (err) {
      expect((err as GrpcError).code).toBe(Status.RESOURCE_EXHAUSTED);
      expect((err as GrpcError).message).toMatch(/11 bytes exceeds the limit of 10 bytes/);
    }
  });

  it('accepts a message exactly at the limit', () => {
    const scanner = new FrameScanner(10, false);
    scanner.push(encodeFrame(Buffer.alloc(10)));
    expect(scanner.messages).toBe(1);
  });

  it('rejects any compressed-flag byte other than 0 or 1 as INTERNAL', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 255 }), (flag) => {
        const scanner = new FrameScanner(100, true);
        expect(() => scanner.push(Buffer.from([flag, 0, 0, 0, 0]))).toThrowError(/compressed-flag byte/);
      }),
    );
  });

  it('rejects a compressed message when the call declared no grpc-encoding', () => {
    expect(() => new FrameScanner(100, false).push(encodeFrame(Buffer.from('x'), true))).toThrowError(/no grpc-encoding/);
    const allowed = new FrameScanner(100, true);
    allowed.push(encodeFrame(Buffer.from('x'), true));
    expect(allowed.messages).toBe(1);
  });
});
