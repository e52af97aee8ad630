/*
 * Durable retries and fleet-wide breakers, end to end (issue 7): a
 * southbound system that is down or rate-limiting one tenant parks that
 * tenant's jobs (never dead-letters them en masse), never blocks the other
 * tenant, is not hammered by the fleet, and every parked job completes
 * once the system is back; parked jobs survive a worker's death, die at
 * their deadline, and keep their key's order.
 *
 * Each test gives each tenant its own private simulator, so a fault hits
 * one tenant only.
 */
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
#include <unistd.h>

static pv_e2e_t E;
static pv_sim_t east, west;
static pid_t extra_worker;

static void teardown(void)
{
  if (extra_worker > 0)
    pv_proc_stop(extra_worker, SIGKILL, 5000);
  extra_worker = 0;
  pv_e2e_teardown(&E);
  pv_sim_stop(&east);
  pv_sim_stop(&west);
}

TestSuite(retries, .fini = teardown, .timeout = 150);

static void sleep_ms(int ms)
{
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static int64_t now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Private simulators per tenant and fast retry settings for the test. */
static void setup_fleet(const char *extra_ini)
{
  static const char *const small[] = {"--olts", "1", "--onus-per-olt", "2",
                                      "--cpes", "2", "--prefixes", "1", NULL};
  cr_assert_eq(pv_sim_start(&east, small), 0);
  cr_assert_eq(pv_sim_start(&west, small), 0);
  pv_e2e_setup(&E, 4);
  char ini[2048];
  snprintf(ini, sizeof(ini),
           "[tenant.isp-east]\nvoltha_url = %s\n"
           "[tenant.isp-west]\nvoltha_url = %s\n"
           "[http]\nbackoff_base_ms = 20\nbackoff_cap_ms = 100\n"
           "breaker_reset_timeout_ms = 3000\nretry_after_max_ms = 500\n"
           "[worker]\npark_backoff_base_ms = 300\npark_backoff_cap_ms = 1000\n"
           "retry_poll_ms = 200\nlease_ms = 3000\n%s",
           east.voltha_url, west.voltha_url, extra_ini ? extra_ini : "");
  pv_e2e_config_append(&E, ini);
}

static json_t *job(const char *id, const char *tenant, const char *op,
                   const char *device)
{
  json_t *j = json_pack("{s:i,s:s,s:s,s:s,s:s}", "v", 1, "id", id, "tenant",
                        tenant, "service", "voltha", "op", op);
  if (device)
    json_object_set_new(j, "args", json_pack("{s:s}", "device_id", device));
  return j;
}

static void produce(const char *key, json_t *j)
{
  pv_e2e_produce_job(&E, key, j, false, NULL);
  json_decref(j);
}

static long long count_rows(const char *where, const char *param)
{
  char sql[512];
  snprintf(sql, sizeof(sql), "SELECT count(*) FROM job_status WHERE %s", where);
  char *v = pv_e2e_sql_value(&E, sql, param);
  long long n = v ? strtoll(v, NULL, 10) : -1;
  free(v);
  return n;
}

/* Waits until the query's count reaches want; @returns the last count. */
static long long wait_rows(const char *where, const char *param,
                           long long want, int timeout_ms)
{
  long long n = -1;
  for (int waited = 0; waited <= timeout_ms; waited += 250) {
    n = count_rows(where, param);
    if (n >= want)
      break;
    sleep_ms(250);
  }
  return n;
}

Test(retries, down_service_parks_one_tenant_breaker_shared_all_complete)
{
  setup_fleet(NULL);
  pv_e2e_start_worker(&E, "w-a", NULL);
  char log_b[512];
  extra_worker = pv_e2e_spawn_worker(&E, "w-b", NULL, log_b, sizeof(log_b));
  cr_assert(pv_proc_wait_for_text(log_b, "\"event\":\"worker.started\"", 30000));

  cr_assert_eq(pv_sim_set_fault(east.voltha_url,
                                "{\"mode\":\"error\",\"status\":503}"), 200);
  char prefix[96];
  snprintf(prefix, sizeof(prefix), "down-%s-%%", E.suffix);
  char id[128];
  for (int i = 0; i < 30; i++) {
    snprintf(id, sizeof(id), "down-%s-east-%d", E.suffix, i);
    produce(id, job(id, "isp-east", "health_check", NULL));
    snprintf(id, sizeof(id), "down-%s-west-%d", E.suffix, i);
    produce(id, job(id, "isp-west", "health_check", NULL));
  }
  /* the other tenant keeps flowing */
  cr_assert_eq(wait_rows("job_id LIKE $1 AND tenant = 'isp-west' AND state = "
                         "'succeeded'", prefix, 30, 30000), 30,
               "isp-west jobs must complete while isp-east's VOLTHA is down");
  /* the breaker opened, is in PostgreSQL, and the peer applied it */
  cr_assert_geq(wait_rows("TRUE AND EXISTS (SELECT 1 FROM breaker_state WHERE "
                          "service = 'voltha' AND tenant = 'isp-east' AND "
                          "state = 'open' AND endpoint = $1)", east.voltha_url,
                          1, 20000), 1, "breaker_state must show voltha/isp-east open");
  cr_assert(pv_proc_wait_for_text(E.worker_log, "circuit_breaker.state_change", 10000) &&
            pv_proc_wait_for_text(log_b, "circuit_breaker.state_change", 10000),
            "both workers' breakers must change (one by itself, one from the "
            "fleet); logs %s %s", E.worker_log, log_b);
  /* parked, not dead */
  cr_assert_eq(count_rows("job_id LIKE $1 AND state = 'dead'", prefix), 0);
  cr_assert_gt(wait_rows("job_id LIKE $1 AND tenant = 'isp-east' AND state = "
                         "'retry_wait'", prefix, 1, 10000), 0);
  /* the fleet sends at most about one probe per reset interval (3 s) */
  long long r0 = pv_sim_stat(east.voltha_url, "requests");
  sleep_ms(6500);
  long long r1 = pv_sim_stat(east.voltha_url, "requests");
  cr_assert_leq(r1 - r0, 4, "%lld requests in 6.5 s while open: the fleet "
                "must not hammer a down system", r1 - r0);
  /* back up: every parked job completes */
  cr_assert_eq(pv_sim_clear_faults(east.voltha_url), 200);
  cr_assert_eq(wait_rows("job_id LIKE $1 AND tenant = 'isp-east' AND state = "
                         "'succeeded'", prefix, 30, 45000), 30,
               "parked jobs must all complete after the fault clears");
  cr_assert_eq(count_rows("job_id LIKE $1 AND state <> 'succeeded'", prefix), 0);
  json_t *replies = pv_e2e_collect_replies(&E, 60, 30000);
  cr_assert_eq(json_object_size(replies), 60);
  json_decref(replies);
}

Test(retries, retry_after_holds_the_tenant_until_then)
{
  setup_fleet(NULL);
  pv_e2e_start_worker(&E, "w-429", NULL);
  cr_assert_eq(pv_sim_set_fault(east.voltha_url,
                                "{\"mode\":\"ratelimit\",\"retry_after\":5,"
                                "\"count\":1}"), 200);
  char prefix[96], id[128];
  snprintf(prefix, sizeof(prefix), "rl-%s-%%", E.suffix);
  snprintf(id, sizeof(id), "rl-%s-first", E.suffix);
  produce("first", job(id, "isp-east", "health_check", NULL));
  cr_assert_eq(wait_rows("job_id LIKE $1 AND state = 'retry_wait' AND "
                         "retry_reason = 'rate_limited'", prefix, 1, 20000), 1,
               "a 429 with Retry-After parks the job");
  json_t *stats = pv_sim_stats(east.voltha_url);
  long long seq_429 = json_integer_value(json_object_get(stats, "last_seq"));
  json_decref(stats);
  int64_t t429 = now_ms();
  for (int i = 0; i < 5; i++) {
    snprintf(id, sizeof(id), "rl-%s-%d", E.suffix, i);
    char key[16];
    snprintf(key, sizeof(key), "k%d", i);
    produce(key, job(id, "isp-east", "health_check", NULL));
  }
  cr_assert_eq(wait_rows("job_id LIKE $1 AND state = 'succeeded'", prefix, 6,
                         40000), 6, "every held job completes after it");
  /* nothing reached the simulator before the Retry-After ran out */
  char url[256];
  snprintf(url, sizeof(url), "%s/_sim/requests?since=%lld", east.voltha_url,
           seq_429);
  json_t *log = pv_e2e_http_get_json(url);
  cr_assert(json_is_array(log));
  cr_assert_gt(json_array_size(log), 0);
  int64_t first = json_integer_value(json_object_get(json_array_get(log, 0),
                                                     "ts_ms"));
  cr_assert_geq(first, t429 + 3500, "a request came %lld ms after the 429; "
                "Retry-After was 5 s", (long long)(first - t429));
  json_decref(log);
  cr_assert_eq(count_rows("job_id LIKE $1 AND state = 'dead'", prefix), 0);
}

Test(retries, parked_jobs_of_a_killed_worker_run_on_another)
{
  setup_fleet(NULL);
  pid_t a = pv_e2e_start_worker(&E, "w-doomed", NULL);
  cr_assert_eq(pv_sim_set_fault(east.voltha_url,
                                "{\"mode\":\"error\",\"status\":503}"), 200);
  char prefix[96], id[128];
  snprintf(prefix, sizeof(prefix), "kill-%s-%%", E.suffix);
  for (int i = 0; i < 10; i++) {
    snprintf(id, sizeof(id), "kill-%s-%d", E.suffix, i);
    produce(id, job(id, "isp-east", "health_check", NULL));
  }
  cr_assert_eq(wait_rows("job_id LIKE $1 AND state = 'retry_wait'", prefix,
                         10, 20000), 10);
  /* the next runs hang: the worker claims parked jobs and dies holding
   * them */
  cr_assert_eq(pv_sim_set_fault(east.voltha_url,
                                "{\"mode\":\"hang\"}"), 200);
  cr_assert_gt(wait_rows("job_id LIKE $1 AND state = 'running' AND "
                         "worker_id = 'w-doomed'", prefix, 1, 20000), 0,
               "the worker claims due parked jobs");
  pv_proc_stop(a, SIGKILL, 1000);
  E.worker = 0;
  cr_assert_eq(pv_sim_clear_faults(east.voltha_url), 200);
  char log_b[512];
  extra_worker = pv_e2e_spawn_worker(&E, "w-heir", NULL, log_b, sizeof(log_b));
  cr_assert_eq(wait_rows("job_id LIKE $1 AND state = 'succeeded'", prefix, 10,
                         45000), 10,
               "another worker runs them once their lease expires; see %s",
               log_b);
  cr_assert_gt(count_rows("job_id LIKE $1 AND worker_id = 'w-heir'", prefix), 0);
}

Test(retries, parked_job_past_its_deadline_is_dead_lettered)
{
  setup_fleet(NULL);
  pv_e2e_start_worker(&E, "w-deadline", NULL);
  cr_assert_eq(pv_sim_set_fault(east.voltha_url,
                                "{\"mode\":\"error\",\"status\":503}"), 200);
  char id[128];
  snprintf(id, sizeof(id), "dl-%s", E.suffix);
  json_t *j = job(id, "isp-east", "health_check", NULL);
  json_object_set_new(j, "deadline", json_integer(now_ms() + 4000));
  produce("dl", j);
  cr_assert_eq(wait_rows("job_id = $1 AND state = 'dead'", id, 1, 30000), 1,
               "a job whose deadline passes while parked must die");
  char *cls = pv_e2e_sql_value(&E, "SELECT error_class FROM job_status WHERE "
                                   "job_id = $1", id);
  cr_assert_str_eq(cls, "deadline_exceeded");
  free(cls);
  char *runs = pv_e2e_sql_value(&E, "SELECT runs FROM job_status WHERE "
                                    "job_id = $1", id);
  cr_assert_gt(strtol(runs, NULL, 10), 1, "it was parked and tried again");
  free(runs);
  pv_ksync_consumer_t *dlq = pv_ksync_consumer_new(E.brokers, E.dlq_topic);
  pv_ksync_msg_t *m = pv_ksync_consume(dlq, 20000);
  cr_assert_not_null(m, "the dead job must be on %s", E.dlq_topic);
  cr_assert_str_eq(pv_ksync_msg_header(m, "x-dlq-error-class"),
                   "deadline_exceeded");
  pv_ksync_msg_destroy(m);
  pv_ksync_consumer_destroy(dlq);
}

Test(retries, later_jobs_of_a_parked_key_run_after_it_in_order)
{
  setup_fleet(NULL);
  pv_e2e_start_worker(&E, "w-order", NULL);
  /* only the first job's device fails, the others would succeed at once
   * if they were allowed to pass it */
  char dev[4][96];
  for (int i = 0; i < 4; i++)
    snprintf(dev[i], sizeof(dev[i]), "ord-%s-%d", E.suffix, i);
  char fault[512];
  snprintf(fault, sizeof(fault), "{\"mode\":\"error\",\"status\":503,"
           "\"path_prefix\":\"/api/v1/devices/%s\"}", dev[0]);
  cr_assert_eq(pv_sim_set_fault(east.voltha_url, fault), 200);
  char prefix[96], id[128];
  snprintf(prefix, sizeof(prefix), "ord-%s-%%", E.suffix);
  for (int i = 0; i < 4; i++) {
    snprintf(id, sizeof(id), "ord-%s-job%d", E.suffix, i);
    produce("same-key", job(id, "isp-east", "get_device", dev[i]));
  }
  cr_assert_eq(wait_rows("job_id LIKE $1 AND state = 'retry_wait'", prefix, 4,
                         20000), 4,
               "the failing job parks and the later ones park behind it");
  cr_assert_eq(pv_sim_clear_faults(east.voltha_url), 200);
  /* unknown devices: 404, a definite answer, so 'failed' */
  cr_assert_eq(wait_rows("job_id LIKE $1 AND state = 'failed'", prefix, 4,
                         30000), 4);
  char url[256];
  snprintf(url, sizeof(url), "%s/_sim/requests?since=0", east.voltha_url);
  json_t *log = pv_e2e_http_get_json(url);
  cr_assert(json_is_array(log));
  int last_seen[4] = {-1, -1, -1, -1}, first_seen[4] = {-1, -1, -1, -1};
  for (size_t i = 0; i < json_array_size(log); i++) {
    const char *path = json_string_value(json_object_get(json_array_get(log, i),
                                                         "path"));
    for (int d = 0; d < 4 && path; d++) {
      char want[512];
      snprintf(want, sizeof(want), "/api/v1/devices/%s", dev[d]);
      if (!strcmp(path, want)) {
        if (first_seen[d] < 0)
          first_seen[d] = (int)i;
        last_seen[d] = (int)i;
      }
    }
  }
  for (int d = 1; d < 4; d++) {
    cr_assert_geq(first_seen[d], 0, "job %d never reached the simulator", d);
    cr_assert_gt(first_seen[d], last_seen[d - 1],
                 "job %d ran before job %d had finished", d, d - 1);
  }
  json_decref(log);
}
