import { describe, expect, it } from 'vitest';
import { MethodOptions_IdempotencyLevel } from '@bufbuild/protobuf/wkt';
import { reflect, ReflectionUnavailable } from '../../src/reflection/server-reflection.js';
import { startReflectingBackend } from '../support/reflecting-backend.js';

describe('server reflection', () => {
  it('reads the services a backend describes, with their methods idempotency levels', async () => {
    const backend = await startReflectingBackend();
    try {
      const registry = await reflect(backend.address, 5000);
      const service = registry.getService('shop.v1.OrderService')!;
      expect(service.methods.map((m) => [m.name, m.idempotency])).toEqual([
        ['GetOrder', MethodOptions_IdempotencyLevel.IDEMPOTENCY_UNKNOWN],
        ['ListOrders', MethodOptions_IdempotencyLevel.IDEMPOTENCY_UNKNOWN],
        ['CreateOrder', MethodOptions_IdempotencyLevel.IDEMPOTENCY_UNKNOWN],
        ['SearchOrders', MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS],
      ]);
    } finally {
      await backend.close();
    }
  });

  it('says so when a backend serves no reflection', async () => {
    const backend = await startReflectingBackend({ reflection: false });
    try {
      const err = await reflect(backend.address, 5000).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ReflectionUnavailable);
      expect((err as ReflectionUnavailable).unsupported).toBe(true);
    } finally {
      await backend.close();
    }
  });
});
