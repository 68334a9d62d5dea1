#!/usr/bin/env bash
# Where corral's memory goes under the bench load: one corral (node binary and V8 flags as
# given) in front of the echo backend, 5 rounds of 20,000 unique-key and 20,000 hot-key
# calls (h2load, 128 streams), then its peak RSS, what V8 held at that peak (sampled by
# bench/heap-sampler.mjs), CPU ticks, and its resident memory by mapping (/proc/<pid>/smaps).
# Binds 127.0.0.1 only and stops what it starts. Needs h2load and `npm run build`.
#   bash bench/memory-profile.sh [node binary] ['V8 flags']
#   bash bench/memory-profile.sh node_modules/.bin/node '--max-semi-space-size=4 --no-maglev'
set -euo pipefail
cd "$(dirname "$0")/.."
NODE_BIN=${1:-node}
FLAGS=${2:-}
source bench/side-by-side.sh
sample="$work/heap.json"
# shellcheck disable=SC2086 # the flags are words
CORRAL_HEAP_SAMPLE=$sample GRPC_PORT=41100 METRICS_PORT=41200 BACKEND_ADDRESS=127.0.0.1:41001 LOG_LEVEL=warn \
  "$NODE_BIN" --import ./bench/heap-sampler.mjs $FLAGS dist/cmd/proxy.js >/dev/null & pid=$!; pids+=($pid)
sleep 2
for r in 1 2 3 4 5; do
  seq 0 19999 | sed "s|^|http://127.0.0.1:41100/bench.Echo/U${r}x|" > "$work/unique"
  echo "http://127.0.0.1:41100/bench.Echo/Hot" > "$work/hot"
  echo "round $r: unique $(h2load_rps "$work/unique") req/s, hot $(h2load_rps "$work/hot") req/s"
done
sleep 0.2
echo "node $("$NODE_BIN" --version), flags '${FLAGS}'"
grep -E 'VmHWM|VmRSS' "/proc/$pid/status" | tr -s ' \t' ' ' | tr '\n' ' '
awk '{print "cpu ticks", $14 + $15}' "/proc/$pid/stat"
echo "V8 at peak RSS (MiB): $(cat "$sample")"
node -e '
  const rss = {};
  let name = "";
  for (const line of require("fs").readFileSync(process.argv[1], "utf8").split("\n")) {
    const m = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (m) name = m[1] || "[anon]";
    else if (line.startsWith("Rss:")) rss[name] = (rss[name] ?? 0) + Number(line.split(/\s+/)[1]);
  }
  const top = Object.entries(rss).sort((a, b) => b[1] - a[1]).slice(0, 4);
  console.log("resident by mapping (MiB): " + top.map(([n, kb]) => `${n} ${Math.round(kb / 1024)}`).join(", "));
' "/proc/$pid/smaps"
