import { createHash } from 'node:crypto';
import { z } from 'zod';
import { ConfigError } from '../spec/errors.js';
import { loadCaBundle, loadCertificate } from './certificate-files.js';

/** TLS to a backend, as configured: a cluster's `tls` in the YAML, or the BACKEND_TLS_* variables. */
export interface ClientTlsSpec {
  /** CA bundle the backend's certificate must chain to; the system's roots when unset. */
  caFile?: string | undefined;
  /** corral's client certificate and key, for backends that require one (mTLS). */
  certFile?: string | undefined;
  keyFile?: string | undefined;
  /** The name the backend's certificate must carry (and SNI); the endpoint's host when unset. */
  serverName?: string | undefined;
}

/** What a connection to the backend is opened with. */
export interface ClientTls {
  ca: Buffer | undefined;
  cert: Buffer | undefined;
  key: Buffer | undefined;
  serverName: string | undefined;
  /** Tells apart pools of one address opened with different settings or files (content, not paths: a reload with new files opens new connections). */
  id: string;
  /** Replaces the host name check of the peer's certificate (a fleet peer is checked by its SPIFFE ID). */
  checkServerIdentity?: ((host: string, cert: import('node:tls').PeerCertificate) => Error | undefined) | undefined;
}

/** The `tls` field of a cluster in the YAML. */
export const clientTlsSchema = z
  .strictObject({
    ca_file: z.string().min(1).optional(),
    cert_file: z.string().min(1).optional(),
    key_file: z.string().min(1).optional(),
    server_name: z.string().min(1).optional(),
  })
  .refine((t) => (t.cert_file === undefined) === (t.key_file === undefined), 'cert_file and key_file go together (a client certificate and its key)')
  .transform((t): ClientTlsSpec => ({ caFile: t.ca_file, certFile: t.cert_file, keyFile: t.key_file, serverName: t.server_name }));

/**
 * Reads and checks a backend TLS spec's files. `names` are the settings the files came
 * from, for messages: `clusters.main.tls.ca_file`, or `BACKEND_TLS_CA_FILE`.
 */
export function loadClientTls(spec: ClientTlsSpec, names: { ca: string; cert: string; key: string }): ClientTls {
  let cert: Buffer | undefined;
  let key: Buffer | undefined;
  let ca: Buffer | undefined;
  if (spec.certFile !== undefined || spec.keyFile !== undefined) {
    if (spec.certFile === undefined || spec.keyFile === undefined) throw new ConfigError(`${names.cert} and ${names.key} go together: a client certificate and its key`);
    const loaded = loadCertificate({ certFile: spec.certFile, keyFile: spec.keyFile, caFile: spec.caFile, names });
    ({ cert, key, ca } = loaded);
  } else if (spec.caFile !== undefined) {
    ca = loadCaBundle(names.ca, spec.caFile);
  }
  const digest = createHash('sha256');
  for (const part of [ca, cert, key]) digest.update(part ?? '-').update('\n');
  digest.update(spec.serverName ?? '');
  return { ca, cert, key, serverName: spec.serverName, id: digest.digest('hex').slice(0, 16) };
}
