/** grpc-js stubs of the interop TestService (test/interop/test-service.proto), for tests. */
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

const definition = protoLoader.loadSync(fileURLToPath(new URL('../interop/test-service.proto', import.meta.url)), {
  keepCase: true,
  longs: Number,
  defaults: true,
});
const loaded = grpc.loadPackageDefinition(definition) as unknown as {
  grpc: { testing: { TestService: grpc.ServiceClientConstructor } };
};

export const TestServiceClient = loaded.grpc.testing.TestService;
export const testService = TestServiceClient.service;
export type TestClient = grpc.Client & Record<string, any>;

export function testClient(address: string, options: grpc.ChannelOptions = {}): TestClient {
  return new TestServiceClient(address, grpc.credentials.createInsecure(), {
    'grpc.max_receive_message_length': 16 << 20,
    ...options,
  }) as TestClient;
}
