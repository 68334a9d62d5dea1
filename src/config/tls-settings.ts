import { ConfigError } from '../spec/errors.js';
import { loadCertificate, type CertificateFiles, type LoadedCertificate } from '../tls/certificate-files.js';
import { loadClientTls, type ClientTls } from '../tls/client-tls.js';

/** TLS on corral's own listeners (the gRPC port and the HTTP/JSON port). */
export interface FrontTls {
  files: CertificateFiles;
  /** As read at start; replaced when the files change (CertificateWatch). */
  certificate: LoadedCertificate;
  /** TLS_CLIENT_CA_FILE set: a client must present a certificate signed by it (mTLS). */
  clientCertificates: boolean;
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
  return { files, certificate: loadCertificate(files), clientCertificates: e.TLS_CLIENT_CA_FILE !== undefined };
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
