/** A backend that does not speak cleartext HTTP/2 gets a status that says what corral expects. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProxy } from '../../cmd/processes.js';
import { encodeFrame } from '../../src/wire/frame.js';
import { rawCall } from '../support/raw.js';

let h1: http.Server;
let tls: https.Server;

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-tls-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=localhost'], { stdio: 'ignore' });
  h1 = http.createServer((_req, res) => res.end('an HTTP/1.1 server\n'));
  tls = https.createServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) }, (_req, res) => res.end('a TLS server\n'));
  await Promise.all([h1, tls].map((s) => new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))));
});

afterAll(() => {
  h1?.close();
  tls?.close();
});

describe('a backend that is not cleartext HTTP/2', () => {
  it.each([['HTTP/1.1', () => h1], ['TLS', () => tls]])('%s: UNAVAILABLE saying corral expects cleartext HTTP/2', async (_kind, server) => {
    const port = (server().address() as AddressInfo).port;
    const proxy = await startProxy({ BACKEND_ADDRESS: `127.0.0.1:${port}`, RETRY_COUNT: '0' });
    try {
      for (let i = 0; i < 2; i++) {
        const r = await rawCall(proxy.address, { path: '/a.B/C', chunks: [encodeFrame(Buffer.from(`call ${i}`))] });
        expect(r.grpcStatus).toBe(14);
        expect(r.grpcMessage).toContain('corral expects cleartext HTTP/2 (h2c)');
        await new Promise((resolve) => setTimeout(resolve, 300));
      }
    } finally {
      await proxy.stop();
    }
  });
});
