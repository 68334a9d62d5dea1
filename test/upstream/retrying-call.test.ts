import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import type { Endpoint } from '../../src/discovery/endpoint.js';
import { Metrics } from '../../src/observe/metrics.js';
import { RetryingCall } from '../../src/upstream/retrying-call.js';
import type { RetryPolicy } from '../../src/upstream/retrying-call.js';
import type { Upstream } from '../../src/cluster/cluster-upstream.js';
import { RetryBudget } from '../../src/cluster/retry-budget.js';
import { Exchange } from '../../src/transport/exchange.js';
import type { ResponseListener } from '../../src/call/call.js';
import { encodeFrame } from '../../src/wire/frame.js';
import { GrpcError, Status } from '../../src/wire/status.js';
import { RecordingDownstream } from '../collapse/fakes.js';

const metrics = new Metrics();

/** A backend stream driven by the test. */
class StubStream extends EventEmitter {
  rstCode = 0;
  destroyed = false;
  sent: Buffer[] = [];
  end(body?: Buffer): void {
    if (body) this.sent.push(body);
  }
  close(code: number): void {
    this.reset(code);
  }
  pause(): void {}
  resume(): void {}
  answerHeaders(endsResponse = false, extra: Record<string, string> = {}): void {
    this.emit('response', { ':status': 200, 'content-type': 'application/grpc', ...extra }, endsResponse ? 1 : 0);
  }
  send(chunk: Buffer): void {
    this.emit('data', chunk);
  }
  finish(): void {
    this.emit('trailers', { 'grpc-status': '0' });
    // node hands on trailers at once and ends the readable side once its data was read.
    this.emit('end');
    this.destroyed = true;
    this.emit('close');
  }
  /** The connection under the stream broke (node then errors and closes each of its streams). */
  lose(): void {
    this.emit('error', Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }));
    this.reset(0);
  }
  /** The backend resets the stream (RST_STREAM INTERNAL_ERROR by default). */
  reset(code = 2): void {
    if (this.destroyed) return;
    this.rstCode = code;
    this.destroyed = true;
    this.emit('close');
  }
}

/** Three endpoints; each attempt gets a fresh StubStream, recorded in order. */
function upstream(retry: Partial<RetryPolicy> = {}) {
  const endpoints: Endpoint[] = ['e1', 'e2', 'e3'].map((id) => ({ id, address: `${id}:1` }));
  const u = {
    retry: { retries: 2, attemptTimeoutMs: 0, sessionTransfer: false, ...retry },
    streams: [] as StubStream[],
    picked: [] as string[],
    failed: [] as string[],
    pick(_headers: unknown, tried: ReadonlySet<string> | null) {
      const e = endpoints.find((x) => !tried?.has(x.id));
      if (e === undefined) throw new GrpcError(Status.UNAVAILABLE, 'no instance left to try');
      u.picked.push(e.id);
      return e;
    },
    request(_endpoint: Endpoint, _headers: unknown, listener: ResponseListener, streaming: boolean) {
      const s = new StubStream();
      u.streams.push(s);
      // The real Exchange over a stand-in stream: how each ending maps to a status is under test too.
      return new Exchange(s as never, listener, streaming ? new AbortController() : null);
    },
  };
  const asUpstream: Upstream & { retry: RetryPolicy } = {
    clusterName: 'test',
    retryBudget: new RetryBudget(),
    retry: u.retry,
    pick: u.pick,
    request: u.request,
    succeeded() {},
    failed: (e) => {
      u.failed.push(e.id);
    },
  };
  return { u, asUpstream };
}

function start(up: Upstream & { retry: RetryPolicy }, sink: RecordingDownstream): RetryingCall {
  const call = new RetryingCall(
    up,
    up.retry,
    { stream: false, method: '/test.S/M', metadata: {}, deadline: Infinity, body: encodeFrame(Buffer.from('request')) },
    sink,
    metrics,
  );
  call.start();
  return call;
}

const message = (text: string) => encodeFrame(Buffer.from(text));

describe('RetryingCall', () => {
  it("retries at most a fifth of the cluster's calls at once, and 3 whatever the load (the retry budget)", () => {
    const { u, asUpstream } = upstream();
    const sinks = Array.from({ length: 10 }, () => new RecordingDownstream());
    for (const sink of sinks) start(asUpstream, sink);
    // The whole cluster fails: every first attempt loses its connection.
    for (const stream of u.streams.slice(0, 10)) stream.lose();
    expect(u.streams).toHaveLength(13);
    const refused = sinks.filter((s) => s.error !== null);
    expect(refused).toHaveLength(7);
    expect(refused[0]!.error?.message).toMatch(/^backend service unavailable: .* \(not retried: a fifth of the cluster's calls are retries already, the retry budget\)$/);
    // The retried calls end: their share of the budget is free again.
    for (const stream of u.streams.slice(10)) {
      stream.answerHeaders();
      stream.finish();
    }
    const late = new RecordingDownstream();
    start(asUpstream, late);
    u.streams[13]!.lose();
    expect(u.streams).toHaveLength(15);
    expect(late.error).toBeNull();
  });

  it('retries a stream refused before response headers (REFUSED_STREAM) on another endpoint, sending the same request', () => {
    const { u, asUpstream } = upstream();
    const sink = new RecordingDownstream();
    start(asUpstream, sink);
    u.streams[0]!.reset(7);
    // A reset is the backend's answer about this one request: the endpoint is not blamed for it.
    expect(u.failed).toEqual([]);
    const second = u.streams[1]!;
    expect(second.sent).toEqual(u.streams[0]!.sent);
    second.answerHeaders();
    second.send(message('hi'));
    second.finish();
    expect(u.picked).toEqual(['e1', 'e2']);
    expect(sink.events).toEqual(['headers', `data:${message('hi').toString()}`, 'trailers']);
  });

  it('blames the endpoint when its connection failed, unlike a reset of one stream', () => {
    const { u, asUpstream } = upstream();
    const sink = new RecordingDownstream();
    start(asUpstream, sink);
    u.streams[0]!.lose();
    expect(u.failed).toEqual(['e1']);
    expect(u.picked).toEqual(['e1', 'e2']);
  });

  it('answers a reset other than REFUSED_STREAM with its own status: not retried, the endpoint not blamed', () => {
    const { u, asUpstream } = upstream();
    const sink = new RecordingDownstream();
    start(asUpstream, sink);
    u.streams[0]!.reset(1); // PROTOCOL_ERROR: the backend refused something this request carried
    expect(u.streams).toHaveLength(1);
    expect(u.failed).toEqual([]);
    expect(sink.error?.code).toBe(Status.INTERNAL);
    expect(sink.error?.message).toBe('backend unknown reset the stream (RST_STREAM code 1)');
  });

  it('gives up after RETRY_COUNT retries with UNAVAILABLE "backend service unavailable" and the last cause', () => {
    const { u, asUpstream } = upstream({ retries: 1 });
    const sink = new RecordingDownstream();
    start(asUpstream, sink);
    u.streams[0]!.lose();
    u.streams[1]!.reset(7); // REFUSED_STREAM
    expect(u.streams).toHaveLength(2);
    expect(sink.error?.code).toBe(Status.UNAVAILABLE);
    expect(sink.error?.message).toBe('backend service unavailable: backend unknown reset the stream (RST_STREAM code 7)');
  });

  it('never retries once response headers reached the receiver: a later reset keeps its status', () => {
    const { u, asUpstream } = upstream();
    const sink = new RecordingDownstream();
    start(asUpstream, sink);
    u.streams[0]!.answerHeaders();
    u.streams[0]!.send(message('one'));
    u.streams[0]!.reset();
    expect(u.streams).toHaveLength(1);
    expect(u.failed).toEqual([]);
    expect(sink.error?.code).toBe(Status.INTERNAL);
  });

  it('never retries a call the client cancelled, nor blames the endpoint for it', () => {
    const { u, asUpstream } = upstream();
    const sink = new RecordingDownstream();
    start(asUpstream, sink);
    sink.leave();
    expect(u.streams[0]!.rstCode).toBe(8);
    expect(u.streams).toHaveLength(1);
    expect(u.failed).toEqual([]);
    expect(sink.error?.code).toBe(Status.CANCELLED);
  });

  it('lets nothing of an aborted attempt through: a response that was already on its way is dropped', () => {
    const { u, asUpstream } = upstream();
    const sink = new RecordingDownstream();
    const call = start(asUpstream, sink);
    const stream = u.streams[0]!;
    stream.close = (code: number) => {
      stream.rstCode = code; // the stream closes a moment later, after what was in flight arrives
    };
    call.abort(new GrpcError(Status.DEADLINE_EXCEEDED, 'flight deadline'));
    stream.answerHeaders();
    stream.send(message('late'));
    stream.destroyed = true;
    stream.emit('close');
    expect(sink.events).toEqual([`error:${Status.DEADLINE_EXCEEDED}`]);
    expect(u.failed).toEqual([]);
  });

  describe('with session transfer', () => {
    it('continues the response on another endpoint when the first stopped between messages', () => {
      const { u, asUpstream } = upstream({ sessionTransfer: true });
      const sink = new RecordingDownstream();
      start(asUpstream, sink);
      const [first] = u.streams;
      first!.answerHeaders();
      first!.send(message('a1'));
      first!.send(message('a2'));
      first!.lose();
      const second = u.streams[1]!;
      second.answerHeaders(); // the client has its headers: not sent again
      second.send(message('b1'));
      second.finish();
      expect(sink.events).toEqual([
        'headers',
        `data:${message('a1').toString()}`,
        `data:${message('a2').toString()}`,
        `data:${message('b1').toString()}`,
        'trailers',
      ]);
    });

    it('sends a trailers-only answer of the new endpoint as trailers', () => {
      const { u, asUpstream } = upstream({ sessionTransfer: true });
      const sink = new RecordingDownstream();
      start(asUpstream, sink);
      u.streams[0]!.answerHeaders();
      u.streams[0]!.lose();
      u.streams[1]!.answerHeaders(true, { 'grpc-status': '5', 'grpc-message': 'gone' });
      expect(sink.events).toEqual(['headers', 'trailers']);
      expect(sink.trailers).toEqual({ 'grpc-status': '5', 'grpc-message': 'gone' });
    });

    it('does not transfer a response that stopped inside a message: the client could not parse the rest', () => {
      const { u, asUpstream } = upstream({ sessionTransfer: true });
      const sink = new RecordingDownstream();
      start(asUpstream, sink);
      u.streams[0]!.answerHeaders();
      u.streams[0]!.send(message('whole').subarray(0, 7));
      u.streams[0]!.reset();
      expect(u.streams).toHaveLength(1);
      expect(sink.error?.code).toBe(Status.INTERNAL);
    });
  });
});
