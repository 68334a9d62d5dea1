/**
 * What the admin port shows, to whom: a page that rebinds its own name to 127.0.0.1 must
 * not read it, and credentials in a discoverer's URL are never shown, there or in logs.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBackend, startProxy, type Backend, type Proxy } from '../../cmd/processes.js';
import { startHttpSource, type HttpSource } from '../support/http-source.js';
import { until } from '../support/until.js';

let backend: Backend;
let source: HttpSource;
let proxy: Proxy;

/** A GET to the admin port with the Host header given (fetch would not let a test set it). */
function getWithHost(path: string, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port: proxy.adminPort, path, headers: { host } }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
  });
}

beforeAll(async () => {
  backend = await startBackend();
  source = await startHttpSource();
  source.instances = [{ instance_id: 'a', ipv4: '127.0.0.1', port: backend.port }];
  const configPath = join(mkdtempSync(join(tmpdir(), 'corral-admin-')), 'corral.yaml');
  const secretUrl = source.url.replace('http://', 'http://svc-user:hunter2@') + '/?api_key=s3cr3t-key&region=eu';
  writeFileSync(configPath, `clusters:\n  c: { type: dynamic, discoverer_url: "${secretUrl}", discoverer_interval_ms: 100 }\ndefault: { action: use_cluster, use_cluster: c }\n`);
  proxy = await startProxy({ CONFIG_PATH: configPath, ADMIN_ALLOWED_HOSTS: 'corral-admin.internal' });
});

afterAll(async () => {
  await proxy?.stop();
  await source?.close();
  await backend?.stop();
});

describe('the admin port', () => {
  it('answers only requests that name it by IP address, localhost or ADMIN_ALLOWED_HOSTS (DNS rebinding)', async () => {
    for (const host of ['evil.attacker.example', `evil.attacker.example:${proxy.adminPort}`, '127.0.0.1.nip.io', 'localhost.evil.example']) {
      const r = await getWithHost('/config_dump', host);
      expect(r.status, host).toBe(403);
      expect(r.body, host).toContain('DNS rebinding');
      expect(r.body).not.toContain('generation');
    }
    for (const host of [`127.0.0.1:${proxy.adminPort}`, `localhost:${proxy.adminPort}`, `[::1]:${proxy.adminPort}`, '10.1.2.3', 'corral-admin.internal:9901']) {
      expect((await getWithHost('/config_dump', host)).status, String(host)).toBe(200);
    }
  });

  it("uses a discoverer URL's credentials (Basic authentication, the query kept) and never shows them: /config_dump, /clusters, logs", async () => {
    await until('the discoverer was asked', () => source.requests.length > 0);
    expect(source.requests[0]).toBe('GET /v1/instances?api_key=s3cr3t-key&region=eu');
    expect(source.authorizations[0]).toBe(`Basic ${Buffer.from('svc-user:hunter2').toString('base64')}`);
    const dump = (await proxy.admin('/config_dump')).body;
    expect(dump).toContain('api_key=[redacted]&region=eu');
    // The discoverer fails: its error, naming the URL, is shown redacted.
    source.failWith = 500;
    await until('the lookup failure shows', async () => (await proxy.admin('/clusters')).body.includes('HTTP 500'));
    const clusters = (await proxy.admin('/clusters')).body;
    expect(clusters).toContain('[redacted]@127.0.0.1');
    source.failWith = null;
    const everything = [dump, clusters, proxy.lines.join('\n')].join('\n');
    expect(everything).not.toContain('hunter2');
    expect(everything).not.toContain('s3cr3t-key');
    expect(everything).not.toContain('svc-user');
  });
});
