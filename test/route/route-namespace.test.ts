import { describe, expect, it } from 'vitest';
import { defaultRoute, type ClusterSpec } from '../../src/config/topology.js';
import { routeNamespace } from '../../src/route/route-namespace.js';

const route = defaultRoute('/shop.Cart/', 'cart');
const cluster: ClusterSpec = { type: 'static', addresses: ['10.0.0.1:50051'] };

describe('routeNamespace', () => {
  it('is the same for the same route and cluster, on any sidecar and after a reload', () => {
    expect(routeNamespace(route, cluster)).toBe(routeNamespace(structuredClone(route), structuredClone(cluster)));
  });

  it('changes when the route or its cluster changes', () => {
    const base = routeNamespace(route, cluster);
    expect(routeNamespace({ ...route, cacheTtlMs: 5 }, cluster)).not.toBe(base);
    expect(routeNamespace({ ...route, keyMetadata: ['x-tenant'] }, cluster)).not.toBe(base);
    expect(routeNamespace(route, { type: 'static', addresses: ['10.0.0.2:50051'] })).not.toBe(base);
  });
});
