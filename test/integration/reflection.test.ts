/**
 * corral learns which methods a backend declares free of side effects from the backend
 * itself, over gRPC server reflection: with nothing configured but BACKEND_ADDRESS, the
 * declared read collapses and the writes pass through, one backend call each; with
 * nothing declared nor listed, nothing is collapsed.
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

async function herd(proxy: Proxy, method: 'SearchOrders' | 'CreateOrder' | 'GetOrder', n: number, to: ReflectingBackend = backend): Promise<number> {
  const client = new loaded.shop.v1.OrderService(proxy.address, grpc.credentials.createInsecure());
  const before = to.calls[method] ?? 0;
  try {
    const request = method === 'CreateOrder' ? { requestId: 'same' } : { id: 'same' };
    await Promise.all(
      Array.from({ length: n }, () => new Promise<void>((resolve, reject) => client[method](request, (err: Error | null) => (err ? reject(err) : resolve())))),
    );
  } finally {
    client.close();
  }
  return (to.calls[method] ?? 0) - before;
}

describe('COLLAPSER_REFLECTION', () => {
  it('on by default: /ready waits for the answer; the declared read collapses, the other methods pass through', async () => {
    const { startProxy } = await import('../../cmd/processes.js');
    const proxy = await startProxy({ BACKEND_ADDRESS: backend.address, COLLAPSER_CACHE_DURATION: '0' });
    try {
      await proxy.untilReady();
      expect(proxy.lines.some((l) => l.includes('learned the backend') && l.includes('collapsing the 1 it declares NO_SIDE_EFFECTS'))).toBe(true);
      expect(await herd(proxy, 'SearchOrders', 10)).toBe(1);
      expect(await herd(proxy, 'CreateOrder', 5)).toBe(5);
      expect(await herd(proxy, 'GetOrder', 5)).toBe(5);
      // /config_dump says which methods are collapsed and why.
      const { collapsing } = JSON.parse((await proxy.admin('/config_dump')).body);
      expect(collapsing.declared.reads).toEqual(['/shop.v1.OrderService/SearchOrders']);
      expect(collapsing.declared.passedThrough).toEqual(expect.arrayContaining(['/shop.v1.OrderService/CreateOrder', '/shop.v1.OrderService/GetOrder']));
      expect(collapsing.reflection).toBe(true);
      expect(collapsing.otherwise).toBe('passed through');
      // And what each endpoint of each cluster declared.
      expect(collapsing.byEndpoint).toEqual([{ cluster: 'backend', endpoint: backend.address, reads: ['/shop.v1.OrderService/SearchOrders'] }]);
      // Per-method series for the methods the descriptors name; a method a client invents is "other".
      const invented = new grpc.Client(proxy.address, grpc.credentials.createInsecure());
      for (const path of ['/shop.v1.OrderService/Invented', '/made.Up/Anything']) {
        await new Promise((resolve) => invented.makeUnaryRequest(path, (b: Buffer) => b, (b: Buffer) => b, Buffer.alloc(0), resolve));
      }
      invented.close();
      expect(await proxy.metric('corral_method_calls_total{method="/shop.v1.OrderService/SearchOrders",outcome="leader",grpc_code="OK"}')).toBe(1);
      expect(await proxy.metric('corral_method_calls_total{method="/shop.v1.OrderService/CreateOrder",outcome="bypass",grpc_code="OK"}')).toBe(5);
      expect(await proxy.metric('corral_method_calls_total{method="other",grpc_code="UNIMPLEMENTED"}')).toBe(2);
      expect((await proxy.admin('/metrics')).body).not.toContain('Invented');
    } finally {
      await proxy.stop();
    }
  });

  it('off, nothing listed: every call passes through, and start-up says how to collapse', async () => {
    const { startProxy } = await import('../../cmd/processes.js');
    const proxy = await startProxy({ BACKEND_ADDRESS: backend.address, COLLAPSER_REFLECTION: 'off', COLLAPSER_CACHE_DURATION: '0' });
    try {
      expect(await herd(proxy, 'SearchOrders', 5)).toBe(5);
      expect(await herd(proxy, 'CreateOrder', 5)).toBe(5);
      expect(proxy.lines.some((l) => l.includes('collapsing nothing') && l.includes('COLLAPSER_METHODS=/pkg.Service/Get'))).toBe(true);
    } finally {
      await proxy.stop();
    }
  });

  it('a backend without reflection and a method listed: start-up says what is collapsed, not that every call passes through', async () => {
    const { startProxy } = await import('../../cmd/processes.js');
    const bare = await startReflectingBackend({ reflection: false });
    const proxy = await startProxy({ BACKEND_ADDRESS: bare.address, COLLAPSER_METHODS: '/shop.v1.OrderService/SearchOrders', COLLAPSER_CACHE_DURATION: '0' });
    try {
      await proxy.untilReady();
      expect(proxy.lines.filter((l) => l.includes('server reflection') && !l.includes('"collapsing ')).map((l) => JSON.parse(l).msg)).toEqual([
        'the backend serves no gRPC server reflection: nothing learned; collapsing only /shop.v1.OrderService/SearchOrders (COLLAPSER_METHODS)',
      ]);
      expect(proxy.lines.some((l) => l.includes('pass through'))).toBe(false);
      expect(await herd(proxy, 'SearchOrders', 5, bare)).toBe(1);
    } finally {
      await proxy.stop();
      bare.kill();
    }
  });

  it('COLLAPSER_METHODS=*: the per-method metrics still name the methods the backend describes over reflection', async () => {
    const { startProxy } = await import('../../cmd/processes.js');
    const proxy = await startProxy({ BACKEND_ADDRESS: backend.address, COLLAPSER_METHODS: '*', COLLAPSER_CACHE_DURATION: '0' });
    try {
      await proxy.untilReady();
      expect(await herd(proxy, 'CreateOrder', 3)).toBe(1); // collapsed: * says every method is a read
      expect(await proxy.metric('corral_method_calls_total{method="/shop.v1.OrderService/CreateOrder"}')).toBe(3);
      expect(await proxy.metric('corral_method_calls_total{method="other"}')).toBe(0);
    } finally {
      await proxy.stop();
    }
  });

  it('asks a backend again when it comes back: a new version that declares a read gets it collapsed', async () => {
    const { startProxy } = await import('../../cmd/processes.js');
    const before = await startReflectingBackend({ reflection: false });
    const port = Number(before.address.split(':')[1]);
    const proxy = await startProxy({ BACKEND_ADDRESS: before.address, COLLAPSER_CACHE_DURATION: '0' });
    let after: ReflectingBackend | null = null;
    try {
      await proxy.untilReady();
      expect(proxy.lines.some((l) => l.includes('serves no gRPC server reflection'))).toBe(true);
      expect(await herd(proxy, 'SearchOrders', 5, before)).toBe(5);
      before.kill();
      after = await startReflectingBackend({ port });
      await until('corral has asked the new version', async () => JSON.parse((await proxy.admin('/config_dump')).body).collapsing.declared.reads.length === 1);
      expect(await herd(proxy, 'SearchOrders', 10, after)).toBe(1);
      expect(await herd(proxy, 'CreateOrder', 5, after)).toBe(5);
    } finally {
      await proxy.stop();
      before.kill();
      after?.kill();
    }
  });

  it('asks every backend again on reload (SIGHUP)', async () => {
    const { startProxy } = await import('../../cmd/processes.js');
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const config = join(mkdtempSync(join(tmpdir(), 'corral-reflection-')), 'corral.yaml');
    writeFileSync(config, `default: { action: use_cluster, use_cluster: orders }\nclusters:\n  orders: { type: static, address: "${backend.address}" }\n`);
    const proxy = await startProxy({ CONFIG_PATH: config });
    const asked = () => proxy.lines.filter((l) => l.includes("learned the backend's methods")).length;
    try {
      await proxy.untilReady();
      expect(asked()).toBe(1);
      proxy.child.kill('SIGHUP');
      await until('corral has asked again', async () => asked() === 2);
      expect(await herd(proxy, 'SearchOrders', 10)).toBe(1);
    } finally {
      await proxy.stop();
    }
  });
});
