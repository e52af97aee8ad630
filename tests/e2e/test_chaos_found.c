/*
 * Defects the chaos suite (tests/chaos/) found, each reproduced by a
 * script that fails without its fix (docs/reliability.md lists
 * them with the seed that found them).
 */
#include "jobs/job.h"
#include "tests/e2e/test_engine_util.h"
#include "tests/e2e/worker_harness.h"
#include "tests/support/proc.h"
#include "tests/support/simproc.h"
#include "tests/support/testenv.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static pv_e2e_t E;
static pv_sim_t sim;
static pid_t worker_b;

static void teardown(void)
{
  if (worker_b > 0)
    pv_proc_stop(worker_b, SIGTERM, 30000);
  worker_b = 0;
  pv_e2e_teardown(&E);
  pv_sim_stop(&sim);
}

TestSuite(chaos_found, .fini = teardown, .timeout = 150);

#define REFUSED_JOBS 40

/* A job refused at validation (bad args) whose reply_to is a field of the
 * job: the worker freed the decoded job, then wrote the row and published
 * the reply with the freed reply_to (seed 1 of the chaos suite: rows
 * missing with "invalid byte sequence for encoding UTF8", replies sent to
 * a topic named by leftover bytes and retried forever). */
Test(chaos_found, refused_job_keeps_its_reply_to_field)
{
  pv_e2e_setup(&E, 2);
  char replies[128];
  int w = snprintf(replies, sizeof(replies), "e2e-%s.refused-replies",
                   E.suffix);
  cr_assert(w > 0 && (size_t)w < sizeof(replies));
  const char *topics[] = {replies};
  cr_assert_eq(pv_ksync_create_topics(E.brokers, topics, 1, 1), 0);
  pv_e2e_start_worker(&E, "e2e-chaos-found", NULL);
  for (int i = 0; i < REFUSED_JOBS; i++) {
    char id[128];
    snprintf(id, sizeof(id), "cf-%s-%03d", E.suffix, i);
    json_t *j = json_pack("{s:i,s:s,s:s,s:s,s:s,s:s,s:{s:s,s:s}}", "v", 1,
                          "id", id, "tenant", "isp-east", "service", "voltha",
                          "op", "get_device", "reply_to", replies, "args",
                          "device_id", "x", "devce_id", "typo");
    pv_e2e_produce_job(&E, id, j, i % 2 == 0, NULL);
    json_decref(j);
  }
  /* every refused job: its dead row, naming the reply topic it asked for */
  char like[128];
  snprintf(like, sizeof(like), "cf-%s-%%", E.suffix);
  char *n = NULL;
  for (int tries = 0; tries < 100; tries++) {
    free(n);
    n = pv_e2e_sql_value(&E, "SELECT count(*) FROM job_status WHERE job_id "
                             "LIKE $1 AND state = 'dead' AND error_class = "
                             "'bad_args'", like);
    if (n && atoi(n) == REFUSED_JOBS)
      break;
    struct timespec ts = {0, 200 * 1000000L};
    nanosleep(&ts, NULL);
  }
  cr_assert_str_eq(n, "40", "%s of %d refused jobs have their dead row; see "
                   "%s", n, REFUSED_JOBS, E.worker_log);
  free(n);
  char q[256];
  snprintf(q, sizeof(q), "SELECT count(*) FROM job_status WHERE job_id LIKE "
           "$1 AND reply_topic = '%s'", replies);
  n = pv_e2e_sql_value(&E, q, like);
  cr_assert_str_eq(n, "40", "rows naming the reply topic: %s of %d", n,
                   REFUSED_JOBS);
  free(n);

  /* and its dead_lettered reply on that topic */
  char saved[128];
  snprintf(saved, sizeof(saved), "%s", E.results_topic);
  memcpy(E.results_topic, replies, sizeof(replies));
  json_t *got = pv_e2e_collect_replies(&E, REFUSED_JOBS, 30000);
  memcpy(E.results_topic, saved, sizeof(saved));
  cr_assert_eq(json_object_size(got), REFUSED_JOBS,
               "%zu of %d refused jobs got their reply on %s; see %s",
               json_object_size(got), REFUSED_JOBS, replies, E.worker_log);
  const char *id;
  json_t *reply;
  json_object_foreach(got, id, reply)
      cr_assert_str_eq(json_string_value(json_object_get(reply, "status")),
                       "dead_lettered", "%s", id);
  json_decref(got);
}

/* What the simulator logged for path after seq since: how many requests,
 * how many its model handled, and the last one's seq (-1: none). */
typedef struct logged {
  int seen, handled;
  long long last_seq;
} logged_t;

static logged_t logged_for(const char *path, long long since)
{
  char url[512];
  snprintf(url, sizeof(url), "%s/_sim/requests?since=%lld", sim.voltha_url,
           since);
  json_t *list = pv_e2e_http_get_json(url);
  cr_assert(json_is_array(list), "GET %s failed", url);
  logged_t out = {0, 0, -1};
  size_t i;
  json_t *e;
  json_array_foreach(list, i, e)
  {
    if (strcmp(json_string_value(json_object_get(e, "path")), path))
      continue;
    out.seen++;
    if (json_is_true(json_object_get(e, "handled")))
      out.handled++;
    out.last_seq = json_integer_value(json_object_get(e, "seq"));
  }
  json_decref(list);
  return out;
}

/* A worker killed while a non-idempotent request (a VOLTHA reboot) was at
 * the server: the server carried it out after the worker was gone. The
 * next worker takes the job over when its lease ends and must not send it
 * again: it cannot know whether the reboot happened (outcome_unknown, an
 * operator decides). Found by the chaos suite's "done twice" invariant. */
Test(chaos_found, taken_over_job_never_resends_a_non_idempotent_request)
{
  cr_assert_eq(pv_sim_start(&sim, NULL), 0);
  pv_e2e_setup(&E, 1);
  char ini[512];
  snprintf(ini, sizeof(ini), "[tenant.isp-east]\nvoltha_url = %s\n"
           "[worker]\nlease_ms = 2000\n"
           "[kafka]\nsession.timeout.ms = 6000\nheartbeat.interval.ms = 500\n",
           sim.voltha_url);
  pv_e2e_config_append(&E, ini);

  char url[512];
  snprintf(url, sizeof(url), "%s/api/v1/devices", sim.voltha_url);
  json_t *devs = pv_e2e_http_get_json(url);
  cr_assert_not_null(devs);
  const char *olt = NULL;
  size_t i;
  json_t *d;
  json_array_foreach(json_object_get(devs, "items"), i, d)
    if (!olt && json_is_true(json_object_get(d, "root")))
      olt = json_string_value(json_object_get(d, "id"));
  cr_assert_not_null(olt, "the simulator has no OLT");
  char path[128], fault[320];
  snprintf(path, sizeof(path), "/api/v1/devices/%s/reboot", olt);
  /* the reboot waits 3 s at the server, then takes effect */
  snprintf(fault, sizeof(fault), "{\"mode\":\"latency\",\"latency_ms\":3000,"
           "\"path_prefix\":\"%s\",\"method\":\"POST\"}", path);
  cr_assert_eq(pv_sim_set_fault(sim.voltha_url, fault), 200);
  long long since = pv_sim_stat(sim.voltha_url, "last_seq");

  pid_t a = pv_e2e_start_worker(&E, "e2e-cf-a", NULL);
  char id[128];
  snprintf(id, sizeof(id), "cf-%s-reboot", E.suffix);
  json_t *j = json_pack("{s:i,s:s,s:s,s:s,s:s,s:{s:s}}", "v", 1, "id", id,
                        "tenant", "isp-east", "service", "voltha", "op",
                        "reboot_device", "args", "device_id", olt);
  pv_e2e_produce_job(&E, "olt-key", j, false, NULL);
  json_decref(j);
  logged_t got = {0, 0, -1};
  for (int t = 0; t < 150 && !got.seen; t++) {
    pv_test_sleep_ms(100);
    got = logged_for(path, since);
  }
  cr_assert_eq(got.seen, 1, "the reboot never reached the simulator; see %s",
               E.worker_log);
  cr_assert_eq(pv_proc_stop(a, SIGKILL, 5000) & 0x7f, SIGKILL);
  E.worker = 0;
  pv_test_sleep_ms(3500); /* the server carries the reboot out */
  got = logged_for(path, since);
  cr_assert_eq(got.handled, 1, "the reboot took effect after the worker died");
  cr_assert_eq(pv_sim_clear_faults(sim.voltha_url), 200);

  char log_b[512];
  worker_b = pv_e2e_spawn_worker(&E, "e2e-cf-b", NULL, log_b, sizeof(log_b));
  char *state = NULL;
  for (int t = 0; t < 300; t++) {
    free(state);
    state = pv_e2e_sql_value(&E, "SELECT state FROM job_status WHERE "
                                 "job_id = $1", id);
    if (state && (!strcmp(state, "succeeded") || !strcmp(state, "failed") ||
                  !strcmp(state, "dead")))
      break;
    pv_test_sleep_ms(100);
  }
  got = logged_for(path, since);
  cr_assert_eq(got.handled, 1, "the reboot was carried out %d times (job %s "
               "ended %s); see %s", got.handled, id, state ? state : "(none)",
               log_b);
  cr_assert_str_eq(state, "dead", "the job must wait for an operator");
  char *cls = pv_e2e_sql_value(&E, "SELECT error_class FROM job_status "
                                   "WHERE job_id = $1", id);
  cr_assert_str_eq(cls, "outcome_unknown");
  free(cls);
  free(state);
}

static void produce_get(const char *id, const char *key, const char *dev)
{
  json_t *j = json_pack("{s:i,s:s,s:s,s:s,s:s,s:{s:s}}", "v", 1, "id", id,
                        "tenant", "isp-east", "service", "voltha", "op",
                        "get_device", "args", "device_id", dev);
  pv_e2e_produce_job(&E, key, j, false, NULL);
  json_decref(j);
}

/* A parked job that comes due on the worker that then receives the next
 * job of its key: the new job must wait behind it. The claim let a job
 * pass an earlier one of its key that was running on the same worker
 * (there, only in-process ordering was trusted, and a job the due scan
 * runs is in no lane). Found by the chaos suite's per-key order
 * invariant (seed 38637662). */
Test(chaos_found, a_job_waits_behind_its_key_when_it_comes_due_here)
{
  cr_assert_eq(pv_sim_start(&sim, NULL), 0);
  pv_e2e_setup(&E, 1);
  char ini[512];
  snprintf(ini, sizeof(ini), "[tenant.isp-east]\nvoltha_url = %s\n"
           "[worker]\nretry_poll_ms = 200\npark_backoff_base_ms = 200\n"
           "park_backoff_cap_ms = 400\n"
           "[http]\nretry_max_attempts = 1\nbreaker_fail_max = 100\n",
           sim.voltha_url);
  pv_e2e_config_append(&E, ini);
  char a_id[128], b_id[128], a_path[160], fault[512];
  snprintf(a_id, sizeof(a_id), "cf-%s-first", E.suffix);
  snprintf(b_id, sizeof(b_id), "cf-%s-second", E.suffix);
  snprintf(a_path, sizeof(a_path), "/api/v1/devices/cf-first-%s", E.suffix);
  /* the first job: refused twice (503, parked), then answered slowly */
  snprintf(fault, sizeof(fault),
           "[{\"mode\":\"error\",\"status\":503,\"count\":2,"
           "\"path_prefix\":\"%s\"},{\"mode\":\"latency\",\"latency_ms\":2500,"
           "\"path_prefix\":\"%s\"}]", a_path, a_path);
  cr_assert_eq(pv_sim_set_fault(sim.voltha_url, fault), 200);
  long long since = pv_sim_stat(sim.voltha_url, "last_seq");
  pv_e2e_start_worker(&E, "e2e-cf-order", NULL);
  produce_get(a_id, "one-key", a_path + strlen("/api/v1/devices/"));

  /* its third request (the due scan's run) is at the server: now the
   * next job of the key arrives at the same worker */
  char *runs = NULL;
  for (int t = 0; t < 200; t++) {
    free(runs);
    runs = pv_e2e_sql_value(&E, "SELECT runs FROM job_status WHERE job_id = "
                                "$1 AND state = 'running'", a_id);
    if (runs && atoi(runs) >= 3)
      break;
    pv_test_sleep_ms(50);
  }
  cr_assert(runs && atoi(runs) >= 3, "the first job never came due a third "
            "time; see %s", E.worker_log);
  free(runs);
  produce_get(b_id, "one-key", "cf-second");
  long long a_last = -1;
  char *state = NULL;
  for (int t = 0; t < 200; t++) {
    free(state);
    state = pv_e2e_sql_value(&E, "SELECT count(*) FROM job_status WHERE "
                                 "job_id LIKE 'cf-' || $1 || '-%' AND state "
                                 "IN ('succeeded', 'failed')", E.suffix);
    if (state && atoi(state) == 2)
      break;
    pv_test_sleep_ms(100);
  }
  cr_assert_str_eq(state, "2", "both jobs finish; see %s", E.worker_log);
  free(state);
  a_last = logged_for(a_path, since).last_seq;
  long long b_first = logged_for("/api/v1/devices/cf-second", since).last_seq;
  cr_assert_gt(b_first, a_last, "the second job of the key reached VOLTHA "
               "(seq %lld) before the first one's last request (seq %lld)",
               b_first, a_last);
  char *order = pv_e2e_sql_value(
      &E, "SELECT (SELECT finished_at FROM job_status WHERE job_id = 'cf-' "
          "|| $1 || '-second') >= (SELECT finished_at FROM job_status WHERE "
          "job_id = 'cf-' || $1 || '-first')", E.suffix);
  cr_assert_str_eq(order, "t", "the second job finished before the first");
  free(order);
}

/* A run cut off from PostgreSQL longer than its lease, whose job another
 * worker took over meanwhile (the chaos suite, seed 275138225: worker 2
 * lost its PostgreSQL session mid-call, worker 0's due scan took the job
 * over and ended it dead/outcome_unknown, then worker 2's reboot answered
 * and it published "succeeded": one job, two contradictory replies). The
 * first run's outcome must not be written and it must publish nothing;
 * the taking-over run's outcome stands. The takeover is done here by hand
 * (what the due scan writes), while the first run's call is at the
 * simulator. */
Test(chaos_found, a_run_whose_job_was_taken_over_publishes_nothing)
{
  cr_assert_eq(pv_sim_start(&sim, NULL), 0);
  pv_e2e_setup(&E, 1);
  char ini[512];
  snprintf(ini, sizeof(ini), "[tenant.isp-east]\nvoltha_url = %s\n",
           sim.voltha_url);
  pv_e2e_config_append(&E, ini);
  char taken[128], control[128], path[160], fault[320];
  snprintf(taken, sizeof(taken), "cf-%s-taken", E.suffix);
  snprintf(control, sizeof(control), "cf-%s-control", E.suffix);
  snprintf(path, sizeof(path), "/api/v1/devices/cf-slow-%s", E.suffix);
  snprintf(fault, sizeof(fault), "{\"mode\":\"latency\",\"latency_ms\":3000,"
           "\"path_prefix\":\"%s\"}", path);
  cr_assert_eq(pv_sim_set_fault(sim.voltha_url, fault), 200);
  long long since = pv_sim_stat(sim.voltha_url, "last_seq");
  pv_e2e_start_worker(&E, "e2e-cf-fenced", NULL);

  char dev[128];
  snprintf(dev, sizeof(dev), "cf-slow-%s", E.suffix);
  produce_get(taken, "k-taken", dev);
  logged_t got = {0, 0, -1};
  for (int t = 0; t < 150 && !got.seen; t++) {
    pv_test_sleep_ms(100);
    got = logged_for(path, since);
  }
  cr_assert_eq(got.seen, 1, "the call never reached the simulator; see %s",
               E.worker_log);
  /* another worker's due scan takes the job over (lease expired) */
  char *upd = pv_e2e_sql_value(
      &E, "UPDATE job_status SET worker_id = 'e2e-cf-other', runs = runs + 1,"
          " lease_until = now() + interval '10 minutes', updated_at = now()"
          " WHERE job_id = $1 AND state = 'running' RETURNING 'taken'", taken);
  cr_assert_str_eq(upd ? upd : "(none)", "taken");
  free(upd);

  /* the control job's reply shows the worker answers; by then the first
   * run's call (3 s) has long returned */
  pv_test_sleep_ms(4000);
  produce_get(control, "k-control", "no-such-device");
  json_t *replies = pv_e2e_collect_replies(&E, 2, 8000);
  cr_assert_not_null(json_object_get(replies, control),
                     "the control job was not answered; see %s", E.worker_log);
  cr_assert_null(json_object_get(replies, taken),
                 "the run whose job was taken over published a reply; see %s",
                 E.worker_log);
  json_decref(replies);
  char *row = pv_e2e_sql_value(&E, "SELECT state || ' ' || worker_id FROM "
                                   "job_status WHERE job_id = $1", taken);
  cr_assert_str_eq(row, "running e2e-cf-other",
                   "the first run's outcome was written over the takeover");
  free(row);
  cr_assert_eq(pv_te_count_text(E.worker_log, "\"event\":\"job.lease_lost\""),
               1, "see %s", E.worker_log);
}
