import fc from 'fast-check';
import type { IncomingHttpHeaders } from 'node:http2';
import { describe, expect, it } from 'vitest';
import { KeyMaker, TRANSPORT_AND_TRACING_HEADERS } from '../../src/collapse/key.js';

const method = '/corral.example.v1.Example/Lookup';
const body = Buffer.from([0, 0, 0, 0, 3, 1, 2, 3]);
const base: IncomingHttpHeaders = {
  ':method': 'POST',
  ':path': method,
  ':authority': 'localhost:50052',
  'content-type': 'application/grpc',
  te: 'trailers',
};

describe('KeyMaker', () => {
  const keys = new KeyMaker();

  it('gives the same key for the same call, whatever the header order', () => {
    const a = keys.key(method, { ...base, authorization: 'Bearer x', 'x-tenant': 't1' }, body);
    const b = keys.key(method, { 'x-tenant': 't1', ...base, authorization: 'Bearer x' }, body);
    expect(a).toBe(b);
  });

  it('keeps callers with different authorization, session or any other metadata apart', () => {
    const k = (h: IncomingHttpHeaders) => keys.key(method, { ...base, ...h }, body);
    const distinct = new Set([
      k({}),
      k({ authorization: 'Bearer a' }),
      k({ authorization: 'Bearer b' }),
      k({ 'session-id': 's1' }),
      k({ 'x-user-bin': 'AAE=' }),
      k({ baggage: 'tenant=a' }),
      k({ 'content-type': 'application/grpc+json' }),
    ]);
    expect(distinct.size).toBe(7);
  });

  it('keeps callers of different :authority apart, even when the key is narrowed (the backend sees it)', () => {
    const narrowed = new KeyMaker({ metadata: ['authorization'] });
    for (const maker of [keys, narrowed]) {
      const a = maker.key(method, { ...base, ':authority': 'tenant-a.example' }, body);
      const b = maker.key(method, { ...base, ':authority': 'tenant-b.example' }, body);
      expect(a).not.toBe(b);
      expect(maker.key(method, { ...base, ':authority': 'tenant-a.example', ':scheme': 'https' }, body)).toBe(a);
    }
  });

  it('ignores transport and tracing headers', () => {
    const plain = keys.key(method, base, body);
    const noisy = keys.key(
      method,
      {
        ...base,
        'user-agent': 'grpc-node-js/1.14',
        'grpc-timeout': '99m',
        'grpc-accept-encoding': 'identity,gzip',
        traceparent: '00-abc-def-01',
        'x-request-id': 'r1',
        'content-type': 'application/grpc+proto',
      },
      body,
    );
    expect(noisy).toBe(plain);
    expect(TRANSPORT_AND_TRACING_HEADERS.has('authorization')).toBe(false);
  });

  it('separates methods and payloads, small and large', () => {
    const big = Buffer.alloc(64 * 1024, 1);
    const bigOther = Buffer.from(big);
    bigOther[big.length - 1] = 2;
    const all = new Set([
      keys.key(method, base, body),
      keys.key('/corral.example.v1.Example/Other', base, body),
      keys.key(method, base, Buffer.from([0, 0, 0, 0, 3, 1, 2, 4])),
      keys.key(method, base, big),
      keys.key(method, base, bigOther),
    ]);
    expect(all.size).toBe(5);
  });

  it('counts only the named metadata when narrowed', () => {
    const narrow = new KeyMaker({ metadata: ['authorization'] });
    const a = narrow.key(method, { ...base, authorization: 'a', 'x-tenant': '1' }, body);
    expect(narrow.key(method, { ...base, authorization: 'a', 'x-tenant': '2' }, body)).toBe(a);
    expect(narrow.key(method, { ...base, authorization: 'b', 'x-tenant': '1' }, body)).not.toBe(a);
  });

  it('counts the client certificate (x-forwarded-client-cert) even when narrowed: it is the identity', () => {
    const narrow = new KeyMaker({ metadata: [] });
    const alice = narrow.key(method, { ...base, 'x-forwarded-client-cert': 'Hash=aa;URI=spiffe://t/alice' }, body);
    const bob = narrow.key(method, { ...base, 'x-forwarded-client-cert': 'Hash=bb;URI=spiffe://t/bob' }, body);
    expect(alice).not.toBe(bob);
    expect(narrow.key(method, base, body)).not.toBe(alice);
  });

  it('gives equal keys exactly when the counted metadata and body are equal', () => {
    const name = fc.constantFrom('authorization', 'x-a', 'x-b', 'user-agent', 'traceparent');
    // Values as node:http2 gives them: one char per byte, so any of 0x20-0xff.
    const value = fc.array(fc.integer({ min: 0x20, max: 0xff }), { maxLength: 6 }).map((c) => String.fromCharCode(...c));
    const headers = fc.dictionary(name, value, { maxKeys: 4 });
    fc.assert(
      fc.property(headers, headers, fc.uint8Array({ maxLength: 4 }), fc.uint8Array({ maxLength: 4 }), (h1, h2, b1, b2) => {
        const counted = (h: Record<string, string>) =>
          JSON.stringify(Object.entries(h).filter(([n]) => !TRANSPORT_AND_TRACING_HEADERS.has(n)).sort());
        const same = counted(h1) === counted(h2) && Buffer.from(b1).equals(Buffer.from(b2));
        const k1 = keys.key(method, { ...base, ...h1 }, Buffer.from(b1));
        const k2 = keys.key(method, { ...base, ...h2 }, Buffer.from(b2));
        expect(k1 === k2).toBe(same);
      }),
    );
  });

  it('keeps namespaces apart that differ only beyond latin1, and keys larger than its buffer', () => {
    const a = new KeyMaker({ namespace: 'route-\u0100' }).key(method, base, body);
    const b = new KeyMaker({ namespace: 'route-\u0000' }).key(method, base, body);
    expect(a).not.toBe(b);
    const long = 'x'.repeat(100_000);
    const k1 = keys.key(method, { ...base, 'x-long': long }, body);
    expect(keys.key(method, { ...base, 'x-long': long + 'y' }, body)).not.toBe(k1);
    expect(keys.key(method, { ...base, 'x-long': long }, body)).toBe(k1);
    // Repeated values count in order, and a small key after a large one is unaffected by what the buffer held.
    expect(keys.key(method, { ...base, 'x-r': ['1', '2'] }, body)).not.toBe(keys.key(method, { ...base, 'x-r': ['2', '1'] }, body));
    expect(keys.key(method, base, body)).toBe(new KeyMaker().key(method, { ...base }, body));
  });
});
