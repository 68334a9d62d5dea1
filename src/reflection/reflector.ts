import type { Logger } from '../log/logger.js';
import type { LearnedDescriptors } from './learned-reads.js';
import { ReflectionUnavailable, reflect, type ReflectionTransport } from './server-reflection.js';

/** How long one backend may take to describe itself. */
const ASK_TIMEOUT_MS = 5000;
/** How often new endpoints are looked for; a failed ask is retried after 1 s, doubling up to 30 s. */
const SWEEP_MS = 1000;
const RETRY_MAX_MS = 30_000;

type Asked = (
  | { state: 'asking' | 'learned' | 'unsupported' }
  | { state: 'failed'; failures: number; retryAt: number }
) & {
  /** Asked before: a re-ask does not hold readiness back. */
  again: boolean;
  /** corral's sessions to it when it was asked: connected, and how many times it had come back. */
  connected: boolean;
  comebacks: number;
  /** When it was asked, so one that comes and goes is asked at most every REASK_MS. */
  at: number;
};

/** The least time between two asks of an endpoint that keeps coming back. */
const REASK_MS = 5000;

/**
 * Asks every backend endpoint corral knows for its descriptors over gRPC server reflection
 * (COLLAPSER_REFLECTION), so the methods it declares NO_SIDE_EFFECTS are collapsed and the
 * others are passed through as writes. An endpoint is asked when it first appears and
 * again when it comes back (its session was down, or it left the list and returned: a new
 * version may declare more); one that cannot be reached is asked again with backoff.
 * Bounded by the endpoints of the configuration, which come from discovery, never from
 * clients.
 */
export class Reflector {
  private readonly asked = new Map<string, Asked>();
  private timer: NodeJS.Timeout | null = null;
  /** Set during refresh(): every endpoint not being asked is asked. */
  private refreshing = false;

  constructor(
    private readonly learned: LearnedDescriptors,
    private readonly endpoints: () => Iterable<Endpoint>,
    private readonly logger: Logger,
    /** What is collapsed whatever a backend declares (COLLAPSER_METHODS...), said of one that declares nothing; null: nothing. */
    private readonly besides: string | null = null,
  ) {}

  start(): void {
    this.sweep();
    this.timer = setInterval(() => this.sweep(), SWEEP_MS).unref();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** Asks every endpoint again now (a reload); what they said before holds until they answer. */
  refresh(): void {
    this.refreshing = true;
    this.sweep();
    this.refreshing = false;
  }

  /** Endpoints being asked for the first time: until they answer (or fail, at most ASK_TIMEOUT_MS), /ready says so. */
  firstAsks(): string[] {
    const pending: string[] = [];
    for (const [address, asked] of this.asked) if (asked.state === 'asking' && !asked.again) pending.push(address);
    return pending;
  }

  private sweep(): void {
    const now = performance.now();
    const listed = new Set<string>();
    for (const endpoint of this.endpoints()) {
      listed.add(endpoint.address);
      const asked = this.asked.get(endpoint.address);
      if (asked === undefined || (this.refreshing && asked.state !== 'asking') || due(asked, endpoint, now)) this.ask(endpoint, asked, now);
    }
    // One that left the list is asked afresh if it returns.
    for (const address of this.asked.keys()) {
      if (listed.has(address)) continue;
      this.asked.delete(address);
      this.learned.forget(address);
    }
  }

  private ask(endpoint: Endpoint, before: Asked | undefined, now: number): void {
    const { cluster, address, sessions, connected, comebacks } = endpoint;
    const failures = before?.state === 'failed' ? before.failures : 0;
    const again = before !== undefined;
    const seen = { again, connected, comebacks, at: now };
    this.asked.set(address, { state: 'asking', ...seen });
    const settle = (next: Asked): boolean => {
      // Forgotten meanwhile (left the list): nothing to record.
      if (this.asked.get(address)?.state !== 'asking') return false;
      this.asked.set(address, next);
      return true;
    };
    reflect(sessions, address, ASK_TIMEOUT_MS).then(
      (registry) => {
        if (!settle({ state: 'learned', ...seen })) return;
        const declared = this.learned.set(cluster, address, registry);
        const methods = declared.counts.described;
        const { reads } = declared.methods;
        this.logger.info(
          { cluster, backend: address, methods, reads },
          reads.length > 0
            ? `learned the backend's methods over server reflection: collapsing the ${reads.length} it declares NO_SIDE_EFFECTS`
            : this.besides === null
              ? `learned the backend's methods over server reflection: none is declared NO_SIDE_EFFECTS, so its calls pass through; to collapse, ${HOW_TO_DECLARE}`
              : `learned the backend's methods over server reflection: none is declared NO_SIDE_EFFECTS; ${this.besides}`,
        );
      },
      (err: unknown) => {
        if (err instanceof ReflectionUnavailable && err.unsupported) {
          settle({ state: 'unsupported', ...seen });
          this.logger.info(
            { cluster, backend: address },
            this.besides === null
              ? `the backend serves no gRPC server reflection: nothing learned, its calls pass through; to collapse, ${HOW_TO_DECLARE}`
              : `the backend serves no gRPC server reflection: nothing learned; ${this.besides}`,
          );
          return;
        }
        const wait = Math.min(RETRY_MAX_MS, SWEEP_MS * 2 ** failures);
        settle({ state: 'failed', failures: failures + 1, retryAt: performance.now() + wait, ...seen, again: true });
        this.logger.debug({ cluster, backend: address, err: (err as Error).message, retryInMs: wait }, 'could not ask the backend over server reflection');
      },
    );
  }
}

interface Endpoint {
  cluster: string;
  address: string;
  /** corral's sessions to it, which the data path uses: reflection is asked over them. */
  sessions: ReflectionTransport;
  connected: boolean;
  comebacks: number;
}

/**
 * Whether to ask an endpoint again: one that failed, after its backoff or as soon as
 * corral connects to it; one that answered, when it came back (a restart may bring a new
 * version), at most every REASK_MS.
 */
function due(asked: Asked, now: { connected: boolean; comebacks: number }, at: number): boolean {
  switch (asked.state) {
    case 'asking':
      return false;
    case 'failed':
      return at >= asked.retryAt || (now.connected && !asked.connected);
    default:
      return now.comebacks > asked.comebacks && at - asked.at >= REASK_MS;
  }
}

/** The ways to make a method collapse when the backend declares nothing. */
const HOW_TO_DECLARE = 'declare reads with option idempotency_level = NO_SIDE_EFFECTS, or list them in COLLAPSER_METHODS';
