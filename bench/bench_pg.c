/*
 * bench_pg: single-row upserts per second through db/pg (pipelined,
 * batched) against the baseline of blocking PQexecParams one at a time, on
 * the same server in the same run. Works in its own scratch database
 * (pv_bench_<pid>, dropped at the end).
 *
 *   bench_pg [conninfo]      (default: $PROVISIOND_PG)
 *   env BENCH_PG_N=20000     upserts per pipelined run
 *       BENCH_PG_BLOCKING_N=3000   upserts for the blocking baseline
 *       BENCH_PG_BATCH=256         statements per Sync for the batched run
 *
 * Each figure is printed next to the baseline measured just before it.
 */
#include "common/alloc.h"
#include "common/clock.h"
#include "common/log.h"
#include "db/pg.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define UPSERT                                                        \
  "INSERT INTO bench_kv (k, v, n) VALUES ($1, $2, 1) "               \
  "ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v, n = bench_kv.n + 1"

static void quiet(void *arg, const char *message)
{
  (void)arg;
  (void)message;
}

static int admin_exec(const char *conninfo, const char *sql)
{
  PGconn *c = PQconnectdb(conninfo);
  PGresult *r;
  int rc = 0;
  PQsetNoticeProcessor(c, quiet, NULL);
  if (PQstatus(c) != CONNECTION_OK) {
    fprintf(stderr, "bench_pg: cannot connect: %s", PQerrorMessage(c));
    PQfinish(c);
    return -1;
  }
  r = PQexec(c, sql);
  if (PQresultStatus(r) != PGRES_COMMAND_OK) {
    fprintf(stderr, "bench_pg: %s: %s", sql, PQresultErrorMessage(r));
    rc = -1;
  }
  PQclear(r);
  PQfinish(c);
  return rc;
}

/* conninfo with dbname (and optional extra options) appended: later
 * keywords win in a key=value string. URIs are not supported here. */
static char *db_conninfo(const char *base, const char *db, const char *extra)
{
  return pv_asprintf("%s dbname=%s%s%s", base, db, extra ? " " : "",
                     extra ? extra : "");
}

static double run_blocking(const char *conninfo, int n, int key0)
{
  PGconn *c = PQconnectdb(conninfo);
  uint64_t t0;
  char key[16];
  const char *params[2] = {key, "value"};
  if (PQstatus(c) != CONNECTION_OK) {
    fprintf(stderr, "bench_pg: %s", PQerrorMessage(c));
    PQfinish(c);
    return -1;
  }
  t0 = pv_clock_mono_us();
  for (int i = 0; i < n; i++) {
    PGresult *r;
    snprintf(key, sizeof(key), "%d", key0 + i);
    r = PQexecParams(c, UPSERT, 2, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
      fprintf(stderr, "bench_pg: upsert: %s", PQresultErrorMessage(r));
      PQclear(r);
      PQfinish(c);
      return -1;
    }
    PQclear(r);
  }
  t0 = pv_clock_mono_us() - t0;
  PQfinish(c);
  return n / (t0 / 1e6);
}

typedef struct run {
  pv_pg_t *pg;
  int n, key0;
  int submitted;
  int done;
  int failed;
  bool closed_loop; /* each completion submits the next */
} run_t;

static void on_done(const pv_pg_result_t *res, void *arg);

static int submit(run_t *r)
{
  char key[16];
  const char *params[2] = {key, "value"};
  snprintf(key, sizeof(key), "%d", r->key0 + r->submitted);
  if (pv_pg_query(r->pg, UPSERT, 2, params, on_done, r) != PV_PG_OK)
    return -1;
  r->submitted++;
  return 0;
}

static void on_done(const pv_pg_result_t *res, void *arg)
{
  run_t *r = arg;
  r->done++;
  if (!pv_pg_result_ok(res)) {
    if (r->failed++ == 0)
      fprintf(stderr, "bench_pg: upsert failed: %s\n", pv_pg_result_error(res));
  }
  if (r->closed_loop && r->submitted < r->n && submit(r) != 0)
    r->failed++;
}

/* window 0: submit all n at once; else keep `window` outstanding. */
static double run_pipelined(const char *conninfo, int n, int key0,
                            size_t max_batch, int window, pv_pg_stats_t *st)
{
  uv_loop_t loop;
  char err[256];
  run_t r;
  pv_pg_t *pg;
  uint64_t t0;
  double rate = -1;

  if (uv_loop_init(&loop) != 0)
    return -1;
  pg = pv_pg_new(&loop, conninfo, err, sizeof(err));
  if (!pg) {
    fprintf(stderr, "bench_pg: %s\n", err);
    goto out;
  }
  pv_pg_set_max_batch(pg, max_batch);
  for (int i = 0; i < 2000 && !pv_pg_connected(pg); i++)
    uv_run(&loop, UV_RUN_ONCE);
  if (!pv_pg_connected(pg)) {
    fprintf(stderr, "bench_pg: pv_pg did not connect\n");
    goto out;
  }
  memset(&r, 0, sizeof(r));
  r.pg = pg;
  r.n = n;
  r.key0 = key0;
  r.closed_loop = window > 0;
  t0 = pv_clock_mono_us();
  for (int i = 0; i < (window > 0 ? window : n) && r.submitted < n; i++) {
    if (submit(&r) != 0) {
      fprintf(stderr, "bench_pg: queue full at %d\n", i);
      goto out;
    }
  }
  /* Bounded: every query gets exactly one callback. */
  while (r.done < n && r.failed == 0)
    uv_run(&loop, UV_RUN_ONCE);
  t0 = pv_clock_mono_us() - t0;
  pv_pg_stats(pg, st);
  if (r.failed == 0)
    rate = n / (t0 / 1e6);
out:
  pv_pg_destroy(pg);
  while (uv_run(&loop, UV_RUN_NOWAIT) != 0)
    ;
  uv_loop_close(&loop);
  return rate;
}

static int env_int(const char *name, int def)
{
  const char *v = getenv(name);
  char *end;
  long n;
  if (!v || !*v)
    return def;
  n = strtol(v, &end, 10);
  return (*end || n < 1 || n > 1000000) ? def : (int)n;
}

int main(int argc, char **argv)
{
  const char *base = argc > 1 ? argv[1] : getenv("PROVISIOND_PG");
  int n = env_int("BENCH_PG_N", 20000);
  int nb = env_int("BENCH_PG_BLOCKING_N", 3000);
  int batch = env_int("BENCH_PG_BATCH", PV_PG_DEFAULT_MAX_BATCH);
  char dbname[64];
  char sql[128];
  char *ci = NULL;
  int status = 1;
  struct {
    const char *label;
    const char *extra;
  } commits[] = {
      {"synchronous_commit=on (server default)", NULL},
      {"synchronous_commit=off (round trips only)",
       "options='-c synchronous_commit=off'"},
  };

  if (!base || !*base) {
    fprintf(stderr, "bench_pg: give a conninfo or set PROVISIOND_PG\n");
    return 2;
  }
  pv_log_set_level(PV_LOG_ERROR);
  snprintf(dbname, sizeof(dbname), "pv_bench_%ld", (long)getpid());
  snprintf(sql, sizeof(sql), "CREATE DATABASE %s", dbname);
  if (admin_exec(base, sql) != 0)
    return 1;

  for (size_t c = 0; c < sizeof(commits) / sizeof(commits[0]); c++) {
    double base_rate, batched, single, windowed;
    pv_pg_stats_t st_b, st_s, st_w;
    free(ci);
    ci = db_conninfo(base, dbname, commits[c].extra);
    if (admin_exec(ci, "DROP TABLE IF EXISTS bench_kv; CREATE TABLE bench_kv "
                       "(k int PRIMARY KEY, v text, n int)") != 0)
      goto out;
    printf("-- %s\n", commits[c].label);
    base_rate = run_blocking(ci, nb, 0);
    if (base_rate <= 0)
      goto out;
    printf("  blocking PQexecParams, one at a time : %9.0f upserts/s  "
           "(baseline, %d rows)\n", base_rate, nb);
    batched = run_pipelined(ci, n, 1000000, (size_t)batch, 0, &st_b);
    if (batched <= 0)
      goto out;
    printf("  pv_pg pipelined, batch %-3d            : %9.0f upserts/s  "
           "= %5.1fx baseline (%d rows, avg batch %.0f, mean latency "
           "%.1f ms)\n",
           batch, batched, batched / base_rate, n,
           st_b.batches ? (double)st_b.batch_statements / st_b.batches : 0,
           st_b.latency_count
               ? st_b.latency_us_sum / 1000.0 / st_b.latency_count : 0);
    windowed = run_pipelined(ci, n, 3000000, (size_t)batch, 64, &st_w);
    if (windowed <= 0)
      goto out;
    printf("  pv_pg, 64 outstanding (closed loop)   : %9.0f upserts/s  "
           "= %5.1fx baseline (%d rows, avg batch %.0f, mean latency "
           "%.2f ms)\n",
           windowed, windowed / base_rate, n,
           st_w.batches ? (double)st_w.batch_statements / st_w.batches : 0,
           st_w.latency_count
               ? st_w.latency_us_sum / 1000.0 / st_w.latency_count : 0);
    single = run_pipelined(ci, nb, 2000000, 1, 0, &st_s);
    if (single <= 0)
      goto out;
    printf("  pv_pg pipelined, one Sync per upsert  : %9.0f upserts/s  "
           "= %5.1fx baseline (%d rows)\n",
           single, single / base_rate, nb);
  }
  status = 0;
out:
  free(ci);
  snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", dbname);
  admin_exec(base, sql);
  return status;
}
