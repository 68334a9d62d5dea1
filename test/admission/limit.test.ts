import { describe, expect, it } from 'vitest';
import { ADAPTIVE, AdaptiveLimit, FixedLimit, WindowedMin } from '../../src/admission/limit.js';

/**
 * A saturated backend of `workers` workers taking `serviceMs` a call, behind the limit:
 * the limit's worth of calls always at the backend, each answered after its turn in the
 * backend's FIFO queue. Runs `ms` of virtual time and returns the limit it ended at.
 */
function saturate(limit: AdaptiveLimit, backend: { workers: number; serviceMs: number }, ms: number, clock: { now: number }): number {
  const end = clock.now + ms;
  let owed = 0;
  for (; clock.now < end; clock.now++) {
    const inFlight = limit.limit;
    const rtt = backend.serviceMs * Math.max(1, inFlight / backend.workers);
    // Answers per ms: the backend's throughput while it has enough to do.
    owed += Math.min(inFlight, backend.workers) / backend.serviceMs;
    for (; owed >= 1; owed--) limit.sample(rtt, inFlight, clock.now);
  }
  return limit.limit;
}

/** Calls now and then, one at a time: the backend never queues. */
function trickle(limit: AdaptiveLimit, serviceMs: number, calls: number, clock: { now: number }): void {
  for (let i = 0; i < calls; i++) {
    clock.now += 20;
    limit.sample(serviceMs, 1, clock.now);
  }
}

describe('FixedLimit', () => {
  it('is the number it was given, whatever the latencies', () => {
    const limit = new FixedLimit(16);
    limit.sample();
    expect(limit.limit).toBe(16);
  });
});

describe('AdaptiveLimit', () => {
  it('starts at 20 and settles where the backend queues at most as many calls as it works on (8 workers: 8 to 24)', () => {
    const clock = { now: 0 };
    const limit = new AdaptiveLimit();
    expect(limit.limit).toBe(ADAPTIVE.initial);
    trickle(limit, 25, 20, clock);
    const settled = saturate(limit, { workers: 8, serviceMs: 25 }, 10_000, clock);
    expect(settled).toBeGreaterThanOrEqual(8);
    expect(settled).toBeLessThanOrEqual(24);
    expect(limit.noLoadMs).toBe(25);
  });

  it('does not grow while the load, not the backend, limits it', () => {
    const clock = { now: 0 };
    const limit = new AdaptiveLimit();
    trickle(limit, 25, 2000, clock);
    expect(limit.limit).toBe(ADAPTIVE.initial);
  });

  it('rises to a backend with more workers, without ever having to shed to find out', () => {
    const clock = { now: 0 };
    const limit = new AdaptiveLimit();
    trickle(limit, 10, 20, clock);
    const settled = saturate(limit, { workers: 100, serviceMs: 10 }, 10_000, clock);
    expect(settled).toBeGreaterThanOrEqual(100);
    expect(settled).toBeLessThanOrEqual(300);
  });

  it('follows a backend that got three times slower under load: down to the floor, then up to the new knee', () => {
    const clock = { now: 0 };
    const limit = new AdaptiveLimit();
    trickle(limit, 25, 20, clock);
    saturate(limit, { workers: 8, serviceMs: 25 }, 5_000, clock);
    const low = saturate(limit, { workers: 8, serviceMs: 75 }, 3_000, clock);
    expect(low).toBeLessThan(8);
    saturate(limit, { workers: 8, serviceMs: 75 }, 20_000, clock);
    expect(limit.noLoadMs).toBe(75);
    expect(limit.limit).toBeGreaterThanOrEqual(8);
    expect(limit.limit).toBeLessThanOrEqual(24);
  });

  it('stays within its bounds', () => {
    const clock = { now: 0 };
    const limit = new AdaptiveLimit({ min: 4, max: 30 });
    trickle(limit, 5, 20, clock);
    expect(saturate(limit, { workers: 1000, serviceMs: 5 }, 10_000, clock)).toBe(30);
    expect(saturate(limit, { workers: 1, serviceMs: 500 }, 20_000, clock)).toBeGreaterThanOrEqual(4);
  });

  it('is not moved by a few long calls (streams waiting for events): the window’s median, not its mean', () => {
    const clock = { now: 0 };
    const limit = new AdaptiveLimit();
    trickle(limit, 10, 20, clock);
    for (let i = 0; i < 5000; i++) {
      clock.now += 1;
      limit.sample(i % 10 === 0 ? 60_000 : 10, 15, clock.now);
    }
    expect(limit.limit).toBeGreaterThan(ADAPTIVE.initial);
  });
});

describe('WindowedMin', () => {
  it('is the lowest value of its window, forgets older ones, and keeps the last when nothing new comes', () => {
    const min = new WindowedMin(1000, 10);
    expect(min.value).toBe(0);
    min.add(30, 0);
    min.add(20, 50);
    min.add(40, 500);
    expect(min.value).toBe(20);
    min.add(50, 1100);
    expect(min.value).toBe(40);
    min.add(60, 1600);
    expect(min.value).toBe(50);
    // Nothing for a long time: the last minimum stands.
    expect(min.value).toBe(50);
    min.reset(70, 1700);
    expect(min.value).toBe(70);
  });
});
