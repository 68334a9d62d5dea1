import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { startBackend, startProxy, type Backend, type Proxy } from '../../cmd/processes.js';
import { JWT_SECRET } from '../support/tokens.js';
import { until } from '../support/until.js';

const probe = fileURLToPath(new URL('../support/loaded-packages.mjs', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'corral-lazy-'));
let backend: Backend | null = null;
let proxy: Proxy | null = null;

afterEach(async () => {
  await proxy?.stop();
  await backend?.stop();
  proxy = backend = null;
});

/** The npm packages a running corral has loaded, read once it is ready. */
async function loadedBy(env: Record<string, string>, name: string): Promise<string[]> {
  backend ??= await startBackend();
  const out = join(dir, `${name}.txt`);
  proxy = await startProxy({ BACKEND_ADDRESS: backend.address, NODE_OPTIONS: `--import ${probe}`, LOADED_PACKAGES_OUT: out, ...env });
  await proxy.untilReady();
  proxy.child.kill('SIGUSR2');
  await until('corral wrote what it loaded', () => existsSync(out));
  return readFileSync(out, 'utf8').trim().split('\n');
}

describe('packages loaded at start', () => {
  it('leaves out what the configuration does not use: etcd, JWT, YAML, grpc-js, OpenTelemetry SDK', async () => {
    const loaded = await loadedBy({}, 'plain');
    // What every corral uses: the probe sees packages at all.
    expect(loaded).toEqual(expect.arrayContaining(['zod', 'pino', 'prom-client', 'lru-cache']));
    // The backend was asked over server reflection (corral's own sessions), without grpc-js.
    expect(proxy!.lines.join('\n')).toContain('collapsing the 3 it declares NO_SIDE_EFFECTS');
    for (const unused of ['etcd3', 'fast-jwt', 'yaml', '@grpc/grpc-js', '@grpc/proto-loader', '@opentelemetry/sdk-trace', '@peculiar/asn1-x509']) expect(loaded).not.toContain(unused);
  });

  it('loads each when its feature is configured', async () => {
    const config = join(dir, 'corral.yaml');
    backend = await startBackend();
    writeFileSync(config, `routes:\n  - prefix: /\n    cluster: main\nclusters:\n  main: { type: static, address: "${backend.address}" }\n`);
    const loaded = await loadedBy({ JWT_SECRET, CONFIG_PATH: config }, 'configured');
    expect(loaded).toEqual(expect.arrayContaining(['fast-jwt', 'yaml']));
  });
});
