import { describe, expect, it } from 'vitest';
import { AdmissionQueue, type Queued } from '../../src/admission/admission-queue.js';
import type { Priority } from '../../src/admission/concurrency-spec.js';

interface Entry extends Queued {
  name: string;
  callers: number;
}

const entry = (name: string, priority: Priority = 'normal', tenant = '', callers = 1): Entry => ({ name, priority, tenant, callers, worth() {
  return this.callers;
} });

function drain(queue: AdmissionQueue<Entry>, newestFirst = false): string[] {
  const names: string[] = [];
  for (let e = queue.take(newestFirst); e !== null; e = queue.take(newestFirst)) names.push(e.name);
  return names;
}

describe('AdmissionQueue', () => {
  it('lets critical calls in before normal ones, and normal before sheddable', () => {
    const q = new AdmissionQueue<Entry>();
    for (const e of [entry('s', 'sheddable'), entry('n', 'normal'), entry('c', 'critical')]) q.push(e);
    expect(drain(q)).toEqual(['c', 'n', 's']);
  });

  it('takes the oldest first, or the newest first while overloaded (adaptive LIFO)', () => {
    const q = new AdmissionQueue<Entry>();
    for (const n of ['a', 'b', 'c']) q.push(entry(n));
    expect(q.take(false)?.name).toBe('a');
    expect(q.take(true)?.name).toBe('c');
    expect(q.size).toBe(1);
  });

  it('takes tenants in turn, so one with many calls waiting cannot starve one with few', () => {
    const q = new AdmissionQueue<Entry>();
    for (let i = 0; i < 5; i++) q.push(entry(`loud${i}`, 'normal', 'loud'));
    q.push(entry('quiet0', 'normal', 'quiet'));
    q.push(entry('quiet1', 'normal', 'quiet'));
    expect(drain(q)).toEqual(['loud0', 'quiet0', 'loud1', 'quiet1', 'loud2', 'loud3', 'loud4']);
  });

  it('takes the call answering the most callers first (a herd’s flight before single calls)', () => {
    const q = new AdmissionQueue<Entry>();
    q.push(entry('single', 'normal', '', 1));
    const herd = entry('herd', 'normal', '', 1);
    q.push(herd);
    herd.callers = 200; // followers joined while it waited
    q.push(entry('other', 'normal', '', 1));
    expect(drain(q)).toEqual(['herd', 'single', 'other']);
  });

  it('makes room by shedding the lowest priority, the tenant with most calls waiting, the fewest callers, the oldest', () => {
    const q = new AdmissionQueue<Entry>();
    const quiet = entry('quiet', 'normal', 'quiet');
    const loudHerd = entry('loud-herd', 'normal', 'loud', 50);
    const loudOld = entry('loud-old', 'normal', 'loud');
    const loudNew = entry('loud-new', 'normal', 'loud');
    for (const e of [quiet, loudHerd, loudOld, loudNew]) q.push(e);
    expect(q.victim('normal')?.name).toBe('loud-old');
    const shed = entry('shed', 'sheddable');
    q.push(shed);
    expect(q.victim('critical')?.name).toBe('shed');
    expect(q.victim('sheddable')?.name).toBe('shed');
    q.remove(shed);
    // A sheddable newcomer makes no room among normal calls.
    expect(q.victim('sheddable')).toBeNull();
  });

  it('forgets a tenant once none of its calls wait, and removes what it is asked to', () => {
    const q = new AdmissionQueue<Entry>();
    const a = entry('a', 'normal', 't');
    q.push(a);
    expect(q.remove(a)).toBe(true);
    expect(q.remove(a)).toBe(false);
    expect(q.size).toBe(0);
    expect(q.take(false)).toBeNull();
  });
});
