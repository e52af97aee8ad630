/*
 * max_in_flight_per_topic: a flood on one topic (long orders) is capped,
 * and another topic's jobs (quick queries) keep their own room instead of
 * queueing behind it.
 */
#include "jobs/job.h"
#include "tests/e2e/worker_harness.h"
#include "tests/support/simproc.h"
#include "tests/support/testenv.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static pv_e2e_t E;
static pv_sim_t sim;

static void teardown(void)
{
  pv_e2e_teardown(&E);
  pv_sim_stop(&sim);
}

TestSuite(caps, .fini = teardown, .timeout = 120);

static void sleep_ms(int ms)
{
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static void produce_to(const char *topic, const char *id, const char *dev)
{
  json_t *j = json_pack("{s:i,s:s,s:s,s:s,s:s,s:{s:s}}", "v", 1, "id", id,
                        "tenant", "isp-east", "service", "voltha", "op",
                        "get_device", "args", "device_id", dev);
  char *buf = NULL;
  size_t len = 0;
  cr_assert_eq(pv_doc_encode(j, PV_FMT_MSGPACK, &buf, &len), 0);
  cr_assert_eq(pv_ksync_produce(E.producer, topic, id, buf, len, NULL), 0);
  free(buf);
  json_decref(j);
}

Test(caps, a_flooded_topic_is_capped_and_another_keeps_flowing)
{
  static const char *const small[] = {"--olts", "1", "--onus-per-olt", "1",
                                      "--cpes", "1", "--prefixes", "1", NULL};
  cr_assert_eq(pv_sim_start(&sim, small), 0);
  pv_e2e_setup(&E, 1);
  char queries[160], queries_dlq[180];
  snprintf(queries, sizeof(queries), "e2e-%s.queries", E.suffix);
  snprintf(queries_dlq, sizeof(queries_dlq), "%s.dlq", queries);
  const char *topics[] = {queries, queries_dlq};
  cr_assert_eq(pv_ksync_create_topics(E.brokers, topics, 2, 1), 0);
  char ini[512];
  snprintf(ini, sizeof(ini), "[tenant.isp-east]\nvoltha_url = %s\n"
           "[worker]\nmax_in_flight_per_topic = 2\n", sim.voltha_url);
  pv_e2e_config_append(&E, ini);
  /* a due parked job of a topic this worker does not consume: another
   * fleet's (or another suite's) to run, never ours */
  char foreign[128];
  snprintf(foreign, sizeof(foreign), "cap-foreign-%s", E.suffix);
  char *ins = pv_e2e_sql_value(&E,
      "INSERT INTO job_status (job_id, tenant, service, op, state,"
      " source_topic, source_partition, source_offset, payload,"
      " next_attempt_at) VALUES ($1, 'isp-east', 'voltha', 'health_check',"
      " 'retry_wait', 'not.our.topic', 0, 0, '\\x00', now())"
      " RETURNING 'ok'", foreign);
  cr_assert_str_eq(ins, "ok");
  free(ins);
  char topics_env[400];
  snprintf(topics_env, sizeof(topics_env), "PROVISIOND_KAFKA_TOPICS=%s,%s",
           E.jobs_topic, queries);
  const char *env[] = {topics_env, NULL};
  pv_e2e_start_worker(&E, "w-caps", env);
  cr_assert_eq(pv_sim_set_fault(sim.voltha_url,
                                "{\"mode\":\"latency\",\"latency_ms\":400}"),
               200);
  char id[128], dev[96];
  for (int i = 0; i < 12; i++) {
    snprintf(id, sizeof(id), "cap-%s-job-%02d", E.suffix, i);
    snprintf(dev, sizeof(dev), "job-%d", i);
    produce_to(E.jobs_topic, id, dev);
  }
  for (int i = 0; i < 4; i++) {
    snprintf(id, sizeof(id), "cap-%s-query-%d", E.suffix, i);
    snprintf(dev, sizeof(dev), "query-%d", i);
    produce_to(queries, id, dev);
  }
  /* the simulator's delayed requests at any moment: at most 2 per topic */
  long long most = 0;
  char prefix[96];
  snprintf(prefix, sizeof(prefix), "cap-%s-%%", E.suffix);
  for (int i = 0; i < 200; i++) {
    long long now = pv_sim_stat(sim.voltha_url, "suspended");
    if (now > most)
      most = now;
    char *done = pv_e2e_sql_value(&E, "SELECT count(*) FROM job_status WHERE "
                                      "job_id LIKE $1 AND state = 'failed'",
                                  prefix);
    bool all = done && !strcmp(done, "16");
    free(done);
    if (all)
      break;
    sleep_ms(50);
  }
  cr_assert_gt(most, 1, "jobs must overlap at all (latency fault)");
  cr_assert_leq(most, 4, "%lld requests in flight at once: the per-topic cap "
                "of 2 (two topics) was not kept", most);
  /* the queries did not wait for the flood to drain */
  char q[256];
  snprintf(q, sizeof(q), "cap-%s-query-%%", E.suffix);
  char *last_query = pv_e2e_sql_value(&E, "SELECT extract(epoch FROM "
      "max(finished_at))::text FROM job_status WHERE job_id LIKE $1", q);
  snprintf(q, sizeof(q), "cap-%s-job-%%", E.suffix);
  char *last_job = pv_e2e_sql_value(&E, "SELECT extract(epoch FROM "
      "max(finished_at))::text FROM job_status WHERE job_id LIKE $1", q);
  cr_assert_not_null(last_query);
  cr_assert_not_null(last_job);
  cr_assert_lt(strtod(last_query, NULL), strtod(last_job, NULL) - 0.5,
               "queries must finish well before the flooded topic drains "
               "(queries %s, jobs %s)", last_query, last_job);
  free(last_query);
  free(last_job);
  char *st = pv_e2e_sql_value(&E, "SELECT state FROM job_status WHERE "
                                  "job_id = $1", foreign);
  cr_assert_str_eq(st, "retry_wait", "a worker must only run due jobs of "
                   "the topics it consumes");
  free(st);
  free(pv_e2e_sql_value(&E, "DELETE FROM job_status WHERE job_id = $1 RETURNING 1",
                   foreign));
}
