import { z } from 'zod';
import type { Logger } from '../observe/logger.js';
import type { Endpoint, Resolution, Shard } from './endpoint.js';
import { PollingResolver, type PollingOptions } from './polling.js';

const brokerSchema = z.object({
  id: z.union([z.string().min(1), z.number().int()]).transform(String),
  address: z.string().regex(/^(\[[0-9a-fA-F:.]+\]|[^\s:/[\]]+):\d{1,5}$/, 'expected host:port'),
  leader: z.boolean().default(false),
});

const shardMapSchema = z.object({
  shards: z.array(
    z.object({
      topic: z.string().min(1),
      partition: z.union([z.string().min(1), z.number().int().min(0)]).transform(String),
      brokers: z.array(brokerSchema),
    }),
  ),
});

/**
 * The queue proxy's shard map: which brokers hold each topic partition, and which of
 * them leads it. `GET {url}` answers
 * `{"shards":[{"topic","partition","brokers":[{"id","address","leader"}]}]}`.
 * Brokers are de-duplicated by id (the first address seen for an id wins), so a broker
 * listed under many partitions is one endpoint with one connection pool.
 */
export class ShardMapResolver extends PollingResolver {
  readonly kind = 'shard_map';

  constructor(
    private readonly url: string,
    options: PollingOptions,
    logger: Logger,
  ) {
    super(options, logger);
  }

  protected get target(): string {
    return this.url;
  }

  protected async lookup(signal: AbortSignal): Promise<Resolution> {
    const response = await fetch(this.url, { signal });
    if (!response.ok) throw new Error(`GET ${this.url} answered HTTP ${response.status}`);
    const parsed = shardMapSchema.safeParse(await response.json());
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new Error(`shard map: unexpected answer at ${issue.path.join('.') || 'top level'}: ${issue.message}`);
    }
    return sanitizeShardMap(parsed.data.shards);
  }
}

/** Brokers de-duplicated by id across the map and within each shard. */
export function sanitizeShardMap(
  raw: ReadonlyArray<{ topic: string; partition: string; brokers: ReadonlyArray<{ id: string; address: string; leader: boolean }> }>,
): Resolution {
  const byId = new Map<string, Endpoint>();
  const shards: Shard[] = [];
  for (const s of raw) {
    const brokers: Endpoint[] = [];
    let leader: Endpoint | null = null;
    for (const b of s.brokers) {
      let endpoint = byId.get(b.id);
      if (endpoint === undefined) byId.set(b.id, (endpoint = { id: b.id, address: b.address }));
      if (!brokers.includes(endpoint)) brokers.push(endpoint);
      if (b.leader && leader === null) leader = endpoint;
    }
    shards.push({ topic: s.topic, partition: s.partition, brokers, leader });
  }
  return { endpoints: [...byId.values()], shards };
}
