import http from 'node:http';
import { isIP } from 'node:net';
import type { Registry } from 'prom-client';
import { listen } from '../server/listen.js';

/** What the metrics port serves: Prometheus and the kubelet reach it on the pod's IP. */
export interface ProbeEndpoints {
  registry: Registry;
  /** /ready answers 200 only while this holds: backend reachable and not draining. */
  ready: () => { ok: boolean; reason: string };
  /** Where the admin endpoints are (host:port), for the 404 of a path asked of the wrong port. */
  adminAddress: () => string;
}

/** What the admin port serves: the JSON views and the log level, on localhost by default. */
export interface AdminEndpoints {
  /** GET endpoints that answer JSON, by path, with what each shows. */
  views: Record<string, { describe: string; read: () => unknown }>;
  /** POST /logging?level=: sets the log level; returns the level now in effect, or throws naming the levels. */
  setLogLevel: (level: string) => string;
  logLevel: () => string;
  /** Where /metrics, /health and /ready are (host:port), for the 404 of a probe asked of the wrong port. */
  probesAddress: () => string;
  /** POST /cache/purge?...: the answer's status and JSON body; null without a cache. */
  purge: ((params: URLSearchParams) => Promise<{ status: number; body: unknown }>) | null;
}

/** What the metrics port serves. */
const PROBE_PATHS = new Set(['/metrics', '/health', '/ready']);

export interface AdminOptions {
  host: string;
  port: number;
  /**
   * Host names a request may name in its Host header besides IP literals and localhost
   * (ADMIN_ALLOWED_HOSTS); undefined: Host is not checked (the metrics port, which
   * Prometheus may reach by any name).
   */
  allowedHosts?: ReadonlySet<string>;
  /** /metrics, /health and /ready (METRICS_PORT). */
  probes?: ProbeEndpoints;
  /** The index, the views and /logging (ADMIN_PORT). */
  admin?: AdminEndpoints;
}

const JSON_TYPE = { 'content-type': 'application/json' };
/**
 * Content types a browser sends cross-origin without a preflight (a form, or text/plain):
 * a web page could make an operator's browser send such a POST to the admin port.
 */
const SIMPLE_REQUEST_TYPE = /^\s*(application\/x-www-form-urlencoded|multipart\/form-data|text\/plain)\s*(;|$)/i;
const CROSS_ORIGIN_REFUSED = 'refused: a browser could send this cross-origin (Origin header, or a form or text/plain body); use curl -X POST';

/** A POST a browser could send cross-origin without a preflight: curl's has neither an Origin nor such a content type. */
function crossOriginPossible(req: http.IncomingMessage): boolean {
  const type = req.headers['content-type'];
  return req.headers.origin !== undefined || (type !== undefined && SIMPLE_REQUEST_TYPE.test(type));
}

/**
 * An HTTP server of corral's own: the metrics port (/metrics for Prometheus, /health and
 * /ready for probes) or the admin port (JSON views of what corral is doing and the log
 * level; Envoy's admin interface is the model, and like Envoy's it belongs on localhost).
 * `GET /` on the admin port lists its endpoints.
 */
export class AdminServer {
  private readonly server: http.Server;

  constructor(private readonly options: AdminOptions) {
    this.server = http.createServer((req, res) => void this.route(req, res));
  }

  private async route(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const allowed = this.options.allowedHosts;
    if (allowed !== undefined && !hostAllowed(req.headers.host, allowed)) {
      res.writeHead(403, JSON_TYPE).end(
        JSON.stringify({
          error: `refused: Host '${req.headers.host}' is not an IP address, localhost or a name in ADMIN_ALLOWED_HOSTS (a page on another site can make a browser send its requests here under its own name: DNS rebinding)`,
        }) + '\n',
      );
      return;
    }
    const url = new URL(req.url ?? '/', 'http://admin');
    const path = url.pathname;
    const { probes, admin } = this.options;
    if (path === '/logging' && admin !== undefined) return this.logging(req, url, res, admin);
    if (path === '/cache/purge' && admin !== undefined) return this.purge(req, url, res, admin);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    const view = admin?.views[path];
    if (probes !== undefined && path === '/metrics') {
      try {
        const body = await probes.registry.metrics();
        res.writeHead(200, { 'content-type': probes.registry.contentType }).end(body);
      } catch (err) {
        res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${String(err)}\n`);
      }
    } else if (probes !== undefined && path === '/health') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    } else if (probes !== undefined && path === '/ready') {
      const { ok, reason } = probes.ready();
      res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' }).end(`${reason}\n`);
    } else if (view !== undefined) {
      res.writeHead(200, JSON_TYPE).end(JSON.stringify(view.read(), null, 2) + '\n');
    } else if (admin !== undefined && path === '/') {
      res.writeHead(200, JSON_TYPE).end(JSON.stringify({ endpoints: this.index(admin) }, null, 2) + '\n');
    } else if (probes !== undefined) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`not found: this port serves /metrics, /health and /ready; the admin endpoints are on ${probes.adminAddress()} (ADMIN_PORT)\n`);
    } else if (admin !== undefined && PROBE_PATHS.has(path)) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`not found: ${path} is on ${admin.probesAddress()} (METRICS_PORT); GET / lists this port's endpoints\n`);
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end("not found: GET / lists this port's endpoints\n");
    }
  }

  /** POST only, and never what a browser could send cross-origin: a page must not empty the cache. */
  private async purge(req: http.IncomingMessage, url: URL, res: http.ServerResponse, admin: AdminEndpoints): Promise<void> {
    if (req.method !== 'POST') {
      res.writeHead(405, { allow: 'POST', ...JSON_TYPE }).end(JSON.stringify({ error: 'POST /cache/purge?tag=... (or method=, key=, all=true; soft=true)' }) + '\n');
      return;
    }
    if (crossOriginPossible(req)) {
      res.writeHead(403, JSON_TYPE).end(JSON.stringify({ error: CROSS_ORIGIN_REFUSED }) + '\n');
      return;
    }
    if (admin.purge === null) {
      res.writeHead(404, JSON_TYPE).end(JSON.stringify({ error: 'no cache to purge: COLLAPSER_CACHE_MAX_BYTES is 0' }) + '\n');
      return;
    }
    const { status, body } = await admin.purge(url.searchParams);
    res.writeHead(status, JSON_TYPE).end(JSON.stringify(body) + '\n');
  }

  private logging(req: http.IncomingMessage, url: URL, res: http.ServerResponse, admin: AdminEndpoints): void {
    if (req.method === 'GET') {
      res.writeHead(200, JSON_TYPE).end(JSON.stringify({ level: admin.logLevel() }) + '\n');
      return;
    }
    if (req.method !== 'POST') {
      res.writeHead(405, { allow: 'GET, POST' }).end();
      return;
    }
    // A request a browser could send cross-origin without a preflight is refused: curl's
    // POST has neither an Origin nor such a content type.
    if (crossOriginPossible(req)) {
      res.writeHead(403, JSON_TYPE).end(JSON.stringify({ error: CROSS_ORIGIN_REFUSED }) + '\n');
      return;
    }
    try {
      const level = admin.setLogLevel(url.searchParams.get('level') ?? '');
      res.writeHead(200, JSON_TYPE).end(JSON.stringify({ level }) + '\n');
    } catch (err) {
      res.writeHead(400, JSON_TYPE).end(JSON.stringify({ error: (err as Error).message }) + '\n');
    }
  }

  private index(admin: AdminEndpoints): Array<{ method: string; path: string; describe: string }> {
    return [
      ...Object.entries(admin.views).map(([path, v]) => ({ method: 'GET', path, describe: v.describe })),
      { method: 'GET', path: '/logging', describe: 'the log level in effect' },
      { method: 'POST', path: '/logging?level=debug', describe: 'sets the log level (fatal, error, warn, info, debug, trace, silent)' },
      { method: 'POST', path: '/cache/purge?tag=...', describe: 'drops cached answers: tag=, method= (or a service prefix ending in /), key= (as /flights shows it) or all=true; soft=true marks them stale instead' },
      { method: 'GET', path: '/metrics, /health, /ready', describe: 'on METRICS_PORT: Prometheus metrics, liveness, readiness' },
    ];
  }

  listen(): Promise<number> {
    return listen(this.server, this.options.port, this.options.host);
  }

  /** host:port it listens on (the port picked, when 0 was asked for). */
  get address(): string {
    const bound = this.server.address();
    const port = bound !== null && typeof bound === 'object' ? bound.port : this.options.port;
    return `${this.options.host.includes(':') ? `[${this.options.host}]` : this.options.host}:${port}`;
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (!this.server.listening) return resolve();
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}

/**
 * Whether a request's Host names this server as an operator reaches it: an IP literal,
 * localhost, or a configured name. A DNS rebinding attack reaches it under the attacker's
 * own name (a page at evil.example whose name then resolves to 127.0.0.1), which this
 * refuses, as Vite's dev server and Jupyter do. A request without Host (HTTP/1.0, not a
 * browser) is taken.
 */
export function hostAllowed(host: string | undefined, allowed: ReadonlySet<string>): boolean {
  if (host === undefined) return true;
  let name: string;
  try {
    name = new URL(`http://${host}`).hostname.toLowerCase();
  } catch {
    return false;
  }
  if (name.startsWith('[') && name.endsWith(']')) name = name.slice(1, -1);
  return isIP(name) !== 0 || name === 'localhost' || name.endsWith('.localhost') || allowed.has(name);
}
