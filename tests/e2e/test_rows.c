/*
 * Job rows end to end (issue 13): job ids are per tenant (two tenants may
 * use one id; a reused id within a tenant is refused, never answered with
 * another job's reply); every valid job has its row whatever bytes its
 * key and headers hold.
 */
#include "tests/e2e/test_engine_util.h"
#include "tests/e2e/worker_harness.h"
#include "tests/support/testenv.h"

#include "common/bytes.h"
#include "jobs/job.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static pv_e2e_t E;
static char refuse_trigger[128]; /* a test trigger to drop, if any */

static void teardown(void)
{
  if (refuse_trigger[0]) {
    char q[512];
    snprintf(q, sizeof(q), "DROP TRIGGER IF EXISTS %s ON job_status",
             refuse_trigger);
    free(pv_e2e_sql_value(&E, q, NULL));
    snprintf(q, sizeof(q), "DROP FUNCTION IF EXISTS %s()", refuse_trigger);
    free(pv_e2e_sql_value(&E, q, NULL));
    refuse_trigger[0] = '\0';
  }
  pv_e2e_teardown(&E);
}

TestSuite(rows, .fini = teardown, .timeout = 150);

/* Every record of topic read within timeout_ms (stops 1.5 s after the n-th,
 * so a duplicate right behind is seen): [{"key", "doc"}] with the value
 * decoded as the reply's content-type says. */
static json_t *read_topic(const char *topic, size_t n, int timeout_ms)
{
  json_t *out = json_array();
  pv_ksync_consumer_t *c = pv_ksync_consumer_new(E.brokers, topic);
  cr_assert_not_null(c);
  int wait = timeout_ms;
  for (;;) {
    pv_ksync_msg_t *m = pv_ksync_consume(c, wait);
    if (!m)
      break;
    const char *ct = pv_ksync_msg_header(m, "content-type");
    json_t *doc = NULL;
    char err[128];
    if (pv_doc_decode(m->value, m->len, ct && strstr(ct, "json")
                                            ? PV_FMT_JSON : PV_FMT_MSGPACK,
                      &doc, err, sizeof(err)) < 0)
      doc = json_string(err);
    json_array_append_new(out, json_pack("{s:s?,s:o}", "key", m->key, "doc",
                                         doc));
    pv_ksync_msg_destroy(m);
    if (json_array_size(out) >= n)
      wait = 1500;
  }
  pv_ksync_consumer_destroy(c);
  return out;
}

static void wait_state(const char *tenant, const char *id, const char *want,
                       int timeout_ms)
{
  char q[256];
  snprintf(q, sizeof(q), "SELECT state FROM job_status WHERE job_id = $1 AND"
                         " tenant = '%s'", tenant);
  char *v = NULL;
  for (int waited = 0; waited < timeout_ms; waited += 100) {
    free(v);
    v = pv_e2e_sql_value(&E, q, id);
    if (v && !strcmp(v, want))
      break;
    pv_te_sleep_ms(100);
  }
  cr_assert(v && !strcmp(v, want), "%s/%s: state %s, want %s (see %s)",
            tenant, id, v ? v : "(no row)", want, E.worker_log);
  free(v);
}

static json_t *health(const char *id, const char *tenant, const char *reply)
{
  return json_pack("{s:i,s:s,s:s,s:s,s:s,s:s?}", "v", 1, "id", id, "tenant",
                   tenant, "service", "voltha", "op", "health_check",
                   "reply_to", reply);
}

/* ---- job ids are per tenant --------------------------------------------- */

Test(rows, one_id_in_two_tenants_runs_twice_each_reply_to_its_own_topic)
{
  pv_e2e_setup(&E, 2);
  char east_topic[160], west_topic[160];
  snprintf(east_topic, sizeof(east_topic), "%s.east", E.results_topic);
  snprintf(west_topic, sizeof(west_topic), "%s.west", E.results_topic);
  const char *topics[] = {east_topic, west_topic};
  cr_assert_eq(pv_ksync_create_topics(E.brokers, topics, 2, 1), 0);
  pv_e2e_start_worker(&E, "e2e-rows-tenants", NULL);

  char id[96];
  snprintf(id, sizeof(id), "xt-%s", E.suffix);
  json_t *e = health(id, "isp-east", east_topic);
  pv_e2e_produce_job(&E, NULL, e, true, NULL);
  json_decref(e);
  wait_state("isp-east", id, "succeeded", 30000);
  /* west's job: same id, another op, its own reply topic */
  json_t *w = json_pack("{s:i,s:s,s:s,s:s,s:s,s:s,s:{s:i}}", "v", 1, "id", id,
                        "tenant", "isp-west", "service", "genieacs", "op",
                        "list_devices", "reply_to", west_topic, "args",
                        "limit", 1);
  pv_e2e_produce_job(&E, NULL, w, false, NULL);
  json_decref(w);
  wait_state("isp-west", id, "succeeded", 30000);

  cr_assert_eq(pv_te_sql_ll(&E, "SELECT count(*) FROM job_status WHERE"
                                " job_id = $1", id), 2, "one row per tenant");
  json_t *er = read_topic(east_topic, 1, 20000);
  json_t *wr = read_topic(west_topic, 1, 20000);
  cr_assert_eq(json_array_size(er), 1, "east: exactly its own reply, once");
  cr_assert_eq(json_array_size(wr), 1, "west got its reply");
  json_t *ed = json_object_get(json_array_get(er, 0), "doc");
  json_t *wd = json_object_get(json_array_get(wr, 0), "doc");
  cr_assert_str_eq(json_string_value(json_object_get(ed, "tenant")),
                   "isp-east");
  cr_assert_str_eq(json_string_value(json_object_get(wd, "tenant")),
                   "isp-west");
  cr_assert_str_eq(json_string_value(json_object_get(wd, "op")),
                   "list_devices");
  cr_assert_str_eq(json_string_value(json_object_get(wd, "status")),
                   "succeeded");
  json_decref(er);
  json_decref(wr);
}

Test(rows, reused_id_in_one_tenant_is_refused_redelivery_still_answered)
{
  pv_e2e_setup(&E, 2);
  pv_e2e_start_worker(&E, "e2e-rows-reuse", NULL);
  char id[96];
  snprintf(id, sizeof(id), "ru-%s", E.suffix);
  json_t *first = health(id, "isp-east", NULL);
  pv_e2e_produce_job(&E, "k1", first, true, NULL);
  wait_state("isp-east", id, "succeeded", 30000);

  /* the same bytes again (a redelivery, a BSS retry): answered from the
   * row as before, not run again */
  pv_e2e_produce_job(&E, "k1", first, true, NULL);
  json_decref(first);
  /* another job under the same id: refused, never answered with the
   * first job's reply */
  json_t *other = json_pack("{s:i,s:s,s:s,s:s,s:s,s:{s:s}}", "v", 1, "id", id,
                            "tenant", "isp-east", "service", "voltha", "op",
                            "get_device", "args", "device_id", "nope");
  pv_e2e_produce_job(&E, "k1", other, true, NULL);
  json_decref(other);

  json_t *replies = read_topic(E.results_topic, 3, 30000);
  cr_assert_eq(json_array_size(replies), 3, "two answers for the first job, "
               "one refusal: got %zu", json_array_size(replies));
  int succeeded = 0, refused = 0;
  size_t i;
  json_t *r;
  json_array_foreach(replies, i, r) {
    json_t *doc = json_object_get(r, "doc");
    const char *status = json_string_value(json_object_get(doc, "status"));
    if (!strcmp(status, "succeeded")) {
      succeeded++;
      cr_assert_str_eq(json_string_value(json_object_get(doc, "op")),
                       "health_check");
      continue;
    }
    refused++;
    cr_assert_str_eq(status, "dead_lettered");
    json_t *err = json_object_get(doc, "error");
    cr_assert_str_eq(json_string_value(json_object_get(err, "class")),
                     "invalid_job");
    const char *msg = json_string_value(json_object_get(err, "message"));
    cr_assert(msg && strstr(msg, "id reused"), "%s", msg);
  }
  cr_assert_eq(succeeded, 2);
  cr_assert_eq(refused, 1);
  json_decref(replies);

  /* the first job's row is untouched; the refused record has its own
   * dead row, and its dead letter */
  cr_assert_eq(pv_te_sql_ll(&E, "SELECT runs FROM job_status WHERE job_id ="
                                " $1", id), 1);
  char *st = pv_e2e_sql_value(&E, "SELECT state || ' ' || op FROM job_status"
                                  " WHERE job_id = $1", id);
  cr_assert_str_eq(st, "succeeded health_check");
  free(st);
  char *inv = pv_e2e_sql_value(
      &E, "SELECT tenant || ' ' || op || ' ' || error_class || ' ' ||"
          " error_message FROM job_status WHERE job_id LIKE 'invalid:' ||"
          " $1 || ':%'", E.jobs_topic);
  cr_assert_not_null(inv, "the refused record has no row");
  const char *want = "isp-east get_device invalid_job id reused";
  cr_assert(!strncmp(inv, want, strlen(want)), "%s", inv);
  free(inv);
  json_t *dl = read_topic(E.dlq_topic, 1, 20000);
  cr_assert_eq(json_array_size(dl), 1);
  cr_assert_str_eq(json_string_value(json_object_get(
                       json_object_get(json_array_get(dl, 0), "doc"), "op")),
                   "get_device");
  json_decref(dl);
}

/* ---- every valid job has its row, whatever bytes it carries -------------- */

/* A JSON health_check job with exact key and headers. */
static void produce_raw(const char *id, const void *key, size_t key_len,
                        const pv_ksync_header_t *hdrs, size_t nh,
                        const char *extra_field)
{
  char doc[512];
  int n = snprintf(doc, sizeof(doc), "{\"v\":1,\"id\":\"%s\",\"tenant\":"
                   "\"isp-east\",\"service\":\"voltha\",\"op\":"
                   "\"health_check\"%s}", id, extra_field ? extra_field : "");
  pv_ksync_header_t h[8];
  h[0] = (pv_ksync_header_t){"content-type", "application/json", 16};
  for (size_t i = 0; i < nh; i++)
    h[1 + i] = hdrs[i];
  char err[256];
  cr_assert_eq(pv_ksync_produce_raw(E.producer, E.jobs_topic, key, key_len,
                                    doc, (size_t)n, h, nh + 1, 30000, err,
                                    sizeof(err)), 0, "%s", err);
}

static char *row_value(const char *q, const char *id)
{
  return pv_e2e_sql_value(&E, q, id);
}

Test(rows, keys_and_headers_of_any_bytes_have_their_row)
{
  pv_e2e_setup(&E, 2);
  pv_e2e_start_worker(&E, "e2e-rows-bytes", NULL);
  char id[8][96];
  for (int i = 0; i < 8; i++)
    snprintf(id[i], sizeof(id[i]), "by-%s-%d", E.suffix, i);

  /* 0: a key that is not UTF-8 */
  const char k0[] = "\xff\xfeONU-1";
  produce_raw(id[0], k0, sizeof(k0) - 1, NULL, 0, NULL);
  /* 1: a key past btree's row limit (~2,700 bytes), twice: same lane */
  size_t k1n = 5000;
  char *k1 = malloc(k1n);
  cr_assert_not_null(k1);
  for (size_t i = 0; i < k1n; i++)
    k1[i] = (char)('a' + i % 26);
  produce_raw(id[1], k1, k1n, NULL, 0, NULL);
  produce_raw(id[2], k1, k1n, NULL, 0, NULL);
  /* 3: a key holding a NUL byte */
  const char k3[] = "ser\0ial";
  produce_raw(id[3], k3, sizeof(k3) - 1, NULL, 0, NULL);
  /* 4: a correlation-id that is not UTF-8 */
  pv_ksync_header_t h4[] = {{"correlation-id", "\xc3\x28-corr", 7}};
  produce_raw(id[4], "k4", 2, h4, 1, NULL);
  /* 5: a header value with a NUL byte, a header name that is not UTF-8 */
  pv_ksync_header_t h5[] = {{"x-bin", "a\0b", 3}, {"x-\xff", "v", 1}};
  produce_raw(id[5], "k5", 2, h5, 2, NULL);
  /* 6: a deadline of 2^62 ms: refused, naming the field and value */
  produce_raw(id[6], "k6", 2, NULL, 0, ",\"deadline\":4611686018427387904");
  /* 7: a content-type that is not UTF-8: refused, with its row */
  char doc7[256];
  int n7 = snprintf(doc7, sizeof(doc7), "{\"v\":1,\"id\":\"%s\",\"tenant\":"
                    "\"isp-east\",\"service\":\"voltha\",\"op\":"
                    "\"health_check\"}", id[7]);
  pv_ksync_header_t h7[] = {{"content-type", "text/\xff\xfe", 7}};
  char err[256];
  cr_assert_eq(pv_ksync_produce_raw(E.producer, E.jobs_topic, "k7", 2, doc7,
                                    (size_t)n7, h7, 1, 30000, err,
                                    sizeof(err)), 0, "%s", err);

  for (int i = 0; i < 6; i++)
    wait_state("isp-east", id[i], "succeeded", 30000);
  wait_state("isp-east", id[6], "dead", 30000);

  /* the exact bytes are in the rows */
  char *v = row_value("SELECT encode(ordering_key, 'hex') FROM job_status"
                      " WHERE job_id = $1", id[0]);
  char want[2 * sizeof(k0) + 1];
  pv_hex_write(want, k0, sizeof(k0) - 1);
  cr_assert_str_eq(v, want);
  free(v);
  v = row_value("SELECT length(ordering_key) FROM job_status WHERE"
                " job_id = $1", id[2]);
  cr_assert_str_eq(v, "5000");
  free(v);
  v = row_value("SELECT encode(ordering_key, 'hex') FROM job_status WHERE"
                " job_id = $1", id[3]);
  cr_assert_str_eq(v, "7365720069616c");
  free(v);
  v = row_value("SELECT encode(correlation_id, 'hex') FROM job_status WHERE"
                " job_id = $1", id[4]);
  cr_assert_str_eq(v, "c3282d636f7272");
  free(v);
  v = row_value("SELECT headers::text FROM job_status WHERE job_id = $1",
                id[5]);
  cr_assert(v && strstr(v, "[\"x-bin\", {\"hex\": \"610062\"}]") &&
                strstr(v, "[{\"hex\": \"782dff\"}, \"v\"]"), "%s", v);
  free(v);
  /* readable where it is text: the display function */
  v = row_value("SELECT provisiond_bytes_text(ordering_key) || ' ' ||"
                " provisiond_bytes_text(correlation_id) FROM job_status"
                " WHERE job_id = $1", id[4]);
  cr_assert_str_eq(v, "k4 \\xc3282d636f7272");
  free(v);
  /* one lane per key, however long: the second job ran after the first */
  v = pv_e2e_sql_value(&E, "SELECT b.started_at >= a.finished_at FROM"
                           " job_status a, job_status b WHERE a.job_id ="
                           " 'by-' || $1 || '-1' AND b.job_id = 'by-' || $1"
                           " || '-2'", E.suffix);
  cr_assert_str_eq(v, "t", "jobs of one long key run one after the other");
  free(v);
  v = pv_e2e_sql_value(&E, "SELECT count(*) FROM job_status WHERE job_id IN"
                           " ('by-' || $1 || '-1', 'by-' || $1 || '-2') AND"
                           " runs = 1", E.suffix);
  cr_assert_str_eq(v, "2");
  free(v);
  /* an absurd deadline: refused before anything ran, and named */
  v = row_value("SELECT error_class || ': ' || error_message FROM job_status"
                " WHERE job_id = $1", id[6]);
  cr_assert(v && strstr(v, "invalid_job: field \"deadline\": "
                           "4611686018427387904 out of range"), "%s", v);
  free(v);
  /* a refused record whose error quotes bytes that are not UTF-8 (its
   * content-type): a dead row all the same (named after its position: a
   * body it cannot decode names no job) */
  const char *q7 = "SELECT count(*) FROM job_status WHERE job_id LIKE"
                   " 'invalid:' || $1 || ':%' AND state = 'dead' AND"
                   " error_class = 'invalid_job' AND error_message LIKE"
                   " 'header \"content-type\": \"text/??\"%'";
  v = pv_e2e_sql_value(&E, q7, E.jobs_topic);
  for (int w = 0; w < 100 && v && !strcmp(v, "0"); w++) {
    free(v);
    pv_te_sleep_ms(100);
    v = pv_e2e_sql_value(&E, q7, E.jobs_topic);
  }
  cr_assert_str_eq(v, "1", "the record refused for its content-type has no"
                   " row; see %s", E.worker_log);
  free(v);
  free(k1);
}

Test(rows, a_job_whose_row_postgres_refuses_still_gets_a_dead_row)
{
  pv_e2e_setup(&E, 2);
  /* PostgreSQL refuses this suite's job rows for good (a check that
   * fails), unless they are dead: what a row PostgreSQL cannot take, for a
   * reason nobody foresaw, looks like to the worker */
  snprintf(refuse_trigger, sizeof(refuse_trigger), "pv_test_refuse_%d",
           (int)getpid());
  char q[1024];
  snprintf(q, sizeof(q),
           "CREATE FUNCTION %s() RETURNS trigger LANGUAGE plpgsql AS $f$"
           " BEGIN IF NEW.job_id LIKE 'refuse-%s-%%' AND NEW.state <> 'dead'"
           " THEN RAISE EXCEPTION 'refused by the test' USING ERRCODE ="
           " '23514'; END IF; RETURN NEW; END $f$", refuse_trigger, E.suffix);
  free(pv_e2e_sql_value(&E, q, NULL));
  snprintf(q, sizeof(q), "CREATE TRIGGER %s BEFORE INSERT ON job_status FOR"
           " EACH ROW EXECUTE FUNCTION %s()", refuse_trigger, refuse_trigger);
  free(pv_e2e_sql_value(&E, q, NULL));
  pv_e2e_start_worker(&E, "e2e-rows-refused", NULL);

  char id[96];
  snprintf(id, sizeof(id), "refuse-%s-1", E.suffix);
  json_t *j = health(id, "isp-east", NULL);
  pv_e2e_produce_job(&E, "k", j, true, NULL);
  json_decref(j);
  wait_state("isp-east", id, "dead", 30000);
  char *v = pv_e2e_sql_value(&E, "SELECT error_class || ': ' ||"
                                 " error_message || ' ' || dlq_topic FROM"
                                 " job_status WHERE job_id = $1", id);
  cr_assert(v && strstr(v, "internal: the job could not be recorded in "
                           "PostgreSQL"), "%s", v);
  cr_assert(strstr(v, E.dlq_topic), "%s", v);
  free(v);
  json_t *dl = read_topic(E.dlq_topic, 1, 20000);
  cr_assert_eq(json_array_size(dl), 1, "dead-lettered once");
  json_decref(dl);
}

Test(rows, a_replay_deadline_header_replaces_the_deadline_or_is_refused)
{
  pv_e2e_setup(&E, 2);
  pv_e2e_start_worker(&E, "e2e-rows-deadline", NULL);
  char ok[96], bad[96];
  snprintf(ok, sizeof(ok), "rd-%s-ok", E.suffix);
  snprintf(bad, sizeof(bad), "rd-%s-bad", E.suffix);
  /* the job's own deadline has passed; the replay's has not */
  pv_ksync_header_t h1[] = {{"x-replay-deadline", "253402300799999", 15}};
  produce_raw(ok, "k1", 2, h1, 1, ",\"deadline\":1000");
  pv_ksync_header_t h2[] = {{"x-replay-deadline", "soon", 4}};
  produce_raw(bad, "k2", 2, h2, 1, NULL);
  wait_state("isp-east", ok, "succeeded", 30000);
  wait_state("isp-east", bad, "dead", 30000);
  char *v = row_value("SELECT (extract(epoch FROM deadline) * 1000)::bigint"
                      " FROM job_status WHERE job_id = $1", ok);
  cr_assert_str_eq(v, "253402300799999");
  free(v);
  v = row_value("SELECT error_class || ': ' || error_message FROM job_status"
                " WHERE job_id = $1", bad);
  cr_assert(v && strstr(v, "invalid_job: header \"x-replay-deadline\": "
                           "\"soon\" is not a deadline"), "%s", v);
  free(v);
}
