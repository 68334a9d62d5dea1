import type { TlsOptions } from 'node:tls';
import { secureContextOf, type LoadedCertificate } from './certificate-files.js';
import type { ClientIdentities } from './client-certificate.js';

/** A TLS listener's certificate, and what it asks of clients. */
export interface ServerTls {
  /** As read at start: a renewed one goes to each listener (setCertificate), not here. */
  readonly certificate: LoadedCertificate;
  /** A client must present a certificate signed by `certificate.ca` (mTLS); others are refused in the handshake. */
  clientCertificates: boolean;
  /** Each connection's client certificate, forwarded as x-forwarded-client-cert (and so in every collapse key). */
  identities: ClientIdentities;
}

/** The TLS options of a listener: its certificate, and client certificates required when a client CA is set. */
export function secureServerOptions(tls: ServerTls): TlsOptions {
  return { ...secureContextOf(tls.certificate), requestCert: tls.clientCertificates, rejectUnauthorized: tls.clientCertificates };
}
