#!/usr/bin/env bash
# The figures of issue 20 in one table, each next to its baseline from the
# same run (docs/performance.md, "Method"):
#
#   floor       what the worker's parts cost alone: the Kafka pass-through
#               forwarder (CPU per job), a raw curl multi GET on the
#               simulator (CPU per request), two raw pipelined libpq
#               statements (CPU per job); the worker's CPU per job against
#               their sum (goal <= 1.5x)
#   throughput  the same backlog through the baseline build of commit
#               $BASELINE_COMMIT, then through this tree's provisiond,
#               with the dev stack's PostgreSQL settings and with
#               production durability (goal >= 2x)
#   memory      RSS per job in flight at 10,000 in flight (goal <= 3 KiB)
#   latency     worker-added p99 at 1,000 jobs/s (goal <= 5 ms) and at half
#               the worker's measured maximum (goal <= 10 ms)
#   database    PostgreSQL CPU, WAL bytes and WAL fsyncs per job, the
#               statements by total time (pg_stat_statements), again with
#               2 workers against one database and at 1,000 jobs/s (small
#               batches); the fleet ceiling they imply
#
# These machines are shared and noisy (2-3x between runs): each floor part
# and each throughput pair runs BENCH_REPEAT times, interleaved; a rate is
# the best of its runs, a CPU or database cost per job the median.
#
# It always starts a private stack in .dev-bench-worker (kafka-mock, the
# simulator, PostgreSQL 15 with pg_stat_statements preloaded: the bench
# restarts that cluster to switch durability) and stops it at the end.
#
#   BENCH_PORT_BASE        port base of the private stack (default
#                          $PV_PORT_BASE, else 27400; not a running stack's)
#   BENCH_QUICK=1          a short run (10,000 jobs, 2,000 in flight, 4 s
#                          latency phases, one repeat): for trying the
#                          bench, not for figures
#   BENCH_REPEAT           runs of each floor part and throughput pair
#                          (default 2; the whole script takes 7-15 min)
#   BENCH_WORKER_JOBS      jobs of each backlog (default 40000)
#   BENCH_WORKER_KEYS      ordering keys of a backlog (default 5000)
#   BENCH_WORKER_RATE      the fixed latency rate (default 1000 jobs/s)
#   BENCH_WORKER_SECONDS   length of each latency phase (default 10)
#   BENCH_WORKER_INFLIGHT  jobs in flight for the memory phase (default 10000)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

# The throughput baseline: main when issue 20 was filed. Built once into
# $BUILD_DIR/bench-baseline/ from a git worktree, with its own CMake.
BASELINE_COMMIT=7cc83eb

BUILD_DIR=${BUILD_DIR:-build}
if [ "${BENCH_QUICK:-0}" = 1 ]; then
  d_jobs=10000 d_keys=1250 d_secs=4 d_inflight=2000 d_repeat=1
else
  d_jobs=40000 d_keys=5000 d_secs=10 d_inflight=10000 d_repeat=2
fi
JOBS=${BENCH_WORKER_JOBS:-$d_jobs}
KEYS=${BENCH_WORKER_KEYS:-$d_keys}
RATE=${BENCH_WORKER_RATE:-1000}
SECS=${BENCH_WORKER_SECONDS:-$d_secs}
INFLIGHT=${BENCH_WORKER_INFLIGHT:-$d_inflight}
REPEAT=${BENCH_REPEAT:-$d_repeat}
PORT_BASE=${BENCH_PORT_BASE:-${PV_PORT_BASE:-27400}}
for v in "$JOBS" "$KEYS" "$RATE" "$SECS" "$INFLIGHT" "$REPEAT" "$PORT_BASE"; do
  [[ "$v" =~ ^[1-9][0-9]{0,6}$ ]] || { echo "bench_worker: '$v' is not a positive number" >&2; exit 2; }
done
[ "$JOBS" -ge 1000 ] || { echo "bench_worker: BENCH_WORKER_JOBS must be >= 1000" >&2; exit 2; }

# shellcheck source-path=SCRIPTDIR
. bench/lib.sh

# ------------------------------------------------------------ phases, output

T0=$(date +%s)
PHASES=()
phase_t=$T0 phase_name=
phase() { # phase NAME: closes the previous phase, opens NAME
  local now
  now=$(date +%s)
  [ -n "$phase_name" ] && PHASES+=("$phase_name $((now - phase_t))")
  phase_t=$now phase_name=$1
  [ -n "$1" ] && echo "-- $1"
  return 0
}

OUT=$(mktemp)
ERR=$OUT.err
: >"$ERR"
# wb ARGS...: one worker_bench run; its result and stmt lines go to $OUT.
wb() {
  "$BUILD_DIR/worker_bench" "$@" 2>>"$ERR" | grep -E '^(result|stmt) ' >>"$OUT" || true
}
field() { # field LABEL KEY: KEY=value of LABEL's result line
  awk -v l="label=$1" -v k="$2" '$1 == "result" && $2 == l {
    for (i = 3; i <= NF; i++) { n = index($i, "="); if (substr($i, 1, n - 1) == k) print substr($i, n + 1) } }' "$OUT"
}
# summarize LABEL: one result line for the runs LABEL.1, LABEL.2 ...:
# rates (*_per_s) the best of the runs, replies the fewest, every other
# number the median.
summarize() {
  awk -v l="$1" '$1 == "result" && index($2, "label=" l ".") == 1 && substr($2, length(l) + 8) ~ /^[0-9]+$/ {
    runs++
    for (i = 3; i <= NF; i++) { n = index($i, "="); k = substr($i, 1, n - 1); x = substr($i, n + 1)
      if (x !~ /^-?[0-9.]+$/) continue
      if (!(k in cnt)) keys[++nk] = k
      val[k, ++cnt[k]] = x + 0 } }
    END { if (!runs) exit
      printf "result label=%s runs=%d", l, runs
      for (j = 1; j <= nk; j++) { k = keys[j]; c = cnt[k]
        for (a = 1; a <= c; a++) s[a] = val[k, a]
        for (a = 2; a <= c; a++) for (b = a; b > 1 && s[b - 1] > s[b]; b--) { t = s[b]; s[b] = s[b - 1]; s[b - 1] = t }
        if (k ~ /_per_s$/) x = s[c]; else if (k == "replies") x = s[1]; else x = s[int((c + 1) / 2)]
        printf " %s=%s", k, x }
      printf "\n" }' "$OUT" >>"$OUT"
}

# --------------------------------------------------------------- the builds

if ! cmake --build "$BUILD_DIR" --target worker_bench provisiond bench_pg kafka-mock southbound-sim >/dev/null; then
  echo "bench_worker: cannot build worker_bench, provisiond, bench_pg, kafka-mock and southbound-sim in $BUILD_DIR" >&2
  exit 1
fi
PV_BUILD_DIR=$(cd "$BUILD_DIR" && pwd)
export PV_BUILD_DIR

# baseline_build: $BUILD_DIR/bench-baseline/build/provisiond at
# $BASELINE_COMMIT, built with that commit's own CMake (its tree has the
# old layout), once: reused while its recorded commit matches.
baseline_build() {
  local dir=$PV_BUILD_DIR/bench-baseline full type
  full=$(git rev-parse --verify -q "$BASELINE_COMMIT^{commit}") ||
    { echo "bench_worker: commit $BASELINE_COMMIT is not in this repository" >&2; return 1; }
  if [ -x "$dir/build/provisiond" ] && [ "$(cat "$dir/build/.pv-baseline-commit" 2>/dev/null)" = "$full" ]; then
    echo "   reusing $dir/build/provisiond ($BASELINE_COMMIT)"
    return 0
  fi
  mkdir -p "$dir"
  git worktree prune
  if [ "$(git -C "$dir/src" rev-parse HEAD 2>/dev/null)" != "$full" ]; then
    git worktree remove --force "$dir/src" >/dev/null 2>&1 || rm -rf "$dir/src"
    git worktree add --detach "$dir/src" "$full" >/dev/null 2>>"$ERR" ||
      { echo "bench_worker: git worktree add $dir/src $BASELINE_COMMIT failed" >&2; return 1; }
  fi
  type=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$PV_BUILD_DIR/CMakeCache.txt")
  echo "   building $BASELINE_COMMIT ($type) in $dir/build (once)"
  cmake -S "$dir/src" -B "$dir/build" -DCMAKE_BUILD_TYPE="${type:-RelWithDebInfo}" \
    -DPV_BUILD_TESTS=OFF >"$dir/build.log" 2>&1 &&
    cmake --build "$dir/build" --target provisiond -j "$(nproc)" >>"$dir/build.log" 2>&1 ||
    { echo "bench_worker: the baseline build failed: read $dir/build.log" >&2; return 1; }
  echo "$full" >"$dir/build/.pv-baseline-commit"
}
phase "baseline build: $BASELINE_COMMIT"
baseline_build || exit 1
BASE_BIN=$PV_BUILD_DIR/bench-baseline/build/provisiond

# ------------------------------------------------------------ private stack

phase "private stack (PV_PORT_BASE=$PORT_BASE)"
cleanup() {
  bench_stack_down
  rm -f "$OUT" "$ERR"
}
trap cleanup EXIT
bench_stack_up "$ROOT/.dev-bench-worker" "$PORT_BASE" || exit 1
bench_pg_profile dev || exit 1

# -------------------------------------------------------------------- floor

phase "floor: pass-through, raw curl multi, raw libpq ($JOBS jobs each, $REPEAT times)"
for i in $(seq 1 "$REPEAT"); do
  wb run --target passthrough --jobs "$JOBS" --keys "$KEYS" --label "floor-fwd.$i"
  wb curl --jobs "$JOBS" --conc 20 --label "floor-curl.$i"
  "$BUILD_DIR/bench_pg" --floor "$JOBS" 2>>"$ERR" | grep '^result ' |
    sed "s/label=floor-pg /label=floor-pg.$i /" >>"$OUT" || true
done
for l in floor-fwd floor-curl floor-pg; do summarize $l; done

# --------------------------------------------------- throughput, dev server

tp() { # tp LABEL [worker_bench options]: one backlog, the database measured
  local label=$1
  shift
  wb run --target worker --jobs "$JOBS" --keys "$KEYS" --timeout 60 --pg-stats --label "$label" "$@"
}
pairs() { # pairs PROFILE: REPEAT x (baseline, then this tree)
  for i in $(seq 1 "$REPEAT"); do
    tp "tp-base-$1.$i" --bin "$BASE_BIN"
    tp "tp-new-$1.$i"
  done
  summarize "tp-base-$1"
  summarize "tp-new-$1"
}
phase "throughput, dev PostgreSQL: $JOBS jobs, $KEYS keys, $REPEAT x ($BASELINE_COMMIT, this tree)"
pairs dev

# ------------------------------------------------------------------ latency

max=$(field tp-new-dev replies_per_s)
HALF=$(( ${max:-2000} / 2 ))
[ "$HALF" -ge 100 ] || HALF=100
[ "$HALF" -ne "$RATE" ] || HALF=$((HALF + 1)) # each rate its own labels
phase "latency: $RATE jobs/s and $HALF jobs/s (half the measured maximum), $SECS s each"
for r in "$RATE" "$HALF"; do
  wb run --target passthrough --jobs $((r * SECS)) --keys "$KEYS" --rate "$r" --label "lat-pass-$r"
  wb run --target worker --jobs $((r * SECS)) --keys "$KEYS" --rate "$r" --pg-stats --label "lat-worker-$r"
done

# ------------------------------------------------------------------- memory

phase "memory: $INFLIGHT jobs in flight (simulator latency 1 s), $BASELINE_COMMIT then this tree"
curl -sf -X PUT -H 'content-type: application/json' \
  -d '{"mode":"latency","latency_ms":1000}' "$SIM_VOLTHA_URL/_sim/faults" >/dev/null
for b in base new; do
  bin=()
  [ "$b" = base ] && bin=(--bin "$BASE_BIN")
  wb rss --jobs $((INFLIGHT + INFLIGHT / 20)) --running "$INFLIGHT" --timeout 60 "${bin[@]}" \
    --env PROVISIOND_WORKER_MAX_IN_FLIGHT="$INFLIGHT" \
    --env PROVISIOND_WORKER_MAX_BUFFERED=$((INFLIGHT * 2)) --label "rss-$b"
done
curl -s -X DELETE "$SIM_VOLTHA_URL/_sim/faults" >/dev/null

# ----------------------------------------------- throughput, production durability

phase "production durability: $REPEAT x ($BASELINE_COMMIT, this tree), this tree x 2 workers, this tree at $RATE jobs/s"
bench_pg_profile durable || exit 1
pairs dur
tp tp-new-dur-2w.1 --workers 2
summarize tp-new-dur-2w
# the database's cost per job when a worker's batches are small
wb run --target worker --jobs $((RATE * SECS)) --keys "$KEYS" --rate "$RATE" --pg-stats --label "rate-new-dur"
phase ""

# -------------------------------------------------------------------- table

echo
echo "== runs (same stack, same run)"
printf '%-18s %8s %9s %8s %9s %9s %8s %8s %9s %9s\n' run jobs/s "cpu us/j" "p50 ms" "p99 ms" \
  "pg us/j" "WAL B/j" "fsync/j" "calls/j" "exec us/j"
awk '$1 == "result" && $3 != "target=rss" && $3 !~ /^runs=/ {
  delete f; for (i = 2; i <= NF; i++) { n = index($i, "="); f[substr($i, 1, n - 1)] = substr($i, n + 1) }
  v = f["replies_per_s"] != "" ? f["replies_per_s"] : f["jobs_per_s"]
  printf "%-18s %8s %9s %8s %9s %9s %8s %8s %9s %9s\n", f["label"], v, f["cpu_us_per_job"],
    f["e2e_p50_ms"] != "" ? f["e2e_p50_ms"] : "-", f["e2e_p99_ms"] != "" ? f["e2e_p99_ms"] : "-",
    f["pg_cpu_us_per_job"] != "" ? f["pg_cpu_us_per_job"] : "-",
    f["wal_bytes_per_job"] != "" ? f["wal_bytes_per_job"] : "-",
    f["wal_syncs_per_job"] != "" ? f["wal_syncs_per_job"] : "-",
    f["pg_calls_per_job"] != "" ? f["pg_calls_per_job"] : "-",
    f["pg_exec_us_per_job"] != "" ? f["pg_exec_us_per_job"] : "-" }' "$OUT"
for l in rss-base rss-new; do
  [ -n "$(field $l hwm_kib)" ] || continue
  echo "$l: $(field $l running_peak) running, idle VmRSS $(field $l idle_rss_kib) KiB, VmRSS $(field $l rss_kib) KiB, VmHWM $(field $l hwm_kib) KiB"
done

for l in tp-new-dur.$REPEAT tp-base-dur.$REPEAT; do
  grep -q "^stmt label=$l " "$OUT" || continue
  echo
  echo "== statements of $l by total execution time (pg_stat_statements, same window)"
  printf '%7s %8s %9s %9s %7s %8s %8s  %s\n' calls calls/j rows/call "exec us/c" share "WAL B/c" "WAL B/j" query
  jobs=$(field "$l" replies)
  awk -v l="label=$l" -v jobs="${jobs:-1}" '$1 == "stmt" && $2 == l {
    delete f; q = $0; sub(/.* query=/, "", q)
    for (i = 3; i <= NF; i++) { n = index($i, "="); f[substr($i, 1, n - 1)] = substr($i, n + 1) }
    tot += f["exec_ms"]; k++; ms[k] = f["exec_ms"]; q_[k] = substr(q, 1, 64)
    tail_[k] = sprintf("%8s %8.0f", f["wal_bytes_per_call"], f["wal_bytes_per_call"] * f["calls"] / jobs)
    head[k] = sprintf("%7s %8.3f %9.2f %9s", f["calls"], f["calls"] / jobs, f["calls"] ? f["rows"] / f["calls"] : 0, f["exec_us_per_call"]) }
    END { for (i = 1; i <= k; i++)
      printf "%s %6.1f%% %s  %s\n", head[i], (tot > 0 ? 100 * ms[i] / tot : 0), tail_[i], q_[i] }' "$OUT"
done

# The issue-20 table: measured, baseline from this run, ratio, goal, verdict.
echo
echo "== issue 20 (every baseline from this run; figures printed, never asserted)"
awk -v rate="$RATE" -v half="$HALF" -v inflight="$INFLIGHT" -v commit="$BASELINE_COMMIT" '
  $1 == "result" { l = substr($2, 7)
    for (i = 3; i <= NF; i++) { n = index($i, "="); v[l, substr($i, 1, n - 1)] = substr($i, n + 1) } }
  $1 == "stmt" && $3 == "rank=1" { l = substr($2, 7); sub(/\.[0-9]+$/, "", l); q = $0; sub(/.* query=/, "", q); top[l] = substr(q, 1, 60) }
  function has(l, k) { return (l, k) in v && v[l, k] != "" }
  function row(name, meas, base, ratio, goal, verdict) {
    printf "%-46s %14s %22s %8s %10s  %s\n", name, meas, base, ratio, goal, verdict }
  function met(ok) { return ok ? "met" : "NOT MET" }
  END {
    row("figure", "measured", "baseline (same run)", "ratio", "goal", "verdict")
    f1 = v["floor-fwd", "cpu_us_per_job"]; f2 = v["floor-curl", "cpu_us_per_job"]; f3 = v["floor-pg", "cpu_us_per_job"]
    row("floor: pass-through forwarder, CPU/job", f1 " us", "", "", "", "")
    row("floor: raw curl multi GET on the sim, CPU/req", f2 " us", "", "", "", "")
    row("floor: 2 raw pipelined libpq stmts, CPU/job", f3 " us", "", "", "", "")
    floor = f1 + f2 + f3
    if (has("tp-new-dev", "cpu_us_per_job") && f1 != "" && f2 != "" && f3 != "") {
      w = v["tp-new-dev", "cpu_us_per_job"]; r = w / floor
      row("worker CPU/job (dev PostgreSQL backlog)", w " us", sprintf("floor %.1f us", floor), sprintf("%.2fx", r), "<= 1.5x", met(r <= 1.5))
    } else row("worker CPU/job", "(a run failed)", "", "", "", "")
    split("dev durable", prof, " ")
    for (p = 1; p <= 2; p++) {
      nl = "tp-new-" (p == 1 ? "dev" : "dur"); bl = "tp-base-" (p == 1 ? "dev" : "dur")
      name = p == 1 ? "throughput, dev PostgreSQL (fsync=off)" : "throughput, production durability"
      if (has(nl, "replies_per_s") && has(bl, "replies_per_s") && v[nl, "replies"] == v[nl, "jobs"] && v[bl, "replies"] == v[bl, "jobs"]) {
        r = v[nl, "replies_per_s"] / v[bl, "replies_per_s"]
        row(name, v[nl, "replies_per_s"] " jobs/s", commit " " v[bl, "replies_per_s"] " jobs/s", sprintf("%.2fx", r), ">= 2x", met(r >= 2))
      } else row(name, "(a run failed or timed out)", "", "", "", "")
    }
    if (has("rss-new", "hwm_kib") && v["rss-new", "running_peak"] > 0) {
      pj = (v["rss-new", "hwm_kib"] - v["rss-new", "idle_rss_kib"]) / v["rss-new", "running_peak"]
      b = ""; rr = ""
      if (has("rss-base", "hwm_kib") && v["rss-base", "running_peak"] > 0) {
        pb = (v["rss-base", "hwm_kib"] - v["rss-base", "idle_rss_kib"]) / v["rss-base", "running_peak"]
        b = sprintf("%s %.2f KiB", commit, pb); rr = sprintf("%.2fx", pj / pb) }
      row(sprintf("memory per job in flight (%d running)", v["rss-new", "running_peak"]), sprintf("%.2f KiB", pj), b, rr, "<= 3 KiB",
          met(pj <= 3 && v["rss-new", "running_peak"] >= inflight))
    } else row("memory per job in flight", "(the run failed)", "", "", "", "")
    split(rate " " half, rs, " ")
    for (i = 1; i <= 2; i++) {
      wl = "lat-worker-" rs[i]; pl = "lat-pass-" rs[i]; goal = i == 1 ? 5 : 10
      name = sprintf("worker-added p99 at %d jobs/s%s", rs[i], i == 2 ? " (half max)" : "")
      if (has(wl, "e2e_p99_ms") && has(pl, "e2e_p99_ms")) {
        a = v[wl, "e2e_p99_ms"] - v[pl, "e2e_p99_ms"]
        # a worker that fell behind the rate measured its queue, not its latency
        behind = v[wl, "replies_per_s"] < 0.95 * rs[i] ? sprintf(" (kept up with %d jobs/s only)", v[wl, "replies_per_s"]) : ""
        row(name, sprintf("%.2f ms", a), "pass-through p99 " v[pl, "e2e_p99_ms"] " ms", "", "<= " goal " ms", met(a <= goal) behind)
      } else row(name, "(a run failed)", "", "", "", "")
    }
    for (p = 1; p <= 2; p++) {
      s = p == 1 ? "dev" : "dur"; nl = "tp-new-" s; bl = "tp-base-" s
      if (!has(nl, "pg_cpu_us_per_job")) continue
      b = has(bl, "pg_cpu_us_per_job") ? commit " " v[bl, "pg_cpu_us_per_job"] " us" : ""
      rr = has(bl, "pg_cpu_us_per_job") && v[bl, "pg_cpu_us_per_job"] > 0 ? sprintf("%.2fx", v[nl, "pg_cpu_us_per_job"] / v[bl, "pg_cpu_us_per_job"]) : ""
      row("PostgreSQL CPU/job, backlog, " (p == 1 ? "dev" : "durable"), v[nl, "pg_cpu_us_per_job"] " us", b, rr, "", "")
      b = has(bl, "wal_bytes_per_job") ? commit " " v[bl, "wal_bytes_per_job"] " B" : ""
      row("WAL bytes/job, " (p == 1 ? "dev" : "durable"), v[nl, "wal_bytes_per_job"] " B", b, "", "", "")
    }
    if (has("tp-new-dur", "wal_syncs_per_job"))
      row("WAL fsyncs/job, durable", v["tp-new-dur", "wal_syncs_per_job"], has("tp-base-dur", "wal_syncs_per_job") ? commit " " v["tp-base-dur", "wal_syncs_per_job"] : "", "", "", "")
    # small batches: the database cost per job at a fixed rate
    if (has("lat-worker-" rate, "pg_cpu_us_per_job"))
      row(sprintf("PostgreSQL CPU/job at %d jobs/s, dev", rate), v["lat-worker-" rate, "pg_cpu_us_per_job"] " us", "", "", "", "")
    if (has("tp-new-dur-2w", "pg_cpu_us_per_job")) {
      row("2 workers, durable: jobs/s", v["tp-new-dur-2w", "replies_per_s"], "1 worker " v["tp-new-dur", "replies_per_s"], "", "", "")
      row("2 workers, durable: PostgreSQL CPU/job", v["tp-new-dur-2w", "pg_cpu_us_per_job"] " us", "1 worker " v["tp-new-dur", "pg_cpu_us_per_job"] " us", "", "", "")
      row("2 workers, durable: WAL bytes/job", v["tp-new-dur-2w", "wal_bytes_per_job"] " B", "1 worker " v["tp-new-dur", "wal_bytes_per_job"] " B", "", "", "")
    }
    if (has("rate-new-dur", "pg_cpu_us_per_job"))
      row(sprintf("PostgreSQL CPU/job at %d jobs/s, durable", rate), v["rate-new-dur", "pg_cpu_us_per_job"] " us",
          "WAL " v["rate-new-dur", "wal_bytes_per_job"] " B/job, " v["rate-new-dur", "wal_syncs_per_job"] " fsync/job", "", "", "")
    # one PostgreSQL core per this many jobs/s, if nothing but CPU bound it
    split("tp-new-dur rate-new-dur", cl, " ")
    for (i = 1; i <= 2; i++) {
      if (!has(cl[i], "pg_cpu_us_per_job") || v[cl[i], "pg_cpu_us_per_job"] <= 0) continue
      c = v[cl[i], "pg_cpu_us_per_job"]
      row(sprintf("fleet ceiling, durable, %s", i == 1 ? "backlog batches" : rate " jobs/s batches"),
          sprintf("%.0f jobs/s/core", 1e6 / c), sprintf("4/16/64 cores: %.0fk/%.0fk/%.0fk", 4e3 / c, 16e3 / c, 64e3 / c), "", "", "")
    }
    if ("tp-new-dur" in top) printf "dominant statement (durable, by total time): %s...\n", top["tp-new-dur"]
  }' "$OUT"

echo
echo "== phases (seconds)"
for p in "${PHASES[@]}"; do printf '%6s  %s\n' "${p##* }" "${p% *}"; done
printf '%6s  total\n' "$(( $(date +%s) - T0 ))"
if [ -s "$ERR" ]; then
  echo "stderr of the runs (first lines):"
  sed 's/^/   /' "$ERR" | head -20
fi
