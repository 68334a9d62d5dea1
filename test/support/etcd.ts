/**
 * A real etcd cluster of three members on 127.0.0.1 (Debian's etcd-server), each with
 * its own data dir under a temp folder, short heartbeat and election timeouts. Members can
 * be killed and started again; every process is stopped at the end.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../cmd/processes.js';

export { freePort };

interface Member {
  name: string;
  clientPort: number;
  peerPort: number;
  process: ChildProcess | null;
}

/** etcd serving its clients over TLS, requiring client certificates signed by `caFile`. */
export interface EtcdTls {
  caFile: string;
  server: { certFile: string; keyFile: string };
  /** The client certificate etcdctl uses. */
  client: { certFile: string; keyFile: string };
}

export class EtcdCluster {
  private constructor(
    private readonly dir: string,
    private readonly members: Member[],
    private readonly tls: EtcdTls | null,
  ) {}

  static async start(size = 3, tls: EtcdTls | null = null): Promise<EtcdCluster> {
    const dir = mkdtempSync(join(tmpdir(), 'corral-etcd-'));
    const members: Member[] = [];
    for (let i = 0; i < size; i++) members.push({ name: `m${i}`, clientPort: await freePort(), peerPort: await freePort(), process: null });
    const cluster = new EtcdCluster(dir, members, tls);
    for (let i = 0; i < size; i++) cluster.startMember(i);
    await cluster.healthy();
    return cluster;
  }

  /** host:port of every member's client URL. */
  get endpoints(): string[] {
    return this.members.map((m) => `127.0.0.1:${m.clientPort}`);
  }

  startMember(i: number): void {
    const m = this.members[i]!;
    const initialCluster = this.members.map((x) => `${x.name}=http://127.0.0.1:${x.peerPort}`).join(',');
    const scheme = this.tls === null ? 'http' : 'https';
    const tlsArgs =
      this.tls === null
        ? []
        : ['--cert-file', this.tls.server.certFile, '--key-file', this.tls.server.keyFile, '--trusted-ca-file', this.tls.caFile, '--client-cert-auth'];
    m.process = spawn(
      'etcd',
      [
        '--name', m.name,
        '--data-dir', join(this.dir, m.name),
        '--listen-client-urls', `${scheme}://127.0.0.1:${m.clientPort}`,
        '--advertise-client-urls', `${scheme}://127.0.0.1:${m.clientPort}`,
        ...tlsArgs,
        '--listen-peer-urls', `http://127.0.0.1:${m.peerPort}`,
        '--initial-advertise-peer-urls', `http://127.0.0.1:${m.peerPort}`,
        '--initial-cluster', initialCluster,
        '--initial-cluster-state', 'new',
        '--initial-cluster-token', 'corral-test',
        '--heartbeat-interval', '50',
        '--election-timeout', '500',
        '--logger', 'zap',
        '--log-level', 'error',
      ],
      { stdio: 'ignore' },
    );
  }

  /** SIGKILL one member. */
  kill(i: number): Promise<void> {
    const p = this.members[i]!.process;
    this.members[i]!.process = null;
    if (p === null || p.exitCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      p.once('exit', () => resolve());
      p.kill('SIGKILL');
    });
  }

  /** The index of the member that leads now. */
  leader(): number {
    const out = execFileSync('etcdctl', ['--endpoints', this.endpoints.join(','), 'endpoint', 'status', '--write-out=json'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const statuses = JSON.parse(out) as Array<{ Endpoint: string; Status: { header: { member_id: number }; leader: number } }>;
    const leading = statuses.find((s) => s.Status.header.member_id === s.Status.leader)!;
    return this.endpoints.findIndex((e) => leading.Endpoint.endsWith(e));
  }

  /** etcdctl against the live members. */
  ctl(...args: string[]): string {
    const live = this.members.filter((m) => m.process !== null).map((m) => `127.0.0.1:${m.clientPort}`);
    const tlsArgs = this.tls === null ? [] : ['--cacert', this.tls.caFile, '--cert', this.tls.client.certFile, '--key', this.tls.client.keyFile];
    return execFileSync('etcdctl', ['--endpoints', live.join(','), ...tlsArgs, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  }

  /** Waits until every running member answers healthy. */
  async healthy(timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        this.ctl('endpoint', 'health', '--command-timeout=1s');
        return;
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`etcd did not become healthy: ${(err as Error).message}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  async stop(): Promise<void> {
    for (let i = 0; i < this.members.length; i++) await this.kill(i);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
