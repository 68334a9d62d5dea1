import { encodeFrame } from '../../src/wire/frame.js';

/** A framed LookupRequest{key, reply_bytes} of the example service: field 1 (string), field 6 (varint). */
export function lookupRequest(key: string, replyBytes: number): Buffer {
  const varint: number[] = [];
  for (let v = replyBytes; ; v >>>= 7) {
    if (v < 0x80) {
      varint.push(v);
      break;
    }
    varint.push((v & 0x7f) | 0x80);
  }
  return encodeFrame(Buffer.from([0x0a, key.length, ...Buffer.from(key), 0x30, ...varint]));
}
