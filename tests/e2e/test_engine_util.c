#include "tests/e2e/test_engine_util.h"

#include "common/alloc.h"
#include "jobs/job.h"
#include "tests/support/proc.h"
#include "tests/support/testenv.h"

#include <criterion/criterion.h>
#include <curl/curl.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

void pv_te_sleep_ms(int ms)
{
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
    ;
}

static long long mono_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

long long pv_te_sql_ll(pv_e2e_t *e, const char *sql, const char *param)
{
  char *v = pv_e2e_sql_value(e, sql, param);
  if (!v)
    return -1;
  char *end = NULL;
  long long n = strtoll(v, &end, 10);
  cr_assert(end && !*end, "%s: \"%s\" is not an integer", sql, v);
  free(v);
  return n;
}

long long pv_te_final_rows(pv_e2e_t *e, const char *prefix)
{
  return pv_te_sql_ll(e, "SELECT count(*) FROM job_status WHERE job_id LIKE "
                         "$1 || '%' AND state IN ('succeeded', 'failed', "
                         "'dead')", prefix);
}

long long pv_te_wait_final(pv_e2e_t *e, const char *prefix, long long n,
                           int timeout_ms)
{
  long long deadline = mono_ms() + timeout_ms, got = 0;
  while ((got = pv_te_final_rows(e, prefix)) < n && mono_ms() < deadline)
    pv_te_sleep_ms(200);
  return got;
}

json_t *pv_te_count_by_key(pv_e2e_t *e, const char *topic, size_t n,
                           int timeout_ms)
{
  json_t *out = json_object();
  pv_ksync_consumer_t *c = pv_ksync_consumer_new(e->brokers, topic);
  cr_assert_not_null(c);
  long long deadline = mono_ms() + timeout_ms;
  long long grace_end = -1;
  for (;;) {
    long long now = mono_ms();
    if (grace_end < 0 && json_object_size(out) >= n)
      grace_end = now + 1500; /* a duplicate would come right behind */
    long long until = grace_end >= 0 ? grace_end : deadline;
    if (now >= until)
      break;
    pv_ksync_msg_t *m = pv_ksync_consume(c, (int)(until - now));
    if (!m)
      continue;
    const char *k = m->key ? m->key : "(null)";
    json_t *v = json_object_get(out, k);
    json_object_set_new(out, k, json_integer(v ? json_integer_value(v) + 1 : 1));
    pv_ksync_msg_destroy(m);
  }
  pv_ksync_consumer_destroy(c);
  return out;
}

json_t *pv_te_read_records(pv_e2e_t *e, const char *topic, size_t n,
                           int timeout_ms)
{
  json_t *out = json_object();
  pv_ksync_consumer_t *c = pv_ksync_consumer_new(e->brokers, topic);
  cr_assert_not_null(c);
  size_t got = 0;
  long long deadline = mono_ms() + timeout_ms, quiet_until = -1;
  for (;;) {
    long long now = mono_ms();
    if (now >= deadline || (quiet_until >= 0 && now >= quiet_until))
      break;
    pv_ksync_msg_t *m = pv_ksync_consume(c, 500);
    if (!m)
      continue;
    if (++got >= n)
      quiet_until = mono_ms() + 1500; /* a duplicate would come right behind */
    json_t *rec = json_object();
    json_t *doc = NULL;
    char err[128];
    const char *ct = pv_ksync_msg_header(m, "content-type");
    pv_format_t fmt = ct && strstr(ct, "json") ? PV_FMT_JSON : PV_FMT_MSGPACK;
    if (m->value &&
        pv_doc_decode(m->value, m->len, fmt, &doc, err, sizeof(err)) == 0)
      json_object_set_new(rec, "value", doc);
    json_object_set_new(rec, "bytes", json_integer((json_int_t)m->len));
    json_t *h = json_object();
    for (size_t i = 0; i < m->n_headers; i++)
      json_object_set_new(h, m->hnames[i],
                          m->hvalues[i] ? json_string(m->hvalues[i])
                                        : json_null());
    json_object_set_new(rec, "headers", h);
    const char *k = m->key ? m->key : "(null)";
    if (!json_object_get(out, k))
      json_object_set_new(out, k, json_array());
    json_array_append_new(json_object_get(out, k), rec);
    pv_ksync_msg_destroy(m);
  }
  pv_ksync_consumer_destroy(c);
  return out;
}

json_t *pv_te_only(json_t *records, const char *key)
{
  json_t *l = json_object_get(records, key);
  cr_assert_eq(json_array_size(l), 1, "%s: %zu records", key,
               json_array_size(l));
  return json_array_get(l, 0);
}

const char *pv_te_str_at(json_t *doc, const char *a, const char *b)
{
  json_t *v = json_object_get(doc, a);
  return json_string_value(b ? json_object_get(v, b) : v);
}

long long pv_te_count_records(pv_e2e_t *e, const char *topic)
{
  char err[256];
  pv_ksync_consumer_t *c = pv_ksync_consumer_snapshot(e->brokers, topic, err,
                                                      sizeof(err));
  cr_assert_not_null(c, "%s: %s", topic, err);
  long long n = 0;
  for (int idle = 0; !pv_ksync_consumer_drained(c) && idle < 20;) {
    pv_ksync_msg_t *m = pv_ksync_consume(c, 500);
    if (!m) {
      idle++;
      continue;
    }
    n++;
    pv_ksync_msg_destroy(m);
  }
  cr_assert(pv_ksync_consumer_drained(c), "%s: not read to its end", topic);
  pv_ksync_consumer_destroy(c);
  return n;
}

void pv_te_assert_all_done(pv_e2e_t *e, long long records,
                           const char *worker_id, pid_t *next)
{
  long long committed = 0;
  for (int i = 0; i < 30 && committed != records; i++) {
    int64_t off[64];
    cr_assert_leq(e->partitions, 64);
    cr_assert_eq(pv_ksync_committed(e->brokers, e->group, e->jobs_topic,
                                    e->partitions, off), 0);
    committed = 0;
    for (int p = 0; p < e->partitions; p++)
      committed += off[p] > 0 ? off[p] : 0;
    if (committed != records)
      pv_te_sleep_ms(200);
  }
  cr_assert_eq(committed, records, "committed offsets cover %lld of %lld "
               "records", committed, records);
  long long t0 = mono_ms();
  int st = pv_proc_stop(e->worker, SIGTERM, 60000);
  long long took = mono_ms() - t0;
  e->worker = 0;
  cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "exit status %d", st);
  cr_assert_lt(took, 10000, "SIGTERM took %lld ms: it must not wait out the "
               "drain timeout", took);
  char log[600];
  *next = pv_e2e_spawn_worker(e, worker_id, NULL, log, sizeof(log));
  cr_assert(pv_proc_wait_for_text(log, "\"event\":\"kafka.partition_assigned\"",
                                  30000), "no assignment; see %s", log);
  pv_te_sleep_ms(3000);
  cr_assert_eq(pv_te_count_text(log, "\"event\":\"job."), 0,
               "the next worker saw records again; see %s", log);
}

void pv_te_produce_health_checks(pv_e2e_t *e, const char *prefix, int n,
                                 int keys, bool both_tenants)
{
  for (int i = 0; i < n; i++) {
    char id[160], key[32];
    snprintf(id, sizeof(id), "%s%05d", prefix, i);
    snprintf(key, sizeof(key), "key-%d", i % keys);
    json_t *j = json_pack("{s:i,s:s,s:s,s:s,s:s}", "v", 1, "id", id,
                          "tenant", both_tenants && i % 2 ? "isp-west"
                                                          : "isp-east",
                          "service", "voltha", "op", "health_check");
    pv_e2e_produce_job(e, key, j, false, NULL);
    json_decref(j);
  }
}

long long pv_te_sim_last_seq(const char *base)
{
  char url[512];
  snprintf(url, sizeof(url), "%s/_sim/stats", base);
  json_t *st = pv_e2e_http_get_json(url);
  cr_assert_not_null(st, "GET %s failed", url);
  long long seq = json_integer_value(json_object_get(st, "last_seq"));
  json_decref(st);
  return seq;
}

json_t *pv_te_sim_requests(const char *base, long long since)
{
  json_t *all = json_array();
  /* bounded: the log keeps at most 100000 entries, 10000 per page */
  for (int page = 0; page < 20; page++) {
    char url[512];
    snprintf(url, sizeof(url), "%s/_sim/requests?since=%lld&limit=10000",
             base, since);
    json_t *list = pv_e2e_http_get_json(url);
    cr_assert(json_is_array(list), "GET %s failed", url);
    size_t n = json_array_size(list);
    if (n)
      since = json_integer_value(
          json_object_get(json_array_get(list, n - 1), "seq"));
    json_array_extend(all, list);
    json_decref(list);
    if (n < 10000)
      break;
  }
  return all;
}

static size_t discard(char *p, size_t s, size_t n, void *u)
{
  (void)p;
  (void)u;
  return s * n;
}

void pv_te_sim_faults(const char *base, const char *body)
{
  char url[512];
  snprintf(url, sizeof(url), "%s/_sim/faults", base);
  CURL *h = curl_easy_init();
  cr_assert_not_null(h);
  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, body ? "PUT" : "DELETE");
  if (body)
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 10000L);
  CURLcode rc = curl_easy_perform(h);
  long code = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
  curl_easy_cleanup(h);
  cr_assert(rc == CURLE_OK && code == 200, "%s %s: curl %d, HTTP %ld",
            body ? "PUT" : "DELETE", url, (int)rc, code);
}

void pv_te_config_with(pv_e2e_t *e, char *path_buf, size_t path_len,
                       const char *extra)
{
  FILE *in = fopen(e->config, "r");
  cr_assert_not_null(in, "cannot read %s", e->config);
  int n = snprintf(path_buf, path_len, "%s/tests/logs/e2e-%s.conf",
                   pv_test_build_dir(), e->suffix);
  cr_assert(n > 0 && (size_t)n < path_len);
  FILE *out = fopen(path_buf, "w");
  cr_assert_not_null(out, "cannot write %s", path_buf);
  char chunk[4096];
  size_t r;
  while ((r = fread(chunk, 1, sizeof(chunk), in)) > 0)
    cr_assert_eq(fwrite(chunk, 1, r, out), r);
  fclose(in);
  /* inih lets a section appear again: these keys join [kafka] etc. */
  fprintf(out, "\n; added by the engine tests\n%s\n", extra);
  cr_assert_eq(fclose(out), 0);
  e->config = path_buf;
}

char *pv_te_slurp(const char *path)
{
  FILE *f = fopen(path, "r");
  if (!f)
    return NULL;
  char *buf = NULL;
  size_t len = 0;
  FILE *m = open_memstream(&buf, &len);
  cr_assert_not_null(m);
  char chunk[4096];
  size_t n;
  while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
    fwrite(chunk, 1, n, m);
  fclose(f);
  fclose(m);
  return buf;
}

int pv_te_count_text(const char *path, const char *needle)
{
  char *s = pv_te_slurp(path);
  int n = 0;
  for (const char *p = s; p && (p = strstr(p, needle)); p += strlen(needle))
    n++;
  free(s);
  return n;
}

long long pv_te_log_field(const char *path, const char *event,
                          const char *field)
{
  char *s = pv_te_slurp(path);
  char ev[160], fl[96];
  snprintf(ev, sizeof(ev), "\"event\":\"%s\"", event);
  snprintf(fl, sizeof(fl), "\"%s\":", field);
  long long v = -1;
  const char *line = s ? strstr(s, ev) : NULL;
  if (line) {
    const char *eol = strchr(line, '\n');
    const char *f = strstr(line, fl);
    if (f && (!eol || f < eol))
      v = strtoll(f + strlen(fl), NULL, 10);
  }
  free(s);
  return v;
}
