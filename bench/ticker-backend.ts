/**
 * The backend of the watchers benchmark: a node:http2 gRPC server whose every call is a
 * server stream that never ends by itself. Every INTERVAL_MS it sends each open stream one
 * message of MESSAGE_BYTES whose first 8 bytes are when it was sent (ms since the epoch, a
 * float64), so a watcher can tell how long the message took to reach it. GET any path:
 * {calls, open}, the streams it was asked for and those open now.
 *   node dist/bench/ticker-backend.js PORT INTERVAL_MS MESSAGE_BYTES
 */
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { FRAME_HEADER_BYTES } from '../src/wire/frame.js';

const intervalMs = Number(process.argv[3] ?? 100);
const messageBytes = Math.max(8, Number(process.argv[4] ?? 1024));
const open = new Set<http2.ServerHttp2Stream>();
let calls = 0;

const server = http2.createServer({ settings: { maxConcurrentStreams: 100_000 } });
server.on('stream', (stream, headers) => {
  stream.on('error', () => {});
  if (headers[':method'] === 'GET') {
    stream.respond({ ':status': 200, 'content-type': 'application/json' });
    stream.end(JSON.stringify({ calls, open: open.size }));
    return;
  }
  calls++;
  stream.respond({ ':status': 200, 'content-type': 'application/grpc' });
  stream.resume(); // the request is not read
  open.add(stream);
  stream.on('close', () => open.delete(stream));
});

setInterval(() => {
  // One frame for every stream: the same bytes, as a state broadcast is.
  const frame = Buffer.alloc(FRAME_HEADER_BYTES + messageBytes);
  frame.writeUInt32BE(messageBytes, 1);
  frame.writeDoubleBE(performance.timeOrigin + performance.now(), FRAME_HEADER_BYTES);
  for (const stream of open) if (!stream.destroyed) stream.write(frame);
}, intervalMs);

server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ msg: 'ticker listening', port: (server.address() as AddressInfo).port }) + '\n');
});
process.once('SIGTERM', () => process.exit(0));
