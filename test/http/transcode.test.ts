import { fileURLToPath } from 'node:url';
import { create, toBinary } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import { DescriptorError, Descriptors } from '../../src/http/descriptors.js';
import { BadRequest, requestMessage, responseJson } from '../../src/http/transcode.js';
import { fromBinary, toJson } from '@bufbuild/protobuf';

const root = fileURLToPath(new URL('./protos', import.meta.url));
const descriptors = Descriptors.fromProtoFiles(root, [`${root}/shop/v1/orders.proto`]);
const get = descriptors.method('shop.v1.OrderService', 'GetOrder');
const createOrder = descriptors.method('shop.v1.OrderService', 'CreateOrder');
const list = descriptors.method('shop.v1.OrderService', 'ListOrders');
const { registry } = descriptors;
const asJson = (method: typeof get, bytes: Uint8Array) => toJson(method.input, fromBinary(method.input, bytes), { registry });

describe('descriptors', () => {
  it('compiles .proto files with their imports (buf), and names what a route asks for that is missing', () => {
    expect(get.methodKind).toBe('unary');
    expect(list.methodKind).toBe('server_streaming');
    expect(() => descriptors.method('shop.v1.Nope', 'GetOrder')).toThrowError(/no service shop\.v1\.Nope/);
    expect(() => descriptors.method('shop.v1.OrderService', 'Nope')).toThrowError(/has no method Nope \(it has GetOrder, ListOrders, CreateOrder, SearchOrders\)/);
    expect(() => Descriptors.fromProtoFiles(root, [`${root}/missing.proto`])).toThrowError(DescriptorError);
  });
});

describe('request and response mapping (proto3 canonical JSON)', () => {
  it('fills fields from path variables and query parameters', () => {
    const bytes = requestMessage(get, registry, new Map([['id', 'o-1']]), new URLSearchParams('with_items=true'), undefined, null);
    expect(asJson(get, bytes)).toEqual({ id: 'o-1', withItems: true });
  });

  it('takes the body whole with "*", or into one field, with int64 as strings, enums by name, Timestamps and bytes', () => {
    const order = { id: 'o-2', totalCents: '9007199254740993', status: 'STATUS_OPEN', created: '2026-11-24T01:02:03Z', items: [{ sku: 'a', quantity: '2' }], note: 'aGk=' };
    const whole = requestMessage(createOrder, registry, new Map(), new URLSearchParams(), { order, requestId: 'r' }, '*');
    expect(asJson(createOrder, whole)).toEqual({ order, requestId: 'r' });
    const field = requestMessage(createOrder, registry, new Map([['order.id', 'from-path']]), new URLSearchParams('request_id=q'), order, 'order');
    expect(asJson(createOrder, field)).toEqual({ order: { ...order, id: 'from-path' }, requestId: 'q' });
  });

  it('refuses unknown fields and bad values as a BadRequest naming them', () => {
    expect(() => requestMessage(get, registry, new Map(), new URLSearchParams('colour=red'), undefined, null)).toThrowError(BadRequest);
    expect(() => requestMessage(get, registry, new Map(), new URLSearchParams('colour=red'), undefined, null)).toThrowError(/colour/);
    expect(() => requestMessage(list, registry, new Map(), new URLSearchParams('status=STATUS_LOST'), undefined, null)).toThrowError(/STATUS_LOST/);
    expect(() => requestMessage(createOrder, registry, new Map(), new URLSearchParams(), [1], '*')).toThrowError(/must be a JSON object/);
  });

  it('writes responses in the canonical mapping', () => {
    const orderSchema = get.output;
    const bytes = toBinary(orderSchema, create(orderSchema, { id: 'o', totalCents: 5n, status: 2, items: [] }));
    expect(responseJson(get, registry, bytes)).toEqual({ id: 'o', totalCents: '5', status: 'STATUS_SHIPPED' });
  });
});

describe('descriptors from a FileDescriptorSet', () => {
  it('reads what buf build (or protoc --include_imports --descriptor_set_out) writes', async () => {
    const { execFileSync } = await import('node:child_process');
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { createRequire } = await import('node:module');
    const out = join(mkdtempSync(join(tmpdir(), 'corral-fds-')), 'orders.binpb');
    const buf = createRequire(import.meta.url).resolve('@bufbuild/buf/bin/buf');
    execFileSync(buf, ['build', root, '--as-file-descriptor-set', '-o', out]);
    const fromSet = Descriptors.fromDescriptorSet(out);
    expect(fromSet.method('shop.v1.OrderService', 'ListOrders').methodKind).toBe('server_streaming');
    expect(() => Descriptors.fromDescriptorSet(join(root, 'shop/v1/orders.proto'))).toThrowError(/not a FileDescriptorSet/);
    expect(() => Descriptors.fromDescriptorSet('/nowhere.binpb')).toThrowError(/cannot read it/);
  });
});
