import { ConfigError } from '../spec/errors.js';
import { loadCertificate, type CertificateFiles, type LoadedCertificate } from '../tls/certificate-files.js';
import { spiffeIdOf } from '../tls/client-certificate.js';
import { loadClientTls, type ClientTls } from '../tls/client-tls.js';

/** TLS on corral's own listeners (the gRPC port and the HTTP/JSON port). */
export interface FrontTls {
  files: CertificateFiles;
  /** As read at start; replaced when the files change (CertificateWatch). */
  certificate: LoadedCertificate;
  /** TLS_CLIENT_CA_FILE set: a client must present a certificate signed by it (mTLS). */
  clientCertificates: boolean;
  /**
   * COLLAPSER_FLEET_PEER_ID, with the fleet on: the SPIFFE ID a peer sidecar presents (and
   * this one's certificate carries); null with the fleet off.
   */
  fleetPeerId: string | null;
}

interface TlsVariables {
  TLS_CERT_FILE?: string | undefined;
  TLS_KEY_FILE?: string | undefined;
  TLS_CLIENT_CA_FILE?: string | undefined;
  BACKEND_TLS: 'on' | 'off';
  BACKEND_TLS_CA_FILE?: string | undefined;
  BACKEND_TLS_CERT_FILE?: string | undefined;
  BACKEND_TLS_KEY_FILE?: string | undefined;
  BACKEND_TLS_SERVER_NAME?: string | undefined;
  CONFIG_PATH?: string | undefined;
  REGISTRY_ETCD_CA_FILE?: string | undefined;
  REGISTRY_ETCD_CERT_FILE?: string | undefined;
  REGISTRY_ETCD_KEY_FILE?: string | undefined;
  COLLAPSER_FLEET: 'on' | 'off';
  COLLAPSER_FLEET_PEER_ID?: string | undefined;
}

/** TLS_CERT_FILE, TLS_KEY_FILE, TLS_CLIENT_CA_FILE: read and checked at start (a bad file is exit 2 naming it). */
export function frontTlsOf(e: TlsVariables): FrontTls | null {
  if (e.TLS_CERT_FILE === undefined && e.TLS_KEY_FILE === undefined) {
    if (e.TLS_CLIENT_CA_FILE !== undefined) throw new ConfigError('invalid configuration: TLS_CLIENT_CA_FILE needs TLS_CERT_FILE and TLS_KEY_FILE: client certificates are asked for in a TLS handshake');
    return null;
  }
  if (e.TLS_CERT_FILE === undefined || e.TLS_KEY_FILE === undefined) {
    throw new ConfigError(`invalid configuration: TLS_CERT_FILE and TLS_KEY_FILE go together (${e.TLS_CERT_FILE === undefined ? 'TLS_CERT_FILE' : 'TLS_KEY_FILE'} is unset)`);
  }
  if (e.COLLAPSER_FLEET === 'on' && e.TLS_CLIENT_CA_FILE === undefined) {
    throw new ConfigError(
      'invalid configuration: COLLAPSER_FLEET=on with TLS_CERT_FILE needs TLS_CLIENT_CA_FILE: the sidecars of a fleet call each other with mTLS, each checking the other is one of them',
    );
  }
  const files: CertificateFiles = {
    certFile: e.TLS_CERT_FILE,
    keyFile: e.TLS_KEY_FILE,
    caFile: e.TLS_CLIENT_CA_FILE,
    names: { cert: 'TLS_CERT_FILE', key: 'TLS_KEY_FILE', ca: 'TLS_CLIENT_CA_FILE' },
  };
  const certificate = loadCertificate(files);
  return { files, certificate, clientCertificates: e.TLS_CLIENT_CA_FILE !== undefined, fleetPeerId: e.COLLAPSER_FLEET === 'on' ? fleetPeerIdOf(e, certificate) : null };
}

/**
 * The identity fleet peers are known by, named by the operator: whoever holds a
 * certificate with it may tell an owner whose call it forwards, so it must be one only the
 * sidecars hold, not the workload's own (which the app container beside corral holds).
 * corral presents its own certificate to its peers, so that certificate must carry it.
 */
function fleetPeerIdOf(e: TlsVariables, certificate: LoadedCertificate): string {
  const id = e.COLLAPSER_FLEET_PEER_ID;
  if (id === undefined) {
    throw new ConfigError(
      "invalid configuration: COLLAPSER_FLEET=on over TLS needs COLLAPSER_FLEET_PEER_ID: the SPIFFE ID the sidecars present to each other, which only they may hold (not the app's own: a peer may say whose call it forwards); see docs/fleet.md",
    );
  }
  const own = spiffeIdOf(certificate.certificate);
  if (own !== id) {
    throw new ConfigError(
      `invalid configuration: COLLAPSER_FLEET_PEER_ID='${id}' but TLS_CERT_FILE carries ${own === null ? 'no SPIFFE ID' : `'${own}'`}: corral presents that certificate to its peers, so it must carry the fleet's ID`,
    );
  }
  return id;
}

/** BACKEND_TLS and BACKEND_TLS_*: TLS to BACKEND_ADDRESS. With CONFIG_PATH, each cluster has its own `tls`. */
export function backendTlsOf(e: TlsVariables): ClientTls | null {
  const files = [e.BACKEND_TLS_CA_FILE, e.BACKEND_TLS_CERT_FILE, e.BACKEND_TLS_KEY_FILE, e.BACKEND_TLS_SERVER_NAME];
  if (e.BACKEND_TLS === 'off' && files.every((f) => f === undefined)) return null;
  if (e.CONFIG_PATH !== undefined) {
    throw new ConfigError('invalid configuration: BACKEND_TLS and BACKEND_TLS_* apply to BACKEND_ADDRESS; with CONFIG_PATH, give each cluster its own tls: { ca_file, cert_file, key_file, server_name }');
  }
  return loadClientTls(
    { caFile: e.BACKEND_TLS_CA_FILE, certFile: e.BACKEND_TLS_CERT_FILE, keyFile: e.BACKEND_TLS_KEY_FILE, serverName: e.BACKEND_TLS_SERVER_NAME },
    { ca: 'BACKEND_TLS_CA_FILE', cert: 'BACKEND_TLS_CERT_FILE', key: 'BACKEND_TLS_KEY_FILE' },
  );
}

/** REGISTRY_ETCD_CA_FILE (and a client certificate): etcd over TLS, for the registry, the fleet and etcd clusters. */
export function etcdTlsOf(e: TlsVariables): ClientTls | null {
  if (e.REGISTRY_ETCD_CA_FILE === undefined) {
    if (e.REGISTRY_ETCD_CERT_FILE !== undefined || e.REGISTRY_ETCD_KEY_FILE !== undefined) {
      throw new ConfigError('invalid configuration: REGISTRY_ETCD_CERT_FILE and REGISTRY_ETCD_KEY_FILE need REGISTRY_ETCD_CA_FILE, the CA that signed etcd\'s certificate');
    }
    return null;
  }
  return loadClientTls(
    { caFile: e.REGISTRY_ETCD_CA_FILE, certFile: e.REGISTRY_ETCD_CERT_FILE, keyFile: e.REGISTRY_ETCD_KEY_FILE },
    { ca: 'REGISTRY_ETCD_CA_FILE', cert: 'REGISTRY_ETCD_CERT_FILE', key: 'REGISTRY_ETCD_KEY_FILE' },
  );
}
