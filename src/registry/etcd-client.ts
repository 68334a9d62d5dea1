import { Etcd3 } from 'etcd3';

/**
 * An etcd v3 client for the members given (host:port, cleartext): it moves to another
 * member when one fails; unary calls give up after 5 s, streams (watches, keepalives) last.
 */
export function connectEtcd(endpoints: readonly string[]): Etcd3 {
  return new Etcd3({
    hosts: endpoints.map((e) => `http://${e}`),
    dialTimeout: 3000,
    defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + 5000 }),
  });
}
