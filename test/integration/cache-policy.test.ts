/**
 * The cache policy with real processes: stale-while-revalidate (callers get the old
 * answer at once, one call refreshes it), stale-if-error (the backend down: callers get
 * the last good answer), negative caching (NOT_FOUND cached with its message).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBackend, startProxy, type Backend, type Proxy } from '../../cmd/processes.js';
import { backendStats, client, unary, until, type Client } from '../support/grpc.js';

let backend: Backend;
beforeAll(async () => {
  backend = await startBackend();
});
afterAll(() => backend?.stop());

const lookups = async () => (await backendStats(backend.address)).calls.Lookup ?? 0;
const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function withProxy(env: Record<string, string>, run: (c: Client, proxy: Proxy) => Promise<void>): Promise<void> {
  const proxy = await startProxy({ BACKEND_ADDRESS: backend.address, RESPONSE_OUTCOME_HEADER: 'x-corral-outcome', ...env });
  await proxy.untilReady(); // the backend's declared reads are known
  const c = client(proxy.address);
  try {
    await run(c, proxy);
  } finally {
    c.close();
    await proxy.stop();
  }
}

describe('cache policy', () => {
  it('COLLAPSER_CACHE_MIN_USES=2: a key asked for once is not cached; asked again, it is', async () => {
    await withProxy({ COLLAPSER_CACHE_DURATION: '30s', COLLAPSER_CACHE_MIN_USES: '2' }, async (c) => {
      const before = await lookups();
      const outcomes: string[] = [];
      for (let i = 0; i < 3; i++) outcomes.push(String((await unary(c, 'Lookup', { key: 'min-uses' })).headers?.get('x-corral-outcome')[0]));
      expect(outcomes).toEqual(['leader', 'leader', 'cache_hit']);
      expect((await lookups()) - before).toBe(2);
    });
  });

  it('stale-while-revalidate: past the TTL, 20 callers get the old answer at once and one call refreshes it', async () => {
    await withProxy({ COLLAPSER_CACHE_DURATION: '200ms', COLLAPSER_STALE_WHILE_REVALIDATE: '30s' }, async (c) => {
      // Each backend call takes 1 s; the callers past the TTL get the old answer, not the refresh's.
      const slow = { key: 'swr', delayMs: 1000 };
      const first = await unary(c, 'Lookup', slow);
      await wait(300); // past the TTL, inside the window
      const before = await lookups();
      const herd = await Promise.all(Array.from({ length: 20 }, () => unary(c, 'Lookup', slow)));
      expect(herd.map((r) => `${r.headers?.get('x-corral-outcome')[0]} ${r.reply.callNumber}`)).toEqual(herd.map(() => `stale ${first.reply.callNumber}`));
      expect((await lookups()) - before).toBe(1);
      // Once the refresh landed, the fresh answer is served.
      let fresh = await unary(c, 'Lookup', slow);
      for (let i = 0; i < 250 && fresh.reply.callNumber === first.reply.callNumber; i++) {
        await wait(20);
        fresh = await unary(c, 'Lookup', slow);
      }
      expect(fresh.reply.callNumber).toBeGreaterThan(first.reply.callNumber);
      expect(fresh.headers?.get('x-corral-outcome')).toEqual(['cache_hit']);
    });
  });

  it('stale-if-error: with the backend down, 10 callers get the last good answer', async () => {
    const own = await startBackend();
    const proxy = await startProxy({ BACKEND_ADDRESS: own.address, RESPONSE_OUTCOME_HEADER: 'x-corral-outcome', COLLAPSER_CACHE_DURATION: '200ms', COLLAPSER_STALE_IF_ERROR: '30s' });
    await proxy.untilReady();
    const c = client(proxy.address);
    try {
      const good = await unary(c, 'Lookup', { key: 'sie' });
      expect(good.error).toBeNull();
      await own.stop(); // the outage
      await wait(300);
      const herd = await Promise.all(Array.from({ length: 10 }, () => unary(c, 'Lookup', { key: 'sie' })));
      expect(herd.map((r) => `${r.error?.message ?? 'ok'} ${r.headers?.get('x-corral-outcome')[0]} ${r.reply?.callNumber}`)).toEqual(
        herd.map(() => `ok stale_if_error ${good.reply.callNumber}`),
      );
      // A key with no good answer gets the failure: nothing is made up.
      const never = await unary(c, 'Lookup', { key: 'never-answered' });
      expect(never.error?.code).toBe(14);
    } finally {
      c.close();
      await proxy.stop();
    }
  });

  it('stale-if-error keeps corral ready (degraded) while kept answers can stand in for the dead backend, and no longer', async () => {
    const own = await startBackend();
    const proxy = await startProxy({ BACKEND_ADDRESS: own.address, COLLAPSER_CACHE_DURATION: '200ms', COLLAPSER_STALE_IF_ERROR: '3s' });
    await proxy.untilReady();
    const c = client(proxy.address);
    try {
      expect((await unary(c, 'Lookup', { key: 'ready-sie' })).error).toBeNull();
      const answered = performance.now();
      await own.stop();
      await until('corral notices the backend is gone', async () => /not connected/.test((await proxy.admin('/ready')).body));
      const degraded = await proxy.admin('/ready');
      expect(degraded.status).toBe(200);
      expect(degraded.body).toMatch(/^ready, degraded: cluster backend not connected: .*answers kept for errors \(stale-if-error\) stand in for up to [1-4]s more/);
      expect([await proxy.metric('corral_ready'), await proxy.metric('corral_degraded')]).toEqual([1, 1]);
      expect(proxy.lines.some((l) => l.includes('"backend down: staying ready while answers kept for errors (stale-if-error) stand in for it"'))).toBe(true);
      expect((await unary(c, 'Lookup', { key: 'ready-sie' })).error).toBeNull();

      // The window is over (200 ms fresh + 3 s): nothing kept can answer, so corral is not ready.
      await until('the window is over', async () => (await proxy.admin('/ready')).status === 503);
      expect(performance.now() - answered).toBeGreaterThan(3000);
      expect((await proxy.admin('/ready')).body).toMatch(/^cluster backend not connected/);
      expect([await proxy.metric('corral_ready'), await proxy.metric('corral_degraded')]).toEqual([0, 0]);
      await until('the change is logged', async () => proxy.lines.some((l) => l.includes('"answers kept for errors can no longer stand in for the backend: not ready"')));
    } finally {
      c.close();
      await proxy.stop();
    }
  });

  it('without stale-if-error a dead backend makes corral unready at once, cached answers or not', async () => {
    const own = await startBackend();
    const proxy = await startProxy({ BACKEND_ADDRESS: own.address, COLLAPSER_CACHE_DURATION: '30s' });
    await proxy.untilReady();
    const c = client(proxy.address);
    try {
      expect((await unary(c, 'Lookup', { key: 'ready-plain' })).error).toBeNull();
      await own.stop();
      await until('corral is not ready', async () => (await proxy.admin('/ready')).status === 503);
      expect((await proxy.admin('/ready')).body).toMatch(/^cluster backend not connected/);
      expect(await proxy.metric('corral_degraded')).toBe(0);
    } finally {
      c.close();
      await proxy.stop();
    }
  });

  it('negative caching: NOT_FOUND is cached for its time with its message; other failures are not', async () => {
    await withProxy({ COLLAPSER_CACHE_STATUSES: 'NOT_FOUND=30s' }, async (c) => {
      const before = await lookups();
      const missing = { key: 'missing', failCode: 5, failMessage: 'no item missing' };
      const first = await unary(c, 'Lookup', missing);
      const second = await unary(c, 'Lookup', missing);
      expect([first.error?.code, second.error?.code]).toEqual([5, 5]);
      expect(second.error?.details).toBe('no item missing');
      expect(second.trailers?.get('x-call-number')).toEqual(first.trailers?.get('x-call-number'));
      expect((await lookups()) - before).toBe(1);
      const failing = { key: 'failing', failCode: 9, failMessage: 'not now' };
      await unary(c, 'Lookup', failing);
      await unary(c, 'Lookup', failing);
      expect((await lookups()) - before).toBe(3);
    });
  });

  it('refuses to cache UNAUTHENTICATED or PERMISSION_DENIED answers, naming them', async () => {
    const { proxyExit } = await import('../../cmd/processes.js');
    const r = await proxyExit({ BACKEND_ADDRESS: backend.address, COLLAPSER_CACHE_STATUSES: 'NOT_FOUND=1s,PERMISSION_DENIED=1s' }, ['validate']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("'PERMISSION_DENIED=1s': PERMISSION_DENIED is never cached: an authorization answer must never be shared in time");
  });
});
