/**
 * A bare node:http2 backend that tells how each request ended: with the client's
 * END_STREAM (and whether that came before or after the backend answered) or with a
 * reset. A proxy must never turn a request its client did not finish into a complete one.
 *
 * Methods: `/half.Close/AtEnd` answers once the request has ended (as a unary handler
 * does); `/half.Close/Early` answers at its first message and keeps listening (as a
 * server that needs only the first message of a stream does).
 */
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { encodeFrame } from '../../src/wire/frame.js';

export interface RequestRecord {
  path: string;
  /** The client's END_STREAM arrived before the backend answered. */
  endedBeforeAnswer: boolean;
  /** The client's END_STREAM arrived after the backend had answered. */
  endedAfterAnswer: boolean;
  /** The stream was reset by the proxy ('aborted', or a close with a code other than NO_ERROR before the end). */
  reset: boolean;
  /** The stream has closed. */
  closed: boolean;
}

export interface HalfCloseBackend {
  address: string;
  requests: RequestRecord[];
  /** Requests that reached the backend complete (END_STREAM at any time). */
  readonly completed: number;
  close(): Promise<void>;
}

export async function startHalfCloseBackend(): Promise<HalfCloseBackend> {
  const requests: RequestRecord[] = [];
  const server = http2.createServer();
  server.on('stream', (stream, headers) => {
    const record: RequestRecord = { path: String(headers[':path']), endedBeforeAnswer: false, endedAfterAnswer: false, reset: false, closed: false };
    requests.push(record);
    let answered = false;
    const answer = () => {
      if (answered || stream.destroyed) return;
      answered = true;
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      stream.end(encodeFrame(Buffer.from('answer')));
    };
    stream.on('data', () => {
      if (record.path === '/half.Close/Early') answer();
    });
    stream.on('aborted', () => (record.reset = true));
    stream.on('end', () => {
      // node also ends the readable side of a reset stream: with 'aborted' first while the
      // backend was still answering, closed with the reset's code after it answered. A
      // reset with NO_ERROR after a finished answer would look like an END_STREAM here:
      // corral resets with CANCEL.
      if (stream.aborted || (stream.closed && stream.rstCode !== http2.constants.NGHTTP2_NO_ERROR)) return;
      if (answered) record.endedAfterAnswer = true;
      else record.endedBeforeAnswer = true;
      if (record.path === '/half.Close/AtEnd') setTimeout(answer, 5);
    });
    stream.on('error', () => {});
    stream.on('close', () => {
      record.closed = true;
      if (stream.rstCode !== http2.constants.NGHTTP2_NO_ERROR) record.reset = true;
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    get completed() {
      return requests.filter((r) => r.endedBeforeAnswer || r.endedAfterAnswer).length;
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
