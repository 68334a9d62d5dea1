/**
 * What a gRPC peer sees through corral is what it would see direct: every byte of a
 * response before its trailers, repeated metadata keys as separate fields, values with
 * surrounding spaces, and no request of one client failing another client's call.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backend, Proxy } from '../../cmd/processes.js';
import { encodeFrame } from '../../src/wire/frame.js';
import { lookupRequest } from '../support/lookup-request.js';
import { rawCall } from '../support/raw.js';
import { startRawBackend, type RawBackend } from '../support/raw-backend.js';

let backend: Backend;
let proxy: Proxy;

beforeAll(async () => {
  const { startBackend, startProxy } = await import('../../cmd/processes.js');
  backend = await startBackend();
  // A request that stays open 20 ms after its one message is passed through, not collapsed;
  // responses are larger than what a flight records (128 KiB here).
  proxy = await startProxy({ BACKEND_ADDRESS: backend.address, COLLAPSER_HALF_CLOSE_WAIT: '5ms', COLLAPSER_MAX_RESPONSE_BYTES: '131072' });
  await proxy.untilReady();
});

afterAll(async () => {
  await proxy?.stop();
  await backend?.stop();
});

describe('a passed-through response larger than the flow-control window', () => {
  it('arrives whole before its OK status, passed through, call after call', async () => {
    // Keys of one length (the same response size), each call its own: on a loaded machine a
    // request can end before corral finds it quiet, and it is then a lone collapsed call.
    const request = (n: number) => lookupRequest(`big-passthrough-${String(n).padStart(3, '0')}`, 314_000);
    // The example backend echoes metadata, and a collapsed call carries corral's user-agent:
    // the same one on every path keeps the answers the same size.
    const headers = { 'user-agent': 'corral' };
    const direct = await rawCall(backend.address, { chunks: [request(0)], endAfterMs: 20, headers });
    expect(direct.grpcStatus).toBe(0);
    expect(direct.data.length).toBeGreaterThan(314_000);
    const results = [];
    for (let round = 0; round < 10; round++) {
      const calls = [1, 2, 3].map((i) => rawCall(proxy.address, { chunks: [request(round * 3 + i)], endAfterMs: 20, headers }));
      results.push(...(await Promise.all(calls)));
    }
    const lengths = results.map((r) => `${r.grpcStatus}:${r.data.length}`);
    expect(lengths).toEqual(results.map(() => `0:${direct.data.length}`));
  });
});

describe('a collapsed response larger than the flow-control window and than COLLAPSER_MAX_RESPONSE_BYTES', () => {
  it('reaches a lone caller whole, at its connection\'s pace, call after call', async () => {
    const seen: string[] = [];
    const expected: string[] = [];
    // Each call is a new flight (its own key) with one waiter: nobody else to keep pace with.
    for (let i = 0; i < 5; i++) {
      const request = lookupRequest(`big-flight-${i}`, 314_000);
      // The example backend echoes metadata: a collapsed call reaches it with corral's user-agent.
      const direct = await rawCall(backend.address, { chunks: [request], headers: { 'user-agent': 'corral' } });
      const through = await rawCall(proxy.address, { chunks: [request] });
      expected.push(`0:${direct.data.length}`);
      seen.push(`${through.grpcStatus}:${through.data.length}`);
    }
    expect(seen).toEqual(expected);
  });
});

describe('metadata fields, raw on the wire', () => {
  let raw: RawBackend;
  let front: Proxy;
  const frame = encodeFrame(Buffer.from('request'));
  const ofName = (fields: Array<[string, string]>, prefix: string) => fields.filter(([n]) => n.startsWith(prefix));

  beforeAll(async () => {
    const { EVERY_METHOD, startProxy } = await import('../../cmd/processes.js');
    raw = await startRawBackend();
    // The raw backend answers any method and describes none: every method is a read.
    front = await startProxy({ ...EVERY_METHOD, BACKEND_ADDRESS: raw.address, COLLAPSER_CACHE_TTL: '10s' });
  });

  afterAll(async () => {
    await front?.stop();
    await raw?.close();
  });

  it('repeated keys and padded values reach the backend as separate fields, in order, unchanged', async () => {
    raw.requests.length = 0;
    const r = await rawCall(front.address, {
      path: '/test.Fields/Request',
      chunks: [frame],
      headers: { 'x-rep-bin': ['AAE', 'AgME'], 'x-rep': ['first', 'second'], 'x-pad': ' padded ' },
    });
    expect(r.grpcStatus).toBe(0);
    expect(ofName(raw.requests[0]!, 'x-')).toEqual([
      ['x-rep-bin', 'AAE'],
      ['x-rep-bin', 'AgME'],
      ['x-rep', 'first'],
      ['x-rep', 'second'],
      ['x-pad', ' padded '],
    ]);
  });

  it('repeated keys and padded values come back in response headers and trailers, padded grpc-message too', async () => {
    raw.responseFields = [['x-h', 'one'], ['x-h', 'two'], ['x-h-bin', 'AAE'], ['x-h-bin', 'AgME'], ['x-hpad', ' padded ']];
    raw.trailerFields = [['grpc-status', '0'], ['grpc-message', ' lead and trail '], ['x-t', 'a'], ['x-t', 'b'], ['x-tpad', ' p ']];
    try {
      for (const path of ['/test.Fields/Passthrough', '/test.Fields/Collapsed']) {
        // The first is passed through (its request stays open past the half-close wait), the second collapsed.
        const r = await rawCall(front.address, { path, chunks: [frame], ...(path.endsWith('Passthrough') ? { endAfterMs: 30 } : {}) });
        expect(r.grpcStatus, path).toBe(0);
        expect(ofName(r.headerFields, 'x-'), path).toEqual(raw.responseFields);
        expect(r.trailerFields, path).toEqual(raw.trailerFields);
        expect(r.headerFields.some(([n]) => n === 'date'), 'corral adds no date of its own').toBe(false);
      }
    } finally {
      raw.responseFields = [];
      raw.trailerFields = [['grpc-status', '0']];
    }
  });

  it('keys two values apart from one value that joins them: no shared cache entry', async () => {
    raw.requests.length = 0;
    const path = '/test.Fields/Keyed';
    await rawCall(front.address, { path, chunks: [frame], headers: { 'x-k': 'a, b' } });
    await rawCall(front.address, { path, chunks: [frame], headers: { 'x-k': ['a', 'b'] } });
    await rawCall(front.address, { path, chunks: [frame], headers: { 'x-k': ['a', 'b'] } }); // a cache hit
    expect(raw.requests.map((fields) => ofName(fields, 'x-k'))).toEqual([
      [['x-k', 'a, b']],
      [
        ['x-k', 'a'],
        ['x-k', 'b'],
      ],
    ]);
  });

  it('refuses what it cannot forward as it came, with a status of its own, before the backend', async () => {
    raw.requests.length = 0;
    const badBin = await rawCall(front.address, { path: '/test.Fields/Bad', chunks: [frame], headers: { 'x-b-bin': 'AAE, AgME' } });
    expect(badBin.grpcStatus).toBe(13);
    expect(badBin.grpcMessage).toContain("malformed binary metadata 'x-b-bin'");
    expect(raw.requests).toHaveLength(0);
  });
});
