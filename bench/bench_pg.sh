#!/usr/bin/env bash
# Single-row upserts/s through db/pg (pipelined) against blocking
# PQexecParams one at a time, same server, same run. Needs a PostgreSQL:
# $PROVISIOND_PG, or the dev stack's .dev/env (make up).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
if [ -z "${PROVISIOND_PG:-}" ] && [ -f .dev/env ]; then
  # shellcheck disable=SC1091
  . .dev/env
fi
if [ -z "${PROVISIOND_PG:-}" ]; then
  echo "bench_pg: skipped (PROVISIOND_PG not set; run \`make up\` first)"
  exit 0
fi
if [ ! -x "$BUILD_DIR/bench_pg" ]; then
  echo "bench_pg: $BUILD_DIR/bench_pg is missing (cmake --build $BUILD_DIR --target bench_pg)" >&2
  exit 1
fi
exec "$BUILD_DIR/bench_pg"
