/*
 * Reply topics that do not exist, on a broker that does not create topics
 * (Apache Kafka with auto.create.topics.enable=false, the production
 * norm). kafka-mock creates any topic it is asked about, so this suite
 * runs in the apache pass only (label apache).
 */
#include "common/clock.h"
#include "tests/e2e/test_engine_util.h"
#include "tests/e2e/worker_harness.h"
#include "tests/support/proc.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

static pv_e2e_t E;
static pid_t second;

static void teardown(void)
{
  if (second > 0)
    pv_proc_stop(second, SIGTERM, 30000);
  second = 0;
  pv_e2e_teardown(&E);
}

TestSuite(reply_topics, .fini = teardown, .timeout = 240);

/* All on key "key-0", the key pv_te_produce_health_checks uses with one
 * key: the jobs of a suite run one after another. */
static void produce(const char *id, const char *reply_to)
{
  json_t *j = json_pack("{s:i,s:s,s:s,s:s,s:s}", "v", 1, "id", id, "tenant",
                        "isp-east", "service", "voltha", "op", "health_check");
  if (reply_to)
    json_object_set_new(j, "reply_to", json_string(reply_to));
  pv_e2e_produce_job(&E, "key-0", j, false, NULL);
  json_decref(j);
}

/* n jobs "<prefix>good-<i>" on the same key, after what was produced. */
static void produce_good(const char *prefix, int n)
{
  char good[160];
  snprintf(good, sizeof(good), "%sgood-", prefix);
  pv_te_produce_health_checks(&E, good, n, 1, false);
}

#define GOOD 20

/*
 * One job names a reply topic that does not exist, then GOOD jobs of the
 * same key follow. Before, its reply was retried every <= 30 s forever
 * ("Local: Unknown topic"): none of the later jobs was answered, the
 * partition's committed offset stopped, SIGTERM waited out the drain
 * timeout and a restart redelivered everything. Now: once librdkafka
 * gives up on the topic (topic.metadata.propagation.max.ms, 30 s) a
 * reply_undeliverable stub goes to the results topic and the key moves
 * on; a later job naming that topic is refused at intake (invalid_job,
 * at once); the offsets are committed, SIGTERM is prompt and a restart
 * sees nothing again.
 */
Test(reply_topics, a_missing_reply_topic_never_blocks_its_key)
{
  pv_e2e_setup(&E, 1);
  pv_e2e_start_worker(&E, "e2e-nope", NULL);
  char prefix[96], first[128], later[128], nope[192];
  snprintf(prefix, sizeof(prefix), "NOPE%s-", E.suffix);
  snprintf(first, sizeof(first), "%sfirst", prefix);
  snprintf(later, sizeof(later), "%slater", prefix);
  snprintf(nope, sizeof(nope), "%s.no-such-topic", E.jobs_topic);
  produce(first, nope);
  produce_good(prefix, GOOD);
  cr_assert_eq(pv_te_wait_final(&E, prefix, GOOD + 1, 120000), GOOD + 1,
               "jobs final; see %s", E.worker_log);
  json_t *recs = pv_te_read_records(&E, E.results_topic, GOOD + 1, 90000);
  cr_assert_eq(json_object_size(recs), GOOD + 1, "%zu of %d answered; see %s",
               json_object_size(recs), GOOD + 1, E.worker_log);
  json_t *stub = json_object_get(pv_te_only(recs, first), "value");
  cr_assert_str_eq(pv_te_str_at(stub, "status", NULL), "succeeded");
  cr_assert_str_eq(pv_te_str_at(stub, "error", "class"), "reply_undeliverable");
  cr_assert_str_eq(pv_te_str_at(stub, "reply_topic", NULL), nope);
  cr_assert(strstr(pv_te_str_at(stub, "error", "message"), "Unknown topic"),
            "%s", pv_te_str_at(stub, "error", "message"));
  json_decref(recs);

  /* the topic is known missing now: refused at intake, at once */
  uint64_t t0 = pv_clock_mono_ms();
  produce(later, nope);
  cr_assert_eq(pv_te_wait_final(&E, prefix, GOOD + 2, 30000), GOOD + 2);
  cr_assert_lt(pv_clock_mono_ms() - t0, 10000, "the refusal must not wait for "
               "librdkafka's propagation timeout");
  char *row = pv_e2e_sql_value(&E, "SELECT state || ' ' || error_class || ' '"
                                   " || error_message FROM job_status WHERE "
                                   "job_id = $1", later);
  char want[512];
  snprintf(want, sizeof(want), "dead invalid_job field \"reply_to\": topic "
           "\"%s\" does not exist", nope);
  cr_assert(row && !strncmp(row, want, strlen(want)), "row: %s",
            row ? row : "(none)");
  free(row);
  recs = pv_te_read_records(&E, E.results_topic, GOOD + 2, 30000);
  cr_assert_str_eq(pv_te_str_at(json_object_get(pv_te_only(recs, later),
                                                "value"), "status", NULL),
                   "dead_lettered");
  json_decref(recs);

  /* every record done: committed, SIGTERM prompt, nothing again */
  pv_te_assert_all_done(&E, GOOD + 2, "e2e-nope-b", &second);
}

/*
 * The reply topic exists but its max.message.bytes (10000) is below the
 * reply (a VOLTHA device list of about 60 KB; the worker's own cap is
 * larger): the broker refuses it (MESSAGE_TOO_LARGE). A small stub goes to
 * that same topic, the key moves on, and the idempotent producer carries
 * on (no fatal error).
 */
Test(reply_topics, a_reply_the_topic_refuses_as_too_large_is_stubbed_there)
{
  pv_e2e_setup(&E, 1);
  char small[192];
  snprintf(small, sizeof(small), "%s.small-replies", E.jobs_topic);
  const char *topics[] = {small};
  const char *cfg[] = {"max.message.bytes", "10000", NULL};
  cr_assert_eq(pv_ksync_create_topics_with(E.brokers, topics, 1, 1, cfg), 0);
  for (int i = 0; i < 100 && pv_ksync_partitions(E.brokers, small) <= 0; i++)
    pv_te_sleep_ms(100);
  pv_e2e_start_worker(&E, "e2e-small", NULL);
  char prefix[96], big[128];
  snprintf(prefix, sizeof(prefix), "SMALL%s-", E.suffix);
  snprintf(big, sizeof(big), "%sbig", prefix);
  json_t *j = json_pack("{s:i,s:s,s:s,s:s,s:s,s:s}", "v", 1, "id", big,
                        "tenant", "isp-east", "service", "voltha", "op",
                        "list_devices", "reply_to", small);
  pv_e2e_produce_job(&E, "key-0", j, false, NULL);
  json_decref(j);
  produce_good(prefix, 5);
  cr_assert_eq(pv_te_wait_final(&E, prefix, 6, 60000), 6);
  json_t *recs = pv_te_read_records(&E, small, 1, 60000);
  json_t *stub = pv_te_only(recs, big);
  cr_assert_lt(json_integer_value(json_object_get(stub, "bytes")), 10000);
  json_t *v = json_object_get(stub, "value");
  cr_assert_str_eq(pv_te_str_at(v, "error", "class"), "reply_undeliverable");
  cr_assert_str_eq(pv_te_str_at(v, "reply_topic", NULL), small);
  cr_assert_gt(json_integer_value(json_object_get(v, "reply_bytes")), 10000);
  json_decref(recs);
  recs = pv_te_read_records(&E, E.results_topic, 5, 60000);
  cr_assert_eq(json_object_size(recs), 5, "the key's later jobs are answered");
  json_decref(recs);
  cr_assert_eq(pv_te_count_text(E.worker_log, "\"event\":\"kafka.fatal\""), 0,
               "see %s", E.worker_log);
}

/*
 * The dead-letter topic does not exist (here: a dlq_suffix nobody created
 * topics for). Before, the dead letter was retried forever and the jobs
 * behind it in its key never ran. Now it is given up once librdkafka
 * reports the topic unknown (job.undeliverable; the job row keeps the
 * record for provctl dlq replay), the sender still gets its dead_lettered
 * reply, and the key moves on.
 */
Test(reply_topics, a_missing_dead_letter_topic_never_blocks_its_key)
{
  pv_e2e_setup(&E, 1);
  char conf[768];
  pv_te_config_with(&E, conf, sizeof(conf), "[kafka]\ndlq_suffix = .nodlq\n");
  pv_e2e_start_worker(&E, "e2e-nodlq", NULL);
  char prefix[96], bad[128];
  snprintf(prefix, sizeof(prefix), "NODLQ%s-", E.suffix);
  snprintf(bad, sizeof(bad), "%sbad", prefix);
  /* dead (its deadline passed) after it ran in its key's lane */
  json_t *j = json_pack("{s:i,s:s,s:s,s:s,s:s,s:I}", "v", 1, "id", bad,
                        "tenant", "isp-east", "service", "voltha", "op",
                        "health_check", "deadline", (json_int_t)1000);
  pv_e2e_produce_job(&E, "key-0", j, false, NULL);
  json_decref(j);
  produce_good(prefix, 5);
  json_t *recs = pv_te_read_records(&E, E.results_topic, 6, 90000);
  cr_assert_eq(json_object_size(recs), 6, "%zu of 6 answered; see %s",
               json_object_size(recs), E.worker_log);
  cr_assert_str_eq(pv_te_str_at(json_object_get(pv_te_only(recs, bad),
                                                "value"), "status", NULL),
                   "dead_lettered");
  json_decref(recs);
  char needle[256];
  snprintf(needle, sizeof(needle), "\"event\":\"job.undeliverable\","
           "\"worker\":\"e2e-nodlq\",\"job_id\":\"%s\",\"what\":\"dead_letter\"",
           bad);
  cr_assert_eq(pv_te_count_text(E.worker_log, needle), 1, "see %s",
               E.worker_log);
  cr_assert_eq(pv_te_sql_ll(&E, "SELECT count(*) FROM job_status WHERE "
                                "job_id LIKE $1 || 'good-%' AND state = "
                                "'succeeded'", prefix), 5);
  cr_assert_gt(pv_te_sql_ll(&E, "SELECT length(payload) FROM job_status "
                                "WHERE job_id = $1 AND state = 'dead'", bad),
               0);
}
