import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseTopology } from '../../src/config/topology.js';
import { DescriptorError, Descriptors } from '../../src/http/descriptors.js';
import { HttpRouteTable } from '../../src/http/http-routes.js';

const root = fileURLToPath(new URL('./protos', import.meta.url));

function topology(routes: string): ReturnType<typeof parseTopology> {
  return parseTopology(
    `clusters: { orders: { type: static, address: "127.0.0.1:1" } }
http:
  proto_files: [${root}/shop/v1/orders.proto]
  proto_paths: [${root}]
  routes:
${routes}`,
    'gateway.yaml',
  );
}

const ROUTES = `    - { name: get-order, path: "/api/v1/orders/{id}", method: GET, service: orders, grpc_service: shop.v1.OrderService, grpc_method: GetOrder, auth_required: true }
    - { name: create-order, path: /api/v1/orders, method: POST, service: orders, grpc_service: shop.v1.OrderService, grpc_method: CreateOrder, body: "*" }
    - { name: list-orders, path: /api/v1/orders, method: GET, service: orders, grpc_service: shop.v1.OrderService, grpc_method: ListOrders, timeout: 5s }
    - { name: recent, path: /api/v1/orders/recent, method: GET, service: orders, grpc_service: shop.v1.OrderService, grpc_method: ListOrders }`;

describe('the http section and its route table', () => {
  it("reads the routes in the gateway's YAML shape, with defaults", () => {
    const http = topology(ROUTES).http!;
    expect(http.routes[0]).toEqual({
      name: 'get-order',
      path: '/api/v1/orders/{id}',
      method: 'GET',
      cluster: 'orders',
      grpcService: 'shop.v1.OrderService',
      grpcMethod: 'GetOrder',
      authRequired: true,
      timeoutMs: 30_000,
      body: null,
      collapse: undefined,
      responseBody: null,
    });
    expect(http.routes[2]!.timeoutMs).toBe(5000);
  });

  it('matches by method and path, literals before variables, and says which methods a path allows', async () => {
    const spec = topology(ROUTES).http!;
    const table = HttpRouteTable.build(spec.routes, await Descriptors.load(spec));
    const get = table.match('GET', '/api/v1/orders/o-7');
    expect(get?.route?.spec.name).toBe('get-order');
    expect(get?.route?.grpcPath).toBe('/shop.v1.OrderService/GetOrder');
    expect(get && 'variables' in get ? Object.fromEntries(get.variables) : null).toEqual({ id: 'o-7' });
    expect(table.match('GET', '/api/v1/orders/recent')?.route?.spec.name).toBe('recent');
    expect(table.match('POST', '/api/v1/orders')?.route?.spec.name).toBe('create-order');
    expect(table.match('DELETE', '/api/v1/orders')).toEqual({ route: null, allow: ['POST', 'GET'] });
    expect(table.match('GET', '/api/v2/orders')).toBeNull();
  });

  it("keeps each route's collapse as written (unset: GET, or the method policy, decides when routes are built)", async () => {
    const spec = topology(`${ROUTES}
    - { name: search, path: "/api/v1/orders:search", method: POST, service: orders, grpc_service: shop.v1.OrderService, grpc_method: SearchOrders, body: "*" }
    - { name: fresh, path: "/api/v1/fresh/{id}", method: GET, service: orders, grpc_service: shop.v1.OrderService, grpc_method: GetOrder, collapse: false }
    - { name: forced, path: "/api/v1/forced", method: POST, service: orders, grpc_service: shop.v1.OrderService, grpc_method: CreateOrder, body: "*", collapse: true }`).http!;
    const table = HttpRouteTable.build(spec.routes, await Descriptors.load(spec));
    const collapsed = Object.fromEntries(table.all().map((r) => [r.spec.name, r.collapse]));
    expect(collapsed).toEqual({ 'get-order': undefined, 'create-order': undefined, 'list-orders': undefined, recent: undefined, search: undefined, fresh: false, forced: true });
  });

  it('names the route whose method, body field or cluster does not exist, and bad templates', async () => {
    const missing = topology(`    - { name: ghost, path: /x, method: GET, service: orders, grpc_service: shop.v1.OrderService, grpc_method: Ghost }`).http!;
    const descriptors = await Descriptors.load(missing);
    expect(() => HttpRouteTable.build(missing.routes, descriptors)).toThrowError(DescriptorError);
    expect(() => HttpRouteTable.build(missing.routes, descriptors)).toThrowError(/http\.routes\[ghost\]: service shop\.v1\.OrderService has no method Ghost/);
    const body = topology(`    - { name: b, path: /x, method: POST, service: orders, grpc_service: shop.v1.OrderService, grpc_method: CreateOrder, body: nope }`).http!;
    expect(() => HttpRouteTable.build(body.routes, descriptors)).toThrowError(/body 'nope' is not a field of shop\.v1\.CreateOrderRequest/);
    const variable = topology(`    - { name: v, path: "/x/{order.nope}", method: GET, service: orders, grpc_service: shop.v1.OrderService, grpc_method: CreateOrder }`).http!;
    expect(() => HttpRouteTable.build(variable.routes, descriptors)).toThrowError("http.routes[v]: path variable 'order.nope' is not a field of shop.v1.CreateOrderRequest");
    const nested = topology(`    - { name: n, path: "/x/{order.id}", method: GET, service: orders, grpc_service: shop.v1.OrderService, grpc_method: CreateOrder }`).http!;
    expect(HttpRouteTable.build(nested.routes, descriptors).all()).toHaveLength(1);
    expect(() => topology(`    - { name: c, path: /x, method: GET, service: nowhere, grpc_service: a.B, grpc_method: C }`)).toThrowError(/http\.routes\[0\]\.service="nowhere": no such cluster/);
    expect(() => topology(`    - { name: d, path: "/a/**/b", method: GET, service: orders, grpc_service: a.B, grpc_method: C }`)).toThrowError(/'\*\*' must be the last segment/);
  });
});
