/**
 * SIGHUP with an unchanged configuration, under a steady loop of calls, on the shipped
 * defaults (server reflection on, so every reload asks every backend again): not one call
 * fails, and the backends keep their connections (no endpoint leaves, and a TCP forwarder
 * in front of each counts no new connection).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBackend, startProxy, type Backend, type Proxy } from '../../cmd/processes.js';
import { backendStats, client, unary, until, type Client } from '../support/grpc.js';
import { startHttpSource, type HttpSource } from '../support/http-source.js';

let backends: Backend[];
let forwarders: Forwarder[];
let source: HttpSource;
let proxy: Proxy;
let c: Client;

interface Forwarder {
  port: number;
  /** Connections accepted so far. */
  accepted: number;
  close(): void;
}

/** A TCP forwarder to `port` that counts the connections it accepts. */
async function forwarder(port: number): Promise<Forwarder> {
  const sockets = new Set<net.Socket>();
  const f = { port: 0, accepted: 0, close: () => {} };
  const server = net.createServer((socket) => {
    f.accepted++;
    const upstream = net.connect(port, '127.0.0.1');
    for (const s of [socket, upstream]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => sockets.delete(s));
    }
    socket.pipe(upstream).pipe(socket);
    socket.on('close', () => upstream.destroy());
    upstream.on('close', () => socket.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  f.port = (server.address() as net.AddressInfo).port;
  f.close = () => {
    server.close();
    for (const s of sockets) s.destroy();
  };
  return f;
}

beforeAll(async () => {
  backends = await Promise.all(['r1', 'r2'].map((name) => startBackend({ name })));
  forwarders = await Promise.all(backends.map((b) => forwarder(b.port)));
  source = await startHttpSource();
  source.instances = forwarders.map((f, i) => ({ instance_id: `r${i + 1}`, ipv4: '127.0.0.1', port: f.port }));
  const configPath = join(mkdtempSync(join(tmpdir(), 'corral-reload-')), 'corral.yaml');
  writeFileSync(
    configPath,
    `default: { action: use_cluster, use_cluster: discovered }
routes:
  - prefix: /corral.example.v1.Example/Lookup
    cluster: discovered
clusters:
  discovered: { type: dynamic, discoverer_url: "${source.url}", discoverer_interval_ms: 200 }
  fixed: { type: static, address: "127.0.0.1:${forwarders[0]!.port}" }
`,
  );
  proxy = await startProxy({ CONFIG_PATH: configPath });
  await proxy.untilReady();
  c = client(proxy.address);
});

afterAll(async () => {
  c?.close();
  await proxy?.stop();
  await source?.close();
  for (const f of forwarders ?? []) f.close();
  for (const b of backends ?? []) await b.stop();
});

describe('SIGHUP with the same configuration', () => {
  it('fails no call of a steady loop and keeps every backend connection', async () => {
    // Warm up: both instances discovered and connected.
    await until('both instances answered', async () => {
      await Promise.all(Array.from({ length: 10 }, (_, i) => unary(c, 'Lookup', { key: `warm-${i}-${Date.now()}` })));
      const stats = await Promise.all(backends.map((b) => backendStats(b.address)));
      return stats.every((s) => (s.calls.Lookup ?? 0) > 0);
    });
    const acceptedBefore = forwarders.map((f) => f.accepted);
    const failures: string[] = [];
    let calls = 0;
    let running = true;
    const loop = async (worker: number) => {
      for (let i = 0; running; i++) {
        const r = await unary(c, 'Lookup', { key: `loop-${worker}-${i}` });
        calls++;
        if (r.error) failures.push(`${r.error.code} ${r.error.details}`);
      }
    };
    const workers = Array.from({ length: 8 }, (_, w) => loop(w));
    try {
      const learned = () => proxy.lines.filter((l) => l.includes('learned the backend')).length;
      for (let reload = 0; reload < 3; reload++) {
        const mark = calls;
        await until('calls flow before the reload', () => calls >= mark + 20);
        const asked = learned();
        proxy.child.kill('SIGHUP');
        await until(`reload ${reload + 1} done`, async () => proxy.lines.filter((l) => l.includes('"config reloaded"')).length > reload);
        // Both backends (the fixed cluster's is the first of the dynamic one's) answered reflection anew.
        await until(`reload ${reload + 1}: the backends asked again`, () => learned() >= asked + 2);
      }
      const mark = calls;
      await until('calls flow after the reloads', () => calls >= mark + 20);
    } finally {
      running = false;
      await Promise.all(workers);
    }
    expect(calls).toBeGreaterThan(100);
    expect(failures).toEqual([]);
    expect(proxy.lines.filter((l) => l.includes('endpoint left'))).toEqual([]);
    // Reflection was asked over corral's own sessions: no backend saw a new connection.
    expect(forwarders.map((f) => f.accepted)).toEqual(acceptedBefore);
  });
});
