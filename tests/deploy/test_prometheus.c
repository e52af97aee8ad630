/*
 * A real Prometheus (Debian's package) scrapes a worker of the dev stack,
 * with deploy/prometheus/alerts.yml loaded: the job counter it stores is
 * the number of jobs the test ran, the worker reads as ready, every
 * alerting and recording rule evaluates without error on the worker's
 * real series, and the fleet backlog gauges (worker/metrics.c) give the
 * count and age of a parked job of a tenant only this test uses.
 *
 * Prometheus listens on 127.0.0.1:$PV_PORT_BASE+90 (the dev stack's base,
 * 25400 when unset, as in stack.sh), keeps its data in a
 * temporary directory and is stopped at the end.
 */
#include "tests/e2e/worker_harness.h"
#include "tests/support/proc.h"
#include "tests/support/testenv.h"

#include <criterion/criterion.h>
#include <curl/curl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PROM_PORT_OFFSET 90 /* from PV_PORT_BASE; stack.sh uses 32..93 sparsely */
enum { JOBS = 6 };

static pv_e2e_t E;
static pid_t prom = -1;
static char prom_dir[256];
static char parked_id[128];




static void teardown(void)
{
  if (prom > 0)
    pv_proc_stop(prom, SIGTERM, 10000);
  prom = -1;
  if (parked_id[0])
    free(pv_e2e_sql_value(&E, "DELETE FROM job_status WHERE job_id = $1 "
                              "RETURNING job_id", parked_id));
  parked_id[0] = '\0';
  if (prom_dir[0]) {
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", prom_dir);
    if (system(cmd) != 0)
      fprintf(stderr, "test_prometheus: could not remove %s\n", prom_dir);
  }
  pv_e2e_teardown(&E);
}

/* The value of an instant query's only sample, or NAN when the result
 * is empty (or holds more than one series). */
static double query(int port, const char *promql)
{
  CURL *h = curl_easy_init();
  cr_assert_not_null(h);
  char *enc = curl_easy_escape(h, promql, 0);
  char url[2048];
  snprintf(url, sizeof(url), "http://127.0.0.1:%d/api/v1/query?query=%s",
           port, enc);
  curl_free(enc);
  curl_easy_cleanup(h);
  json_t *doc = pv_e2e_http_get_json(url);
  if (!doc)
    return NAN;
  double v = NAN;
  json_t *res = json_object_get(json_object_get(doc, "data"), "result");
  if (json_array_size(res) == 1) {
    json_t *val = json_array_get(json_object_get(json_array_get(res, 0),
                                                 "value"), 1);
    if (json_is_string(val))
      v = strtod(json_string_value(val), NULL);
  }
  json_decref(doc);
  return v;
}

/* Polls an instant query until pred(value) holds or timeout_ms passes.
 * @returns the last value. */
static double query_until(int port, const char *promql, bool (*pred)(double),
                          int timeout_ms)
{
  long long until = pv_test_now_ms() + timeout_ms;
  double v;
  while (!pred(v = query(port, promql)) && pv_test_now_ms() < until)
    pv_test_sleep_ms(250);
  return v;
}

static bool is_jobs(double v) { return v == JOBS; }
static bool is_one(double v) { return v == 1; }
static bool is_num(double v) { return !isnan(v); }

TestSuite(prometheus, .fini = teardown, .timeout = 180);

Test(prometheus, scrapes_a_worker_and_counts_its_jobs)
{
  /* tests/run.sh exports the stack's base; stack.sh's default otherwise */
  const char *base_s = getenv("PV_PORT_BASE") ? getenv("PV_PORT_BASE") : "25400";
  int prom_port = atoi(base_s) + PROM_PORT_OFFSET;
  cr_assert(prom_port > 1024 && prom_port < 65536, "PV_PORT_BASE=%s", base_s);
  cr_assert_eq(access("/usr/bin/prometheus", X_OK), 0,
               "Debian's prometheus is not installed (dev/deps.sh)");

  pv_e2e_setup(&E, 2);
  /* A tenant only this test has: its backlog rows are exactly ours. */
  char tenant[96], extra[512];
  snprintf(tenant, sizeof(tenant), "prom-%s", E.suffix);
  snprintf(extra, sizeof(extra), "[tenant.%s]\nvoltha_url = %s\n", tenant,
           pv_test_require_env("SIM_VOLTHA_URL"));
  pv_e2e_config_append(&E, extra);
  int mport = pv_test_free_port();
  char lenv[96];
  snprintf(lenv, sizeof(lenv), "PROVISIOND_WORKER_METRICS_LISTEN=127.0.0.1:%d",
           mport);
  const char *env[] = {lenv, NULL};
  pv_e2e_start_worker(&E, "e2e-prometheus", env);

  char id[128];
  for (int i = 0; i < JOBS; i++) {
    snprintf(id, sizeof(id), "job-%s-%d", E.suffix, i);
    json_t *j = json_pack("{s:i,s:s,s:s,s:s,s:s}", "v", 1, "id", id, "tenant",
                          "isp-east", "service", "voltha", "op",
                          "health_check");
    pv_e2e_produce_job(&E, id, j, false, NULL);
    json_decref(j);
  }
  json_t *replies = pv_e2e_collect_replies(&E, JOBS, 60000);
  cr_assert_eq(json_object_size(replies), JOBS, "see %s", E.worker_log);
  json_decref(replies);

  /* A job parked an hour ago, due tomorrow, on no topic any worker reads:
   * nothing will run it while the test looks. */
  snprintf(parked_id, sizeof(parked_id), "prom-%s", E.suffix);
  free(pv_e2e_sql_value(
      &E,
      "INSERT INTO job_status (job_id, tenant, service, op, state, "
      "source_topic, source_partition, source_offset, payload, received_at, "
      "next_attempt_at) VALUES ($1, $1, 'voltha', 'health_check', "
      "'retry_wait', 'e2e-none', 0, 0, '\\x00', now() - interval '1 hour', "
      "now() + interval '1 day') RETURNING job_id",
      parked_id));

  snprintf(prom_dir, sizeof(prom_dir), "/tmp/pv-prometheus.%s", E.suffix);
  char cfg[512], data[512], log[512], listen[64], cfg_arg[600], data_arg[600],
      listen_arg[96];
  snprintf(cfg, sizeof(cfg), "%s/prometheus.yml", prom_dir);
  snprintf(data, sizeof(data), "%s/data", prom_dir);
  snprintf(log, sizeof(log), "%s/prometheus.log", prom_dir);
  snprintf(listen, sizeof(listen), "127.0.0.1:%d", prom_port);
  char mk[600];
  snprintf(mk, sizeof(mk), "mkdir -p '%s'", data);
  cr_assert_eq(system(mk), 0);
  FILE *f = fopen(cfg, "w");
  cr_assert_not_null(f);
  fprintf(f,
          "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
          "rule_files: ['%s/deploy/prometheus/alerts.yml']\n"
          "scrape_configs:\n"
          "  - job_name: provisiond\n"
          "    static_configs: [{targets: ['127.0.0.1:%d']}]\n",
          pv_test_source_dir(), mport);
  fclose(f);
  snprintf(cfg_arg, sizeof(cfg_arg), "--config.file=%s", cfg);
  snprintf(data_arg, sizeof(data_arg), "--storage.tsdb.path=%s", data);
  snprintf(listen_arg, sizeof(listen_arg), "--web.listen-address=%s", listen);
  const char *argv[] = {"/usr/bin/prometheus", cfg_arg, data_arg, listen_arg,
                        "--log.level=warn", NULL};
  prom = pv_proc_start(argv, NULL, log);
  cr_assert_gt(prom, 0, "prometheus did not start");

  /* The counter Prometheus stored equals the jobs the test ran. */
  double done = query_until(
      prom_port,
      "sum(provisiond_jobs_finished_total{job=\"provisiond\","
      "state=\"succeeded\"})",
      is_jobs, 30000);
  cr_assert_eq(done, JOBS, "Prometheus has %g succeeded jobs, the test ran "
               "%d (see %s)", done, JOBS, log);
  cr_assert_eq(query(prom_port, "sum(provisiond_jobs_received_total)"), JOBS);
  cr_assert_eq(query_until(prom_port, "provisiond_ready", is_one, 10000), 1,
               "the worker is not ready (see %s)", E.worker_log);

  /* The backlog gauges: our one parked job, an hour old. */
  char q[512];
  snprintf(q, sizeof(q), "provisiond_jobs_unfinished{tenant=\"%s\","
           "service=\"voltha\",state=\"retry_wait\"}", tenant);
  cr_assert_eq(query_until(prom_port, q, is_one, 30000), 1,
               "the parked job is not counted (%s)", q);
  snprintf(q, sizeof(q), "provisiond_jobs_unfinished_oldest_seconds{tenant="
           "\"%s\",service=\"voltha\",state=\"retry_wait\"}", tenant);
  double age = query_until(prom_port, q, is_num, 10000);
  cr_assert(age >= 3600 && age < 3600 + 120, "oldest parked job: %g s", age);
  snprintf(q, sizeof(q), "count(provisiond_jobs_unfinished{tenant=\"%s\"})",
           tenant);
  cr_assert_eq(query(prom_port, q), 1, "only the parked row is ours");

  /* Every rule of alerts.yml evaluated on these series without error, and
   * the worker-not-ready alert is not firing. */
  snprintf(q, sizeof(q), "http://%s/api/v1/rules", listen);
  long long until = pv_test_now_ms() + 20000;
  size_t rules = 0, evaluated = 0;
  for (;;) {
    json_t *doc = pv_e2e_http_get_json(q);
    cr_assert_not_null(doc, "GET %s", q);
    json_t *groups = json_object_get(json_object_get(doc, "data"), "groups");
    size_t gi, ri;
    json_t *g, *r;
    rules = evaluated = 0;
    json_array_foreach(groups, gi, g) {
      json_array_foreach(json_object_get(g, "rules"), ri, r) {
        rules++;
        const char *health = json_string_value(json_object_get(r, "health"));
        const char *lerr = json_string_value(json_object_get(r, "lastError"));
        cr_assert(!health || strcmp(health, "err") != 0, "rule %s: %s",
                  json_string_value(json_object_get(r, "name")),
                  lerr ? lerr : "?");
        if (health && !strcmp(health, "ok"))
          evaluated++;
      }
    }
    json_decref(doc);
    if ((rules > 0 && evaluated == rules) || pv_test_now_ms() > until)
      break;
    pv_test_sleep_ms(500);
  }
  cr_assert_geq(rules, 8, "alerts.yml loaded %zu rules", rules);
  cr_assert_eq(evaluated, rules, "%zu of %zu rules evaluated", evaluated,
               rules);
  cr_assert(isnan(query(prom_port, "ALERTS{alertname=\"ProvisiondWorkerNotReady"
                                   "\",alertstate=\"firing\"}")),
            "ProvisiondWorkerNotReady fires for a ready worker");
}
