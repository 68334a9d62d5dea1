import http from 'node:http';
import type { Registry } from 'prom-client';
import { listen } from '../server/listen.js';

export interface AdminOptions {
  host: string;
  port: number;
  registry: Registry;
  /** /ready answers 200 only while this holds: backend reachable and not draining. */
  ready: () => { ok: boolean; reason: string };
  /** GET endpoints that answer JSON, by path, with what each shows. */
  views: Record<string, { describe: string; read: () => unknown }>;
  /** POST /logging?level=: sets the log level; returns the level now in effect, or throws naming the levels. */
  setLogLevel: (level: string) => string;
  logLevel: () => string;
}

const JSON_TYPE = { 'content-type': 'application/json' };

/**
 * The admin HTTP server on METRICS_PORT: /metrics for Prometheus, /health and /ready for
 * probes, JSON views of what corral is doing (Envoy's admin interface is the model), and
 * the log level. `GET /` lists them.
 */
export class AdminServer {
  private readonly server: http.Server;

  constructor(private readonly options: AdminOptions) {
    this.server = http.createServer((req, res) => void this.route(req, res));
  }

  private async route(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://admin');
    const path = url.pathname;
    const view = this.options.views[path];
    if (path === '/logging') return this.logging(req.method, url, res);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/metrics') {
      try {
        const body = await this.options.registry.metrics();
        res.writeHead(200, { 'content-type': this.options.registry.contentType }).end(body);
      } catch (err) {
        res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${String(err)}\n`);
      }
    } else if (path === '/health') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    } else if (path === '/ready') {
      const { ok, reason } = this.options.ready();
      res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' }).end(`${reason}\n`);
    } else if (view !== undefined) {
      res.writeHead(200, JSON_TYPE).end(JSON.stringify(view.read(), null, 2) + '\n');
    } else if (path === '/') {
      res.writeHead(200, JSON_TYPE).end(JSON.stringify({ endpoints: this.index() }, null, 2) + '\n');
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: GET / lists the endpoints\n');
    }
  }

  private logging(method: string | undefined, url: URL, res: http.ServerResponse): void {
    if (method === 'GET') {
      res.writeHead(200, JSON_TYPE).end(JSON.stringify({ level: this.options.logLevel() }) + '\n');
      return;
    }
    if (method !== 'POST') {
      res.writeHead(405, { allow: 'GET, POST' }).end();
      return;
    }
    try {
      const level = this.options.setLogLevel(url.searchParams.get('level') ?? '');
      res.writeHead(200, JSON_TYPE).end(JSON.stringify({ level }) + '\n');
    } catch (err) {
      res.writeHead(400, JSON_TYPE).end(JSON.stringify({ error: (err as Error).message }) + '\n');
    }
  }

  private index(): Array<{ method: string; path: string; describe: string }> {
    return [
      { method: 'GET', path: '/metrics', describe: 'Prometheus metrics' },
      { method: 'GET', path: '/health', describe: '200 while the process runs' },
      { method: 'GET', path: '/ready', describe: '200 when a backend is connected and corral is not draining, else 503 with the reason' },
      ...Object.entries(this.options.views).map(([path, v]) => ({ method: 'GET', path, describe: v.describe })),
      { method: 'GET', path: '/logging', describe: 'the log level in effect' },
      { method: 'POST', path: '/logging?level=debug', describe: 'sets the log level (fatal, error, warn, info, debug, trace, silent)' },
    ];
  }

  listen(): Promise<number> {
    return listen(this.server, this.options.port, this.options.host);
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (!this.server.listening) return resolve();
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}
