import { hash } from 'node:crypto';
import { mix32 } from '../balance/ring-hash.js';

/** A member of the fleet: another corral (or this one), by its registered id and address. */
export interface Member {
  readonly id: string;
  readonly address: string;
}

interface Seeded extends Member {
  readonly seed0: number;
  readonly seed1: number;
}


/** The first 8 bytes of a collapse key (a binary SHA-256 string) as two 32-bit words. */
function word(key: string, at: number): number {
  return ((key.charCodeAt(at) << 24) | (key.charCodeAt(at + 1) << 16) | (key.charCodeAt(at + 2) << 8) | key.charCodeAt(at + 3)) >>> 0;
}

/**
 * Rendezvous (highest-random-weight) hashing over the members: each key belongs to the
 * member with the highest score for it, so every sidecar with the same member list picks
 * the same owner, and a member that leaves moves only its own keys. The key is already a
 * SHA-256; a member's seed comes from its id, so a score costs two mixes, no hash.
 */
export class Rendezvous {
  private readonly members: readonly Seeded[];

  constructor(members: readonly Member[]) {
    this.members = members.map((m) => {
      const digest = hash('sha256', m.id, 'binary');
      return { id: m.id, address: m.address, seed0: word(digest, 0), seed1: word(digest, 4) };
    });
  }

  get size(): number {
    return this.members.length;
  }

  /** The owner of `key`; null when there are no members. */
  owner(key: string): Member | null {
    const k0 = word(key, 0);
    const k1 = word(key, 4);
    let best: Seeded | null = null;
    let bestHigh = -1;
    let bestLow = -1;
    for (const m of this.members) {
      const high = mix32(m.seed0 ^ k0);
      const low = mix32(m.seed1 ^ k1 ^ high);
      if (high > bestHigh || (high === bestHigh && (low > bestLow || (low === bestLow && best !== null && m.id > best.id)))) {
        best = m;
        bestHigh = high;
        bestLow = low;
      }
    }
    return best;
  }
}
