// Preloaded into corral by bench/allocation.ts (node --import): counts what the V8 heap
// allocates between two SIGUSR2 signals, and where. The first signal starts the count, the
// second writes to $BENCH_ALLOC_OUT (JSON): bytes allocated (from the used heap before and
// after every GC, so exact for the JS heap; Buffer contents live outside it), the GCs run,
// and the sampling heap profiler's estimate of objects and bytes by allocating function,
// collected objects included.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import v8 from 'node:v8';

const out = process.env.BENCH_ALLOC_OUT;
const interval = 256;
const session = new Session();
session.connect();
let profiler = null;
let startUsed = 0;

process.on('SIGUSR2', () => void toggle());

async function toggle() {
  if (profiler === null) {
    profiler = new v8.GCProfiler();
    await session.post('HeapProfiler.startSampling', {
      samplingInterval: interval,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true,
    });
    startUsed = v8.getHeapStatistics().used_heap_size;
    profiler.start();
    return;
  }
  const endUsed = v8.getHeapStatistics().used_heap_size;
  const { statistics } = profiler.stop();
  const { profile } = await session.post('HeapProfiler.stopSampling');
  profiler = null;
  let bytes = 0;
  let before = startUsed;
  for (const gc of statistics) {
    bytes += gc.beforeGC.heapStatistics.usedHeapSize - before;
    before = gc.afterGC.heapStatistics.usedHeapSize;
  }
  bytes += endUsed - before;
  writeFileSync(out, JSON.stringify({ bytes, gcs: statistics.length, sites: sites(profile) }));
}

/** Objects and bytes by allocating function; a sample of size s stands for 1/(1-e^(-s/interval)) objects (V8's scaling). */
function sites(profile) {
  const byNode = new Map();
  const walk = (node, caller) => {
    const f = node.callFrame;
    const url = f.url.replace(/^.*\/(dist|node_modules)\//, '$1/').replace(/^node:/, '');
    const name = `${f.functionName || '(anonymous)'} ${url}:${f.lineNumber + 1}`;
    // Where corral's code asked for it: the nearest frame of dist/src on the stack.
    const ours = url.startsWith('dist/src/') ? name : caller;
    byNode.set(node.id, `${name}${ours !== name && ours ? ` < ${ours}` : ''}`);
    for (const child of node.children) walk(child, ours);
  };
  walk(profile.head, '');
  const totals = new Map();
  for (const s of profile.samples) {
    const name = byNode.get(s.nodeId) ?? '?';
    const objects = 1 / (1 - Math.exp(-s.size / interval));
    const t = totals.get(name) ?? { objects: 0, bytes: 0 };
    t.objects += objects;
    t.bytes += objects * s.size;
    totals.set(name, t);
  }
  return [...totals].map(([site, t]) => ({ site, objects: t.objects, bytes: t.bytes })).sort((a, b) => b.bytes - a.bytes);
}
