/*
 * Shutdown while PostgreSQL is gone: SIGTERM with jobs running and the
 * database stopped, so their outcomes cannot be written (writes wait in
 * the pg layer and on the store's retry timers), ended by the drain
 * timeout or by a second SIGTERM. The worker must exit 0 with no crash and,
 * in a SANITIZE=1 build (ASan + UBSan), no sanitizer report: late
 * callbacks of the pg layer must find the store and the engine alive.
 */
#include "tests/e2e/test_engine_util.h"
#include "tests/e2e/worker_harness.h"
#include "tests/support/proc.h"
#include "tests/support/testenv.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

static pv_e2e_t E;
static bool faulted;
static bool pg_stopped;

static void pg_ctl(const char *what)
{
  char cmd[1024];
  snprintf(cmd, sizeof(cmd),
           "runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl %s "
           "-D '%s/pg' -m fast -w -t 60 >/dev/null 2>&1", what,
           pv_test_require_env("PV_STACK_DIR"));
  int rc = system(cmd);
  cr_assert(rc == 0, "pg_ctl %s failed (%d): %s", what, rc, cmd);
}

static void teardown(void)
{
  if (pg_stopped)
    pg_ctl("restart"); /* restart starts it with its saved options */
  pg_stopped = false;
  if (faulted)
    pv_te_sim_faults(pv_test_require_env("SIM_VOLTHA_URL"), NULL);
  faulted = false;
  pv_e2e_teardown(&E);
}

TestSuite(shutdown, .fini = teardown, .timeout = 150);

#define JOBS 8

/* A worker with JOBS get_device jobs running (each answered after
 * latency_ms), then PostgreSQL stopped under it. */
static void running_jobs_then_postgres_down(const char *worker_id,
                                            const char *drain_ms,
                                            int latency_ms)
{
  pv_e2e_setup(&E, 2);
  char prefix[96], dev_prefix[96], body[512], drain_env[64];
  snprintf(prefix, sizeof(prefix), "S%s-", E.suffix);
  snprintf(dev_prefix, sizeof(dev_prefix), "SD%s-", E.suffix);
  snprintf(body, sizeof(body),
           "{\"mode\":\"latency\",\"latency_ms\":%d,\"path_prefix\":"
           "\"/api/v1/devices/%s\"}", latency_ms, dev_prefix);
  pv_te_sim_faults(pv_test_require_env("SIM_VOLTHA_URL"), body);
  faulted = true;
  snprintf(drain_env, sizeof(drain_env),
           "PROVISIOND_WORKER_DRAIN_TIMEOUT_MS=%s", drain_ms);
  const char *env[] = {drain_env, NULL};
  pv_e2e_start_worker(&E, worker_id, env);
  for (int i = 0; i < JOBS; i++) {
    char id[128], key[128], dev[128];
    snprintf(id, sizeof(id), "%s%d", prefix, i);
    /* keys of their own: jobs left running by an earlier test (their
     * outcomes could not be written) would hold a shared key */
    snprintf(key, sizeof(key), "%sk%d", prefix, i);
    snprintf(dev, sizeof(dev), "%s%d", dev_prefix, i);
    json_t *j = json_pack("{s:i,s:s,s:s,s:s,s:s,s:{s:s}}", "v", 1, "id", id,
                          "tenant", "isp-east", "service", "voltha", "op",
                          "get_device", "args", "device_id", dev);
    pv_e2e_produce_job(&E, key, j, false, NULL);
    json_decref(j);
  }
  long long running = 0;
  for (int i = 0; i < 300 && running < JOBS; i++) {
    running = pv_te_sql_ll(&E, "SELECT count(*) FROM job_status WHERE "
                               "job_id LIKE $1 || '%' AND state = 'running'",
                           prefix);
    if (running < JOBS)
      pv_te_sleep_ms(50);
  }
  cr_assert_eq(running, JOBS, "the jobs must be running when PostgreSQL "
               "stops; see %s", E.worker_log);
  pg_ctl("stop");
  pg_stopped = true;
}

static void assert_clean_exit(int st)
{
  cr_assert(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
            "the worker must exit 0 (status %d%s); see %s", st,
            st >= 0 && WIFSIGNALED(st) ? ", killed by a signal" : "",
            E.worker_log);
  cr_assert_eq(pv_te_count_text(E.worker_log, "AddressSanitizer"), 0,
               "sanitizer report in %s", E.worker_log);
  cr_assert_eq(pv_te_count_text(E.worker_log, "runtime error:"), 0,
               "UBSan report in %s", E.worker_log);
  cr_assert_eq(pv_te_count_text(E.worker_log, "\"event\":\"worker.stopped\""),
               1, "the worker logged its stop; see %s", E.worker_log);
}

Test(shutdown, postgres_down_mid_drain_ends_at_the_drain_timeout_cleanly)
{
  running_jobs_then_postgres_down("e2e-shutdown-timeout", "4000", 1500);
  /* The answers arrive after 1.5 s; their outcomes cannot be written, so
   * the drain runs out at 4 s with writes pending in the pg layer and on
   * the store's retry timers. */
  int st = pv_proc_stop(E.worker, SIGTERM, 30000);
  cr_assert_neq(st, -1, "the worker did not stop within 30 s of SIGTERM "
                "(a write retried forever?); see %s", E.worker_log);
  E.worker = 0;
  assert_clean_exit(st);
  cr_assert_eq(pv_te_count_text(E.worker_log, "\"complete\":false"), 1,
               "the drain ran out; see %s", E.worker_log);
}

Test(shutdown, postgres_down_then_a_second_sigterm_stops_at_once_cleanly)
{
  running_jobs_then_postgres_down("e2e-shutdown-twice", "60000", 1000);
  kill(E.worker, SIGTERM);
  /* Let the answers arrive and their writes start waiting. */
  pv_te_sleep_ms(2500);
  int st = pv_proc_stop(E.worker, SIGTERM, 20000);
  E.worker = 0;
  assert_clean_exit(st);
  cr_assert_eq(pv_te_count_text(E.worker_log,
                                 "\"event\":\"worker.second_signal\""), 1,
               "the second signal ended the drain; see %s", E.worker_log);
}
