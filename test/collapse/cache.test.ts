import { describe, expect, it } from 'vitest';
import { ResponseCache } from '../../src/collapse/cache.js';
import { Recording } from '../../src/collapse/recording.js';

function recording(bytes: number): Recording {
  const r = new Recording();
  r.setHeaders({ ':status': 200 }, false);
  r.addChunk(Buffer.alloc(bytes));
  r.setTrailers({ 'grpc-status': '0' });
  return r;
}

describe('ResponseCache', () => {
  it('serves an entry until its TTL passes', () => {
    let now = 1000;
    const cache = new ResponseCache({ ttlMs: 100, maxBytes: 1 << 20, maxEntryBytes: 1 << 20, clock: { now: () => now } });
    const r = recording(10);
    cache.set('k', r);
    now += 99;
    expect(cache.get('k')).toBe(r);
    now += 2;
    expect(cache.get('k')).toBeUndefined();
  });

  it('never holds more bytes than its bound, evicting the least recently used', () => {
    const cache = new ResponseCache({ ttlMs: 60_000, maxBytes: 10_000, maxEntryBytes: 10_000 });
    for (let i = 0; i < 100; i++) {
      cache.set(`k${i}`, recording(1000));
      expect(cache.bytes).toBeLessThanOrEqual(10_000);
    }
    expect(cache.get('k99')).toBeDefined();
    expect(cache.get('k0')).toBeUndefined();
    expect(cache.entries).toBeLessThan(10);
  });

  it('does not store an entry larger than the per-entry bound', () => {
    const cache = new ResponseCache({ ttlMs: 60_000, maxBytes: 1 << 20, maxEntryBytes: 500 });
    cache.set('big', recording(1000));
    expect(cache.get('big')).toBeUndefined();
    expect(cache.bytes).toBe(0);
  });
});
