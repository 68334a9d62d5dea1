import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { clientCertificate } from '../../src/tls/client-certificate.js';
import { TestCa } from '../support/certificates.js';

describe('clientCertificate', () => {
  it("writes a subject of any characters into x-forwarded-client-cert percent-encoded, so the backend reads the certificate's own words", () => {
    const ca = new TestCa('xfcc');
    const issued = ca.issue({ cn: 'šdmin', name: 'unicode', uris: ['spiffe://cluster.local/ns/shop/sa/frontend'] });
    const cert = clientCertificate(new X509Certificate(readFileSync(issued.certFile)), 'spiffe://cluster.local/ns/shop/sa/corral');
    expect(cert.subject).toBe('CN=šdmin');
    expect(cert.header).toMatch(/^By=spiffe:\/\/cluster\.local\/ns\/shop\/sa\/corral;Hash=[0-9a-f]{64};Subject="CN=%C5%A1dmin";URI=spiffe:\/\/cluster\.local\/ns\/shop\/sa\/frontend$/);
    // Printable ASCII: every character of the value is one byte on the wire, as node:http2 writes it.
    expect(cert.header).toMatch(/^[\x20-\x7e]*$/);
    expect(decodeURIComponent(cert.header)).toContain('Subject="CN=šdmin"');
  });
});
