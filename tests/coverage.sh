#!/usr/bin/env bash
# make coverage: the mock pass of `make test` on the --coverage build
# (build-cov/, configured by the Makefile), then line and branch coverage
# of the production code per file: common/ jobs/ config/ transports/
# kafka/ db/ worker/ cli/ (not the tests, the simulator, kafka-mock, bench or fuzz/, which only
# serve the tests). The fuzz pass is skipped: its targets are built by
# clang without coverage; their replays over the corpus run as unit tests
# and count.
#
# Writes build-cov/coverage.txt (the table) and build-cov/coverage.json
# (gcovr's summary). Exits non-zero if a test failed (the figures are
# still printed: they are those of the run that happened).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
export BUILD_DIR=build-cov
command -v gcovr >/dev/null || { echo "coverage: gcovr is missing: run make deps" >&2; exit 2; }

find "$BUILD_DIR" -name '*.gcda' -delete
rc=0
KAFKA=mock FUZZ=0 tests/run.sh || rc=$?

# Only branches the compiler can take are counted (gcovr drops the ones
# gcc adds for unreachable paths).
if ! gcovr -r . --object-directory "$BUILD_DIR" \
    --filter '(common|jobs|config|transports|kafka|db|worker|cli)/' \
    --exclude-unreachable-branches \
    --exclude-directories "$BUILD_DIR/CMakeFiles/[0-9.]+" \
    --json-summary-pretty --json-summary "$BUILD_DIR/coverage.json" \
    >/dev/null; then
  echo "coverage: gcovr failed" >&2
  exit 2
fi
jq -r '
  def pct(c; t): if t == 0 then "-"
    else (c * 1000 / t | round) as $p | "\($p / 10 | floor).\($p % 10)" end;
  (["file", "lines", "line %", "branches", "branch %"] | @tsv),
  (.files | sort_by(.filename)[] |
    [.filename, "\(.line_covered)/\(.line_total)", pct(.line_covered; .line_total),
     "\(.branch_covered)/\(.branch_total)", pct(.branch_covered; .branch_total)] | @tsv),
  (["TOTAL", "\(.line_covered)/\(.line_total)", pct(.line_covered; .line_total),
    "\(.branch_covered)/\(.branch_total)", pct(.branch_covered; .branch_total)] | @tsv)
' "$BUILD_DIR/coverage.json" | column -t -s $'\t' | tee "$BUILD_DIR/coverage.txt"
exit $rc
