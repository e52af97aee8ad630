/*
 * Job rows end to end (issue 13): job ids are per tenant (two tenants may
 * use one id; a reused id within a tenant is refused, never answered with
 * another job's reply); every valid job has its row whatever bytes its
 * key and headers hold.
 */
#include "tests/e2e/test_engine_util.h"
#include "tests/e2e/worker_harness.h"
#include "tests/support/testenv.h"

#include "jobs/job.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pv_e2e_t E;

static void teardown(void)
{
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
