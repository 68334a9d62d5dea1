import { describe, expect, it } from 'vitest';
import { LeastRequestPicker } from '../../src/balance/least-request.js';
import { RingHashPicker } from '../../src/balance/ring-hash.js';
import { RoundRobinPicker } from '../../src/balance/round-robin.js';
import { ShardPicker } from '../../src/balance/shard-picker.js';
import type { Endpoint } from '../../src/discovery/endpoint.js';
import { sanitizeShardMap } from '../../src/discovery/shard-map.js';
import { createBalancer } from '../../src/balance/balancer-types.js';
import { GrpcError, Status } from '../../src/wire/status.js';

const endpoints = (n: number): Endpoint[] => Array.from({ length: n }, (_, i) => ({ id: `i${i}`, address: `10.0.0.${i}:50051` }));

function count(picks: Endpoint[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const p of picks) m.set(p.id, (m.get(p.id) ?? 0) + 1);
  return m;
}

describe('round robin', () => {
  it('gives each endpoint its turn', () => {
    const picker = new RoundRobinPicker(endpoints(3));
    const picks = count(Array.from({ length: 300 }, () => picker.pick()));
    expect([...picks.values()]).toEqual([100, 100, 100]);
  });
});

describe('sticky sessions (ring hash)', () => {
  const keys = Array.from({ length: 10_000 }, (_, i) => `session-${i}`);
  const placement = (picker: RingHashPicker) => new Map(keys.map((k) => [k, picker.owner(k).id]));

  it('sends a key to the same endpoint every time, whatever the listing order', () => {
    const eps = endpoints(4);
    const a = new RingHashPicker(eps, 'session-id');
    const b = new RingHashPicker([...eps].reverse(), 'session-id');
    expect(placement(a)).toEqual(placement(b));
    expect(a.pick({ 'session-id': 'abc' })).toBe(a.pick({ 'session-id': 'abc' }));
  });

  it('spreads keys evenly enough (each of 4 within 25% of a fair share)', () => {
    const picker = new RingHashPicker(endpoints(4), 'session-id');
    const counts = [...count(keys.map((k) => picker.owner(k))).values()];
    for (const c of counts) expect(Math.abs(c - 2500)).toBeLessThan(625);
  });

  it('moves only the keys of an endpoint that leaves, and about 1/n of all keys', () => {
    const before = placement(new RingHashPicker(endpoints(4), 'session-id'));
    const after = placement(new RingHashPicker(endpoints(4).filter((e) => e.id !== 'i2'), 'session-id'));
    let moved = 0;
    for (const [key, owner] of before) {
      if (after.get(key) !== owner) {
        moved++;
        expect(owner).toBe('i2'); // nobody else's key moved
      }
    }
    expect(moved).toBe([...before.values()].filter((o) => o === 'i2').length);
    expect(moved / keys.length).toBeGreaterThan(0.15);
    expect(moved / keys.length).toBeLessThan(0.35);
  });

  it('balances calls without the header round robin', () => {
    const picker = new RingHashPicker(endpoints(2), 'session-id');
    expect(count(Array.from({ length: 10 }, () => picker.pick({}))).size).toBe(2);
  });
});

describe('least request (power of two choices)', () => {
  it('never picks the busier of two, and sends most calls to the idle endpoint', () => {
    const eps = endpoints(2);
    const load = new Map([
      ['i0', 10],
      ['i1', 0],
    ]);
    const picker = new LeastRequestPicker(eps, (e) => load.get(e.id)!);
    const picks = count(Array.from({ length: 1000 }, () => picker.pick()));
    expect(picks.get('i1')).toBe(1000);
  });

  it('with equal load spreads calls over every endpoint', () => {
    const picker = new LeastRequestPicker(endpoints(4), () => 0);
    expect(count(Array.from({ length: 400 }, () => picker.pick())).size).toBe(4);
  });
});

describe('shard picker', () => {
  const map = sanitizeShardMap([
    { topic: 'orders', partition: '0', brokers: [{ id: 'b1', address: 'h:1', leader: true }, { id: 'b2', address: 'h:2', leader: false }] },
    { topic: 'orders', partition: '1', brokers: [{ id: 'b2', address: 'h:2', leader: true }, { id: 'b3', address: 'h:3', leader: false }] },
    { topic: 'audit', partition: '0', brokers: [{ id: 'b3', address: 'h:3', leader: true }, { id: 'b3', address: 'h:3', leader: false }] },
  ]);
  let refreshed = 0;
  const picker = new ShardPicker(map.shards!, map.endpoints, () => refreshed++);
  const ids = (headers: Record<string, string>, n = 12) => [...count(Array.from({ length: n }, () => picker.pick(headers))).keys()].sort();

  it('de-duplicates brokers by id', () => {
    expect(map.endpoints.map((e) => e.id)).toEqual(['b1', 'b2', 'b3']);
    expect(map.shards![2]!.brokers.map((b) => b.id)).toEqual(['b3']);
  });

  it('routes by topic and partition, to the leader when asked', () => {
    expect(ids({ topic: 'orders', partition: '0', 'to-leader': 'true' })).toEqual(['b1']);
    expect(ids({ topic: 'orders', partition: '1', 'to-leader': 'true' })).toEqual(['b2']);
    expect(ids({ topic: 'orders', partition: '0' })).toEqual(['b1', 'b2']);
    expect(ids({ topic: 'orders', 'to-leader': 'true' })).toEqual(['b1', 'b2']);
    expect(ids({ topic: 'audit' })).toEqual(['b3']);
    expect(ids({ partition: '1' })).toEqual(['b2', 'b3']);
    expect(ids({})).toEqual(['b1', 'b2', 'b3']);
  });

  it('on a miss asks for a refresh and answers UNAVAILABLE', () => {
    const before = refreshed;
    let error: unknown;
    try {
      picker.pick({ topic: 'payments', partition: '7' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(GrpcError);
    expect((error as GrpcError).code).toBe(Status.UNAVAILABLE);
    expect((error as GrpcError).message).toMatch(/no broker known for topic 'payments' partition '7'/);
    expect(refreshed).toBe(before + 1);
  });
});

describe('no endpoints', () => {
  it('answers RESOURCE_EXHAUSTED "all instances are busy", whatever the balancer', () => {
    for (const spec of [{ type: 'round_robin' }, { type: 'least_request' }, { type: 'sticky_sessions', header: 's' }] as const) {
      const picker = createBalancer(spec, { load: () => 0, refresh: () => {} });
      picker.update({ endpoints: [] });
      expect(() => picker.pick({})).toThrowError(expect.objectContaining({ code: Status.RESOURCE_EXHAUSTED, message: 'all instances are busy' }));
    }
  });
});
