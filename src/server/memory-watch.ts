import { totalmem } from 'node:os';
import v8 from 'node:v8';
import vm from 'node:vm';
import type { Logger } from '../log/logger.js';
import type { Overload } from './overload.js';

/** How often live memory is read: process.memoryUsage() walks V8's heap spaces, tens of microseconds. */
const SAMPLE_MS = 250;
/** Calls are taken again once live memory is this far below the bound, so the state does not flap. */
const RECOVER_AT = 0.9;
/** At most one full collection of corral's own per this long (a pause of tens of milliseconds on a large heap). */
const COLLECT_EVERY_MS = 5000;

/**
 * A full garbage collection on demand (what --expose-gc gives, made the way the expose-gc
 * package makes it): the heap in use counts garbage until V8 collects it, and V8 collects
 * only as a program allocates, so a corral that refuses calls for memory and then sits
 * idle would go on refusing them.
 */
function collector(): () => void {
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
}

/**
 * Live memory (the V8 heap in use plus memory outside it that V8 tracks: buffers) against
 * OVERLOAD_HEAP_BYTES: above it, the Overload refuses new calls until it falls back below
 * 90% of it. Not RSS: after a burst, Node keeps the pages it had (docs/performance.md,
 * Attacks), so a bound on RSS would refuse calls long after the memory was free.
 */
export class MemoryWatch {
  private readonly timer: NodeJS.Timeout;
  private readonly gc = collector();
  private collectedAt = -Infinity;
  liveBytes = 0;

  constructor(
    private readonly overload: Overload,
    readonly limitBytes: number,
    private readonly logger: Logger,
  ) {
    this.timer = setInterval(() => this.sample(), SAMPLE_MS).unref();
  }

  sample(): void {
    let live = liveMemory();
    // Over the bound (or still over it): collect first, so garbage never counts as held.
    if (live > this.limitBytes * RECOVER_AT && performance.now() - this.collectedAt >= COLLECT_EVERY_MS) {
      this.collectedAt = performance.now();
      this.gc();
      live = liveMemory();
    }
    this.liveBytes = live;
    const o = this.overload;
    if (!o.memoryHigh && live > this.limitBytes) {
      o.memoryHigh = true;
      this.logger.warn({ liveMiB: mib(live), limitMiB: mib(this.limitBytes), openCalls: o.openCalls }, 'memory above OVERLOAD_HEAP_BYTES: refusing new calls until it falls');
    } else if (o.memoryHigh && live < this.limitBytes * RECOVER_AT) {
      o.memoryHigh = false;
      this.logger.warn({ liveMiB: mib(live), limitMiB: mib(this.limitBytes), openCalls: o.openCalls }, 'memory back under OVERLOAD_HEAP_BYTES: taking new calls again');
    }
  }

  close(): void {
    clearInterval(this.timer);
  }
}

function liveMemory(): number {
  const { heapUsed, external } = process.memoryUsage();
  return heapUsed + external;
}

function mib(bytes: number): number {
  return Math.round(bytes / 2 ** 20);
}

/**
 * OVERLOAD_HEAP_BYTES when unset: half the container's memory limit (cgroups, as
 * process.constrainedMemory() reads it), else 0 (not watched). Half, because the rest of
 * what the kernel counts is not in the heap: the node binary, nghttp2's and the
 * allocator's memory, which grow with it.
 */
export function defaultHeapBound(): number {
  const constrained = process.constrainedMemory();
  return constrained > 0 && constrained < totalmem() ? Math.floor(constrained / 2) : 0;
}
