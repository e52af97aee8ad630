# shellcheck shell=bash
# bench/lib.sh: the private stack of the worker benchmarks (bench_worker.sh,
# profile_worker.sh). Sourced, never run; the caller is in the repository
# root and has PV_BUILD_DIR set.

PG_BIN=/usr/lib/postgresql/15/bin
# PostgreSQL refuses to run as root (dev/stack.sh does the same).
if [ "$(id -u)" -eq 0 ]; then
  as_pg() { runuser -u postgres -- "$@"; }
else
  as_pg() { "$@"; }
fi

# bench_stack_up DIR PORT_BASE: starts a private dev stack (kafka-mock,
# the simulator, PostgreSQL) in DIR and exports its environment; the
# caller stops it with bench_stack_down.
bench_stack_up() {
  BENCH_STACK=$1
  PV_STACK_DIR=$BENCH_STACK PV_PORT_BASE=$2 BUILD_DIR=$PV_BUILD_DIR KAFKA=mock \
    dev/stack.sh up >/dev/null || return 1
  set -a
  # shellcheck disable=SC1091
  . "$BENCH_STACK/env"
  set +a
  # The stack's own server options (port, socket, its fsync=off ...),
  # from the command line it was started with, minus the data directory.
  BENCH_PG_OPTS=$(sed 's/^[^ ]* //; s/"-D" "[^"]*" *//' "$BENCH_STACK/pg/postmaster.opts")
}

bench_stack_down() {
  [ -n "${BENCH_STACK:-}" ] || return 0
  curl -s -X DELETE "${SIM_VOLTHA_URL:-http://127.0.0.1:1}/_sim/faults" >/dev/null 2>&1 || true
  PV_STACK_DIR=$BENCH_STACK dev/stack.sh down --purge >/dev/null 2>&1 || true
}

bench_psql() {
  PGOPTIONS='-c client_min_messages=warning' "$PG_BIN/psql" -X -q -At -d "$PROVISIOND_PG" "$@"
}

# bench_pg_profile dev|durable: restarts the stack's PostgreSQL with its
# own options plus pg_stat_statements and, for durable, the settings of a
# production server (later -c options win); prints what the server says.
bench_pg_profile() {
  local extra="-c shared_preload_libraries=pg_stat_statements"
  [ "$1" = durable ] && extra+=" -c fsync=on -c synchronous_commit=on -c full_page_writes=on"
  as_pg "$PG_BIN/pg_ctl" restart -D "$BENCH_STACK/pg" -m fast -w -t 60 \
    -l "$BENCH_STACK/logs/postgres.log" -o "$BENCH_PG_OPTS $extra" >/dev/null 2>&1 ||
    { echo "bench: PostgreSQL did not restart: read $BENCH_STACK/logs/postgres.log" >&2; return 1; }
  bench_psql -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" ||
    { echo "bench: no pg_stat_statements (postgresql-contrib?)" >&2; return 1; }
  echo "   PostgreSQL $1: $(bench_psql -F ' ' -c "SELECT 'fsync=' || current_setting('fsync'),
    'synchronous_commit=' || current_setting('synchronous_commit'),
    'full_page_writes=' || current_setting('full_page_writes')")"
  # the worker's schema must be current (a newer binary may bring more)
  "$PV_BUILD_DIR/provisiond" --migrate -c "$PROVISIOND_CONFIG" >/dev/null 2>&1 ||
    { echo "bench: provisiond --migrate failed" >&2; return 1; }
}
