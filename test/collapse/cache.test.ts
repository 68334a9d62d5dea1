import { afterEach, describe, expect, it, vi } from 'vitest';
import { ENTRY_OVERHEAD_BYTES, ResponseCache } from '../../src/collapse/cache.js';
import { CachedAnswer } from '../../src/collapse/cached-answer.js';
import { Recording } from '../../src/collapse/recording.js';

/** A cached answer of `bytes` of body to `method`, whose windows the cache does not read. */
function answer(r: Recording | number, method = ''): CachedAnswer {
  if (typeof r === 'number') {
    const bytes = r;
    r = new Recording();
    r.setHeaders({ ':status': 200 }, false);
    r.addChunk(Buffer.alloc(bytes));
    r.setTrailers({ 'grpc-status': '0' });
  }
  return new CachedAnswer(r, method, Infinity, Infinity, Infinity, null);
}

describe('ResponseCache', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('sweeps expired entries that are never read again', () => {
    vi.useFakeTimers();
    let now = 1000;
    const cache = new ResponseCache({ ttlMs: 100, maxBytes: 1 << 30, maxEntryBytes: 1 << 20, clock: { now: () => now } });
    for (let i = 0; i < 50; i++) cache.set(`distinct-${i}`, answer(100));
    expect(cache.entries).toBe(50);
    now += 150;
    vi.advanceTimersByTime(100);
    expect(cache.entries).toBe(0);
    expect(cache.bytes).toBe(0);
    cache.close();
  });

  it('charges each entry its bytes plus the measured per-entry overhead', () => {
    const cache = new ResponseCache({ ttlMs: 60_000, maxBytes: 1 << 30, maxEntryBytes: 1 << 20 });
    cache.set('a', answer(100));
    expect(cache.bytes).toBeGreaterThanOrEqual(100 + ENTRY_OVERHEAD_BYTES);
    cache.close();
  });

  it('keeps a cached response in one buffer of its exact size', () => {
    const cache = new ResponseCache({ ttlMs: 60_000, maxBytes: 1 << 30, maxEntryBytes: 1 << 20 });
    const big = Buffer.alloc(64 * 1024);
    const r = new Recording();
    r.setHeaders({ ':status': 200 }, false);
    r.addChunk(big.subarray(0, 10));
    r.addChunk(big.subarray(10, 30));
    r.setTrailers({ 'grpc-status': '0' });
    cache.set('k', answer(r));
    const kept = cache.get('k')!.recording.chunks;
    expect(kept).toHaveLength(1);
    expect(kept[0]!.length).toBe(30);
    expect(kept[0]!.buffer.byteLength).toBe(30);
    cache.close();
  });

  it('serves an entry until its TTL passes', () => {
    let now = 1000;
    const cache = new ResponseCache({ ttlMs: 100, maxBytes: 1 << 20, maxEntryBytes: 1 << 20, clock: { now: () => now } });
    const r = answer(10);
    cache.set('k', r);
    now += 99;
    expect(cache.get('k')).toBe(r);
    now += 2;
    expect(cache.get('k')).toBeUndefined();
    cache.close();
  });

  it('never holds more bytes than its bound, evicting the least recently used', () => {
    const cache = new ResponseCache({ ttlMs: 60_000, maxBytes: 10_000, maxEntryBytes: 10_000 });
    for (let i = 0; i < 100; i++) {
      cache.set(`k${i}`, answer(1000));
      expect(cache.bytes).toBeLessThanOrEqual(10_000);
    }
    expect(cache.get('k99')).toBeDefined();
    expect(cache.get('k0')).toBeUndefined();
    expect(cache.entries).toBeLessThan(10);
  });

  it('does not store an entry larger than the per-entry bound', () => {
    const cache = new ResponseCache({ ttlMs: 60_000, maxBytes: 1 << 20, maxEntryBytes: 500 });
    cache.set('big', answer(1000));
    expect(cache.get('big')).toBeUndefined();
    expect(cache.bytes).toBe(0);
  });
});

describe('a cached Recording', () => {
  it('holds its headers and trailers as ordinary objects, a header named __proto__ as a header', () => {
    const headers = Object.create(null) as Record<string, string | number>;
    headers[':status'] = 200;
    headers['content-type'] = 'application/grpc';
    headers.__proto__ = 'from-the-backend';
    const r = new Recording();
    r.setHeaders(headers, false);
    r.addChunk(Buffer.alloc(8));
    r.setTrailers({ 'grpc-status': '0' });
    const cache = new ResponseCache({ ttlMs: 60_000, maxBytes: 1 << 20, maxEntryBytes: 1 << 20 });
    cache.set('k', answer(r));
    const cached = cache.get('k')!.recording;
    expect(Object.getPrototypeOf(cached.headers)).toBe(Object.prototype);
    expect(Object.entries(cached.headers!)).toEqual([[':status', 200], ['content-type', 'application/grpc'], ['__proto__', 'from-the-backend']]);
    expect(cached.trailers).toEqual({ 'grpc-status': '0' });
    cache.close();
  });
});

describe('ResponseCache.invalidate', () => {
  it('drops the responses of methods under the prefixes, and only those', () => {
    const cache = new ResponseCache({ ttlMs: 60_000, maxBytes: 1 << 20, maxEntryBytes: 1 << 20 });
    cache.set('a1', answer(10, '/shop.Cart/Get'));
    cache.set('a2', answer(10, '/shop.Cart/Get'));
    cache.set('b', answer(10, '/shop.Cart/List'));
    cache.set('c', answer(10, '/shop.Catalog/Get'));
    expect(cache.invalidate(['/shop.Cart/Get'])).toBe(2);
    expect([cache.get('a1'), cache.get('a2')]).toEqual([undefined, undefined]);
    expect(cache.invalidate(['/shop.Cart/'])).toBe(1);
    expect(cache.get('c')).toBeDefined();
    expect(cache.invalidate(['/shop.Cart/'])).toBe(0);
    cache.close();
  });

  it('keeps the index right as a method goes from one entry to several and back', () => {
    const cache = new ResponseCache({ ttlMs: 60_000, maxBytes: 1 << 20, maxEntryBytes: 1 << 20 });
    cache.set('x1', answer(10, '/a.B/One'));
    cache.set('x1', answer(10, '/a.B/One')); // the same key again
    cache.set('x2', answer(10, '/a.B/One'));
    expect(cache.invalidate(['/a.B/One'])).toBe(2);
    cache.set('y1', answer(10, '/a.B/Two'));
    cache.set('y2', answer(10, '/a.B/Two'));
    expect(cache.invalidate(['/nothing/'])).toBe(0);
    cache.set('y2', answer(20, '/a.B/Two')); // replaced: disposed, then indexed again
    expect(cache.invalidate(['/a.B/'])).toBe(2);
    expect(cache.entries).toBe(0);
    cache.close();
  });

  it('forgets entries the LRU evicted', () => {
    const cache = new ResponseCache({ ttlMs: 60_000, maxBytes: 3 * (ENTRY_OVERHEAD_BYTES + 200), maxEntryBytes: 1 << 20 });
    for (let i = 0; i < 10; i++) cache.set(`k${i}`, answer(10, '/a.B/C'));
    const live = cache.entries;
    expect(live).toBeLessThan(10);
    expect(cache.invalidate(['/a.B/'])).toBe(live); // the index held only what the cache still held
    expect(cache.entries).toBe(0);
    cache.close();
  });
});
