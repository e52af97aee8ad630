/*
 * The engine end to end under load (real broker, PostgreSQL, simulator):
 * thousands of jobs across tenants, keys, services and encodings each end
 * in exactly one final row and exactly one reply; jobs of one key reach
 * the simulator in offset order while keys run concurrently; invalid
 * records are dead-lettered byte for byte, once, with a dead row each,
 * and never hold up the good jobs around them.
 */
#include "tests/e2e/test_engine_util.h"
#include "tests/e2e/worker_harness.h"
#include "tests/support/testenv.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pv_e2e_t E;

static void teardown(void)
{
  pv_e2e_teardown(&E);
}

TestSuite(engine, .fini = teardown, .timeout = 150);

/* ---- thousands of jobs, one row and one reply each, order per key ------- */

#define LOAD_JOBS 3000
#define LOAD_KEYS 100

typedef enum { K_VOLTHA, K_GENIEACS_ACS, K_VOLTHA2, K_MIXED } key_kind_t;

static key_kind_t kind_of(int k)
{
  return (key_kind_t)(k % 4);
}

Test(engine, thousands_of_jobs_one_final_row_one_reply_order_per_key)
{
  pv_e2e_setup(&E, 4);
  const char *voltha = pv_test_require_env("SIM_VOLTHA_URL");
  const char *acs = pv_test_require_env("SIM_GENIEACS_URL");
  long long v_since = pv_te_sim_last_seq(voltha);
  long long a_since = pv_te_sim_last_seq(acs);
  pv_e2e_start_worker(&E, "e2e-engine-load", NULL);

  char prefix[96], dev_prefix[96];
  snprintf(prefix, sizeof(prefix), "L%s-", E.suffix);
  snprintf(dev_prefix, sizeof(dev_prefix), "D%s-", E.suffix);
  int want_succeeded = 0, want_failed = 0, ordered_jobs = 0;
  for (int i = 0; i < LOAD_JOBS; i++) {
    int k = i % LOAD_KEYS, s = i / LOAD_KEYS;
    char id[128], key[64], dev[128];
    snprintf(id, sizeof(id), "%s%05d", prefix, i);
    snprintf(key, sizeof(key), "key-%d", k);
    snprintf(dev, sizeof(dev), "%sk%02d-s%04d", dev_prefix, k, s);
    const char *tenant = k % 2 ? "isp-west" : "isp-east";
    json_t *j = NULL;
    switch (kind_of(k)) {
    case K_VOLTHA:
    case K_VOLTHA2:
      /* unknown devices: 404, a definite answer -> failed */
      j = json_pack("{s:i,s:s,s:s,s:s,s:s,s:{s:s}}", "v", 1, "id", id,
                    "tenant", tenant, "service", "voltha", "op",
                    s % 2 ? "get_device_ports" : "get_device", "args",
                    "device_id", dev);
      want_failed++;
      ordered_jobs++;
      break;
    case K_GENIEACS_ACS:
      j = json_pack("{s:i,s:s,s:s,s:s,s:s,s:{s:s}}", "v", 1, "id", id,
                    "tenant", tenant, "service", "genieacs", "op",
                    "get_device", "args", "device_id", dev);
      want_failed++;
      ordered_jobs++;
      break;
    case K_MIXED:
      if (s % 2) {
        j = json_pack("{s:i,s:s,s:s,s:s,s:s,s:{s:i}}", "v", 1, "id", id,
                      "tenant", tenant, "service", "netbox", "op",
                      "get_device", "args", "id", 900000 + i);
        want_failed++;
      } else {
        j = json_pack("{s:i,s:s,s:s,s:s,s:s}", "v", 1, "id", id, "tenant",
                      tenant, "service", "voltha", "op", "health_check");
        want_succeeded++;
      }
      break;
    }
    cr_assert_not_null(j);
    pv_e2e_produce_job(&E, key, j, i % 3 == 0, NULL);
    json_decref(j);
  }

  long long fin = pv_te_wait_final(&E, prefix, LOAD_JOBS, 120000);
  cr_assert_eq(fin, LOAD_JOBS, "%lld of %d jobs final; see %s", fin,
               LOAD_JOBS, E.worker_log);
  cr_assert_eq(pv_te_sql_ll(&E, "SELECT count(*) FROM job_status WHERE "
                                "job_id LIKE $1 || '%'", prefix),
               LOAD_JOBS, "one row per job, none extra");
  long long ok = pv_te_sql_ll(&E, "SELECT count(*) FROM job_status WHERE "
                                  "job_id LIKE $1 || '%' AND state = "
                                  "'succeeded'", prefix);
  long long failed = pv_te_sql_ll(&E, "SELECT count(*) FROM job_status WHERE "
                                      "job_id LIKE $1 || '%' AND state = "
                                      "'failed' AND error_class = 'http_4xx' "
                                      "AND http_status = 404", prefix);
  cr_assert_eq(ok, want_succeeded);
  cr_assert_eq(failed, want_failed, "every unknown device is a definite 404");
  cr_assert_eq(pv_te_sql_ll(&E, "SELECT count(*) FROM job_status WHERE "
                                "job_id LIKE $1 || '%' AND runs <> 1",
                            prefix),
               0, "nothing was killed: every job ran exactly once");

  /* exactly one reply per job */
  json_t *replies = pv_te_count_by_key(&E, E.results_topic, LOAD_JOBS, 60000);
  cr_assert_eq(json_object_size(replies), LOAD_JOBS, "%zu distinct replies",
               json_object_size(replies));
  const char *rid;
  json_t *cnt;
  json_object_foreach(replies, rid, cnt)
  {
    cr_assert(!strncmp(rid, prefix, strlen(prefix)), "foreign reply %s", rid);
    cr_assert_eq(json_integer_value(cnt), 1, "job %s got %lld replies", rid,
                 (long long)json_integer_value(cnt));
  }
  json_decref(replies);

  /* per key, the simulator saw the sequence numbers in increasing order;
   * and keys interleaved (they ran concurrently). */
  int last[LOAD_KEYS];
  for (int k = 0; k < LOAD_KEYS; k++)
    last[k] = -1;
  int seen = 0, switches = 0;
  const char *bases[] = {voltha, acs};
  long long since[] = {v_since, a_since};
  for (int b = 0; b < 2; b++) {
    json_t *reqs = pv_te_sim_requests(bases[b], since[b]);
    int prev_key = -1;
    size_t i;
    json_t *r;
    json_array_foreach(reqs, i, r)
    {
      const char *where[] = {
          json_string_value(json_object_get(r, "path")),
          json_string_value(json_object_get(r, "query"))};
      const char *at = NULL;
      for (int w = 0; w < 2 && !at; w++)
        at = where[w] ? strstr(where[w], dev_prefix) : NULL;
      if (!at)
        continue;
      int k = -1, s = -1;
      cr_assert_eq(sscanf(at + strlen(dev_prefix), "k%d-s%d", &k, &s), 2,
                   "unparsable request %s", where[0]);
      cr_assert(k >= 0 && k < LOAD_KEYS);
      cr_assert_gt(s, last[k],
                   "key %d: sequence %d reached the simulator after %d", k, s,
                   last[k]);
      last[k] = s;
      seen++;
      if (prev_key >= 0 && prev_key != k)
        switches++;
      prev_key = k;
    }
    json_decref(reqs);
  }
  cr_assert_eq(seen, ordered_jobs,
               "each ordered job made exactly one request (404s are not "
               "retried)");
  cr_assert_gt(switches, LOAD_KEYS,
               "keys must interleave: only %d switches between keys", switches);
}

/* ---- invalid records: dead-lettered once each, nothing lost ------------- */

#define INV_ROUNDS 6

typedef struct inv {
  const char *kind;
  const char *cls;    /* x-dlq-error-class and the row's error_class */
  bool has_id;        /* the record names its job: a dead_lettered reply */
} inv_t;

/* Bytes as hex text: jansson strings must be UTF-8. */
static char *hex(const void *p, size_t n)
{
  char *out = malloc(2 * n + 1);
  cr_assert_not_null(out);
  for (size_t i = 0; i < n; i++)
    snprintf(out + 2 * i, 3, "%02x", ((const unsigned char *)p)[i]);
  out[2 * n] = '\0';
  return out;
}

static const inv_t INV[] = {
  {"bytes", "invalid_job", false},
  {"badargs", "bad_args", true},
  {"unknownop", "unknown_op", true},
  {"tenant", "unknown_tenant", true},
  {"ctype", "invalid_job", false},
  /* ids with an ANSI escape (C0 ESC, then C1 CSI): refused, and nameless
   * (no row or reply may carry them) */
  {"ctlid", "invalid_job", false},
  {"c1id", "invalid_job", false},
};
#define N_INV (sizeof(INV) / sizeof(INV[0]))

Test(engine, invalid_records_dead_lettered_once_nothing_lost)
{
  pv_e2e_setup(&E, 4);
  pv_e2e_start_worker(&E, "e2e-engine-invalid", NULL);
  char prefix[96];
  snprintf(prefix, sizeof(prefix), "I%s-", E.suffix);
  /* produced bytes per invalid record, by key */
  json_t *sent = json_object();
  int good = 0, with_id = 0, invalid = 0, no_id = 0;
  for (int r = 0; r < INV_ROUNDS; r++) {
    for (size_t v = 0; v < N_INV; v++) {
      /* a good job before each invalid one, on the same key, so a stuck
       * lane or partition would show */
      char id[128], key[64];
      snprintf(key, sizeof(key), "k%zu", v);
      snprintf(id, sizeof(id), "%sgood-%d-%zu", prefix, r, v);
      json_t *g = json_pack("{s:i,s:s,s:s,s:s,s:s}", "v", 1, "id", id,
                            "tenant", r % 2 ? "isp-west" : "isp-east",
                            "service", "voltha", "op", "health_check");
      pv_e2e_produce_job(&E, key, g, r % 2 == 0, NULL);
      json_decref(g);
      good++;

      char ikey[192], origin[32];
      snprintf(ikey, sizeof(ikey), "%sinv-%s-%d", prefix, INV[v].kind, r);
      snprintf(id, sizeof(id), "%s%s-%d", prefix, INV[v].kind, r);
      snprintf(origin, sizeof(origin), "%d-%zu", r, v);
      json_t *doc = NULL;
      char *buf = NULL;
      size_t len = 0;
      const char *hdrs[6] = {"x-origin", origin, NULL, NULL, NULL, NULL};
      if (!strcmp(INV[v].kind, "bytes")) {
        /* msgpack "never used" bytes, then text */
        buf = strdup("\xc1\xc1\xc1 garbage \x01");
        len = strlen(buf);
      } else if (!strcmp(INV[v].kind, "badargs")) {
        doc = json_pack("{s:i,s:s,s:s,s:s,s:s,s:{s:s}}", "v", 1, "id", id,
                        "tenant", "isp-east", "service", "voltha", "op",
                        "get_device", "args", "devic_id", "x");
      } else if (!strcmp(INV[v].kind, "unknownop")) {
        doc = json_pack("{s:i,s:s,s:s,s:s,s:s}", "v", 1, "id", id, "tenant",
                        "isp-west", "service", "voltha", "op", "reboot_all");
      } else if (!strcmp(INV[v].kind, "tenant")) {
        doc = json_pack("{s:i,s:s,s:s,s:s,s:s}", "v", 1, "id", id, "tenant",
                        "isp-nowhere", "service", "voltha", "op",
                        "health_check");
      } else if (!strcmp(INV[v].kind, "ctlid") ||
                 !strcmp(INV[v].kind, "c1id")) {
        char bad[160];
        snprintf(bad, sizeof(bad), "%s%s-%s[31m-%d", prefix, INV[v].kind,
                 INV[v].kind[1] == 't' ? "\x1b" : "\xc2\x9b", r);
        doc = json_pack("{s:i,s:s,s:s,s:s,s:s}", "v", 1, "id", bad, "tenant",
                        "isp-east", "service", "voltha", "op",
                        "health_check");
      } else { /* a JSON job under a content-type nobody speaks */
        doc = json_pack("{s:i,s:s,s:s,s:s,s:s}", "v", 1, "id", id, "tenant",
                        "isp-east", "service", "voltha", "op",
                        "health_check");
        hdrs[2] = "content-type";
        hdrs[3] = "text/csv";
      }
      if (doc) {
        buf = json_dumps(doc, JSON_COMPACT);
        len = strlen(buf);
        if (!hdrs[2]) {
          hdrs[2] = "content-type";
          hdrs[3] = "application/json";
        }
        json_decref(doc);
      }
      cr_assert_eq(pv_ksync_produce(E.producer, E.jobs_topic, ikey, buf, len,
                                    hdrs), 0);
      char *hx = hex(buf, len);
      json_t *rec = json_pack("{s:s,s:s,s:s}", "hex", hx, "cls", INV[v].cls,
                              "origin", origin);
      cr_assert_not_null(rec);
      json_object_set_new(sent, ikey, rec);
      free(hx);
      free(buf);
      invalid++;
      if (INV[v].has_id)
        with_id++;
      else
        no_id++;
    }
  }

  /* each invalid record on the DLQ exactly once, as it was sent */
  json_t *dlq_count = json_object();
  pv_ksync_consumer_t *c = pv_ksync_consumer_new(E.brokers, E.dlq_topic);
  cr_assert_not_null(c);
  int got = 0;
  for (int tries = 0; got < invalid + 5 && tries < invalid + 5; tries++) {
    /* after the expected ones, wait a little for any duplicate */
    pv_ksync_msg_t *m = pv_ksync_consume(c, got < invalid ? 60000 : 1500);
    if (!m)
      break;
    got++;
    cr_assert_not_null(m->key);
    json_t *s = json_object_get(sent, m->key);
    cr_assert_not_null(s, "unexpected dead letter with key %s", m->key);
    json_t *n = json_object_get(dlq_count, m->key);
    json_object_set_new(dlq_count, m->key,
                        json_integer(n ? json_integer_value(n) + 1 : 1));
    char *hx = hex(m->value, m->len);
    cr_assert_str_eq(hx, json_string_value(json_object_get(s, "hex")),
                     "%s: a dead letter keeps the original bytes", m->key);
    free(hx);
    cr_assert_str_eq(pv_ksync_msg_header(m, "x-origin"),
                     json_string_value(json_object_get(s, "origin")),
                     "original headers kept");
    cr_assert_str_eq(pv_ksync_msg_header(m, "x-dlq-error-class"),
                     json_string_value(json_object_get(s, "cls")), "%s",
                     m->key);
    cr_assert_str_eq(pv_ksync_msg_header(m, "x-dlq-source-topic"),
                     E.jobs_topic);
    cr_assert_not_null(pv_ksync_msg_header(m, "x-dlq-source-partition"));
    cr_assert_not_null(pv_ksync_msg_header(m, "x-dlq-source-offset"));
    cr_assert_not_null(pv_ksync_msg_header(m, "x-dlq-error"));
    cr_assert_not_null(pv_ksync_msg_header(m, "x-dlq-failed-at"));
    cr_assert_str_eq(pv_ksync_msg_header(m, "x-dlq-worker"),
                     "e2e-engine-invalid");
    pv_ksync_msg_destroy(m);
  }
  pv_ksync_consumer_destroy(c);
  cr_assert_eq(got, invalid, "%d dead letters for %d invalid records", got,
               invalid);
  cr_assert_eq(json_object_size(dlq_count), (size_t)invalid,
               "every invalid record was dead-lettered once");

  /* rows: the good jobs succeeded; named invalid ones are dead with their
   * class; nameless ones have an invalid:<topic>:... dead row each */
  cr_assert_eq(pv_te_wait_final(&E, prefix, good + with_id, 30000),
               good + with_id);
  cr_assert_eq(pv_te_sql_ll(&E, "SELECT count(*) FROM job_status WHERE "
                                "job_id LIKE $1 || 'good-%' AND state = "
                                "'succeeded'", prefix),
               good);
  for (size_t v = 0; v < N_INV; v++) {
    if (!INV[v].has_id)
      continue;
    char pat[160];
    snprintf(pat, sizeof(pat), "%s%s-", prefix, INV[v].kind);
    char *cls = pv_e2e_sql_value(&E, "SELECT string_agg(DISTINCT state || ' '"
                                     " || error_class, ',') FROM job_status "
                                     "WHERE job_id LIKE $1 || '%'", pat);
    char want[96];
    snprintf(want, sizeof(want), "dead %s", INV[v].cls);
    cr_assert_str_eq(cls, want);
    free(cls);
    cr_assert_eq(pv_te_sql_ll(&E, "SELECT count(*) FROM job_status WHERE "
                                  "job_id LIKE $1 || '%'", pat),
                 INV_ROUNDS);
  }
  cr_assert_eq(pv_te_sql_ll(&E, "SELECT count(*) FROM job_status WHERE "
                                "job_id LIKE 'invalid:' || $1 || ':%' AND "
                                "state = 'dead' AND error_class = "
                                "'invalid_job'", E.jobs_topic),
               no_id, "a dead row per nameless record");

  /* replies: every good job and every named invalid one, once */
  json_t *replies = pv_te_count_by_key(&E, E.results_topic,
                                       (size_t)(good + with_id), 30000);
  cr_assert_eq(json_object_size(replies), (size_t)(good + with_id));
  const char *rid;
  json_t *cnt;
  json_object_foreach(replies, rid, cnt)
    cr_assert_eq(json_integer_value(cnt), 1, "%s: %lld replies", rid,
                 (long long)json_integer_value(cnt));
  json_decref(replies);
  json_decref(dlq_count);
  json_decref(sent);
}
