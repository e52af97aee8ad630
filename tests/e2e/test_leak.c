/*
 * A NetBox that echoes the caller's token (issue 13): two tenants, one
 * with a v1 token and one with a v2 token, point at a server that quotes
 * the Authorization value in the 15 ways of tests/support/leak.h (body
 * detail, other JSON fields, field errors, the status line, plain text,
 * the v2 key and secret halves alone, percent-encoded, JSON-escaped,
 * base64, upper case, a 500 page, a success body, a bulk answer), each as
 * itself and as a 502 (so the job dies and is dead-lettered). No spelling
 * of either token may reach a reply, a job_status row (error_message,
 * errors, result), a dead letter's headers, the worker's log, `provctl
 * status` or `provctl jobs --json`.
 */
#include "tests/e2e/test_engine_util.h"
#include "tests/e2e/worker_harness.h"
#include "tests/support/echosrv.h"
#include "tests/support/leak.h"
#include "tests/support/proc.h"
#include "tests/support/testenv.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static pv_e2e_t E;
static pv_echo_t *echo;

static void teardown(void)
{
  pv_e2e_teardown(&E);
  pv_echo_stop(echo);
  echo = NULL;
}

TestSuite(leak, .fini = teardown, .timeout = 240);

#define JOBS (2 * PV_LEAK_PATTERNS) /* per tenant */

/* Tenants named after the run, so `provctl jobs --tenant` lists this
 * run's jobs only. */
static struct {
  char tenant[64];
  const char *auth;
} T[] = {
  {"", "Token " PV_LEAK_TOKEN_V1},
  {"", "Bearer " PV_LEAK_TOKEN_V2},
};

static void assert_no_leak(const char *where, const char *text)
{
  for (size_t t = 0; t < 2; t++) {
    const char *which = NULL;
    cr_assert(!pv_leak_found(text, T[t].auth, &which),
              "%s of %s holds %s: %.600s", where, T[t].tenant, which, text);
  }
}

/* provctl's standard output and error for args (NULL-terminated). */
static char *provctl(const char *const *args)
{
  char bin[512], outp[600];
  snprintf(bin, sizeof(bin), "%s/provctl", pv_test_build_dir());
  snprintf(outp, sizeof(outp), "%s/tests/logs/provctl-leak-%s.out",
           pv_test_build_dir(), E.suffix);
  unlink(outp);
  const char *argv[16] = {bin};
  size_t n = 1;
  for (; args[n - 1] && n < 15; n++)
    argv[n] = args[n - 1];
  argv[n] = NULL;
  char conf[700];
  snprintf(conf, sizeof(conf), "PROVISIOND_CONFIG=%s", E.config);
  /* the config names the tokens' variables */
  const char *env[] = {conf, "PV_TEST_LEAK_V1=" PV_LEAK_TOKEN_V1,
                       "PV_TEST_LEAK_V2=" PV_LEAK_TOKEN_V2, NULL};
  pid_t pid = pv_proc_start(argv, env, outp);
  cr_assert_gt(pid, 0, "cannot start %s", bin);
  int st = 0;
  cr_assert_eq(waitpid(pid, &st, 0), pid);
  cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "provctl %s: status %d",
            args[0], st);
  char *out = pv_te_slurp(outp);
  cr_assert_not_null(out);
  return out;
}

Test(leak, echoed_tokens_reach_no_reply_row_dead_letter_log_or_provctl)
{
  echo = pv_echo_start(pv_leak_answer, NULL);
  pv_e2e_setup(&E, 2);
  for (size_t t = 0; t < 2; t++) {
    int w = snprintf(T[t].tenant, sizeof(T[t].tenant), "leak-v%zu-%.40s",
                     t + 1, E.suffix);
    cr_assert(w > 0 && (size_t)w < sizeof(T[t].tenant));
  }
  char ini[1024];
  snprintf(ini, sizeof(ini),
           "[tenant.%s]\nnetbox_url = http://127.0.0.1:%d\n"
           "netbox_token_env = PV_TEST_LEAK_V1\n"
           "[tenant.%s]\nnetbox_url = http://127.0.0.1:%d\n"
           "netbox_token_env = PV_TEST_LEAK_V2\n",
           T[0].tenant, pv_echo_port(echo), T[1].tenant, pv_echo_port(echo));
  pv_e2e_config_append(&E, ini);
  /* One attempt per request and no breaker in the way: every job's answer
   * is the echo of its own pattern. */
  const char *env[] = {"PV_TEST_LEAK_V1=" PV_LEAK_TOKEN_V1,
                       "PV_TEST_LEAK_V2=" PV_LEAK_TOKEN_V2,
                       "PROVISIOND_HTTP_RETRY_MAX_ATTEMPTS=1",
                       "PROVISIOND_HTTP_BREAKER_FAIL_MAX=100000",
                       "PROVISIOND_WORKER_LOG_LEVEL=debug", NULL};
  pv_e2e_start_worker(&E, "e2e-leak", env);

  char prefix[96];
  snprintf(prefix, sizeof(prefix), "L%s-", E.suffix);
  for (size_t t = 0; t < 2; t++) {
    for (int n = 0; n < JOBS; n++) {
      char id[160];
      snprintf(id, sizeof(id), "%s%zu-%d", prefix, t, n);
      json_t *j = json_pack("{s:i,s:s,s:s,s:s,s:s,s:i,s:{s:i}}", "v", 1, "id",
                            id, "tenant", T[t].tenant, "service", "netbox",
                            "op", "get_device", "max_attempts", 1, "args",
                            "id", 2 * PV_LEAK_PATTERNS + n); /* ids >= 1 */
      pv_e2e_produce_job(&E, id, j, n % 2 == 0, NULL);
      json_decref(j);
    }
  }
  const int total = 2 * JOBS;
  cr_assert_eq(pv_te_wait_final(&E, prefix, total, 90000), total,
               "every job must end; see %s", E.worker_log);
  cr_assert_geq(pv_echo_requests(echo), total, "every job reached the echo");

  /* the outcomes the patterns call for: the echo was really exercised */
  cr_assert_eq(pv_te_sql_ll(&E, "SELECT count(*) FROM job_status WHERE "
                                "job_id LIKE $1 || '%' AND state = "
                                "'succeeded'", prefix), 2);
  cr_assert_eq(pv_te_sql_ll(&E, "SELECT count(*) FROM job_status WHERE "
                                "job_id LIKE $1 || '%' AND state = 'dead'",
                            prefix), 2 * (PV_LEAK_PATTERNS + 1));

  /* rows */
  for (size_t t = 0; t < 2; t++) {
    for (int n = 0; n < JOBS; n++) {
      char id[160];
      snprintf(id, sizeof(id), "%s%zu-%d", prefix, t, n);
      char *row = pv_e2e_sql_value(&E,
          "SELECT concat_ws(' | ', error_message, errors::text, result::text)"
          " FROM job_status WHERE job_id = $1", id);
      cr_assert_not_null(row, "%s has no row", id);
      assert_no_leak("job_status", row);
      free(row);
      char *st = provctl((const char *const[]){"status", id, NULL});
      assert_no_leak("provctl status", st);
      free(st);
    }
    char *list = provctl((const char *const[]){"jobs", "--tenant", T[t].tenant,
                                              "--limit", "1000", "--json",
                                              NULL});
    cr_assert_not_null(strstr(list, prefix), "provctl jobs lists them");
    assert_no_leak("provctl jobs --json", list);
    free(list);
  }

  /* replies */
  json_t *replies = pv_e2e_collect_replies(&E, (size_t)total, 60000);
  cr_assert_eq(json_object_size(replies), (size_t)total);
  const char *rid;
  json_t *r;
  json_object_foreach(replies, rid, r) {
    char *s = json_dumps(r, JSON_COMPACT);
    assert_no_leak("a reply", s);
    free(s);
  }
  json_decref(replies);

  /* dead letters: every header (x-dlq-error above all) and the value */
  pv_ksync_consumer_t *c = pv_ksync_consumer_new(E.brokers, E.dlq_topic);
  cr_assert_not_null(c);
  int dead = 0;
  for (pv_ksync_msg_t *m; dead < 2 * (PV_LEAK_PATTERNS + 1) &&
                          (m = pv_ksync_consume(c, 30000)) != NULL;) {
    dead++;
    cr_assert_not_null(pv_ksync_msg_header(m, "x-dlq-error"));
    for (size_t h = 0; h < m->n_headers; h++)
      if (m->hvalues[h])
        assert_no_leak(m->hnames[h], m->hvalues[h]);
    pv_ksync_msg_destroy(m);
  }
  pv_ksync_consumer_destroy(c);
  cr_assert_eq(dead, 2 * (PV_LEAK_PATTERNS + 1));

  /* the worker's log, debug lines included */
  char *log = pv_te_slurp(E.worker_log);
  cr_assert_not_null(log);
  cr_assert_not_null(strstr(log, "[REDACTED]"), "the echoes were logged, "
                     "redacted; see %s", E.worker_log);
  assert_no_leak("the worker log", log);
  free(log);
}
