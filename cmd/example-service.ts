/** Loads the example service definition, shared by the example backend, client and tests. */
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

// From dist/cmd/ the .proto is two levels up in the source tree; from cmd/ (tests), beside it.
const candidates = ['../../cmd/proto/example.proto', './proto/example.proto'].map((p) =>
  fileURLToPath(new URL(p, import.meta.url)),
);

const { existsSync } = await import('node:fs');
const protoPath = candidates.find((p) => existsSync(p))!;

export const definition = protoLoader.loadSync(protoPath, {
  keepCase: false,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
});
const loaded = grpc.loadPackageDefinition(definition) as unknown as {
  corral: { example: { v1: { Example: grpc.ServiceClientConstructor } } };
};

export const ExampleClient = loaded.corral.example.v1.Example;
export const exampleService = ExampleClient.service;
export type ExampleClient = grpc.Client & Record<string, (...args: unknown[]) => unknown>;

/**
 * The same methods served under MyGateway's service name, so its example config routes
 * to this backend unchanged: Login and MyServiceEcho answer as Lookup, MyServiceSubscribe
 * as Watch (a server stream).
 */
const MY_SERVICE_METHODS = { Login: 'Lookup', MyServiceEcho: 'Lookup', MyServiceSubscribe: 'Watch' } as const;
export const myService: grpc.ServiceDefinition = Object.fromEntries(
  Object.entries(MY_SERVICE_METHODS).map(([name, from]) => [
    name,
    { ...exampleService[from]!, path: `/my_service.MyServiceAPI/${name}`, originalName: name },
  ]),
);
export const MyServiceClient = grpc.makeGenericClientConstructor(myService, 'MyServiceAPI');
/** For the backend: MyGateway's method names mapped to the example handlers that serve them. */
export function myServiceHandlers(handlers: grpc.UntypedServiceImplementation): grpc.UntypedServiceImplementation {
  return Object.fromEntries(Object.entries(MY_SERVICE_METHODS).map(([name, from]) => [name, handlers[from]!]));
}
