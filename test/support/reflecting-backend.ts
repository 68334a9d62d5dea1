/**
 * A grpc-js backend of test/http/protos/shop/v1/orders.proto (SearchOrders declared
 * idempotency_level = NO_SIDE_EFFECTS, the others not) that publishes its descriptors over
 * gRPC server reflection (@grpc/reflection, v1 and v1alpha), counting the calls it answers.
 */
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';

export interface ReflectingBackend {
  address: string;
  calls: Record<string, number>;
  close(): Promise<void>;
  /** Stops at once, connections and calls included (a crash, or a rollout's kill). */
  kill(): void;
}

export async function startReflectingBackend(options: { reflection?: boolean; port?: number } = {}): Promise<ReflectingBackend> {
  const protos = fileURLToPath(new URL('../http/protos', import.meta.url));
  const definition = protoLoader.loadSync('shop/v1/orders.proto', { includeDirs: [protos], longs: String, enums: String, defaults: false });
  const loaded = grpc.loadPackageDefinition(definition) as any;
  const calls: Record<string, number> = {};
  const count = (name: string) => (calls[name] = (calls[name] ?? 0) + 1);
  const answer = (name: string) => (_call: grpc.ServerUnaryCall<any, any>, callback: grpc.sendUnaryData<any>) => {
    count(name);
    setTimeout(() => callback(null, { id: `${name}-${calls[name]}` }), 200);
  };
  const server = new grpc.Server();
  server.addService(loaded.shop.v1.OrderService.service, {
    GetOrder: answer('GetOrder'),
    SearchOrders: answer('SearchOrders'),
    CreateOrder: answer('CreateOrder'),
    ListOrders: (call: grpc.ServerWritableStream<any, any>) => {
      count('ListOrders');
      call.end();
    },
  });
  if (options.reflection !== false) new ReflectionService(definition).addToServer(server);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${options.port ?? 0}`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return {
    address: `127.0.0.1:${port}`,
    calls,
    close: () => new Promise((resolve) => server.tryShutdown(() => resolve())),
    kill: () => server.forceShutdown(),
  };
}
