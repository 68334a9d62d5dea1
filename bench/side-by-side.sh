# Sourced by the side-by-side bench scripts: a work dir and cleanup, the request frame,
# the echo backend, an h2load run and a median. Binds 127.0.0.1 only; the EXIT trap
# stops every process added to `pids`.
work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT
# One gRPC frame of a 100-byte message, the request body of every call.
node -e 'const m=Buffer.alloc(100,120),h=Buffer.alloc(5);h.writeUInt32BE(100,1);require("fs").writeFileSync(process.argv[1],Buffer.concat([h,m]))' "$work/frame"
node dist/bench/echo-backend.js 41001 >/dev/null & pids+=($!)

# req/s of 20,000 calls on one connection, 128 streams, over the URIs in file $1.
h2load_rps() {
  h2load -n 20000 -c 1 -m 128 -d "$work/frame" -H content-type:application/grpc -H te:trailers -i "$1" 2>&1 \
    | awk '/finished in/ {print $4}'
}

median() { echo "$1" | tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
