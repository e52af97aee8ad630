#!/usr/bin/env bash
# The HTTP transport against southbound-sim on loopback, next to a raw curl
# multi baseline and a new-connection-per-request baseline from the same
# run (see bench/transport_bench.c). Figures are CPU time of the bench
# process (getrusage), so the simulator's own work is not counted.
#
#   TRANSPORT_BENCH_REQUESTS  requests per measured phase (default 60000)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
if [ ! -x "$BUILD_DIR/transport_bench" ] || [ ! -x "$BUILD_DIR/southbound-sim" ]; then
  cmake --build "$BUILD_DIR" --target transport_bench southbound-sim >/dev/null || true
fi
if [ ! -x "$BUILD_DIR/transport_bench" ] || [ ! -x "$BUILD_DIR/southbound-sim" ]; then
  echo "transport_bench or southbound-sim not built in $BUILD_DIR" \
    "(needs tests/support/simproc.c and dev/sim)" >&2
  exit 1
fi
PV_BUILD_DIR=$(cd "$BUILD_DIR" && pwd)
export PV_BUILD_DIR
"$BUILD_DIR/transport_bench" "${TRANSPORT_BENCH_REQUESTS:-60000}" 20 6000 2>/dev/null
