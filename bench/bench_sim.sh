#!/usr/bin/env bash
# bench_sim: the southbound simulator must never be what limits a benchmark
# of the worker. Measures, in one run on the same machine:
#   1. GET /health with keep-alive (wrk -t1 -c50), the simulator pinned to
#      one core, against a baseline: the cheapest libmicrohttpd server
#      (build/sim-bench-baseline) pinned the same way; plus the ratio to the
#      30,000 req/s target;
#   2. 5,000 concurrent idle keep-alive connections held open, then every
#      one of them reused and a fresh one opened (build/sim-idle-conns).
# Exits 1 if the idle-connection check fails or a tool is missing; a
# throughput below target is reported, not fatal (shared, noisy machines).
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
DUR=${BENCH_SIM_SECONDS:-5}
CONNS=${BENCH_SIM_IDLE:-5000}
TARGET_RPS=30000

if ! command -v wrk >/dev/null; then
  echo "bench_sim: wrk is missing: apt-get install wrk" >&2
  exit 1
fi
if ! cmake --build "$BUILD_DIR" --target southbound-sim sim-bench-baseline \
    sim-idle-conns >/dev/null; then
  echo "bench_sim: cannot build southbound-sim and its bench helpers in" \
       "$BUILD_DIR (cmake --build $BUILD_DIR --target southbound-sim)" >&2
  exit 1
fi

tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  rm -rf "$tmp"
}
trap cleanup EXIT

# With two or more cores the server gets core 0 and wrk core 1.
pin_srv=() pin_wrk=()
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
  pin_srv=(taskset -c 0) pin_wrk=(taskset -c 1)
fi

# wait_line FILE PATTERN: bounded wait for a line in a server's stdout.
wait_line() {
  for _ in $(seq 1 100); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "bench_sim: no '$2' in $1" >&2
  return 1
}

rps() { # wrk output -> requests/sec as an integer
  awk '/^Requests\/sec:/ { printf "%d", $2 }'
}

"${pin_srv[@]}" "$BUILD_DIR/southbound-sim" --voltha-port 0 --genieacs-port 0 \
  --netbox-port 0 --olts 1 --onus-per-olt 1 --cpes 1 --prefixes 1 \
  >"$tmp/sim.out" 2>"$tmp/sim.err" &
pids+=($!)
wait_line "$tmp/sim.out" READY || exit 1
VURL=$(sed -n 's/^SIM_VOLTHA_URL=//p' "$tmp/sim.out")

"${pin_srv[@]}" "$BUILD_DIR/sim-bench-baseline" 0 >"$tmp/base.out" \
  2>"$tmp/base.err" &
pids+=($!)
wait_line "$tmp/base.out" READY || exit 1
BPORT=$(sed -n 's/^PORT=//p' "$tmp/base.out")

# Warm both up briefly, then measure one after the other.
"${pin_wrk[@]}" wrk -t1 -c50 -d1s "$VURL/health" >/dev/null
"${pin_wrk[@]}" wrk -t1 -c50 -d1s "http://127.0.0.1:$BPORT/health" >/dev/null
sim_out=$("${pin_wrk[@]}" wrk -t1 -c50 -d"${DUR}s" --latency "$VURL/health")
base_out=$("${pin_wrk[@]}" wrk -t1 -c50 -d"${DUR}s" --latency \
  "http://127.0.0.1:$BPORT/health")
sim_rps=$(echo "$sim_out" | rps)
base_rps=$(echo "$base_out" | rps)
sim_p99=$(echo "$sim_out" | awk '$1 == "99%" { print $2 }')
base_p99=$(echo "$base_out" | awk '$1 == "99%" { print $2 }')
errors=$(echo "$sim_out" | awk '/Non-2xx|Socket errors/ { print }')

echo "command: wrk -t1 -c50 -d${DUR}s --latency <url>/health" \
     "(server ${pin_srv[*]:-unpinned}, wrk ${pin_wrk[*]:-unpinned})"
printf '%-44s %10s req/s  p99 %s\n' "southbound-sim GET /health" \
  "$sim_rps" "$sim_p99"
printf '%-44s %10s req/s  p99 %s\n' "baseline: static libmicrohttpd server" \
  "$base_rps" "$base_p99"
awk -v s="$sim_rps" -v b="$base_rps" -v t="$TARGET_RPS" 'BEGIN {
  printf "%-44s %10.2f\n", "sim / baseline", (b > 0 ? s / b : 0)
  printf "%-44s %10.2f  (%s)\n", "sim / target (30,000 req/s)", s / t,
         (s >= t ? "meets target" : "BELOW TARGET on this run")
}'
[ -n "$errors" ] && echo "wrk reported: $errors"

idle_port=${VURL##*:}
idle=$("$BUILD_DIR/sim-idle-conns" 127.0.0.1 "$idle_port" "$CONNS" /health)
idle_rc=$?
echo "idle keep-alive connections ($CONNS, held 2 s, then all reused):"
echo "  $idle"
stats=$(curl -s "$VURL/_sim/stats" | head -c 300)
echo "  sim stats after: ${stats:0:200}..."
if [ $idle_rc -ne 0 ]; then
  echo "bench_sim: FAILED the $CONNS idle keep-alive connections check" >&2
  exit 1
fi
echo "  $CONNS idle keep-alive connections: OK"
