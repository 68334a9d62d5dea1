import { describe, expect, it } from 'vitest';
import type { Call, CallControl, ResponseSink } from '../../src/call/call.js';
import type { Fleet, Peer } from '../../src/fleet/fleet.js';
import { FLEET_HOP, FleetOrigin } from '../../src/fleet/fleet-origin.js';
import { ForwardedCalls } from '../../src/fleet/forwarded-calls.js';
import { Rendezvous } from '../../src/fleet/rendezvous.js';
import type { Origin } from '../../src/upstream/origin.js';
import { GrpcError, Status } from '../../src/wire/status.js';
import { RecordingDownstream } from '../collapse/fakes.js';

/** An Origin that records the calls started on it and lets the test answer them. */
class HandOrigin implements Origin {
  started: Array<{ call: Call; sink: ResponseSink; key: string | undefined; aborted: GrpcError | null }> = [];
  start(call: Call, sink: ResponseSink, key?: string): void {
    const entry = { call, sink, key, aborted: null as GrpcError | null, metadata: { ...call.metadata } };
    this.started.push(entry);
    const control: CallControl = { backend: null, abort: (r) => void (entry.aborted = r), pause() {}, resume() {} };
    sink.onStart(control);
  }
}

const call = (metadata: Record<string, string> = {}): Call => ({
  stream: false,
  method: '/a.B/C',
  metadata: { ':path': '/a.B/C', ...metadata },
  deadline: Infinity,
  body: Buffer.from('request'),
});

function setUp(owned: 'here' | 'peer') {
  const local = new HandOrigin();
  const remote = new HandOrigin();
  const peer: Peer = { member: { id: 'peer-1', address: '127.0.0.1:1' }, origin: remote };
  const fell: string[] = [];
  const fleet = {
    self: { id: 'me', address: '127.0.0.1:2' },
    served: 0,
    forwarded: 0,
    peerFor: () => (owned === 'peer' ? peer : null),
    fellBack: (_p: Peer, reason: string) => void fell.push(reason),
  } as unknown as Fleet;
  return { origin: new FleetOrigin(fleet, local), local, remote, fleet, fell };
}

describe('FleetOrigin', () => {
  it("sends a flight for a peer's key there, marked with this sidecar's id; keeps its own keys and passed-through calls here", () => {
    const { origin, local, remote, fleet } = setUp('peer');
    origin.start(call(), new RecordingDownstream(), 'key');
    expect(remote.started).toHaveLength(1);
    expect(remote.started[0]!.call.metadata[FLEET_HOP]).toBe('me');
    origin.start(call(), new RecordingDownstream()); // no key: a passed-through call
    expect(local.started).toHaveLength(1);
    expect(fleet.forwarded).toBe(1);
  });

  it('serves a marked call here and strips the mark, whatever its own member list says (one hop, never more)', () => {
    const { origin, local, remote, fleet } = setUp('peer');
    origin.start(call({ [FLEET_HOP]: 'peer-2' }), new RecordingDownstream(), 'key');
    expect(remote.started).toHaveLength(0);
    expect(local.started).toHaveLength(1);
    expect(local.started[0]!.call.metadata[FLEET_HOP]).toBeUndefined();
    expect(fleet.served).toBe(0); // counted where it arrives (ForwardedCalls), however it is answered
  });

  it('counts every marked call that arrives as served, a follower or a cache hit as much as a leader', () => {
    const { fleet } = setUp('peer');
    const reached: Call[] = [];
    const entry = new ForwardedCalls(fleet, { handle: (c) => void reached.push(c) });
    entry.handle(call({ [FLEET_HOP]: 'peer-2' }), new RecordingDownstream());
    entry.handle(call({ [FLEET_HOP]: 'peer-3' }), new RecordingDownstream());
    entry.handle(call(), new RecordingDownstream());
    expect([fleet.served, reached.length]).toEqual([2, 3]);
  });

  it('falls back to the local backend when the owner fails before a message, holding back headers it had sent', () => {
    const { origin, local, remote, fell } = setUp('peer');
    const sink = new RecordingDownstream();
    origin.start(call(), sink, 'key');
    remote.started[0]!.sink.onHeaders({ ':status': 200, 'x-from': 'owner' }, false);
    remote.started[0]!.sink.onError(new GrpcError(Status.UNAVAILABLE, 'owner gone'));
    expect(fell).toEqual(['owner gone']);
    expect(local.started).toHaveLength(1);
    expect(local.started[0]!.call.metadata[FLEET_HOP]).toBeUndefined();
    expect(sink.events).toEqual([]); // the caller saw nothing of the owner's answer
    local.started[0]!.sink.onHeaders({ ':status': 200, 'x-from': 'local' }, false);
    local.started[0]!.sink.onData(Buffer.from('m'));
    local.started[0]!.sink.onTrailers({ 'grpc-status': '0' });
    expect(sink.events).toEqual(['headers', 'data:m', 'trailers']);
    expect(sink.headers).toMatchObject({ 'x-from': 'local' });
  });

  it('passes a failure on once a message reached the callers, and aborts whichever call is under way', () => {
    const { origin, local, remote } = setUp('peer');
    const sink = new RecordingDownstream();
    origin.start(call(), sink, 'key');
    const owner = remote.started[0]!.sink;
    owner.onHeaders({ ':status': 200 }, false);
    owner.onData(Buffer.from('m'));
    owner.onError(new GrpcError(Status.UNAVAILABLE, 'owner gone'));
    expect(local.started).toHaveLength(0);
    expect(sink.events).toEqual(['headers', 'data:m', `error:${Status.UNAVAILABLE}`]);

    const second = new RecordingDownstream();
    origin.start(call(), second, 'key');
    second.leave();
    expect(remote.started[1]!.aborted?.code).toBe(Status.CANCELLED);
  });
});

describe('Rendezvous', () => {
  it("gives every key one owner, the same for any order of the members, and moves only a leaver's keys", () => {
    const members = ['a', 'b', 'c', 'd'].map((id) => ({ id, address: `${id}:1` }));
    const ring = new Rendezvous(members);
    const reversed = new Rendezvous([...members].reverse());
    const keys = Array.from({ length: 2000 }, (_, i) => String.fromCharCode(...Array.from({ length: 32 }, (_, j) => (i * 31 + j * 7 + ((i * j) % 13)) & 0xff)));
    const owners = keys.map((k) => ring.owner(k)!.id);
    expect(keys.map((k) => reversed.owner(k)!.id)).toEqual(owners);
    const counts = Object.fromEntries(['a', 'b', 'c', 'd'].map((id) => [id, owners.filter((o) => o === id).length]));
    for (const n of Object.values(counts)) expect(n).toBeGreaterThan(300); // ~500 each
    const withoutC = new Rendezvous(members.filter((m) => m.id !== 'c'));
    keys.forEach((k, i) => {
      if (owners[i] !== 'c') expect(withoutC.owner(k)!.id).toBe(owners[i]);
    });
  });
});
