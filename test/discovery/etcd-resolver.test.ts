/**
 * EtcdResolver's reactions that a live cluster cannot be made to show on demand: a watch
 * etcd cancels (its start revision was compacted) and a record that is not an instance.
 * The client here is scripted; test/integration/registry.test.ts runs it on real etcd.
 */
import { EventEmitter } from 'node:events';
import type { Etcd3 } from 'etcd3';
import { describe, expect, it } from 'vitest';
import { EtcdResolver } from '../../src/discovery/etcd.js';
import type { Resolution } from '../../src/discovery/endpoint.js';
import { createLogger } from '../../src/log/logger.js';
import { until } from '../support/until.js';

const PREFIX = '/corral/v1/services/orders/instances/';
const kv = (id: string, address: string, state = 'SERVING') => ({
  key: Buffer.from(PREFIX + id),
  value: Buffer.from(JSON.stringify({ instance_id: id, address, state, started_at: '2026-11-24T00:00:00Z', version: 't' })),
});

class ScriptedEtcd {
  lists: Array<{ kvs: ReturnType<typeof kv>[]; revision: string }> = [];
  watchers: Array<EventEmitter & { from: string; cancel(): Promise<void> }> = [];
  getAll() {
    return { prefix: () => ({ exec: async () => { const l = this.lists.shift()!; return { kvs: l.kvs, header: { revision: l.revision } }; } }) };
  }
  watch() {
    let from = '';
    const builder = {
      prefix: () => builder,
      startRevision: (r: string) => ((from = r), builder),
      create: async () => {
        const w = Object.assign(new EventEmitter(), { from, cancel: async () => undefined });
        this.watchers.push(w);
        return w;
      },
    };
    return builder;
  }
  close() {}
}

describe('EtcdResolver', () => {
  it('watches from the listed revision + 1, keeps only SERVING instances, and lists again when etcd cancels the watch', async () => {
    const etcd = new ScriptedEtcd();
    etcd.lists.push({ kvs: [kv('a', '127.0.0.1:1'), kv('d', '127.0.0.1:4', 'DRAINING')], revision: '10' });
    const seen: Resolution[] = [];
    const r = new EtcdResolver({ endpoints: ['x:1'], service: 'orders', prefix: '/corral/v1/', retryMinMs: 10 }, createLogger('silent'), etcd as unknown as Etcd3);
    r.start((res) => seen.push(res));
    await until('etcd.watchers.length === 1', () => etcd.watchers.length === 1);
    expect(etcd.watchers[0]!.from).toBe('11');
    expect(seen.at(-1)!.endpoints.map((e) => e.id)).toEqual(['a']);
    etcd.watchers[0]!.emit('put', kv('b', '127.0.0.1:2'));
    etcd.watchers[0]!.emit('put', { key: Buffer.from(PREFIX + 'junk'), value: Buffer.from('not json') });
    expect(seen.at(-1)!.endpoints.map((e) => e.id)).toEqual(['a', 'b']);
    // Canceled: e.g. "mvcc: required revision has been compacted".
    etcd.lists.push({ kvs: [kv('a', '127.0.0.1:1'), kv('c', '127.0.0.1:3')], revision: '42' });
    etcd.watchers[0]!.emit('error', new Error('Watcher canceled: mvcc: required revision has been compacted'));
    expect(r.health.lastError).toMatch(/compacted/);
    await until('etcd.watchers.length === 2', () => etcd.watchers.length === 2);
    expect(etcd.watchers[1]!.from).toBe('43');
    expect(seen.at(-1)!.endpoints.map((e) => e.id)).toEqual(['a', 'c']);
    expect(r.health.lastError).toBeNull();
    etcd.watchers[1]!.emit('delete', kv('a', '127.0.0.1:1'));
    expect(seen.at(-1)!.endpoints.map((e) => e.id)).toEqual(['c']);
    r.stop();
  });
});
