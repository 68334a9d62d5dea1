import type { Logger } from '../log/logger.js';
import type { LearnedDescriptors } from './learned-reads.js';
import { ReflectionUnavailable, reflect } from './server-reflection.js';

/** How long one backend may take to describe itself. */
const ASK_TIMEOUT_MS = 5000;
/** How often new endpoints are looked for; a failed ask is retried after 1 s, doubling up to 30 s. */
const SWEEP_MS = 1000;
const RETRY_MAX_MS = 30_000;

type Asked = { state: 'asking' | 'learned' | 'unsupported' } | { state: 'failed'; failures: number; retryAt: number };

/**
 * Asks every backend endpoint corral knows, once, for its descriptors over gRPC server
 * reflection (COLLAPSER_REFLECTION), so the methods it declares NO_SIDE_EFFECTS are
 * collapsed and the others are passed through as writes. An endpoint without reflection
 * is asked once; one that cannot be reached is asked again with backoff. Bounded by the
 * endpoints of the configuration, which come from discovery, never from clients.
 */
export class Reflector {
  private readonly asked = new Map<string, Asked>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly learned: LearnedDescriptors,
    private readonly endpoints: () => Iterable<{ cluster: string; address: string }>,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.sweep();
    this.timer = setInterval(() => this.sweep(), SWEEP_MS).unref();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  private sweep(): void {
    const now = performance.now();
    for (const { cluster, address } of this.endpoints()) {
      const asked = this.asked.get(address);
      if (asked !== undefined && (asked.state !== 'failed' || now < asked.retryAt)) continue;
      const failures = asked?.state === 'failed' ? asked.failures : 0;
      this.asked.set(address, { state: 'asking' });
      reflect(address, ASK_TIMEOUT_MS).then(
        (registry) => {
          this.asked.set(address, { state: 'learned' });
          this.learned.add(registry);
          let methods = 0;
          for (const desc of registry) if (desc.kind === 'service') methods += desc.methods.length;
          this.logger.info({ cluster, backend: address, methods }, 'learned the backend\'s methods over server reflection');
        },
        (err: unknown) => {
          if (err instanceof ReflectionUnavailable && err.unsupported) {
            this.asked.set(address, { state: 'unsupported' });
            this.logger.info({ cluster, backend: address }, 'the backend serves no gRPC server reflection: nothing learned');
            return;
          }
          const wait = Math.min(RETRY_MAX_MS, SWEEP_MS * 2 ** failures);
          this.asked.set(address, { state: 'failed', failures: failures + 1, retryAt: performance.now() + wait });
          this.logger.debug({ cluster, backend: address, err: (err as Error).message, retryInMs: wait }, 'could not ask the backend over server reflection');
        },
      );
    }
  }
}
