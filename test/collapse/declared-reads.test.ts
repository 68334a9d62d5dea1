import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { Call, Downstream, Handler } from '../../src/call.js';
import { DeclaredReads } from '../../src/collapse/declared-reads.js';
import { MethodPolicy } from '../../src/collapse/method-policy.js';
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

describe('DeclaredReads: idempotency levels decide for the gRPC methods the descriptors describe', () => {
  it('collapses methods declared NO_SIDE_EFFECTS and methods not described, passes the others through', () => {
    expect(declared.counts).toEqual({ described: 4, reads: 1 });
    const policy = (c: Handler, p: Handler) => new MethodPolicy(null, null, declared, c, p);
    expect(route(policy, '/shop.v1.OrderService/SearchOrders')).toBe('collapser');
    expect(route(policy, '/shop.v1.OrderService/GetOrder')).toBe('passthrough');
    expect(route(policy, '/shop.v1.OrderService/CreateOrder')).toBe('passthrough');
    expect(route(policy, '/other.v1.Catalog/Get')).toBe('collapser');
  });

  it('gives way to COLLAPSER_METHODS, and COLLAPSER_SKIP_METHODS excludes whatever is declared', () => {
    const only = (c: Handler, p: Handler) => new MethodPolicy(new MethodSet(['/shop.v1.OrderService/GetOrder']), null, declared, c, p);
    expect(route(only, '/shop.v1.OrderService/GetOrder')).toBe('collapser');
    expect(route(only, '/shop.v1.OrderService/SearchOrders')).toBe('passthrough');
    const skip = (c: Handler, p: Handler) => new MethodPolicy(null, new MethodSet(['/shop.v1.OrderService/']), declared, c, p);
    expect(route(skip, '/shop.v1.OrderService/SearchOrders')).toBe('passthrough');
    expect(route(skip, '/other.v1.Catalog/Get')).toBe('collapser');
  });
});
