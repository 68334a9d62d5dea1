import type { Logger } from '../log/logger.js';

/** One step of a graceful stop. */
export interface ShutdownStep {
  readonly name: string;
  run(): void | Promise<void>;
}

/**
 * Runs the steps of a stop in order, each once, whoever asks how often: the second
 * SIGTERM (or a SIGINT after it) gets the same promise. A step that throws is logged and
 * the next ones still run, so a failing exporter never leaves a port open.
 */
export class Shutdown {
  private running: Promise<void> | null = null;

  constructor(
    private readonly steps: readonly ShutdownStep[],
    private readonly logger: Logger,
  ) {}

  get started(): boolean {
    return this.running !== null;
  }

  run(): Promise<void> {
    return (this.running ??= this.all());
  }

  private async all(): Promise<void> {
    for (const step of this.steps) {
      this.logger.debug({ step: step.name }, 'shutdown step');
      try {
        await step.run();
      } catch (err) {
        this.logger.error({ step: step.name, err: (err as Error).message }, 'shutdown step failed; going on');
      }
    }
    this.logger.info('stopped');
  }
}

/** Waits until `open()` is 0, or `ms` have passed. */
export async function callsEnded(open: () => number, ms: number): Promise<void> {
  const deadline = performance.now() + ms;
  while (open() > 0 && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
}
