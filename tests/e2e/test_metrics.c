/*
 * Metrics and health: the exposition text parses (a strict parser below),
 * label values are escaped and bounded, the counters scraped during an
 * end-to-end run match the jobs processed, the transport logs the job's
 * traceparent, and /readyz follows PostgreSQL going away and coming back.
 */
#include "tests/e2e/worker_harness.h"
#include "tests/support/proc.h"
#include "tests/support/testenv.h"
#include "worker/metrics.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <ctype.h>
#include <fcntl.h>
#include <curl/curl.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- a small, strict parser of the Prometheus text format --------------- */

#define MAX_SAMPLES 4096
#define MAX_LBL 8

typedef struct sample {
  char name[128];
  int n;
  char key[MAX_LBL][64];
  char val[MAX_LBL][256];
  double value;
} sample_t;

typedef struct scrape {
  sample_t *s;
  size_t n;
  char err[256];
} scrape_t;

static bool name_ok(const char *p, size_t len, bool colon)
{
  if (!len || !(isalpha((unsigned char)p[0]) || p[0] == '_' ||
                (colon && p[0] == ':')))
    return false;
  for (size_t i = 1; i < len; i++)
    if (!(isalnum((unsigned char)p[i]) || p[i] == '_' || (colon && p[i] == ':')))
      return false;
  return true;
}

/* The family a sample belongs to (histogram suffixes removed). */
static void family_of(const char *name, char *out, size_t size)
{
  static const char *const sfx[] = {"_bucket", "_sum", "_count"};
  snprintf(out, size, "%s", name);
  for (size_t i = 0; i < 3; i++) {
    size_t l = strlen(out), sl = strlen(sfx[i]);
    if (l > sl && !strcmp(out + l - sl, sfx[i])) {
      out[l - sl] = '\0';
      return;
    }
  }
}

/* @returns 0, or -1 with sc->err naming the line. */
static int parse_exposition(const char *text, scrape_t *sc)
{
  sc->s = calloc(MAX_SAMPLES, sizeof(sample_t));
  sc->n = 0;
  char typed[512][128];
  size_t ntyped = 0;
  int lineno = 0;
  const char *p = text;
  while (*p) {
    lineno++;
    const char *eol = strchr(p, '\n');
    if (!eol) {
      snprintf(sc->err, sizeof(sc->err), "line %d: no final newline", lineno);
      return -1;
    }
    char line[2048];
    size_t len = (size_t)(eol - p);
    if (len >= sizeof(line)) {
      snprintf(sc->err, sizeof(sc->err), "line %d: too long", lineno);
      return -1;
    }
    memcpy(line, p, len);
    line[len] = '\0';
    p = eol + 1;
    if (!len)
      continue;
    if (line[0] == '#') {
      char fam[128], kind[32];
      if (sscanf(line, "# TYPE %127s %31s", fam, kind) == 2) {
        if (strcmp(kind, "counter") && strcmp(kind, "gauge") &&
            strcmp(kind, "histogram") && strcmp(kind, "summary")) {
          snprintf(sc->err, sizeof(sc->err), "line %d: bad type %s", lineno,
                   kind);
          return -1;
        }
        for (size_t i = 0; i < ntyped; i++)
          if (!strcmp(typed[i], fam)) {
            snprintf(sc->err, sizeof(sc->err), "line %d: %s typed twice",
                     lineno, fam);
            return -1;
          }
        if (ntyped < 512)
          snprintf(typed[ntyped++], sizeof(typed[0]), "%s", fam);
      } else if (strncmp(line, "# HELP ", 7) != 0) {
        snprintf(sc->err, sizeof(sc->err), "line %d: unknown comment",
                 lineno);
        return -1;
      }
      continue;
    }
    if (sc->n >= MAX_SAMPLES) {
      snprintf(sc->err, sizeof(sc->err), "more than %d samples", MAX_SAMPLES);
      return -1;
    }
    sample_t *s = &sc->s[sc->n];
    memset(s, 0, sizeof(*s));
    const char *q = line;
    size_t nl = strcspn(q, "{ ");
    if (nl >= sizeof(s->name) || !name_ok(q, nl, true)) {
      snprintf(sc->err, sizeof(sc->err), "line %d: bad metric name", lineno);
      return -1;
    }
    memcpy(s->name, q, nl);
    q += nl;
    if (*q == '{') {
      q++;
      while (*q != '}') {
        size_t kl = strcspn(q, "=");
        if (s->n >= MAX_LBL || kl >= sizeof(s->key[0]) || !name_ok(q, kl, false)
            || q[kl] != '=' || q[kl + 1] != '"') {
          snprintf(sc->err, sizeof(sc->err), "line %d: bad label name",
                   lineno);
          return -1;
        }
        memcpy(s->key[s->n], q, kl);
        q += kl + 2;
        size_t vl = 0;
        while (*q != '"') {
          char c = *q;
          if (!c || c == '\n') {
            snprintf(sc->err, sizeof(sc->err), "line %d: unterminated value",
                     lineno);
            return -1;
          }
          if (c == '\\') {
            q++;
            if (*q == 'n')
              c = '\n';
            else if (*q == '\\' || *q == '"')
              c = *q;
            else {
              snprintf(sc->err, sizeof(sc->err), "line %d: bad escape \\%c",
                       lineno, *q);
              return -1;
            }
          }
          if (vl + 1 >= sizeof(s->val[0])) {
            snprintf(sc->err, sizeof(sc->err), "line %d: value too long",
                     lineno);
            return -1;
          }
          s->val[s->n][vl++] = c;
          q++;
        }
        q++;
        s->n++;
        if (*q == ',')
          q++;
        else if (*q != '}') {
          snprintf(sc->err, sizeof(sc->err), "line %d: want , or }", lineno);
          return -1;
        }
      }
      q++;
    }
    if (*q != ' ') {
      snprintf(sc->err, sizeof(sc->err), "line %d: want a space", lineno);
      return -1;
    }
    q++;
    char *end = NULL;
    if (!strcmp(q, "+Inf"))
      s->value = INFINITY;
    else if (!strcmp(q, "NaN"))
      s->value = NAN;
    else {
      s->value = strtod(q, &end);
      if (end == q || *end) {
        snprintf(sc->err, sizeof(sc->err), "line %d: bad value \"%s\"",
                 lineno, q);
        return -1;
      }
    }
    char fam[128];
    family_of(s->name, fam, sizeof(fam));
    bool ok = false;
    for (size_t i = 0; i < ntyped && !ok; i++)
      ok = !strcmp(typed[i], fam) || !strcmp(typed[i], s->name);
    if (!ok) {
      snprintf(sc->err, sizeof(sc->err), "line %d: %s has no TYPE before it",
               lineno, s->name);
      return -1;
    }
    sc->n++;
  }
  return 0;
}

static const char *label(const sample_t *s, const char *k)
{
  for (int i = 0; i < s->n; i++)
    if (!strcmp(s->key[i], k))
      return s->val[i];
  return NULL;
}

/* Sum of the samples named name whose labels include every pair in
 * kv ("k", "v", ..., NULL). -1 when none matches. */
static double sum_of(const scrape_t *sc, const char *name,
                     const char *const *kv)
{
  double sum = -1;
  for (size_t i = 0; i < sc->n; i++) {
    const sample_t *s = &sc->s[i];
    if (strcmp(s->name, name))
      continue;
    bool match = true;
    for (size_t j = 0; kv && kv[j] && match; j += 2) {
      const char *v = label(s, kv[j]);
      match = v && !strcmp(v, kv[j + 1]);
    }
    if (match)
      sum = (sum < 0 ? 0 : sum) + s->value;
  }
  return sum;
}

/* ---- HTTP ---------------------------------------------------------------- */

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
  char **buf = ud;
  size_t old = *buf ? strlen(*buf) : 0, add = size * n;
  if (old + add > (32u << 20))
    return 0;
  char *nb = realloc(*buf, old + add + 1);
  if (!nb)
    return 0;
  memcpy(nb + old, p, add);
  nb[old + add] = '\0';
  *buf = nb;
  return add;
}

/* @returns the body (free it) and *status, or NULL when nothing answered. */
static char *http_get(const char *url, long *status)
{
  CURL *c = curl_easy_init();
  cr_assert_not_null(c);
  char *body = NULL;
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  CURLcode rc = curl_easy_perform(c);
  *status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
  curl_easy_cleanup(c);
  if (rc != CURLE_OK) {
    free(body);
    return NULL;
  }
  return body ? body : strdup("");
}




static void scrape(const char *base, scrape_t *sc)
{
  char url[256];
  long st;
  snprintf(url, sizeof(url), "%s/metrics", base);
  char *text = http_get(url, &st);
  cr_assert_not_null(text, "GET %s failed", url);
  cr_assert_eq(st, 200);
  int rc = parse_exposition(text, sc);
  cr_assert_eq(rc, 0, "exposition does not parse: %s", sc->err);
  free(text);
}

/* ---- the stack's PostgreSQL ----------------------------------------------- */

static bool pg_stopped;

static int run_cmd(const char *const *argv)
{
  pid_t pid = fork();
  if (pid == 0) {
    int fd = open("/dev/null", O_WRONLY);
    if (fd >= 0) {
      dup2(fd, 1);
      close(fd);
    }
    char *args[32];
    size_t n = 0;
    for (; argv[n] && n < 31; n++)
      args[n] = strdup(argv[n]); /* execvp takes non-const strings */
    args[n] = NULL;
    execvp(args[0], args);
    _exit(127);
  }
  int status = -1;
  if (pid < 0 || waitpid(pid, &status, 0) != pid)
    return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int pg_ctl(bool start)
{
  const char *dir = pv_test_require_env("PV_STACK_DIR");
  const char *conn = pv_test_require_env("PROVISIOND_PG");
  const char *pp = strstr(conn, "port=");
  cr_assert_not_null(pp, "PROVISIOND_PG has no port=");
  long port = strtol(pp + 5, NULL, 10);
  cr_assert(port > 0 && port < 65536, "PROVISIOND_PG port");
  char data[512], log[512], opts[1024];
  snprintf(data, sizeof(data), "%s/pg", dir);
  snprintf(log, sizeof(log), "%s/logs/postgres.log", dir);
  /* The same settings stack.sh starts it with. */
  snprintf(opts, sizeof(opts),
           "-c listen_addresses=127.0.0.1 -c port=%d -c "
           "unix_socket_directories=%s/run -c fsync=off -c "
           "synchronous_commit=off -c full_page_writes=off -c "
           "max_connections=200",
           (int)port, dir);
  const char *pgctl = "/usr/lib/postgresql/15/bin/pg_ctl";
  if (start) {
    const char *argv[] = {"runuser", "-u", "postgres", "--", pgctl, "start",
                          "-D", data, "-l", log, "-w", "-t", "60", "-o", opts,
                          NULL};
    return run_cmd(argv);
  }
  const char *argv[] = {"runuser", "-u", "postgres", "--", pgctl, "stop",
                        "-D", data, "-m", "fast", "-w", "-t", "30", NULL};
  return run_cmd(argv);
}

/* ---- suite ---------------------------------------------------------------- */

static pv_e2e_t E;

static void teardown(void)
{
  if (pg_stopped) {
    pg_ctl(true);
    pg_stopped = false;
  }
  pv_e2e_teardown(&E);
}

TestSuite(metrics, .fini = teardown, .timeout = 150);

Test(metrics, exposition_parses_labels_escaped_and_bounded)
{
  const char *weird = "we\"ird\\ten\nant";
  const char *tenants[] = {"isp-east", weird};
  pv_metrics_t *m = pv_metrics_new(tenants, 2);
  pv_job_event_t ev = {.kind = PV_JOB_EV_RECEIVED, .tenant = weird,
                       .service = "voltha", .op = "health_check"};
  pv_metrics_on_job(&ev, m);
  ev.kind = PV_JOB_EV_FINISHED;
  ev.state = "succeeded";
  ev.duration_ms = 1500;
  pv_metrics_on_job(&ev, m);
  /* a tenant nobody configured, an op not in the catalog, a job id where a
   * state belongs: all folded to "unknown" */
  pv_job_event_t bad = {.kind = PV_JOB_EV_FINISHED, .tenant = "job-123-x",
                        .service = "voltha", .op = "rm -rf",
                        .state = "job-123-state", .error_class = "nonsense"};
  pv_metrics_on_job(&bad, m);
  pv_http_attempt_t a = {.service = "voltha", .tenant = "isp-east",
                         .op = "health_check", .method = "GET", .status = 503,
                         .cls = PV_ERR_HTTP_5XX, .duration_ms = 20,
                         .attempt = 1, .will_retry = true};
  pv_metrics_on_attempt(&a, m);
  a.will_retry = false;
  a.budget_refused = true;
  pv_metrics_on_attempt(&a, m);

  pv_buf_t out;
  pv_buf_init(&out, 1 << 20);
  cr_assert_eq(pv_metrics_render(m, &out), 0);
  cr_assert(strstr(out.data, "tenant=\"we\\\"ird\\\\ten\\nant\""),
            "quote, backslash and newline escaped:\n%s", out.data);
  scrape_t sc = {0};
  cr_assert_eq(parse_exposition(out.data, &sc), 0, "%s\n%s", sc.err, out.data);
  const char *kv[] = {"tenant", weird, "state", "succeeded", NULL};
  cr_assert_eq(sum_of(&sc, "provisiond_jobs_finished_total", kv), 1,
               "the escaped value reads back as the tenant's name");
  const char *unk[] = {"tenant", "unknown", "op", "unknown", "state",
                       "unknown", NULL};
  cr_assert_eq(sum_of(&sc, "provisiond_jobs_finished_total", unk), 1);
  const char *unkc[] = {"error_class", "unknown", NULL};
  cr_assert_eq(sum_of(&sc, "provisiond_job_errors_total", unkc), 1);
  for (size_t i = 0; i < sc.n; i++)
    for (int j = 0; j < sc.s[i].n; j++)
      cr_assert_null(strstr(sc.s[i].val[j], "job-123"),
                     "an unbounded value became a label: %s", sc.s[i].name);
  const char *so[] = {"service", "voltha", "op", "health_check", "le", "1",
                      NULL};
  cr_assert_eq(sum_of(&sc, "provisiond_job_duration_seconds_bucket", so), 0,
               "1.5 s is not <= 1");
  so[5] = "2.5";
  cr_assert_eq(sum_of(&sc, "provisiond_job_duration_seconds_bucket", so), 1);
  const char *r[] = {"tenant", "isp-east", NULL};
  cr_assert_eq(sum_of(&sc, "provisiond_http_retries_total", r), 1);
  cr_assert_eq(sum_of(&sc, "provisiond_http_retry_budget_refused_total", r), 1);
  const char *c5[] = {"code", "5xx", "outcome", "http_5xx", NULL};
  cr_assert_eq(sum_of(&sc, "provisiond_http_attempts_total", c5), 2);
  free(sc.s);
  pv_buf_free(&out);
  pv_metrics_destroy(m);
}

static json_t *job(const char *id, const char *tenant, const char *op)
{
  return json_pack("{s:i,s:s,s:s,s:s,s:s}", "v", 1, "id", id, "tenant", tenant,
                   "service", "voltha", "op", op);
}

Test(metrics, counters_match_the_jobs_processed)
{
  pv_e2e_setup(&E, 4);
  char listen[64], base[96], lenv[128];
  int port = pv_test_free_port();
  snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
  snprintf(base, sizeof(base), "http://%s", listen);
  snprintf(lenv, sizeof(lenv), "PROVISIOND_WORKER_METRICS_LISTEN=%s", listen);
  const char *env[] = {lenv, "PROVISIOND_WORKER_LOG_LEVEL=debug", NULL};
  pv_e2e_start_worker(&E, "e2e-metrics", env);

  enum { EAST = 5, WEST = 3 };
  char id[96];
  for (int i = 0; i < EAST; i++) {
    snprintf(id, sizeof(id), "job-%s-e%d", E.suffix, i);
    json_t *j = job(id, "isp-east", "health_check");
    pv_e2e_produce_job(&E, id, j, false, NULL);
    json_decref(j);
  }
  for (int i = 0; i < WEST; i++) {
    snprintf(id, sizeof(id), "job-%s-w%d", E.suffix, i);
    json_t *j = job(id, "isp-west", "health_check");
    /* the last one carries a trace context the transport must forward */
    const char *tp[] = {"traceparent",
                        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                        NULL};
    pv_e2e_produce_job(&E, id, j, false, i == WEST - 1 ? tp : NULL);
    json_decref(j);
  }
  snprintf(id, sizeof(id), "job-%s-nt", E.suffix);
  json_t *j = job(id, "isp-nowhere", "health_check");
  pv_e2e_produce_job(&E, NULL, j, false, NULL);
  json_decref(j);
  snprintf(id, sizeof(id), "job-%s-no", E.suffix);
  j = job(id, "isp-east", "no_such_op");
  pv_e2e_produce_job(&E, NULL, j, false, NULL);
  json_decref(j);
  static const char garbage[] = "\xc1 not msgpack";
  cr_assert_eq(pv_ksync_produce(E.producer, E.jobs_topic, "junk", garbage,
                                sizeof(garbage) - 1, NULL), 0);

  json_t *replies = pv_e2e_collect_replies(&E, EAST + WEST + 2, 60000);
  cr_assert_eq(json_object_size(replies), EAST + WEST + 2, "see %s",
               E.worker_log);
  json_decref(replies);

  /* Counters move when the outcome is durable and published; replies can
   * be read a moment before. Poll until the totals settle. */
  const char *east[] = {"tenant", "isp-east", "service", "voltha", "op",
                        "health_check", "state", "succeeded", NULL};
  const char *west[] = {"tenant", "isp-west", "service", "voltha", "op",
                        "health_check", "state", "succeeded", NULL};
  const char *inv[] = {"error_class", "invalid_job", NULL};
  scrape_t sc = {0};
  int64_t until = pv_test_now_ms() + 30000;
  for (;;) {
    scrape(base, &sc);
    if ((sum_of(&sc, "provisiond_jobs_finished_total", east) == EAST &&
         sum_of(&sc, "provisiond_jobs_finished_total", west) == WEST &&
         sum_of(&sc, "provisiond_job_errors_total", inv) == 1) ||
        pv_test_now_ms() > until)
      break;
    free(sc.s);
    pv_test_sleep_ms(200);
  }
  cr_assert_eq(sum_of(&sc, "provisiond_jobs_finished_total", east), EAST);
  cr_assert_eq(sum_of(&sc, "provisiond_jobs_finished_total", west), WEST);
  const char *rx[] = {"tenant", "isp-east", "service", "voltha", "op",
                      "health_check", NULL};
  cr_assert_eq(sum_of(&sc, "provisiond_jobs_received_total", rx), EAST);
  cr_assert_eq(sum_of(&sc, "provisiond_jobs_started_total", rx), EAST);
  const char *any_fail[] = {"state", "failed", NULL};
  cr_assert_eq(sum_of(&sc, "provisiond_jobs_finished_total", any_fail), -1,
               "no job failed");
  const char *nt[] = {"tenant", "unknown", "error_class", "unknown_tenant",
                      NULL};
  cr_assert_eq(sum_of(&sc, "provisiond_job_errors_total", nt), 1,
               "an unconfigured tenant is folded into \"unknown\"");
  const char *no[] = {"tenant", "isp-east", "op", "unknown", "error_class",
                      "unknown_op", NULL};
  cr_assert_eq(sum_of(&sc, "provisiond_job_errors_total", no), 1,
               "an op outside the catalog is folded into \"unknown\"");
  cr_assert_eq(sum_of(&sc, "provisiond_job_errors_total", inv), 1);
  const char *hc[] = {"service", "voltha", "op", "health_check", NULL};
  cr_assert_eq(sum_of(&sc, "provisiond_job_duration_seconds_count", hc),
               EAST + WEST);
  const char *hcinf[] = {"service", "voltha", "op", "health_check", "le",
                         "+Inf", NULL};
  cr_assert_eq(sum_of(&sc, "provisiond_job_duration_seconds_bucket", hcinf),
               EAST + WEST);
  const char *ok[] = {"service", "voltha", "op", "health_check", "outcome",
                      "ok", "code", "2xx", NULL};
  cr_assert_geq(sum_of(&sc, "provisiond_http_attempts_total", ok), EAST + WEST,
                "every successful job made at least one 2xx attempt");
  cr_assert_eq(sum_of(&sc, "provisiond_http_attempt_duration_seconds_count",
                      hc),
               sum_of(&sc, "provisiond_http_attempts_total", hc));
  const char *closed[] = {"service", "voltha", "tenant", "isp-east", "state",
                          "closed", NULL};
  cr_assert_eq(sum_of(&sc, "provisiond_breaker_state", closed), 1);
  cr_assert_eq(sum_of(&sc, "provisiond_pg_connected", NULL), 1);
  cr_assert_gt(sum_of(&sc, "provisiond_pg_query_seconds_count", NULL), 0);
  cr_assert_eq(sum_of(&sc, "provisiond_jobs_in_flight", NULL), 0);
  /* a lag gauge per partition of the jobs topic; all read, so 0 */
  const char *topic[] = {"topic", E.jobs_topic, NULL};
  double lag = -1;
  size_t parts = 0;
  for (size_t i = 0; i < sc.n; i++)
    if (!strcmp(sc.s[i].name, "provisiond_kafka_consumer_lag") &&
        !strcmp(label(&sc.s[i], "topic"), E.jobs_topic))
      parts++;
  lag = sum_of(&sc, "provisiond_kafka_consumer_lag", topic);
  cr_assert_eq(parts, (size_t)E.partitions, "one lag gauge per partition");
  cr_assert_eq(lag, 0, "every record was read and finished");
  cr_assert_eq(sum_of(&sc, "provisiond_kafka_partition_paused", topic), 0);
  /* no job id in any label (topic names carry the suffix, job ids are
   * "job-<suffix>-...") */
  char jobprefix[96];
  snprintf(jobprefix, sizeof(jobprefix), "job-%s", E.suffix);
  for (size_t i = 0; i < sc.n; i++)
    for (int k = 0; k < sc.s[i].n; k++)
      cr_assert_null(strstr(sc.s[i].val[k], jobprefix),
                     "%s has a job id in label %s", sc.s[i].name,
                     sc.s[i].key[k]);
  free(sc.s);

  /* the transport's request log carries the job's traceparent */
  cr_assert(pv_proc_wait_for_text(
                E.worker_log,
                "\"traceparent\":\"00-4bf92f3577b34da6a3ce929d0e0e4736-"
                "00f067aa0ba902b7-01\"",
                10000),
            "the forwarded traceparent is not in the request log; see %s",
            E.worker_log);
  cr_assert(pv_proc_wait_for_text(E.worker_log, "\"event\":\"http_request."
                                  "started\"", 1000));
}

static bool wait_ready(const char *base, long want, const char *needle,
                       int timeout_ms, char **last)
{
  char url[160];
  snprintf(url, sizeof(url), "%s/readyz", base);
  int64_t until = pv_test_now_ms() + timeout_ms;
  for (;;) {
    long st = 0;
    free(*last);
    *last = http_get(url, &st);
    if (*last && st == want && (!needle || strstr(*last, needle)))
      return true;
    if (pv_test_now_ms() > until)
      return false;
    pv_test_sleep_ms(200);
  }
}

Test(metrics, readyz_follows_postgres)
{
  pv_e2e_setup(&E, 2);
  char listen[64], base[96], lenv[128];
  snprintf(listen, sizeof(listen), "127.0.0.1:%d", pv_test_free_port());
  snprintf(base, sizeof(base), "http://%s", listen);
  snprintf(lenv, sizeof(lenv), "PROVISIOND_WORKER_METRICS_LISTEN=%s", listen);
  const char *env[] = {lenv, NULL};
  pv_e2e_start_worker(&E, "e2e-readyz", env);
  char *body = NULL;
  long st = 0;
  char url[160];
  snprintf(url, sizeof(url), "%s/healthz", base);
  char *h = http_get(url, &st);
  cr_assert_eq(st, 200);
  cr_assert(h && strstr(h, "\"alive\":true"));
  free(h);
  cr_assert(wait_ready(base, 200, "\"ready\":true", 20000, &body),
            "not ready with the stack up: %s", body ? body : "(no answer)");

  cr_assert_eq(pg_ctl(false), 0, "pg_ctl stop failed");
  pg_stopped = true;
  cr_assert(wait_ready(base, 503, "postgres: not connected", 30000, &body),
            "/readyz did not turn unready without PostgreSQL: %s",
            body ? body : "(no answer)");
  cr_assert(strstr(body, "\"ready\":false"));
  snprintf(url, sizeof(url), "%s/healthz", base);
  h = http_get(url, &st);
  cr_assert_eq(st, 200, "the process is still alive");
  free(h);

  cr_assert_eq(pg_ctl(true), 0, "pg_ctl start failed");
  pg_stopped = false;
  cr_assert(wait_ready(base, 200, "\"ready\":true", 60000, &body),
            "/readyz did not recover with PostgreSQL back: %s",
            body ? body : "(no answer)");
  free(body);
  /* ... and SIGTERM still ends the worker cleanly */
  int status = pv_proc_stop(E.worker, SIGTERM, 30000);
  E.worker = 0;
  cr_assert(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
            "see %s", E.worker_log);
}
