/**
 * Operating the cache with real processes: POST /cache/purge on the admin port (by tag,
 * method, service, key, everything; soft), the CLI's `corral purge`, a purge that arrives
 * while a fill is under way, and a client's `cache-control: no-cache`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { proxyExit, startProxy, type Backend, type Proxy } from '../../cmd/processes.js';
import { backendStats, client, metadata, release, startStack, unary, until, type Client, type Stack } from '../support/grpc.js';

let backend: Backend;
let proxy: Proxy;
let c: Client;

const LOOKUP = '/corral.example.v1.Example/Lookup';
const lookups = async () => (await backendStats(backend.address)).calls.Lookup ?? 0;
/** The backend's call number that answered: a new one means a backend call. */
const answer = async (key: string, cacheTags = '', md = metadata()) => {
  const r = await unary(c, 'Lookup', { key, cacheTags }, md);
  expect(r.error).toBeNull();
  return { call: Number(r.reply.callNumber), outcome: r.headers?.get('x-corral-outcome')[0] as string };
};
const purge = (query: string, init: RequestInit = {}) =>
  fetch(`http://127.0.0.1:${proxy.adminPort}/cache/purge?${query}`, { method: 'POST', ...init }).then(async (r) => ({ status: r.status, body: await r.json() }));

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ COLLAPSER_CACHE_DURATION: '60s', RESPONSE_OUTCOME_HEADER: 'x-corral-outcome' });
  ({ backend, proxy, client: c } = stack);
});

afterAll(() => stack?.stop());

describe('POST /cache/purge', () => {
  it('by tag drops exactly the answers the backend tagged so', async () => {
    const a = await answer('tag-a', 'sku-1 prices');
    const b = await answer('tag-b', 'sku-2,prices');
    const plain = await answer('tag-c');
    expect(await purge('tag=sku-1')).toEqual({ status: 200, body: { purged: 1, soft: false } });
    expect((await answer('tag-a', 'sku-1 prices')).call).toBeGreaterThan(a.call);
    expect([(await answer('tag-b', 'sku-2,prices')).call, (await answer('tag-c')).call]).toEqual([b.call, plain.call]);
    expect((await purge('tag=prices')).body.purged).toBe(2);
    expect((await answer('tag-b', 'sku-2,prices')).outcome).toBe('leader');
    expect((await answer('tag-c')).outcome).toBe('cache_hit');
    expect(await proxy.metric('corral_cache_purged_total{how="tag",soft="false"}')).toBe(3);
  });

  it('by method, by service prefix, by key (as /flights shows it) and all', async () => {
    await answer('m-1');
    await answer('m-2');
    expect((await purge(`method=${LOOKUP}`)).body.purged).toBeGreaterThanOrEqual(2);
    expect((await answer('m-1')).outcome).toBe('leader');
    expect((await purge('method=/corral.example.v1.Example/')).body.purged).toBeGreaterThanOrEqual(1);
    expect((await answer('m-1')).outcome).toBe('leader');

    // A key from /flights: a flight under way, then its answer cached.
    const held = unary(c, 'Lookup', { key: 'by-key', gate: 'by-key' });
    await until('the flight is listed', async () => JSON.parse((await proxy.admin('/flights')).body).flights.length === 1);
    const key = JSON.parse((await proxy.admin('/flights')).body).flights[0].key as string;
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    await release(backend.address, 'by-key');
    await held;
    const other = await answer('not-by-key');
    expect((await purge(`key=${key}`)).body.purged).toBe(1);
    expect((await unary(c, 'Lookup', { key: 'by-key' })).headers?.get('x-corral-outcome')).toEqual(['leader']);
    expect((await answer('not-by-key')).call).toBe(other.call);

    expect((await purge('all=true')).body.purged).toBeGreaterThanOrEqual(2);
    expect(await proxy.metric('corral_cache_entries')).toBe(0);
  });

  it('soft: with stale-while-revalidate the next caller gets the old answer at once, and one call refreshes it', async () => {
    const soft = await startProxy({ BACKEND_ADDRESS: backend.address, COLLAPSER_CACHE_DURATION: '60s', COLLAPSER_STALE_WHILE_REVALIDATE: '30s', RESPONSE_OUTCOME_HEADER: 'x-corral-outcome' });
    await soft.untilReady();
    const sc = client(soft.address);
    try {
      const ask = async () => {
        const r = await unary(sc, 'Lookup', { key: 'soft', cacheTags: 'soft-tag' });
        return `${r.headers?.get('x-corral-outcome')[0]} ${r.reply.callNumber}`;
      };
      const first = await ask();
      const res = await fetch(`http://127.0.0.1:${soft.adminPort}/cache/purge?tag=soft-tag&soft=true`, { method: 'POST' });
      expect(await res.json()).toEqual({ purged: 1, soft: true });
      const before = await lookups();
      expect(await ask()).toBe(`stale ${first.split(' ')[1]}`);
      await until('one call refreshed it', async () => (await lookups()) === before + 1);
      const next = await ask();
      expect(next.startsWith('cache_hit')).toBe(true);
      expect(next).not.toBe(`cache_hit ${first.split(' ')[1]}`);
      expect(await lookups()).toBe(before + 1);
    } finally {
      sc.close();
      await soft.stop();
    }
  });

  it('refuses a GET and what a browser could send cross-origin, purging nothing; says what is wrong with a bad one', async () => {
    const cached = await answer('guarded');
    const get = await fetch(`http://127.0.0.1:${proxy.adminPort}/cache/purge?all=true`);
    expect(get.status).toBe(405);
    expect((await purge('all=true', { headers: { origin: 'https://evil.example' } })).status).toBe(403);
    expect((await purge('all=true', { headers: { 'content-type': 'text/plain' }, body: 'x' })).status).toBe(403);
    expect((await answer('guarded')).call).toBe(cached.call);
    expect(await purge('tag=a&method=/x.Y/Z')).toEqual({ status: 400, body: { error: expect.stringMatching(/exactly one of tag=/) } });
    expect((await purge('key=zz')).body.error).toMatch(/expected the 64 hex digits/);
    // Never on the metrics port.
    expect((await fetch(`http://127.0.0.1:${proxy.metricsPort}/cache/purge?all=true`, { method: 'POST' })).status).toBe(405);
  });

  it('a fill under way when a purge names it does not put the old answer back', async () => {
    const held = unary(c, 'Lookup', { key: 'racing', gate: 'racing', cacheTags: 'race' });
    await until('the flight is under way', async () => JSON.parse((await proxy.admin('/flights')).body).flights.length === 1);
    expect((await purge('tag=race')).body.purged).toBe(0); // nothing cached yet
    await release(backend.address, 'racing');
    const filled = await held;
    const again = await unary(c, 'Lookup', { key: 'racing', cacheTags: 'race' });
    expect(again.headers?.get('x-corral-outcome')).toEqual(['leader']);
    expect(Number(again.reply.callNumber)).toBeGreaterThan(Number(filled.reply.callNumber));
  });

  it('corral purge (the CLI) purges the corral on ADMIN_PORT', async () => {
    const cached = await answer('cli', 'cli-tag');
    const r = await proxyExit({ ADMIN_PORT: String(proxy.adminPort) }, ['purge', 'tag=cli-tag']);
    expect([r.code, JSON.parse(r.stdout)]).toEqual([0, { purged: 1, soft: false }]);
    expect((await answer('cli', 'cli-tag')).call).toBeGreaterThan(cached.call);
    const bad = await proxyExit({ ADMIN_PORT: String(proxy.adminPort) }, ['purge', 'colour=blue']);
    expect([bad.code, bad.stderr]).toEqual([2, expect.stringMatching(/^corral: purge refused \(400\): .*unknown parameter colour/)]);
  });
});

describe('cache-control: no-cache', () => {
  it('30 concurrent calls get a fresh answer in one backend call, which refreshes the cache for everyone', async () => {
    // Every call asks the same question; the backend takes 300 ms over it, so the herd overlaps.
    const question = { key: 'fresh', delayMs: 300 };
    const ask = async (md = metadata()) => {
      const r = await unary(c, 'Lookup', question, md);
      return { call: Number(r.reply.callNumber), outcome: r.headers?.get('x-corral-outcome')[0] as string };
    };
    const old = await ask();
    expect((await ask()).outcome).toBe('cache_hit');
    const noCache = () => metadata({ 'cache-control': 'no-cache' });
    const before = await lookups();
    const herd = Array.from({ length: 30 }, () => unary(c, 'Lookup', question, noCache()));
    const results = await Promise.all(herd);
    expect(new Set(results.map((r) => Number(r.reply.callNumber))).size).toBe(1);
    const fresh = Number(results[0]!.reply.callNumber);
    expect(fresh).toBeGreaterThan(old.call);
    expect((await lookups()) - before).toBe(1);
    // Plain callers get the refreshed answer; a later no-cache call gets a newer one, and so do they.
    expect(await ask()).toEqual({ call: fresh, outcome: 'cache_hit' });
    const newer = await ask(noCache());
    expect([newer.call > fresh, newer.outcome]).toEqual([true, 'leader']);
    expect(await ask()).toEqual({ call: newer.call, outcome: 'cache_hit' });
  });
});
