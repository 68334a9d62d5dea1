import { describe, expect, it } from 'vitest';
import { Metrics } from '../../src/observe/metrics.js';
import { combineObservers } from '../../src/observe/observers.js';
import type { FinishedCall } from '../../src/call/observer.js';

const finished: FinishedCall = {
  method: '/p.S/M',
  outcome: 'leader',
  collapseKey: null,
  route: { name: 'r', cluster: 'c' },
  code: 5,
  message: 'missing',
  startedAt: performance.now(),
  requestBytes: 10,
  responseBytes: 0,
  backend: null,
  traceparent: undefined,
};

describe('combineObservers', () => {
  it('is the one observer itself when there is no other', () => {
    const metrics = new Metrics();
    expect(combineObservers(metrics)).toBe(metrics);
  });

  it('tells every observer that handles an event, in order, and skips those that do not', async () => {
    const metrics = new Metrics();
    const seen: string[] = [];
    const combined = combineObservers(metrics, { callEnded: (call) => seen.push(`log ${call.code}`) }, { retried: () => seen.push('retried') });
    combined.callEnded(finished);
    combined.retried();
    combined.flightOverflowed();
    expect(seen).toEqual(['log 5', 'retried']);
    const body = await metrics.registry.metrics();
    expect(body).toContain('corral_calls_handled_total{route="r",cluster="c",outcome="leader",grpc_code="NOT_FOUND"} 1');
    expect(body).toContain('corral_backend_retries_total 1');
  });
});
