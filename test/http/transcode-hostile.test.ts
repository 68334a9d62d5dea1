/**
 * The transcoder as an attacker feeds it: field paths, query strings and JSON bodies
 * chosen to reach Object.prototype. Whatever comes in, a request becomes a message or a
 * BadRequest, and no prototype changes.
 */
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { Descriptors } from '../../src/http/descriptors.js';
import { BadRequest, requestMessage } from '../../src/http/transcode.js';
import type { JsonValue } from '@bufbuild/protobuf';

const root = fileURLToPath(new URL('./protos', import.meta.url));
const descriptors = await Descriptors.load({ protoPaths: [root], protoFiles: [`${root}/shop/v1/orders.proto`], descriptorSet: undefined });
const get = descriptors.method('shop.v1.OrderService', 'GetOrder');
const createOrder = descriptors.method('shop.v1.OrderService', 'CreateOrder');
const { registry } = descriptors;
const NO_VARIABLES = new Map<string, string>();

/** What Object.prototype and Function.prototype hold before any request. */
const pristine = {
  object: Object.getOwnPropertyNames(Object.prototype).sort(),
  function: Object.getOwnPropertyNames(Function.prototype).sort(),
};

function untouched(): void {
  expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(pristine.object);
  expect(Object.getOwnPropertyNames(Function.prototype).sort()).toEqual(pristine.function);
  expect(({} as Record<string, unknown>)['x-injected']).toBeUndefined();
}

/** A request message, or the BadRequest a client gets; any other exception fails the test. */
function transcode(method: typeof get, query: string, body: JsonValue | undefined, rule: '*' | null, variables = NO_VARIABLES): 'ok' | 'bad' {
  try {
    requestMessage(method, registry, variables, new URLSearchParams(query), body, rule);
    return 'ok';
  } catch (err) {
    if (err instanceof BadRequest) return 'bad';
    throw err;
  }
}

afterEach(() => {
  // A failed check above must not leave the damage to the next test.
  for (const name of Object.getOwnPropertyNames(Object.prototype)) if (!pristine.object.includes(name)) delete (Object.prototype as Record<string, unknown>)[name];
});

describe('hostile requests at the transcoder', () => {
  it('refuses query parameters that walk into a prototype, naming them, and sets nothing', () => {
    for (const query of ['__proto__.x-injected=evil', 'constructor.prototype.x-injected=evil', '__proto__=evil', 'id.__proto__.x-injected=1', 'toString=1']) {
      expect(() => requestMessage(get, registry, NO_VARIABLES, new URLSearchParams(query), undefined, null)).toThrowError(BadRequest);
      untouched();
    }
    expect(() => requestMessage(get, registry, NO_VARIABLES, new URLSearchParams('__proto__.x-injected=evil'), undefined, null)).toThrowError(
      "query parameter '__proto__.x-injected' is not a field of shop.v1.GetOrderRequest",
    );
  });

  it('refuses JSON bodies with __proto__ or constructor keys, at the top or nested', () => {
    for (const text of ['{"__proto__": {"x-injected": "evil"}}', '{"constructor": {"prototype": {"x-injected": "evil"}}}', '{"order": {"__proto__": {"x-injected": "evil"}}}']) {
      expect(transcode(createOrder, '', JSON.parse(text) as JsonValue, '*')).toBe('bad');
      untouched();
    }
  });

  it('refuses a path variable that is not a field', () => {
    expect(() => requestMessage(get, registry, new Map([['__proto__.x-injected', 'evil']]), new URLSearchParams(), undefined, null)).toThrowError(
      "path variable '__proto__.x-injected' is not a field of shop.v1.GetOrderRequest",
    );
    untouched();
  });

  it('still fills nested fields from the query next to a body', () => {
    expect(transcode(createOrder, 'order.id=o-1&requestId=r', { order: { note: 'aGk=' } }, '*')).toBe('ok');
  });

  it('never changes a prototype, whatever field paths, query strings and JSON come in (property)', () => {
    const segment = fc.oneof(
      fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'hasOwnProperty', 'x-injected', 'order', 'id', 'note', 'items', 'requestId', 'request_id', 'attributes', 'with_items'),
      fc.string({ maxLength: 12 }),
    );
    const path = fc.array(segment, { minLength: 1, maxLength: 5 }).map((parts) => parts.join('.'));
    const query = fc.array(fc.tuple(path, fc.string({ maxLength: 8 })), { maxLength: 6 }).map((pairs) => {
      const q = new URLSearchParams();
      for (const [k, v] of pairs) q.append(k, v);
      return q.toString();
    });
    const key = fc.oneof(segment, fc.string({ maxLength: 8 }));
    const json = fc.letrec<{ value: JsonValue }>((tie) => ({
      value: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        fc.string({ maxLength: 8 }),
        fc.integer(),
        fc.boolean(),
        fc.constant(null),
        fc.array(tie('value'), { maxLength: 3 }),
        fc.dictionary(key, tie('value'), { maxKeys: 4 }),
      ),
    })).value;
    const body = fc.oneof(
      json,
      // JSON.parse makes __proto__ an own key, as a body on the wire does.
      fc.dictionary(key, json, { maxKeys: 4 }).map((o) => JSON.parse(JSON.stringify(o).replace(/^\{"/, '{"__proto__":{"x-injected":1},"')) as JsonValue),
    );
    const variables = fc.array(fc.tuple(path, fc.string({ maxLength: 8 })), { maxLength: 2 }).map((pairs) => new Map(pairs));
    fc.assert(
      fc.property(query, body, variables, fc.constantFrom<'*' | null>('*', null), (q, b, v, rule) => {
        transcode(createOrder, q, b, rule, v);
        transcode(get, q, undefined, null, v);
        untouched();
      }),
      { numRuns: 2000 },
    );
  });
});
