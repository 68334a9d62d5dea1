/**
 * corral learns which methods a backend declares free of side effects from the backend
 * itself, over gRPC server reflection: with nothing configured but BACKEND_ADDRESS, the
 * declared read collapses and the writes pass through, one backend call each.
 */
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Proxy } from '../../cmd/processes.js';
import { until } from '../support/grpc.js';
import { startReflectingBackend, type ReflectingBackend } from '../support/reflecting-backend.js';

const protos = fileURLToPath(new URL('../http/protos', import.meta.url));
const loaded = grpc.loadPackageDefinition(protoLoader.loadSync('shop/v1/orders.proto', { includeDirs: [protos], longs: String, enums: String })) as any;

let backend: ReflectingBackend;
beforeAll(async () => {
  backend = await startReflectingBackend();
});
afterAll(() => backend?.close());

async function herd(proxy: Proxy, method: 'SearchOrders' | 'CreateOrder' | 'GetOrder', n: number): Promise<number> {
  const client = new loaded.shop.v1.OrderService(proxy.address, grpc.credentials.createInsecure());
  const before = backend.calls[method] ?? 0;
  try {
    const request = method === 'CreateOrder' ? { requestId: 'same' } : { id: 'same' };
    await Promise.all(
      Array.from({ length: n }, () => new Promise<void>((resolve, reject) => client[method](request, (err: Error | null) => (err ? reject(err) : resolve())))),
    );
  } finally {
    client.close();
  }
  return (backend.calls[method] ?? 0) - before;
}

describe('COLLAPSER_REFLECTION', () => {
  it('on: collapses the method the backend declares NO_SIDE_EFFECTS, and passes its other methods through', async () => {
    const { startProxy } = await import('../../cmd/processes.js');
    const proxy = await startProxy({ BACKEND_ADDRESS: backend.address, COLLAPSER_REFLECTION: 'on', COLLAPSER_CACHE_DURATION: '0' });
    try {
      await until('corral has learned the backend\'s methods', async () => proxy.lines.some((l) => l.includes('learned the backend')));
      expect(await herd(proxy, 'SearchOrders', 10)).toBe(1);
      expect(await herd(proxy, 'CreateOrder', 5)).toBe(5);
      expect(await herd(proxy, 'GetOrder', 5)).toBe(5);
      // /config_dump says which methods are collapsed and why.
      const { collapsing } = JSON.parse((await proxy.admin('/config_dump')).body);
      expect(collapsing.declared.reads).toEqual(['/shop.v1.OrderService/SearchOrders']);
      expect(collapsing.declared.passedThrough).toEqual(expect.arrayContaining(['/shop.v1.OrderService/CreateOrder', '/shop.v1.OrderService/GetOrder']));
      expect(collapsing.reflection).toBe(true);
    } finally {
      await proxy.stop();
    }
  });

  it('off: nothing is learned, and every single-message call collapses as before', async () => {
    const { startProxy } = await import('../../cmd/processes.js');
    const proxy = await startProxy({ BACKEND_ADDRESS: backend.address, COLLAPSER_REFLECTION: 'off', COLLAPSER_CACHE_DURATION: '0' });
    try {
      expect(await herd(proxy, 'CreateOrder', 5)).toBe(1);
    } finally {
      await proxy.stop();
    }
  });
});
