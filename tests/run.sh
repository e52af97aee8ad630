#!/usr/bin/env bash
# make test: runs every test against a private dev stack (its own state
# directory and ports, so a `make up` stack keeps running undisturbed),
# then stops that stack. Exits non-zero on any failure.
#
#   KAFKA=mock (default)  the whole suite on kafka-mock
#   KAFKA=apache          the end-to-end suites (label e2e) on Apache Kafka
#   KAFKA=both            both of the above, one after the other (CI)
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD_DIR=${BUILD_DIR:-build}
KAFKA=${KAFKA:-mock}
JOBS=${TEST_JOBS:-2}

run_suite() { # $1 = mock|apache, $2 = ctest label filter args
  local kind=$1; shift
  export KAFKA=$kind
  export PV_STACK_DIR=$ROOT/.dev-test-$kind
  export PV_PORT_BASE=${PV_TEST_PORT_BASE:-26400}
  [ "$kind" = apache ] && PV_PORT_BASE=$((PV_PORT_BASE + 200))
  echo "== tests on the $kind broker (stack in $PV_STACK_DIR)"
  if ! deploy/dev/stack.sh up; then
    echo "tests/run.sh: the test stack did not start (KAFKA=$kind); see $PV_STACK_DIR/logs/" >&2
    deploy/dev/stack.sh down >/dev/null 2>&1
    return 1
  fi
  # shellcheck disable=SC1091
  set -a; . "$PV_STACK_DIR/env"; set +a
  local rc=0
  ctest --test-dir "$BUILD_DIR" --output-on-failure -j "$JOBS" "$@" || rc=$?
  deploy/dev/stack.sh down >/dev/null 2>&1
  return $rc
}

status=0
case "$KAFKA" in
  mock)   run_suite mock || status=1 ;;
  apache) run_suite apache -L e2e || status=1 ;;
  both)   run_suite mock || status=1
          run_suite apache -L e2e || status=1 ;;
  *) echo "tests/run.sh: KAFKA must be mock, apache or both (got \"$KAFKA\")" >&2; exit 2 ;;
esac
exit $status
