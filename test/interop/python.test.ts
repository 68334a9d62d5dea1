/**
 * Python grpcio (grpc-core, an implementation nobody here wrote) as client and server,
 * direct and through corral. The rule: every case that passes direct passes through
 * corral, and the client observes the same thing (status, message, metadata in order,
 * payload sizes and digests).
 *
 * A collapsed call can be answered from corral's cache, so the deadline and cancel cases
 * send requests no other call sends (an x-nonce). Identical calls of the four copies share
 * flights, and a waiter that falls COLLAPSER_MAX_RESPONSE_BYTES behind the fastest one is
 * dropped with RESOURCE_EXHAUSTED by design (a slow reader never slows the others). The
 * copies are threads of one Python process sharing its interpreter lock, so one can lag
 * another by megabytes: corral runs here with a 16 MiB bound, above the 5 MiB stream.
 *
 * Where corral differs by design, nothing a client sees changes: a collapsed call's
 * backend runs under BACKEND_TIMEOUT rather than the caller's deadline (the caller still
 * gets DEADLINE_EXCEEDED at its own deadline, deadline_unary), and a collapsed call's
 * backend never sees one caller's cancel (cancel_unary; a passed-through stream's cancel
 * reaches the backend, cancel_after_first_response).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Proxy } from '../../cmd/processes.js';
import { collect, grpc, metadata } from '../support/grpc.js';
import { testClient } from '../support/interop-service.js';
import { runPythonClient, startPythonServer, type CaseResult, type PythonServer } from '../support/python.js';
import { TestCa } from '../support/certificates.js';

let server: PythonServer;
let proxy: Proxy;
let direct: CaseResult[];

beforeAll(async () => {
  const { startProxy } = await import('../../cmd/processes.js');
  server = await startPythonServer();
  proxy = await startProxy({ BACKEND_ADDRESS: server.address, COLLAPSER_MAX_RESPONSE_BYTES: String(16 << 20) });
  direct = await runPythonClient(server.address);
}, 120_000);

afterAll(async () => {
  await proxy?.stop();
  await server?.stop();
});

/** Each result as 'case: ok' or 'case: FAILED <why>', and observations keyed by case. */
function summary(results: CaseResult[]) {
  return results.map((r) => `${r.case}: ${r.ok ? 'ok' : `FAILED ${r.error}`}`);
}

describe('Python grpcio client and server', () => {
  it('passes every case direct (the suite checks what it should)', () => {
    expect(direct.length).toBeGreaterThanOrEqual(20);
    expect(summary(direct)).toEqual(direct.map((r) => `${r.case}: ok`));
  });

  it('passes every case through corral, observing what it observed direct', async () => {
    const through = await runPythonClient(proxy.address);
    expect(summary(through)).toEqual(direct.map((r) => `${r.case}: ok`));
    for (const r of through) expect(r.observed, r.case).toEqual(direct.find((d) => d.case === r.case)!.observed);
  }, 120_000);

  it('passes every case through corral with four copies of the suite at once', async () => {
    const through = await runPythonClient(proxy.address, { copies: 4 });
    expect(through).toHaveLength(direct.length * 4);
    for (const r of through) {
      expect(`${r.copy} ${r.case}: ${r.ok ? 'ok' : `FAILED ${r.error}`}`).toBe(`${r.copy} ${r.case}: ok`);
      expect(r.observed, r.case).toEqual(direct.find((d) => d.case === r.case)!.observed);
    }
  }, 120_000);
});

describe('Python grpcio over TLS on both sides', () => {
  it('passes every case over mTLS to corral and TLS to a grpc-core server, observing what it observed direct', async () => {
    const { startProxy } = await import('../../cmd/processes.js');
    const front = new TestCa('python-front');
    const back = new TestCa('python-back');
    const serverTls = back.issue({ cn: 'python-server' });
    const corralTls = front.issue({ cn: 'corral', uris: ['spiffe://test.example/sa/corral'] });
    const client = front.issue({ cn: 'python-client', uris: ['spiffe://test.example/sa/python'] });
    const tlsServer = await startPythonServer(serverTls);
    const tlsProxy = await startProxy({
      BACKEND_ADDRESS: tlsServer.address,
      BACKEND_TLS_CA_FILE: back.certFile,
      BACKEND_TLS_SERVER_NAME: 'localhost',
      TLS_CERT_FILE: corralTls.certFile,
      TLS_KEY_FILE: corralTls.keyFile,
      TLS_CLIENT_CA_FILE: front.certFile,
      COLLAPSER_MAX_RESPONSE_BYTES: String(16 << 20),
    });
    try {
      const through = await runPythonClient(tlsProxy.address, { tls: { caFile: front.certFile, ...client } });
      expect(summary(through)).toEqual(direct.map((r) => `${r.case}: ok`));
      for (const r of through) expect(r.observed, r.case).toEqual(direct.find((d) => d.case === r.case)!.observed);
      // Without its certificate the same client is refused in the handshake.
      const refused = await runPythonClient(tlsProxy.address, { tls: { caFile: front.certFile }, cases: [direct[0]!.case] });
      expect(refused[0]!.ok).toBe(false);
      expect(refused[0]!.error).toMatch(/UNAVAILABLE/);
    } finally {
      await tlsProxy.stop();
      await tlsServer.stop();
    }
  }, 120_000);
});

describe('blast radius on a shared grpc-core backend session', () => {
  it("one client's unforwardable metadata fails its own call, never another client's stream", async () => {
    const victim = testClient(proxy.address);
    const culprit = testClient(proxy.address);
    try {
      // Ten messages 50 ms apart: a server stream (collapsed into a flight) and a bidi stream (passed through).
      const params = Array.from({ length: 10 }, () => ({ size: 100, interval_us: 50_000 }));
      const serverStream = collect<{ payload: { body: Buffer } }>(victim.StreamingOutputCall({ response_parameters: params }));
      const bidi = victim.FullDuplexCall();
      const bidiDone = collect<{ payload: { body: Buffer } }>(bidi);
      bidi.write({ response_parameters: params });
      await new Promise((r) => setTimeout(r, 100));
      const refusals: string[] = [];
      for (const md of [
        metadata({ 'x-big': 'a'.repeat(9000) }),
        metadata({ 'x-big': 'a'.repeat(20_000) }),
      ]) {
        const err = await new Promise<grpc.ServiceError | null>((resolve) => culprit.EmptyCall({}, md, (e: grpc.ServiceError | null) => resolve(e)));
        refusals.push(`${err?.code} ${err?.details.replace(/\d+ bytes/, 'N bytes')}`);
      }
      bidi.end();
      const [s, b] = await Promise.all([serverStream, bidiDone]);
      expect(s.error).toBeNull();
      expect(s.messages).toHaveLength(10);
      expect(b.error).toBeNull();
      expect(b.messages).toHaveLength(10);
      expect(refusals).toEqual([
        `${grpc.status.RESOURCE_EXHAUSTED} request metadata is N bytes; backend ${server.address} accepts at most 8192 (its SETTINGS_MAX_HEADER_LIST_SIZE)`,
        `${grpc.status.RESOURCE_EXHAUSTED} request metadata is N bytes; backend ${server.address} accepts at most 8192 (its SETTINGS_MAX_HEADER_LIST_SIZE)`,
      ]);
    } finally {
      victim.close();
      culprit.close();
    }
  });

  it('a -bin value that is not base64 is refused by corral and the stream in flight goes on', async () => {
    const { rawCall } = await import('../support/raw.js');
    const { encodeFrame } = await import('../../src/wire/frame.js');
    const victim = testClient(proxy.address);
    try {
      const params = Array.from({ length: 6 }, () => ({ size: 10, interval_us: 50_000 }));
      const stream = collect<unknown>(victim.StreamingOutputCall({ response_parameters: params, payload: { body: Buffer.from('bin') } }));
      await new Promise((r) => setTimeout(r, 60));
      const bad = await rawCall(proxy.address, {
        path: '/grpc.testing.TestService/EmptyCall',
        headers: { 'x-rep-bin': 'AAE, AgME' },
        chunks: [encodeFrame(Buffer.alloc(0))],
      });
      expect(bad.grpcStatus).toBe(grpc.status.INTERNAL);
      const { messages, error } = await stream;
      expect(error).toBeNull();
      expect(messages).toHaveLength(6);
    } finally {
      victim.close();
    }
  });
});

describe('a -bin value that is base64 but not as an encoder writes it, against grpc-core', () => {
  it("fails only its own call: other clients' calls on the shared connections go on, and no endpoint is ejected", async () => {
    const { startProxy } = await import('../../cmd/processes.js');
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { rawCall } = await import('../support/raw.js');
    const { encodeFrame } = await import('../../src/wire/frame.js');
    const second = await startPythonServer();
    const configPath = join(mkdtempSync(join(tmpdir(), 'corral-bin-')), 'corral.yaml');
    writeFileSync(configPath, `clusters:\n  core: { type: static, addresses: ["${server.address}", "${second.address}"] }\ndefault: { action: use_cluster, use_cluster: core }\n`);
    const twoEndpoints = await startProxy({ CONFIG_PATH: configPath, COLLAPSER_CACHE_DURATION: '0' });
    const victims = [testClient(twoEndpoints.address), testClient(twoEndpoints.address)];
    try {
      // 32 calls of other clients in flight on corral's connections to both backends.
      const params = Array.from({ length: 5 }, () => ({ size: 10, interval_us: 40_000 }));
      const inFlight = Array.from({ length: 32 }, (_, i) =>
        collect<unknown>(victims[i % 2]!.StreamingOutputCall({ response_parameters: params, payload: { body: Buffer.from(`victim-${i}`) } })),
      );
      await new Promise((r) => setTimeout(r, 60));
      const culprit: string[] = [];
      for (const value of ['YR==', 'YWJ=', 'YR', 'YWJ']) {
        const r = await rawCall(twoEndpoints.address, { path: '/grpc.testing.TestService/EmptyCall', headers: { 'x-a-bin': value }, chunks: [encodeFrame(Buffer.alloc(0))] });
        culprit.push(`${r.grpcStatus} ${decodeURIComponent(r.grpcMessage ?? '').split(' (')[0]}`);
      }
      expect(culprit).toEqual(['YR==', 'YWJ=', 'YR', 'YWJ'].map((v) => `13 malformed binary metadata 'x-a-bin': '${v}' is not base64 as an encoder writes it`));
      const results = await Promise.all(inFlight);
      expect(results.map((r) => `${r.error?.code ?? 'OK'} ${r.messages.length}`)).toEqual(Array.from({ length: 32 }, () => 'OK 5'));
      // The same bytes written as an encoder writes them ('YQ==' is 'a') pass, and reach grpc-core.
      const fine = await rawCall(twoEndpoints.address, { path: '/grpc.testing.TestService/EmptyCall', headers: { 'x-echo-a-bin': 'YQ==' }, chunks: [encodeFrame(Buffer.alloc(0))] });
      expect(fine.grpcStatus).toBe(0);
      expect(fine.headers['x-echo-a-bin']).toBe('YQ');
      expect(await twoEndpoints.metric('corral_endpoint_ejections_total')).toBe(0);
    } finally {
      for (const v of victims) v.close();
      await twoEndpoints.stop();
      await second.stop();
    }
  }, 60_000);
});
