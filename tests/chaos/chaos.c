/*
 * The chaos suite and the soak (docs/reliability.md).
 *
 * A seeded workload of mixed jobs (three tenants, shared keys, the three
 * services, msgpack and JSON, idempotent and non-idempotent ops, bad
 * input) runs through a fleet of workers in one group while the driver
 * injects seeded faults: kill -9 and SIGTERM of workers (restarted),
 * PostgreSQL stop/start and pg_terminate_backend of the workers'
 * sessions, Apache Kafka stop/start, and the simulator's reset,
 * reset_after, hang, 5xx, 429 and latency. When the faults stop, every
 * job must become final within a bound, and then the invariants are
 * checked (chaos_check.c).
 *
 * Environment (all optional):
 *   PV_CHAOS_SEED      the seed (default: drawn; printed either way)
 *   PV_CHAOS_MODE      chaos (default) or soak
 *   PV_CHAOS_SECONDS   seconds of load (chaos 140, soak 1800)
 *   PV_CHAOS_RATE      jobs per second (chaos 20, soak 8)
 *   PV_CHAOS_WORKERS   workers, 1..4 (default 3)
 *   PV_CHAOS_POISON    0: leave the poison records out of the workload
 *   PV_CHAOS_SAMPLE_S  soak: seconds between two figure lines (60)
 */
#include "tests/chaos/chaos.h"

#include "common/alloc.h"
#include "db/pg.h"
#include "tests/support/proc.h"
#include "tests/support/testenv.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define WARMUP_MS 10000        /* load without faults: the baselines */
#define QUIET_END_MS 10000     /* faults stop this long before the load */
#define DRAIN_BOUND_MS 120000  /* all final this soon after the faults */
#define SIM_POLL_MS 2000
#define SIM_SETTLE_MS 10000    /* a request's `handled` is settled by then */
#define PARTITIONS 6
#define KEYS 40
#define ASSIGNED "\"event\":\"kafka.partition_assigned\""

static ch_run_t R;

static long long mono_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t ch_now(const ch_run_t *r)
{
  return mono_ms() - r->t0;
}

uint64_t ch_rand(ch_run_t *r)
{
  /* splitmix64: one stream from the seed for the workload and faults */
  uint64_t z = (r->rng += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

int ch_rand_range(ch_run_t *r, int lo, int hi)
{
  if (hi <= lo)
    return lo;
  return lo + (int)(ch_rand(r) % (uint64_t)(hi - lo + 1));
}

void ch_violation(ch_run_t *r, const char *fmt, ...)
{
  char line[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof(line), fmt, ap);
  va_end(ap);
  r->violations++;
  fprintf(stderr, "chaos: VIOLATION %s\n", line);
  if (r->violations <= 20 && r->failures_len + strlen(line) + 2 <
                                 sizeof(r->failures)) {
    r->failures_len += (size_t)snprintf(r->failures + r->failures_len,
                                        sizeof(r->failures) - r->failures_len,
                                        "  %s\n", line);
  }
}

static long env_long(const char *name, long dflt, long lo, long hi)
{
  const char *v = getenv(name);
  if (!v || !*v)
    return dflt;
  char *end = NULL;
  long x = strtol(v, &end, 10);
  cr_assert(end && !*end && x >= lo && x <= hi,
            "%s=\"%s\" must be an integer in [%ld, %ld]", name, v, lo, hi);
  return x;
}

static void teardown(void)
{
  for (int i = 0; i < CH_MAX_WORKERS; i++)
    if (R.workers[i].pid > 0)
      pv_proc_stop(R.workers[i].pid, SIGKILL, 5000);
  /* a fault left on: make the stack whole for whoever runs next */
  if (R.pg_down)
    ch_stack(&R, "start", "postgres");
  if (R.broker_down)
    ch_stack(&R, "start", "kafka");
  pv_e2e_teardown(&R.e);
  pv_sim_stop(&R.sim);
  json_decref(R.olts);
  json_decref(R.onus);
  json_decref(R.logical);
  json_decref(R.cpes);
  pv_map_destroy(R.mutations);
  free(R.jobs);
}

TestSuite(chaos, .fini = teardown);

/* ---- set-up ---------------------------------------------------------- */

static void read_options(ch_run_t *r)
{
  const char *mode = getenv("PV_CHAOS_MODE");
  r->soak = mode && !strcmp(mode, "soak");
  cr_assert(!mode || !*mode || r->soak || !strcmp(mode, "chaos"),
            "PV_CHAOS_MODE must be chaos or soak (got \"%s\")", mode);
  const char *seed = getenv("PV_CHAOS_SEED");
  if (seed && *seed) {
    char *end = NULL;
    r->seed = strtoull(seed, &end, 10);
    cr_assert(end && !*end, "PV_CHAOS_SEED=\"%s\" is not a number", seed);
  } else {
    r->seed = ((uint64_t)time(NULL) << 16) ^ (uint64_t)getpid();
    r->seed %= 1000000000ULL;
  }
  r->rng = r->seed;
  r->seconds = (int)env_long("PV_CHAOS_SECONDS", r->soak ? 1800 : 140, 30,
                             7 * 24 * 3600);
  r->rate = (int)env_long("PV_CHAOS_RATE", r->soak ? 8 : 20, 1, 500);
  r->nworkers = (int)env_long("PV_CHAOS_WORKERS", 3, 1, CH_MAX_WORKERS);
  r->poison = env_long("PV_CHAOS_POISON", 1, 0, 1) == 1;
  const char *kafka = getenv("KAFKA");
  r->apache = kafka && !strcmp(kafka, "apache");
  r->keys = KEYS;
  snprintf(r->tag, sizeof(r->tag), "%016llx",
           (unsigned long long)(ch_rand(r) | 1));
  fprintf(stderr, "chaos: seed %llu (reproduce: make %s SEED=%llu "
          "DURATION=%d KAFKA=%s%s)\n", (unsigned long long)r->seed,
          r->soak ? "soak" : "chaos", (unsigned long long)r->seed, r->seconds,
          r->apache ? "apache" : "mock", r->poison ? " POISON=1" : "");
  if (!r->apache)
    fprintf(stderr, "chaos: KAFKA=%s: no broker stop/start (kafka-mock "
            "keeps its data in memory)\n", kafka ? kafka : "mock");
}

/* The stack's config plus the run's: short timings so a 3-minute run sees
 * faults recover, the tenants on the private simulator, a third tenant. */
static void write_config(ch_run_t *r)
{
  snprintf(r->token_file, sizeof(r->token_file), "%s/secrets/isp-east.netbox-token",
           pv_test_require_env("PV_STACK_DIR"));
  char ini[4096];
  int n = snprintf(
      ini, sizeof(ini),
      "[worker]\nlease_ms = 3000\ndrain_timeout_ms = 5000\n"
      "retry_poll_ms = 500\npark_backoff_base_ms = 500\n"
      "park_backoff_cap_ms = 4000\njob_max_attempts = 8\n"
      "[http]\nbreaker_reset_timeout_ms = 3000\nbackoff_base_ms = 200\n"
      "backoff_cap_ms = 2000\nmax_idle = %d\n"
      "[kafka]\nsession.timeout.ms = 6000\nheartbeat.interval.ms = 1000\n",
      CH_MAX_IDLE);
  for (int t = 0; t < CH_TENANTS; t++) {
    n += snprintf(ini + n, sizeof(ini) - (size_t)n,
                  "[tenant.%s]\nvoltha_url = %s\ngenieacs_url = %s\n"
                  "netbox_url = %s\n", ch_tenant_names[t], r->sim.voltha_url,
                  r->sim.genieacs_url, r->sim.netbox_url);
    if (t == 2) /* the stack's config has no isp-north: give it a token */
      n += snprintf(ini + n, sizeof(ini) - (size_t)n,
                    "netbox_token_file = %s\n", r->token_file);
  }
  cr_assert(n > 0 && (size_t)n < sizeof(ini));
  pv_e2e_config_append(&r->e, ini);
}

static void start_sim(ch_run_t *r)
{
  const char *east = pv_test_require_env("SIM_NETBOX_TOKEN");
  const char *west = pv_test_require_env("SIM_NETBOX_TOKEN_WEST");
  /* Poison: a VOLTHA large enough that list_devices answers over 1 MB. */
  const char *args[] = {"--latency-ms", "100", "--activate-delay-ms", "200",
                        "--netbox-token", east, "--netbox-token", west,
                        r->poison ? "--olts" : NULL, "40", "--onus-per-olt",
                        "64", NULL};
  cr_assert_eq(pv_sim_start(&r->sim, args), 0, "cannot start the simulator");
  fprintf(stderr, "chaos: simulator pid %d (VOLTHA %s)\n", (int)r->sim.pid,
          r->sim.voltha_url);
}

static void setup(ch_run_t *r)
{
  read_options(r);
  start_sim(r);
  pv_e2e_setup(&r->e, PARTITIONS);
  snprintf(r->alt_topic, sizeof(r->alt_topic), "e2e-%s.replies-b",
           r->e.suffix);
  snprintf(r->poison_topic, sizeof(r->poison_topic), "e2e-%s.no-such-topic",
           r->e.suffix);
  const char *topics[] = {r->alt_topic};
  cr_assert_eq(pv_ksync_create_topics(r->e.brokers, topics, 1, 2), 0);
  write_config(r);
  ch_work_discover(r);
  for (int i = 0; i < r->nworkers; i++)
    ch_worker_start(r, i);
  /* The load starts once every worker has partitions: a rebalance at the
   * start would count as the first fault's duplicates. */
  for (int i = 0; i < r->nworkers; i++) {
    long long t = mono_ms();
    while (pv_e2e_count_text(r->workers[i].log, ASSIGNED) == 0 &&
           mono_ms() - t < 60000)
      pv_test_sleep_ms(100);
    cr_assert_gt(pv_e2e_count_text(r->workers[i].log, ASSIGNED), 0,
                 "worker %d got no partition within 60 s; see %s", i,
                 r->workers[i].log);
  }
}

/* ---- the soak's figures ---------------------------------------------- */

typedef struct sample {
  double t_s;
  long rss_kb, fds;          /**< worker 0 */
  long long table_b, index_b, rows;
  double p99_ms;
} sample_t;

static bool sample_db(ch_run_t *r, sample_t *s, int window_s)
{
  if (r->pg_down)
    return false;
  char err[256], prefix[96], win[16];
  pv_pg_sync_t *db = pv_pg_sync_connect(r->e.pg, err, sizeof(err));
  if (!db)
    return false;
  snprintf(prefix, sizeof(prefix), "ch-%s-", r->e.suffix);
  snprintf(win, sizeof(win), "%d", window_s);
  const char *params[] = {prefix, win};
  pv_pg_result_t *res = pv_pg_sync_query(
      db, "SELECT pg_table_size('job_status'), pg_indexes_size('job_status'),"
          " (SELECT count(*) FROM job_status),"
          " (SELECT coalesce(percentile_cont(0.99) WITHIN GROUP (ORDER BY"
          "   extract(epoch FROM finished_at - received_at) * 1000), -1)"
          "  FROM job_status WHERE job_id LIKE $1 || '%'"
          "   AND finished_at > now() - $2::int * interval '1 second')",
      2, params);
  bool ok = pv_pg_result_ok(res) && pv_pg_result_ntuples(res) == 1;
  if (ok) {
    s->table_b = strtoll(pv_pg_result_get(res, 0, 0), NULL, 10);
    s->index_b = strtoll(pv_pg_result_get(res, 0, 1), NULL, 10);
    s->rows = strtoll(pv_pg_result_get(res, 0, 2), NULL, 10);
    s->p99_ms = strtod(pv_pg_result_get(res, 0, 3), NULL);
  }
  pv_pg_result_free(res);
  pv_pg_sync_close(db);
  return ok;
}

static double median(double *v, int n)
{
  for (int i = 1; i < n; i++) /* insertion sort: a few hundred at most */
    for (int k = i; k > 0 && v[k - 1] > v[k]; k--) {
      double t = v[k];
      v[k] = v[k - 1];
      v[k - 1] = t;
    }
  return n ? v[n / 2] : 0;
}

/* The growth rule (docs/reliability.md): after the first 10 % of the
 * samples, the median of the second half of them against the median of
 * the first half. */
static void check_growth(ch_run_t *r, const sample_t *s, int n)
{
  int from = n / 10, half = (n - from) / 2;
  if (half < 2) {
    fprintf(stderr, "chaos: soak too short for the growth rule (%d "
            "samples)\n", n);
    return;
  }
  double a[4][512], b[4][512];
  int na = 0, nb = 0;
  for (int i = from; i < n && nb < 512; i++) {
    double bytes_per_row = s[i].rows > 0 ? (double)(s[i].table_b + s[i].index_b)
                                               / (double)s[i].rows : 0;
    double v[4] = {(double)s[i].rss_kb, (double)s[i].fds, bytes_per_row,
                   s[i].p99_ms};
    for (int k = 0; k < 4; k++) {
      if (i < from + half)
        a[k][na] = v[k];
      else
        b[k][nb] = v[k];
    }
    if (i < from + half)
      na++;
    else
      nb++;
  }
  double rss1 = median(a[0], na), rss2 = median(b[0], nb);
  double fd1 = median(a[1], na), fd2 = median(b[1], nb);
  double row1 = median(a[2], na), row2 = median(b[2], nb);
  double p1 = median(a[3], na), p2 = median(b[3], nb);
  fprintf(stderr, "chaos: soak growth (median first half -> second half): "
          "RSS %.0f -> %.0f KiB, fds %.0f -> %.0f, bytes/row %.0f -> %.0f, "
          "p99 %.0f -> %.0f ms\n", rss1, rss2, fd1, fd2, row1, row2, p1, p2);
  if (rss2 > rss1 * 1.10 + 4096)
    ch_violation(r, "soak growth: worker 0's RSS median %.0f -> %.0f KiB "
                 "(allowed +10%% +4 MiB)", rss1, rss2);
  if (fd2 > fd1 + 4)
    ch_violation(r, "soak growth: worker 0's descriptors median %.0f -> "
                 "%.0f (allowed +4)", fd1, fd2);
  if (row2 > row1 * 1.5 + 256)
    ch_violation(r, "soak growth: job_status bytes per row %.0f -> %.0f "
                 "(allowed x1.5 +256)", row1, row2);
  if (p2 > p1 * 2 + 500)
    ch_violation(r, "soak growth: p99 median %.0f -> %.0f ms (allowed x2 "
                 "+500 ms)", p1, p2);
}

/* ---- the run --------------------------------------------------------- */

static void take_baselines(ch_run_t *r, bool end)
{
  for (int i = 0; i < r->nworkers; i++) {
    ch_worker_t *w = &r->workers[i];
    long rss = w->pid > 0 ? ch_proc_rss_kb(w->pid) : -1;
    long fds = w->pid > 0 ? ch_proc_fds(w->pid) : -1;
    if (end) {
      w->end_rss_kb = rss;
      w->end_fds = fds;
    } else {
      w->base_rss_kb = rss;
      w->base_fds = fds;
      w->restarted = false;
    }
  }
}

Test(chaos, invariants_hold_under_seeded_faults)
{
  ch_run_t *r = &R;
  setup(r);
  int sample_s = (int)env_long("PV_CHAOS_SAMPLE_S", r->soak ? 60 : 15, 5,
                               3600);
  int total = r->seconds * r->rate;
  int64_t load_ms = (int64_t)r->seconds * 1000;
  int mean_gap = r->soak ? 40000 : 5000;
  r->t0 = mono_ms();
  ch_fault_plan(r, WARMUP_MS, load_ms - QUIET_END_MS, mean_gap);
  fprintf(stderr, "chaos: %d jobs at %d/s over %d s, %d workers, %d fault "
          "events planned\n", total, r->rate, r->seconds, r->nworkers,
          r->nevents);

  int max_samples = r->seconds / sample_s + 2;
  sample_t *samples = pv_calloc((size_t)max_samples, sizeof(*samples));
  int nsamples = 0;
  bool based = false;
  int64_t next_poll = SIM_POLL_MS, next_sample = sample_s * 1000LL;
  int produced = 0;
  while (produced < total) {
    int64_t now = ch_now(r);
    if (!based && now >= WARMUP_MS) {
      /* before the first fault, which may stop a worker */
      take_baselines(r, false);
      based = true;
    }
    ch_fault_tick(r);
    /* produce what is due (the BSS holds its jobs while Kafka is away) */
    while (!r->broker_down && produced < total &&
           (int64_t)produced * 1000 / r->rate <= ch_now(r)) {
      ch_work_plan(r, produced);
      if (ch_work_produce(r, produced) != 0)
        ch_violation(r, "infrastructure: job %d could not be produced",
                     produced);
      produced++;
    }
    if (now >= next_poll) {
      ch_check_poll_sim(r, SIM_SETTLE_MS);
      next_poll = now + SIM_POLL_MS;
    }
    if (now >= next_sample && nsamples < max_samples) {
      sample_t *s = &samples[nsamples];
      s->t_s = (double)now / 1000.0;
      s->rss_kb = ch_proc_rss_kb(r->workers[0].pid);
      s->fds = ch_proc_fds(r->workers[0].pid);
      if (sample_db(r, s, sample_s)) {
        fprintf(stderr, "chaos: t=%6.0f s  worker0 RSS %6ld KiB fds %4ld  "
                "job_status %lld rows, table %lld KiB, indexes %lld KiB  "
                "p99 %.0f ms\n", s->t_s, s->rss_kb, s->fds, s->rows,
                s->table_b / 1024, s->index_b / 1024, s->p99_ms);
        nsamples++;
      }
      next_sample = now + sample_s * 1000LL;
    }
    pv_test_sleep_ms(20);
  }
  ch_fault_settle(r);

  /* Nothing blocked: every job final within the bound. */
  long long t = mono_ms(), fin = -1;
  while (mono_ms() - t < DRAIN_BOUND_MS) {
    fin = ch_check_final(r);
    if (fin == total)
      break;
    pv_test_sleep_ms(500);
    if (mono_ms() - t > 5000)
      ch_check_poll_sim(r, SIM_SETTLE_MS);
  }
  long long drain_ms = mono_ms() - t;
  if (fin != total)
    ch_violation(r, "no key blocked: %lld of %d jobs final %d s after the "
                 "faults stopped", fin, total, DRAIN_BOUND_MS / 1000);
  pv_test_sleep_ms(3000); /* idle: connections settle, late duplicates */
  take_baselines(r, true);
  for (int i = 0; i < r->nworkers; i++) {
    ch_worker_t *w = &r->workers[i];
    int st = pv_proc_stop(w->pid, SIGTERM, 30000);
    if (!(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0))
      ch_violation(r, "worker %d did not exit 0 on the final SIGTERM "
                   "(status 0x%x); see %s", i, st, w->log);
    w->pid = 0;
  }
  ch_check_all(r, drain_ms);
  if (r->soak)
    check_growth(r, samples, nsamples);
  free(samples);
  cr_assert_eq(r->violations, 0,
               "seed %llu: %d invariant(s) broken (reproduce: make %s "
               "SEED=%llu DURATION=%d KAFKA=%s%s):\n%s",
               (unsigned long long)r->seed, r->violations,
               r->soak ? "soak" : "chaos", (unsigned long long)r->seed,
               r->seconds, r->apache ? "apache" : "mock",
               r->poison ? " POISON=1" : "", r->failures);
}
