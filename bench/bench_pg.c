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
 *
 *   bench_pg --floor JOBS [conninfo]
 *
 * The PostgreSQL part of the worker's floor (issue 20): per job, two raw
 * libpq statements shaped like the worker's claim (17 parameters, one row
 * back) and outcome (13 parameters), pipelined in batches, no provisiond
 * code in the path. Prints one `result` line with this process's CPU per
 * job (getrusage): what libpq alone costs the client for a job's two
 * statements.
 */
#include "bench/benchutil.h"
#include "common/alloc.h"
#include "common/clock.h"
#include "common/log.h"
#include "db/pg.h"

#include <libpq-fe.h>
#include <poll.h>
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

/* ---- the floor: two raw pipelined statements per job -------------------- */

/* A job_status-like table and the two statement shapes of db/store.c: the
 * same parameter counts and types (text, bytea as hex, jsonb, epoch ms),
 * the same row back from the claim. The statements are simpler inside
 * (no blocker lookup): the floor is what the client pays, and the client
 * does not see the server's plan. */
#define FLOOR_TABLE                                                       \
  "DROP TABLE IF EXISTS bench_job; CREATE TABLE bench_job ("             \
  " job_id text PRIMARY KEY, tenant text, service text, op text,"        \
  " ordering_key text, state text, runs int DEFAULT 1, source_topic text," \
  " source_partition int, source_offset bigint, reply_topic text,"       \
  " correlation_id text, content_type text, payload bytea, headers jsonb," \
  " received_at timestamptz, started_at timestamptz, deadline timestamptz," \
  " lease_until timestamptz, worker_id text, attempts int DEFAULT 0,"    \
  " reached int DEFAULT 0, result jsonb, error_class text,"              \
  " error_message text, http_status int, reply bytea, dlq_topic text,"   \
  " next_attempt_at timestamptz, retry_reason text, breaker_state text," \
  " finished_at timestamptz, updated_at timestamptz)"
#define FLOOR_CLAIM                                                       \
  "INSERT INTO bench_job (job_id, tenant, service, op, ordering_key,"    \
  " state, source_topic, source_partition, source_offset, reply_topic,"  \
  " correlation_id, content_type, payload, headers, received_at,"        \
  " started_at, deadline, lease_until, worker_id)"                       \
  " VALUES ($1::text, $2::text, $3::text, $4::text, $5::text, 'running'," \
  " $6::text, $7::int, $8::bigint, $9::text, $10::text, $11::text,"      \
  " $12::bytea, $13::jsonb, to_timestamp($14::bigint / 1000.0), now(),"  \
  " to_timestamp($15::bigint / 1000.0),"                                 \
  " now() + $16::int * interval '1 millisecond', $17::text)"             \
  " ON CONFLICT (job_id) DO NOTHING"                                     \
  " RETURNING 'claimed', runs, state, NULL::bytea, NULL::text, NULL::text," \
  " NULL::bigint, NULL::text, NULL::text, NULL::text, reached"
#define FLOOR_FINISH                                                      \
  "UPDATE bench_job SET state = $2::text, attempts = attempts + $3::int," \
  " result = $4::jsonb, error_class = $5::text, error_message = $6::text," \
  " http_status = $7::int, reply = $8::bytea, reply_topic = $9::text,"   \
  " dlq_topic = $10::text,"                                              \
  " next_attempt_at = to_timestamp($11::bigint / 1000.0),"               \
  " retry_reason = $12::text, breaker_state = $13::text,"                \
  " finished_at = now(), lease_until = NULL, updated_at = now()"         \
  " WHERE job_id = $1::text"
/* jobs per Sync, and batches in flight: the worker's pipeline sends what
 * a loop turn gathered, a few batches deep */
#define FLOOR_BATCH 128
#define FLOOR_DEPTH 4

typedef struct floor_run {
  PGconn *c;
  int n;           /* jobs */
  int claimed;     /* jobs whose claim is queued */
  int finished;    /* jobs whose outcome is queued */
  int answered;    /* statements answered */
  int pending;     /* statements and Syncs sent, not yet answered */
  int syncs_out;   /* Syncs sent, not yet answered */
  bool in_result;  /* a statement's result came, its NULL not yet */
  char payload[2 * 96 + 3], reply[2 * 256 + 3];
} floor_run_t;

static int floor_send_claim(floor_run_t *f, int i)
{
  char id[32], key[32], off[24], now_ms[24];
  snprintf(id, sizeof(id), "floor-%d", i);
  snprintf(key, sizeof(key), "key-%d", i % 5000);
  snprintf(off, sizeof(off), "%d", i);
  snprintf(now_ms, sizeof(now_ms), "%lld", (long long)pv_clock_wall_ms());
  const char *p[17] = {id, (i & 1) ? "isp-west" : "isp-east", "voltha",
                       "health_check", key, "provisioning.jobs", "0", off,
                       "provisioning.results", off, "application/msgpack",
                       f->payload, "[[\"correlation-id\",\"1234\"]]", now_ms,
                       NULL, "30000", "bench-floor"};
  return PQsendQueryPrepared(f->c, "claim", 17, p, NULL, NULL, 0) ? 0 : -1;
}

static int floor_send_finish(floor_run_t *f, int i)
{
  char id[32];
  snprintf(id, sizeof(id), "floor-%d", i);
  const char *p[13] = {id, "succeeded", "1", "{\"status\":\"ok\"}", NULL, NULL,
                       NULL, f->reply, "provisioning.results", NULL, NULL,
                       NULL, NULL};
  return PQsendQueryPrepared(f->c, "finish", 13, p, NULL, NULL, 0) ? 0 : -1;
}

/* Queues one batch: the next FLOOR_BATCH claims and a Sync (they commit
 * before the HTTP call), then the outcomes of the batch before it and a
 * Sync, as a worker's loop turn would. */
static int floor_send_batch(floor_run_t *f)
{
  int from = f->finished, to = f->claimed;
  for (int k = 0; k < FLOOR_BATCH && f->claimed < f->n; k++, f->pending++)
    if (floor_send_claim(f, f->claimed++) != 0)
      return -1;
  if (f->claimed > to) {
    if (!PQpipelineSync(f->c))
      return -1;
    f->pending++;
    f->syncs_out++;
  }
  for (int i = from; i < to; i++, f->pending++, f->finished++)
    if (floor_send_finish(f, i) != 0)
      return -1;
  if (to > from) {
    if (!PQpipelineSync(f->c))
      return -1;
    f->pending++;
    f->syncs_out++;
  }
  return 0;
}

/* Reads every complete result: each statement's result, then NULL; each
 * Sync's PGRES_PIPELINE_SYNC. */
static int floor_read(floor_run_t *f)
{
  if (!PQconsumeInput(f->c))
    return -1;
  while (f->pending > 0 && !PQisBusy(f->c)) {
    PGresult *r = PQgetResult(f->c);
    if (!r) {
      if (!f->in_result)
        break;
      f->in_result = false;
      f->pending--;
      continue;
    }
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_PIPELINE_SYNC) {
      f->pending--;
      f->syncs_out--;
    } else if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
      f->in_result = true;
      f->answered++;
    } else {
      fprintf(stderr, "bench_pg: floor statement: %s",
              PQresultErrorMessage(r));
      PQclear(r);
      return -1;
    }
    PQclear(r);
  }
  return 0;
}

static int floor_loop(floor_run_t *f)
{
  while (f->answered < 2 * f->n) {
    while ((f->claimed < f->n || f->finished < f->claimed) &&
           f->syncs_out < 2 * FLOOR_DEPTH)
      if (floor_send_batch(f) != 0)
        return -1;
    int fl = PQflush(f->c);
    if (fl < 0)
      return -1;
    struct pollfd pfd = {.fd = PQsocket(f->c),
                         .events = POLLIN | (fl ? POLLOUT : 0)};
    if (poll(&pfd, 1, 5000) <= 0) {
      fprintf(stderr, "bench_pg: floor: no answer for 5 s\n");
      return -1;
    }
    if ((pfd.revents & (POLLIN | POLLERR | POLLHUP)) && floor_read(f) != 0)
      return -1;
  }
  return 0;
}

static int run_floor(const char *conninfo, int n)
{
  floor_run_t f = {.n = n};
  int rc = -1;
  if (admin_exec(conninfo, FLOOR_TABLE) != 0)
    return -1;
  static const char hex[] = "0123456789abcdef";
  memcpy(f.payload, "\\x", 2);
  for (size_t i = 0; i < 2 * 96; i++)
    f.payload[2 + i] = hex[(i * 7) & 15];
  f.payload[2 + 2 * 96] = '\0';
  memcpy(f.reply, "\\x", 2);
  for (size_t i = 0; i < 2 * 256; i++)
    f.reply[2 + i] = hex[(i * 5) & 15];
  f.reply[2 + 2 * 256] = '\0';
  f.c = PQconnectdb(conninfo);
  if (PQstatus(f.c) != CONNECTION_OK) {
    fprintf(stderr, "bench_pg: %s", PQerrorMessage(f.c));
    goto out;
  }
  PGresult *r = PQprepare(f.c, "claim", FLOOR_CLAIM, 17, NULL);
  bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
  PQclear(r);
  r = ok ? PQprepare(f.c, "finish", FLOOR_FINISH, 13, NULL) : NULL;
  ok = ok && PQresultStatus(r) == PGRES_COMMAND_OK;
  PQclear(r);
  if (!ok || !PQenterPipelineMode(f.c) || PQsetnonblocking(f.c, 1) != 0) {
    fprintf(stderr, "bench_pg: floor setup: %s", PQerrorMessage(f.c));
    goto out;
  }
  double c0 = pv_bench_cpu_s();
  uint64_t t0 = pv_clock_mono_us();
  if (floor_loop(&f) != 0) {
    fprintf(stderr, "bench_pg: floor: %s", PQerrorMessage(f.c));
    goto out;
  }
  double cpu = pv_bench_cpu_s() - c0;
  double wall = (double)(pv_clock_mono_us() - t0) / 1e6;
  printf("result label=floor-pg target=pg jobs=%d statements=%d batch=%d "
         "depth=%d jobs_per_s=%.0f cpu_s=%.3f cpu_us_per_job=%.2f\n",
         n, f.answered, FLOOR_BATCH, FLOOR_DEPTH, n / wall, cpu,
         cpu * 1e6 / n);
  rc = 0;
out:
  PQfinish(f.c);
  return rc;
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

/* bench_pg --floor JOBS [conninfo]: the floor alone, in its own scratch
 * database. */
static int floor_main(int argc, char **argv)
{
  const char *base = argc > 3 ? argv[3] : getenv("PROVISIOND_PG");
  char *end = NULL;
  long n = argc > 2 ? strtol(argv[2], &end, 10) : 0;
  char dbname[64], sql[128];
  if (!end || *end || n < 1000 || n > 10000000 || !base || !*base) {
    fprintf(stderr, "usage: bench_pg --floor JOBS(1000..1e7) [conninfo]"
                    " (or PROVISIOND_PG)\n");
    return 2;
  }
  snprintf(dbname, sizeof(dbname), "pv_bench_floor_%ld", (long)getpid());
  snprintf(sql, sizeof(sql), "CREATE DATABASE %s", dbname);
  if (admin_exec(base, sql) != 0)
    return 1;
  char *ci = db_conninfo(base, dbname, NULL);
  int rc = run_floor(ci, (int)n) == 0 ? 0 : 1;
  free(ci);
  snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", dbname);
  admin_exec(base, sql);
  return rc;
}

int main(int argc, char **argv)
{
  if (argc > 1 && !strcmp(argv[1], "--floor"))
    return floor_main(argc, argv);
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
