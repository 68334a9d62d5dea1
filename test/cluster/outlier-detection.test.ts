import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { OutlierDetection } from '../../src/cluster/outlier-detection.js';
import type { Endpoint } from '../../src/discovery/endpoint.js';
import { GrpcError, Status } from '../../src/wire/status.js';

const e = (id: string): Endpoint => ({ id, address: `${id}:1` });

describe('OutlierDetection', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("emits 'ejected' once per ejection, with how long and why, and admits the endpoint again after it", () => {
    const set = new OutlierDetection({ baseMs: 100, maxMs: 1000 });
    const events: string[] = [];
    set.on('ejected', (endpoint, ms, cause) => events.push(`${endpoint.id} ${ms} ${cause.message}`));
    set.update({ endpoints: [e('a'), e('b')] });
    const v = set.version;
    set.failed(e('a'), new GrpcError(Status.UNAVAILABLE, 'down'));
    set.failed(e('a'), new GrpcError(Status.UNAVAILABLE, 'still down'));
    expect(events).toEqual(['a 100 down']);
    expect(set.pickable.endpoints.map((x) => x.id)).toEqual(['b']);
    expect(set.version).toBeGreaterThan(v);
    vi.advanceTimersByTime(100);
    expect(set.pickable.endpoints.map((x) => x.id)).toEqual(['a', 'b']);
  });

  it('keeps every broker of a shard map pickable, and forgets ejections of endpoints no longer resolved', () => {
    const set = new OutlierDetection({ baseMs: 100, maxMs: 1000 });
    set.update({ endpoints: [e('a'), e('b')], shards: [] });
    set.failed(e('a'), new GrpcError(Status.UNAVAILABLE, 'down'));
    expect(set.pickable.endpoints.map((x) => x.id)).toEqual(['a', 'b']);
    set.update({ endpoints: [e('b')] });
    expect(set.ejected).toBe(0);
  });
});
