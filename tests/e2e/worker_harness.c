#include "tests/e2e/worker_harness.h"

#include "common/alloc.h"
#include "common/buf.h"
#include "jobs/job.h"
#include "tests/support/proc.h"
#include "tests/support/testenv.h"
#include "db/pg.h"

#include <criterion/criterion.h>
#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void pv_e2e_setup(pv_e2e_t *e, int partitions)
{
  memset(e, 0, sizeof(*e));
  e->brokers = pv_test_require_env("PROVISIOND_KAFKA_BROKERS");
  e->pg = pv_test_require_env("PROVISIOND_PG");
  e->config = pv_test_require_env("PROVISIOND_CONFIG");
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  snprintf(e->suffix, sizeof(e->suffix), "%ld-%ld%03ld", (long)getpid(),
           (long)ts.tv_sec, ts.tv_nsec / 1000000);
  snprintf(e->jobs_topic, sizeof(e->jobs_topic), "e2e-%s.jobs", e->suffix);
  snprintf(e->dlq_topic, sizeof(e->dlq_topic), "%s.dlq", e->jobs_topic);
  snprintf(e->results_topic, sizeof(e->results_topic), "e2e-%s.results",
           e->suffix);
  snprintf(e->group, sizeof(e->group), "e2e-%s", e->suffix);
  const char *topics[] = {e->jobs_topic, e->dlq_topic, e->results_topic};
  cr_assert_eq(pv_ksync_create_topics(e->brokers, topics, 3, partitions), 0,
               "cannot create the test's topics on %s", e->brokers);
  /* Apache Kafka answers CreateTopics before every broker's metadata has
   * the topic: ask again for up to 10 s. */
  e->partitions = pv_ksync_partitions(e->brokers, e->jobs_topic);
  for (int i = 0; i < 100 && e->partitions <= 0; i++) {
    struct timespec pause = {.tv_sec = 0, .tv_nsec = 100 * 1000000L};
    nanosleep(&pause, NULL);
    e->partitions = pv_ksync_partitions(e->brokers, e->jobs_topic);
  }
  cr_assert_gt(e->partitions, 0, "topic %s has no metadata 10 s after its "
               "creation on %s", e->jobs_topic, e->brokers);
  e->producer = pv_ksync_producer_new(e->brokers);
  cr_assert_not_null(e->producer);
  char *dir = pv_asprintf("%s/tests/logs", pv_test_build_dir());
  mkdir(dir, 0755);
  int n = snprintf(e->worker_log, sizeof(e->worker_log), "%s/e2e-%s.log", dir,
                   e->suffix);
  cr_assert(n > 0 && (size_t)n < sizeof(e->worker_log), "log path too long");
  free(dir);
}

/* Starts build/provisiond on the suite's topics and group, output to log. */
static pid_t launch_worker(pv_e2e_t *e, const char *worker_id,
                           const char *const *extra_env, const char *log)
{
  char bin[512];
  snprintf(bin, sizeof(bin), "%s/provisiond", pv_test_build_dir());
  char *env[16];
  size_t n = 0;
  env[n++] = pv_asprintf("PROVISIOND_KAFKA_TOPICS=%s", e->jobs_topic);
  env[n++] = pv_asprintf("PROVISIOND_KAFKA_RESULTS_TOPIC=%s", e->results_topic);
  env[n++] = pv_asprintf("PROVISIOND_KAFKA_GROUP_ID=%s", e->group);
  env[n++] = pv_asprintf("PROVISIOND_WORKER_ID=%s", worker_id);
  env[n++] = pv_strdup("PROVISIOND_WORKER_METRICS_LISTEN=");
  for (size_t i = 0; extra_env && extra_env[i] && n < 15; i++)
    env[n++] = pv_strdup(extra_env[i]);
  env[n] = NULL;
  const char *argv[] = {bin, "-c", e->config, NULL};
  pid_t pid = pv_proc_start(argv, (const char *const *)env, log);
  for (size_t i = 0; i < n; i++)
    free(env[i]);
  cr_assert_gt(pid, 0, "cannot start %s", bin);
  return pid;
}

pid_t pv_e2e_start_worker(pv_e2e_t *e, const char *worker_id,
                          const char *const *extra_env)
{
  pid_t pid = launch_worker(e, worker_id, extra_env, e->worker_log);
  char needle[160];
  snprintf(needle, sizeof(needle), "\"event\":\"kafka.partition_assigned\"");
  cr_assert(pv_proc_wait_for_text(e->worker_log, needle, 30000),
            "worker %s got no partition within 30 s; see %s", worker_id,
            e->worker_log);
  if (!e->worker)
    e->worker = pid;
  return pid;
}

void pv_e2e_teardown(pv_e2e_t *e)
{
  if (e->worker > 0)
    pv_proc_stop(e->worker, SIGTERM, 30000);
  e->worker = 0;
  pv_ksync_producer_destroy(e->producer);
  e->producer = NULL;
}

void pv_e2e_produce_job(pv_e2e_t *e, const char *key, json_t *job, bool json,
                        const char *const *extra_headers)
{
  char *buf = NULL;
  size_t len = 0;
  cr_assert_eq(pv_doc_encode(job, json ? PV_FMT_JSON : PV_FMT_MSGPACK, &buf,
                             &len), 0);
  const char *headers[16];
  size_t n = 0;
  if (json) {
    headers[n++] = "content-type";
    headers[n++] = "application/json";
  }
  for (size_t i = 0; extra_headers && extra_headers[i] && n < 14; i++)
    headers[n++] = extra_headers[i];
  headers[n] = NULL;
  cr_assert_eq(pv_ksync_produce(e->producer, e->jobs_topic, key, buf, len,
                             headers), 0);
  free(buf);
}

json_t *pv_e2e_collect_replies(pv_e2e_t *e, size_t n, int timeout_ms)
{
  json_t *out = json_object();
  pv_ksync_consumer_t *c = pv_ksync_consumer_new(e->brokers, e->results_topic);
  cr_assert_not_null(c);
  struct timespec start, now;
  clock_gettime(CLOCK_MONOTONIC, &start);
  while (json_object_size(out) < n) {
    clock_gettime(CLOCK_MONOTONIC, &now);
    long left = timeout_ms - ((now.tv_sec - start.tv_sec) * 1000 +
                              (now.tv_nsec - start.tv_nsec) / 1000000);
    if (left <= 0)
      break;
    pv_ksync_msg_t *m = pv_ksync_consume(c, (int)left);
    if (!m)
      break;
    const char *ct = pv_ksync_msg_header(m, "content-type");
    pv_format_t fmt = ct && strstr(ct, "json") ? PV_FMT_JSON : PV_FMT_MSGPACK;
    json_t *doc = NULL;
    char err[128];
    cr_assert_eq(pv_doc_decode(m->value, m->len, fmt, &doc, err, sizeof(err)),
                 0, "reply is not decodable: %s", err);
    cr_assert_str_eq(m->key, json_string_value(json_object_get(doc, "id")),
                     "reply key must be the job id");
    const char *corr = pv_ksync_msg_header(m, "correlation-id");
    if (corr)
      json_object_set_new(doc, "_correlation_id", json_string(corr));
    json_object_set_new(out, m->key, doc);
    pv_ksync_msg_destroy(m);
  }
  pv_ksync_consumer_destroy(c);
  return out;
}

char *pv_e2e_sql_value(pv_e2e_t *e, const char *sql, const char *param)
{
  char err[256];
  pv_pg_sync_t *db = pv_pg_sync_connect(e->pg, err, sizeof(err));
  cr_assert_not_null(db, "PostgreSQL: %s", err);
  const char *params[] = {param};
  pv_pg_result_t *r = pv_pg_sync_query(db, sql, param ? 1 : 0, params);
  cr_assert(pv_pg_result_ok(r), "%s: %s", sql, pv_pg_result_error(r));
  char *v = NULL;
  if (pv_pg_result_ntuples(r) > 0 && pv_pg_result_get(r, 0, 0))
    v = pv_strdup(pv_pg_result_get(r, 0, 0));
  pv_pg_result_free(r);
  pv_pg_sync_close(db);
  return v;
}

json_t *pv_e2e_http_get_json(const char *url)
{
  FILE *mem;
  char *buf = NULL;
  size_t len = 0;
  mem = open_memstream(&buf, &len);
  CURL *h = curl_easy_init();
  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, mem);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 10000L);
  CURLcode rc = curl_easy_perform(h);
  curl_easy_cleanup(h);
  fclose(mem);
  json_t *doc = rc == CURLE_OK ? json_loadb(buf, len, 0, NULL) : NULL;
  free(buf);
  return doc;
}

void pv_e2e_config_append(pv_e2e_t *e, const char *extra_ini)
{
  FILE *in = fopen(e->config, "r");
  cr_assert_not_null(in, "cannot read %s", e->config);
  char *dir = pv_asprintf("%s/tests/logs", pv_test_build_dir());
  int n = snprintf(e->config_copy, sizeof(e->config_copy), "%s/e2e-%s.conf",
                   dir, e->suffix);
  free(dir);
  cr_assert(n > 0 && (size_t)n < sizeof(e->config_copy), "path too long");
  FILE *out = fopen(e->config_copy, "w");
  cr_assert_not_null(out, "cannot write %s", e->config_copy);
  char chunk[4096];
  size_t got;
  while ((got = fread(chunk, 1, sizeof(chunk), in)) > 0)
    cr_assert_eq(fwrite(chunk, 1, got, out), got);
  cr_assert(!ferror(in), "reading %s failed", e->config);
  fclose(in);
  /* A newline first: the copied file may not end with one. */
  cr_assert(fprintf(out, "\n; appended by the e2e harness\n%s\n", extra_ini) >
            0);
  cr_assert_eq(fclose(out), 0, "writing %s failed", e->config_copy);
  e->config = e->config_copy;
}

pid_t pv_e2e_spawn_worker(pv_e2e_t *e, const char *worker_id,
                          const char *const *extra_env, char *log_out,
                          size_t log_len)
{
  int w = snprintf(log_out, log_len, "%s/tests/logs/e2e-%s-%s.log",
                   pv_test_build_dir(), e->suffix, worker_id);
  cr_assert(w > 0 && (size_t)w < log_len, "log path too long");
  return launch_worker(e, worker_id, extra_env, log_out);
}

int pv_e2e_count_text(const char *path, const char *needle)
{
  FILE *f = fopen(path, "r");
  if (!f)
    return 0;
  pv_buf_t b;
  char chunk[4096];
  size_t n;
  pv_buf_init(&b, 64u << 20);
  while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
    if (pv_buf_append(&b, chunk, n) < 0)
      break;
  fclose(f);
  int count = 0;
  size_t nlen = strlen(needle);
  for (const char *p = b.data; p && nlen && (p = strstr(p, needle));
       p += nlen)
    count++;
  pv_buf_free(&b);
  return count;
}
