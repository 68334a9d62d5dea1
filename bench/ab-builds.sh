#!/usr/bin/env bash
# Before/after for a change: corral from another checkout's build (A) and from this one (B),
# side by side in front of one echo backend, on the unique-keys and hot-key workloads,
# rounds interleaved; prints req/s per round, the medians and B/A. Binds 127.0.0.1 only
# and stops what it starts. Needs h2load and `npm run build` in both checkouts.
#   git worktree add /tmp/base <commit> && (cd /tmp/base && npm ci && npm run build)
#   bash bench/ab-builds.sh /tmp/base
# Both run on the first node on PATH with the same V8 flags, CORRAL_V8_FLAGS or corral's own.
set -euo pipefail
cd "$(dirname "$0")/.."
BASE=${1:?usage: bench/ab-builds.sh <checkout of the baseline, built>}
ROUNDS=${ROUNDS:-5}
flags=${CORRAL_V8_FLAGS---max-semi-space-size=4 --no-maglev}
source bench/side-by-side.sh
builds=("$BASE" ".")
for i in 0 1; do
  GRPC_PORT=$((41100 + i)) METRICS_PORT=$((41200 + i)) BACKEND_ADDRESS=127.0.0.1:41001 LOG_LEVEL=warn \
    node $flags "${builds[$i]}/dist/cmd/proxy.js" >/dev/null & pids+=($!)
  seq 0 19999 | sed "s|^|http://127.0.0.1:$((41100 + i))/bench.Echo/M|" > "$work/unique.$i"
  echo "http://127.0.0.1:$((41100 + i))/bench.Echo/Hot" > "$work/hot.$i"
done
sleep 2

declare -A results
for r in $(seq 1 "$ROUNDS"); do
  for load in unique hot; do
    line="round $r $load:"
    for i in 0 1; do
      rps=$(h2load_rps "$work/$load.$i")
      results[$load.$i]="${results[$load.$i]:-} $rps"
      line="$line $([ "$i" = 0 ] && echo A || echo B)=$rps"
    done
    echo "$line"
  done
done
for load in unique hot; do
  a=$(median "${results[$load.0]}"); b=$(median "${results[$load.1]}")
  echo "$load keys: A $a req/s, B $b req/s, B/A $(node -e "console.log(($b/$a).toFixed(2))")"
done
