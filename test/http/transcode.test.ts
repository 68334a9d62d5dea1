import { fileURLToPath } from 'node:url';
import { create, toBinary } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import { DescriptorError, Descriptors } from '../../src/http/descriptors.js';
import { BadRequest, requestMessage, responseJson } from '../../src/http/transcode.js';
import { fromBinary, toJson } from '@bufbuild/protobuf';

const root = fileURLToPath(new URL('./protos', import.meta.url));
const annotated = fileURLToPath(new URL('./annotated', import.meta.url));
const fromFiles = (protoPaths: string[], protoFiles: string[], descriptorSet?: string) => Descriptors.load({ protoPaths, protoFiles, descriptorSet });
const descriptors = await fromFiles([root], [`${root}/shop/v1/orders.proto`]);
const get = descriptors.method('shop.v1.OrderService', 'GetOrder');
const createOrder = descriptors.method('shop.v1.OrderService', 'CreateOrder');
const list = descriptors.method('shop.v1.OrderService', 'ListOrders');
const { registry } = descriptors;
const asJson = (method: typeof get, bytes: Uint8Array) => toJson(method.input, fromBinary(method.input, bytes), { registry });

describe('descriptors', () => {
  it('compiles .proto files with their imports (buf), and names what a route asks for that is missing', async () => {
    expect(get.methodKind).toBe('unary');
    expect(list.methodKind).toBe('server_streaming');
    expect(() => descriptors.method('shop.v1.Nope', 'GetOrder')).toThrowError(/no service shop\.v1\.Nope/);
    expect(() => descriptors.method('shop.v1.OrderService', 'Nope')).toThrowError(/has no method Nope \(it has GetOrder, ListOrders, CreateOrder, SearchOrders\)/);
    await expect(fromFiles([root], [`${root}/missing.proto`])).rejects.toThrowError(DescriptorError);
  });

  it('compiles where nothing but the temporary directory is writable (buf caches there, not under HOME)', async () => {
    const saved = { HOME: process.env.HOME, XDG_CACHE_HOME: process.env.XDG_CACHE_HOME };
    process.env.HOME = '/proc/1'; // no .cache can be made there, whoever runs the test
    delete process.env.XDG_CACHE_HOME;
    try {
      expect((await fromFiles([root], [`${root}/shop/v1/orders.proto`])).method('shop.v1.OrderService', 'GetOrder').name).toBe('GetOrder');
    } finally {
      for (const [name, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  });

  it('takes several include paths as protoc -I does, and has google/api/annotations.proto without a googleapis copy', async () => {
    const annotatedFile = `${annotated}/shop/v1/order_api.proto`;
    const both = await fromFiles([root, annotated], [annotatedFile]);
    expect(both.method('shop.v1.OrderApi', 'GetOrder').input.typeName).toBe('shop.v1.GetOrderRequest');
    expect(both.registry.getExtension('google.api.http')?.extendee.typeName).toBe('google.protobuf.MethodOptions');
    // The file imports shop/v1/orders.proto, which only the other include path has: buf's message names the real path.
    await expect(fromFiles([annotated], [annotatedFile])).rejects.toThrowError(new RegExp(`${annotated}/shop/v1/order_api.proto:6:1:imported file does not exist`));
    await expect(fromFiles([annotated], [`${root}/shop/v1/orders.proto`])).rejects.toThrowError(/'.*orders.proto' is not under any of proto_paths/);
  });
});

describe('request and response mapping (proto3 canonical JSON)', () => {
  it('fills fields from path variables and query parameters', () => {
    const bytes = requestMessage(get, registry, new Map([['id', 'o-1']]), new URLSearchParams('with_items=true'), undefined, null);
    expect(asJson(get, bytes)).toEqual({ id: 'o-1', withItems: true });
  });

  it('takes the body whole with "*", or into one field, with int64 as strings, enums by name, Timestamp, Duration, bytes, wrappers and Struct', () => {
    const order = {
      id: 'o-2',
      totalCents: '9007199254740993',
      status: 'STATUS_OPEN',
      created: '2026-11-24T01:02:03Z',
      items: [{ sku: 'a', quantity: '2' }],
      note: 'aGk=',
      holdFor: '3.500s',
      coupon: 'WELCOME',
      attributes: { gift: true, tags: ['a', 'b'], weight: 1.5, box: { size: 'S' } },
    };
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
    // google.api.http's response_body: one field, present even when empty.
    expect(responseJson(get, registry, bytes, 'items')).toEqual([]);
    expect(responseJson(get, registry, bytes, 'status')).toBe('STATUS_SHIPPED');
  });

  it("writes proto field names and unpopulated fields when asked (grpc-gateway's UseProtoNames, EmitUnpopulated)", () => {
    const orderSchema = get.output;
    const bytes = toBinary(orderSchema, create(orderSchema, { id: 'o', totalCents: 5n }));
    expect(responseJson(get, registry, bytes, null, { useProtoNames: true, emitUnpopulated: false })).toEqual({ id: 'o', total_cents: '5' });
    expect(responseJson(get, registry, bytes, null, { useProtoNames: false, emitUnpopulated: true })).toMatchObject({
      id: 'o',
      totalCents: '5',
      status: 'STATUS_UNSPECIFIED',
      items: [],
      note: '',
    });
    expect(responseJson(get, registry, bytes, 'total_cents', { useProtoNames: true, emitUnpopulated: false })).toBe('5');
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
    const fromSet = await fromFiles([], [], out);
    expect(fromSet.method('shop.v1.OrderService', 'ListOrders').methodKind).toBe('server_streaming');
    await expect(fromFiles([], [], join(root, 'shop/v1/orders.proto'))).rejects.toThrowError(/not a FileDescriptorSet/);
    await expect(fromFiles([], [], '/nowhere.binpb')).rejects.toThrowError(/cannot read it/);
    // Both sources: the set's files, and the .proto files compiled against their own includes.
    const merged = await fromFiles([root, annotated], [`${annotated}/shop/v1/order_api.proto`], out);
    expect(merged.method('shop.v1.OrderApi', 'ListOrders').output).toBe(merged.method('shop.v1.OrderService', 'ListOrders').output);
  });
});
