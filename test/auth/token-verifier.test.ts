import { createSigner } from 'fast-jwt';
import { describe, expect, it, vi } from 'vitest';
import { TokenVerifier } from '../../src/auth/token-verifier.js';
import { JWT_SECRET, token, unsignedToken } from '../support/tokens.js';

const verifier = new TokenVerifier({ secret: JWT_SECRET });
const now = () => Math.floor(Date.now() / 1000);

describe('TokenVerifier', () => {
  it('reads session_id, sub and email from a valid HS256 token', () => {
    expect(verifier.claims(token({ session_id: 's', sub: 'u', email: 'u@example.com' }))).toMatchObject({ sessionId: 's', subject: 'u', email: 'u@example.com' });
    expect(verifier.claims(token({ session_id: 's' }))).toMatchObject({ sessionId: 's', subject: undefined, email: undefined });
  });

  it('refuses forged, expired, unsigned, other-algorithm and session-less tokens', () => {
    expect(verifier.claims(token({ session_id: 's' }, 'wrong-secret'))).toBeNull();
    expect(verifier.claims(token({ session_id: 's', exp: now() - 1 }))).toBeNull();
    expect(verifier.claims(unsignedToken({ session_id: 's' }))).toBeNull();
    const hs512 = createSigner({ key: JWT_SECRET, algorithm: 'HS512' })({ session_id: 's', exp: now() + 60 });
    expect(verifier.claims(hs512)).toBeNull();
    const noExp = createSigner({ key: JWT_SECRET, algorithm: 'HS256' })({ session_id: 's' });
    expect(verifier.claims(noExp)).toBeNull();
    expect(verifier.claims(token({ sub: 'u' }))).toBeNull();
    expect(verifier.claims(token({ session_id: 42 }))).toBeNull();
    // An identity claim that is not text would reach the backend as no identity at all.
    for (const sub of [42, true, { id: 'admin' }, ['admin'], null]) expect(verifier.claims(token({ session_id: 's', sub })), JSON.stringify(sub)).toBeNull();
    expect(verifier.claims(token({ session_id: 's', sub: 'u', email: 7 }))).toBeNull();
    expect(verifier.claims('')).toBeNull();
    expect(verifier.claims('a.b.c')).toBeNull();
  });

  it('refuses a remembered token once it has expired', () => {
    const short = token({ session_id: 's', exp: now() + 60 });
    expect(verifier.claims(short)).not.toBeNull();
    vi.useFakeTimers({ now: Date.now() + 61_000 });
    try {
      expect(verifier.claims(short)).toBeNull();
    } finally {
      vi.useRealTimers();
    }
  });

  it('checks aud and iss when configured, and allows the configured clock skew for exp, nbf and iat', () => {
    const strict = new TokenVerifier({ secret: JWT_SECRET, audience: 'orders', issuer: 'https://id.example', leewayMs: 30_000 });
    const good = { session_id: 's', aud: 'orders', iss: 'https://id.example' };
    expect(strict.claims(token(good))).not.toBeNull();
    expect(strict.claims(token({ ...good, aud: ['billing', 'orders'] }))).not.toBeNull();
    expect(strict.claims(token({ ...good, aud: 'billing' }))).toBeNull();
    expect(strict.claims(token({ ...good, aud: 'orders-admin' }))).toBeNull();
    expect(strict.claims(token({ session_id: 's', iss: 'https://id.example' }))).toBeNull();
    expect(strict.claims(token({ ...good, iss: 'https://evil.example' }))).toBeNull();
    expect(strict.claims(token({ session_id: 's', aud: 'orders' }))).toBeNull();
    // Within the leeway: expired 10 s ago, active in 10 s, issued 10 s from now.
    expect(strict.claims(token({ ...good, exp: now() - 10 }))).not.toBeNull();
    expect(strict.claims(token({ ...good, nbf: now() + 10 }))).not.toBeNull();
    expect(strict.claims(token({ ...good, iat: now() + 10 }))).not.toBeNull();
    // Beyond it.
    expect(strict.claims(token({ ...good, exp: now() - 60 }))).toBeNull();
    expect(strict.claims(token({ ...good, nbf: now() + 60 }))).toBeNull();
    expect(strict.claims(token({ ...good, iat: now() + 60 }))).toBeNull();
    // Without configuration, aud and iss are not looked at (as before JWT_AUDIENCE and JWT_ISSUER).
    expect(verifier.claims(token({ ...good, aud: 'anything', iss: 'anyone' }))).not.toBeNull();
  });
});
