import { constants, type ClientHttp2Stream } from 'node:http2';
import { describe, expect, it } from 'vitest';
import { Exchange } from '../../src/transport/exchange.js';
import { GrpcError, Status } from '../../src/wire/status.js';
import { RecordingDownstream } from '../collapse/fakes.js';
import { FakeBackendStream } from '../support/fake-backend-stream.js';

function exchange() {
  const stream = new FakeBackendStream();
  const sink = new RecordingDownstream();
  const ex = new Exchange(stream as unknown as ClientHttp2Stream, sink, null);
  sink.onStart(ex); // the receiver steers the exchange directly, as RetryingCall passes it on
  return { stream, sink, ex };
}

describe('Exchange', () => {
  it('hands trailers on only at the end of the readable side, after every byte before them', () => {
    const { stream, sink } = exchange();
    stream.emit('response', { ':status': 200 }, 0, [':status', '200']);
    stream.emit('data', Buffer.from('a'));
    stream.emit('trailers', { 'grpc-status': '0' }, 5, ['grpc-status', '0']);
    expect(sink.events).toEqual(['headers', 'data:a']); // trailers held: 'b' is still buffered in node
    stream.emit('data', Buffer.from('b'));
    stream.emit('end');
    stream.emit('close');
    expect(sink.events).toEqual(['headers', 'data:a', 'data:b', 'trailers']);
  });

  it('pauses the backend stream when the sink asks it to wait, and resumes on demand', () => {
    const { stream, sink, ex } = exchange();
    stream.emit('response', { ':status': 200 }, 0, [':status', '200']);
    sink.accepting = false;
    stream.emit('data', Buffer.from('x'));
    expect(stream.paused).toBe(true);
    ex.resume();
    expect(stream.paused).toBe(false);
  });

  it('restores repeated fields in response headers and trailers', () => {
    const { stream, sink } = exchange();
    stream.emit('response', { ':status': 200, 'x-r': 'a, b' }, 0, [':status', '200', 'x-r', 'a', 'x-r', 'b']);
    stream.emit('trailers', { 'grpc-status': '0', 'x-t-bin': 'AQ, Ag' }, 5, ['grpc-status', '0', 'x-t-bin', 'AQ', 'x-t-bin', 'Ag']);
    stream.emit('end');
    expect(sink.headers).toMatchObject({ 'x-r': ['a', 'b'] });
    expect(sink.trailers).toMatchObject({ 'x-t-bin': ['AQ', 'Ag'] });
  });

  it('ends the call with INTERNAL, never the process, when a stage above throws on a response event', () => {
    const { stream, sink } = exchange();
    sink.onData = () => {
      throw new TypeError('a defect in a stage above');
    };
    stream.emit('response', { ':status': 200 }, 0, [':status', '200']);
    expect(() => stream.emit('data', Buffer.from('x'))).not.toThrow();
    stream.emit('data', Buffer.from('y'));
    stream.emit('close');
    expect(sink.events).toEqual(['headers', `error:${Status.INTERNAL}`]);
    expect(sink.error?.message).toBe('corral failed on this call: a defect in a stage above');
    expect(stream.rstCode).toBe(constants.NGHTTP2_CANCEL);
  });

  it('gives the sink exactly one ending: a stream closed without trailers is INTERNAL', () => {
    const { stream, sink } = exchange();
    stream.emit('response', { ':status': 200 }, 0, [':status', '200']);
    stream.emit('end');
    stream.emit('close');
    stream.emit('close');
    expect(sink.events).toEqual(['headers', `error:${Status.INTERNAL}`]);
    expect(sink.error?.message).toMatch(/ended the stream without a grpc-status/);
  });

  it('after abort, nothing more of the stream reaches the sink but the abort reason', () => {
    const { stream, sink, ex } = exchange();
    ex.abort(new GrpcError(Status.DEADLINE_EXCEEDED, 'too slow'));
    expect(stream.rstCode).toBe(constants.NGHTTP2_CANCEL);
    stream.emit('response', { ':status': 200 }, 0, [':status', '200']);
    expect(sink.events).toEqual([`error:${Status.DEADLINE_EXCEEDED}`]);
  });
});
