import { EventEmitter } from 'node:events';
import type { ServerHttp2Stream } from 'node:http2';
import { describe, expect, it } from 'vitest';
import { Reply } from '../../src/server/reply.js';
import { GrpcError, Status } from '../../src/wire/status.js';

/** A client stream that records what the Reply does to it, as node's would take it. */
class FakeClientStream extends EventEmitter {
  destroyed = false;
  writableLength = 0;
  log: unknown[] = [];
  respond(headers: Record<string, unknown>, options: Record<string, unknown>): void {
    this.log.push(['respond', headers, options]);
  }
  write(chunk: Buffer): boolean {
    this.log.push(['write', chunk.toString()]);
    return true;
  }
  end(): void {
    this.log.push(['end']);
    this.emit('wantTrailers');
  }
  sendTrailers(trailers: Record<string, unknown>): void {
    this.log.push(['trailers', trailers]);
  }
}

function reply() {
  const stream = new FakeClientStream();
  const open = new Set<Reply>();
  const owner = { replyClosed: (closed: Reply) => open.delete(closed), outcomeHeader: null };
  const r = new Reply(stream as unknown as ServerHttp2Stream, owner, '/p.S/M', {});
  open.add(r);
  return { stream, open, r };
}

describe('Reply', () => {
  it('writes headers (no date of its own), data, then the trailers after the data', () => {
    const { stream, r } = reply();
    r.onHeaders({ ':status': 200, 'x-r': ['a', 'b'] }, false);
    r.onData(Buffer.from('m'));
    r.onTrailers({ 'grpc-status': '0', 'grpc-message': ' padded ' });
    expect(stream.log).toEqual([
      ['respond', { ':status': 200, 'x-r': ['a', 'b'] }, { waitForTrailers: true, sendDate: false }],
      ['write', 'm'],
      ['end'],
      ['trailers', { 'grpc-status': '0', 'grpc-message': ' padded ' }],
    ]);
    expect(r.open).toBe(false);
  });

  it('turns a failure before headers into a trailers-only status, and tells the serving stage to stop', () => {
    const { stream, r } = reply();
    const told: string[] = [];
    r.onStart({ backend: null, abort: () => told.push('gone'), pause: () => told.push('paused'), resume: () => told.push('drained') });
    r.fail(new GrpcError(Status.UNAVAILABLE, 'going away 100%'));
    expect(told).toEqual(['gone']);
    expect(stream.log).toEqual([
      [
        'respond',
        { ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '14', 'grpc-message': 'going away 100%25' },
        { endStream: true, sendDate: false },
      ],
    ]);
  });

  it('after headers, a failure goes out as trailers', () => {
    const { stream, r } = reply();
    r.onHeaders({ ':status': 200 }, false);
    r.onError(new GrpcError(Status.INTERNAL, 'broke'));
    expect(stream.log.at(-1)).toEqual(['trailers', { 'grpc-status': '13', 'grpc-message': 'broke' }]);
  });

  it('is counted open until its stream closes', () => {
    const { stream, open, r } = reply();
    expect(open.has(r)).toBe(true);
    stream.emit('close');
    expect(open.size).toBe(0);
  });
});
