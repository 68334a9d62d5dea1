import { describe, expect, it } from 'vitest';
import { hostAllowed } from '../../src/admin/admin.js';
import { redactedUrl, redactedUrlsIn, redactedUrlsOf } from '../../src/spec/redact.js';

describe('redactedUrl', () => {
  it('hides user information and the values of secret-looking query parameters, and leaves the rest', () => {
    expect(redactedUrl('http://user:pass@disc.example:8080/base?api_key=k&region=eu&access_token=t&X-Amz-Signature=s')).toBe(
      'http://[redacted]@disc.example:8080/base?api_key=[redacted]&region=eu&access_token=[redacted]&X-Amz-Signature=[redacted]',
    );
    expect(redactedUrl('http://disc.example/v1?page=2')).toBe('http://disc.example/v1?page=2');
    expect(redactedUrl('not a url')).toBe('not a url');
  });

  it('finds URLs inside a message and inside a configuration', () => {
    expect(redactedUrlsIn("GET https://u:p@h/x?token=t answered HTTP 500; see 'http://h/ok'")).toBe("GET https://[redacted]@h/x?token=[redacted] answered HTTP 500; see 'http://h/ok'");
    expect(redactedUrlsOf({ clusters: [{ url: 'http://u:p@h/' }], n: 1, none: null })).toEqual({ clusters: [{ url: 'http://[redacted]@h/' }], n: 1, none: null });
  });
});

describe('hostAllowed', () => {
  const names = new Set(['corral.internal']);
  it.each([['127.0.0.1:9901'], ['[::1]:9901'], ['10.0.0.7'], ['localhost:9901'], ['a.localhost'], ['corral.internal:9901'], ['CORRAL.internal']])('takes %s', (host) => {
    expect(hostAllowed(host, names)).toBe(true);
  });
  it.each([['evil.example'], ['127.0.0.1.nip.io'], ['localhost.evil.example'], ['corral.internal.evil.example'], ['bad host']])('refuses %s', (host) => {
    expect(hostAllowed(host, names)).toBe(false);
  });
});
