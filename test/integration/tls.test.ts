import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import net from 'node:net';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExampleClient } from '../../cmd/example-service.js';
import { startBackend, startProxy, type Backend, type Proxy } from '../../cmd/processes.js';
import { TestCa, type Issued } from '../support/certificates.js';
import { backendStats, grpc, metadata, unary, type Client } from '../support/grpc.js';
import { until } from '../support/until.js';
import { freePort } from '../support/etcd.js';
import { startOrdersBackend, type OrdersBackend } from '../http/orders-backend.js';

const ca = new TestCa('front');
const otherCa = new TestCa('other');
const server = ca.issue({ cn: 'corral', uris: ['spiffe://test.example/ns/default/sa/corral'] });
const alice = ca.issue({ cn: 'alice', uris: ['spiffe://test.example/ns/default/sa/alice'] });
const bob = ca.issue({ cn: 'bob', uris: ['spiffe://test.example/ns/default/sa/bob'] });
const carol = otherCa.issue({ cn: 'carol', uris: ['spiffe://other.example/sa/carol'] });

/** A grpc-js client of corral over TLS, trusting the test CA, with a client certificate or none. */
function tlsClient(address: string, who: Issued | null, trusted: string = ca.certFile): Client {
  const credentials = grpc.credentials.createSsl(
    readFileSync(trusted),
    who === null ? null : readFileSync(who.keyFile),
    who === null ? null : readFileSync(who.certFile),
  );
  return new ExampleClient(address, credentials, { 'grpc.ssl_target_name_override': 'localhost' }) as Client;
}

/** The serial number of the certificate a new TLS connection to the port is served. */
function servedSerial(port: number, who: Issued): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ca: readFileSync(ca.certFile), cert: readFileSync(who.certFile), key: readFileSync(who.keyFile), ALPNProtocols: ['h2'] }, () => {
      resolve(socket.getPeerX509Certificate()!.serialNumber);
      socket.destroy();
    });
    socket.on('error', reject);
  });
}

describe('TLS and mTLS on the gRPC port', () => {
  let backend: Backend;
  let proxy: Proxy;
  // corral reads its certificate from here; the rotation test replaces the files by rename.
  const certFile = join(ca.dir, 'serving.crt');
  const keyFile = join(ca.dir, 'serving.key');

  beforeAll(async () => {
    copyFileSync(server.certFile, certFile);
    copyFileSync(server.keyFile, keyFile);
    backend = await startBackend({ delay: '300ms' });
    proxy = await startProxy({ BACKEND_ADDRESS: backend.address, TLS_CERT_FILE: certFile, TLS_KEY_FILE: keyFile, TLS_CLIENT_CA_FILE: ca.certFile });
  });
  afterAll(async () => {
    await proxy?.stop();
    await backend?.stop();
  });

  it('serves grpc-js over mTLS and tells the backend who called, whatever the client claimed', async () => {
    const c = tlsClient(proxy.address, alice);
    const forged = 'By=spiffe://evil;Hash=00;URI=spiffe://test.example/ns/default/sa/admin';
    const { error, reply } = await unary(c, 'Lookup', { key: 'who' }, metadata({ 'x-forwarded-client-cert': forged }));
    c.close();
    expect(error).toBeNull();
    const xfcc = reply.metadata['x-forwarded-client-cert'] as string;
    expect(xfcc).not.toContain('evil');
    expect(xfcc).toMatch(/^By=spiffe:\/\/test\.example\/ns\/default\/sa\/corral;Hash=[0-9a-f]{64};Subject="CN=alice";URI=spiffe:\/\/test\.example\/ns\/default\/sa\/alice$/);
  });

  it('says in its listening line that mTLS is on (TLS with client certificates required)', () => {
    expect(proxy.ready.tls).toBe('mtls');
  });

  it('refuses, in the handshake, a client without a certificate, with one from another CA, or in cleartext', async () => {
    for (const c of [tlsClient(proxy.address, null), tlsClient(proxy.address, carol), new ExampleClient(proxy.address, grpc.credentials.createInsecure()) as Client]) {
      const { error } = await unary(c, 'Lookup', { key: 'refused' }, undefined, { deadline: Date.now() + 3000 });
      c.close();
      expect(error?.code).toBe(grpc.status.UNAVAILABLE);
    }
    expect((await backendStats(backend.address)).calls.Lookup ?? 0).toBeLessThanOrEqual(1);
  });

  it('never shares an answer between two identities: one backend call each', async () => {
    const before = (await backendStats(backend.address)).calls.Lookup ?? 0;
    const clients = [tlsClient(proxy.address, alice), tlsClient(proxy.address, bob)];
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => unary(clients[i % 2]!, 'Lookup', { key: 'shared-question' })));
    for (const c of clients) c.close();
    expect(results.map((r) => r.error)).toEqual(Array(10).fill(null));
    expect(((await backendStats(backend.address)).calls.Lookup ?? 0) - before).toBe(2);
    for (const [i, r] of results.entries()) expect(r.reply.metadata['x-forwarded-client-cert']).toContain(i % 2 === 0 ? 'sa/alice' : 'sa/bob');
    expect(new Set(results.filter((_, i) => i % 2 === 0).map((r) => r.reply.callNumber)).size).toBe(1);
    expect(results[0]!.reply.callNumber).not.toBe(results[1]!.reply.callNumber);
  });

  it('takes new certificate files without a restart: new connections get them, open ones carry on', async () => {
    const open = tlsClient(proxy.address, alice);
    expect((await unary(open, 'Lookup', { key: 'before-rotation' })).error).toBeNull();
    const first = await servedSerial(proxy.grpcPort, alice);
    const next = ca.issue({ cn: 'corral', name: 'corral-next', uris: ['spiffe://test.example/ns/default/sa/corral'] });
    // As Kubernetes updates a secret volume: new files written beside, then renamed over.
    copyFileSync(next.keyFile, `${keyFile}.tmp`);
    copyFileSync(next.certFile, `${certFile}.tmp`);
    renameSync(`${keyFile}.tmp`, keyFile);
    renameSync(`${certFile}.tmp`, certFile);
    let served = first;
    await until('a new connection is served the new certificate', async () => (served = await servedSerial(proxy.grpcPort, alice)) !== first);
    expect(served).toBe(new (await import('node:crypto')).X509Certificate(readFileSync(next.certFile)).serialNumber);
    expect((await unary(open, 'Lookup', { key: 'after-rotation' })).error).toBeNull();
    open.close();
    const expiry = await proxy.metric('corral_tls_certificate_expiry_seconds{port="grpc"}');
    expect(expiry * 1000).toBeGreaterThan(Date.now());
  });

  it('keeps the certificate in use when the new files do not go together, and counts it', async () => {
    const inUse = await servedSerial(proxy.grpcPort, alice);
    const stray = ca.issue({ cn: 'stray' });
    copyFileSync(stray.keyFile, `${keyFile}.tmp`);
    renameSync(`${keyFile}.tmp`, keyFile);
    await until('the failed reload is counted', async () => (await proxy.metric('corral_tls_certificate_reload_failures_total')) >= 1);
    expect(await servedSerial(proxy.grpcPort, alice)).toBe(inUse);
  });
});

describe('rotation as Kubernetes does it: a secret volume whose ..data link is swapped', () => {
  it('serves the new certificate once the link moves to the new files', async () => {
    // The kubelet's layout: tls.crt -> ..data/tls.crt, ..data -> ..<timestamp>/, swapped by renaming a new link over it.
    const volume = mkdtempSync(join(tmpdir(), 'corral-secret-'));
    const version = (name: string, issued: Issued) => {
      mkdirSync(join(volume, name));
      copyFileSync(issued.certFile, join(volume, name, 'tls.crt'));
      copyFileSync(issued.keyFile, join(volume, name, 'tls.key'));
    };
    version('..v1', server);
    symlinkSync('..v1', join(volume, '..data'));
    symlinkSync('..data/tls.crt', join(volume, 'tls.crt'));
    symlinkSync('..data/tls.key', join(volume, 'tls.key'));
    const backend = await startBackend();
    const proxy = await startProxy({ BACKEND_ADDRESS: backend.address, TLS_CERT_FILE: join(volume, 'tls.crt'), TLS_KEY_FILE: join(volume, 'tls.key'), TLS_CLIENT_CA_FILE: ca.certFile });
    try {
      const first = await servedSerial(proxy.grpcPort, alice);
      const next = ca.issue({ cn: 'corral', name: 'corral-k8s-next', uris: ['spiffe://test.example/ns/default/sa/corral'] });
      version('..v2', next);
      symlinkSync('..v2', join(volume, '..data_tmp'));
      renameSync(join(volume, '..data_tmp'), join(volume, '..data'));
      let served = first;
      await until('a new connection is served the new certificate', async () => (served = await servedSerial(proxy.grpcPort, alice)) !== first);
      expect(served).toBe(new (await import('node:crypto')).X509Certificate(readFileSync(next.certFile)).serialNumber);
    } finally {
      await proxy.stop();
      await backend.stop();
    }
  });
});

describe('TLS settings at start', () => {
  it('refuses an expired certificate, and a key that is not the certificate\'s, naming the file', async () => {
    const expired = ca.issue({ cn: 'expired', startDate: '20200101000000Z', endDate: '20200102000000Z' });
    await expect(startProxy({ BACKEND_ADDRESS: '127.0.0.1:1', TLS_CERT_FILE: expired.certFile, TLS_KEY_FILE: expired.keyFile })).rejects.toThrow(
      /exited with 2[\s\S]*TLS_CERT_FILE=.*expired\.crt: the certificate expired on/,
    );
    await expect(startProxy({ BACKEND_ADDRESS: '127.0.0.1:1', TLS_CERT_FILE: server.certFile, TLS_KEY_FILE: alice.keyFile })).rejects.toThrow(
      /exited with 2[\s\S]*TLS_KEY_FILE=.*alice\.key is not the key of TLS_CERT_FILE=/,
    );
  });
});

describe('TLS to the backend', () => {
  const backendCa = new TestCa('backend');
  const backendCert = backendCa.issue({ cn: 'backend' });
  let backend: Backend;
  beforeAll(async () => {
    backend = await startBackend({ tls: backendCert });
  });
  afterAll(async () => {
    await backend?.stop();
  });

  it('asks a TLS backend over server reflection, and collapses what it declares a read', async () => {
    const proxy = await startProxy({ BACKEND_ADDRESS: backend.address, BACKEND_TLS_CA_FILE: backendCa.certFile });
    try {
      await proxy.untilReady();
      expect(proxy.ready.tls).toBe('off'); // TLS to the backend only; clients still connect in cleartext
      const c = new ExampleClient(proxy.address, grpc.credentials.createInsecure()) as Client;
      const results = await Promise.all(Array.from({ length: 10 }, () => unary(c, 'Lookup', { key: 'declared-read' })));
      c.close();
      expect(results.map((r) => r.error)).toEqual(Array(10).fill(null));
      expect(new Set(results.map((r) => r.reply.callNumber)).size).toBe(1);
      expect(proxy.lines.join('\n')).toMatch(/learned the backend's methods over server reflection: collapsing the \d+ it declares/);
    } finally {
      await proxy.stop();
    }
  });

  it('verifies the backend against the CA given, and says so when it does not verify', async () => {
    const good = await startProxy({ BACKEND_ADDRESS: backend.address, BACKEND_TLS_CA_FILE: backendCa.certFile });
    const wrong = await startProxy({ BACKEND_ADDRESS: backend.address, BACKEND_TLS_CA_FILE: ca.certFile });
    try {
      const c1 = new ExampleClient(good.address, grpc.credentials.createInsecure()) as Client;
      const ok = await unary(c1, 'Lookup', { key: 'over-tls' });
      c1.close();
      expect(ok.error).toBeNull();
      expect(ok.reply.key).toBe('over-tls');
      const c2 = new ExampleClient(wrong.address, grpc.credentials.createInsecure()) as Client;
      const refused = await unary(c2, 'Lookup', { key: 'over-tls' });
      c2.close();
      expect(refused.error?.code).toBe(grpc.status.UNAVAILABLE);
      expect(refused.error?.details).toMatch(/TLS: the backend's certificate did not verify/);
    } finally {
      await good.stop();
      await wrong.stop();
    }
  });
});

describe('TLS and mTLS on the HTTP/JSON port', () => {
  let orders: OrdersBackend;
  let proxy: Proxy;
  let port: number;
  const protos = fileURLToPath(new URL('../http/protos', import.meta.url));

  beforeAll(async () => {
    orders = await startOrdersBackend();
    const config = join(mkdtempSync(join(tmpdir(), 'corral-tls-gateway-')), 'corral.yaml');
    writeFileSync(
      config,
      `clusters:\n  orders: { type: static, address: "${orders.address}" }\nhttp:\n  proto_files: [${protos}/shop/v1/orders.proto]\n  proto_paths: [${protos}]\n  routes:\n    - { name: get-order, path: "/api/v1/orders/{id}", method: GET, service: orders, grpc_service: shop.v1.OrderService, grpc_method: GetOrder }\n`,
    );
    port = await freePort();
    proxy = await startProxy({ CONFIG_PATH: config, HTTP_PORT: String(port), TLS_CERT_FILE: server.certFile, TLS_KEY_FILE: server.keyFile, TLS_CLIENT_CA_FILE: ca.certFile });
  });
  afterAll(async () => {
    await proxy?.stop();
    await orders?.close();
  });

  const tlsOptions = (who: Issued | null) => ({
    ca: readFileSync(ca.certFile),
    servername: 'localhost',
    ...(who === null ? {} : { cert: readFileSync(who.certFile), key: readFileSync(who.keyFile) }),
  });

  it('answers HTTP/1.1 over TLS with the client certificate forwarded, and refuses a client without one', async () => {
    const get = (who: Issued | null) =>
      new Promise<{ status: number; seen: string | undefined }>((resolve, reject) => {
        const req = https.get({ host: '127.0.0.1', port, path: '/api/v1/orders/o-1', headers: { 'x-forwarded-client-cert': 'URI=spiffe://forged' }, ...tlsOptions(who) }, (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode!, seen: res.headers['grpc-metadata-seen-x-forwarded-client-cert'] as string | undefined }));
        });
        req.on('error', reject);
      });
    const ok = await get(alice);
    expect(ok.status).toBe(200);
    expect(ok.seen).toMatch(/URI=spiffe:\/\/test\.example\/ns\/default\/sa\/alice$/);
    await expect(get(null)).rejects.toThrow();
  });

  it('answers HTTP/2 chosen by ALPN', async () => {
    const session = http2.connect(`https://127.0.0.1:${port}`, tlsOptions(bob));
    try {
      const { status, seen } = await new Promise<{ status: number; seen: unknown }>((resolve, reject) => {
        const req = session.request({ ':path': '/api/v1/orders/o-2' });
        req.on('response', (headers) => resolve({ status: headers[':status']!, seen: headers['grpc-metadata-seen-x-forwarded-client-cert'] }));
        req.on('error', reject);
        req.resume();
        req.end();
      });
      expect(session.alpnProtocol).toBe('h2');
      expect(status).toBe(200);
      expect(seen).toMatch(/sa\/bob$/);
    } finally {
      session.close();
    }
  });
});

describe('mTLS to the backend, per cluster', () => {
  const backendCa = new TestCa('backend-mtls');
  const backendCert = backendCa.issue({ cn: 'backend' });
  const corralClient = backendCa.issue({ cn: 'corral-client', uris: ['spiffe://test.example/sa/corral'] });
  let backend: Backend;
  beforeAll(async () => {
    backend = await startBackend({ tls: { ...backendCert, clientCaFile: backendCa.certFile } });
  });
  afterAll(async () => {
    await backend?.stop();
  });

  it('presents the cluster\'s client certificate to a backend that requires one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'corral-mtls-'));
    const config = (withCert: boolean) => {
      const file = join(dir, `${withCert ? 'with' : 'without'}.yaml`);
      const cert = withCert ? `, cert_file: "${corralClient.certFile}", key_file: "${corralClient.keyFile}"` : '';
      writeFileSync(file, `default: { action: use_cluster, use_cluster: main }\nclusters:\n  main: { type: static, address: "${backend.address}", tls: { ca_file: "${backendCa.certFile}", server_name: localhost${cert} } }\n`);
      return file;
    };
    const good = await startProxy({ CONFIG_PATH: config(true) });
    const without = await startProxy({ CONFIG_PATH: config(false) });
    try {
      const c1 = new ExampleClient(good.address, grpc.credentials.createInsecure()) as Client;
      const ok = await unary(c1, 'Lookup', { key: 'mtls' });
      c1.close();
      expect(ok.error).toBeNull();
      // The admin port says what the cluster's TLS is, never the bytes of its files.
      const dump = (await good.admin('/config_dump')).body;
      expect(JSON.parse(dump).topology.clusterTls).toEqual({ main: { ca: 'ca_file', clientCertificate: true, serverName: 'localhost' } });
      expect(dump).not.toMatch(/PRIVATE KEY|"type":"Buffer"/);
      const c2 = new ExampleClient(without.address, grpc.credentials.createInsecure()) as Client;
      const refused = await unary(c2, 'Lookup', { key: 'mtls' });
      c2.close();
      expect(refused.error?.code).toBe(grpc.status.UNAVAILABLE);
    } finally {
      await good.stop();
      await without.stop();
    }
  });
});

describe('connections that never finish setting up', () => {
  it('closes a silent connection after HANDSHAKE_TIMEOUT, in cleartext and over TLS, and serves others meanwhile', async () => {
    const backend = await startBackend();
    const plain = await startProxy({ BACKEND_ADDRESS: backend.address, HANDSHAKE_TIMEOUT: '300ms' });
    const secure = await startProxy({ BACKEND_ADDRESS: backend.address, HANDSHAKE_TIMEOUT: '300ms', TLS_CERT_FILE: server.certFile, TLS_KEY_FILE: server.keyFile });
    try {
      // A TCP connection that sends nothing: no HTTP/2 preface, no TLS ClientHello.
      const closedAfter = (port: number) =>
        new Promise<number>((resolve, reject) => {
          const started = Date.now();
          const socket = net.connect(port, '127.0.0.1');
          socket.on('error', () => {});
          socket.on('close', () => resolve(Date.now() - started));
          setTimeout(() => reject(new Error(`port ${port}: a silent connection still open after 5 s`)), 5000);
        });
      const [plainMs, secureMs] = await Promise.all([closedAfter(plain.grpcPort), closedAfter(secure.grpcPort)]);
      expect(plainMs).toBeGreaterThanOrEqual(250);
      expect(secureMs).toBeGreaterThanOrEqual(250);
      // A client that sets up in time is not affected, and an idle one stays connected past the timeout.
      const c = new ExampleClient(plain.address, grpc.credentials.createInsecure()) as Client;
      expect((await unary(c, 'Lookup', { key: 'in-time' })).error).toBeNull();
      await new Promise((r) => setTimeout(r, 600));
      expect((await unary(c, 'Lookup', { key: 'after-idle' })).error).toBeNull();
      c.close();
    } finally {
      await plain.stop();
      await secure.stop();
      await backend.stop();
    }
  });
});
