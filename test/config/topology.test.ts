import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { TestCa } from '../support/certificates.js';
import { parseTopology } from '../../src/config/topology.js';

const example = readFileSync(new URL('../../examples/mygateway.yaml', import.meta.url), 'utf8');

describe('topology file', () => {
  it("accepts MyGateway's example config unchanged", () => {
    const t = parseTopology(example, 'mygateway.yaml');
    expect(t.default).toEqual({ action: 'error' });
    expect(t.routes.map((r) => [r.prefix, r.cluster, r.authorization, r.balancer])).toEqual([
      ['/my_service.MyServiceAPI/Login', 'myauth', 'none', { type: 'round_robin' }],
      ['/my_service.MyServiceAPI/MyService', 'my_service', 'required', { type: 'sticky_sessions', header: 'session-id' }],
    ]);
    expect(t.clusters).toEqual({
      myauth: { type: 'static', addresses: ['myauth:5001'] },
      my_service: { type: 'dynamic', discovererUrl: 'http://mydiscoverer:8080', intervalMs: 5000 },
    });
    expect(t.routes[0]!.collapse).toBeUndefined(); // as the method policy says
    expect(t.routes[0]!.sessionTransfer).toBe(false);
  });

  it('reads per-route policy, metadata matchers and every cluster type', () => {
    const t = parseTopology(
      `
default: { action: use_cluster, use_cluster: brokers }
routes:
  - prefix: /queue.Broker/
    cluster: brokers
    metadata: [{ name: to-leader, equals: "true" }, { name: topic, present: true }]
    collapse: false
    cache_ttl_ms: 0
    timeout_ms: 2500
    key_metadata: [topic, partition]
    session_transfer: true
    balancer: { type: least_request }
clusters:
  brokers: { type: shard_map, shard_map_url: "http://127.0.0.1:1/shards" }
  web: { type: dns, address: "web.default.svc:8080", dns_interval_ms: 1000 }
  many: { type: static, addresses: ["a:1", "b:2"] }
`,
      'inline',
    );
    expect(t.default).toEqual({ action: 'use_cluster', cluster: 'brokers' });
    expect(t.routes[0]).toMatchObject({
      metadata: [{ name: 'to-leader', equals: 'true' }, { name: 'topic', present: true }],
      collapse: false,
      cacheTtlMs: 0,
      timeoutMs: 2500,
      keyMetadata: ['topic', 'partition'],
      sessionTransfer: true,
      balancer: { type: 'least_request' },
    });
    expect(t.clusters.brokers).toEqual({ type: 'shard_map', url: 'http://127.0.0.1:1/shards', intervalMs: 5000 });
    expect(t.clusters.web).toEqual({ type: 'dns', host: 'web.default.svc', port: 8080, intervalMs: 1000 });
    expect(t.clusters.many).toEqual({ type: 'static', addresses: ['a:1', 'b:2'] });
  });

  it('names the field and the value of each mistake', () => {
    const bad = `
default: { action: use_cluster, use_cluster: nowhere }
routes:
  - prefix: my_service/Login
    cluster: ghost
    balancer: { type: random }
  - prefix: /x/
    cluster: a
    balancer: { type: sticky_sessions }
    colapse: false
clusters:
  a: { type: static, address: "no-port" }
  b: { type: dynamic, discoverer_url: "ftp://x", discoverer_interval_ms: 5 }
`;
    let message = '';
    try {
      parseTopology(bad, 'bad.yaml');
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/^bad\.yaml: /);
    expect(message).toMatch(/routes\[0\]\.prefix="my_service\/Login": expected a method prefix starting with \//);
    expect(message).toMatch(/routes\[0\]\.balancer\.type="random": expected type round_robin/);
    expect(message).toMatch(/routes\[1\]\.balancer\.header: /);
    expect(message).toMatch(/routes\[1\]\.colapse=false: unknown field/);
    expect(message).toMatch(/clusters\.a\.address="no-port": expected host:port/);
    expect(message).toMatch(/clusters\.b\.discoverer_url="ftp:\/\/x": expected an http/);
    expect(message).toMatch(/clusters\.b\.discoverer_interval_ms=5: expected a whole number of milliseconds, at least 100/);
  });

  it('reads a cluster of type etcd, with the registry prefix by default', () => {
    const t = parseTopology('clusters: { orders: { type: etcd, etcd_endpoints: ["10.0.0.1:2379"], service: orders } }', 'f');
    expect(t.clusters.orders).toEqual({ type: 'etcd', endpoints: ['10.0.0.1:2379'], service: 'orders', prefix: '/corral/v1/' });
    expect(() => parseTopology('clusters: { orders: { type: etcd, etcd_endpoints: [], service: orders } }', 'f')).toThrowError(/clusters\.orders\.etcd_endpoints/);
  });

  it('checks that routes and the default name clusters that exist', () => {
    expect(() =>
      parseTopology('default: { action: use_cluster, use_cluster: nowhere }\nroutes: [{ prefix: /a, cluster: ghost }]\nclusters: { a: { type: static, address: "h:1" } }', 'f'),
    ).toThrowError(/routes\[0\]\.cluster="ghost": no such cluster \(known: a\); default\.use_cluster="nowhere": no such cluster/);
    expect(() => parseTopology('clusters: { a: { type: static } }', 'f')).toThrowError(/clusters\.a: a static cluster needs address or addresses/);
    expect(() => parseTopology('routes: [', 'f')).toThrowError(/f: not valid YAML/);
  });

  it('reads a cluster\'s tls, whatever its type, and names what is wrong in it', () => {
    const ca = new TestCa('topology');
    const client = ca.issue({ cn: 'corral-client' });
    const t = parseTopology(
      `clusters:\n  secure: { type: static, address: "h:1", tls: { ca_file: "${ca.certFile}", cert_file: "${client.certFile}", key_file: "${client.keyFile}", server_name: backend.internal } }\n  plain: { type: dns, address: "h:1" }\n`,
      'f',
    );
    expect(t.clusters.secure).toEqual({ type: 'static', addresses: ['h:1'] });
    expect(t.clusterTls.secure).toMatchObject({ serverName: 'backend.internal' });
    expect(t.clusterTls.secure!.cert!.equals(readFileSync(client.certFile))).toBe(true);
    expect(t.clusterTls.plain).toBeUndefined();
    expect(() => parseTopology('clusters: { a: { type: static, address: "h:1", tls: { cert_file: /x } } }', 'f')).toThrowError(/clusters\.a\.tls: cert_file and key_file go together/);
    expect(() => parseTopology('clusters: { a: { type: static, address: "h:1", tls: { ca_file: /nowhere/ca.pem } } }', 'f')).toThrowError(/clusters\.a\.tls\.ca_file=\/nowhere\/ca\.pem: cannot read it \(ENOENT\)/);
    expect(() => parseTopology('clusters: { a: { type: static, address: "h:1", tls: { sni: x } } }', 'f')).toThrowError(/clusters\.a\.tls\.sni="x": unknown field/);
    expect(() => parseTopology(`clusters: { a: { type: static, address: "h:1", tls: { cert_file: "${client.certFile}", key_file: "${ca.certFile.replace('.crt', '.key')}" } } }`, 'f')).toThrowError(/clusters\.a\.tls\.key_file=.* is not the key of clusters\.a\.tls\.cert_file=/);
  });
});
