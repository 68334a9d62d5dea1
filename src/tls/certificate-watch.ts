import { watch, type FSWatcher } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from '../log/logger.js';
import { loadCertificate, type CertificateFiles, type LoadedCertificate } from './certificate-files.js';

/** How long the files must be quiet before they are read again: a secret update touches several. */
const SETTLE_MS = 250;

/**
 * Keeps a listener's certificate current: when its files change (Kubernetes swaps a
 * secret volume's `..data` link, cert-manager rewrites the secret) or on reload(), reads
 * them again and hands a good certificate to `apply`; new handshakes use it, open
 * connections carry on. A certificate that cannot be read, has expired or does not match
 * its key keeps the old one in use, and says so in the log and in `failures`.
 */
export class CertificateWatch {
  /** Reads that failed since start (corral_tls_certificate_reload_failures_total). */
  failures = 0;
  private readonly watchers: FSWatcher[] = [];
  private timer: NodeJS.Timeout | null = null;

  constructor(
    readonly name: string,
    private readonly files: CertificateFiles,
    public current: LoadedCertificate,
    private readonly apply: (certificate: LoadedCertificate) => void,
    private readonly logger: Logger,
  ) {}

  /** Watches the folders of the files (a rename over a file, or a swapped link, is seen there). */
  start(): void {
    const dirs = new Set([this.files.certFile, this.files.keyFile, this.files.caFile].filter((f) => f !== undefined).map((f) => dirname(f)));
    for (const dir of dirs) {
      try {
        const watcher = watch(dir, { persistent: false }, () => this.soon());
        watcher.on('error', (err) => this.logger.warn({ listener: this.name, dir, err: err.message }, 'cannot watch the certificate folder: SIGHUP reloads it'));
        this.watchers.push(watcher);
      } catch (err) {
        this.logger.warn({ listener: this.name, dir, err: (err as Error).message }, 'cannot watch the certificate folder: SIGHUP reloads it');
      }
    }
  }

  /** Reads the files now (SIGHUP). */
  reload(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    let next: LoadedCertificate;
    try {
      next = loadCertificate(this.files);
    } catch (err) {
      this.failures++;
      this.logger.error(
        { listener: this.name, err: (err as Error).message, serial: this.current.serial },
        'TLS certificate not reloaded: keeping the one in use',
      );
      return;
    }
    if (next.cert.equals(this.current.cert) && next.key.equals(this.current.key) && sameBytes(next.ca, this.current.ca)) return;
    this.apply(next);
    this.logger.info(
      { listener: this.name, serial: next.serial, previous: this.current.serial, notAfter: new Date(next.notAfter).toISOString() },
      'TLS certificate reloaded: new connections use it',
    );
    this.current = next;
  }

  close(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    for (const w of this.watchers) w.close();
    this.watchers.length = 0;
  }

  private soon(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.reload(), SETTLE_MS);
    this.timer.unref();
  }
}

function sameBytes(a: Buffer | undefined, b: Buffer | undefined): boolean {
  return a === undefined || b === undefined ? a === b : a.equals(b);
}
