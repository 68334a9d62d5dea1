#!/usr/bin/env node
/**
 * corral's entry point. Configuration comes from the environment (see --help).
 *   corral             run until SIGTERM or SIGINT
 *   corral validate    check the environment and CONFIG_PATH, as start-up would, and exit
 *   corral --version | --help
 */
import { ConfigError, loadConfig, type Config } from '../src/config/config.js';
import { startCorral } from '../src/main.js';
import { BUILD } from '../src/observe/build-info.js';
import { DeclaredReads } from '../src/collapse/declared-reads.js';
import { collapsingLine, collapsingSummary, misspelledMethods } from '../src/runtime/collapsing.js';
import { loadHttpApi } from '../src/runtime/http-api.js';

const USAGE = `corral ${BUILD.version}: a gRPC sidecar that collapses identical in-flight calls

Usage:
  corral              run (configured by environment variables)
  corral validate     check the environment and CONFIG_PATH like start-up does; exit 0, or 2 with the problem
  corral --version    print the version
  corral --help       this text

Main variables (all of them: docs/configuration.md):
  BACKEND_ADDRESS           host:port of the gRPC backend (cleartext HTTP/2), or
  CONFIG_PATH               a YAML file of routes and clusters
  GRPC_PORT, METRICS_PORT   where corral serves gRPC (50052) and /metrics, /health, /ready (2112)
  ADMIN_HOST, ADMIN_PORT    where the admin endpoints listen (127.0.0.1:9901)
  COLLAPSER_METHODS         reads to collapse besides those the backend declares NO_SIDE_EFFECTS
                            (/pkg.Service/Method, /pkg.Service/; * for every method); nothing else is collapsed
  COLLAPSER_SKIP_METHODS    methods never collapsed nor cached, whatever declares them
  COLLAPSER_REFLECTION      ask the backend over gRPC server reflection which methods are reads (on)
  COLLAPSER_CACHE_DURATION  how long OK answers are cached (100ms)
  SHUTDOWN_DELAY, SHUTDOWN_GRACE  serving on after SIGTERM (0s), then draining (20s)
  CORRAL_V8_FLAGS           node's V8 flags when started by bin/corral (--max-semi-space-size=4 --no-maglev --heap-growing-percent=100)
`;

function fail(message: string): never {
  process.stderr.write(`corral: ${message}\n`);
  process.exit(2);
}

function configured(): Config {
  try {
    return loadConfig(process.env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    fail(err.message);
  }
}

const [command, ...rest] = process.argv.slice(2);
if (command === '--help' || command === '-h' || command === 'help') {
  process.stdout.write(USAGE);
  process.exit(0);
}
if (command === '--version' || command === '-v') {
  process.stdout.write(`corral ${BUILD.version} (node ${BUILD.node})\n`);
  process.exit(0);
}
if (command !== undefined && command !== 'validate') fail(`unknown argument '${command}'; try corral --help`);
if (rest.length > 0) fail(`unexpected arguments after ${command}: ${rest.join(' ')}`);

const config = configured();
if (command === 'validate') {
  const { topology } = config;
  // The http section as start-up reads it: descriptors compiled, routes resolved.
  let api;
  try {
    api = await loadHttpApi(topology, config.configPath ?? 'BACKEND_ADDRESS');
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    fail(err.message);
  }
  const declared = api ? new DeclaredReads(api.descriptors.registry) : null;
  const misspelled = misspelledMethods(config, declared);
  if (misspelled.length > 0) fail(misspelled.join('; '));
  for (const warning of config.warnings) process.stdout.write(`warning: ${warning}\n`);
  for (const skipped of api?.skipped ?? []) process.stdout.write(`warning: google.api.http binding not served: ${skipped}\n`);
  process.stdout.write(
    `configuration OK: ${config.configPath ?? 'BACKEND_ADDRESS'}; ${topology.routes.length} route(s), clusters ${Object.keys(topology.clusters).join(', ')}; ` +
      `gRPC on ${config.listenHost}:${config.grpcPort}, metrics on ${config.metricsHost}:${config.metricsPort}, admin on ${config.adminHost}:${config.adminPort}; ` +
      `${api ? `${api.table.all().length} HTTP route(s); ` : ''}` +
      `${collapsingLine(collapsingSummary(config, declared))}\n`,
  );
  process.exit(0);
}

let corral;
try {
  corral = await startCorral(config);
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  fail(err.message);
}
/** A repeat of the first signal within this long is the same request to stop. */
const SAME_SIGNAL_MS = 1000;
let first: { signal: NodeJS.Signals; at: number } | null = null;
// The first signal drains; a later one exits at once. Handled, not left to the default
// action, which the kernel does not apply to PID 1 (node as a container's first process).
// Ctrl-C in a terminal, systemd's KillMode=control-group and kill -TERM -<pgid> signal the
// whole process group: corral gets the signal from the kernel and again from npm or a
// shell that forwards it, a moment apart. That echo is not a second request.
const onSignal = (signal: NodeJS.Signals): void => {
  const now = performance.now();
  if (first === null) {
    first = { signal, at: now };
    corral.logger.info({ signal }, 'shutting down');
    void corral.shutdown().then(() => process.exit(0));
    return;
  }
  if (signal === first.signal && now - first.at < SAME_SIGNAL_MS) {
    corral.logger.info({ signal }, 'the same signal again within a second: already shutting down');
    return;
  }
  corral.logger.warn({ signal }, 'second signal: exiting at once');
  process.exit(1);
};
process.on('SIGTERM', onSignal);
process.on('SIGINT', onSignal);
process.on('SIGHUP', () => void corral.reload());
