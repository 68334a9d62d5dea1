import { z } from 'zod';
import type { Logger } from '../log/logger.js';
import { HOST_PORT, type Endpoint, type Resolution, type Shard } from './endpoint.js';
import { PollingResolver, type PollingOptions } from './polling.js';

const brokerSchema = z.object({
  id: z.union([z.string().min(1), z.number().int()]).transform(String),
  address: z.string().regex(HOST_PORT, 'expected host:port'),
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
    const { shards } = await this.getJson(this.url, shardMapSchema, signal);
    return sanitizeShardMap(shards);
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
