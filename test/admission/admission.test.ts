import { describe, expect, it } from 'vitest';
import { Admission } from '../../src/admission/admission.js';
import type { Call, CallControl, ResponseSink } from '../../src/call/call.js';
import type { Observer } from '../../src/call/observer.js';
import type { Origin } from '../../src/upstream/origin.js';
import { encodeFrame } from '../../src/wire/frame.js';
import { Shed } from '../../src/wire/shed.js';
import { GrpcError, Status } from '../../src/wire/status.js';
import { RecordingDownstream } from '../collapse/fakes.js';

/** Backend calls as the origin starts them: the test answers them. */
class FakeOrigin implements Origin {
  readonly started: Array<{ name: string; sink: ResponseSink; control: CallControl & { aborted: GrpcError | null; paused: boolean } }> = [];
  start(call: Call, sink: ResponseSink): void {
    const control = {
      backend: null,
      aborted: null as GrpcError | null,
      paused: false,
      abort(reason: GrpcError) {
        this.aborted = reason;
        sink.onError(reason);
      },
      pause() {
        this.paused = true;
      },
      resume() {
        this.paused = false;
      },
    };
    this.started.push({ name: call.method, sink, control });
    sink.onStart(control);
  }
  /** The backend answers call i: headers, one message, OK. */
  answer(i: number): void {
    const { sink } = this.started[i]!;
    sink.onHeaders({ ':status': 200 }, false);
    sink.onData(encodeFrame(Buffer.from('answer')));
    sink.onTrailers({ 'grpc-status': '0' });
  }
}

function recorder() {
  const seen = { shed: [] as string[], unsent: 0, waited: 0 };
  const observer = {
    shed: (_cluster: string, priority: string, reason: string) => seen.shed.push(`${priority}:${reason}`),
    unsent: () => seen.unsent++,
    admissionWaited: () => seen.waited++,
  } as unknown as Observer;
  return { seen, observer };
}

const call = (name: string, deadline = Infinity): Call => ({ stream: false, method: name, metadata: {}, deadline, body: encodeFrame(Buffer.from(name)) });

/** A shared response's sink: `callers` waiting on it (a flight). */
class SharedSink extends RecordingDownstream {
  constructor(public callers: number) {
    super();
  }
  get waiting(): number {
    return this.callers;
  }
}

describe('Admission', () => {
  it('sends calls while slots are free, queues the rest, and lets the next in as an answer starts', () => {
    const { seen, observer } = recorder();
    const admission = new Admission('c', 2, { queueTimeoutMs: 10_000 }, observer);
    const origin = new FakeOrigin();
    const sinks = ['a', 'b', 'c'].map((name) => {
      const sink = new RecordingDownstream();
      admission.start(origin, call(name), sink, undefined, 'normal', '');
      return sink;
    });
    expect(origin.started.map((s) => s.name)).toEqual(['a', 'b']);
    expect([admission.inFlight, admission.queued]).toEqual([2, 1]);
    // The first message frees the slot: the queued call goes at once.
    origin.started[0]!.sink.onData(encodeFrame(Buffer.from('x')));
    expect(origin.started.map((s) => s.name)).toEqual(['a', 'b', 'c']);
    origin.started[0]!.sink.onTrailers({ 'grpc-status': '0' });
    origin.answer(1);
    origin.answer(2);
    expect(sinks.map((s) => s.trailers?.['grpc-status'])).toEqual(['0', '0', '0']);
    expect([admission.inFlight, admission.queued, seen.shed.length, seen.waited]).toEqual([0, 0, 0, 1]);
    expect(admission.latencyMs).toBeGreaterThanOrEqual(0);
  });

  it('frees the slot of a stream once its backend answers with headers, without a latency: a quiet watch holds no slot', () => {
    const { observer } = recorder();
    const admission = new Admission('c', 1, { queueTimeoutMs: 10_000 }, observer);
    const origin = new FakeOrigin();
    const watch = Object.assign(new RecordingDownstream(), { longLived: true });
    admission.start(origin, call('watch'), watch, undefined, 'normal', '');
    admission.start(origin, call('next'), new RecordingDownstream(), undefined, 'normal', '');
    expect([admission.inFlight, admission.queued]).toEqual([1, 1]);
    origin.started[0]!.sink.onHeaders({ ':status': 200 }, false);
    expect(origin.started.map((s) => s.name)).toEqual(['watch', 'next']);
    expect(admission.latencyMs).toBe(0);
  });

  it('with no queue (BACKEND_QUEUE_TIMEOUT=0), sheds at once: UNAVAILABLE with a pushback and a message naming the limit', () => {
    const { seen, observer } = recorder();
    const admission = new Admission('orders', 1, { queueTimeoutMs: 0 }, observer);
    const origin = new FakeOrigin();
    admission.start(origin, call('a'), new RecordingDownstream(), undefined, 'normal', '');
    const shed = new RecordingDownstream();
    admission.start(origin, call('b'), shed, undefined, 'sheddable', '');
    expect(origin.started).toHaveLength(1);
    expect(shed.error).toBeInstanceOf(Shed);
    expect(shed.error?.code).toBe(Status.UNAVAILABLE);
    expect((shed.error as Shed).pushbackMs).toBeGreaterThan(0);
    expect(shed.error?.message).toMatch(/^cluster orders has all the calls it can take \(1 at once, BACKEND_CONCURRENCY=1\).*retry after \d+ms$/);
    expect(seen.shed).toEqual(['sheddable:over_limit']);
  });

  it('sheds a queued call when BACKEND_QUEUE_TIMEOUT passes', async () => {
    const { seen, observer } = recorder();
    const admission = new Admission('c', 1, { queueTimeoutMs: 20 }, observer);
    const origin = new FakeOrigin();
    admission.start(origin, call('a'), new RecordingDownstream(), undefined, 'normal', '');
    const waiting = new RecordingDownstream();
    admission.start(origin, call('b'), waiting, undefined, 'normal', '');
    expect(waiting.error).toBeNull();
    await new Promise((r) => setTimeout(r, 60));
    expect(waiting.error).toBeInstanceOf(Shed);
    expect(seen.shed).toEqual(['normal:queue_timeout']);
    expect(admission.queued).toBe(0);
  });

  it('sheds at once a call whose deadline leaves less than the backend takes', async () => {
    const { seen, observer } = recorder();
    const admission = new Admission('c', 1, { queueTimeoutMs: 10_000 }, observer);
    const origin = new FakeOrigin();
    // One call teaches it the backend's latency (about 30 ms).
    admission.start(origin, call('learn'), new RecordingDownstream(), undefined, 'normal', '');
    await new Promise((r) => setTimeout(r, 30));
    origin.answer(0);
    admission.start(origin, call('busy'), new RecordingDownstream(), undefined, 'normal', '');
    const hurried = new RecordingDownstream();
    admission.start(origin, call('hurried', performance.now() + 5), hurried, undefined, 'normal', '');
    expect(hurried.error?.message).toMatch(/deadline leaves less than the backend's latency/);
    expect(seen.shed).toEqual(['normal:deadline']);
  });

  it('a full queue sheds its least valuable call to take a newcomer, and refuses a newcomer below everything waiting', () => {
    const { seen, observer } = recorder();
    const admission = new Admission('c', 1, { queueTimeoutMs: 10_000 }, observer);
    const origin = new FakeOrigin();
    admission.start(origin, call('busy'), new RecordingDownstream(), undefined, 'normal', '');
    const queued = Array.from({ length: 8 }, (_, i) => {
      const sink = new RecordingDownstream();
      admission.start(origin, call(`q${i}`), sink, undefined, 'normal', '');
      return sink;
    });
    expect(admission.queued).toBe(8);
    admission.start(origin, call('newcomer'), new RecordingDownstream(), undefined, 'normal', '');
    expect(queued[0]!.error).toBeInstanceOf(Shed);
    const low = new RecordingDownstream();
    admission.start(origin, call('low'), low, undefined, 'sheddable', '');
    expect(low.error).toBeInstanceOf(Shed);
    expect(seen.shed).toEqual(['normal:over_limit', 'sheddable:over_limit']);
    expect(admission.queued).toBe(8);
  });

  it('never sends a queued call whose callers all left, and a client that leaves takes its call out of the queue', () => {
    const { seen, observer } = recorder();
    const admission = new Admission('c', 1, { queueTimeoutMs: 10_000 }, observer);
    const origin = new FakeOrigin();
    admission.start(origin, call('busy'), new RecordingDownstream(), undefined, 'normal', '');
    const flight = new SharedSink(3);
    admission.start(origin, call('flight'), flight, undefined, 'normal', '');
    const single = new RecordingDownstream();
    admission.start(origin, call('single'), single, undefined, 'normal', '');
    flight.callers = 0; // every waiter left; the flight itself does not end the call
    single.leave();
    expect(single.error?.code).toBe(Status.CANCELLED);
    expect(admission.queued).toBe(1);
    origin.answer(0);
    expect(origin.started.map((s) => s.name)).toEqual(['busy']);
    expect(flight.error?.message).toBe('every caller left before the backend call was sent');
    expect(seen.unsent).toBe(2);
    expect(admission.inFlight).toBe(0);
  });

  it('a call paused before it was sent starts paused; one aborted once sent is aborted at the backend and frees its slot', () => {
    const { observer } = recorder();
    const admission = new Admission('c', 1, { queueTimeoutMs: 10_000 }, observer);
    const origin = new FakeOrigin();
    admission.start(origin, call('busy'), new RecordingDownstream(), undefined, 'normal', '');
    const slow = new RecordingDownstream();
    admission.start(origin, call('slow'), slow, undefined, 'normal', '');
    slow.control!.pause();
    origin.answer(0);
    expect(origin.started[1]!.control.paused).toBe(true);
    slow.leave();
    expect(origin.started[1]!.control.aborted?.code).toBe(Status.CANCELLED);
    expect(admission.inFlight).toBe(0);
  });

  it('a failure frees the slot without teaching it a latency; a reload to another limit applies at once', () => {
    const { observer } = recorder();
    const admission = new Admission('c', 1, { queueTimeoutMs: 10_000 }, observer);
    const origin = new FakeOrigin();
    admission.start(origin, call('a'), new RecordingDownstream(), undefined, 'normal', '');
    admission.start(origin, call('b'), new RecordingDownstream(), undefined, 'normal', '');
    admission.start(origin, call('c'), new RecordingDownstream(), undefined, 'normal', '');
    origin.started[0]!.sink.onError(new GrpcError(Status.UNAVAILABLE, 'connection refused'));
    expect(admission.latencyMs).toBe(0);
    expect(origin.started.map((s) => s.name)).toEqual(['a', 'b']);
    admission.reconfigure(5, { queueTimeoutMs: 10_000 });
    expect(origin.started.map((s) => s.name)).toEqual(['a', 'b', 'c']);
    expect(admission.limit).toBe(5);
  });
});
