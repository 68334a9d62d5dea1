import { describe, expect, it } from 'vitest';
import { MethodOptions_IdempotencyLevel } from '@bufbuild/protobuf/wkt';
import { createLogger } from '../../src/log/logger.js';
import { reflect, ReflectionUnavailable } from '../../src/reflection/server-reflection.js';
import { SessionPool } from '../../src/transport/session-pool.js';
import { startReflectingBackend } from '../support/reflecting-backend.js';

/** corral's own sessions to a backend, as the reflector asks over them. */
function sessionsTo(address: string): SessionPool {
  return new SessionPool(
    { address, connectTimeoutMs: 2000, reconnectMinMs: 100, reconnectMaxMs: 1000, keepaliveTimeMs: 60_000, keepaliveTimeoutMs: 5000, maxSessions: 2, streamsPerSession: 32 },
    createLogger('silent'),
  );
}

describe('server reflection', () => {
  it('reads the services a backend describes, with their methods idempotency levels', async () => {
    const backend = await startReflectingBackend();
    const sessions = sessionsTo(backend.address);
    try {
      const registry = await reflect(sessions, backend.address, 5000);
      const service = registry.getService('shop.v1.OrderService')!;
      expect(service.methods.map((m) => [m.name, m.idempotency])).toEqual([
        ['GetOrder', MethodOptions_IdempotencyLevel.IDEMPOTENCY_UNKNOWN],
        ['ListOrders', MethodOptions_IdempotencyLevel.IDEMPOTENCY_UNKNOWN],
        ['CreateOrder', MethodOptions_IdempotencyLevel.IDEMPOTENCY_UNKNOWN],
        ['SearchOrders', MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS],
      ]);
      // One connection, corral's own: the questions took no other.
      expect(sessions.sessionCount).toBe(1);
    } finally {
      sessions.destroy();
      await backend.close();
    }
  });

  it('says so when a backend serves no reflection', async () => {
    const backend = await startReflectingBackend({ reflection: false });
    const sessions = sessionsTo(backend.address);
    try {
      const err = await reflect(sessions, backend.address, 5000).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ReflectionUnavailable);
      expect((err as ReflectionUnavailable).unsupported).toBe(true);
    } finally {
      sessions.destroy();
      await backend.close();
    }
  });
});
