/**
 * Authentication per route, through real processes and real JWTs, in MyGateway's
 * scenarios: an example backend for Login (no auth) and three discovered instances
 * behind routes that require a session token.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { proxyExit, startBackend, startProxy, type Backend, type Proxy } from '../../cmd/processes.js';
import { backendStats, client, myServiceClient, grpc, metadata, release, unary, until, type Client } from '../support/grpc.js';
import { startHttpSource, type HttpSource } from '../support/http-source.js';
import { JWT_SECRET, token, unsignedToken } from '../support/tokens.js';

const dir = mkdtempSync(join(tmpdir(), 'corral-auth-'));
let auth: Backend;
let instances: Backend[];
let source: HttpSource;
let proxy: Proxy;
let myService: Client;
let example: Client;

const answeredBy = (r: { headers: grpc.Metadata | null }) => String(r.headers?.get('x-backend')[0]);
const session = (id: string, sub = `user-of-${id}`) => metadata({ 'session-id': id, authorization: `Bearer ${token({ session_id: id, sub })}` });

/** Lookup calls that reached any of the discovered instances. */
async function discoveredCalls(): Promise<number> {
  let n = 0;
  for (const b of instances) n += (await backendStats(b.address)).calls.Lookup ?? 0;
  return n;
}

beforeAll(async () => {
  auth = await startBackend({ name: 'auth' });
  instances = await Promise.all(['a', 'b', 'c'].map((name) => startBackend({ name })));
  source = await startHttpSource();
  source.instances = instances.map((b, i) => ({ instance_id: 'abc'[i]!, ipv4: '127.0.0.1', port: b.port }));
  const configPath = join(dir, 'gateway.yaml');
  writeFileSync(
    configPath,
    `
default: { action: error }
routes:
  - prefix: /my_service.MyServiceAPI/Login
    cluster: myauth
    authorization: none
  - prefix: /my_service.MyServiceAPI/MyService
    cluster: my_service
    authorization: required
    balancer: { type: sticky_sessions, header: session-id }
  - prefix: /corral.example.v1.Example/Lookup
    cluster: my_service
    authorization: required
    key_metadata: []
clusters:
  myauth: { type: static, address: "${auth.address}" }
  my_service: { type: dynamic, discoverer_url: "${source.url}", discoverer_interval_ms: 100 }
`,
  );
  proxy = await startProxy({ CONFIG_PATH: configPath, JWT_SECRET });
  myService = myServiceClient(proxy.address);
  example = client(proxy.address);
  await until('the discoverer was read', async () => (await proxy.metric('corral_endpoint_pools')) === 4);
});

afterAll(async () => {
  myService?.close();
  example?.close();
  await proxy?.stop();
  await source?.close();
  await Promise.all([auth, ...(instances ?? [])].map((b) => b?.stop()));
});

describe('a route without authorization', () => {
  it('passes Login through with no token, and strips identity metadata the client made up', async () => {
    const r = await unary(myService, 'Login', { key: 'alice' }, metadata({ 'x-user-id': 'admin', 'x-user-email': 'root@example.com' }));
    expect(r.error).toBeNull();
    expect(answeredBy(r)).toBe('auth');
    expect(r.reply.metadata['x-user-id']).toBeUndefined();
    expect(r.reply.metadata['x-user-email']).toBeUndefined();
  });
});

describe('a route with authorization: required', () => {
  it('answers MyGateway\'s errors word for word, and no refused call reaches a backend', async () => {
    const before = await discoveredCalls();
    const refused = async (md: grpc.Metadata) => {
      const r = await unary(myService, 'MyServiceEcho', { key: 'guarded' }, md);
      expect(r.error?.code).toBe(grpc.status.UNAUTHENTICATED);
      return r.error?.details;
    };
    const hour = Math.floor(Date.now() / 1000) + 3600;
    expect(await refused(metadata())).toBe('missing session-id');
    expect(await refused(metadata({ authorization: `Bearer ${token({ session_id: 's1' })}` }))).toBe('missing session-id');
    expect(await refused(metadata({ 'session-id': 's1' }))).toBe('missing or invalid token');
    expect(await refused(metadata({ 'session-id': 's1', authorization: 'Bearer not-a-jwt' }))).toBe('missing or invalid token');
    // signed with another secret
    expect(await refused(metadata({ 'session-id': 's1', authorization: `Bearer ${token({ session_id: 's1' }, 'some-other-secret')}` }))).toBe('missing or invalid token');
    // expired an hour ago
    expect(await refused(metadata({ 'session-id': 's1', authorization: `Bearer ${token({ session_id: 's1', exp: hour - 7200 })}` }))).toBe('missing or invalid token');
    // issued for another session
    expect(await refused(metadata({ 'session-id': 's1', authorization: `Bearer ${token({ session_id: 's2' })}` }))).toBe('missing or invalid token');
    // no session_id claim at all, or unsigned (alg: none)
    expect(await refused(metadata({ 'session-id': 's1', authorization: `Bearer ${token({ sub: 'u' })}` }))).toBe('missing or invalid token');
    expect(await refused(metadata({ 'session-id': 's1', authorization: `Bearer ${unsignedToken({ session_id: 's1' })}` }))).toBe('missing or invalid token');
    expect(await discoveredCalls()).toBe(before);
    expect(await proxy.metric('corral_auth_failures_total{reason="missing_session"}')).toBeGreaterThanOrEqual(2);
    expect(await proxy.metric('corral_auth_failures_total{reason="invalid_token"}')).toBeGreaterThanOrEqual(7);
  });

  it('lets a valid token through, with or without "Bearer", and forwards the verified identity in place of the client\'s', async () => {
    const withBearer = await unary(myService, 'MyServiceEcho', { key: 'hello' }, session('s-ok', 'alice'));
    expect(withBearer.error).toBeNull();
    expect(withBearer.reply.metadata['x-user-id']).toBe('alice');
    const bare = metadata({ 'session-id': 's-ok', authorization: token({ session_id: 's-ok', sub: 'alice', email: 'alice@example.com' }), 'x-user-id': 'admin' });
    const r = await unary(myService, 'MyServiceEcho', { key: 'hello-again' }, bare);
    expect(r.error).toBeNull();
    expect(r.reply.metadata['x-user-id']).toBe('alice');
    expect(r.reply.metadata['x-user-email']).toBe('alice@example.com');
    expect(r.reply.metadata['session-id']).toBe('s-ok');
  });

  it('tells the backend exactly who the token names, whatever its characters: percent-encoded UTF-8, never the low byte of each', async () => {
    const as = (claims: Record<string, unknown>) =>
      unary(myService, 'MyServiceEcho', { key: `who-${Math.random()}` }, metadata({ 'session-id': 's-who', authorization: token({ session_id: 's-who', ...claims }) }));
    // Before, node:http2 wrote these as latin1: 'šdmin' reached the backend as 'admin', the email as x@corp.example.
    const s = await as({ sub: 'šdmin', email: 'xŀcorp.example' });
    expect(s.error).toBeNull();
    expect(s.reply.metadata['x-user-id']).toBe('%C5%A1dmin');
    expect(decodeURIComponent(s.reply.metadata['x-user-id'])).toBe('šdmin');
    expect(s.reply.metadata['x-user-email']).toBe('x%C5%80corp.example');
    const armenian = await as({ sub: 'ադխթծ' });
    expect(decodeURIComponent(armenian.reply.metadata['x-user-id'])).toBe('ադխթծ');
    // '%' itself is encoded, so no two subjects reach the backend as one.
    expect((await as({ sub: '%C5%A1dmin' })).reply.metadata['x-user-id']).toBe('%25C5%25A1dmin');
    expect((await as({ sub: 'plain-ascii.user_1' })).reply.metadata['x-user-id']).toBe('plain-ascii.user_1');
    // A subject that is not text is refused, not forwarded as no identity.
    const numeric = await as({ sub: 12345 });
    expect(numeric.error?.code).toBe(grpc.status.UNAUTHENTICATED);
  });

  it('keeps a sticky session on one instance', async () => {
    const placed = new Set<string>();
    for (let i = 0; i < 6; i++) placed.add(answeredBy(await unary(myService, 'MyServiceEcho', { key: `sticky-${i}` }, session('s-sticky'))));
    expect(placed.size).toBe(1);
    const spread = new Set<string>();
    for (let i = 0; i < 12; i++) spread.add(answeredBy(await unary(myService, 'MyServiceEcho', { key: 'x' }, session(`s-${i}`))));
    expect(spread.size).toBeGreaterThan(1);
  });
});

describe('authentication and collapsing', () => {
  it('an unauthenticated call never joins a flight, and callers of different identity never share one', async () => {
    const before = await discoveredCalls();
    const request = { key: 'shared-question', gate: 'auth-herd' };
    const alice = unary(example, 'Lookup', request, session('alice-1', 'alice'));
    await until('alice leads a flight', async () => (await discoveredCalls()) === before + 1);
    // The same request with no valid token is refused at once, while the flight waits.
    const forged = await unary(example, 'Lookup', request, metadata({ 'session-id': 'alice-1', authorization: 'Bearer forged' }));
    expect(forged.error?.details).toBe('missing or invalid token');
    // Another user asking the same question, on a route whose key_metadata is empty: its own flight.
    const bob = unary(example, 'Lookup', request, session('bob-1', 'bob'));
    await until('bob leads his own flight', async () => (await discoveredCalls()) === before + 2);
    // Alice again, same session and token: a follower of her flight.
    const aliceToken = token({ session_id: 'alice-2', sub: 'alice' });
    const aliceAgain = [0, 1].map(() => unary(example, 'Lookup', request, metadata({ 'session-id': 'alice-2', authorization: aliceToken })));
    await until('alice\'s second session leads one flight and follows it', async () =>
      (await discoveredCalls()) === before + 3 && (await proxy.metric('corral_calls_in_progress{outcome="follower"}')) === 1,
    );
    for (const b of instances) await release(b.address, 'auth-herd');
    const results = await Promise.all([alice, bob, ...aliceAgain]);
    for (const r of results) expect(r.error).toBeNull();
    expect(results.map((r) => r.reply.metadata['x-user-id'])).toEqual(['alice', 'bob', 'alice', 'alice']);
    expect(await discoveredCalls()).toBe(before + 3);
  });
});

describe('start-up', () => {
  it('fails clearly when a route requires authorization and JWT_SECRET is missing', async () => {
    const configPath = join(dir, 'no-secret.yaml');
    writeFileSync(
      configPath,
      `routes: [{ prefix: /my_service.MyServiceAPI/MyService, cluster: s, authorization: required }]\nclusters: { s: { type: static, address: "127.0.0.1:1" } }\n`,
    );
    const { code, stderr } = await proxyExit({ CONFIG_PATH: configPath });
    expect(code).toBe(2);
    expect(stderr).toMatch(/JWT_SECRET is required: route \/my_service\.MyServiceAPI\/MyService has authorization: required/);
  });
});
