/*
 * The walking skeleton, end to end: a job produced to Kafka by a real
 * client becomes an HTTP call on the simulator, a job_status row in
 * PostgreSQL and a reply on Kafka; an undecodable record is dead-lettered
 * byte for byte; and the offsets are committed only past finished jobs.
 */
#include "common/bytes.h"
#include "jobs/job.h"
#include "tests/e2e/worker_harness.h"
#include "tests/support/proc.h"
#include "tests/support/testenv.h"
#include "db/pg.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

static pv_e2e_t E;

static void teardown(void)
{
  pv_e2e_teardown(&E);
}

TestSuite(skeleton, .fini = teardown, .timeout = 120);

static char *first_voltha_device(void)
{
  char url[512];
  snprintf(url, sizeof(url), "%s/api/v1/devices",
           pv_test_require_env("SIM_VOLTHA_URL"));
  json_t *doc = pv_e2e_http_get_json(url);
  cr_assert_not_null(doc, "GET %s failed", url);
  json_t *items = json_object_get(doc, "items");
  cr_assert(json_array_size(items) > 0, "the simulator has no VOLTHA device");
  char *id = strdup(json_string_value(json_object_get(json_array_get(items, 0),
                                                      "id")));
  json_decref(doc);
  return id;
}

Test(skeleton, job_round_trip_row_reply_and_dead_letter)
{
  pv_e2e_setup(&E, 4);
  pv_e2e_start_worker(&E, "e2e-skeleton", NULL);
  char *dev = first_voltha_device();
  char id1[96], id2[96], id3[96];
  snprintf(id1, sizeof(id1), "job-%s-1", E.suffix);
  snprintf(id2, sizeof(id2), "job-%s-2", E.suffix);
  snprintf(id3, sizeof(id3), "job-%s-3", E.suffix);

  /* msgpack job with a correlation id */
  json_t *j1 = json_pack("{s:i,s:s,s:s,s:s,s:s,s:{s:s}}", "v", 1, "id", id1,
                         "tenant", "isp-east", "service", "voltha", "op",
                         "get_device", "args", "device_id", dev);
  const char *corr[] = {"correlation-id", "corr-42", NULL};
  pv_e2e_produce_job(&E, dev, j1, false, corr);
  /* JSON job */
  json_t *j2 = json_pack("{s:i,s:s,s:s,s:s,s:s}", "v", 1, "id", id2,
                         "tenant", "isp-west", "service", "voltha", "op",
                         "health_check");
  pv_e2e_produce_job(&E, NULL, j2, true, NULL);
  /* a job for a tenant nobody configured: dead-lettered with a reply */
  json_t *j3 = json_pack("{s:i,s:s,s:s,s:s,s:s}", "v", 1, "id", id3,
                         "tenant", "isp-nowhere", "service", "voltha", "op",
                         "health_check");
  pv_e2e_produce_job(&E, NULL, j3, false, NULL);
  /* undecodable bytes: dead-lettered, nothing dropped */
  static const char garbage[] = "\xc1\xc1 not msgpack";
  cr_assert_eq(pv_ksync_produce(E.producer, E.jobs_topic, "junk", garbage,
                             sizeof(garbage) - 1, NULL), 0);

  json_t *replies = pv_e2e_collect_replies(&E, 3, 60000);
  cr_assert_eq(json_object_size(replies), 3, "expected 3 replies, got %zu; "
               "see %s", json_object_size(replies), E.worker_log);

  json_t *r1 = json_object_get(replies, id1);
  cr_assert_str_eq(json_string_value(json_object_get(r1, "status")),
                   "succeeded", "reply: %s", json_dumps(r1, 0));
  cr_assert_str_eq(json_string_value(json_object_get(r1, "tenant")),
                   "isp-east");
  cr_assert_str_eq(json_string_value(json_object_get(r1, "_correlation_id")),
                   "corr-42");
  json_t *result = json_object_get(r1, "result");
  cr_assert_str_eq(json_string_value(json_object_get(result, "id")), dev,
                   "the result is the device the simulator returned");
  cr_assert_geq(json_integer_value(json_object_get(r1, "attempts")), 1);

  json_t *r2 = json_object_get(replies, id2);
  cr_assert_str_eq(json_string_value(json_object_get(r2, "status")),
                   "succeeded");

  json_t *r3 = json_object_get(replies, id3);
  cr_assert_str_eq(json_string_value(json_object_get(r3, "status")),
                   "dead_lettered");
  cr_assert_str_eq(json_string_value(json_object_get(
                       json_object_get(r3, "error"), "class")),
                   "unknown_tenant");

  /* the dead-letter topic holds both rejected records, byte for byte */
  pv_ksync_consumer_t *dlq = pv_ksync_consumer_new(E.brokers, E.dlq_topic);
  int seen_garbage = 0, seen_tenant = 0;
  for (int i = 0; i < 2; i++) {
    pv_ksync_msg_t *m = pv_ksync_consume(dlq, 30000);
    cr_assert_not_null(m, "dead letter %d missing", i + 1);
    const char *cls = pv_ksync_msg_header(m, "x-dlq-error-class");
    cr_assert_not_null(cls);
    cr_assert_str_eq(pv_ksync_msg_header(m, "x-dlq-source-topic"), E.jobs_topic);
    cr_assert_not_null(pv_ksync_msg_header(m, "x-dlq-source-offset"));
    cr_assert_str_eq(pv_ksync_msg_header(m, "x-dlq-worker"), "e2e-skeleton");
    if (m->key && !strcmp(m->key, "junk")) {
      seen_garbage++;
      cr_assert_str_eq(cls, "invalid_job");
      cr_assert_eq(m->len, sizeof(garbage) - 1);
      cr_assert_eq(memcmp(m->value, garbage, m->len), 0,
                   "a dead letter keeps the original bytes");
    } else {
      seen_tenant++;
      cr_assert_str_eq(cls, "unknown_tenant");
    }
    pv_ksync_msg_destroy(m);
  }
  pv_ksync_consumer_destroy(dlq);
  cr_assert_eq(seen_garbage, 1);
  cr_assert_eq(seen_tenant, 1);

  /* job_status rows */
  char *st = pv_e2e_sql_value(&E, "SELECT state FROM job_status WHERE "
                                  "job_id = $1", id1);
  cr_assert_str_eq(st, "succeeded");
  free(st);
  char *res = pv_e2e_sql_value(&E, "SELECT result->>'id' FROM job_status "
                                   "WHERE job_id = $1", id1);
  cr_assert_str_eq(res, dev);
  free(res);
  st = pv_e2e_sql_value(&E, "SELECT state || ' ' || error_class FROM "
                            "job_status WHERE job_id = $1", id3);
  cr_assert_str_eq(st, "dead unknown_tenant");
  free(st);
  st = pv_e2e_sql_value(&E, "SELECT count(*) FROM job_status WHERE job_id "
                            "LIKE 'invalid:' || $1 || ':%' AND state = 'dead'"
                            " AND error_class = 'invalid_job'", E.jobs_topic);
  cr_assert_str_eq(st, "1", "the undecodable record has a dead row");
  free(st);

  /* SIGTERM: clean exit, and every offset committed (4 records, nothing
   * in flight) */
  int status = pv_proc_stop(E.worker, SIGTERM, 30000);
  E.worker = 0;
  cr_assert(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
            "provisiond did not exit cleanly on SIGTERM; see %s", E.worker_log);
  int64_t off[256];
  cr_assert_leq(E.partitions, 256);
  cr_assert_eq(pv_ksync_committed(E.brokers, E.group, E.jobs_topic,
                                  E.partitions, off), 0);
  int64_t total = 0;
  for (int i = 0; i < E.partitions; i++)
    total += off[i] > 0 ? off[i] : 0;
  cr_assert_eq(total, 4, "committed offsets cover the 4 records (got %lld)",
               (long long)total);
  json_decref(replies);
  json_decref(j1);
  json_decref(j2);
  json_decref(j3);
  free(dev);
}

Test(skeleton, redelivered_finished_job_is_answered_not_run_again)
{
  pv_e2e_setup(&E, 1);
  pv_e2e_start_worker(&E, "e2e-redelivery", NULL);
  char id[96];
  snprintf(id, sizeof(id), "job-%s-dup", E.suffix);
  json_t *j = json_pack("{s:i,s:s,s:s,s:s,s:s}", "v", 1, "id", id, "tenant",
                        "isp-east", "service", "voltha", "op", "health_check");
  pv_e2e_produce_job(&E, "k", j, false, NULL);
  json_t *replies = pv_e2e_collect_replies(&E, 1, 30000);
  cr_assert_eq(json_object_size(replies), 1);
  json_decref(replies);
  /* the same job again (a BSS retry, or a redelivery) */
  pv_e2e_produce_job(&E, "k", j, false, NULL);
  cr_assert(pv_proc_wait_for_text(E.worker_log, "\"event\":\"job.republished\"",
                                  30000),
            "the second delivery must be answered from the job table");
  char *runs = pv_e2e_sql_value(&E, "SELECT runs FROM job_status WHERE "
                                    "job_id = $1", id);
  cr_assert_str_eq(runs, "1", "a finished job is never run twice");
  free(runs);
  json_decref(j);
}

Test(skeleton, replayed_job_refused_again_ends_dead_not_runnable)
{
  pv_e2e_setup(&E, 1);
  char id[96];
  snprintf(id, sizeof(id), "job-%s-rerefused", E.suffix);
  json_t *j = json_pack("{s:i,s:s,s:s,s:s,s:s}", "v", 1, "id", id, "tenant",
                        "isp-nowhere", "service", "voltha", "op",
                        "health_check");
  char *rec = NULL;
  size_t len = 0;
  cr_assert_eq(pv_doc_encode(j, PV_FMT_MSGPACK, &rec, &len), 0);
  json_decref(j);
  /* the row as provctl dlq replay leaves it: moved back to 'received',
   * holding the record it replays (a row of another job under the id
   * would make the record an "id reused") */
  char hex[1024], q[1536];
  cr_assert_lt(2 * len, sizeof(hex));
  pv_hex_write(hex, rec, len);
  snprintf(q, sizeof(q),
           "INSERT INTO job_status (job_id, tenant, service, op, state,"
           " source_topic, source_partition, source_offset, payload)"
           " VALUES ($1, 'isp-nowhere', 'voltha', 'health_check', 'received',"
           " 'x', 0, 0, decode('%s', 'hex')) RETURNING 'ok'", hex);
  char *ok = pv_e2e_sql_value(&E, q, id);
  cr_assert_str_eq(ok, "ok");
  free(ok);
  pv_e2e_start_worker(&E, "e2e-rerefused", NULL);
  cr_assert_eq(pv_ksync_produce(E.producer, E.jobs_topic, "k", rec, len,
                                NULL), 0);
  free(rec);
  char *st = NULL;
  for (int i = 0; i < 120; i++) {
    free(st);
    st = pv_e2e_sql_value(&E, "SELECT state || ' ' || error_class FROM "
                              "job_status WHERE job_id = $1", id);
    if (st && !strncmp(st, "dead", 4))
      break;
    usleep(250 * 1000);
  }
  cr_assert_str_eq(st, "dead unknown_tenant",
                   "a replayed job refused again must be dead, not left "
                   "runnable (it would block its key forever)");
  free(st);
}

/* Regression: librdkafka 2.0.2 aborted (sticky assignor assertion) when a
 * worker was stopped after joining its group but before its first
 * assignment, e.g. while waiting for a killed member's session to end. */
Test(skeleton, stop_before_first_assignment_exits_cleanly)
{
  pv_e2e_setup(&E, 2);
  pid_t a = pv_e2e_start_worker(&E, "e2e-first", NULL);
  pv_proc_stop(a, SIGKILL, 1000); /* leaves no LeaveGroup behind */
  E.worker = 0;
  char log_b[512];
  pid_t b = pv_e2e_spawn_worker(&E, "e2e-second", NULL, log_b, sizeof(log_b));
  cr_assert(pv_proc_wait_for_text(log_b, "\"event\":\"worker.started\"",
                                  20000));
  /* the group waits for the killed member's session: b has joined and
   * has no assignment yet */
  usleep(2500 * 1000);
  cr_assert_eq(pv_e2e_count_text(log_b, "\"event\":\"kafka.partition_assigned\""),
               0, "the test needs the worker stopped before its assignment");
  int status = pv_proc_stop(b, SIGTERM, 20000);
  cr_assert(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
            "a worker stopped before its first assignment must exit 0 "
            "(status %d); see %s", status, log_b);
}

/* Regression: when PostgreSQL refused an outcome for good (here a trigger
 * refusing the result; in life e.g. a NUL character jsonb will not hold),
 * the row stayed 'running' and the job was taken over after its lease and
 * run again, forever. The outcome is now written again without its
 * result. */
static void exec_script(const char *script)
{
  char err[256];
  pv_pg_sync_t *db = pv_pg_sync_connect(E.pg, err, sizeof(err));
  cr_assert_not_null(db, "%s", err);
  pv_pg_result_t *r = pv_pg_sync_exec(db, script);
  cr_assert(pv_pg_result_ok(r), "%s: %s", script, pv_pg_result_error(r));
  pv_pg_result_free(r);
  pv_pg_sync_close(db);
}

Test(skeleton, outcome_refused_with_its_result_is_recorded_without_it)
{
  pv_e2e_setup(&E, 1);
  char id[96], fn[64], script[1024];
  snprintf(id, sizeof(id), "job-%s-noresult", E.suffix);
  snprintf(fn, sizeof(fn), "pv_test_refuse_%d", (int)getpid());
  snprintf(script, sizeof(script),
      "CREATE FUNCTION %s() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN "
      "IF NEW.job_id = '%s' AND NEW.result IS NOT NULL THEN RAISE EXCEPTION "
      "'refused' USING ERRCODE = '22P05'; END IF; RETURN NEW; END $f$;"
      "CREATE TRIGGER %s BEFORE UPDATE ON job_status FOR EACH ROW "
      "EXECUTE FUNCTION %s();", fn, id, fn, fn);
  exec_script(script);
  pv_e2e_start_worker(&E, "e2e-noresult",
                      (const char *const[]){"PROVISIOND_WORKER_LEASE_MS=2000",
                                            NULL});
  json_t *j = json_pack("{s:i,s:s,s:s,s:s,s:s}", "v", 1, "id", id, "tenant",
                        "isp-east", "service", "voltha", "op",
                        "health_check");
  pv_e2e_produce_job(&E, "k", j, false, NULL);
  json_decref(j);
  json_t *replies = pv_e2e_collect_replies(&E, 1, 30000);
  json_t *r = json_object_get(replies, id);
  cr_assert_str_eq(json_string_value(json_object_get(r, "status")),
                   "succeeded", "the reply still carries the outcome");
  cr_assert_not_null(json_object_get(json_object_get(r, "result"), "state"));
  json_decref(replies);
  /* several leases later: finished once, never taken over and re-run */
  usleep(7000 * 1000);
  char *st = pv_e2e_sql_value(&E, "SELECT state || ' ' || runs || ' ' || "
                                  "(result IS NULL) FROM job_status WHERE "
                                  "job_id = $1", id);
  snprintf(script, sizeof(script), "DROP TRIGGER %s ON job_status;"
           "DROP FUNCTION %s();", fn, fn);
  exec_script(script);
  cr_assert_str_eq(st, "succeeded 1 true");
  free(st);
}
