import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log/logger.js';
import { Shutdown } from '../../src/runtime/shutdown.js';

const logger = createLogger('silent');

describe('Shutdown', () => {
  it('runs its steps in order, once, however often it is asked', async () => {
    const ran: string[] = [];
    const step = (name: string, wait = 0) => ({
      name,
      run: async () => {
        ran.push(`${name} start`);
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        ran.push(`${name} end`);
      },
    });
    const shutdown = new Shutdown([step('not ready'), step('grace', 20), step('close')], logger);
    expect(shutdown.started).toBe(false);
    const first = shutdown.run();
    const second = shutdown.run(); // a second SIGTERM
    expect(second).toBe(first);
    expect(shutdown.started).toBe(true);
    await first;
    expect(ran).toEqual(['not ready start', 'not ready end', 'grace start', 'grace end', 'close start', 'close end']);
  });

  it('goes on past a step that fails, so the ports still close', async () => {
    const ran: string[] = [];
    const shutdown = new Shutdown(
      [
        { name: 'flush traces', run: () => Promise.reject(new Error('exporter gone')) },
        { name: 'close the admin ports', run: () => void ran.push('closed') },
      ],
      logger,
    );
    await shutdown.run();
    expect(ran).toEqual(['closed']);
  });
});
