import type { Logger } from '../log/logger.js';

/** One configuration generation as reload sees it. */
export interface Generation {
  start(): void;
  stop(): void;
}

/**
 * The configuration in effect, and reloads of it, one after another (a SIGHUP during a
 * reload waits for it). `load` reads and checks the files, or throws to keep the running
 * generation (a bad file); `build` makes the next one from them (it may take over parts
 * of the running one, so it is built only once it will be used: not after shutdown
 * began); `swap` puts it in place on every front before the old one is stopped, so no
 * call finds neither.
 */
export class Generations<G extends Generation, Input> {
  private serial: Promise<void> = Promise.resolve();
  private count = 0;

  constructor(
    private current: G,
    private readonly hooks: {
      /** The next generation's input; null when there is nothing to reload. */
      load(): Promise<Input | null>;
      build(input: Input, previous: G): G;
      swap(next: G, previous: G): void;
      stopping(): boolean;
    },
    private readonly logger: Logger,
  ) {}

  get now(): G {
    return this.current;
  }

  /** How many reloads took effect. */
  get generation(): number {
    return this.count;
  }

  reload(): Promise<void> {
    return (this.serial = this.serial.then(() => this.reloadNow()).catch((err: unknown) => {
      this.logger.error({ err: (err as Error).message }, 'config reload failed');
    }));
  }

  private async reloadNow(): Promise<void> {
    let input: Input | null;
    try {
      input = await this.hooks.load();
    } catch (err) {
      this.logger.error({ err: (err as Error).message }, 'config reload failed: keeping the running config');
      return;
    }
    if (input === null || this.hooks.stopping()) return;
    const next = this.hooks.build(input, this.current);
    this.count++;
    next.start();
    const previous = this.current;
    this.current = next;
    this.hooks.swap(next, previous);
    previous.stop();
  }
}
