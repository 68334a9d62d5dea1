/** Real HS256 JWTs, as MyAuth issues them, for tests. */
import { createSigner } from 'fast-jwt';

export const JWT_SECRET = 'corral-test-secret-with-32-bytes!';

/** A token for `sessionId`, valid for an hour unless the claims say otherwise. */
export function token(claims: Record<string, unknown>, secret = JWT_SECRET): string {
  const sign = createSigner({ key: secret, algorithm: 'HS256' });
  return sign({ exp: Math.floor(Date.now() / 1000) + 3600, ...claims });
}

/** An unsigned token (alg: none), which no route may accept. */
export function unsignedToken(claims: Record<string, unknown>): string {
  const sign = createSigner({ algorithm: 'none' });
  return sign({ exp: Math.floor(Date.now() / 1000) + 3600, ...claims });
}
