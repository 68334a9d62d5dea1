/** corral runs as it ships: on Node 24, with its V8 flags, and says so on /metrics. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { startProxy } from '../../cmd/processes.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
const argv = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((a) => a !== '');

describe('runtime', () => {
  it('runs on Node >= 24.21 with the V8 flags it ships with, and exposes corral_build_info', async () => {
    const proxy = await startProxy({ BACKEND_ADDRESS: '127.0.0.1:1' });
    try {
      expect(Number(process.versions.node.split('.')[0])).toBeGreaterThanOrEqual(24);
      const args = argv(proxy.child.pid!);
      expect(args.slice(1, 4)).toEqual(['--max-semi-space-size=4', '--no-maglev', '--heap-growing-percent=100']);
      expect(args[4]).toMatch(/dist\/cmd\/proxy\.js$/);
      expect(await proxy.metric(`corral_build_info{version="${pkg.version}",node="${process.version}"}`)).toBe(1);
      expect(proxy.ready).toMatchObject({ version: pkg.version, node: process.version });
    } finally {
      await proxy.stop();
    }
  });

  it('takes CORRAL_V8_FLAGS in place of its own', async () => {
    const proxy = await startProxy({ BACKEND_ADDRESS: '127.0.0.1:1', CORRAL_V8_FLAGS: '--max-semi-space-size=16' });
    try {
      expect(argv(proxy.child.pid!).slice(1, 3)).toEqual(['--max-semi-space-size=16', expect.stringMatching(/proxy\.js$/)]);
    } finally {
      await proxy.stop();
    }
  });

  it('starts on the project\'s Node 24 when run directly, whatever node comes first on PATH', () => {
    const launcher = fileURLToPath(new URL('../../bin/corral', import.meta.url));
    // The system's directories only: their node, where there is one, is not the project's.
    const run = (env: Record<string, string>) => execFileSync('/bin/sh', [launcher, '--version'], { env: { PATH: '/usr/local/bin:/usr/bin:/bin', ...env }, encoding: 'utf8' });
    expect(run({})).toBe(`corral ${pkg.version} (node ${process.version})\n`);
    expect(run({ CORRAL_NODE: process.execPath })).toBe(`corral ${pkg.version} (node ${process.version})\n`);
  });
});
