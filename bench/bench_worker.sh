#!/usr/bin/env bash
# A whole provisiond worker on the dev stack (job produced -> HTTP call on
# the simulator -> job_status row -> reply consumed), next to baselines
# measured in the same run: the simulator alone (wrk), PostgreSQL alone
# (bench_pg), Kafka alone (one hop: the jobs read back directly) and a
# pass-through (a process that consumes the job topic and produces each
# record to the results topic at once). See docs/performance.md.
#
# Uses the stack in $PROVISIOND_* (or .dev/env, `make up`); without one it
# starts a private stack in .dev-bench-worker (BENCH_PORT_BASE, default
# 27400) and stops it afterwards.
#
#   BENCH_WORKER_JOBS       jobs per throughput phase (default 20000)
#   BENCH_WORKER_RATE       jobs/s of the latency phases (default 1000)
#   BENCH_WORKER_SECONDS    length of each latency phase (default 10)
#   BENCH_WORKER_INFLIGHT   jobs in flight for the memory phase (default 10000)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
JOBS=${BENCH_WORKER_JOBS:-20000}
RATE=${BENCH_WORKER_RATE:-1000}
SECS=${BENCH_WORKER_SECONDS:-10}
INFLIGHT=${BENCH_WORKER_INFLIGHT:-10000}
for v in "$JOBS" "$RATE" "$SECS" "$INFLIGHT"; do
  [[ "$v" =~ ^[1-9][0-9]{0,6}$ ]] || { echo "bench_worker: '$v' is not a positive number" >&2; exit 2; }
done

if [ ! -x "$BUILD_DIR/worker_bench" ] || [ ! -x "$BUILD_DIR/provisiond" ]; then
  cmake --build "$BUILD_DIR" --target worker_bench provisiond bench_pg >/dev/null || true
fi
if [ ! -x "$BUILD_DIR/worker_bench" ] || [ ! -x "$BUILD_DIR/provisiond" ]; then
  echo "bench_worker: $BUILD_DIR/worker_bench or provisiond is missing" >&2
  exit 1
fi
PV_BUILD_DIR=$(cd "$BUILD_DIR" && pwd)
export PV_BUILD_DIR

private=
if [ -z "${PROVISIOND_KAFKA_BROKERS:-}" ] && [ -f .dev/env ]; then
  set -a
  # shellcheck disable=SC1091
  . .dev/env
  set +a
fi
if [ -z "${PROVISIOND_KAFKA_BROKERS:-}" ] || [ -z "${SIM_VOLTHA_URL:-}" ]; then
  private=$PWD/.dev-bench-worker
  echo "bench_worker: no stack in the environment; starting one in $private"
  PV_STACK_DIR=$private PV_PORT_BASE=${BENCH_PORT_BASE:-27400} \
    BUILD_DIR=$PV_BUILD_DIR dev/stack.sh up >/dev/null
  set -a
  # shellcheck disable=SC1091
  . "$private/env"
  set +a
fi

cleanup() {
  curl -s -X DELETE "$SIM_VOLTHA_URL/_sim/faults" >/dev/null 2>&1 || true
  if [ -n "$private" ]; then
    PV_STACK_DIR=$private dev/stack.sh down --purge >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT
# The worker's schema must be current (the stack applies migrations at
# `up`; a newer binary may bring more).
"$BUILD_DIR/provisiond" --migrate -c "$PROVISIOND_CONFIG" >/dev/null 2>&1

OUT=$(mktemp)
trap 'rm -f "$OUT"; cleanup' EXIT
wb() { "$BUILD_DIR/worker_bench" "$@" 2>>"$OUT.err" | grep '^result' | tee -a "$OUT"; }
field() { # field LABEL KEY
  awk -v l="label=$1" -v k="$2" '$0 ~ " "l" " { for (i = 1; i <= NF; i++) { split($i, a, "="); if (a[1] == k) print a[2] } }' "$OUT"
}

echo "-- baselines: the simulator alone (wrk, 20 connections, 3 s, VOLTHA /health)"
if command -v wrk >/dev/null; then
  wrk -t1 -c20 -d3s --latency "$SIM_VOLTHA_URL/health" | grep -E 'Requests/sec|50%|99%' | sed 's/^/   /'
else
  echo "   (wrk not installed)"
fi
echo "-- baselines: PostgreSQL alone (bench_pg, small sizes)"
if [ -x "$BUILD_DIR/bench_pg" ]; then
  BENCH_PG_N=${BENCH_PG_N:-20000} BENCH_PG_BLOCKING_N=${BENCH_PG_BLOCKING_N:-2000} \
    "$BUILD_DIR/bench_pg" 2>/dev/null | sed 's/^/   /' | head -20 || true
fi

echo "-- throughput: $JOBS jobs produced at once (VOLTHA health_check, 2 tenants, 1000 keys)"
wb run --target direct --jobs "$JOBS" --label tp-direct >/dev/null
wb run --target passthrough --jobs "$JOBS" --label tp-pass >/dev/null
wb run --target worker --jobs "$JOBS" --label tp-worker --timeout 20 >/dev/null

N=$((RATE * SECS))
echo "-- latency: $N jobs at $RATE jobs/s"
wb run --target direct --jobs "$N" --rate "$RATE" --label lat-direct >/dev/null
wb run --target passthrough --jobs "$N" --rate "$RATE" --label lat-pass >/dev/null
wb run --target worker --jobs "$N" --rate "$RATE" --label lat-worker >/dev/null

echo "-- memory: $INFLIGHT jobs in flight, simulator latency 1 s (http max_connections 20 per endpoint: the rest wait in the admission queue)"
curl -sf -X PUT -H 'content-type: application/json' \
  -d '{"mode":"latency","latency_ms":1000}' "$SIM_VOLTHA_URL/_sim/faults" >/dev/null
wb rss --jobs $((INFLIGHT + INFLIGHT / 20)) --running "$INFLIGHT" --timeout 60 \
  --env PROVISIOND_WORKER_MAX_IN_FLIGHT="$INFLIGHT" \
  --env PROVISIOND_WORKER_MAX_BUFFERED=$((INFLIGHT * 2)) --label rss >/dev/null || true
curl -s -X DELETE "$SIM_VOLTHA_URL/_sim/faults" >/dev/null

echo
printf '%-34s %12s %12s %10s %10s %10s\n' "phase" "jobs/s" "cpu us/job" "p50 ms" "p99 ms" "max ms"
for l in tp-direct tp-pass tp-worker lat-direct lat-pass lat-worker; do
  [ -n "$(field $l replies)" ] || { printf '%-34s (failed; see stderr above)\n' "$l"; continue; }
  printf '%-34s %12s %12s %10s %10s %10s\n' "$l ($(field $l replies)/$(field $l jobs))" \
    "$(field $l replies_per_s)" "$(field $l cpu_us_per_job)" \
    "$(field $l e2e_p50_ms)" "$(field $l e2e_p99_ms)" "$(field $l e2e_max_ms)"
done
wp99=$(field lat-worker e2e_p99_ms); pp99=$(field lat-pass e2e_p99_ms)
wp50=$(field lat-worker e2e_p50_ms); pp50=$(field lat-pass e2e_p50_ms)
if [ -n "$wp99" ] && [ -n "$pp99" ]; then
  awk -v a="$wp50" -v b="$pp50" -v c="$wp99" -v d="$pp99" -v r="$RATE" 'BEGIN {
    printf "worker-added latency at %d jobs/s (worker minus pass-through, same run): p50 %.2f ms, p99 %.2f ms (goal p99 <= 10 ms)\n", r, a - b, c - d }'
fi
tp=$(field tp-worker replies_per_s); tpp=$(field tp-pass replies_per_s)
[ -n "$tp" ] && echo "worker throughput: $tp jobs/s (goal >= 5000; pass-through baseline $tpp jobs/s)"
if [ -n "$(field rss hwm_kib)" ]; then
  awk -v h="$(field rss hwm_kib)" -v r="$(field rss rss_kib)" -v i="$(field rss idle_rss_kib)" \
      -v n="$(field rss running_peak)" 'BEGIN {
    printf "worker memory with %d jobs in flight: VmRSS %.1f MiB, VmHWM %.1f MiB (idle after start %.1f MiB; goal <= 100 MiB)\n", n, r / 1024, h / 1024, i / 1024 }'
fi
if [ -s "$OUT.err" ]; then
  echo "stderr of worker_bench:"; sed 's/^/   /' "$OUT.err" | head -20
fi
rm -f "$OUT.err"
