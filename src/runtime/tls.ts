import type { FrontTls } from '../config/tls-settings.js';
import type { Logger } from '../log/logger.js';
import type { Metrics } from '../observe/metrics.js';
import { CertificateWatch } from '../tls/certificate-watch.js';
import type { LoadedCertificate } from '../tls/certificate-files.js';
import { ClientIdentities, spiffeIdOf } from '../tls/client-certificate.js';
import type { ServerTls } from '../tls/server-tls.js';

/** A listener whose certificate can be replaced while it serves. */
export interface CertificateHolder {
  setCertificate(certificate: LoadedCertificate): void;
}

/** The TLS of corral's listeners (TLS_*); null: cleartext. */
export function serverTlsOf(tls: FrontTls | null): ServerTls | null {
  if (tls === null) return null;
  // corral's own SPIFFE ID is the By field of x-forwarded-client-cert, which only client certificates make.
  const by = tls.clientCertificates ? spiffeIdOf(tls.certificate.certificate) : null;
  return { certificate: tls.certificate, clientCertificates: tls.clientCertificates, identities: new ClientIdentities(by) };
}

/**
 * Watches the certificate files of the listeners and swaps a good new certificate into
 * each (new handshakes use it); exports when each port's certificate expires and how many
 * reloads failed.
 */
export function watchCertificates(
  tls: FrontTls,
  server: ServerTls,
  listeners: Record<string, CertificateHolder | null>,
  metrics: Metrics,
  logger: Logger,
  /** Others that use the certificate as clients (the fleet's peer connections). */
  clients: ReadonlyArray<CertificateHolder | null> = [],
): CertificateWatch {
  const ports = Object.keys(listeners).filter((p) => listeners[p] !== null);
  const watch = new CertificateWatch(ports.join(','), tls.files, tls.certificate, (next) => {
    for (const port of ports) listeners[port]!.setCertificate(next);
    for (const c of clients) c?.setCertificate(next);
    if (server.clientCertificates) server.identities.by = spiffeIdOf(next.certificate);
  }, logger);
  metrics.gaugesFrom(
    'corral_tls_certificate_expiry_seconds',
    'When the certificate each TLS port serves expires (Unix time in seconds): alert some days before',
    'port',
    () => Object.fromEntries(ports.map((p) => [p, watch.current.notAfter / 1000])),
  );
  metrics.counterFrom(
    'corral_tls_certificate_reload_failures_total',
    'Certificate files that changed but could not be used (unreadable, expired, not matching their key): the old certificate stays in use',
    () => watch.failures,
  );
  watch.start();
  return watch;
}
