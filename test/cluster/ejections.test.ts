import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Ejections } from '../../src/cluster/ejections.js';

describe('Ejections', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('doubles each ejection in a row up to the maximum, and admits the endpoint again after each', () => {
    let changes = 0;
    const e = new Ejections({ baseMs: 100, maxMs: 350 }, () => changes++);
    expect(e.eject('a')).toBe(100);
    expect(e.has('a')).toBe(true);
    expect(e.eject('a')).toBeNull(); // already out
    vi.advanceTimersByTime(100);
    expect(e.has('a')).toBe(false);
    expect(e.eject('a')).toBe(200);
    vi.advanceTimersByTime(200);
    expect(e.eject('a')).toBe(350);
    vi.advanceTimersByTime(350);
    expect(changes).toBe(6); // each ejection and each re-admission
  });

  it('starts over once the endpoint answers a call, and forgets endpoints no longer listed', () => {
    const e = new Ejections({ baseMs: 100, maxMs: 10_000 }, () => {});
    e.eject('a');
    vi.advanceTimersByTime(100);
    e.succeeded('a');
    expect(e.eject('a')).toBe(100);
    e.eject('b');
    expect(e.size).toBe(2);
    e.keepOnly(new Set(['b']));
    expect(e.size).toBe(1);
    expect(e.has('a')).toBe(false);
    e.clear();
    expect(e.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('admits an ejected endpoint again as soon as it answers a call (as when every endpoint was out), keeping the count', () => {
    let changes = 0;
    const e = new Ejections({ baseMs: 30_000, maxMs: 300_000 }, () => changes++);
    expect(e.eject('a')).toBe(30_000);
    e.succeeded('a');
    expect(e.has('a')).toBe(false);
    expect(e.until('a')).toBeNull();
    expect(e.size).toBe(0);
    expect(changes).toBe(2);
    expect(vi.getTimerCount()).toBe(0);
    // It failed again before a second answer: that is the second ejection in a row.
    expect(e.eject('a')).toBe(60_000);
    e.succeeded('a');
    e.succeeded('a');
    expect(e.eject('a')).toBe(30_000);
  });
});
