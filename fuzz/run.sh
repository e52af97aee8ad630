#!/usr/bin/env bash
# make fuzz: builds the libFuzzer targets (fuzz/targets.cmake; clang, ASan
# and UBSan) into build-fuzz/ and runs each for FUZZ_SECONDS, several at
# once, then prints per target: executions, edges covered (libFuzzer's
# final `cov:`), the corpus size, and crashes. docs/reliability.md.
#
#   FUZZ_SECONDS   seconds per target (default 60; 0 = build only)
#   FUZZ_JOBS      targets run at once (default: the cores, nproc)
#   FUZZ_TARGETS   space-separated subset (default: every target)
#   FUZZ_BUILD_DIR (default build-fuzz)
#
# Each target starts from its seeds (fuzz/corpus/<t>/) and its regression
# inputs (fuzz/regressions/<t>/), and keeps what it finds in
# build-fuzz/corpus/<t>/ for the next local run. A crash, leak, timeout or
# out-of-memory input is copied to fuzz/regressions/<t>/ (commit it with
# the fix: the replay test of `make test` runs it from then on) and
# printed in base64, so a CI log is enough to get it back. Exits 1 if any
# target found one.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
ROOT=$PWD
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
FUZZ_JOBS=${FUZZ_JOBS:-$(nproc)}
DIR=${FUZZ_BUILD_DIR:-build-fuzz}

if ! [[ "$FUZZ_SECONDS" =~ ^[0-9]+$ && "$FUZZ_JOBS" =~ ^[1-9][0-9]*$ ]]; then
  echo "fuzz: FUZZ_SECONDS must be a number of seconds, FUZZ_JOBS at least 1" >&2
  exit 2
fi
command -v clang >/dev/null || { echo "fuzz: clang is missing: run make deps" >&2; exit 2; }

all=$(sed -n '/^set(PV_FUZZ_TARGETS/,/)/p' fuzz/targets.cmake |
  sed 's/set(PV_FUZZ_TARGETS//; s/)//' | tr -s ' \n' ' ')
targets=${FUZZ_TARGETS:-$all}
for t in $targets; do
  [[ " $all " == *" $t "* ]] || { echo "fuzz: no target \"$t\" (targets: $all)" >&2; exit 2; }
done

t0=$SECONDS
mkdir -p "$DIR"
if ! CC=clang cmake -S . -B "$DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DPV_FUZZ=ON -DPV_SANITIZE=ON -DPV_BUILD_TESTS=OFF >"$DIR/configure.log" 2>&1; then
  cat "$DIR/configure.log" >&2
  echo "fuzz: configuring $DIR failed" >&2
  exit 2
fi
if ! cmake --build "$DIR" --target pv_fuzz -j "$(nproc)" >"$DIR/build.log" 2>&1; then
  tail -40 "$DIR/build.log" >&2
  echo "fuzz: building the fuzz targets failed ($DIR/build.log)" >&2
  exit 2
fi
echo "== fuzz: targets built in $((SECONDS - t0)) s ($DIR)"
[ "$FUZZ_SECONDS" = 0 ] && exit 0

mkdir -p "$DIR/logs" "$DIR/dict"

# The config dictionary: fuzz/dict/config.dict plus every section and key
# of the key table, read from its generated page.
{
  cat fuzz/dict/config.dict
  sed -n 's/^| `\[\([a-z]*\)\]` | `\([a-z_.]*\)` .*/"[\1]"\n"\2 = "/p' \
    docs/configuration.md | sort -u
} >"$DIR/dict/config.dict"

run_one() { # $1 = target
  local t=$1 dict=()
  local work=$DIR/corpus/$t art=$DIR/artifacts/$t
  mkdir -p "$work" "$art"
  rm -f "$art"/*
  if [ -f "$DIR/dict/$t.dict" ]; then dict=(-dict="$DIR/dict/$t.dict")
  elif [ -f "fuzz/dict/$t.dict" ]; then dict=(-dict="fuzz/dict/$t.dict"); fi
  "$DIR/fuzz-$t" -max_total_time="$FUZZ_SECONDS" -print_final_stats=1 \
    -timeout=10 -rss_limit_mb=2048 -artifact_prefix="$art/" "${dict[@]}" \
    "$work" "fuzz/corpus/$t" "fuzz/regressions/$t" >"$DIR/logs/$t.log" 2>&1
  echo $? >"$DIR/logs/$t.rc"
}

echo "== fuzz: ${FUZZ_SECONDS} s per target, $FUZZ_JOBS at once: $targets"
t1=$SECONDS
running=0
for t in $targets; do
  if [ "$running" -ge "$FUZZ_JOBS" ]; then
    wait -n
    running=$((running - 1))
  fi
  run_one "$t" &
  running=$((running + 1))
done
wait

status=0
failed=0
printf '%-12s %12s %9s %7s %9s %7s  %s\n' target executions exec/s edges features corpus crashes
for t in $targets; do
  log=$DIR/logs/$t.log
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  # The last status line carries the final figures (DONE, or the line
  # before a crash).
  last=$(grep -E '^#[0-9]+[[:space:]].*cov: ' "$log" | tail -1)
  edges=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  corp=$(sed -n 's/.* corp: \([0-9]*\)\/.*/\1/p' <<<"$last")
  found=()
  for a in "$DIR/artifacts/$t"/{crash,leak,timeout,oom}-*; do
    [ -e "$a" ] && found+=("$a")
  done
  rc=$(cat "$DIR/logs/$t.rc" 2>/dev/null || echo 1)
  crashes=${#found[@]}
  if [ "$rc" != 0 ] && [ "$crashes" = 0 ]; then
    crashes="?"   # died without an artifact: read the log
  fi
  printf '%-12s %12s %9s %7s %9s %7s  %s\n' "$t" "${execs:-?}" "${rate:-?}" \
    "${edges:-?}" "${ft:-?}" "${corp:-?}" "$crashes"
  if [ "$crashes" != 0 ]; then
    status=1
    failed=$((failed + 1))
    echo "   $t: libFuzzer exited $rc; log: $DIR/logs/$t.log" >&2
    if [ "${#found[@]}" = 0 ]; then
      tail -5 "$log" | sed 's/^/   /' >&2
    else
      grep -E 'ERROR: |invariant broken|SUMMARY: ' "$log" | head -5 | sed 's/^/   /' >&2
    fi
    for a in "${found[@]}"; do
      cp "$a" "fuzz/regressions/$t/"
      echo "   regression input: fuzz/regressions/$t/$(basename "$a")" \
        "(replay: $DIR/fuzz-$t $ROOT/fuzz/regressions/$t/$(basename "$a"))" >&2
      echo "   base64: $(base64 -w0 "$a" | head -c 8192)" >&2
    done
  fi
done
n=$(wc -w <<<"$targets")
echo "== fuzz: $((SECONDS - t1)) s, $([ $status = 0 ] && echo "no crash" || echo "CRASHES FOUND")"
echo "fuzz: $((n - failed)) passed, $failed failed"
exit $status
