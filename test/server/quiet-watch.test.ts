import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { QuietWatch, type Quietable } from '../../src/server/quiet-watch.js';

class Request implements Quietable {
  lastDataAt = performance.now();
  busy = true;
  quietCalls = 0;
  quiet(): void {
    this.quietCalls++;
  }
  data(): void {
    this.lastDataAt = performance.now();
    this.busy = true;
  }
}

describe('QuietWatch', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'setImmediate', 'performance'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('finds a request quiet for the wait, once, after an I/O poll', () => {
    const watch = new QuietWatch<Request>(10);
    const r = new Request();
    watch.add(r);
    vi.advanceTimersByTime(5);
    expect(r.quietCalls).toBe(0);
    vi.advanceTimersByTime(10);
    expect(r.quietCalls).toBe(1);
    vi.advanceTimersByTime(50);
    expect(r.quietCalls).toBe(1);
  });

  it('does not call a request quiet when bytes arrive before the confirmation', () => {
    const watch = new QuietWatch<Request>(10);
    const r = new Request();
    watch.add(r);
    vi.advanceTimersToNextTimer(); // 5 ms: not yet quiet
    vi.advanceTimersToNextTimer(); // 10 ms: found quiet, confirmation queued
    r.data(); // bytes read during the poll
    vi.runOnlyPendingTimers(); // the confirmation runs
    expect(r.quietCalls).toBe(0);
    vi.advanceTimersByTime(20);
    expect(r.quietCalls).toBe(1);
  });

  it('forgets requests that were decided, and stops its interval when none are left', () => {
    const watch = new QuietWatch<Request>(10);
    const decided = new Request();
    watch.add(decided);
    watch.delete(decided);
    vi.advanceTimersByTime(50);
    expect(decided.quietCalls).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });
});
