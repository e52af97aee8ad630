#!/usr/bin/env bash
# make test: runs every test against a private dev stack (its own state
# directory and ports, so a `make up` stack keeps running undisturbed),
# then stops that stack. Exits non-zero on any failure.
#
#   KAFKA=mock (default)  the whole suite on kafka-mock, except the tests
#                         labelled apache (they need a real group
#                         coordinator: the rebalance suite)
#   KAFKA=apache          the end-to-end suites (labels e2e and apache) on
#                         Apache Kafka
#   KAFKA=both            both of the above, one after the other (CI)
#
#   tests/run.sh chaos    the chaos suite alone (make chaos), KAFKA=apache
#   tests/run.sh soak     the soak (make soak): the same driver for hours
#                         unless KAFKA=mock; SEED, DURATION (seconds, or
#                         with s/m/h), RATE, WORKERS and POISON=0 pass to
#                         it (docs/reliability.md)
#
# PV_TEST_STACK_PREFIX (default <repo>/.dev-test) and PV_TEST_PORT_BASE
# (default 26400; the apache pass uses it + 200) keep two runs apart.
# Then the fuzz targets run, FUZZ_SECONDS (60) each, two at a time
# (fuzz/run.sh; FUZZ=0 skips them): after the suites, so they never take a
# core from a timing-sensitive test (docs/reliability.md).
# Each pass prints its wall time; the apache pass installs a JRE and Maven
# first if they are missing (dev/deps.sh) and fails with one line if
# Apache Kafka cannot be fetched (see docs/kafka.md: KAFKA_HOME).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
ROOT=$PWD
BUILD_DIR=${BUILD_DIR:-build}
CHAOS_KAFKA=${KAFKA:-apache} # chaos and soak: Apache Kafka unless asked
KAFKA=${KAFKA:-mock}
JOBS=${TEST_JOBS:-2}

# run_suite runs in a subshell ( ... ): it exports the stack's env
# (PROVISIOND_PG, PROVISIOND_KAFKA_BROKERS...), and the apache pass of
# KAFKA=both must not inherit the mock pass's (PROVISIOND_PG overrides the
# conninfo in provisiond.conf: `stack.sh up` would migrate the wrong
# database).
run_suite() ( # $1 = mock|apache, then the command to run on the stack
  local kind=$1 v; shift
  # A dev stack's env sourced in the caller's shell must not leak in either.
  for v in $(compgen -e); do
    case $v in PROVISIOND_*|SIM_*) unset "$v" ;; esac
  done
  # shellcheck disable=SC2030 # local to this pass, on purpose
  export KAFKA=$kind
  export PV_STACK_DIR=${PV_TEST_STACK_PREFIX:-$ROOT/.dev-test}-$kind
  export PV_PORT_BASE=${PV_TEST_PORT_BASE:-26400}
  [ "$kind" = apache ] && PV_PORT_BASE=$((PV_PORT_BASE + 200))
  echo "== tests on the $kind broker (stack in $PV_STACK_DIR)"
  local t0=$SECONDS
  if [ "$kind" = apache ] && ! KAFKA=apache dev/deps.sh; then
    echo "tests/run.sh: a JRE and Maven are needed for KAFKA=apache (see above)" >&2
    return 1
  fi
  if ! dev/stack.sh up; then
    echo "tests/run.sh: the test stack did not start (KAFKA=$kind); see $PV_STACK_DIR/logs/" >&2
    dev/stack.sh down >/dev/null 2>&1
    return 1
  fi
  set -a
  # shellcheck disable=SC1091 # written by stack.sh up
  . "$PV_STACK_DIR/env"
  set +a
  local rc=0
  local t1=$SECONDS
  "$@" || rc=$?
  dev/stack.sh down >/dev/null 2>&1
  echo "== $kind pass: $((SECONDS - t0)) s (stack up $((t1 - t0)) s, tests $((SECONDS - t1)) s), $([ $rc = 0 ] && echo passed || echo FAILED)"
  return $rc
)

ctest_pass() {
  ctest --test-dir "$BUILD_DIR" --output-on-failure -j "$JOBS" "$@"
}

# seconds DURATION: "90", "90s", "30m" or "2h" in seconds.
seconds() {
  case "$1" in
    *h) echo $(( ${1%h} * 3600 )) ;;
    *m) echo $(( ${1%m} * 60 )) ;;
    *s) echo "${1%s}" ;;
    *) echo "$1" ;;
  esac
}

# chaos_pass chaos|soak: the chaos driver alone, on one stack.
chaos_pass() {
  local mode=$1 kind=$CHAOS_KAFKA
  [ "$kind" = both ] && kind=apache
  case "${DURATION:-}" in ''|[0-9]*) ;; *) echo "tests/run.sh: DURATION must be seconds or Ns/Nm/Nh (got \"$DURATION\")" >&2; return 2 ;; esac
  run_suite "$kind" env PV_BUILD_DIR="$ROOT/$BUILD_DIR" PV_SOURCE_DIR="$ROOT" \
    PV_CHAOS_MODE="$mode" PV_CHAOS_SEED="${SEED:-}" \
    PV_CHAOS_SECONDS="$( [ -n "${DURATION:-}" ] && seconds "$DURATION")" \
    PV_CHAOS_RATE="${RATE:-}" PV_CHAOS_WORKERS="${WORKERS:-}" \
    PV_CHAOS_POISON="${POISON:-}" \
    "$ROOT/$BUILD_DIR/tests/test_chaos" --jobs 1
}

status=0
case "${1:-}" in
  chaos|soak) chaos_pass "$1"; exit $? ;;
  '') ;;
  *) echo "tests/run.sh: unknown argument \"$1\" (none, chaos or soak)" >&2; exit 2 ;;
esac
# shellcheck disable=SC2031 # the caller's KAFKA; passes set their own
case "$KAFKA" in
  mock)   run_suite mock ctest_pass -LE apache || status=1 ;;
  apache) run_suite apache ctest_pass -L 'e2e|apache' || status=1 ;;
  both)   run_suite mock ctest_pass -LE apache || status=1
          run_suite apache ctest_pass -L 'e2e|apache' || status=1 ;;
  *) echo "tests/run.sh: KAFKA must be mock, apache or both (got \"$KAFKA\")" >&2; exit 2 ;;
esac
if [ "${FUZZ:-1}" != 0 ]; then
  t0=$SECONDS
  fuzz/run.sh || status=1
  echo "== fuzz pass: $((SECONDS - t0)) s"
fi
exit $status
