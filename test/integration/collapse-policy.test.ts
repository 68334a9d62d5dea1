/**
 * Which calls are collapsed: COLLAPSER_SKIP_METHODS and COLLAPSER_METHODS exempt writes,
 * a route's `invalidates` makes a read after a write fresh, and start-up warns when
 * everything is collapsed.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { proxyExit, startBackend, startProxy, type Backend, type Proxy } from '../../cmd/processes.js';
import { backendStats, client, collect, release, unary, until, type Client } from '../support/grpc.js';

const EXAMPLE = '/corral.example.v1.Example/';
const WARNING = 'every unary and server-streaming call is collapsed and cached';
let backend: Backend;

beforeAll(async () => {
  backend = await startBackend();
});
afterAll(() => backend?.stop());

/** Ten identical concurrent Lookups (100 ms on the backend): how many reached it. */
async function herd(c: Client, key: string): Promise<number> {
  const before = (await backendStats(backend.address)).calls.Lookup ?? 0;
  const results = await Promise.all(Array.from({ length: 10 }, () => unary(c, 'Lookup', { key, delayMs: 100 })));
  expect(results.map((r) => r.error?.message ?? 'ok')).toEqual(results.map(() => 'ok'));
  return ((await backendStats(backend.address)).calls.Lookup ?? 0) - before;
}

async function withProxy<T>(env: Record<string, string>, run: (proxy: Proxy, c: Client) => Promise<T>): Promise<T> {
  const proxy = await startProxy({ BACKEND_ADDRESS: backend.address, ...env });
  const c = client(proxy.address);
  try {
    return await run(proxy, c);
  } finally {
    c.close();
    await proxy.stop();
  }
}

describe('COLLAPSER_SKIP_METHODS and COLLAPSER_METHODS', () => {
  it('collapses everything by default, and warns at start-up naming COLLAPSER_SKIP_METHODS', async () => {
    await withProxy({}, async (proxy, c) => {
      expect(await herd(c, 'default')).toBe(1);
      expect(proxy.lines.some((l) => l.includes(WARNING) && l.includes('COLLAPSER_SKIP_METHODS'))).toBe(true);
    });
  });

  it.each([['an exact method', `${EXAMPLE}Lookup`], ['a service prefix', EXAMPLE]])(
    'passes a skipped method through, never collapsed nor cached: %s',
    async (_what, skip) => {
      await withProxy({ COLLAPSER_SKIP_METHODS: `/other.Service/, ${skip}`, COLLAPSER_CACHE_DURATION: '10s' }, async (proxy, c) => {
        expect(await herd(c, `skip-${skip}`)).toBe(10);
        expect(await herd(c, `skip-${skip}`)).toBe(10); // nothing was cached either
        expect(await proxy.metric('corral_requests_total{outcome="bypass"}')).toBeGreaterThanOrEqual(20);
        expect(proxy.lines.some((l) => l.includes(WARNING))).toBe(false);
      });
    },
  );

  it('collapses only the listed methods when COLLAPSER_METHODS is set', async () => {
    await withProxy({ COLLAPSER_METHODS: `${EXAMPLE}Watch` }, async (proxy, c) => {
      expect(await herd(c, 'only')).toBe(10);
      const before = (await backendStats(backend.address)).calls.Watch ?? 0;
      const streams = Array.from({ length: 5 }, () => collect(c.Watch({ topic: 'only', count: 2, gate: 'only-watch' })));
      await until('five callers share one Watch flight', async () => (await proxy.metric('corral_requests_total{outcome="follower"}')) >= 4);
      await release(backend.address, 'only-watch');
      const results = await Promise.all(streams);
      expect(results.map((r) => `${r.error?.message ?? 'ok'} ${r.messages.length}`)).toEqual(results.map(() => 'ok 2'));
      expect(((await backendStats(backend.address)).calls.Watch ?? 0) - before).toBe(1);
    });
  });

  it('refuses a list entry that is not a method or a service prefix', async () => {
    const { code, stderr } = await proxyExit({ BACKEND_ADDRESS: backend.address, COLLAPSER_SKIP_METHODS: 'Lookup,/a.B/C' });
    expect(code).toBe(2);
    expect(stderr).toContain("COLLAPSER_SKIP_METHODS='Lookup,/a.B/C'");
    expect(stderr).toContain("'Lookup': expected full method names (/pkg.Service/Method) or service prefixes ending in / (/pkg.Service/)");
  });
});

/** A routes file: everything to the backend, plus one write route (`match`) that invalidates Lookup. */
function writeRoute(match: string): string {
  const configPath = join(mkdtempSync(join(tmpdir(), 'corral-invalidates-')), 'corral.yaml');
  writeFileSync(
    configPath,
    `default: { action: use_cluster, use_cluster: backend }
routes:
  - ${match}
    cluster: backend
    collapse: false
    invalidates: [${EXAMPLE}Lookup]
clusters:
  backend: { type: static, address: ${backend.address} }
`,
  );
  return configPath;
}

describe('invalidates', () => {
  it('drops cached reads when a write on the route ends OK, so the next read is fresh', async () => {
    const configPath = writeRoute(`prefix: ${EXAMPLE}Release`);
    await withProxy({ CONFIG_PATH: configPath, COLLAPSER_CACHE_DURATION: '30s' }, async (proxy, c) => {
      const first = await unary(c, 'Lookup', { key: 'fresh-after-write' });
      const cached = await unary(c, 'Lookup', { key: 'fresh-after-write' });
      expect(cached.reply.callNumber).toBe(first.reply.callNumber);
      const write = await unary(c, 'Release', { gate: 'a-write' });
      expect(write.error).toBeNull();
      const fresh = await unary(c, 'Lookup', { key: 'fresh-after-write' });
      expect(fresh.reply.callNumber).toBeGreaterThan(first.reply.callNumber);
      expect(await proxy.metric('corral_cache_entries')).toBe(1); // the fresh answer
    });
  });

  it('a write that fails invalidates nothing', async () => {
    const configPath = writeRoute(`prefix: ${EXAMPLE}Lookup\n    metadata: [{ name: x-write, present: true }]`);
    await withProxy({ CONFIG_PATH: configPath, COLLAPSER_CACHE_DURATION: '30s' }, async (_proxy, c) => {
      const { metadata } = await import('../support/grpc.js');
      const first = await unary(c, 'Lookup', { key: 'kept' });
      const failed = await unary(c, 'Lookup', { key: 'w', failCode: 9, failMessage: 'no' }, metadata({ 'x-write': '1' }));
      expect(failed.error?.code).toBe(9);
      expect((await unary(c, 'Lookup', { key: 'kept' })).reply.callNumber).toBe(first.reply.callNumber);
      const ok = await unary(c, 'Lookup', { key: 'w' }, metadata({ 'x-write': '1' }));
      expect(ok.error).toBeNull();
      expect((await unary(c, 'Lookup', { key: 'kept' })).reply.callNumber).toBeGreaterThan(first.reply.callNumber);
    });
  });
});

describe('read-your-writes (COLLAPSER_READ_YOUR_WRITES)', () => {
  const readWriteRead = (env: Record<string, string>) =>
    withProxy({ COLLAPSER_SKIP_METHODS: `${EXAMPLE}Release`, COLLAPSER_CACHE_DURATION: '30s', ...env }, async (_proxy, c) => {
      const first = await unary(c, 'Lookup', { key: 'read-your-writes' });
      expect((await unary(c, 'Lookup', { key: 'read-your-writes' })).reply.callNumber).toBe(first.reply.callNumber);
      const write = await unary(c, 'Release', { gate: 'a-write' }); // passed through: not collapsed
      expect(write.error).toBeNull();
      const after = await unary(c, 'Lookup', { key: 'read-your-writes' });
      return { first: first.reply.callNumber as number, after: after.reply.callNumber as number };
    });

  it('by default, a call that is not collapsed and ends OK drops the cached answers of its service', async () => {
    const { first, after } = await readWriteRead({});
    expect(after).toBeGreaterThan(first);
  });

  it('off: a read after a write may be served from the cache, within the TTL', async () => {
    const { first, after } = await readWriteRead({ COLLAPSER_READ_YOUR_WRITES: 'off' });
    expect(after).toBe(first);
  });
});
