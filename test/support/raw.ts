/** A bare node:http2 client, for sending corral what a gRPC library never would. */
import http2, { type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';

export interface RawResponse {
  headers: IncomingHttpHeaders;
  trailers: IncomingHttpHeaders;
  /** Header and trailer fields as they arrived, [name, value] in order. */
  headerFields: Array<[string, string]>;
  trailerFields: Array<[string, string]>;
  data: Buffer;
  /** grpc-status from trailers, or from headers of a trailers-only response. */
  grpcStatus: number | undefined;
  grpcMessage: string | undefined;
  rstCode: number;
}

export interface RawRequest {
  path?: string;
  method?: string;
  /** Request metadata; an array value is sent as one field per value. */
  headers?: OutgoingHttpHeaders;
  /** Chunks written one by one; the request ends after the last unless keepOpen. */
  chunks?: Buffer[];
  keepOpen?: boolean;
  /** Ends the request this long after the last chunk instead of at once. */
  endAfterMs?: number;
  /** Aborting it resets the stream with a bare RST_STREAM(CANCEL), as grpc-go clients cancel. */
  signal?: AbortSignal;
  /** Called with each response chunk as it arrives. */
  onData?: (chunk: Buffer) => void;
}

export function rawCall(address: string, req: RawRequest = {}): Promise<RawResponse> {
  const session = http2.connect(`http://${address}`, { strictFieldWhitespaceValidation: false } as http2.ClientSessionOptions);
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
    let headerFields: Array<[string, string]> = [];
    let trailerFields: Array<[string, string]> = [];
    const data: Buffer[] = [];
    stream.on('response', (h, _flags, raw: string[]) => {
      headers = h;
      headerFields = pairs(raw);
    });
    stream.on('trailers', (t, _flags, raw: string[]) => {
      trailers = t;
      trailerFields = pairs(raw);
    });
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
        headerFields,
        trailerFields,
        data: Buffer.concat(data),
        grpcStatus: status === undefined ? undefined : Number(status),
        grpcMessage: source['grpc-message'] as string | undefined,
        rstCode: stream.rstCode ?? 0,
      });
      session.close();
    });
    setTimeout(() => reject(new Error('raw call did not finish within 10s')), 10_000).unref();
    for (const chunk of req.chunks ?? []) stream.write(chunk);
    if (req.keepOpen) return;
    if (req.endAfterMs === undefined) stream.end();
    else setTimeout(() => stream.end(), req.endAfterMs);
  });
}

/** A raw field list, as node gives it, as [name, value] pairs. */
export function pairs(raw: string[] | undefined): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (let i = 0; raw !== undefined && i < raw.length; i += 2) out.push([raw[i]!, raw[i + 1]!]);
  return out;
}
