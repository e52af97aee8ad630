#!/usr/bin/env bash
# make demo: on a running dev stack (make up), starts a provisiond worker,
# sends it a handful of real jobs through Kafka, and shows what came back:
# each reply, and the job_status rows the dashboards read.
#
#   dev/demo.sh         run the demo (the worker is left running)
#   dev/demo.sh stop    stop the demo's worker (make down does it)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
S=${PV_STACK_DIR:-$ROOT/.dev}
BUILD=$ROOT/${BUILD_DIR:-build}
PIDFILE=$S/run/provisiond.pid
LOG=$S/logs/provisiond.log

if [ -t 1 ]; then
  JQ_COLOR=-C
  say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
else
  JQ_COLOR=-M
  say() { printf '\n== %s\n' "$*"; }
fi
die() { echo "demo: $*" >&2; exit 1; }

worker_alive() {
  [ -f "$PIDFILE" ] || return 1
  local pid; pid=$(cat "$PIDFILE")
  kill -0 "$pid" 2>/dev/null && grep -q provisiond "/proc/$pid/cmdline" 2>/dev/null
}

if [ "${1:-}" = stop ]; then
  if worker_alive; then
    pid=$(cat "$PIDFILE")
    kill -TERM "$pid"
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
    echo "demo: provisiond stopped"
  fi
  rm -f "$PIDFILE"
  exit 0
fi

[ -f "$S/env" ] || die "no dev stack in $S: run make up (or make demo) first"
# shellcheck disable=SC1091
. "$S/env"
CONF=$PROVISIOND_CONFIG
PROVCTL=("$BUILD/provctl" -c "$CONF")

if worker_alive; then
  echo "demo: provisiond already running (pid $(cat "$PIDFILE"), log $LOG)"
else
  mkdir -p "$S/run" "$S/logs"
  nohup "$BUILD/provisiond" -c "$CONF" >>"$LOG" 2>&1 &
  echo $! >"$PIDFILE"
  for _ in $(seq 1 150); do
    grep -q '"event":"kafka.partition_assigned"' "$LOG" 2>/dev/null && break
    worker_alive || die "provisiond exited at start; see $LOG"
    sleep 0.2
  done
  grep -q '"event":"kafka.partition_assigned"' "$LOG" ||
    die "provisiond got no Kafka partitions within 30 s; see $LOG"
  echo "demo: provisiond running (pid $(cat "$PIDFILE"), log $LOG)"
fi

# What the simulator holds, so the jobs name real devices.
OLT=$(curl -sf "$SIM_VOLTHA_URL/api/v1/devices" | jq -r '[.items[] | select(.root)][0].id')
ONU_SERIAL=$(curl -sf "$SIM_VOLTHA_URL/api/v1/devices" |
  jq -r --arg olt "$OLT" '[.items[] | select(.parent_id == $olt)][0].serial_number')
CPE=$(curl -sfG "$SIM_GENIEACS_URL/devices" --data-urlencode 'projection=_id' \
  --data-urlencode 'limit=1' | jq -r '.[0]._id')
PREFIX=$(curl -sf -H "Authorization: Token $SIM_NETBOX_TOKEN" \
  "$SIM_NETBOX_URL/api/ipam/prefixes/?limit=1" | jq -r '.results[0].id')
[ -n "$OLT" ] && [ "$OLT" != null ] || die "the simulator lists no OLT"

run_job() { # title, then provctl enqueue arguments
  local title=$1; shift
  say "$title"
  echo "\$ provctl enqueue $*"
  local out rc=0
  out=$("${PROVCTL[@]}" enqueue "$@" --wait=30 2>&1) || rc=$?
  printf '%s\n' "$out" | sed -n '1p'
  printf '%s\n' "$out" | sed '1d' | jq "$JQ_COLOR" '{id, tenant, service, op, status,
    attempts, duration_ms, error, result: (.result | if type == "object" and
    (tostring | length) > 600 then (keys | join(", ") | "{" + . + " ...}")
    else . end)}' 2>/dev/null || printf '%s\n' "$out" | sed '1d'
  echo "(exit code $rc)"
}

run_job "VOLTHA health, tenant isp-east" \
  --tenant isp-east --service voltha --op health_check
run_job "Provision an ONU by serial under its OLT (VOLTHA, isp-east)" \
  --tenant isp-east --service voltha --op provision_onu \
  --arg "olt_id=$OLT" --arg "serial_number=$ONU_SERIAL" --key "$ONU_SERIAL"
run_job "Read a router's parameters (GenieACS, isp-west)" \
  --tenant isp-west --service genieacs --op get_device --arg "device_id=$CPE"
run_job "Allocate the next free IP in a prefix (NetBox, isp-west)" \
  --tenant isp-west --service netbox --op allocate_ip --arg "prefix_id=$PREFIX"
run_job "A device VOLTHA does not know: a definite answer, so failed (no dead letter)" \
  --tenant isp-east --service voltha --op get_device --arg device_id=no-such-device

say "A job for a tenant nobody configured goes to the dead-letter topic"
echo "\$ kcat -P ... (a raw record, since provctl refuses it locally)"
BAD_ID="demo-bad-$(date +%s)"
printf '{"v":1,"id":"%s","tenant":"isp-nowhere","service":"voltha","op":"health_check"}' "$BAD_ID" |
  kcat -P -b "$PROVISIOND_KAFKA_BROKERS" -t provisioning.jobs -k demo \
    -H content-type=application/json 2>/dev/null
sleep 2
kcat -C -b "$PROVISIOND_KAFKA_BROKERS" -t provisioning.jobs.dlq -o -1 -e -q \
  -f 'key=%k headers=%h\nvalue=%s\n' 2>/dev/null | tail -2 || true

say "job_status, newest first (what dashboards read)"
psql "$PROVISIOND_PG" -P pager=off -c "SELECT job_id, tenant, service, op,
  state, attempts, error_class, http_status,
  (finished_at - received_at)::interval(3) AS took
  FROM job_status ORDER BY received_at DESC LIMIT 8"

say "Done"
cat <<EOT
The stack and the worker keep running. Try:
  . $S/env
  $BUILD/provctl -c $CONF ops
  $BUILD/provctl -c $CONF enqueue --tenant isp-east --service voltha --op list_devices --arg limit=2 --wait
  $BUILD/provctl -c $CONF status <job id>
Worker log: $LOG.   Stop everything: make down
EOT
