import { describe, expect, it } from 'vitest';
import { NO_RETRY, stubUpstream } from '../../bench/stub-upstream.js';
import { RetryingOrigin } from '../../src/upstream/retrying-origin.js';
import { Flight, type FlightOwner } from '../../src/collapse/flight.js';
import { Metrics } from '../../src/observe/metrics.js';
import { GrpcError, Status } from '../../src/wire/status.js';
import { RecordingDownstream } from './fakes.js';
import { FakeBackendStream } from '../support/fake-backend-stream.js';

const metrics = new Metrics();

function started(f: Flight): FakeBackendStream {
  const stream = new FakeBackendStream();
  f.start(new RetryingOrigin(stubUpstream(() => stream), NO_RETRY, metrics), { stream: false, method: '/test.Service/Method', metadata: {}, deadline: Infinity, body: Buffer.alloc(5) });
  return stream;
}

function flight(options: Partial<{ maxResponseBytes: number; maxFollowers: number }> = {}) {
  const owner = { overflowed: 0, landed: 0 };
  const f = new Flight(
    'key',
    '/test.Service/Method',
    { timeoutMs: 1000, maxResponseBytes: options.maxResponseBytes ?? 1000, maxFollowers: options.maxFollowers ?? 100 },
    {
      flightOverflowed: () => owner.overflowed++,
      flightLanded: () => owner.landed++,
      waitedTooLong: () => {},
    } satisfies FlightOwner,
    metrics,
  );
  return { f, owner };
}

describe('Flight', () => {
  it('gives every waiter the same headers, messages and trailers', () => {
    const { f, owner } = flight();
    const waiters = [new RecordingDownstream(), new RecordingDownstream(), new RecordingDownstream()];
    for (const w of waiters) expect(f.join(w)).toBe(true);
    f.onHeaders({ ':status': 200, 'x-h': '1' }, false);
    f.onData(Buffer.from('a'));
    f.onData(Buffer.from('b'));
    f.onTrailers({ 'grpc-status': '0', 'x-t': '2' });
    for (const w of waiters) {
      expect(w.events).toEqual(['headers', 'data:a', 'data:b', 'trailers']);
      expect(w.trailers).toEqual({ 'grpc-status': '0', 'x-t': '2' });
    }
    expect(owner.landed).toBe(1);
    expect(f.recording?.status).toBe('0');
  });

  it('replays what arrived to a follower that joins late, then streams the rest live', () => {
    const { f } = flight();
    f.join(new RecordingDownstream());
    f.onHeaders({ ':status': 200 }, false);
    f.onData(Buffer.from('1'));
    const late = new RecordingDownstream();
    f.join(late);
    expect(late.events).toEqual(['headers', 'data:1']);
    f.onData(Buffer.from('2'));
    f.onTrailers({ 'grpc-status': '0' });
    expect(late.events).toEqual(['headers', 'data:1', 'data:2', 'trailers']);
  });

  it('keeps serving the others, and its backend call, when the leader leaves', () => {
    const { f } = flight();
    const leader = new RecordingDownstream();
    const follower = new RecordingDownstream();
    f.join(leader);
    const backend = started(f);
    f.join(follower);
    leader.leave();
    expect(backend.resetWith).toBeNull();
    f.onHeaders({ ':status': 200 }, false);
    f.onTrailers({ 'grpc-status': '0' });
    expect(leader.events).toEqual([]);
    expect(follower.events).toEqual(['headers', 'trailers']);
  });

  it('shares an error with every waiter and does not record it as a success', () => {
    const { f, owner } = flight();
    const a = new RecordingDownstream();
    const b = new RecordingDownstream();
    f.join(a);
    f.join(b);
    f.onError(new GrpcError(Status.UNAVAILABLE, 'down'));
    expect(a.error?.code).toBe(Status.UNAVAILABLE);
    expect(b.error?.message).toBe('down');
    expect(f.recording?.status).toBeUndefined();
    expect(owner.landed).toBe(1);
    expect(f.join(new RecordingDownstream())).toBe(false);
  });

  it('past the recording bound stops taking followers but finishes for those it has', () => {
    const { f, owner } = flight({ maxResponseBytes: 1100 });
    const first = new RecordingDownstream();
    f.join(first);
    f.onHeaders({ ':status': 200 }, false);
    f.onData(Buffer.alloc(600, 0x61));
    expect(owner.overflowed).toBe(0);
    f.onData(Buffer.alloc(600, 0x62));
    expect(owner.overflowed).toBe(1);
    expect(f.recording).toBeNull();
    expect(f.join(new RecordingDownstream())).toBe(false);
    f.onData(Buffer.from('c'));
    f.onTrailers({ 'grpc-status': '0' });
    expect(first.data.length).toBe(3);
    expect(first.trailers).toEqual({ 'grpc-status': '0' });
  });

  it('drops a waiter that stops reading with RESOURCE_EXHAUSTED, without slowing the others', () => {
    const { f } = flight({ maxResponseBytes: 100_000 });
    const slow = new RecordingDownstream();
    const fast = new RecordingDownstream();
    slow.accepting = false;
    f.join(slow);
    f.join(fast);
    f.onHeaders({ ':status': 200 }, false);
    for (let i = 0; i < 20; i++) f.onData(Buffer.alloc(10_000));
    f.onTrailers({ 'grpc-status': '0' });
    expect(slow.error?.code).toBe(Status.RESOURCE_EXHAUSTED);
    expect(slow.error?.message).toMatch(/too slowly/);
    expect(slow.trailers).toBeNull();
    expect(fast.data.length).toBe(20);
    expect(fast.trailers).toEqual({ 'grpc-status': '0' });
  });

  it('pauses the backend only while every waiter is behind, and reads on when one catches up', () => {
    const { f } = flight({ maxResponseBytes: 100_000 });
    const stream = started(f);
    const a = new RecordingDownstream();
    const b = new RecordingDownstream();
    f.join(a);
    f.join(b);
    stream.emit('response', { ':status': 200 }, 0);
    a.accepting = false;
    stream.emit('data', Buffer.alloc(1000));
    expect(stream.paused).toBe(false); // b keeps up
    b.accepting = false;
    stream.emit('data', Buffer.alloc(1000));
    expect(stream.paused).toBe(true); // the backend outruns both: wait, drop no one
    expect([a.error, b.error]).toEqual([null, null]);
    b.drain();
    expect(stream.paused).toBe(false);
  });

  it('reads on when the waiter it was paused for leaves', () => {
    const { f } = flight();
    const stream = started(f);
    const a = new RecordingDownstream();
    f.join(a);
    stream.emit('response', { ':status': 200 }, 0);
    a.accepting = false;
    stream.emit('data', Buffer.alloc(10));
    expect(stream.paused).toBe(true);
    a.leave();
    expect(stream.paused).toBe(false);
  });

  it('pauses the backend when the one waiter keeping up leaves and every other is behind', () => {
    const { f } = flight({ maxResponseBytes: 100_000 });
    const stream = started(f);
    const behind = new RecordingDownstream();
    const reading = new RecordingDownstream();
    f.join(behind);
    f.join(reading);
    stream.emit('response', { ':status': 200 }, 0);
    behind.accepting = false;
    stream.emit('data', Buffer.alloc(10));
    expect(stream.paused).toBe(false);
    reading.leave();
    expect(stream.paused).toBe(true);
    behind.drain();
    expect(stream.paused).toBe(false);
  });

  it('bounds its waiting list', () => {
    const { f } = flight({ maxFollowers: 2 });
    expect(f.join(new RecordingDownstream())).toBe(true); // leader
    expect(f.join(new RecordingDownstream())).toBe(true);
    const leaving = new RecordingDownstream();
    expect(f.join(leaving)).toBe(true);
    expect(f.join(new RecordingDownstream())).toBe(false);
    leaving.leave();
    expect(f.join(new RecordingDownstream())).toBe(true);
  });

  it('resets its backend call and gives every waiter DEADLINE_EXCEEDED when BACKEND_TIMEOUT passes', () => {
    const { f, owner } = flight();
    const a = new RecordingDownstream();
    const b = new RecordingDownstream();
    f.join(a);
    const backend = started(f);
    f.join(b);
    f.timedOut();
    expect(backend.resetWith).toBe(8); // RST_STREAM(CANCEL)
    for (const w of [a, b]) {
      expect(w.error?.code).toBe(Status.DEADLINE_EXCEEDED);
      expect(w.error?.message).toMatch(/BACKEND_TIMEOUT \(1000ms\)/);
    }
    expect(owner.landed).toBe(1);
  });

  it('ends a trailers-only response with its headers', () => {
    const { f, owner } = flight();
    const w = new RecordingDownstream();
    f.join(w);
    f.onHeaders({ ':status': 200, 'grpc-status': '5', 'grpc-message': 'nope' }, true);
    expect(w.events).toEqual(['headers(end)']);
    expect(f.recording?.status).toBe('5');
    expect(owner.landed).toBe(1);
  });
});
