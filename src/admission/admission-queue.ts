import { PRIORITIES, type Priority } from './concurrency-spec.js';

/** A call waiting for a slot of its cluster. */
export interface Queued {
  readonly priority: Priority;
  /** Whose call it is, for fairness (BACKEND_CONCURRENCY_FAIR_BY); '' when not shared out. */
  readonly tenant: string;
  /** Callers it answers: a flight's waiters, 1 for one client's call; 0 once nobody waits. */
  worth(): number;
}

/**
 * The calls waiting for a slot, in the order they are let in:
 *
 * - by priority: critical before normal before sheddable;
 * - within a priority, tenant by tenant in turn (the tenant let in longest ago first), so
 *   that one sending three times what the backend takes cannot starve one sending a fifth;
 * - within a tenant, the call that answers the most callers (a herd's flight before a
 *   single call), then the newest while the queue is overloaded (adaptive LIFO: the
 *   oldest are the likeliest to miss their deadline anyway), else the oldest.
 *
 * Bounded by its owner (the Admission sheds past its size); a tenant's list exists only
 * while it has calls waiting, so client-chosen tenant values cannot grow it.
 */
export class AdmissionQueue<T extends Queued> {
  /** Per priority, per tenant, calls in arrival order; a Map's order is the tenants' turn. */
  private readonly waiting: Array<Map<string, T[]>> = PRIORITIES.map(() => new Map<string, T[]>());
  size = 0;

  push(entry: T): void {
    const tenants = this.waiting[rank(entry.priority)]!;
    const calls = tenants.get(entry.tenant);
    if (calls === undefined) tenants.set(entry.tenant, [entry]);
    else calls.push(entry);
    this.size++;
  }

  remove(entry: T): boolean {
    const tenants = this.waiting[rank(entry.priority)]!;
    const calls = tenants.get(entry.tenant);
    const i = calls?.indexOf(entry) ?? -1;
    if (i < 0) return false;
    calls!.splice(i, 1);
    if (calls!.length === 0) tenants.delete(entry.tenant);
    this.size--;
    return true;
  }

  /** The next call to let in, taken out of the queue; null when none waits. */
  take(newestFirst: boolean): T | null {
    for (const tenants of this.waiting) {
      for (const [tenant, calls] of tenants) {
        const entry = pick(calls, newestFirst);
        this.remove(entry);
        // Served: to the back of the turn.
        const rest = tenants.get(tenant);
        if (rest !== undefined) {
          tenants.delete(tenant);
          tenants.set(tenant, rest);
        }
        return entry;
      }
    }
    return null;
  }

  /**
   * The call to shed to make room for one of `priority`, if one of the same or a lower
   * priority waits: at the lowest priority waiting, from the tenant with the most calls
   * waiting, the one answering the fewest callers, the oldest of those.
   */
  victim(priority: Priority): T | null {
    for (let r = this.waiting.length - 1; r >= rank(priority); r--) {
      let longest: T[] | null = null;
      for (const calls of this.waiting[r]!.values()) if (longest === null || calls.length > longest.length) longest = calls;
      if (longest === null) continue;
      let victim = longest[0]!;
      let least = victim.worth();
      for (let i = 1; i < longest.length && least > 0; i++) {
        const worth = longest[i]!.worth();
        if (worth < least) {
          victim = longest[i]!;
          least = worth;
        }
      }
      return victim;
    }
    return null;
  }
}

function rank(priority: Priority): number {
  return priority === 'critical' ? 0 : priority === 'normal' ? 1 : 2;
}

/** The call of a tenant's to let in: the most callers, then the newest or the oldest. */
function pick<T extends Queued>(calls: readonly T[], newestFirst: boolean): T {
  let best = calls[newestFirst ? calls.length - 1 : 0]!;
  let bestWorth = best.worth();
  for (let k = 0; k < calls.length; k++) {
    const i = newestFirst ? calls.length - 1 - k : k;
    const worth = calls[i]!.worth();
    if (worth > bestWorth) {
      best = calls[i]!;
      bestWorth = worth;
    }
  }
  return best;
}
