import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A certificate and its key on disk. */
export interface Issued {
  certFile: string;
  keyFile: string;
}

export interface IssueOptions {
  /** The subject's CN. */
  cn: string;
  /** URI SANs (a SPIFFE ID: exactly one spiffe:// URI). */
  uris?: string[];
  /** DNS SANs; a server certificate gets localhost and 127.0.0.1 unless told otherwise. */
  dns?: string[];
  ips?: string[];
  /** Validity as openssl ca's -startdate/-enddate (YYYYMMDDHHMMSSZ), for certificates already expired. */
  startDate?: string;
  endDate?: string;
  /** Where to write it (a file name without extension); `cn` by default. */
  name?: string;
}

/**
 * A test certificate authority made with Debian's openssl: EC P-256 keys, certificates
 * valid for a day unless told otherwise, in a folder of its own.
 */
export class TestCa {
  readonly dir: string;
  readonly certFile: string;
  private readonly keyFile: string;
  private serial = 1;

  constructor(name: string, dir = mkdtempSync(join(tmpdir(), 'corral-ca-'))) {
    this.dir = dir;
    mkdirSync(dir, { recursive: true });
    this.certFile = join(dir, `${name}-ca.crt`);
    this.keyFile = join(dir, `${name}-ca.key`);
    openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', this.keyFile, '-out', this.certFile, '-days', '2', '-subj', `/CN=${name} test CA`]);
  }

  /** A certificate signed by this CA, and its key. */
  issue(options: IssueOptions): Issued {
    const base = join(this.dir, options.name ?? options.cn.replace(/[^A-Za-z0-9_.-]/g, '_'));
    const sans = [
      ...(options.dns ?? ['localhost']).map((d) => `DNS:${d}`),
      ...(options.ips ?? ['127.0.0.1']).map((ip) => `IP:${ip}`),
      ...(options.uris ?? []).map((u) => `URI:${u}`),
    ];
    const keyFile = `${base}.key`;
    const certFile = `${base}.crt`;
    openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyFile, '-out', `${base}.csr`, '-utf8', '-subj', `/CN=${options.cn}`]);
    // openssl ca: the only way in OpenSSL 3.0 to set validity dates in the past.
    const db = join(this.dir, 'index.txt');
    writeFileSync(db, '');
    writeFileSync(
      `${base}.cnf`,
      `[ca]\ndefault_ca = test\n[test]\ndatabase = ${db}\nserial = ${base}.srl\nnew_certs_dir = ${this.dir}\ndefault_md = sha256\npolicy = any\nunique_subject = no\ncopy_extensions = none\n[any]\ncommonName = supplied\n[ext]\nbasicConstraints = CA:FALSE\nkeyUsage = digitalSignature, keyEncipherment\nextendedKeyUsage = serverAuth, clientAuth\nsubjectAltName = ${sans.join(',')}\n`,
    );
    // A serial of its own per certificate: rotation tests tell certificates apart by it.
    writeFileSync(`${base}.srl`, (this.serial++).toString(16).padStart(4, '0') + Date.now().toString(16).padStart(12, '0') + '\n');
    openssl([
      'ca', '-batch', '-utf8', '-config', `${base}.cnf`, '-cert', this.certFile, '-keyfile', this.keyFile, '-in', `${base}.csr`, '-out', certFile,
      '-extensions', 'ext', '-notext',
      '-startdate', options.startDate ?? yesterday(), '-enddate', options.endDate ?? tomorrow(),
    ]);
    return { certFile, keyFile };
  }
}

function openssl(args: string[]): void {
  execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

const stamp = (ms: number) => new Date(ms).toISOString().replace(/[-:T]/g, '').slice(0, 14) + 'Z';
const yesterday = () => stamp(Date.now() - 86_400_000);
const tomorrow = () => stamp(Date.now() + 86_400_000);
