/** The command line and start-up checks: --help, --version, validate, ports, unknown variables. */
import net from 'node:net';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { proxyExit, startBackend, startProxy } from '../../cmd/processes.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

describe('the command line', () => {
  it('--version and --help answer and exit 0', async () => {
    const version = await proxyExit({}, ['--version']);
    expect(version.code).toBe(0);
    expect(version.stdout).toBe(`corral ${pkg.version} (node ${process.version})\n`);
    const help = await proxyExit({}, ['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('corral validate');
    expect(help.stdout).toContain('COLLAPSER_SKIP_METHODS');
  });

  it('refuses an unknown argument with one line', async () => {
    const r = await proxyExit({}, ['--bogus']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("corral: unknown argument '--bogus'; try corral --help\n");
  });

  it('validate: exit 0 and a summary for a good configuration, with a warning for a variable of corral\'s prefixes it does not read', async () => {
    const r = await proxyExit({ BACKEND_ADDRESS: '127.0.0.1:50051', COLLAPSER_FAVOURITE_COLOUR: 'blue', COLLAPSER_SKIP_METHODS: '/shop.Cart/' }, ['validate']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('warning: unknown variable COLLAPSER_FAVOURITE_COLOUR: corral does not read it');
    expect(r.stdout).toContain('configuration OK: BACKEND_ADDRESS; 0 route(s), clusters backend');
    expect(r.stdout).toContain(
      'collapsing the methods the backends declare NO_SIDE_EFFECTS over server reflection; everything else is passed through; never /shop.Cart/ (COLLAPSER_SKIP_METHODS)',
    );
  });

  it('validate and start-up: exit 2 for a typo of one of corral\'s variables, naming the closest', async () => {
    for (const args of [['validate'], []]) {
      const r = await proxyExit({ BACKEND_ADDRESS: '127.0.0.1:50051', COLLAPSER_SKIP_METHOD: '/shop.Cart/AddItem' }, args);
      expect(r.code).toBe(2);
      expect(r.stderr).toBe('corral: invalid configuration: unknown variable COLLAPSER_SKIP_METHOD: did you mean COLLAPSER_SKIP_METHODS?\n');
    }
  });

  it('starts in a pod-like environment: Kubernetes service links and proxy settings never stop it', async () => {
    const links = {
      BACKEND_SERVICE_HOST: '10.96.0.10',
      BACKEND_SERVICE_PORT: '50051',
      BACKEND_SERVICE_PORT_GRPC: '50051',
      BACKEND_PORT: 'tcp://10.96.0.10:50051',
      BACKEND_PORT_50051_TCP: 'tcp://10.96.0.10:50051',
      BACKEND_PORT_50051_TCP_PROTO: 'tcp',
      BACKEND_PORT_50051_TCP_PORT: '50051',
      BACKEND_PORT_50051_TCP_ADDR: '10.96.0.10',
      CORRAL_SERVICE_HOST: '10.96.0.11',
      CORRAL_PORT: 'tcp://10.96.0.11:50052',
      CORRAL_PORT_50052_TCP_ADDR: '10.96.0.11',
      METRICS_SERVICE_HOST: '10.96.0.14',
      METRICS_PORT_2112_TCP_ADDR: '10.96.0.14',
      HTTP_PROXY: 'http://proxy.example:3128',
      KUBERNETES_SERVICE_HOST: '10.96.0.1',
    };
    const r = await proxyExit({ BACKEND_ADDRESS: '127.0.0.1:50051', ...links }, ['validate']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain('warning');
    const collision = await proxyExit({ BACKEND_ADDRESS: '127.0.0.1:50051', METRICS_PORT: 'tcp://10.96.0.14:2112' }, ['validate']);
    expect(collision.code).toBe(2);
    expect(collision.stderr).toContain("METRICS_PORT='tcp://10.96.0.14:2112' is a Kubernetes service link, not a port: Kubernetes sets it for a Service named 'metrics'");
    expect(collision.stderr).toContain('enableServiceLinks: false');
  });

  it('validate: says which routes collapse and which never do', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'corral-validate-'));
    const file = join(dir, 'routes.yaml');
    const routes = (defaultAction: string) =>
      `clusters: { backend: { type: static, address: "127.0.0.1:1" } }
default: ${defaultAction}
routes:
  - { name: writes, prefix: /shop.Cart/, cluster: backend, collapse: false }
  - { name: reads, prefix: /shop.Catalog/, cluster: backend, collapse: true }
`;
    const nothingElse = { COLLAPSER_METHODS: '', COLLAPSER_REFLECTION: 'off' };
    writeFileSync(file, routes('{ action: use_cluster, use_cluster: backend }'));
    const some = await proxyExit({ CONFIG_PATH: file, ...nothingElse }, ['validate']);
    expect(some.code).toBe(0);
    expect(some.stdout).toContain('collapsing every call of route reads (collapse: true); everything else is passed through; nothing on route writes (collapse: false)');
    writeFileSync(file, routes('{ action: error }').replace('collapse: true', 'collapse: false'));
    const none = await proxyExit({ CONFIG_PATH: file, ...nothingElse }, ['validate']);
    expect(none.stdout).toContain('collapsing nothing: every call passes through; to collapse, declare reads');
    const every = await proxyExit({ CONFIG_PATH: file, COLLAPSER_METHODS: '*' }, ['validate']);
    expect(every.stdout).toContain('collapsing every method (COLLAPSER_METHODS=*); nothing on route writes, reads (collapse: false)');
  });

  it('validate: exit 2 with the message start-up would give, for the environment and for CONFIG_PATH', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'corral-validate-'));
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'routes: [ { prefix: /a.B/, cluster: nowhere } ]\nclusters: {}\n');
    const file = await proxyExit({ CONFIG_PATH: bad }, ['validate']);
    expect(file.code).toBe(2);
    expect(file.stderr).toContain(`${bad}: routes[0].cluster="nowhere": no such cluster`);
    const started = await proxyExit({ CONFIG_PATH: bad });
    expect(started.stderr).toBe(file.stderr);
    // The http section too: descriptors compiled, each route's method looked up.
    const protos = fileURLToPath(new URL('../http/protos', import.meta.url));
    const gateway = (method: string) =>
      `clusters: { orders: { type: static, address: "127.0.0.1:1" } }
http:
  proto_files: [${protos}/shop/v1/orders.proto]
  proto_paths: [${protos}]
  routes: [ { name: get-order, path: "/o/{id}", method: GET, service: orders, grpc_service: shop.v1.OrderService, grpc_method: ${method} } ]
`;
    writeFileSync(bad, gateway('Nope'));
    const http = await proxyExit({ CONFIG_PATH: bad }, ['validate']);
    expect(http.code).toBe(2);
    expect(http.stderr).toContain('http.routes[get-order]: service shop.v1.OrderService has no method Nope');
    writeFileSync(bad, gateway('GetOrder'));
    const good = await proxyExit({ CONFIG_PATH: bad, COLLAPSER_REFLECTION: 'off' }, ['validate']);
    expect(good.stdout).toContain('1 HTTP route(s); collapsing /shop.v1.OrderService/SearchOrders (declared NO_SIDE_EFFECTS); everything else is passed through');
    // A listed method the descriptors take for a typo: refused by validate and by start-up, naming the described one.
    for (const [listed, message] of [
      ['/shop.v1.OrderService/searchOrders', 'COLLAPSER_METHODS: /shop.v1.OrderService/searchOrders differs only in case from the described /shop.v1.OrderService/SearchOrders'],
      ['/shop.v1.OrderService/GetOrdr', 'COLLAPSER_METHODS: the descriptors describe no /shop.v1.OrderService/GetOrdr; did you mean /shop.v1.OrderService/GetOrder?'],
    ]) {
      for (const args of [['validate'], []]) {
        const typo = await proxyExit({ CONFIG_PATH: bad, COLLAPSER_METHODS: listed! }, args);
        expect(typo.code).toBe(2);
        expect(typo.stderr).toContain(message);
      }
    }
    // A field path to leave out of keys that the descriptors say is no field: refused too; one no request has, a warning.
    for (const args of [['validate'], []]) {
      const notAField = await proxyExit({ CONFIG_PATH: bad, COLLAPSER_REFLECTION: 'off', COLLAPSER_KEY_IGNORE_FIELDS: 'request_id.nope' }, args);
      expect([notAField.code, notAField.stderr]).toEqual([
        2,
        'corral: invalid configuration: key_ignore_fields / COLLAPSER_KEY_IGNORE_FIELDS: request_id.nope is not a field of shop.v1.CreateOrderRequest (the request of /shop.v1.OrderService/CreateOrder)\n',
      ]);
    }
    const unused = await proxyExit({ CONFIG_PATH: bad, COLLAPSER_REFLECTION: 'off', COLLAPSER_KEY_IGNORE_FIELDS: 'tenant_id' }, ['validate']);
    expect([unused.code, unused.stdout]).toEqual([0, expect.stringContaining('warning: key_ignore_fields / COLLAPSER_KEY_IGNORE_FIELDS: no described request has tenant_id')]);
    // A method of a service the descriptors do not describe is not judged (the backend may describe it later).
    expect((await proxyExit({ CONFIG_PATH: bad, COLLAPSER_METHODS: '/other.Service/Get' }, ['validate'])).code).toBe(0);
    const zero = await proxyExit({ BACKEND_ADDRESS: '127.0.0.1:1', BACKEND_TIMEOUT: '0' }, ['validate']);
    expect(zero.code).toBe(2);
    expect(zero.stderr).toBe("corral: invalid configuration: BACKEND_TIMEOUT='0': expected a duration of at least 1ms (0 cannot work here)\n");
  });
});

describe('start-up', () => {
  it('a port in use exits 2 naming the variable, not with a stack trace', async () => {
    const taken = net.createServer().listen(0, '127.0.0.1');
    await new Promise((r) => taken.once('listening', r));
    const port = (taken.address() as net.AddressInfo).port;
    try {
      const grpc = await proxyExit({ BACKEND_ADDRESS: '127.0.0.1:1', LISTEN_HOST: '127.0.0.1', GRPC_PORT: String(port) });
      expect(grpc.code).toBe(2);
      expect(grpc.stderr).toBe(`corral: GRPC_PORT=${port}: address already in use\n`);
      const metrics = await proxyExit({ BACKEND_ADDRESS: '127.0.0.1:1', LISTEN_HOST: '127.0.0.1', METRICS_PORT: String(port) });
      expect(metrics.stderr).toBe(`corral: METRICS_PORT=${port}: address already in use\n`);
    } finally {
      taken.close();
    }
  });

  it('refuses GRPC_PORT equal to METRICS_PORT', async () => {
    const r = await proxyExit({ BACKEND_ADDRESS: '127.0.0.1:1', GRPC_PORT: '50099', METRICS_PORT: '50099' });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('corral: invalid configuration: GRPC_PORT=50099 and METRICS_PORT=50099 are the same port; give each its own\n');
  });

  it('logs a warning for a variable of corral\'s prefixes that is no typo of one it reads', async () => {
    const p = await startProxy({ BACKEND_ADDRESS: '127.0.0.1:1', RETRY_ON_FULL_MOON: '3' });
    try {
      expect(p.lines.some((l) => l.includes('unknown variable RETRY_ON_FULL_MOON: corral does not read it'))).toBe(true);
    } finally {
      await p.stop();
    }
  });
});

describe('the example programs', () => {
  const run = async (script: string, args: string[]) => {
    const { spawnSync } = await import('node:child_process');
    const path = new URL(`../../dist/cmd/${script}.js`, import.meta.url).pathname;
    const r = spawnSync(process.execPath, [path, ...args], { encoding: 'utf8', timeout: 15_000 });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };

  it.each([['backend'], ['client']])('%s takes --help, and a mistake is one line, not a stack trace', async (script) => {
    const help = await run(script, ['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain(`node dist/cmd/${script}.js`);
    const bad = await run(script, ['--bogus']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe(`${script}: Unknown option '--bogus' (try --help)\n`);
  });

  it('the client spreads its calls over several targets and counts the backend calls behind each', async () => {
    const replicas = await Promise.all([startBackend(), startBackend()]);
    try {
      const targets = replicas.map((b) => b.address);
      const r = await run('client', ['--target', targets.join(','), '--requests', '6', '--delay', '0', '--json']);
      expect(r.code).toBe(0);
      const result = JSON.parse(r.stdout) as { ok: number; backendCalls: number; backendCallsByTarget: Record<string, number> };
      expect([result.ok, result.backendCalls, result.backendCallsByTarget]).toEqual([6, 6, { [targets[0]!]: 3, [targets[1]!]: 3 }]);
    } finally {
      await Promise.all(replicas.map((b) => b.stop()));
    }
  });

  it('the client says in one line when it cannot reach its target', async () => {
    const r = await run('client', ['--target', '127.0.0.1:1', '--requests', '2']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^client: cannot run the herd against 127\.0\.0\.1:1: 14 UNAVAILABLE/);
  });
});

describe('METRICS_HOST', () => {
  it('binds the metrics port to its own address', async () => {
    // The same port held on 127.0.0.1: corral can take it only on the address it was given
    // (a bind to 127.0.0.1 or to every address would fail), and no other process can take it meanwhile.
    const held = net.createServer().listen(0, '127.0.0.1');
    await new Promise((resolve) => held.once('listening', resolve));
    const port = (held.address() as net.AddressInfo).port;
    const p = await startProxy({ BACKEND_ADDRESS: '127.0.0.1:1', LISTEN_HOST: '127.0.0.1', METRICS_HOST: '127.0.0.2', METRICS_PORT: String(port) });
    try {
      expect(p.metricsPort).toBe(port);
      const reached = await new Promise<boolean>((resolve) => {
        const s = net.connect(port, '127.0.0.2');
        s.on('connect', () => (s.destroy(), resolve(true)));
        s.on('error', () => resolve(false));
      });
      expect(reached).toBe(true);
    } finally {
      await p.stop();
      held.close();
    }
  });
});
