// Preloaded into corral by bench/memory-profile.sh (node --import): every 50 ms, when RSS
// reached a new peak, writes what V8 held then to $CORRAL_HEAP_SAMPLE (JSON, MiB).
import { writeFileSync } from 'node:fs';
import v8 from 'node:v8';

const out = process.env.CORRAL_HEAP_SAMPLE;
let peak = 0;
const MiB = (n) => Math.round(n / 1048576);
setInterval(() => {
  const m = process.memoryUsage();
  if (out === undefined || m.rss <= peak) return;
  peak = m.rss;
  const h = v8.getHeapStatistics();
  const spaces = Object.fromEntries(v8.getHeapSpaceStatistics().map((s) => [s.space_name, MiB(s.physical_space_size)]));
  writeFileSync(out, JSON.stringify({ rss: MiB(m.rss), heap: MiB(h.total_physical_size), newSpace: spaces.new_space, oldSpace: spaces.old_space, peakMalloced: MiB(h.peak_malloced_memory), external: MiB(m.external) }));
}, 50).unref();
