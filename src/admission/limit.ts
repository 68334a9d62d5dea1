/**
 * How many of a cluster's calls may be at its backend at once, and what corral learns of
 * the backend as its calls end.
 */
export interface ConcurrencyLimit {
  /** Calls allowed at the backend at once now. */
  readonly limit: number;
  /** A call came back from the backend after `rttMs`, with `inFlight` calls at the backend as it was sent. */
  sample(rttMs: number, inFlight: number, now: number): void;
}

export class FixedLimit implements ConcurrencyLimit {
  constructor(readonly limit: number) {}
  sample(): void {}
}

/** The smallest and largest limits the adaptive limit moves between, and where it starts. */
export const ADAPTIVE = { min: 4, max: 1000, initial: 20 } as const;
/** Latency allowed above the backend's latency at no load before the limit shrinks (Gradient2's tolerance). */
const TOLERANCE = 2;
/** How much of each new estimate the limit takes (Gradient2's smoothing). */
const SMOOTHING = 0.2;
/** Samples a window needs before it moves the limit, the shortest window, and the samples it keeps. */
const WINDOW_SAMPLES = 10;
const WINDOW_MIN_MS = 50;
const WINDOW_KEPT = 64;
/** How long the no-load latency is remembered while calls come at light load. */
const NO_LOAD_WINDOW_MS = 30_000;
const NO_LOAD_SLOTS = 10;

/**
 * The limit found from latency, in the manner of Netflix's Gradient2 against the latency
 * at no load: each window of calls, the limit moves toward limit x (TOLERANCE x no-load
 * latency / the window's median latency), clamped to halve at most, plus a little
 * headroom (sqrt(limit)) while the backend keeps up, so it rises until queueing at the
 * backend shows in latency, and falls as soon as it does. The limit does not grow while
 * less than half of it is used: the load, not the backend, limits it then. The median,
 * not the mean, so that a few long calls (a stream that waits for events) do not read as
 * a slow backend.
 *
 * The no-load latency is the lowest seen, over the last 30 s, among calls sent while at
 * most half the limit was in use (light load); it is never measured by shedding: Envoy's
 * adaptive concurrency filter drops to a minimum concurrency now and then to see it, and
 * the calls it refuses then are its users' main complaint. A backend that got faster
 * shows at once (a lower minimum). While the limit binds, no call is sent at light load
 * and the last minimum is kept, so it cannot creep up with the queueing the tolerance
 * allows; should the backend have got slower meanwhile, the limit falls to its floor,
 * and latency still above the tolerance there is taken for the new no-load latency.
 * What this cannot see: a backend that got faster while the limit never stopped binding
 * is learned only once the load lets up; until then the limit keeps the latency within
 * twice the old no-load latency, so latency, not goodput, pays.
 */
export class AdaptiveLimit implements ConcurrencyLimit {
  /** The limit as estimated, fractional; calls are counted against its whole part. */
  private estimate: number;
  private readonly noLoad = new WindowedMin(NO_LOAD_WINDOW_MS, NO_LOAD_SLOTS);
  private readonly window = new Float64Array(WINDOW_KEPT);
  private windowStart = 0;
  private count = 0;
  private busiest = 0;

  constructor(private readonly bounds: { min: number; max: number } = ADAPTIVE) {
    this.estimate = Math.min(bounds.max, Math.max(bounds.min, ADAPTIVE.initial));
  }

  get limit(): number {
    return Math.floor(this.estimate);
  }

  /** The latency at no load, as it stands; 0 before any call. */
  get noLoadMs(): number {
    return this.noLoad.value;
  }

  sample(rttMs: number, inFlight: number, now: number): void {
    const noLoad = this.noLoad.value;
    if (noLoad === 0 || rttMs < noLoad || inFlight <= Math.max(this.limit / 2, this.bounds.min)) this.noLoad.add(rttMs, now);
    if (this.count === 0) this.windowStart = now;
    this.window[this.count % WINDOW_KEPT] = rttMs;
    this.count++;
    if (inFlight > this.busiest) this.busiest = inFlight;
    if (this.count >= WINDOW_SAMPLES && now - this.windowStart >= Math.max(WINDOW_MIN_MS, noLoad)) this.update(now);
  }

  private update(now: number): void {
    const latency = median(this.window.subarray(0, Math.min(this.count, WINDOW_KEPT)));
    const gradient = Math.max(0.5, Math.min(1, (TOLERANCE * this.noLoad.value) / latency));
    // At the floor, calls queue at the backend only if it got slower: what they take is its no-load latency now.
    if (gradient < 1 && this.estimate <= this.bounds.min) this.noLoad.reset(latency, now);
    const used = this.busiest >= this.estimate / 2;
    const target = this.estimate * gradient + (used && gradient === 1 ? Math.sqrt(this.estimate) : 0);
    const next = this.estimate * (1 - SMOOTHING) + target * SMOOTHING;
    this.estimate = Math.min(this.bounds.max, Math.max(this.bounds.min, next));
    this.count = 0;
    this.busiest = 0;
  }
}

function median(values: Float64Array): number {
  const sorted = values.slice().sort();
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * The minimum of the values added in the last `windowMs`, kept in `slots` slices (no list
 * of samples). With nothing added for a whole window, the last minimum stands.
 */
export class WindowedMin {
  private readonly mins: number[];
  private readonly starts: number[];
  private readonly slotMs: number;
  /** The slot of the latest value. */
  private current = 0;

  constructor(windowMs: number, slots: number) {
    this.slotMs = windowMs / slots;
    this.mins = new Array<number>(slots).fill(Infinity);
    this.starts = new Array<number>(slots).fill(-Infinity);
  }

  add(value: number, now: number): void {
    const slot = Math.floor(now / this.slotMs);
    const i = slot % this.mins.length;
    if (this.starts[i] !== slot) {
      this.starts[i] = slot;
      this.mins[i] = value;
    } else if (value < this.mins[i]!) this.mins[i] = value;
    this.current = slot;
  }

  /** Forgets every value but this one. */
  reset(value: number, now: number): void {
    this.starts.fill(-Infinity);
    this.add(value, now);
  }

  /** The minimum over the window ending at the latest value; 0 before any value. */
  get value(): number {
    let min = Infinity;
    for (let i = 0; i < this.mins.length; i++) if (this.current - this.starts[i]! < this.mins.length && this.mins[i]! < min) min = this.mins[i]!;
    return min === Infinity ? 0 : min;
  }
}
