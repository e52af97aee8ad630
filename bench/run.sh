#!/usr/bin/env bash
# make bench: runs every bench/bench_*.sh in turn. Each prints its figures
# next to a baseline measured in the same run (never a bare wall-clock
# number: these machines are shared and noisy).
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
export BUILD_DIR
status=0
for b in bench/bench_*.sh; do
  [ -e "$b" ] || continue
  echo "== $(basename "$b" .sh)"
  if ! bash "$b"; then
    echo "!! $(basename "$b") failed" >&2
    status=1
  fi
done
exit $status
