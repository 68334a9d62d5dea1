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
import { collapsingLine, collapsingSummary, ignoredFieldsCheck, misspelledMethods } from '../src/runtime/collapsing.js';
import { loadHttpApi } from '../src/runtime/http-api.js';
import { variablesHelp } from '../src/config/variables.js';
import { readEnvironment } from '../src/config/environment.js';

const USAGE = `corral ${BUILD.version}: a gRPC sidecar that collapses identical in-flight calls

Usage:
  corral              run (configured by environment variables)
  corral validate     check the environment and CONFIG_PATH like start-up does; exit 0, or 2 with the problem
  corral purge tag=T  drop cached answers of the corral on ADMIN_HOST:ADMIN_PORT: tag=, method=, key= or all=true;
                      soft=true marks them stale instead (POST /cache/purge)
  corral --version    print the version
  corral --help       this text

Environment variables (durations as 100ms, 10s, 1m30s; sizes in bytes; the reference:
docs/configuration.md):

${variablesHelp()}`;

function fail(message: string): never {
  process.stderr.write(`corral: ${message}\n`);
  process.exit(2);
}

/** `corral purge tag=sku-1 [soft=true]`: POST /cache/purge on the admin port this environment names. */
async function purge(args: string[]): Promise<never> {
  if (args.length === 0 || args.some((a) => !/^[a-z]+=.+$/.test(a))) fail('purge takes name=value arguments: tag=, method=, key= or all=true, and soft=true');
  // ADMIN_HOST and ADMIN_PORT as corral reads them: their defaults, and a bad value refused the same way.
  let host: string;
  let port: number;
  try {
    ({ ADMIN_HOST: host, ADMIN_PORT: port } = readEnvironment(process.env).e);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    fail(err.message);
  }
  const query = new URLSearchParams(args.map((a) => a.split(/=(.*)/s, 2) as [string, string]));
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}/cache/purge?${query}`;
  try {
    const res = await fetch(url, { method: 'POST' });
    const body = await res.text();
    if (!res.ok) fail(`purge refused (${res.status}): ${body.trim()}`);
    process.stdout.write(body);
    process.exit(0);
  } catch (err) {
    fail(`cannot reach corral's admin port at ${host}:${port} (ADMIN_HOST, ADMIN_PORT): ${(err as Error).message}`);
  }
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
if (command === 'purge') await purge(rest);
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
  const ignored = ignoredFieldsCheck(config, declared);
  if (ignored.error !== null) fail(ignored.error);
  if (ignored.warning !== null) process.stdout.write(`warning: ${ignored.warning}\n`);
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
