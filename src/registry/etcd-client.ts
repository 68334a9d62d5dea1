import { createRequire } from 'node:module';
import type { Etcd3 } from 'etcd3';

// Loaded on first use: etcd3 brings grpc-js and protobufjs, which a corral without a
// registry, etcd discovery or a fleet would carry in memory for nothing.
const require = createRequire(import.meta.url);

/**
 * An etcd v3 client for the members given (host:port, cleartext): it moves to another
 * member when one fails; unary calls give up after 5 s, streams (watches, keepalives) last.
 */
export function connectEtcd(endpoints: readonly string[]): Etcd3 {
  const etcd3 = require('etcd3') as typeof import('etcd3');
  return new etcd3.Etcd3({
    hosts: endpoints.map((e) => `http://${e}`),
    dialTimeout: 3000,
    defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + 5000 }),
  });
}
