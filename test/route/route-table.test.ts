import { describe, expect, it } from 'vitest';
import type { Handler } from '../../src/call/call.js';
import { RouteTable, type MetadataMatcher, type Route } from '../../src/route/route-table.js';

const noop: Handler = { handle() {} };
const route = (name: string, prefix: string, metadata: MetadataMatcher[] = []): Route => ({ name, cluster: 'c', prefix, metadata, handler: noop });

describe('route table', () => {
  const table = new RouteTable(
    [
      route('service', '/queue.Broker/'),
      route('publish', '/queue.Broker/Publish'),
      route('publish to leader', '/queue.Broker/Publish', [{ name: 'to-leader', equals: 'true' }]),
      route('publish with topic', '/queue.Broker/Publish', [{ name: 'topic', present: true }]),
      route('untraced', '/queue.Broker/Fetch', [{ name: 'x-trace', present: false }]),
    ],
    route('default', '/'),
  );
  const pick = (method: string, headers: Record<string, string | string[]> = {}) => table.match(method, headers)?.name;

  it('takes the longest matching prefix of the method', () => {
    expect(pick('/queue.Broker/Publish')).toBe('publish');
    expect(pick('/queue.Broker/Subscribe')).toBe('service');
    expect(pick('/other.Service/Call')).toBe('default');
  });

  it('prefers the route with matching metadata, equals and present', () => {
    expect(pick('/queue.Broker/Publish', { 'to-leader': 'true' })).toBe('publish to leader');
    expect(pick('/queue.Broker/Publish', { 'to-leader': 'false' })).toBe('publish');
    expect(pick('/queue.Broker/Publish', { topic: 'orders' })).toBe('publish with topic');
    expect(pick('/queue.Broker/Publish', { 'to-leader': ['false', 'true'] })).toBe('publish to leader');
  });

  it('matches absent metadata with present: false', () => {
    expect(pick('/queue.Broker/Fetch')).toBe('untraced');
    expect(pick('/queue.Broker/Fetch', { 'x-trace': '1' })).toBe('service');
  });

  it('gives null without a default', () => {
    expect(new RouteTable([route('a', '/a.A/')], null).match('/b.B/X', {})).toBeNull();
  });
});
