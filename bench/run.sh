#!/usr/bin/env bash
# make bench: runs every bench/bench_*.sh in turn. Each prints its figures
# next to a baseline measured in the same run (never a bare wall-clock
# number: these machines are shared and noisy), then how long it took.
# bench_worker.sh prints the table of issue 20 (docs/performance.md).
#
#   BENCH_QUICK=1   a short run of every bench (bench_worker.sh honours it)
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
export BUILD_DIR
status=0
t0=$SECONDS
times=()
for b in bench/bench_*.sh; do
  [ -e "$b" ] || continue
  name=$(basename "$b" .sh)
  echo "== $name"
  t=$SECONDS
  if ! bash "$b"; then
    echo "!! $name failed" >&2
    status=1
  fi
  times+=("$name $((SECONDS - t)) s")
done
echo "== durations: ${times[*]/%/;} total $((SECONDS - t0)) s"
exit $status
