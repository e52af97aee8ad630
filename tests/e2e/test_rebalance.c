/*
 * Consumer-group rebalancing on a real Apache Kafka broker (label apache:
 * tests/run.sh runs it only in the KAFKA=apache pass; librdkafka's mock
 * cluster rejoins slowly and is not the broker an ISP runs).
 *
 * One worker owns a 6-partition topic under a steady load of jobs on many
 * keys (each job waits on a private simulator with added latency, so jobs
 * are in flight at every move). Mid-load a second worker joins
 * (cooperative-sticky moves some partitions to it), leaves on SIGTERM
 * (they move back), joins again, and then the first worker is SIGKILLed
 * and restarted, as a supervisor would. The suite proves:
 *
 *  - no job is lost: every job has exactly one row, and it is final;
 *  - a job runs twice only if the killed worker was running it, and a
 *    reply is duplicated only for a job that was in flight at a move;
 *  - no committed offset ever passes an unfinished job (checked at
 *    checkpoints during the run), and at the end the committed offsets are
 *    exactly the number of records of each partition;
 *  - partitions move without a stall longer than the session timeout plus
 *    a margin (the largest gap between two finished jobs of a partition).
 */
#include "tests/e2e/worker_harness.h"
#include "tests/support/proc.h"
#include "tests/support/simproc.h"
#include "tests/support/testenv.h"
#include "db/pg.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#define PARTS 6
#define N_JOBS 1500
#define N_KEYS 60
#define PRODUCE_EVERY_MS 10   /* 1500 jobs over ~15 s */
#define SIM_LATENCY_MS "100"  /* keeps ~10 jobs in flight at 100 jobs/s */
#define SESSION_TIMEOUT_MS 6000 /* the broker's group.min.session.timeout.ms */
#define STALL_MARGIN_MS 5000
#define ASSIGNED "\"event\":\"kafka.partition_assigned\""
#define REVOKED "\"event\":\"kafka.partition_revoked\""

/* A partition move: lo = committed offsets just before it, hi = jobs
 * produced by the time it had settled. A job at (p, offset) with index i
 * may have been in flight at the move iff offset >= lo[p] and i < hi. */
typedef struct move {
  const char *what;
  int64_t lo[PARTS];
  int hi;
} move_t;

enum { MV_JOIN, MV_LEAVE, MV_REJOIN, MV_KILL, N_MOVES };

typedef struct job_row {
  int partition;
  int64_t offset;
  int runs;
  int replies;
  bool final;
} job_row_t;

static pv_e2e_t E;
static pv_sim_t SIM;
static pid_t A, B;
static pv_pg_sync_t *DB;

static void teardown(void)
{
  if (A > 0)
    pv_proc_stop(A, SIGKILL, 5000);
  if (B > 0)
    pv_proc_stop(B, SIGKILL, 5000);
  A = B = 0;
  pv_e2e_teardown(&E);
  pv_sim_stop(&SIM);
  pv_pg_sync_close(DB);
  DB = NULL;
}

TestSuite(rebalance, .fini = teardown, .timeout = 180);

static int64_t now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int64_t ms)
{
  struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
  while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
    ;
}

static void committed(int64_t out[PARTS])
{
  cr_assert_eq(pv_ksync_committed(E.brokers, E.group, E.jobs_topic, PARTS, out),
               0, "cannot read the group's committed offsets");
}

/* The invariant at a checkpoint: every offset below a partition's
 * committed offset belongs to a job whose row is final. Offsets are read
 * first: a job final then stays final, so a later look at the table can
 * only see more finished jobs, never fewer. @returns the committed total. */
static int64_t check_committed_only_finished(const char *when)
{
  int64_t c[PARTS];
  committed(c);
  char parts[128] = "{", offs[256] = "{";
  size_t pl = 1, ol = 1;
  int64_t total = 0;
  for (int p = 0; p < PARTS; p++) {
    int64_t v = c[p] < 0 ? 0 : c[p];
    total += v;
    pl += (size_t)snprintf(parts + pl, sizeof(parts) - pl, "%s%d",
                           p ? "," : "", p);
    ol += (size_t)snprintf(offs + ol, sizeof(offs) - ol, "%s%lld",
                           p ? "," : "", (long long)v);
  }
  cr_assert(pl + 2 < sizeof(parts) && ol + 2 < sizeof(offs));
  parts[pl++] = '}';
  parts[pl] = '\0';
  offs[ol++] = '}';
  offs[ol] = '\0';
  const char *params[] = {E.jobs_topic, parts, offs};
  pv_pg_result_t *r = pv_pg_sync_query(
      DB,
      "SELECT t.p, t.c, (SELECT count(DISTINCT j.source_offset) FROM job_status j"
      " WHERE j.source_topic = $1 AND j.source_partition = t.p"
      " AND j.source_offset < t.c"
      " AND j.state IN ('succeeded', 'failed', 'dead'))"
      " FROM unnest($2::int[], $3::bigint[]) AS t(p, c) ORDER BY t.p",
      3, params);
  cr_assert(pv_pg_result_ok(r), "checkpoint query: %s", pv_pg_result_error(r));
  cr_assert_eq(pv_pg_result_ntuples(r), PARTS);
  for (int i = 0; i < PARTS; i++) {
    long long c_off = strtoll(pv_pg_result_get(r, i, 1), NULL, 10);
    long long fin = strtoll(pv_pg_result_get(r, i, 2), NULL, 10);
    cr_assert_eq(fin, c_off,
                 "%s: partition %s committed offset %lld, but only %lld of "
                 "the records below it have a final job row: an offset was "
                 "committed past an unfinished job",
                 when, pv_pg_result_get(r, i, 0), c_off, fin);
  }
  pv_pg_result_free(r);
  return total;
}

static long long sql_count(const char *sql)
{
  const char *params[] = {E.jobs_topic};
  pv_pg_result_t *r = pv_pg_sync_query(DB, sql, 1, params);
  cr_assert(pv_pg_result_ok(r), "%s: %s", sql, pv_pg_result_error(r));
  long long v = strtoll(pv_pg_result_get(r, 0, 0), NULL, 10);
  pv_pg_result_free(r);
  return v;
}

/* @returns the job's index from its id "rb-<suffix>-<index>", or -1. */
static int job_index(const char *id)
{
  const char *dash = id ? strrchr(id, '-') : NULL;
  if (!dash || !dash[1])
    return -1;
  char *end = NULL;
  long v = strtol(dash + 1, &end, 10);
  if (*end || v < 0 || v >= N_JOBS)
    return -1;
  return (int)v;
}

static bool in_move(const move_t *m, const job_row_t *j, int index)
{
  return m->hi > 0 && j->offset >= m->lo[j->partition] && index < m->hi;
}

static void produce(int i)
{
  char id[160], key[32];
  snprintf(id, sizeof(id), "rb-%s-%d", E.suffix, i);
  snprintf(key, sizeof(key), "onu-%02d", i % N_KEYS);
  json_t *job = json_pack("{s:i,s:s,s:s,s:s,s:s}", "v", 1, "id", id, "tenant",
                          "isp-east", "service", "voltha", "op",
                          "health_check");
  cr_assert_not_null(job);
  pv_e2e_produce_job(&E, key, job, false, NULL);
  json_decref(job);
}

Test(rebalance, join_leave_kill_restart_under_load)
{
  const char *sim_args[] = {"--latency-ms", SIM_LATENCY_MS, NULL};
  cr_assert_eq(pv_sim_start(&SIM, sim_args), 0, "cannot start the simulator");
  pv_e2e_setup(&E, PARTS);
  cr_assert_eq(E.partitions, PARTS,
               "the broker must create the topic with %d partitions (got %d)",
               PARTS, E.partitions);
  char err[256];
  DB = pv_pg_sync_connect(E.pg, err, sizeof(err));
  cr_assert_not_null(DB, "PostgreSQL: %s", err);

  /* Group timing for a test (the defaults, 45 s / 3 s, would make a
   * killed worker's partitions wait 45 s), and the tenant's VOLTHA on the
   * private simulator. */
  char ini[512];
  snprintf(ini, sizeof(ini),
           "[kafka]\nsession.timeout.ms = %d\nheartbeat.interval.ms = 1000\n"
           "[tenant.isp-east]\nvoltha_url = %s\n",
           SESSION_TIMEOUT_MS, SIM.voltha_url);
  pv_e2e_config_append(&E, ini);
  /* A short lease, so a killed worker's running jobs can be taken over
   * before its partitions are even reassigned. */
  const char *env[] = {"PROVISIOND_WORKER_LEASE_MS=3000", NULL};

  char log_a[512], log_b[512], log_b2[512], log_a2[512];
  A = pv_e2e_spawn_worker(&E, "rb-a", env, log_a, sizeof(log_a));
  int64_t t = now_ms();
  while (pv_e2e_count_text(log_a, ASSIGNED) < PARTS && now_ms() - t < 30000)
    sleep_ms(50);
  cr_assert_eq(pv_e2e_count_text(log_a, ASSIGNED), PARTS,
               "worker A must own all %d partitions within 30 s; see %s",
               PARTS, log_a);

  move_t moves[N_MOVES] = {{.what = "B joins"}, {.what = "B leaves (SIGTERM)"},
                           {.what = "B rejoins"}, {.what = "A killed"}};
  int stage = 0, checkpoints = 0, a_assigned = 0, b_assigned = 0;
  int a_revoked = 0;
  int64_t slowest_produce = 0, slowest_check = 0;
  pid_t a2 = 0;
  int64_t t0 = now_ms(), kill_at = 0, takeover_ms = -1;
  for (int i = 0; i < N_JOBS; i++) {
    int64_t due = t0 + (int64_t)i * PRODUCE_EVERY_MS;
    int64_t wait = due - now_ms();
    if (wait > 0)
      sleep_ms(wait);
    int64_t p0 = now_ms();
    produce(i);
    int64_t took = now_ms() - p0;
    if (took > slowest_produce)
      slowest_produce = took;
    int n = i + 1;
    if (n % 20)
      continue; /* look at the workers every 20 jobs (~200 ms) */
    if (n % 150 == 0) {
      p0 = now_ms();
      check_committed_only_finished("during the load");
      checkpoints++;
      took = now_ms() - p0;
      if (took > slowest_check)
        slowest_check = took;
    }
    switch (stage) {
    case 0: /* B joins */
      if (n < 150)
        break;
      committed(moves[MV_JOIN].lo);
      a_assigned = pv_e2e_count_text(log_a, ASSIGNED);
      B = pv_e2e_spawn_worker(&E, "rb-b", env, log_b, sizeof(log_b));
      stage++;
      break;
    case 1:
      if (pv_e2e_count_text(log_b, ASSIGNED) > 0) {
        moves[MV_JOIN].hi = n;
        /* Cooperative-sticky: A gave up some partitions, not all (an
         * eager rebalance revokes everything from everyone). */
        a_revoked = pv_e2e_count_text(log_a, REVOKED);
        cr_assert(a_revoked >= 1 && a_revoked < PARTS,
                  "A gave up %d of its %d partitions when B joined; see %s",
                  a_revoked, PARTS, log_a);
        stage++;
      }
      break;
    case 2: /* B leaves */
      if (n < 450)
        break;
      committed(moves[MV_LEAVE].lo);
      a_assigned = pv_e2e_count_text(log_a, ASSIGNED);
      {
        int st = pv_proc_stop(B, SIGTERM, 30000);
        B = 0;
        cr_assert(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
                  "worker B did not exit cleanly on SIGTERM; see %s", log_b);
      }
      stage++;
      break;
    case 3:
      if (pv_e2e_count_text(log_a, ASSIGNED) > a_assigned) {
        moves[MV_LEAVE].hi = n;
        stage++;
      }
      break;
    case 4: /* B rejoins */
      if (n < 600)
        break;
      committed(moves[MV_REJOIN].lo);
      B = pv_e2e_spawn_worker(&E, "rb-b2", env, log_b2, sizeof(log_b2));
      stage++;
      break;
    case 5:
      if (pv_e2e_count_text(log_b2, ASSIGNED) > 0) {
        moves[MV_REJOIN].hi = n;
        stage++;
      }
      break;
    case 6: /* A killed, and restarted at once as a supervisor would */
      if (n < 750)
        break;
      committed(moves[MV_KILL].lo);
      b_assigned = pv_e2e_count_text(log_b2, ASSIGNED);
      pv_proc_stop(A, SIGKILL, 5000);
      A = 0;
      kill_at = now_ms();
      /* Nothing produced from here on can have reached the dead worker. */
      moves[MV_KILL].hi = n;
      a2 = pv_e2e_spawn_worker(&E, "rb-a2", env, log_a2, sizeof(log_a2));
      A = a2;
      stage++;
      break;
    case 7:
      if (pv_e2e_count_text(log_b2, ASSIGNED) > b_assigned ||
          pv_e2e_count_text(log_a2, ASSIGNED) > 0) {
        takeover_ms = now_ms() - kill_at;
        stage++;
      }
      break;
    default:
      break;
    }
  }
  int64_t produce_ms = now_ms() - t0;
  cr_assert_geq(stage, 7, "the load ended before every move happened "
                "(stage %d); see %s", stage, log_a);

  /* Drain: every job final, every offset committed (auto-commit 1 s). */
  t = now_ms();
  long long finals = 0;
  int64_t committed_total = 0;
  while (now_ms() - t < 60000) {
    finals = sql_count("SELECT count(*) FROM job_status WHERE source_topic = $1"
                       " AND state IN ('succeeded', 'failed', 'dead')");
    committed_total = check_committed_only_finished("while draining");
    checkpoints++;
    if (finals == N_JOBS && committed_total == N_JOBS)
      break;
    sleep_ms(500);
  }
  if (takeover_ms < 0 &&
      (pv_e2e_count_text(log_b2, ASSIGNED) > b_assigned ||
       pv_e2e_count_text(log_a2, ASSIGNED) > 0))
    takeover_ms = now_ms() - kill_at; /* settled after the load: an upper bound */
  int64_t drain_ms = now_ms() - t;
  cr_assert_eq(finals, N_JOBS, "%lld of %d jobs are final after 60 s; see %s, "
               "%s, %s", finals, N_JOBS, log_a, log_b2, log_a2);
  cr_assert_eq(committed_total, N_JOBS,
               "committed offsets cover %lld of %d records",
               (long long)committed_total, N_JOBS);

  /* Stop the survivors cleanly; the committed offsets must then be the
   * record count of each partition exactly. */
  int st = pv_proc_stop(B, SIGTERM, 30000);
  B = 0;
  cr_assert(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
            "worker B2 did not exit cleanly; see %s", log_b2);
  st = pv_proc_stop(A, SIGTERM, 30000);
  A = 0;
  cr_assert(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
            "worker A2 did not exit cleanly; see %s", log_a2);

  /* One row per job, all of them ours, final, each offset once. */
  job_row_t *jobs = calloc(N_JOBS, sizeof(*jobs));
  cr_assert_not_null(jobs);
  for (int i = 0; i < N_JOBS; i++)
    jobs[i].partition = -1;
  const char *params[] = {E.jobs_topic};
  pv_pg_result_t *r = pv_pg_sync_query(
      DB, "SELECT job_id, source_partition, source_offset, runs, state"
          " FROM job_status WHERE source_topic = $1", 1, params);
  cr_assert(pv_pg_result_ok(r), "%s", pv_pg_result_error(r));
  cr_assert_eq(pv_pg_result_ntuples(r), N_JOBS,
               "exactly one job_status row per job (got %d rows)",
               pv_pg_result_ntuples(r));
  int64_t per_part[PARTS] = {0}, max_off[PARTS];
  for (int p = 0; p < PARTS; p++)
    max_off[p] = -1;
  for (int row = 0; row < N_JOBS; row++) {
    int i = job_index(pv_pg_result_get(r, row, 0));
    cr_assert(i >= 0, "unexpected job %s", pv_pg_result_get(r, row, 0));
    cr_assert_eq(jobs[i].partition, -1, "job %d has two rows", i);
    jobs[i].partition = (int)strtol(pv_pg_result_get(r, row, 1), NULL, 10);
    jobs[i].offset = strtoll(pv_pg_result_get(r, row, 2), NULL, 10);
    jobs[i].runs = (int)strtol(pv_pg_result_get(r, row, 3), NULL, 10);
    cr_assert_str_eq(pv_pg_result_get(r, row, 4), "succeeded",
                     "job %d ended %s", i, pv_pg_result_get(r, row, 4));
    cr_assert(jobs[i].partition >= 0 && jobs[i].partition < PARTS);
    per_part[jobs[i].partition]++;
    if (jobs[i].offset > max_off[jobs[i].partition])
      max_off[jobs[i].partition] = jobs[i].offset;
  }
  pv_pg_result_free(r);
  int64_t final_off[PARTS];
  committed(final_off);
  for (int p = 0; p < PARTS; p++) {
    cr_assert_eq(max_off[p] + 1, per_part[p],
                 "partition %d: offsets 0..%lld must each be one job", p,
                 (long long)max_off[p]);
    cr_assert_eq(final_off[p], per_part[p],
                 "partition %d: committed %lld, records %lld", p,
                 (long long)final_off[p], (long long)per_part[p]);
  }

  /* A job ran twice only if the killed worker was running it. */
  int reruns = 0;
  for (int i = 0; i < N_JOBS; i++) {
    if (jobs[i].runs == 1)
      continue;
    cr_assert(jobs[i].runs == 2 && in_move(&moves[MV_KILL], &jobs[i], i),
              "job %d (partition %d offset %lld) ran %d times, and was not "
              "in flight at the kill", i, jobs[i].partition,
              (long long)jobs[i].offset, jobs[i].runs);
    reruns++;
  }

  /* Every job has a reply; duplicates only for jobs in flight at a move. */
  pv_ksync_consumer_t *c = pv_ksync_consumer_new(E.brokers, E.results_topic);
  cr_assert_not_null(c);
  int distinct = 0, total_replies = 0;
  t = now_ms();
  while (now_ms() - t < 60000) {
    /* Once all are in, 3 s of silence ends it: late duplicates included. */
    pv_ksync_msg_t *m = pv_ksync_consume(c, distinct == N_JOBS ? 3000 : 10000);
    if (!m)
      break;
    int i = job_index(m->key);
    cr_assert(i >= 0, "reply with unexpected key %s", m->key ? m->key : "(null)");
    if (jobs[i].replies++ == 0)
      distinct++;
    total_replies++;
    pv_ksync_msg_destroy(m);
  }
  pv_ksync_consumer_destroy(c);
  cr_assert_eq(distinct, N_JOBS, "%d of %d jobs got a reply", distinct, N_JOBS);
  int dups = 0, dups_in[N_MOVES] = {0};
  for (int i = 0; i < N_JOBS; i++) {
    if (jobs[i].replies == 1)
      continue;
    dups++;
    bool ok = false;
    for (int mv = N_MOVES - 1; mv >= 0; mv--) /* the latest move first */
      if (in_move(&moves[mv], &jobs[i], i)) {
        dups_in[mv]++;
        ok = true;
        break;
      }
    cr_assert(ok, "job %d (partition %d offset %lld) got %d replies but was "
              "in flight at no partition move", i, jobs[i].partition,
              (long long)jobs[i].offset, jobs[i].replies);
  }

  /* No stall: within each partition, finished jobs follow each other
   * closely, across every move (a dead member is noticed after the
   * session timeout; the partition must run again soon after). */
  r = pv_pg_sync_query(
      DB, "SELECT source_partition, (extract(epoch FROM max(gap)) * 1000)::bigint"
          " FROM (SELECT source_partition, finished_at - lag(finished_at)"
          " OVER (PARTITION BY source_partition ORDER BY finished_at) AS gap"
          " FROM job_status WHERE source_topic = $1) s"
          " GROUP BY source_partition ORDER BY 1", 1, params);
  cr_assert(pv_pg_result_ok(r), "%s", pv_pg_result_error(r));
  long long worst = 0;
  for (int row = 0; row < pv_pg_result_ntuples(r); row++) {
    long long gap = strtoll(pv_pg_result_get(r, row, 1), NULL, 10);
    if (gap > worst)
      worst = gap;
    cr_assert_lt(gap, SESSION_TIMEOUT_MS + STALL_MARGIN_MS,
                 "partition %s stalled %lld ms (session timeout %d ms)",
                 pv_pg_result_get(r, row, 0), gap, SESSION_TIMEOUT_MS);
  }
  pv_pg_result_free(r);
  cr_assert_gt(checkpoints, 0);

  /* The figures docs/kafka.md quotes. */
  fprintf(stderr,
          "rebalance: %d jobs produced in %lld ms, drained %lld ms later; "
          "%d offset checkpoints; takeover after the kill %lld ms; worst "
          "partition gap %lld ms; %d replies (%d duplicated: join %d, leave "
          "%d, rejoin %d, kill %d); %d jobs re-run after the kill; A revoked "
          "%d of %d partitions when B joined; slowest produce %lld ms, "
          "slowest checkpoint %lld ms\n",
          N_JOBS, (long long)produce_ms, (long long)drain_ms, checkpoints,
          (long long)takeover_ms, worst, total_replies, dups,
          dups_in[MV_JOIN], dups_in[MV_LEAVE], dups_in[MV_REJOIN],
          dups_in[MV_KILL], reruns, a_revoked, PARTS,
          (long long)slowest_produce, (long long)slowest_check);
  free(jobs);
}
