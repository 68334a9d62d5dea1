import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { INVALIDATION_BURST, PacedInvalidation } from '../../src/collapse/paced-invalidation.js';

describe('PacedInvalidation', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('invalidates at once for a burst of writes, then folds the writes of each interval into one at its end', () => {
    const made: string[] = [];
    const paced = new PacedInvalidation({ invalidate: (p) => (made.push(p.join()), 1) }, 1000);
    for (let i = 0; i < INVALIDATION_BURST; i++) paced.invalidate(['/a.S/']);
    expect(made).toHaveLength(INVALIDATION_BURST);
    // A loop of writes past the burst: none now, one when the interval has passed.
    for (let i = 0; i < 100; i++) paced.invalidate(['/a.S/']);
    // Another service is paced apart.
    paced.invalidate(['/b.S/']);
    expect(made.slice(INVALIDATION_BURST)).toEqual(['/b.S/']);
    vi.advanceTimersByTime(1000);
    expect(made.slice(INVALIDATION_BURST)).toEqual(['/b.S/', '/a.S/']);
    for (let i = 0; i < 100; i++) paced.invalidate(['/a.S/']);
    vi.advanceTimersByTime(999);
    expect(made).toHaveLength(INVALIDATION_BURST + 2);
    vi.advanceTimersByTime(1);
    expect(made).toHaveLength(INVALIDATION_BURST + 3);
    expect(paced.counts).toEqual({ applied: INVALIDATION_BURST + 3, coalesced: 200 });
  });

  it('forgets a prefix set once its burst has refilled, and paces a route\'s list of prefixes as one', () => {
    const made: string[] = [];
    const paced = new PacedInvalidation({ invalidate: (p) => (made.push(p.join()), 1) }, 100);
    for (let i = 0; i < INVALIDATION_BURST + 5; i++) paced.invalidate(['/a.S/Get', '/a.S/List']);
    paced.invalidate(['/a.S/Get']);
    expect(made.filter((m) => m === '/a.S/Get,/a.S/List')).toHaveLength(INVALIDATION_BURST);
    expect(made.filter((m) => m === '/a.S/Get')).toHaveLength(1);
    vi.advanceTimersByTime(100 * (INVALIDATION_BURST + 1));
    expect(made.filter((m) => m === '/a.S/Get,/a.S/List')).toHaveLength(INVALIDATION_BURST + 1);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('spends nothing on writes that found nothing to drop: writes with no read between them are never paced', () => {
    let made = 0;
    const paced = new PacedInvalidation({ invalidate: () => (made++, 0) }, 1000);
    for (let i = 0; i < 100; i++) paced.invalidate(['/a.S/']);
    expect(made).toBe(100);
    expect(paced.counts.coalesced).toBe(0);
  });
});
