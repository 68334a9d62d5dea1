import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log/logger.js';
import { Generations } from '../../src/runtime/generations.js';

const logger = createLogger('silent');

/** A generation that records what happened to it. */
class Gen {
  events: string[] = [];
  constructor(readonly name: string) {}
  start(): void {
    this.events.push('start');
  }
  stop(): void {
    this.events.push('stop');
  }
}

function generations(load: () => Promise<string | null>, stopping = () => false) {
  const swaps: string[] = [];
  const first = new Gen('first');
  const g = new Generations<Gen, string>(
    first,
    { load, build: (input) => new Gen(input), swap: (next, previous) => swaps.push(`${previous.name}->${next.name}`), stopping },
    logger,
  );
  return { g, first, swaps };
}

describe('Generations: reloads', () => {
  it('starts the next generation, swaps it in, then stops the previous one', async () => {
    const { g, first, swaps } = generations(async () => 'second');
    await g.reload();
    expect(g.now.name).toBe('second');
    expect(g.now.events).toEqual(['start']);
    expect(first.events).toEqual(['stop']);
    expect(swaps).toEqual(['first->second']);
    expect(g.generation).toBe(1);
  });

  it('keeps the running generation when the next one cannot be loaded', async () => {
    const { g, first } = generations(async () => {
      throw new Error('routes[0].cluster="nowhere": no such cluster');
    });
    await g.reload();
    expect(g.now).toBe(first);
    expect(first.events).toEqual([]);
    expect(g.generation).toBe(0);
  });

  it('runs reloads one after another, in the order asked', async () => {
    const order: string[] = [];
    let n = 0;
    const { g, swaps } = generations(async () => {
      const name = `gen${++n}`;
      order.push(`load ${name}`);
      await new Promise((r) => setTimeout(r, n === 1 ? 30 : 0)); // the first load is the slow one
      order.push(`loaded ${name}`);
      return name;
    });
    await Promise.all([g.reload(), g.reload()]);
    expect(order).toEqual(['load gen1', 'loaded gen1', 'load gen2', 'loaded gen2']);
    expect(swaps).toEqual(['first->gen1', 'gen1->gen2']);
  });

  it('builds nothing once shutdown has begun', async () => {
    const { g, first, swaps } = generations(async () => 'late', () => true);
    await g.reload();
    expect(g.now).toBe(first);
    expect(swaps).toEqual([]);
  });
});
