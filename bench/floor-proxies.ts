/**
 * Two minimal pass-through gRPC proxies, for the end-to-end benchmark only: the floor of
 * what a proxy on each stack costs, with nothing of corral in it (no key, no cache, no
 * metrics, no checks).
 *
 *   node dist/bench/floor-proxies.js http2 BACKEND_PORT   node:http2 on both sides
 *   node dist/bench/floor-proxies.js grpc-js BACKEND_PORT node:http2 front, grpc-js client upstream
 *
 * The grpc-js variant is how a proxy would look with grpc-js upstream (grpc-js has no
 * catch-all server handler, so its front must be node:http2 anyway): it handles one
 * uncompressed request message per call and passes message bytes without decoding them.
 */
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { encodeFrame } from '../src/wire/frame.js';

const [kind, backendPort] = process.argv.slice(2);
const server = http2.createServer({ settings: { maxConcurrentStreams: 10_000 } });
const ignore = (): void => {};

if (kind === 'http2') {
  const upstream = http2.connect(`http://127.0.0.1:${backendPort}`);
  server.on('stream', (stream, headers) => {
    const up = upstream.request(headers);
    stream.on('error', ignore);
    up.on('error', ignore);
    stream.pipe(up);
    up.on('response', (h, flags) => {
      if (flags & http2.constants.NGHTTP2_FLAG_END_STREAM) stream.respond(h, { endStream: true });
      else stream.respond(h, { waitForTrailers: true });
    });
    up.on('data', (d: Buffer) => stream.write(d));
    up.on('trailers', (t) => stream.once('wantTrailers', () => stream.sendTrailers(t)));
    up.on('end', () => stream.end());
  });
} else if (kind === 'grpc-js') {
  const client = new grpc.Client(`127.0.0.1:${backendPort}`, grpc.credentials.createInsecure());
  const same = (b: Buffer): Buffer => b;
  server.on('stream', (stream, headers) => {
    const chunks: Buffer[] = [];
    stream.on('error', ignore);
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      const message = Buffer.concat(chunks).subarray(5);
      client.makeUnaryRequest(headers[':path']!, same, same, message, (err, reply) => {
        if (err || reply === undefined) {
          stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': String(err?.code ?? 13) }, { endStream: true });
          return;
        }
        stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
        stream.once('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
        stream.end(encodeFrame(reply));
      });
    });
  });
} else {
  process.stderr.write('usage: floor-proxies.js http2|grpc-js BACKEND_PORT\n');
  process.exit(2);
}

server.listen(0, '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ msg: 'floor proxy listening', kind, port: (server.address() as AddressInfo).port }) + '\n');
});
process.once('SIGTERM', () => process.exit(0));
