import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseTopology, type Topology } from '../../src/config/topology.js';
import { annotatedRoutes } from '../../src/http/annotated-routes.js';
import { Descriptors } from '../../src/http/descriptors.js';
import { HttpRouteTable } from '../../src/http/http-routes.js';

const root = fileURLToPath(new URL('./protos', import.meta.url));
const annotated = fileURLToPath(new URL('./annotated', import.meta.url));
const descriptors = await Descriptors.load({ protoPaths: [root, annotated], protoFiles: [`${annotated}/shop/v1/order_api.proto`], descriptorSet: undefined });

function topology(routes: string, fallback = ''): Topology {
  return parseTopology(
    `clusters:
  orders: { type: static, address: "127.0.0.1:1" }
  reads: { type: static, address: "127.0.0.1:2" }
${fallback}
routes:
${routes}`,
    'gateway.yaml',
  );
}

describe('routes from google.api.http options', () => {
  it('takes every binding, additional ones included, to the cluster and policies of the gRPC route the method takes', () => {
    const { routes, skipped } = annotatedRoutes(
      descriptors,
      ['shop.v1.OrderApi'],
      topology(`  - { prefix: /shop.v1.OrderApi/, cluster: orders, authorization: required, timeout_ms: 2000 }
  - { prefix: /shop.v1.OrderApi/SearchOrders, cluster: reads, collapse: false }
  - { prefix: /shop.v1.OrderApi/GetOrder, cluster: reads, metadata: [{ name: tenant, equals: a }] }`),
    );
    const byName = Object.fromEntries(routes.map((r) => [r.name, r]));
    expect(Object.keys(byName)).toEqual([
      'shop.v1.OrderApi.GetOrder',
      'shop.v1.OrderApi.GetOrder#1',
      'shop.v1.OrderApi.ListOrders',
      'shop.v1.OrderApi.CreateOrder',
      'shop.v1.OrderApi.OrderItems',
      'shop.v1.OrderApi.SearchOrders',
    ]);
    // A call without metadata does not take the tenant=a route.
    expect(byName['shop.v1.OrderApi.GetOrder']).toEqual({
      name: 'shop.v1.OrderApi.GetOrder',
      path: '/v2/orders/{id}',
      method: 'GET',
      cluster: 'orders',
      grpcService: 'shop.v1.OrderApi',
      grpcMethod: 'GetOrder',
      authRequired: true,
      timeoutMs: 2000,
      body: null,
      collapse: undefined,
      responseBody: null,
    });
    expect(byName['shop.v1.OrderApi.GetOrder#1']).toMatchObject({ path: '/v2/orders:lookup', method: 'GET', grpcMethod: 'GetOrder' });
    expect(byName['shop.v1.OrderApi.CreateOrder']).toMatchObject({ path: '/v2/orders', method: 'POST', body: 'order' });
    expect(byName['shop.v1.OrderApi.OrderItems']).toMatchObject({ responseBody: 'items' });
    expect(byName['shop.v1.OrderApi.SearchOrders']).toMatchObject({ cluster: 'reads', collapse: false, authRequired: false, timeoutMs: 30_000 });
    expect(skipped).toEqual(['shop.v1.OrderApi.Probe: method HEAD is not served (GET, POST, PUT, PATCH, DELETE are)']);
  });

  it('reads every service with annotations when asked for all, and needs a route to a cluster for each', () => {
    const all = annotatedRoutes(descriptors, true, topology('  []', 'default: { action: use_cluster, use_cluster: orders }'));
    expect(new Set(all.routes.map((r) => r.grpcService))).toEqual(new Set(['shop.v1.OrderApi']));
    expect(() => annotatedRoutes(descriptors, true, topology('  - { prefix: /shop.v1.OrderService/, cluster: orders }'))).toThrowError(
      '/shop.v1.OrderApi/GetOrder has a google.api.http option, but no route sends it to a cluster (add a route or a default cluster)',
    );
    expect(() => annotatedRoutes(descriptors, ['shop.v1.Nope'], topology('  []', 'default: { action: use_cluster, use_cluster: orders }'))).toThrowError(
      'http.annotations: no service shop.v1.Nope in the descriptors',
    );
  });

  it('is served by the same table as the YAML routes, which win a tie', () => {
    const yaml = topology('  []', 'default: { action: use_cluster, use_cluster: orders }');
    const fromFile = [{ ...annotatedRoutes(descriptors, true, yaml).routes[0]!, name: 'mine', grpcService: 'shop.v1.OrderService' }];
    const table = HttpRouteTable.build([...fromFile, ...annotatedRoutes(descriptors, true, yaml).routes], descriptors);
    expect(table.match('GET', '/v2/orders/o-1')?.route?.spec.name).toBe('mine');
    expect(table.match('GET', '/v2/orders:lookup')?.route?.spec.name).toBe('shop.v1.OrderApi.GetOrder#1');
    expect(table.match('GET', '/v2/orders/o-1/items')?.route?.spec.name).toBe('shop.v1.OrderApi.OrderItems');
    expect(table.match('HEAD', '/v2/orders/o-1')).toEqual({ route: null, allow: ['GET'] });
  });
});
