/** A bare node:http2 client, for sending corral what a gRPC library never would. */
import http2, { type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';

export interface RawResponse {
  headers: IncomingHttpHeaders;
  trailers: IncomingHttpHeaders;
  data: Buffer;
  /** grpc-status from trailers, or from headers of a trailers-only response. */
  grpcStatus: number | undefined;
  grpcMessage: string | undefined;
  rstCode: number;
}

export interface RawRequest {
  path?: string;
  method?: string;
  headers?: OutgoingHttpHeaders;
  /** Chunks written one by one; the request ends after the last unless keepOpen. */
  chunks?: Buffer[];
  keepOpen?: boolean;
  /** Aborting it resets the stream with a bare RST_STREAM(CANCEL), as grpc-go clients cancel. */
  signal?: AbortSignal;
  /** Called with each response chunk as it arrives. */
  onData?: (chunk: Buffer) => void;
}

export function rawCall(address: string, req: RawRequest = {}): Promise<RawResponse> {
  const session = http2.connect(`http://${address}`);
  session.on('error', () => {});
  return new Promise<RawResponse>((resolve, reject) => {
    const stream = session.request({
      ':method': req.method ?? 'POST',
      ':path': req.path ?? '/corral.example.v1.Example/Lookup',
      'content-type': 'application/grpc',
      te: 'trailers',
      ...req.headers,
    }, req.signal ? { signal: req.signal } : {});
    let headers: IncomingHttpHeaders = {};
    let trailers: IncomingHttpHeaders = {};
    const data: Buffer[] = [];
    stream.on('response', (h) => (headers = h));
    stream.on('trailers', (t) => (trailers = t));
    stream.on('data', (d: Buffer) => {
      data.push(d);
      req.onData?.(d);
    });
    stream.on('error', () => {});
    stream.on('close', () => {
      const source = trailers['grpc-status'] !== undefined ? trailers : headers;
      const status = source['grpc-status'];
      resolve({
        headers,
        trailers,
        data: Buffer.concat(data),
        grpcStatus: status === undefined ? undefined : Number(status),
        grpcMessage: source['grpc-message'] as string | undefined,
        rstCode: stream.rstCode ?? 0,
      });
      session.close();
    });
    for (const chunk of req.chunks ?? []) stream.write(chunk);
    if (!req.keepOpen) stream.end();
    setTimeout(() => reject(new Error('raw call did not finish within 10s')), 10_000).unref();
  });
}
