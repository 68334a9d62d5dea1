/**
 * Keys that ignore what does not change the answer, with real processes: the example
 * backend describes GetPrice over server reflection (a request id, a trace span and a map
 * in its request); corral leaves the listed fields out of the key and keys maps in sorted
 * order, while the backend still gets the leader's request as it was sent.
 */
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backend, Proxy } from '../../cmd/processes.js';
import { backendStats, startStack, type Client, type Stack } from '../support/grpc.js';

let backend: Backend;
let proxy: Proxy;
let c: Client;

interface Price {
  sku: string;
  callNumber: number;
  requestId: string;
}

const getPrice = (request: object): Promise<Price> =>
  new Promise((resolve, reject) => c.GetPrice(request, (err: grpc.ServiceError | null, reply: Price) => (err ? reject(err) : resolve(reply))));
const prices = async () => (await backendStats(backend.address)).calls.GetPrice ?? 0;

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ COLLAPSER_KEY_IGNORE_FIELDS: 'request_id,trace.span_id,trace.nope', COLLAPSER_CACHE_DURATION: '0' });
  ({ backend, proxy, client: c } = stack);
});

afterAll(() => stack?.stop());

describe('COLLAPSER_KEY_IGNORE_FIELDS and canonical maps', () => {
  it('30 concurrent calls that differ only in an ignored field make one backend call; the backend gets the leader request', async () => {
    const before = await prices();
    const replies = await Promise.all(
      Array.from({ length: 30 }, (_, i) => getPrice({ sku: 'sku-1', requestId: `req-${i}`, trace: { traceId: 't', spanId: `span-${i}` }, delayMs: 300 })),
    );
    expect((await prices()) - before).toBe(1);
    expect(new Set(replies.map((r) => Number(r.callNumber))).size).toBe(1);
    expect(replies[0]!.requestId).toMatch(/^req-\d+$/); // one caller's, as it was sent
  });

  it('still keys on what is not ignored: another sku, another trace id', async () => {
    const before = await prices();
    await Promise.all([
      getPrice({ sku: 'sku-2', requestId: 'a', delayMs: 300 }),
      getPrice({ sku: 'sku-3', requestId: 'a', delayMs: 300 }),
      getPrice({ sku: 'sku-2', requestId: 'b', trace: { traceId: 'other' }, delayMs: 300 }),
    ]);
    expect((await prices()) - before).toBe(3);
  });

  it('two serialisations of one map are one key', async () => {
    const before = await prices();
    // protobufjs writes map entries in the order the object has them.
    await Promise.all([
      getPrice({ sku: 'map', labels: { region: 'eu', tier: 'gold', channel: 'web' }, delayMs: 300 }),
      getPrice({ sku: 'map', labels: { channel: 'web', tier: 'gold', region: 'eu' }, delayMs: 300 }),
    ]);
    expect((await prices()) - before).toBe(1);
  });

  it('warns of a path that is no field of a described request, which stays in the key', () => {
    expect(proxy.lines.some((l) => l.includes('trace.nope is not a field of corral.example.v1.PriceRequest'))).toBe(true);
  });
});
