import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeFrame } from '../../src/wire/frame.js';
import { MessageSplitter } from '../../src/wire/message-splitter.js';

describe('MessageSplitter', () => {
  it('gives back every message whole, however the stream is cut into chunks', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 12 }),
        fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 40 }),
        (payloads, cuts) => {
          const frames = payloads.map((p) => encodeFrame(p));
          const wire = Buffer.concat(frames);
          const splitter = new MessageSplitter();
          const out: Buffer[] = [];
          for (let at = 0, i = 0; at < wire.length; i++) {
            const size = cuts[i % cuts.length]!;
            splitter.push(wire.subarray(at, at + size), (m) => out.push(Buffer.from(m)));
            at += size;
          }
          expect(out).toEqual(frames);
        },
      ),
    );
  });
});
