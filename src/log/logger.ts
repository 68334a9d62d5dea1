import { pino, type Logger } from 'pino';

export type { Logger };

/** JSON lines on stdout; pino turns disabled levels into no-ops, so debug calls cost nothing at info. */
export function createLogger(level: string): Logger {
  return pino({ level, base: { service: 'corral' } });
}
