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
});
