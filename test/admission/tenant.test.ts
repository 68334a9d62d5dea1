import { describe, expect, it } from 'vitest';
import { tenantOf } from '../../src/admission/tenant.js';

describe('tenantOf', () => {
  it('is the named metadata’s first value, cut to 256 characters; no value is the shared "" tenant', () => {
    const tenant = tenantOf('x-tenant', { user: null, certificate: null });
    expect(tenant({ 'x-tenant': ['a', 'b'] })).toBe('a');
    expect(tenant({ 'x-tenant': 'x'.repeat(1000) })).toHaveLength(256);
    expect(tenant({})).toBe('');
  });

  it('identity: the verified user, else the verified client certificate; never metadata corral did not verify', () => {
    const both = tenantOf('identity', { user: 'x-user-id', certificate: 'x-forwarded-client-cert' });
    expect(both({ 'x-user-id': 'alice', 'x-forwarded-client-cert': 'Hash=1' })).toBe('alice');
    expect(both({ 'x-forwarded-client-cert': 'Hash=1' })).toBe('Hash=1');
    // No route checks tokens: x-user-id is whatever the client sent, and does not count.
    const certificatesOnly = tenantOf('identity', { user: null, certificate: 'x-forwarded-client-cert' });
    expect(certificatesOnly({ 'x-user-id': 'mallory' })).toBe('');
  });
});
