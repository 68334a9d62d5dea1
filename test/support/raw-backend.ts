/**
 * A bare node:http2 gRPC backend for wire-level tests: it records each request's header
 * fields exactly as they arrived (repeated names as separate fields) and answers with
 * the fields, message and trailers a test gives it, also as separate fields.
 */
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { encodeFrame } from '../../src/wire/frame.js';
import { pairs } from './raw.js';

export interface RawBackend {
  address: string;
  /** Each request's header fields as [name, value] pairs, in arrival order. */
  requests: Array<Array<[string, string]>>;
  /** Response header fields after :status and content-type. */
  responseFields: Array<[string, string]>;
  /** Trailer fields; grpc-status 0 unless given. */
  trailerFields: Array<[string, string]>;
  close(): Promise<void>;
}

/** A header object node sends field by field: a repeated name becomes an array, values in order. */
function asHeaders(fields: Array<[string, string]>): http2.OutgoingHttpHeaders {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of fields) {
    const seen = out[name];
    out[name] = seen === undefined ? value : [...(Array.isArray(seen) ? seen : [seen]), value];
  }
  return out;
}

export async function startRawBackend(): Promise<RawBackend> {
  const backend: RawBackend = {
    address: '',
    requests: [],
    responseFields: [],
    trailerFields: [['grpc-status', '0']],
    close: async () => {},
  };
  const server = http2.createServer({ strictFieldWhitespaceValidation: false } as http2.ServerOptions);
  server.on('stream', (stream, _headers, _flags, raw: string[]) => {
    backend.requests.push(pairs(raw));
    stream.resume();
    stream.on('end', () => {
      stream.respond(asHeaders([[':status', '200'], ['content-type', 'application/grpc'], ...backend.responseFields]), {
        waitForTrailers: true,
        sendDate: false,
      } as http2.ServerStreamResponseOptions);
      stream.on('wantTrailers', () => stream.sendTrailers(asHeaders(backend.trailerFields)));
      stream.end(encodeFrame(Buffer.from('reply')));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  backend.address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  backend.close = () => new Promise((resolve) => server.close(() => resolve()));
  return backend;
}
