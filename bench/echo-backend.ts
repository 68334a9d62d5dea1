/**
 * The bare backend of the end-to-end benchmark: a node:http2 gRPC server that answers
 * every method by echoing the request body, with grpc-status 0. It is the floor the
 * proxies are compared with. It counts the calls it answered: GET any path for the count.
 *   node dist/bench/echo-backend.js PORT [DELAY_MS]
 * DELAY_MS (default 0): each answer waits this long, so calls overlap as a slow backend's do.
 */
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';

let calls = 0;
const delayMs = Number(process.argv[3] ?? 0);
const server = http2.createServer({ settings: { maxConcurrentStreams: 10_000 } });
server.on('stream', (stream, headers) => {
  if (headers[':method'] === 'GET') {
    stream.respond({ ':status': 200, 'content-type': 'application/json' });
    stream.end(JSON.stringify({ calls }));
    return;
  }
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  stream.on('end', () => {
    calls++;
    if (delayMs > 0) setTimeout(answer, delayMs, stream, chunks);
    else answer(stream, chunks);
  });
  stream.on('error', () => {});
});
function answer(stream: http2.ServerHttp2Stream, chunks: Buffer[]): void {
  if (stream.destroyed) return;
  stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
  stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
  stream.end(Buffer.concat(chunks));
}

server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ msg: 'echo listening', port: (server.address() as AddressInfo).port }) + '\n');
});
process.once('SIGTERM', () => process.exit(0));
