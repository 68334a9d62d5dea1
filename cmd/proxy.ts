#!/usr/bin/env node
/** corral's entry point: configuration from the environment, then run until SIGTERM or SIGINT. */
import { ConfigError, loadConfig } from '../src/config/config.js';
import { startCorral } from '../src/main.js';

let config;
try {
  config = loadConfig(process.env);
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  process.stderr.write(`corral: ${err.message}\n`);
  process.exit(2);
}

const corral = await startCorral(config);
let signals = 0;
// The first signal drains; a second one exits at once. Handled, not left to the default
// action, which the kernel does not apply to PID 1 (node as a container's first process).
const onSignal = (signal: NodeJS.Signals): void => {
  if (++signals > 1) {
    corral.logger.warn({ signal }, 'second signal: exiting at once');
    process.exit(1);
  }
  corral.logger.info({ signal }, 'shutting down');
  void corral.shutdown().then(() => process.exit(0));
};
process.on('SIGTERM', onSignal);
process.on('SIGINT', onSignal);
process.on('SIGHUP', () => corral.reload());
