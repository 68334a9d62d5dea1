/**
 * A grpc-js backend on 127.0.0.1 of test/http/protos/shop/v1/orders.proto (OrderService) and
 * of test/http/annotated/shop/v1/order_api.proto (OrderApi, the same methods with
 * google.api.http options), counting the calls it answers by method name.
 */
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

export interface OrdersBackend {
  address: string;
  calls: Record<string, number>;
  close(): Promise<void>;
}

const includeDirs = ['./protos', './annotated', '../../proto'].map((dir) => fileURLToPath(new URL(dir, import.meta.url)));

export async function startOrdersBackend(): Promise<OrdersBackend> {
  const definition = protoLoader.loadSync('shop/v1/order_api.proto', { includeDirs, keepCase: false, longs: String, enums: String, defaults: false, oneofs: true });
  const loaded = grpc.loadPackageDefinition(definition) as any;
  const calls: Record<string, number> = {};
  const count = (name: string) => (calls[name] = (calls[name] ?? 0) + 1);
  const seen = (call: grpc.ServerUnaryCall<any, any> | grpc.ServerWritableStream<any, any>) => {
    const md = new grpc.Metadata();
    for (const name of ['x-user-id', 'x-forwarded-method', 'x-forwarded-path', 'x-path-id', 'x-client-note', 'x-forwarded-client-cert']) {
      const value = call.metadata.get(name)[0];
      if (value !== undefined) md.set(`seen-${name}`, String(value));
    }
    return md;
  };
  const order = (id: string) => ({
    id,
    totalCents: '9007199254740993',
    status: 'STATUS_OPEN',
    created: { seconds: '1795483323', nanos: 0 },
    items: [{ sku: 'a', quantity: '2' }],
    note: Buffer.from('hi'),
  });
  const server = new grpc.Server();
  const methods = {
    GetOrder(call: grpc.ServerUnaryCall<any, any>, callback: grpc.sendUnaryData<any>) {
      count('GetOrder');
      call.sendMetadata(seen(call));
      const id: string = call.request.id;
      const trailer = new grpc.Metadata();
      trailer.set('x-served-by', 'orders-backend');
      if (id === 'missing') return callback({ code: grpc.status.NOT_FOUND, details: 'no order missing', metadata: trailer });
      setTimeout(() => callback(null, order(id), trailer), id.startsWith('slow') ? 300 : 0);
    },
    SearchOrders(call: grpc.ServerUnaryCall<any, any>, callback: grpc.sendUnaryData<any>) {
      count('SearchOrders');
      call.sendMetadata(seen(call));
      setTimeout(() => callback(null, order(call.request.id)), 300);
    },
    CreateOrder(call: grpc.ServerUnaryCall<any, any>, callback: grpc.sendUnaryData<any>) {
      count('CreateOrder');
      call.sendMetadata(seen(call));
      callback(null, { ...call.request.order, id: `new-${call.request.requestId}` });
    },
    ListOrders(call: grpc.ServerWritableStream<any, any>) {
      count('ListOrders');
      call.sendMetadata(seen(call));
      for (let i = 1; i <= 3; i++) call.write(order(`o-${i}`));
      if (call.request.pageSize === 99) {
        call.emit('error', { code: grpc.status.INTERNAL, details: 'the store broke' });
        return;
      }
      call.end();
    },
    OrderItems(call: grpc.ServerUnaryCall<any, any>, callback: grpc.sendUnaryData<any>) {
      count('OrderItems');
      callback(null, order(call.request.id));
    },
    Probe(_call: grpc.ServerUnaryCall<any, any>, callback: grpc.sendUnaryData<any>) {
      count('Probe');
      callback(null, {});
    },
  };
  server.addService(loaded.shop.v1.OrderService.service, methods);
  server.addService(loaded.shop.v1.OrderApi.service, methods);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return {
    address: `127.0.0.1:${port}`,
    calls,
    close: () => new Promise((resolve) => server.tryShutdown(() => resolve())),
  };
}
