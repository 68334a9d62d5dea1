import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { ConfigError } from '../spec/errors.js';

/** Where a certificate, its key and a CA bundle are, and the settings that named them (for messages). */
export interface CertificateFiles {
  certFile: string;
  keyFile: string;
  /** CA bundle: of client certificates (a server), or of the peer's certificate (a client). */
  caFile?: string | undefined;
  /** The settings that named the files, e.g. { cert: 'TLS_CERT_FILE', key: 'TLS_KEY_FILE', ca: 'TLS_CLIENT_CA_FILE' }. */
  names: { cert: string; key: string; ca: string };
}

/** A certificate and its key as read, checked, and ready for a secure context. */
export interface LoadedCertificate {
  cert: Buffer;
  key: Buffer;
  ca: Buffer | undefined;
  /** When the certificate stops being valid (ms since the epoch). */
  notAfter: number;
  serial: string;
  /** The certificate's own SPIFFE ID (its one spiffe:// URI SAN), if it has one. */
  certificate: X509Certificate;
}

/** What a secure context is made of: the certificate, its key, the CA bundle. */
export function secureContextOf(certificate: LoadedCertificate): { cert: Buffer; key: Buffer; ca: Buffer | undefined } {
  const { cert, key, ca } = certificate;
  return { cert, key, ca };
}

/**
 * Reads and checks a certificate, its key and a CA bundle: each file readable, the
 * certificate PEM and valid now, the key the certificate's own, the bundle PEM
 * certificates. Throws a ConfigError naming the setting and the file.
 */
export function loadCertificate(files: CertificateFiles, now = Date.now()): LoadedCertificate {
  const { names } = files;
  const cert = read(names.cert, files.certFile);
  const key = read(names.key, files.keyFile);
  const ca = files.caFile === undefined ? undefined : read(names.ca, files.caFile);
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(cert);
  } catch (err) {
    throw new ConfigError(`${names.cert}=${files.certFile}: not a PEM certificate (${(err as Error).message})`);
  }
  const notAfter = Date.parse(certificate.validTo);
  if (notAfter <= now) throw new ConfigError(`${names.cert}=${files.certFile}: the certificate expired on ${certificate.validTo}`);
  if (Date.parse(certificate.validFrom) > now) throw new ConfigError(`${names.cert}=${files.certFile}: the certificate is not valid before ${certificate.validFrom}`);
  let privateKey;
  try {
    privateKey = createPrivateKey(key);
  } catch (err) {
    throw new ConfigError(`${names.key}=${files.keyFile}: not a PEM private key (${(err as Error).message})`);
  }
  if (!certificate.checkPrivateKey(privateKey)) {
    throw new ConfigError(`${names.key}=${files.keyFile} is not the key of ${names.cert}=${files.certFile}: they do not match`);
  }
  if (ca !== undefined) checkBundle(ca, names.ca, files.caFile!);
  return { cert, key, ca, notAfter, serial: certificate.serialNumber, certificate };
}

/** Reads a CA bundle alone (a client that verifies its peer without a certificate of its own). */
export function loadCaBundle(name: string, file: string): Buffer {
  const ca = read(name, file);
  checkBundle(ca, name, file);
  return ca;
}

function checkBundle(ca: Buffer, name: string, file: string): void {
  try {
    new X509Certificate(ca);
    createSecureContext({ ca });
  } catch (err) {
    throw new ConfigError(`${name}=${file}: not a PEM bundle of CA certificates (${(err as Error).message})`);
  }
}

function read(name: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new ConfigError(`${name}=${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}
