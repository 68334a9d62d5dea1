/**
 * Which calls are collapsed: only what is said to be a read (the backend's declarations,
 * COLLAPSER_METHODS), never what COLLAPSER_SKIP_METHODS names; a route's `invalidates`
 * and read-your-writes make a read after a write fresh.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Metadata } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { proxyExit, startBackend, startProxy, type Backend, type Proxy } from '../../cmd/processes.js';
import { backendStats, client, collect, release, unary, until, type Client } from '../support/grpc.js';

const EXAMPLE = '/corral.example.v1.Example/';
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
  // Ready once the backend answered server reflection: its declared reads are known.
  await proxy.untilReady();
  const c = client(proxy.address);
  try {
    return await run(proxy, c);
  } finally {
    c.close();
    await proxy.stop();
  }
}

describe('COLLAPSER_SKIP_METHODS and COLLAPSER_METHODS', () => {
  it('by default collapses what the backend declares NO_SIDE_EFFECTS, and passes its writes through, IDEMPOTENT ones included', async () => {
    await withProxy(
      {},
      async (_proxy, c) => {
        expect(await herd(c, 'default')).toBe(1);
        // Release is declared IDEMPOTENT: repeating it is safe, merging callers' calls is not.
        const before = (await backendStats(backend.address)).calls.Release ?? 0;
        const writes = await Promise.all(Array.from({ length: 10 }, () => unary(c, 'Release', { gate: 'same-write' })));
        expect(writes.map((w) => w.error?.message ?? 'ok')).toEqual(writes.map(() => 'ok'));
        expect(((await backendStats(backend.address)).calls.Release ?? 0) - before).toBe(10);
      },
    );
  });

  it('COLLAPSER_METHODS adds to what the backend declares', async () => {
    await withProxy(
      { COLLAPSER_METHODS: `${EXAMPLE}Release` },
      async (_proxy, c) => {
        expect(await herd(c, 'listed-and-declared')).toBe(1);
        const before = (await backendStats(backend.address)).calls.Release ?? 0;
        // Listed, ten identical Releases share one call (a flight, then the cache).
        await Promise.all(Array.from({ length: 10 }, () => unary(c, 'Release', { gate: 'listed-release' })));
        expect(((await backendStats(backend.address)).calls.Release ?? 0) - before).toBe(1);
      },
    );
  });

  it.each([['an exact method', `${EXAMPLE}Lookup`], ['a service prefix', EXAMPLE]])(
    'passes a skipped method through, never collapsed nor cached: %s',
    async (_what, skip) => {
      await withProxy({ COLLAPSER_SKIP_METHODS: `/other.Service/, ${skip}`, COLLAPSER_CACHE_DURATION: '10s' }, async (proxy, c) => {
        expect(await herd(c, `skip-${skip}`)).toBe(10);
        expect(await herd(c, `skip-${skip}`)).toBe(10); // nothing was cached either
        expect(await proxy.metric('corral_requests_total{outcome="bypass"}')).toBeGreaterThanOrEqual(20);
        expect(proxy.lines.some((l) => l.includes(`never /other.Service/,${skip} (COLLAPSER_SKIP_METHODS)`))).toBe(true);
      });
    },
  );

  it('collapses only the listed methods when COLLAPSER_METHODS is set', async () => {
    // Without server reflection, whose answer (Lookup is declared a read) would add to the list.
    await withProxy({ COLLAPSER_METHODS: `${EXAMPLE}Watch`, COLLAPSER_REFLECTION: 'off' }, async (proxy, c) => {
      expect(await herd(c, 'only')).toBe(10);
      const before = (await backendStats(backend.address)).calls.Watch ?? 0;
      const streams = Array.from({ length: 5 }, () => collect(c.Watch({ topic: 'only', count: 2, gate: 'only-watch' })));
      await until('five callers share one Watch flight', async () => (await proxy.metric('corral_calls_in_progress{outcome="follower"}')) >= 4);
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

describe('a collapsed server stream lives as long as its callers ask for', () => {
  it('outlives BACKEND_TIMEOUT when the backend declares it a stream, and ends at the backend when its last caller leaves', async () => {
    await withProxy(
      { BACKEND_TIMEOUT: '1s' },
      async (proxy, c) => {
        await proxy.untilReady();
        const watches = async () => (await backendStats(backend.address)).calls.Watch ?? 0;
        // 6 events 300 ms apart: 1.5 s and more, past BACKEND_TIMEOUT, shared by two callers.
        const before = await watches();
        const long = { topic: 'longer-than-backend-timeout', count: 6, intervalMs: 300 };
        const [a, b] = await Promise.all([collect(c.Watch(long)), collect(c.Watch(long))]);
        expect([a.error?.message ?? 'ok', b.error?.message ?? 'ok']).toEqual(['ok', 'ok']);
        expect([a.messages.length, b.messages.length]).toEqual([6, 6]);
        expect((await watches()) - before).toBe(1);

        // An endless one: each caller leaves at its own deadline; the backend call ends when the last has.
        const cancelled = (await backendStats(backend.address)).cancelled;
        const endless = { topic: 'endless', count: 1000, intervalMs: 100 };
        const deadline = (ms: number) => ({ deadline: Date.now() + ms });
        const early = collect(c.Watch(endless, new Metadata(), deadline(1500)));
        const late = collect(c.Watch(endless, new Metadata(), deadline(2500)));
        const first = await early;
        expect(first.error?.code).toBe(4); // DEADLINE_EXCEEDED, its own
        expect((await backendStats(backend.address)).cancelled).toBe(cancelled); // the other caller is still there
        const second = await late;
        expect(second.error?.code).toBe(4);
        expect(second.messages.length).toBeGreaterThan(first.messages.length);
        await until('the backend call is cancelled', async () => (await backendStats(backend.address)).cancelled === cancelled + 1);
      },
    );
  });

  it('a loop of writes cannot empty the cache: past a burst, a service is invalidated at most once per COLLAPSER_INVALIDATION_INTERVAL', async () => {
    await withProxy({ COLLAPSER_SKIP_METHODS: `${EXAMPLE}Release`, COLLAPSER_CACHE_DURATION: '30s', COLLAPSER_INVALIDATION_INTERVAL: '5s' }, async (proxy, c) => {
      const read = async () => (await unary(c, 'Lookup', { key: 'hot' })).reply.callNumber as number;
      const lookups = async () => (await backendStats(backend.address)).calls.Lookup ?? 0;
      await read();
      const before = await lookups();
      // A loop of 40 writes, each followed by a read: the first ten are each read fresh (a
      // client's few writes in a row), the rest are answered from the cache.
      const reads: number[] = [];
      for (let i = 0; i < 40; i++) {
        expect((await unary(c, 'Release', { gate: `w${i}` })).error).toBeNull();
        reads.push(await read());
      }
      expect(new Set(reads.slice(0, 10)).size).toBe(10);
      expect(new Set(reads.slice(10)).size).toBe(1);
      expect((await lookups()) - before).toBe(10);
      expect(await proxy.metric('corral_invalidations_total{how="coalesced"}')).toBe(30);
      // The folded writes invalidate once, when the next interval's token comes: then the read is fresh again.
      await until('the folded writes invalidate', async () => (await proxy.metric('corral_invalidations_total{how="applied"}')) === 11);
      expect(await read()).toBeGreaterThan(reads.at(-1)!);
    });
  }, 30_000);
});
