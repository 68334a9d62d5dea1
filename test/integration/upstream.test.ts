/** The upstream session pool: how calls are spread over HTTP/2 sessions to the backend. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backendStats, release, unary, until, type Stack, startStack } from '../support/grpc.js';

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ BACKEND_STREAMS_PER_SESSION: '2', BACKEND_MAX_SESSIONS: '3' });
});

afterAll(() => stack?.stop());

describe('session pool', () => {
  it('opens another session when each carries BACKEND_STREAMS_PER_SESSION calls, up to BACKEND_MAX_SESSIONS', async () => {
    const { client: c, proxy, backend } = stack;
    expect(await proxy.metric('corral_upstream_sessions')).toBe(1);
    // Eight distinct keys, so eight backend calls held open at once: more than 3 sessions x 2.
    const before = (await backendStats(backend.address)).calls.Lookup ?? 0;
    const calls = Array.from({ length: 8 }, (_, i) => unary(c, 'Lookup', { key: `spread-${i}`, gate: 'spread' }));
    await until('eight calls reach the backend', async () => (await backendStats(backend.address)).calls.Lookup === before + 8);
    expect(await proxy.metric('corral_upstream_sessions')).toBe(3);
    await release(backend.address, 'spread');
    const results = await Promise.all(calls);
    expect(results.map((r) => r.error?.message ?? r.reply.key)).toEqual(Array.from({ length: 8 }, (_, i) => `spread-${i}`));
  });
});
