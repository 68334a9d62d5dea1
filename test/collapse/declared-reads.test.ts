import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { Call, Downstream, Handler } from '../../src/call/call.js';
import { DeclaredReads } from '../../src/collapse/declared-reads.js';
import { MethodPolicy, collapseReason } from '../../src/collapse/method-policy.js';
import { MethodSet } from '../../src/collapse/method-set.js';
import { Descriptors } from '../../src/http/descriptors.js';

const root = fileURLToPath(new URL('../http/protos', import.meta.url));
const descriptors = await Descriptors.load({ protoPaths: [root], protoFiles: [`${root}/shop/v1/orders.proto`], descriptorSet: undefined });
const declared = new DeclaredReads(descriptors.registry);

/** Which of the two handlers a call to `method` reaches. */
function route(policy: (collapser: Handler, passthrough: Handler) => MethodPolicy, method: string): 'collapser' | 'passthrough' {
  let reached: 'collapser' | 'passthrough' | null = null;
  const collapser = { handle: () => (reached = 'collapser') };
  const passthrough = { handle: () => (reached = 'passthrough') };
  policy(collapser, passthrough).handle({ method } as Call, {} as Downstream);
  return reached!;
}

const sources = (only: string[] | null, skip: string[] | null, d: DeclaredReads | null = declared) => ({
  only: only === null ? null : new MethodSet(only),
  skip: skip === null ? null : new MethodSet(skip),
  declared: d,
});

describe('MethodPolicy: a call is collapsed only when something says its method is a read', () => {
  it('collapses methods declared NO_SIDE_EFFECTS; passes through the others, and methods nobody described', () => {
    expect(declared.counts).toEqual({ described: 4, reads: 1 });
    const policy = (c: Handler, p: Handler) => new MethodPolicy(sources(null, null), false, c, p);
    expect(route(policy, '/shop.v1.OrderService/SearchOrders')).toBe('collapser');
    expect(route(policy, '/shop.v1.OrderService/GetOrder')).toBe('passthrough');
    expect(route(policy, '/shop.v1.OrderService/CreateOrder')).toBe('passthrough');
    expect(route(policy, '/other.v1.Catalog/Get')).toBe('passthrough');
  });

  it('adds what COLLAPSER_METHODS lists (* for every method) and what the route says; COLLAPSER_SKIP_METHODS wins over all', () => {
    const listed = (c: Handler, p: Handler) => new MethodPolicy(sources(['/shop.v1.OrderService/GetOrder'], null), false, c, p);
    expect(route(listed, '/shop.v1.OrderService/GetOrder')).toBe('collapser');
    expect(route(listed, '/shop.v1.OrderService/SearchOrders')).toBe('collapser');
    expect(route(listed, '/shop.v1.OrderService/CreateOrder')).toBe('passthrough');
    const every = (c: Handler, p: Handler) => new MethodPolicy(sources(['*'], ['/shop.v1.OrderService/CreateOrder'], null), false, c, p);
    expect(route(every, '/other.v1.Catalog/Get')).toBe('collapser');
    expect(route(every, '/shop.v1.OrderService/CreateOrder')).toBe('passthrough');
    const routeSays = (c: Handler, p: Handler) => new MethodPolicy(sources(null, ['/shop.v1.OrderService/CreateOrder']), true, c, p);
    expect(route(routeSays, '/shop.v1.OrderService/GetOrder')).toBe('collapser');
    expect(route(routeSays, '/shop.v1.OrderService/CreateOrder')).toBe('passthrough');
    const skip = (c: Handler, p: Handler) => new MethodPolicy(sources(['/other.v1.Catalog/'], ['/shop.v1.OrderService/']), false, c, p);
    expect(route(skip, '/shop.v1.OrderService/SearchOrders')).toBe('passthrough');
    expect(route(skip, '/other.v1.Catalog/Get')).toBe('collapser');
  });

  it('says why, as the start-up line and /config_dump do', () => {
    expect(collapseReason(sources(null, null), '/shop.v1.OrderService/SearchOrders')).toBe('declared');
    expect(collapseReason(sources(null, null), '/shop.v1.OrderService/GetOrder')).toBe('not declared a read');
    expect(collapseReason(sources(['/shop.v1.OrderService/GetOrder'], null), '/shop.v1.OrderService/GetOrder')).toBe('listed');
    expect(collapseReason(sources(null, ['/shop.v1.OrderService/']), '/shop.v1.OrderService/SearchOrders', true)).toBe('skipped');
    expect(collapseReason(sources(null, null), '/a.B/C', true)).toBe('route');
  });
});

describe('DeclaredReads', () => {
  it('knows the server streams and names a method that differs only in case', () => {
    expect(declared.streams('/shop.v1.OrderService/ListOrders')).toBe(true);
    expect(declared.streams('/shop.v1.OrderService/SearchOrders')).toBe(false);
    expect(declared.sameButCase('/shop.v1.orderservice/searchorders')).toBe('/shop.v1.OrderService/SearchOrders');
    expect(declared.sameButCase('/shop.v1.OrderService/SearchOrders')).toBeNull();
  });
});

describe('DeclaredReads.misspelled: a listed method the descriptors take for a typo', () => {
  it('names the described method that differs only in case, or the closest of its service', () => {
    expect(declared.misspelled('COLLAPSER_METHODS', ['/shop.v1.OrderService/searchorders'])).toEqual([
      'COLLAPSER_METHODS: /shop.v1.OrderService/searchorders differs only in case from the described /shop.v1.OrderService/SearchOrders; gRPC method names are case-sensitive',
    ]);
    expect(declared.misspelled('COLLAPSER_METHODS', ['/shop.v1.orderservice/GetOrdr'])).toEqual([
      'COLLAPSER_METHODS: the descriptors describe no /shop.v1.orderservice/GetOrdr; did you mean /shop.v1.OrderService/GetOrder?',
    ]);
    expect(declared.misspelled('COLLAPSER_METHODS', ['/shop.v1.OrderService/GetOrder'])).toEqual([]);
  });

  it('leaves methods of undescribed services alone, unless told the descriptors are the backends\' own', () => {
    expect(declared.misspelled('COLLAPSER_METHODS', ['/other.Service/Get'])).toEqual([]);
    expect(declared.misspelled('COLLAPSER_METHODS', ['/other.Service/Get'], true)).toEqual([
      expect.stringContaining('no backend describes /other.Service/Get (the closest described is /shop.v1.OrderService/'),
    ]);
  });
});
