import { EventEmitter } from 'node:events';
import type { ServerHttp2Stream } from 'node:http2';
import { describe, expect, it } from 'vitest';
import type { Call } from '../../src/call/call.js';
import { Intake, type IntakeWatch } from '../../src/server/intake.js';
import { Overload } from '../../src/server/overload.js';
import type { Reply } from '../../src/server/reply.js';
import { encodeFrame } from '../../src/wire/frame.js';
import { Status, type GrpcError } from '../../src/wire/status.js';

/** A client request stream the test writes into, as node's server stream would emit it. */
class FakeRequestStream extends EventEmitter {
  aborted = false;
  resumed = false;
  resume(): void {
    this.resumed = true;
  }
}

/** A watch the test drives: it records who waits, and declares them quiet on demand. */
class HandWatch {
  waiting = new Set<Intake>();
  add(item: Intake): void {
    this.waiting.add(item);
  }
  delete(item: Intake): void {
    this.waiting.delete(item);
  }
}

function intake(maxMessageBytes = 1024, metadata: Record<string, string> = {}, overload = new Overload({ maxOpenCalls: 10, maxRequestBytes: 1 << 20 })) {
  const stream = new FakeRequestStream();
  const calls: Call[] = [];
  const failures: GrpcError[] = [];
  const reply = { open: true, heldBytes: 0, fail: (err: GrpcError) => failures.push(err) } as unknown as Reply;
  const watch = new HandWatch();
  const handler = { handle: (call: Call) => calls.push(call) };
  const i = new Intake(stream as unknown as ServerHttp2Stream, '/p.S/M', metadata, 1234, reply, { handler, maxMessageBytes, watch: watch as unknown as IntakeWatch, overload });
  return { stream, calls, failures, watch, i, reply };
}

const frame = (text: string) => encodeFrame(Buffer.from(text));

describe('Intake', () => {
  it('hands on a request of one message as a whole body once the client half-closes, however it was split', () => {
    const { stream, calls, watch } = intake(1024, { 'x-k': 'v' });
    const whole = frame('hello');
    stream.emit('data', whole.subarray(0, 3));
    stream.emit('data', whole.subarray(3));
    expect(calls).toHaveLength(0); // a second message may still come
    stream.emit('end');
    expect(calls).toHaveLength(1);
    const call = calls[0]!;
    expect(call).toMatchObject({ stream: false, method: '/p.S/M', metadata: { 'x-k': 'v' }, deadline: 1234, body: whole });
    expect(watch.waiting.size).toBe(0);
  });

  it('hands on a stream as soon as a second message starts, with the bytes read so far and the client stream', () => {
    const { stream, calls } = intake();
    stream.emit('data', frame('one'));
    stream.emit('data', frame('two').subarray(0, 2));
    expect(calls).toHaveLength(1);
    const call = calls[0]!;
    if (!call.stream) throw new Error('expected a stream');
    expect(Buffer.concat(call.head)).toEqual(Buffer.concat([frame('one'), frame('two').subarray(0, 2)]));
    expect(call.source).toBe(stream);
    stream.emit('data', frame('three'));
    stream.emit('end');
    expect(calls).toHaveLength(1);
  });

  it('hands on a request that goes quiet without ending as a stream', () => {
    const { stream, calls, watch, i } = intake();
    stream.emit('data', frame('one'));
    expect(watch.waiting.has(i)).toBe(true);
    i.quiet();
    expect(calls).toHaveLength(1);
    expect(calls[0]!.stream).toBe(true);
  });

  it('refuses an oversize message from its prefix, before its body arrives, and drains the rest', () => {
    const { stream, calls, failures } = intake(10);
    stream.emit('data', frame('more than ten bytes').subarray(0, 5));
    expect(calls).toHaveLength(0);
    expect(failures[0]?.code).toBe(Status.RESOURCE_EXHAUSTED);
    expect(stream.resumed).toBe(true);
  });

  it('refuses a request that ends inside a message', () => {
    const { stream, calls, failures } = intake();
    stream.emit('data', frame('cut short').subarray(0, 8));
    stream.emit('end');
    expect(calls).toHaveLength(0);
    expect(failures[0]?.code).toBe(Status.INTERNAL);
    expect(failures[0]?.message).toMatch(/ended inside a message after 8 bytes/);
  });

  it('serves nothing for a request the client reset', () => {
    const { stream, calls, failures, watch } = intake();
    stream.emit('data', frame('one'));
    stream.aborted = true;
    stream.emit('end');
    expect(calls).toHaveLength(0);
    expect(failures).toHaveLength(0);
    expect(watch.waiting.size).toBe(0);
  });

  it('counts the bytes it holds against the process, and ends its call with RESOURCE_EXHAUSTED past MAX_REQUEST_BUFFER_BYTES', () => {
    const overload = new Overload({ maxOpenCalls: 10, maxRequestBytes: 100 });
    const first = intake(1024, {}, overload);
    first.stream.emit('data', encodeFrame(Buffer.alloc(60)).subarray(0, 40));
    expect(overload.requestBytes).toBe(40);
    expect(first.reply.heldBytes).toBe(40);
    const second = intake(1024, {}, overload);
    second.stream.emit('data', encodeFrame(Buffer.alloc(60)).subarray(0, 40));
    expect(second.failures).toHaveLength(0);
    // The third chunk takes the process past 100 bytes: that call ends, the others carry on.
    const third = intake(1024, {}, overload);
    third.stream.emit('data', encodeFrame(Buffer.alloc(60)).subarray(0, 40));
    expect(third.failures.map((f) => f.code)).toEqual([Status.RESOURCE_EXHAUSTED]);
    expect(third.failures[0]!.message).toMatch(/MAX_REQUEST_BUFFER_BYTES/);
    expect(third.stream.resumed).toBe(true);
    // What the ended call held is counted until its reply closes, which releases it.
    expect(overload.requestBytes).toBe(120);
    first.stream.emit('data', encodeFrame(Buffer.alloc(60)).subarray(40));
    expect(first.failures).toHaveLength(1);
  });
});
