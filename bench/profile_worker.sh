#!/usr/bin/env bash
# Where one provisiond worker's CPU goes, on a private dev stack (the
# backlog of bench_worker.sh: VOLTHA health_check, two tenants, 8 jobs per
# key). Not part of `make bench`: run it by hand; docs/performance.md
# quotes its output.
#
#   bench/profile_worker.sh callgrind [JOBS]   instructions per job by
#       function, counted only between the warm-up and the last reply
#       (callgrind_control zeroes and dumps through WB_MEASURE_HOOK);
#       default 4000 jobs (the worker runs ~50x slower under valgrind)
#   bench/profile_worker.sh perf [JOBS]        where the time goes at full
#       speed, kernel included: perf record -e cpu-clock -g on the worker
#       over the same window; default 40000 jobs
#   bench/profile_worker.sh strace [JOBS]      system calls per job, by
#       call, over the same window (strace -c -f); default 20000 jobs
#
#   BENCH_PORT_BASE   port base of the private stack (default $PV_PORT_BASE,
#                     else 27400)
#   PROFILE_OUT       where the raw profiles go (default build/bench-profile)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
MODE=${1:-}
case "$MODE" in
  callgrind) JOBS=${2:-4000} ;;
  perf) JOBS=${2:-40000} ;;
  strace) JOBS=${2:-20000} ;;
  *) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
[[ "$JOBS" =~ ^[1-9][0-9]{2,6}$ ]] || { echo "profile_worker: JOBS '$JOBS' must be 100..9999999" >&2; exit 2; }
BUILD_DIR=${BUILD_DIR:-build}
PORT_BASE=${BENCH_PORT_BASE:-${PV_PORT_BASE:-27400}}
cmake --build "$BUILD_DIR" --target worker_bench provisiond kafka-mock southbound-sim >/dev/null
PV_BUILD_DIR=$(cd "$BUILD_DIR" && pwd)
export PV_BUILD_DIR
OUTDIR=$(mkdir -p "${PROFILE_OUT:-$BUILD_DIR/bench-profile}" && cd "${PROFILE_OUT:-$BUILD_DIR/bench-profile}" && pwd)
# shellcheck source-path=SCRIPTDIR
. bench/lib.sh
trap bench_stack_down EXIT
bench_stack_up "$ROOT/.dev-bench-profile" "$PORT_BASE"
bench_pg_profile dev

stamp=$(date +%Y%m%d-%H%M%S)
args=(run --target worker --jobs "$JOBS" --keys $((JOBS / 8)) --timeout 120 --label "profile-$MODE")
if [ "$MODE" = callgrind ]; then
  command -v callgrind_control >/dev/null || { echo "profile_worker: valgrind is missing" >&2; exit 1; }
  out=$OUTDIR/callgrind.$stamp
  # provisiond under callgrind: worker_bench starts it through this wrapper
  wrap=$OUTDIR/provisiond-callgrind.sh
  printf '#!/bin/sh\nexec valgrind --tool=callgrind --callgrind-out-file=%s.%%p "%s" "$@"\n' \
    "$out" "$PV_BUILD_DIR/provisiond" >"$wrap"
  chmod +x "$wrap"
  # zero the counters when the window opens, dump them when it closes
  export WB_MEASURE_HOOK='if [ "$WB_PHASE" = start ]; then callgrind_control -z "$WB_TARGET_PID"; else callgrind_control -d "$WB_TARGET_PID"; fi >/dev/null'
  "$PV_BUILD_DIR/worker_bench" "${args[@]}" --bin "$wrap" | grep '^result'
  dump=$(ls -t "$out".*.1 2>/dev/null | head -1)
  [ -n "$dump" ] || { echo "profile_worker: no callgrind dump in $OUTDIR" >&2; exit 1; }
  total=$(callgrind_annotate "$dump" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1; exit }')
  echo "instructions in the window: $total, per job: $((total / JOBS))"
  # callgrind_annotate lines: "  19,344,030 ( 7.27%)  file:function [object]".
  # The frames on the stack when the dump was taken (main, the threads'
  # start routines) come out with the whole window as their own cost, and
  # inlined functions again without their object: both left out.
  annotate() { # annotate yes|no COUNT
    callgrind_annotate --auto=no --inclusive="$1" --threshold=100 "$dump" 2>/dev/null |
      awk -v jobs="$JOBS" -v total="$total" -v max="$2" -v incl="$1" '
        $1 ~ /^[0-9,]+$/ && $2 ~ /^\(/ && !/PROGRAM TOTALS/ {
          ir = $1; gsub(",", "", ir); name = $0; sub(/^ *[0-9,]+ +\( *[0-9.]+%\) +/, "", name)
          if (name ~ /(main|below main\)|__libc_start_main[^ ]*|clone\.S:clone|start_thread) \[|ld-linux/ || $NF !~ /^\[.*\]$/) next
          if (++n <= max) printf "%9.0f  %5.1f%%  %s\n", ir / jobs, 100 * ir / total, name }'
  }
  echo "top 20 functions by instructions (self), per job:"
  annotate no 20
  echo "by shared object (self), per job:"
  callgrind_annotate --auto=no --inclusive=no --threshold=100 "$dump" 2>/dev/null |
    awk -v jobs="$JOBS" -v total="$total" '
      $1 ~ /^[0-9,]+$/ && $2 ~ /^\(/ && !/PROGRAM TOTALS/ {
        if ($0 ~ /(main|below main\)|__libc_start_main[^ ]*|clone\.S:clone|start_thread) \[|ld-linux/) next
        ir = $1; gsub(",", "", ir); o = "(object not named)"
        if ($NF ~ /^\[.*\]$/) { o = $NF; gsub(/[][]/, "", o); sub(/.*\//, "", o) }
        by[o] += ir }
      END { for (o in by) printf "%9.0f  %5.1f%%  %s\n", by[o] / jobs, 100 * by[o] / total, o }' | sort -rn | head -12
  echo "inclusive, top 30 (per job):"
  annotate yes 30
  echo "raw: $dump (callgrind_annotate, kcachegrind)"
elif [ "$MODE" = strace ]; then
  command -v strace >/dev/null || { echo "profile_worker: strace is missing" >&2; exit 1; }
  export PROFILE_STRACE_OUT=$OUTDIR/strace.$stamp.txt
  export WB_MEASURE_HOOK='if [ "$WB_PHASE" = start ]; then strace -c -f -p "$WB_TARGET_PID" -o "$PROFILE_STRACE_OUT" </dev/null >/dev/null 2>&1 & echo $! >"$PROFILE_STRACE_OUT.pid"; sleep 0.5; else kill -INT "$(cat "$PROFILE_STRACE_OUT.pid")"; sleep 1; fi'
  "$PV_BUILD_DIR/worker_bench" "${args[@]}" | grep '^result'
  echo "system calls per job (all threads; strace slows the worker, the counts stand):"
  # strace -c: % time, seconds, usecs/call, calls, [errors,] syscall
  awk -v jobs="$JOBS" '$1 ~ /^[0-9.]+$/ && NF >= 5 && $NF != "total" { printf "%8.2f  %s\n", $4 / jobs, $NF }' \
    "$PROFILE_STRACE_OUT" | sort -rn | head -20
  echo "raw: $PROFILE_STRACE_OUT"
else
  command -v perf >/dev/null || { echo "profile_worker: perf is missing" >&2; exit 1; }
  data=$OUTDIR/perf.$stamp.data
  export PROFILE_PERF_DATA=$data
  # perf runs beside the worker over the window only; SIGINT makes it
  # write its file
  export WB_MEASURE_HOOK='if [ "$WB_PHASE" = start ]; then perf record -q -e cpu-clock -F 2999 -g -p "$WB_TARGET_PID" -o "$PROFILE_PERF_DATA" </dev/null >/dev/null 2>&1 & echo $! >"$PROFILE_PERF_DATA.pid"; sleep 0.5; else kill -INT "$(cat "$PROFILE_PERF_DATA.pid")"; sleep 2; fi'
  "$PV_BUILD_DIR/worker_bench" "${args[@]}" | grep '^result'
  echo "by shared object (self):"
  perf report -i "$data" --no-children --sort dso --stdio 2>/dev/null | grep -E '^ +[0-9]' | head -12
  echo "top 30 symbols (self):"
  perf report -i "$data" --no-children --sort dso,sym --stdio -g none 2>/dev/null | grep -E '^ +[0-9]' | head -30
  echo "raw: $data (perf report -i ...)"
fi
