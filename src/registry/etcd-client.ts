import { createRequire } from 'node:module';
import type { Etcd3 } from 'etcd3';
import type { ClientTls } from '../tls/client-tls.js';

// Loaded on first use: etcd3 brings grpc-js and protobufjs, which a corral without a
// registry, etcd discovery or a fleet would carry in memory for nothing.
const require = createRequire(import.meta.url);

/**
 * An etcd v3 client for the members given (host:port; over TLS with `tls`, the
 * REGISTRY_ETCD_* files): it moves to another member when one fails; unary calls give up
 * after 5 s, streams (watches, keepalives) last.
 */
export function connectEtcd(endpoints: readonly string[], tls: ClientTls | null = null): Etcd3 {
  const etcd3 = require('etcd3') as typeof import('etcd3');
  return new etcd3.Etcd3({
    hosts: endpoints.map((e) => `${tls === null ? 'http' : 'https'}://${e}`),
    ...(tls === null
      ? {}
      : {
          credentials: { rootCertificate: tls.ca!, ...(tls.cert !== undefined ? { certChain: tls.cert, privateKey: tls.key! } : {}) },
          ...(tls.serverName !== undefined ? { grpcOptions: { 'grpc.ssl_target_name_override': tls.serverName } } : {}),
        }),
    dialTimeout: 3000,
    defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + 5000 }),
  });
}
