#!/usr/bin/env bash
# Before/after for a change: corral from another checkout's build (A) and from this one (B),
# side by side in front of one echo backend, on the unique-keys and hot-key workloads,
# rounds interleaved; prints req/s per round, the medians and B/A. Binds 127.0.0.1 only
# and stops what it starts. Needs h2load and `npm run build` in both checkouts.
#   git worktree add /tmp/base <commit> && (cd /tmp/base && npm ci && npm run build)
#   bash bench/ab-builds.sh /tmp/base
# Both run on the first node on PATH with the same V8 flags, CORRAL_V8_FLAGS or corral's own.
# A_ENV and B_ENV add variables to one side, to compare a setting on one build:
#   B_ENV='ACCESS_LOG=/tmp/access.log' bash bench/ab-builds.sh .
# A_FLAGS and B_FLAGS replace one side's V8 flags, to compare flags on one build:
#   B_FLAGS='--max-semi-space-size=16 --no-maglev' bash bench/ab-builds.sh .
# After the rounds: each side's peak RSS and CPU time per call (from /proc), since both
# served the same calls.
set -euo pipefail
cd "$(dirname "$0")/.."
BASE=${1:?usage: bench/ab-builds.sh <checkout of the baseline, built>}
ROUNDS=${ROUNDS:-5}
flags=${CORRAL_V8_FLAGS---max-semi-space-size=4 --no-maglev --heap-growing-percent=100}
source bench/side-by-side.sh
builds=("$BASE" ".")
side_env=("${A_ENV:-}" "${B_ENV:-}")
side_flags=("${A_FLAGS-$flags}" "${B_FLAGS-$flags}")
corral=()
for i in 0 1; do
  # shellcheck disable=SC2086 # A_ENV and B_ENV are words
  env ${side_env[$i]} GRPC_PORT=$((41100 + i)) METRICS_PORT=$((41200 + i)) ADMIN_PORT=$((41300 + i)) BACKEND_ADDRESS=127.0.0.1:41001 LOG_LEVEL=warn \
    node ${side_flags[$i]} "${builds[$i]}/dist/cmd/proxy.js" >/dev/null & pids+=($!); corral+=($!)
  echo "http://127.0.0.1:$((41100 + i))/bench.Echo/Hot" > "$work/hot.$i"
done
sleep 2

declare -A results
for r in $(seq 1 "$ROUNDS"); do
  # Keys of their own each round: no key is asked twice in a run.
  for i in 0 1; do seq 0 19999 | sed "s|^|http://127.0.0.1:$((41100 + i))/bench.Echo/R${r}x|" > "$work/unique.$i"; done
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
calls=$((ROUNDS * 2 * 20000))
for i in 0 1; do
  rss=$(awk '/VmHWM/ {printf "%.1f", $2 / 1024}' "/proc/${corral[$i]}/status")
  # utime + stime, in clock ticks
  cpu=$(awk -v hz="$(getconf CLK_TCK)" -v n="$calls" '{printf "%.1f", ($14 + $15) / hz * 1e6 / n}' "/proc/${corral[$i]}/stat")
  echo "$([ "$i" = 0 ] && echo A || echo B): peak RSS $rss MiB, CPU $cpu us/call"
done
