#!/usr/bin/env bash
# A/B of BACKEND_STREAMS_PER_SESSION on the unique-keys workload: five corrals in front of
# one echo backend, side by side, 5 rounds interleaved; prints req/s per round and the
# medians. Binds 127.0.0.1 only and stops what it starts. Needs h2load and `npm run build`.
#   bash bench/streams-per-session.sh
set -euo pipefail
cd "$(dirname "$0")/.."
VARIANTS=(1000000 64 32 16 8)   # 1000000: effectively one session
ROUNDS=${ROUNDS:-5}
source bench/side-by-side.sh
for i in "${!VARIANTS[@]}"; do
  BACKEND_STREAMS_PER_SESSION=${VARIANTS[$i]} GRPC_PORT=$((41100 + i)) METRICS_PORT=$((41200 + i)) \
    BACKEND_ADDRESS=127.0.0.1:41001 LOG_LEVEL=warn bin/corral >/dev/null & pids+=($!)
  seq 0 19999 | sed "s|^|http://127.0.0.1:$((41100 + i))/bench.Echo/M|" > "$work/uris.$i"
done
sleep 2

declare -A results
for r in $(seq 1 "$ROUNDS"); do
  line="round $r:"
  for i in "${!VARIANTS[@]}"; do
    rps=$(h2load_rps "$work/uris.$i")
    results[$i]="${results[$i]:-} $rps"
    line="$line ${VARIANTS[$i]}=$rps"
  done
  echo "$line"
done
for i in "${!VARIANTS[@]}"; do
  echo "streams per session ${VARIANTS[$i]}: median $(median "${results[$i]}") req/s"
done
