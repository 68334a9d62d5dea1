import type { Metadata } from '../call/call.js';
import type { Endpoint, Shard } from '../discovery/endpoint.js';
import { firstValue } from '../wire/metadata.js';
import { GrpcError, Status } from '../wire/status.js';
import type { Picker } from './picker.js';

/** The queue proxy's metadata, read from each call. */
export const TOPIC_HEADER = 'topic';
export const PARTITION_HEADER = 'partition';
export const TO_LEADER_HEADER = 'to-leader';

/**
 * Routes by the queue proxy's metadata over a shard map. The shards a call may go to
 * are those matching its `topic` and `partition` (either may be left out); with
 * `to-leader: true` only their leaders qualify. Among those that qualify the choice
 * goes round robin. No match means the map is stale: the resolver is asked to
 * refresh, and the call gets UNAVAILABLE, which clients may retry.
 */
export class ShardPicker implements Picker {
  private next = 0;
  /**
   * Candidates per (topic, partition, to-leader) seen, so a call does not scan the map.
   * Only non-empty answers are kept, so its size is bounded by the map, not by callers.
   */
  private readonly found = new Map<string, readonly Endpoint[]>();

  constructor(
    private readonly shards: readonly Shard[],
    private readonly endpoints: readonly Endpoint[],
    private readonly refresh: () => void,
  ) {}

  pick(headers: Metadata): Endpoint {
    const topic = firstValue(headers[TOPIC_HEADER]);
    const partition = firstValue(headers[PARTITION_HEADER]);
    const toLeader = firstValue(headers[TO_LEADER_HEADER])?.toLowerCase() === 'true';
    // NUL cannot occur in a header value, so it marks an absent header unambiguously.
    const memoKey = `${topic ?? '\0'}\0${partition ?? '\0'}\0${toLeader ? 'L' : ''}`;
    let candidates = this.found.get(memoKey);
    if (candidates === undefined) {
      candidates = this.candidates(topic, partition, toLeader);
      if (candidates.length > 0) this.found.set(memoKey, candidates);
    }
    if (candidates.length === 0) {
      this.refresh();
      const what = [topic !== undefined && `topic '${topic}'`, partition !== undefined && `partition '${partition}'`]
        .filter(Boolean)
        .join(' ');
      throw new GrpcError(
        Status.UNAVAILABLE,
        `no ${toLeader ? 'leader' : 'broker'} known for ${what || 'any shard'}; the shard map is being refreshed`,
      );
    }
    const endpoint = candidates[this.next % candidates.length]!;
    this.next = (this.next + 1) % 0x7fffffff;
    return endpoint;
  }

  private candidates(topic: string | undefined, partition: string | undefined, toLeader: boolean): readonly Endpoint[] {
    if (topic === undefined && partition === undefined && !toLeader) return this.endpoints;
    const found: Endpoint[] = [];
    for (const shard of this.shards) {
      if (topic !== undefined && shard.topic !== topic) continue;
      if (partition !== undefined && shard.partition !== partition) continue;
      if (toLeader) {
        if (shard.leader !== null && !found.includes(shard.leader)) found.push(shard.leader);
      } else {
        for (const b of shard.brokers) if (!found.includes(b)) found.push(b);
      }
    }
    return found;
  }
}
