/**
 * A local HTTP server playing MyGateway's discoverer (GET /v1/instances, POST
 * /v1/unregister/{id}) and the queue proxy's shard map (GET /shards), for tests.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Instance {
  instance_id: string;
  ipv4: string;
  port: number;
}

export interface HttpSource {
  url: string;
  instances: Instance[];
  shards: unknown[];
  /** When set, every GET answers this HTTP status instead. */
  failWith: number | null;
  /** Requests seen, e.g. 'GET /v1/instances', 'POST /v1/unregister/a'. */
  requests: string[];
  /** When each request arrived (performance.now()). */
  times: number[];
  /** The Authorization header of each request ('' when none). */
  authorizations: string[];
  close(): Promise<void>;
}

export async function startHttpSource(): Promise<HttpSource> {
  const source: HttpSource = {
    url: '',
    instances: [],
    shards: [],
    failWith: null,
    requests: [],
    times: [],
    authorizations: [],
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
  const server = http.createServer((req, res) => {
    source.requests.push(`${req.method} ${req.url}`);
    source.times.push(performance.now());
    source.authorizations.push(req.headers.authorization ?? '');
    const path = new URL(req.url ?? '/', 'http://source').pathname;
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method === 'POST' && path.startsWith('/v1/unregister/')) {
      const id = decodeURIComponent(path.slice('/v1/unregister/'.length));
      source.instances = source.instances.filter((i) => i.instance_id !== id);
      return send(200, {});
    }
    if (source.failWith !== null) return send(source.failWith, { error: 'down for the test' });
    if (path === '/v1/instances') return send(200, { instances: source.instances });
    if (path === '/shards') return send(200, { shards: source.shards });
    send(404, {});
  });
  server.keepAliveTimeout = 100;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  source.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return source;
}
