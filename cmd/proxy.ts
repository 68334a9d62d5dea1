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
const stop = (signal: string): void => {
  corral.logger.info({ signal }, 'shutting down');
  void corral.shutdown().then(() => process.exit(0));
};
process.once('SIGTERM', () => stop('SIGTERM'));
process.once('SIGINT', () => stop('SIGINT'));
process.on('SIGHUP', () => corral.reload());
