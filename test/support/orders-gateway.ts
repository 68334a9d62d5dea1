/** corral's HTTP/JSON gateway in front of the test order service: the set-up of the gateway's integration tests. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Proxy } from '../../cmd/processes.js';
import { startOrdersBackend, type OrdersBackend } from '../http/orders-backend.js';
import { freePort } from './etcd.js';

export interface OrdersGateway {
  orders: OrdersBackend;
  proxy: Proxy;
  /** http://127.0.0.1:<HTTP_PORT> */
  base: string;
  port: number;
  stop(): Promise<void>;
}

/**
 * Starts the order service and corral with HTTP_PORT, its `http` section from
 * test/http/protos/shop/v1/orders.proto plus `httpLines` (YAML lines under `http:`, two
 * spaces in: routes, cors...), and `env`.
 */
export async function startOrdersGateway(httpLines: string, env: Record<string, string> = {}, topLines = ''): Promise<OrdersGateway> {
  const { startProxy } = await import('../../cmd/processes.js');
  const protos = fileURLToPath(new URL('../http/protos', import.meta.url));
  const orders = await startOrdersBackend();
  const config = join(mkdtempSync(join(tmpdir(), 'corral-gateway-')), 'gateway.yaml');
  writeFileSync(
    config,
    `${topLines}clusters:
  orders: { type: static, address: "${orders.address}" }
http:
  proto_files: [${protos}/shop/v1/orders.proto]
  proto_paths: [${protos}]
${httpLines}`,
  );
  const port = await freePort();
  // The descriptors decide what is collapsed, as shipped.
  const proxy = await startProxy({ CONFIG_PATH: config, HTTP_PORT: String(port), COLLAPSER_METHODS: '', ...env });
  return {
    orders,
    proxy,
    port,
    base: `http://127.0.0.1:${port}`,
    async stop() {
      await proxy.stop();
      await orders.close();
    },
  };
}

/** A grpc-js client of shop.v1.OrderService (test/http/protos) for native calls to `address`. */
export async function ordersClient(address: string): Promise<any> {
  const grpc = await import('@grpc/grpc-js');
  const protoLoader = await import('@grpc/proto-loader');
  const protos = fileURLToPath(new URL('../http/protos', import.meta.url));
  const loaded = grpc.loadPackageDefinition(protoLoader.loadSync('shop/v1/orders.proto', { includeDirs: [protos] })) as any;
  return new loaded.shop.v1.OrderService(address, grpc.credentials.createInsecure());
}
