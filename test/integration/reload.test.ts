/**
 * SIGHUP with an unchanged configuration, under a steady loop of calls: not one call
 * fails, and the backends keep their connections (no endpoint leaves, no new connection).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBackend, startProxy, type Backend, type Proxy } from '../../cmd/processes.js';
import { backendStats, client, unary, until, type Client } from '../support/grpc.js';
import { startHttpSource, type HttpSource } from '../support/http-source.js';

let backends: Backend[];
let source: HttpSource;
let proxy: Proxy;
let c: Client;

beforeAll(async () => {
  backends = await Promise.all(['r1', 'r2'].map((name) => startBackend({ name })));
  source = await startHttpSource();
  source.instances = backends.map((b, i) => ({ instance_id: `r${i + 1}`, ipv4: '127.0.0.1', port: b.port }));
  const configPath = join(mkdtempSync(join(tmpdir(), 'corral-reload-')), 'corral.yaml');
  writeFileSync(
    configPath,
    `default: { action: use_cluster, use_cluster: discovered }
routes:
  - prefix: /corral.example.v1.Example/Lookup
    cluster: discovered
clusters:
  discovered: { type: dynamic, discoverer_url: "${source.url}", discoverer_interval_ms: 200 }
  fixed: { type: static, address: "${backends[0]!.address}" }
`,
  );
  proxy = await startProxy({ CONFIG_PATH: configPath });
  c = client(proxy.address);
});

afterAll(async () => {
  c?.close();
  await proxy?.stop();
  await source?.close();
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
    const peersBefore = (await Promise.all(backends.map((b) => backendStats(b.address)))).map((s) => s.peers);
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
    for (let reload = 0; reload < 3; reload++) {
      await new Promise((r) => setTimeout(r, 150));
      proxy.child.kill('SIGHUP');
      await until(`reload ${reload + 1} done`, async () => proxy.lines.filter((l) => l.includes('"config reloaded"')).length > reload);
    }
    await new Promise((r) => setTimeout(r, 300));
    running = false;
    await Promise.all(workers);
    expect(calls).toBeGreaterThan(100);
    expect(failures).toEqual([]);
    expect(proxy.lines.filter((l) => l.includes('endpoint left'))).toEqual([]);
    // Each backend counts the distinct client addresses its Lookups came from: no new connection was opened.
    const peersAfter = (await Promise.all(backends.map((b) => backendStats(b.address)))).map((s) => s.peers);
    expect(peersAfter).toEqual(peersBefore);
  });
});
