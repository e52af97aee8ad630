#!/usr/bin/env bash
# dev/stack.sh: the embedded dev stack, on loopback, no containers.
#
#   stack.sh up             start PostgreSQL 15, Kafka (mock or Apache) and
#                           the southbound simulator; write $PV_STACK_DIR/env
#                           and $PV_STACK_DIR/provisiond.conf
#   stack.sh down [--purge] stop everything it started (--purge: delete data)
#   stack.sh status         one line per component
#   stack.sh stop|start postgres|kafka
#                           stop or start one component of a running stack
#                           (fault injection: the chaos suite); kafka means
#                           Apache Kafka, whose data survives a restart
#
# Environment:
#   PV_STACK_DIR   state dir (default: <repo>/.dev)
#   PV_PORT_BASE   ports are derived from it (default 25400): PostgreSQL +32,
#                  VOLTHA sim +81, GenieACS sim +57, NetBox sim +80,
#                  metrics +64, Apache Kafka broker +92 / controller +93
#   KAFKA          mock (default) or apache
#   BUILD_DIR      where kafka-mock, southbound-sim, provisiond are (build)
#   KAFKA_PARTITIONS    partitions per topic (default 4)
#   KAFKA_MOCK_BROKERS  kafka-mock brokers, 1..3 (default 1)
#
# See docs/dev-stack.md.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
# shellcheck source-path=SCRIPTDIR
. "$HERE/lib.sh"

PG_BIN=/usr/lib/postgresql/15/bin
START_TIMEOUT=${PV_START_TIMEOUT:-30}

cd "$ROOT"
S=$(abspath "${PV_STACK_DIR:-$ROOT/.dev}")
BUILD=$(abspath "${BUILD_DIR:-build}")
KAFKA=${KAFKA:-mock}
BASE=${PV_PORT_BASE:-25400}
PARTITIONS=${KAFKA_PARTITIONS:-4}
MOCK_BROKERS=${KAFKA_MOCK_BROKERS:-1}

# in_range VALUE MIN MAX: VALUE is a plain decimal number in MIN..MAX.
in_range() {
  [[ "$1" =~ ^[0-9]{1,6}$ ]] && [ "$((10#$1))" -ge "$2" ] && [ "$((10#$1))" -le "$3" ]
}
if ! in_range "$BASE" 1024 65400; then
  die "PV_PORT_BASE='$BASE' must be a number in 1024..65400 (ports go up to base+93)"
fi
case "$KAFKA" in mock|apache) ;; *) die "KAFKA='$KAFKA' must be mock or apache" ;; esac
if ! in_range "$PARTITIONS" 1 256; then
  die "KAFKA_PARTITIONS='$PARTITIONS' must be a number in 1..256"
fi
BASE=$((10#$BASE))
PARTITIONS=$((10#$PARTITIONS))
[[ "$MOCK_BROKERS" =~ ^[1-3]$ ]] ||
  die "KAFKA_MOCK_BROKERS='$MOCK_BROKERS' must be 1, 2 or 3"

PG_PORT=$((BASE + 32))
VOLTHA_PORT=$((BASE + 81))
GENIEACS_PORT=$((BASE + 57))
NETBOX_PORT=$((BASE + 80))
METRICS_PORT=$((BASE + 64))
export KAFKA_BROKER_PORT=$((BASE + 92))
export KAFKA_CONTROLLER_PORT=$((BASE + 93))

RUN=$S/run
LOGS=$S/logs
SECRETS=$S/secrets
PGDATA=$S/pg
# What a live component's command line holds: a path of this stack, never
# just a program name. Pids are recycled fast on a busy host (pid_max may
# be 32768), and a stale pid file must not make `down` stop another
# stack's or a test's private simulator.
SIM_MARK="--env-file $RUN/sim.env"
MOCK_MARK="--bootstrap-file $RUN/kafka-mock.bootstrap"
export PV_STACK_DIR=$S PV_PORT_BASE=$BASE KAFKA_PARTITIONS=$PARTITIONS

# PostgreSQL refuses to run as root: as root, its commands run as the
# postgres user, and everything it writes must belong to that user.
if [ "$(id -u)" -eq 0 ]; then
  as_pg() { runuser -u postgres -- "$@"; }
else
  as_pg() { "$@"; }
fi

usage() {
  sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'
}

# ---------------------------------------------------------------- state dir

init_dirs() {
  mkdir -p "$S" "$RUN" "$LOGS"
  # Marks the directory as ours, so that `down --purge` never deletes a
  # directory some mistyped PV_STACK_DIR pointed at.
  [ -f "$S/.pv-stack-dir" ] || echo "provisiond dev stack state; see docs/dev-stack.md" >"$S/.pv-stack-dir"
  local recorded
  recorded=$(cat "$RUN/port_base" 2>/dev/null || true)
  if [ -n "$recorded" ] && [ "$recorded" != "$BASE" ] && any_running; then
    die "the stack in $S runs with PV_PORT_BASE=$recorded, not $BASE: run 'PV_PORT_BASE=$recorded dev/stack.sh down' first"
  fi
  echo "$BASE" >"$RUN/port_base"
}

any_running() {
  pg_pid >/dev/null || pidfile_alive "$RUN/kafka-mock.pid" "$MOCK_MARK" >/dev/null ||
    pidfile_alive "$RUN/southbound-sim.pid" "$SIM_MARK" >/dev/null ||
    "$HERE/kafka-apache.sh" running 2>/dev/null
}

# port_free_or_die PORT WHAT: one clear line when someone else has the port.
port_free_or_die() {
  if port_busy "$1"; then
    local next=$((BASE + 200))
    [ "$next" -le 65400 ] || next=40000
    die "port $1 ($2) is already in use by another program: pick another range with PV_PORT_BASE=$next make up (or PV_PORT_BASE=$next dev/stack.sh up)"
  fi
}

# --------------------------------------------------------------- PostgreSQL

# pg_pid: prints the postmaster's pid if our cluster runs.
pg_pid() {
  local pid
  [ -f "$PGDATA/postmaster.pid" ] || return 1
  pid=$(head -n1 "$PGDATA/postmaster.pid" 2>/dev/null || true)
  pid_alive "$pid" "$PGDATA" || return 1
  printf '%s\n' "$pid"
}

# A postmaster.pid left by a killed run names a dead (or recycled) pid;
# postgres itself refuses to start when that pid now belongs to another
# process, so remove it (and the socket lock file) when nothing of ours runs.
pg_clear_stale() {
  local pid
  [ -f "$PGDATA/postmaster.pid" ] || return 0
  pid=$(head -n1 "$PGDATA/postmaster.pid" 2>/dev/null || true)
  if ! pid_alive "$pid" "$PGDATA"; then
    say "postgres: removing stale postmaster.pid (pid ${pid:-?} is not a running postmaster)"
    rm -f "$PGDATA/postmaster.pid" "$RUN"/.s.PGSQL.*.lock
  fi
}

pg_check_access() {
  [ "$(id -u)" -eq 0 ] || return 0
  # The postgres user must be able to walk down to the state dir.
  if ! runuser -u postgres -- test -x "$S"; then
    die "the postgres user cannot reach $S (a parent directory is not searchable by others): run 'chmod o+x' on each parent shown by 'namei -l $S', or use PV_STACK_DIR=/tmp/pv-dev"
  fi
}

pg_up() {
  local pid
  pg_check_access
  if pid=$(pg_pid); then
    local port
    port=$(sed -n 4p "$PGDATA/postmaster.pid" 2>/dev/null || true)
    if [ "$port" = "$PG_PORT" ]; then
      say "postgres: already running (pid $pid, 127.0.0.1:$PG_PORT)"
      pg_ensure_db
      return 0
    fi
    say "postgres: running on port $port, restarting on $PG_PORT"
    pg_down
  fi
  pg_clear_stale
  port_free_or_die "$PG_PORT" "PostgreSQL"
  if [ "$(id -u)" -eq 0 ]; then
    chown postgres: "$RUN"
    chmod 0755 "$RUN"
    touch "$LOGS/postgres.log"
    chown postgres: "$LOGS/postgres.log"
  fi
  if [ ! -s "$PGDATA/PG_VERSION" ]; then
    if [ -d "$PGDATA" ] && [ -n "$(ls -A "$PGDATA" 2>/dev/null)" ]; then
      die "$PGDATA exists but is not a PostgreSQL data dir (no PG_VERSION): remove it or run 'dev/stack.sh down --purge'"
    fi
    say "postgres: initdb $PGDATA (trust auth on loopback: dev only)"
    mkdir -p "$PGDATA"
    [ "$(id -u)" -eq 0 ] && chown postgres: "$PGDATA"
    chmod 0700 "$PGDATA"
    # --auth=trust: any local user may connect as any role. Acceptable only
    # because the cluster listens on 127.0.0.1 for development.
    if ! as_pg "$PG_BIN/initdb" -D "$PGDATA" -U postgres --auth=trust \
      --encoding=UTF8 --locale=C.UTF-8 >>"$LOGS/initdb.log" 2>&1; then
      die "postgres: initdb failed: read $LOGS/initdb.log"
    fi
  fi
  # Settings go on the command line so a changed PV_PORT_BASE takes effect
  # on the next start. fsync=off: dev data survives a killed server, not a
  # power cut; that trade buys fast test runs.
  local opts="-c listen_addresses=127.0.0.1 -c port=$PG_PORT"
  opts+=" -c unix_socket_directories=$RUN -c fsync=off -c synchronous_commit=off"
  opts+=" -c full_page_writes=off -c max_connections=200"
  # shellcheck disable=SC2094 # pg_ctl appends to the log, as do we
  if ! as_pg "$PG_BIN/pg_ctl" start -D "$PGDATA" -l "$LOGS/postgres.log" \
    -w -t "$START_TIMEOUT" -o "$opts" >/dev/null 2>>"$LOGS/postgres.log" 9>&-; then
    die "postgres: did not start within ${START_TIMEOUT}s: read $LOGS/postgres.log"
  fi
  if ! "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -t "$START_TIMEOUT"; then
    die "postgres: not answering on 127.0.0.1:$PG_PORT: read $LOGS/postgres.log"
  fi
  say "postgres: running (pid $(pg_pid || echo ?), 127.0.0.1:$PG_PORT, data $PGDATA)"
  pg_ensure_db
}

pg_ensure_db() {
  local have
  have=$("$PG_BIN/psql" -X -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname = 'provisiond'" 2>>"$LOGS/postgres.log") ||
    die "postgres: cannot query 127.0.0.1:$PG_PORT: read $LOGS/postgres.log"
  if [ "$have" != 1 ]; then
    "$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres provisiond 2>>"$LOGS/postgres.log" ||
      die "postgres: createdb provisiond failed: read $LOGS/postgres.log"
    say "postgres: created database provisiond"
  fi
}

pg_down() {
  local pid
  if ! pid=$(pg_pid); then
    pg_clear_stale 2>/dev/null || true
    return 0
  fi
  if ! as_pg "$PG_BIN/pg_ctl" stop -D "$PGDATA" -m fast -w -t 20 >/dev/null 2>>"$LOGS/postgres.log"; then
    stop_pid postgres "$pid" 10 || true
  fi
  say "postgres: stopped"
}

pg_status() {
  local pid
  if pid=$(pg_pid); then
    echo "postgres        running  pid $pid  127.0.0.1:$(sed -n 4p "$PGDATA/postmaster.pid")  log $LOGS/postgres.log"
  else
    echo "postgres        stopped"
  fi
}

# --------------------------------------------------------------- kafka-mock

MOCK_PID=$RUN/kafka-mock.pid
MOCK_BOOT=$RUN/kafka-mock.bootstrap

mock_up() {
  local pid rc
  if pid=$(pidfile_alive "$MOCK_PID" "$MOCK_MARK") && [ -s "$MOCK_BOOT" ]; then
    say "kafka-mock: already running (pid $pid, $(cat "$MOCK_BOOT"))"
    return 0
  fi
  [ -n "${pid:-}" ] && stop_pid kafka-mock "$pid" 5
  [ -x "$BUILD/kafka-mock" ] ||
    die "kafka-mock: $BUILD/kafka-mock is not built: run 'make build' (or cmake --build $BUILD --target kafka-mock)"
  rm -f "$MOCK_BOOT"
  start_bg "$MOCK_PID" "$LOGS/kafka-mock.log" "$RUN/kafka-mock.out" \
    "$BUILD/kafka-mock" --brokers "$MOCK_BROKERS" --partitions "$PARTITIONS" \
    --bootstrap-file "$MOCK_BOOT"
  pid=$(cat "$MOCK_PID")
  rc=0
  wait_for_line "$RUN/kafka-mock.out" READY "$START_TIMEOUT" "$pid" || rc=$?
  case $rc in
    0) ;;
    1) die "kafka-mock: exited during start: read $LOGS/kafka-mock.log" ;;
    *) stop_pid kafka-mock "$pid" 2 || true
       die "kafka-mock: no READY within ${START_TIMEOUT}s: read $LOGS/kafka-mock.log" ;;
  esac
  say "kafka-mock: running (pid $pid, $(cat "$MOCK_BOOT"), $PARTITIONS partitions/topic)"
}

mock_down() {
  local pid
  if pid=$(pidfile_alive "$MOCK_PID" "$MOCK_MARK"); then
    stop_pid kafka-mock "$pid" 10 || true
    say "kafka-mock: stopped"
  fi
  rm -f "$MOCK_PID" "$MOCK_BOOT"
}

mock_status() {
  local pid
  if pid=$(pidfile_alive "$MOCK_PID" "$MOCK_MARK"); then
    echo "kafka-mock      running  pid $pid  $(cat "$MOCK_BOOT" 2>/dev/null)  log $LOGS/kafka-mock.log"
  else
    echo "kafka-mock      stopped"
  fi
}

# ----------------------------------------------------------- southbound-sim

SIM_PID=$RUN/southbound-sim.pid
SIM_OUT=$RUN/southbound-sim.out

sim_up() {
  local pid rc east west
  east=$(cat "$SECRETS/isp-east.netbox-token")
  west=$(cat "$SECRETS/isp-west.netbox-token")
  if pid=$(pidfile_alive "$SIM_PID" "$SIM_MARK") && grep -qx READY "$SIM_OUT" 2>/dev/null; then
    say "southbound-sim: already running (pid $pid)"
    return 0
  fi
  [ -n "${pid:-}" ] && stop_pid southbound-sim "$pid" 5
  if [ ! -x "$BUILD/southbound-sim" ]; then
    warn "southbound-sim: $BUILD/southbound-sim is not built: skipped (SIM_* URLs in env point at its ports; 'make build' then 'make up' starts it)"
    return 0
  fi
  port_free_or_die "$VOLTHA_PORT" "southbound-sim VOLTHA"
  port_free_or_die "$GENIEACS_PORT" "southbound-sim GenieACS"
  port_free_or_die "$NETBOX_PORT" "southbound-sim NetBox"
  rm -f "$RUN/sim.env"
  # The tokens pass on the command line because that is the simulator's
  # interface; it is a dev-only process on a dev-only token.
  start_bg "$SIM_PID" "$LOGS/southbound-sim.log" "$SIM_OUT" \
    "$BUILD/southbound-sim" --voltha-port "$VOLTHA_PORT" \
    --genieacs-port "$GENIEACS_PORT" --netbox-port "$NETBOX_PORT" \
    --netbox-token "$east" --netbox-token "$west" --env-file "$RUN/sim.env"
  pid=$(cat "$SIM_PID")
  rc=0
  wait_for_line "$SIM_OUT" READY "$START_TIMEOUT" "$pid" || rc=$?
  case $rc in
    0) ;;
    1) die "southbound-sim: exited during start: read $LOGS/southbound-sim.log" ;;
    *) stop_pid southbound-sim "$pid" 2 || true
       die "southbound-sim: no READY within ${START_TIMEOUT}s: read $LOGS/southbound-sim.log" ;;
  esac
  say "southbound-sim: running (pid $pid, VOLTHA :$VOLTHA_PORT, GenieACS :$GENIEACS_PORT, NetBox :$NETBOX_PORT)"
}

# sim_url NAME DEFAULT: the URL the simulator printed (SIM_NAME_URL=...), or
# the one its port implies when it is not running.
sim_url() {
  local v
  v=$(sed -n "s/^SIM_$1_URL=//p" "$SIM_OUT" 2>/dev/null | tail -n1)
  printf '%s\n' "${v:-$2}"
}

sim_down() {
  local pid
  if pid=$(pidfile_alive "$SIM_PID" "$SIM_MARK"); then
    stop_pid southbound-sim "$pid" 10 || true
    say "southbound-sim: stopped"
  fi
  rm -f "$SIM_PID" "$SIM_OUT" "$RUN/sim.env"
}

sim_status() {
  local pid
  if pid=$(pidfile_alive "$SIM_PID" "$SIM_MARK"); then
    echo "southbound-sim  running  pid $pid  VOLTHA :$VOLTHA_PORT GenieACS :$GENIEACS_PORT NetBox :$NETBOX_PORT  log $LOGS/southbound-sim.log"
  elif [ -x "$BUILD/southbound-sim" ]; then
    echo "southbound-sim  stopped"
  else
    echo "southbound-sim  stopped (not built: $BUILD/southbound-sim)"
  fi
}

# ------------------------------------------------------------------ secrets

# NetBox is the only southbound system with credentials (SOUTHBOUND.md):
# isp-east gets a v1 token (40 hex), isp-west a v2 token (nbt_<key>.<secret>).
# Generated once; mode 0600, never printed.
secrets_init() {
  mkdir -p "$SECRETS"
  chmod 0700 "$SECRETS"
  if [ ! -s "$SECRETS/isp-east.netbox-token" ]; then
    random_hex 40 | write_atomic "$SECRETS/isp-east.netbox-token" 0600
    say "secrets: generated $SECRETS/isp-east.netbox-token (NetBox v1)"
  fi
  if [ ! -s "$SECRETS/isp-west.netbox-token" ]; then
    printf 'nbt_%s.%s\n' "$(random_alnum 12)" "$(random_alnum 40)" |
      write_atomic "$SECRETS/isp-west.netbox-token" 0600
    say "secrets: generated $SECRETS/isp-west.netbox-token (NetBox v2)"
  fi
}

# ------------------------------------------------------------ config files

write_conf() {
  local brokers=$1 voltha=$2 genieacs=$3 netbox=$4
  write_atomic "$S/provisiond.conf" 0644 <<EOF
; generated by dev/stack.sh for the dev stack
[worker]
log_level = info
metrics_listen = 127.0.0.1:$METRICS_PORT
; the order types of the source tree (docs/orders.md)
orders_dir = $ROOT/jobs/orders

[kafka]
brokers = $brokers
group_id = provisiond
topics = provisioning.jobs, provisioning.queries
results_topic = provisioning.results
; keys containing a dot go straight to librdkafka, e.g.:
; session.timeout.ms = 10000

[postgres]
conninfo = host=127.0.0.1 port=$PG_PORT dbname=provisiond user=postgres

[tenant.isp-east]
voltha_url = $voltha
genieacs_url = $genieacs
netbox_url = $netbox
netbox_token_file = $SECRETS/isp-east.netbox-token

[tenant.isp-west]
voltha_url = $voltha
genieacs_url = $genieacs
netbox_url = $netbox
netbox_token_file = $SECRETS/isp-west.netbox-token
EOF
}

write_env() {
  local brokers=$1 voltha=$2 genieacs=$3 netbox=$4
  local east west
  east=$(cat "$SECRETS/isp-east.netbox-token")
  west=$(cat "$SECRETS/isp-west.netbox-token")
  # The env file holds the tokens (tests need them), so it is 0600 too.
  write_atomic "$S/env" 0600 <<EOF
# generated by dev/stack.sh; source it: . $S/env
export PV_STACK_DIR='$S'
export KAFKA='$KAFKA'
export PROVISIOND_KAFKA_BROKERS='$brokers'
export PROVISIOND_PG='host=127.0.0.1 port=$PG_PORT dbname=provisiond user=postgres'
export PROVISIOND_METRICS_URL='http://127.0.0.1:$METRICS_PORT'
export PROVISIOND_CONFIG='$S/provisiond.conf'
export SIM_VOLTHA_URL='$voltha'
export SIM_GENIEACS_URL='$genieacs'
export SIM_NETBOX_URL='$netbox'
export SIM_NETBOX_TOKEN='$east'
export SIM_NETBOX_TOKEN_WEST='$west'
EOF
}

migrate() {
  if [ ! -x "$BUILD/provisiond" ]; then
    warn "migrations: $BUILD/provisiond is not built: schema not applied"
    return 0
  fi
  if "$BUILD/provisiond" --migrate -c "$S/provisiond.conf" >>"$LOGS/migrate.log" 2>&1; then
    say "migrations: applied (log $LOGS/migrate.log)"
  else
    warn "migrations: '$BUILD/provisiond --migrate' failed: read $LOGS/migrate.log"
  fi
}

# --------------------------------------------------------------- commands

# preflight_ports: before starting anything, check the ports of every
# component that is not running yet, and name all the busy ones at once.
preflight_ports() {
  local busy=() p
  if ! pg_pid >/dev/null; then
    port_busy "$PG_PORT" && busy+=("$PG_PORT (PostgreSQL)")
  fi
  if [ -x "$BUILD/southbound-sim" ] && ! pidfile_alive "$SIM_PID" "$SIM_MARK" >/dev/null; then
    for p in "$VOLTHA_PORT:VOLTHA" "$GENIEACS_PORT:GenieACS" "$NETBOX_PORT:NetBox"; do
      port_busy "${p%%:*}" && busy+=("${p%%:*} (southbound-sim ${p#*:})")
    done
  fi
  if [ "$KAFKA" = apache ] && ! "$HERE/kafka-apache.sh" running; then
    port_busy "$KAFKA_BROKER_PORT" && busy+=("$KAFKA_BROKER_PORT (Apache Kafka broker)")
    port_busy "$KAFKA_CONTROLLER_PORT" && busy+=("$KAFKA_CONTROLLER_PORT (Apache Kafka controller)")
  fi
  [ "${#busy[@]}" -eq 0 ] && return 0
  local next=$((BASE + 200))
  [ "$next" -le 65400 ] || next=40000
  local list
  list=$(printf '%s, ' "${busy[@]}")
  die "port(s) already in use by another program: ${list%, }; pick another range with PV_PORT_BASE=$next make up"
}

cmd_up() {
  local brokers voltha genieacs netbox
  init_dirs
  preflight_ports
  secrets_init
  pg_up
  if [ "$KAFKA" = apache ]; then
    mock_down
    brokers=$("$HERE/kafka-apache.sh" start) || exit 1
  else
    "$HERE/kafka-apache.sh" stop
    mock_up
    brokers=$(cat "$MOCK_BOOT")
  fi
  sim_up
  voltha=$(sim_url VOLTHA "http://127.0.0.1:$VOLTHA_PORT")
  genieacs=$(sim_url GENIEACS "http://127.0.0.1:$GENIEACS_PORT")
  netbox=$(sim_url NETBOX "http://127.0.0.1:$NETBOX_PORT")
  write_conf "$brokers" "$voltha" "$genieacs" "$netbox"
  write_env "$brokers" "$voltha" "$genieacs" "$netbox"
  migrate
  say "up: . $S/env   (config: $S/provisiond.conf, logs: $LOGS/)"
}

cmd_down() {
  local purge=${1:-}
  mkdir -p "$LOGS"
  sim_down
  mock_down
  "$HERE/kafka-apache.sh" stop
  pg_down
  rm -f "$S/env"
  if [ "$purge" = --purge ]; then
    if [ -f "$S/.pv-stack-dir" ]; then
      rm -rf "$S"
      say "purged $S"
    else
      warn "not purging $S: it has no .pv-stack-dir marker, so it may not be a stack dir"
    fi
  fi
}

cmd_status() {
  pg_status
  if [ "$KAFKA" = apache ] || "$HERE/kafka-apache.sh" running; then
    "$HERE/kafka-apache.sh" status
  else
    mock_status
  fi
  sim_status
}

# cmd_component stop|start postgres|kafka
cmd_component() {
  local action=$1 what=$2
  case "$what" in
    postgres)
      if [ "$action" = stop ]; then pg_down; else init_dirs; pg_up; fi ;;
    kafka)
      [ "$KAFKA" = apache ] ||
        die "only Apache Kafka can be stopped and started: kafka-mock keeps everything in memory (KAFKA=apache)"
      if [ "$action" = stop ]; then
        "$HERE/kafka-apache.sh" stop
      else
        "$HERE/kafka-apache.sh" start >/dev/null
      fi ;;
    *) die "usage: stack.sh stop|start postgres|kafka" ;;
  esac
}

main() {
  local cmd=${1:-}
  [ $# -gt 0 ] && shift
  case "$cmd" in
    up|down|status|stop|start)
      if [ "$cmd" != up ] && [ ! -d "$S" ]; then
        [ "$cmd" = status ] && echo "no stack in $S"
        return 0
      fi
      # One stack.sh at a time per state dir: two `up`s racing would start
      # two of everything.
      mkdir -p "$S"
      exec 9>"$S/.lock"
      if ! flock -w 120 9; then
        die "another stack.sh holds $S/.lock for over 120s"
      fi
      case "$cmd" in
        up) [ $# -eq 0 ] || die "up takes no arguments"; cmd_up ;;
        down) if [ $# -gt 1 ] || { [ $# -eq 1 ] && [ "$1" != --purge ]; }; then
                die "usage: stack.sh down [--purge]"
              fi
              cmd_down "${1:-}" ;;
        status) cmd_status ;;
        stop|start) [ $# -eq 1 ] || die "usage: stack.sh $cmd postgres|kafka"
                    cmd_component "$cmd" "$1" ;;
      esac
      ;;
    -h|--help|help) usage ;;
    *) usage >&2; exit 2 ;;
  esac
}

main "$@"
