/*
 * provctl end to end: every subcommand against the dev stack, with a
 * worker on private topics and a private simulator for fault injection
 * (so a 503 here never disturbs another suite).
 */
#include "tests/e2e/worker_harness.h"
#include "tests/support/proc.h"
#include "tests/support/simproc.h"
#include "tests/support/testenv.h"

#include "common/alloc.h"
#include "common/clock.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static pv_e2e_t E;
static pv_sim_t S;
static char conf_path[512];
/* Tenants only this run's configuration has: breaker overrides on them
 * cannot reach another suite's workers on the shared database. */
static char brk_a[96], brk_b[96];

static void teardown(void)
{
  pv_e2e_teardown(&E);
  pv_sim_stop(&S);
  if (conf_path[0])
    unlink(conf_path);
}

TestSuite(provctl, .fini = teardown, .timeout = 150);

/* A configuration like the stack's, with both tenants on the private
 * simulator (VOLTHA and GenieACS only: no NetBox secret needed). */
static void write_config(void)
{
  snprintf(conf_path, sizeof(conf_path), "%s/tests/logs/provctl-%s.conf",
           pv_test_build_dir(), E.suffix);
  FILE *f = fopen(conf_path, "w");
  cr_assert_not_null(f);
  fprintf(f, "[worker]\nlog_level = info\n\n[kafka]\nbrokers = %s\n"
             "topics = %s\nresults_topic = %s\nsession.timeout.ms = 6000\n\n"
             "[postgres]\nconninfo = %s\n\n",
          E.brokers, E.jobs_topic, E.results_topic, E.pg);
  snprintf(brk_a, sizeof(brk_a), "brk-%s-a", E.suffix);
  snprintf(brk_b, sizeof(brk_b), "brk-%s-b", E.suffix);
  const char *tenants[] = {"isp-east", "isp-west", brk_a, brk_b};
  for (int i = 0; i < 4; i++)
    fprintf(f, "[tenant.%s]\nvoltha_url = %s\ngenieacs_url = %s\n\n",
            tenants[i], S.voltha_url, S.genieacs_url);
  cr_assert_eq(fclose(f), 0);
  E.config = conf_path;
}

/* The stack, a private simulator, the suite's configuration, and a
 * worker with env (none when NULL). */
static void start_env(const char *const *env)
{
  pv_e2e_setup(&E, 2);
  cr_assert_eq(pv_sim_start(&S, NULL), 0, "cannot start a simulator");
  write_config();
  if (env)
    pv_e2e_start_worker(&E, "e2e-provctl", env);
}

static void start(bool worker)
{
  /* one run per job, one HTTP attempt per run: a 503 dead-letters at
   * once; a breaker that never opens by itself */
  static const char *const env[] = {"PROVISIOND_WORKER_JOB_MAX_ATTEMPTS=1",
                                    "PROVISIOND_HTTP_RETRY_MAX_ATTEMPTS=1",
                                    "PROVISIOND_HTTP_BREAKER_FAIL_MAX=100000",
                                    NULL};
  start_env(worker ? env : NULL);
}

/* Runs build/provctl with argv (NULL-terminated, without the program),
 * extra environment (may be NULL). Output is collected into *out / *err
 * (free them; may be NULL), its peak resident memory into *maxrss_kb (may
 * be NULL). @returns the exit status. */
static int provctl_run(char **out, char **err, const char *const *env,
                       const char *const *args, long *maxrss_kb)
{
  char bin[512], outp[600], errp[600];
  snprintf(bin, sizeof(bin), "%s/provctl", pv_test_build_dir());
  snprintf(outp, sizeof(outp), "%s/tests/logs/provctl-%s.out",
           pv_test_build_dir(), E.suffix);
  snprintf(errp, sizeof(errp), "%s/tests/logs/provctl-%s.err",
           pv_test_build_dir(), E.suffix);
  const char *argv[64];
  size_t n = 0;
  argv[n++] = bin;
  for (size_t i = 0; args[i] && n < 63; i++)
    argv[n++] = args[i];
  argv[n] = NULL;
  pid_t pid = fork();
  cr_assert_geq(pid, 0);
  if (pid == 0) {
    int fo = open(outp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int fe = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int fi = open("/dev/null", O_RDONLY);
    if (fo < 0 || fe < 0 || fi < 0)
      _exit(120);
    dup2(fo, 1);
    dup2(fe, 2);
    dup2(fi, 0);
    setenv("PROVISIOND_CONFIG", conf_path, 1);
    for (size_t i = 0; env && env[i]; i++)
      putenv((char *)(uintptr_t)env[i]);
    execv(bin, (char *const *)(uintptr_t)argv);
    _exit(127);
  }
  int st = 0;
  struct rusage ru;
  cr_assert_eq(wait4(pid, &st, 0, &ru), pid);
  if (maxrss_kb)
    *maxrss_kb = ru.ru_maxrss;
  char *paths[] = {outp, errp};
  char **dst[] = {out, err};
  for (int i = 0; i < 2; i++) {
    FILE *f = fopen(paths[i], "r");
    cr_assert_not_null(f);
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    char tmp[4096];
    size_t got;
    while ((got = fread(tmp, 1, sizeof(tmp), f)) > 0)
      fwrite(tmp, 1, got, mem);
    fclose(mem);
    fclose(f);
    if (dst[i])
      *dst[i] = buf;
    else
      free(buf);
  }
  cr_assert(WIFEXITED(st), "provctl died");
  return WEXITSTATUS(st);
}

static int provctl_env(char **out, char **err, const char *const *env,
                       const char *const *args)
{
  return provctl_run(out, err, env, args, NULL);
}

#define PROVCTL(out, err, ...) \
  provctl_env(out, err, NULL, (const char *const[]){__VA_ARGS__, NULL})

static char *sql(const char *q, const char *param)
{
  return pv_e2e_sql_value(&E, q, param);
}

static void assert_sql(const char *q, const char *param, const char *want)
{
  char *v = sql(q, param);
  cr_assert(v && !strcmp(v, want), "%s [%s]: got %s, want %s", q,
            param ? param : "", v ? v : "NULL", want);
  free(v);
}

/* Polls q (one text parameter) until it returns want (within timeout_ms). */
static void wait_sql(const char *q, const char *param, const char *want,
                     int timeout_ms)
{
  uint64_t until = pv_clock_mono_ms() + (uint64_t)timeout_ms;
  char *v = NULL;
  while (pv_clock_mono_ms() < until) {
    free(v);
    v = sql(q, param);
    if (v && !strcmp(v, want))
      break;
    usleep(100 * 1000);
  }
  cr_assert(v && !strcmp(v, want), "%s [%s]: %s, want %s (see %s)", q, param,
            v ? v : "(no row)", want, E.worker_log);
  free(v);
}

/* Polls until the job's state is want (within timeout_ms). */
static void wait_state(const char *id, const char *want, int timeout_ms)
{
  wait_sql("SELECT state FROM job_status WHERE job_id = $1", id, want,
           timeout_ms);
}

/* Records on a topic right now (all partitions). */
static long topic_count(const char *topic)
{
  char err[256];
  pv_ksync_consumer_t *c =
      pv_ksync_consumer_snapshot(E.brokers, topic, err, sizeof(err));
  cr_assert_not_null(c, "%s", err);
  long n = 0;
  while (!pv_ksync_consumer_drained(c)) {
    pv_ksync_msg_t *m = pv_ksync_consume(c, 5000);
    if (!m)
      break;
    n++;
    pv_ksync_msg_destroy(m);
  }
  pv_ksync_consumer_destroy(c);
  return n;
}

static void wait_topic_count(const char *topic, long want, int timeout_ms)
{
  uint64_t until = pv_clock_mono_ms() + (uint64_t)timeout_ms;
  long n = 0;
  while (pv_clock_mono_ms() < until && (n = topic_count(topic)) < want)
    usleep(200 * 1000);
  cr_assert_geq(n, want, "%s holds %ld records, want %ld", topic, n, want);
}

static void enqueue_health(const char *id, const char *tenant)
{
  char *out = NULL, *err = NULL;
  int rc = PROVCTL(&out, &err, "enqueue", "--tenant", tenant, "--service",
                   "voltha", "--op", "health_check", "--id", id, "--key", id);
  cr_assert_eq(rc, 0, "enqueue %s: %s%s", id, out, err);
  free(out);
  free(err);
}

static void fault_503(void)
{
  cr_assert_eq(pv_sim_set_fault(S.voltha_url,
                                "{\"mode\":\"error\",\"status\":503}"), 200);
}

Test(provctl, replay_after_fix_skips_succeeded_dry_run_and_rate)
{
  start(true);
  fault_503();
  char a[96], b[96], c[96], d[96];
  snprintf(a, sizeof(a), "rp-%s-a", E.suffix);
  snprintf(b, sizeof(b), "rp-%s-b", E.suffix);
  snprintf(c, sizeof(c), "rp-%s-c", E.suffix);
  snprintf(d, sizeof(d), "rp-%s-d", E.suffix);
  const char *ids[] = {a, b, c, d};
  for (int i = 0; i < 4; i++)
    enqueue_health(ids[i], "isp-east");
  for (int i = 0; i < 4; i++)
    wait_state(ids[i], "dead", 60000);
  /* A row turns dead before its dead letter is acknowledged (the outcome
   * is made durable first): wait for the records, so the replay finds
   * them on the topic rather than falling back to the rows' copies. */
  wait_topic_count(E.dlq_topic, 4, 30000);

  char *out = NULL, *err = NULL;
  cr_assert_eq(PROVCTL(&out, &err, "dlq", "list", "--json", "--tenant",
                       "isp-east"), 0, "%s", err);
  for (int i = 0; i < 4; i++)
    cr_assert(strstr(out, ids[i]), "dlq list lacks %s: %s", ids[i], out);
  free(out);
  free(err);

  /* The fault is fixed. Job c succeeded meanwhile (e.g. another
   * operator's replay): it must not run again. */
  cr_assert_eq(pv_sim_clear_faults(S.voltha_url), 200);
  free(sql("UPDATE job_status SET state = 'succeeded' WHERE job_id = $1 "
           "RETURNING 1", c));
  long before = topic_count(E.jobs_topic);

  /* dry run: lists exactly what would happen, changes nothing */
  cr_assert_eq(PROVCTL(&out, &err, "dlq", "replay", a, b, c, d, "--dry-run"),
               0, "%s", err);
  for (int i = 0; i < 4; i++) {
    char line[160];
    snprintf(line, sizeof(line), "%s %s", i == 2 ? "skip        " :
             "would-replay", ids[i]);
    cr_assert(strstr(out, line), "dry run lacks \"%s\": %s", line, out);
  }
  cr_assert(strstr(out, "already succeeded"), "%s", out);
  free(out);
  free(err);
  cr_assert_eq(topic_count(E.jobs_topic), before, "dry run produced");
  char prefix[96];
  snprintf(prefix, sizeof(prefix), "rp-%s-", E.suffix);
  assert_sql("SELECT count(*) FROM job_replays WHERE job_id LIKE $1 || '%'",
             prefix, "0");
  assert_sql("SELECT state FROM job_status WHERE job_id = $1", a, "dead");

  /* without --yes and without a terminal: refused */
  cr_assert_eq(PROVCTL(NULL, &err, "dlq", "replay", a), 2);
  cr_assert(strstr(err, "--yes"), "%s", err);
  free(err);

  /* the replay, at 2 records/s: 3 records take at least 1 s */
  uint64_t t0 = pv_clock_mono_ms();
  int rc = PROVCTL(&out, &err, "dlq", "replay", a, b, c, d, "--yes", "--by",
                   "alice", "--rate", "2/s");
  uint64_t elapsed = pv_clock_mono_ms() - t0;
  cr_assert_eq(rc, 0, "replay: %s%s", out, err);
  cr_assert_geq(elapsed, 1000, "--rate 2/s sent 3 records in %llu ms",
                (unsigned long long)elapsed);
  cr_assert(strstr(err, "replayed 3, skipped 1, failed 0"), "%s", err);
  free(out);
  free(err);
  const char *replayed[] = {a, b, d};
  for (int i = 0; i < 3; i++) {
    wait_state(replayed[i], "succeeded", 60000);
    assert_sql("SELECT replay_count || ' ' || last_replayed_by || ' ' ||"
               " last_replay_status FROM job_status WHERE job_id = $1",
               replayed[i], "1 alice produced");
    assert_sql("SELECT count(*) FROM job_replays WHERE job_id = $1 AND"
               " replayed_by = 'alice' AND status = 'produced' AND had_row"
               " AND dlq_topic IS NOT NULL AND dlq_offset >= 0",
               replayed[i], "1");
    /* history kept: the dead run's error is still there */
    assert_sql("SELECT jsonb_array_length(errors) >= 1 FROM job_status"
               " WHERE job_id = $1", replayed[i], "t");
  }
  assert_sql("SELECT state || ' ' || replay_count FROM job_status WHERE"
             " job_id = $1", c, "succeeded 0");
  cr_assert_eq(topic_count(E.jobs_topic), before + 3);

  /* the re-injected records: original bytes, lineage, no x-dlq-* */
  pv_ksync_consumer_t *cons = pv_ksync_consumer_new(E.brokers, E.jobs_topic);
  int lineage = 0;
  for (long i = 0; i < before + 3; i++) {
    pv_ksync_msg_t *m = pv_ksync_consume(cons, 20000);
    cr_assert_not_null(m);
    const char *of = pv_ksync_msg_header(m, "x-replay-of");
    if (of) {
      lineage++;
      cr_assert(strstr(of, E.dlq_topic) == of, "x-replay-of %s", of);
      cr_assert_str_eq(pv_ksync_msg_header(m, "x-replayed-by"), "alice");
      cr_assert_null(pv_ksync_msg_header(m, "x-dlq-error-class"));
      cr_assert_str_eq(pv_ksync_msg_header(m, "content-type"),
                       "application/msgpack");
    }
    pv_ksync_msg_destroy(m);
  }
  pv_ksync_consumer_destroy(cons);
  cr_assert_eq(lineage, 3);

  /* list: the outcome of the last replay; status: the replay lineage */
  cr_assert_eq(PROVCTL(&out, &err, "dlq", "list", "--json"), 0);
  cr_assert(strstr(out, "\"last_replay_outcome\": \"succeeded\""), "%s", out);
  free(out);
  free(err);
  cr_assert_eq(PROVCTL(&out, &err, "status", a), 0);
  cr_assert(strstr(out, "\"by\": \"alice\""), "%s", out);
  cr_assert(strstr(out, "\"status\": \"succeeded\""), "the reply: %s", out);
  free(out);
  free(err);
  /* a second replay of a succeeded job is a no-op */
  cr_assert_eq(PROVCTL(&out, &err, "dlq", "replay", a, "--yes"), 0);
  cr_assert(strstr(out, "already succeeded"), "%s", out);
  free(out);
  free(err);
  cr_assert_eq(topic_count(E.jobs_topic), before + 3);
}

Test(provctl, dead_again_is_reported_and_from_topic_without_row)
{
  start(true);
  fault_503();
  char x[96], y[96];
  snprintf(x, sizeof(x), "rp-%s-x", E.suffix);
  snprintf(y, sizeof(y), "rp-%s-y", E.suffix);
  enqueue_health(x, "isp-west");
  wait_state(x, "dead", 60000);
  wait_topic_count(E.dlq_topic, 1, 30000);
  /* replayed while the fault is still there: dead again, and said so */
  char *out = NULL, *err = NULL;
  cr_assert_eq(PROVCTL(&out, &err, "dlq", "replay", x, "--yes"), 0, "%s",
               err);
  free(out);
  free(err);
  /* the replay ran once more and died */
  wait_sql("SELECT state || ' ' || runs FROM job_status WHERE job_id = $1", x,
           "dead 2", 60000);
  cr_assert_eq(PROVCTL(&out, &err, "dlq", "list", "--json", "--tenant",
                       "isp-west"), 0);
  cr_assert(strstr(out, "\"last_replay_outcome\": \"dead_again\""), "%s",
            out);
  cr_assert(strstr(out, "\"replay_count\": 1"), "%s", out);
  free(out);
  free(err);

  /* a dead letter that never reached PostgreSQL */
  cr_assert_eq(pv_sim_clear_faults(S.voltha_url), 200);
  char doc[512];
  int n = snprintf(doc, sizeof(doc), "{\"v\":1,\"id\":\"%s\",\"tenant\":"
                   "\"isp-east\",\"service\":\"voltha\",\"op\":"
                   "\"health_check\"}", y);
  const char *hdrs[] = {"content-type", "application/json",
                        "x-dlq-error-class", "internal",
                        "x-dlq-source-topic", E.jobs_topic,
                        "x-dlq-source-partition", "0",
                        "x-dlq-source-offset", "999999", NULL};
  cr_assert_eq(pv_ksync_produce(E.producer, E.dlq_topic, "kk", doc,
                                (size_t)n, hdrs), 0);
  cr_assert_null(sql("SELECT state FROM job_status WHERE job_id = $1", y));
  cr_assert_eq(PROVCTL(&out, &err, "dlq", "replay", "--from-topic",
                       E.dlq_topic, y, "--dry-run"), 0, "%s", err);
  cr_assert(strstr(out, "would-replay"), "%s", out);
  free(out);
  free(err);
  cr_assert_eq(PROVCTL(&out, &err, "dlq", "replay", "--from-topic",
                       E.dlq_topic, y, "--yes", "--by", "bob"), 0, "%s%s",
               out, err);
  free(out);
  free(err);
  wait_state(y, "succeeded", 60000);
  assert_sql("SELECT count(*) FROM job_replays WHERE job_id = $1 AND NOT"
             " had_row AND replayed_by = 'bob' AND status = 'produced'", y,
             "1");
  assert_sql("SELECT provisiond_bytes_text(ordering_key) FROM job_status"
             " WHERE job_id = $1", y, "kk");
}

Test(provctl, enqueue_file_jobs_status_and_bad_input)
{
  start(false);
  char path[600], id1[96];
  snprintf(path, sizeof(path), "%s/tests/logs/provctl-%s.jsonl",
           pv_test_build_dir(), E.suffix);
  snprintf(id1, sizeof(id1), "f-%s-1", E.suffix);
  FILE *f = fopen(path, "w");
  cr_assert_not_null(f);
  fprintf(f, "{\"id\":\"%s\",\"tenant\":\"isp-east\",\"service\":\"voltha\","
             "\"op\":\"health_check\",\"key\":\"k1\"}\n"
             "{\"tenant\":\"isp-east\",\"service\":\"voltha\",\"op\":"
             "\"get_device\",\"args\":{\"devce_id\":\"x\"}}\n"
             "\n{\"tenant\":\"isp-east\",\"service\":\"genieacs\",\"op\":"
             "\"list_devices\"}\n", id1);
  fclose(f);
  long before = topic_count(E.jobs_topic);
  char *out = NULL, *err = NULL;
  cr_assert_eq(PROVCTL(&out, &err, "enqueue", "--file", path), 2);
  cr_assert(strstr(err, ":2: bad_args: unknown argument \"devce_id\""), "%s",
            err);
  cr_assert(strstr(err, "nothing was sent"), "%s", err);
  free(out);
  free(err);
  cr_assert_eq(topic_count(E.jobs_topic), before, "a bad file sent jobs");

  /* fixed: all sent, lines named (line 3 is blank) */
  f = fopen(path, "w");
  fprintf(f, "{\"id\":\"%s\",\"tenant\":\"isp-east\",\"service\":\"voltha\","
             "\"op\":\"health_check\",\"key\":\"k1\"}\n"
             "{\"tenant\":\"isp-west\",\"service\":\"voltha\",\"op\":"
             "\"health_check\"}\n"
             "\n{\"tenant\":\"isp-east\",\"service\":\"genieacs\",\"op\":"
             "\"list_devices\"}\n", id1);
  fclose(f);
  cr_assert_eq(PROVCTL(&out, &err, "enqueue", "--file", path), 0, "%s", err);
  cr_assert(strstr(out, "enqueued 3 job(s)") && strstr(out, "lines 1-2,4"),
            "%s", out);
  free(out);
  free(err);
  cr_assert_eq(topic_count(E.jobs_topic), before + 3);

  /* bad input: one line naming what, exit 2 */
  cr_assert_eq(PROVCTL(NULL, &err, "enqueue", "--tenant", "isp-nowhere",
                       "--service", "voltha", "--op", "health_check"), 2);
  cr_assert(strstr(err, "unknown tenant \"isp-nowhere\""), "%s", err);
  free(err);
  cr_assert_eq(PROVCTL(NULL, &err, "enqueue", "--tenant", "isp-east",
                       "--service", "voltha", "--op", "get_device", "--arg",
                       "device_id=1", "--arg", "limit=x"), 2);
  cr_assert(strstr(err, "\"limit\""), "%s", err);
  free(err);
  cr_assert_eq(PROVCTL(NULL, &err, "jobs", "--state", "bogus"), 2);
  free(err);
  cr_assert_eq(PROVCTL(NULL, &err, "jobs", "--since", "1y"), 2);
  cr_assert(strstr(err, "--since \"1y\""), "%s", err);
  free(err);
  /* unreachable broker / database: exit 3, one line naming where */
  const char *nok[] = {"PROVISIOND_KAFKA_BROKERS=127.0.0.1:1", NULL};
  cr_assert_eq(provctl_env(NULL, &err, nok, (const char *const[]){
               "enqueue", "--tenant", "isp-east", "--service", "voltha",
               "--op", "health_check", NULL}), 3);
  cr_assert(strstr(err, "Kafka unreachable (127.0.0.1:1)"), "%s", err);
  free(err);
  const char *npg[] = {"PROVISIOND_PG=host=127.0.0.1 port=1 dbname=x "
                       "user=x password=hunter2 connect_timeout=3", NULL};
  cr_assert_eq(provctl_env(NULL, &err, npg,
                           (const char *const[]){"jobs", NULL}), 3);
  cr_assert(strstr(err, "PostgreSQL unreachable"), "%s", err);
  cr_assert_null(strstr(err, "hunter2"), "a password in an error: %s", err);
  free(err);
  /* status of an unknown job: exit 1 */
  cr_assert_eq(PROVCTL(NULL, &err, "status", "no-such-job-xyz"), 1);
  free(err);
  /* every subcommand has --help */
  const char *cmds[] = {"migrate", "ops", "enqueue", "status", "jobs", "dlq",
                        "breakers", "breaker"};
  for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
    cr_assert_eq(PROVCTL(&out, NULL, cmds[i], "--help"), 0, "%s --help",
                 cmds[i]);
    cr_assert(strstr(out, "usage: provctl"), "%s --help: %s", cmds[i], out);
    free(out);
  }
}

Test(provctl, jobs_lists_rows_as_table_and_json)
{
  start(true);
  char id[96];
  snprintf(id, sizeof(id), "jl-%s", E.suffix);
  enqueue_health(id, "isp-west");
  wait_state(id, "succeeded", 60000);
  char *out = NULL, *err = NULL;
  cr_assert_eq(PROVCTL(&out, &err, "jobs", "--tenant", "isp-west", "--since",
                       "1h", "--json", "--limit", "1000"), 0, "%s", err);
  cr_assert(strstr(out, id), "%s", out);
  json_t *first = json_loads(out, JSON_DISABLE_EOF_CHECK, NULL);
  cr_assert(json_is_object(first), "--json lines are JSON objects: %s", out);
  json_decref(first);
  free(out);
  free(err);
  cr_assert_eq(PROVCTL(&out, &err, "jobs", "--state", "succeeded", "--op",
                       "health_check"), 0);
  cr_assert(strncmp(out, "JOB_ID", 6) == 0, "a table with a header: %s", out);
  cr_assert(strstr(out, id), "%s", out);
  free(out);
  free(err);
}

Test(provctl, breaker_force_open_fails_fast_for_that_tenant_only)
{
  start(true);
  char *out = NULL, *err = NULL;
  cr_assert_eq(PROVCTL(NULL, &err, "breaker", "open", "voltha", brk_a),
               2, "--reason is required");
  free(err);
  cr_assert_eq(PROVCTL(&out, &err, "breaker", "open", "voltha", brk_a,
                       "--reason", "OLT maintenance", "--by", "carol"), 0,
               "%s", err);
  free(out);
  free(err);
  assert_sql("SELECT state || ' ' || changed_by || ' ' || reason FROM"
             " breaker_state WHERE service = 'voltha' AND tenant = $1"
             " ORDER BY changed_at DESC LIMIT 1", brk_a,
             "forced_open operator:carol OLT maintenance");
  assert_sql("SELECT count(*) > 0 FROM breaker_events WHERE tenant = $1"
             " AND to_state = 'forced_open' AND changed_by = "
             "'operator:carol'", brk_a, "t");
  cr_assert_eq(PROVCTL(&out, &err, "breakers", "--tenant", brk_a), 0);
  cr_assert(strstr(out, "forced_open") && strstr(out, "OLT maintenance"),
            "%s", out);
  free(out);
  free(err);
  cr_assert(pv_proc_wait_for_text(E.worker_log,
                                  "\"event\":\"fleet.breaker_applied\"",
                                  30000),
            "the worker did not apply the override; see %s", E.worker_log);

  char east[96], west[96];
  snprintf(east, sizeof(east), "br-%s-east", E.suffix);
  snprintf(west, sizeof(west), "br-%s-west", E.suffix);
  enqueue_health(east, brk_a);
  enqueue_health(west, brk_b);
  wait_state(west, "succeeded", 60000);
  uint64_t until = pv_clock_mono_ms() + 30000;
  char *cls = NULL;
  while (pv_clock_mono_ms() < until) {
    free(cls);
    cls = sql("SELECT error_class FROM job_status WHERE job_id = $1", east);
    if (cls)
      break;
    usleep(100 * 1000);
  }
  cr_assert_str_eq(cls, "circuit_open", "the forced-open tenant fails fast");
  free(cls);
  assert_sql("SELECT attempts FROM job_status WHERE job_id = $1", east, "0");
  assert_sql("SELECT attempts > 0 FROM job_status WHERE job_id = $1", west,
             "t");

  /* back to automatic: recorded the same way */
  cr_assert_eq(PROVCTL(&out, &err, "breaker", "auto", "voltha", brk_a,
                       "--reason", "done", "--by", "carol"), 0);
  free(out);
  free(err);
  assert_sql("SELECT string_agg(state, ',') FROM breaker_state WHERE"
             " service = 'voltha' AND tenant = $1", brk_a, "closed");
}

Test(provctl, an_id_two_tenants_use_needs_tenant)
{
  start(false);
  char id[96];
  snprintf(id, sizeof(id), "two-%s", E.suffix);
  /* two dead jobs under one id, one per tenant */
  const char *tenants[] = {"isp-east", "isp-west"};
  for (int i = 0; i < 2; i++) {
    char q[640];
    snprintf(q, sizeof(q),
             "INSERT INTO job_status (job_id, tenant, service, op, state,"
             " source_topic, source_partition, source_offset, payload,"
             " finished_at, error_class, dlq_topic) VALUES ($1, '%s',"
             " 'voltha', 'health_check', 'dead', '%s', 0, %d, '\\x00', now(),"
             " 'http_5xx', '%s') RETURNING 1", tenants[i], E.jobs_topic, i,
             E.dlq_topic);
    free(sql(q, id));
  }
  char *out = NULL, *err = NULL;
  cr_assert_eq(PROVCTL(&out, &err, "status", id), 2, "%s", out);
  cr_assert(strstr(err, "exists under 2 tenants (isp-east, isp-west): give "
                        "--tenant"), "%s", err);
  free(out);
  free(err);
  cr_assert_eq(PROVCTL(&out, &err, "status", id, "--tenant", "isp-west"), 0,
               "%s", err);
  cr_assert(strstr(out, "\"tenant\": \"isp-west\""), "%s", out);
  free(out);
  free(err);
  cr_assert_eq(PROVCTL(&out, &err, "status", "--tenant", "isp-north", id), 1);
  free(out);
  free(err);
  cr_assert_eq(PROVCTL(&out, &err, "dlq", "replay", id, "--dry-run"), 2,
               "%s", out);
  cr_assert(strstr(err, "give --tenant"), "%s", err);
  free(out);
  free(err);
  cr_assert_eq(PROVCTL(&out, &err, "dlq", "replay", id, "--tenant",
                       "isp-east", "--dry-run"), 0, "%s", err);
  cr_assert(strstr(out, "would-replay"), "%s", out);
  free(out);
  free(err);
}

/* The first record of topic whose value contains needle (and that has a
 * header named with_header, unless NULL), or NULL after timeout_ms. */
static pv_ksync_msg_t *find_record(const char *topic, const char *needle,
                                   const char *with_header, int timeout_ms)
{
  pv_ksync_consumer_t *c = pv_ksync_consumer_new(E.brokers, topic);
  cr_assert_not_null(c);
  pv_ksync_msg_t *found = NULL;
  uint64_t until = pv_clock_mono_ms() + (uint64_t)timeout_ms;
  while (!found && pv_clock_mono_ms() < until) {
    pv_ksync_msg_t *m = pv_ksync_consume(c, 1000);
    if (m && m->value && strstr(m->value, needle) &&
        (!with_header || pv_ksync_msg_header(m, with_header)))
      found = m;
    else
      pv_ksync_msg_destroy(m);
  }
  pv_ksync_consumer_destroy(c);
  return found;
}

static size_t count_headers_named(const pv_ksync_msg_t *m, const char *prefix)
{
  size_t n = 0;
  for (size_t i = 0; i < m->n_headers; i++)
    n += !strncmp(m->hnames[i], prefix, strlen(prefix));
  return n;
}

Test(provctl, headers_past_the_64th_are_kept_past_the_cap_refused)
{
  start(true);
  char many[96], too_many[96];
  snprintf(many, sizeof(many), "hd-%s-128", E.suffix);
  snprintf(too_many, sizeof(too_many), "hd-%s-200", E.suffix);
  /* 128 headers (the cap), then 201; a deadline already passed: dead at
   * once */
  pv_ksync_header_t h[201];
  char names[200][16], vals[200][16];
  for (int i = 0; i < 200; i++) {
    snprintf(names[i], sizeof(names[i]), "x-h%03d", i);
    snprintf(vals[i], sizeof(vals[i]), "v%03d", i);
    h[i + 1] = (pv_ksync_header_t){names[i], vals[i], strlen(vals[i])};
  }
  h[0] = (pv_ksync_header_t){"content-type", "application/json", 16};
  const char *ids[] = {many, too_many};
  size_t counts[] = {127, 200};
  for (int k = 0; k < 2; k++) {
    char doc[256];
    int n = snprintf(doc, sizeof(doc), "{\"v\":1,\"id\":\"%s\",\"tenant\":"
                     "\"isp-east\",\"service\":\"voltha\",\"op\":"
                     "\"health_check\",\"deadline\":1}", ids[k]);
    char err[256];
    cr_assert_eq(pv_ksync_produce_raw(E.producer, E.jobs_topic, ids[k],
                                      strlen(ids[k]), doc, (size_t)n, h,
                                      counts[k] + 1, 30000, err, sizeof(err)),
                 0, "%s", err);
  }
  wait_state(many, "dead", 60000);
  wait_state(too_many, "dead", 60000);
  assert_sql("SELECT error_class || ' ' || jsonb_array_length(headers) FROM"
             " job_status WHERE job_id = $1", many, "deadline_exceeded 128");
  assert_sql("SELECT error_class || ': ' || error_message FROM job_status"
             " WHERE job_id = $1", too_many,
             "invalid_job: record has 201 headers, at most 128");
  /* the dead letters: every header, in order, then x-dlq-* */
  wait_topic_count(E.dlq_topic, 2, 30000);
  for (int k = 0; k < 2; k++) {
    pv_ksync_msg_t *m = find_record(E.dlq_topic, ids[k], NULL, 20000);
    cr_assert_not_null(m, "no dead letter for %s", ids[k]);
    cr_assert_eq(count_headers_named(m, "x-h"), counts[k], "%s",
                 ids[k]);
    cr_assert_str_eq(m->hnames[counts[k]], names[counts[k] - 1]);
    cr_assert_eq(count_headers_named(m, "x-dlq-"), 8);
    pv_ksync_msg_destroy(m);
  }
  /* a replay keeps them all, and its lineage headers do not count against
   * the cap */
  char *out = NULL, *err = NULL;
  cr_assert_eq(PROVCTL(&out, &err, "dlq", "replay", many, "--yes"), 0,
               "%s%s", out, err);
  cr_assert(strstr(out, "replayed "), "%s%s", out, err);
  free(out);
  free(err);
  pv_ksync_msg_t *r = find_record(E.jobs_topic, many, "x-replay-of", 30000);
  cr_assert_not_null(r, "the replayed record");
  cr_assert_eq(count_headers_named(r, "x-h"), 127);
  cr_assert_eq(count_headers_named(r, "x-dlq-"), 0);
  pv_ksync_msg_destroy(r);
  /* it ran again (under a fresh deadline), not refused for its count */
  wait_sql("SELECT state || ' ' || runs FROM job_status WHERE job_id = $1",
           many, "succeeded 2", 30000);
}

/* Lines of text holding needle. */
static int count_lines_with(const char *text, const char *needle)
{
  int n = 0;
  for (const char *p = text; (p = strstr(p, needle)); p += strlen(needle))
    n++;
  return n;
}

Test(provctl, replay_streams_large_topics_and_backlogs_in_bounded_memory)
{
  start(false);
  /* 96 MiB of dead letters that never reached PostgreSQL (librdkafka's
   * mock broker keeps the last 5 MiB of each partition: there, what is
   * left), and 96 MiB of dead rows whose dead letters are gone: a replay
   * used to hold all of either in memory (the rows as hex: twice that) */
  enum { RECORDS = 384, PAD = 256 * 1024 };
  char *pad = malloc(PAD + 1);
  cr_assert_not_null(pad);
  memset(pad, 'p', PAD);
  pad[PAD] = '\0';
  char tenant[96];
  snprintf(tenant, sizeof(tenant), "big-%s", E.suffix);
  size_t cap = PAD + 512;
  char *doc = malloc(cap);
  cr_assert_not_null(doc);
  for (int i = 0; i < RECORDS; i++) {
    int n = snprintf(doc, cap, "{\"v\":1,\"id\":\"big-%d\",\"tenant\":\"%s\","
                     "\"service\":\"voltha\",\"op\":\"health_check\","
                     "\"args\":{\"pad\":\"%s\"}}", i, tenant, pad);
    char off[16], key[16];
    snprintf(off, sizeof(off), "%d", i);
    snprintf(key, sizeof(key), "k%d", i);
    const char *hdrs[] = {"content-type", "application/json",
                          "x-dlq-error-class", "internal",
                          "x-dlq-source-topic", E.jobs_topic,
                          "x-dlq-source-partition", "0",
                          "x-dlq-source-offset", off, NULL};
    cr_assert_eq(pv_ksync_produce(E.producer, E.dlq_topic, key, doc,
                                  (size_t)n, hdrs), 0);
  }
  free(doc);
  long on_topic = topic_count(E.dlq_topic);
  char q[1024];
  snprintf(q, sizeof(q),
           "INSERT INTO job_status (job_id, tenant, service, op, state,"
           " source_topic, source_partition, source_offset, payload,"
           " finished_at, error_class, dlq_topic)"
           " SELECT 'row-' || g, $1, 'voltha', 'health_check', 'dead', '%s',"
           " 0, 100000 + g, convert_to(repeat('r', %d), 'UTF8'), now(),"
           " 'http_5xx', '%s' FROM generate_series(1, %d) g RETURNING 1",
           E.jobs_topic, PAD, E.dlq_topic, RECORDS);
  free(sql(q, tenant));
  free(pad);

  /* provctl reading an empty topic: what it takes anyway */
  char *out = NULL, *err = NULL;
  long rss_base = 0, rss_topic = 0, rss_rows = 0;
  int rc = provctl_run(&out, &err, NULL, (const char *const[]){
                       "dlq", "replay", "--from-topic", E.results_topic,
                       "--all", "--dry-run", NULL}, &rss_base);
  cr_assert_eq(rc, 0, "%s", err);
  free(out);
  free(err);
  rc = provctl_run(&out, &err, NULL, (const char *const[]){
                   "dlq", "replay", "--from-topic", E.dlq_topic, "--all",
                   "--tenant", tenant, "--dry-run", "--json", NULL},
                   &rss_topic);
  cr_assert_eq(rc, 0, "%s", err);
  cr_assert_eq(count_lines_with(out, "\"action\":\"would-replay\""),
               on_topic, "every dead letter on the topic listed");
  free(out);
  free(err);
  rc = provctl_run(&out, &err, NULL, (const char *const[]){
                   "dlq", "replay", "--all", "--tenant", tenant, "--dry-run",
                   "--json", NULL}, &rss_rows);
  cr_assert_eq(rc, 0, "%s", err);
  cr_assert_eq(count_lines_with(out, "\"action\":\"would-replay\""), RECORDS,
               "every dead row listed");
  cr_assert_eq(count_lines_with(out, "\"from\":\"job_status\""), RECORDS);
  free(out);
  free(err);
  cr_log_info("provctl's peak RSS: %ld KiB alone, %ld KiB over %ld dead "
              "letters (%ld MiB), %ld KiB over %d dead rows (%d MiB)",
              rss_base, rss_topic, on_topic, on_topic * PAD >> 20, rss_rows,
              RECORDS, RECORDS * PAD >> 20);
#if !defined(__SANITIZE_ADDRESS__)
  /* a sanitizer's quarantine keeps freed memory: only a plain build
   * measures what the program holds. Beyond what it takes anyway: the
   * consumer's 8 MiB prefetch, a few records, slack. */
  cr_assert_lt(rss_topic - rss_base, 16 * 1024, "provctl held %ld KiB more "
               "reading %ld MiB of dead letters", rss_topic - rss_base,
               on_topic * PAD >> 20);
  cr_assert_lt(rss_rows - rss_base, 16 * 1024, "provctl held %ld KiB more "
               "reading %d MiB of dead rows", rss_rows - rss_base,
               RECORDS * PAD >> 20);
#endif
}

Test(provctl, replay_of_a_job_dead_for_its_deadline_gets_a_fresh_one)
{
  /* a job parks while the service answers 503, and dies of its deadline
   * (5 s) before its next attempt */
  static const char *const env[] = {"PROVISIOND_WORKER_JOB_MAX_ATTEMPTS=10",
                                    "PROVISIOND_HTTP_RETRY_MAX_ATTEMPTS=1",
                                    "PROVISIOND_HTTP_BREAKER_FAIL_MAX=100000",
                                    "PROVISIOND_WORKER_PARK_BACKOFF_BASE_MS="
                                    "20000",
                                    "PROVISIOND_WORKER_PARK_BACKOFF_CAP_MS="
                                    "20000", NULL};
  start_env(env);
  fault_503();
  char fresh[96], kept[96];
  snprintf(fresh, sizeof(fresh), "dl-%s-fresh", E.suffix);
  snprintf(kept, sizeof(kept), "dl-%s-kept", E.suffix);
  const char *ids[] = {fresh, kept};
  for (int i = 0; i < 2; i++) {
    json_t *j = json_pack("{s:i,s:s,s:s,s:s,s:s,s:I}", "v", 1, "id", ids[i],
                          "tenant", "isp-east", "service", "voltha", "op",
                          "health_check", "deadline",
                          (json_int_t)(pv_clock_wall_ms() + 5000));
    pv_e2e_produce_job(&E, ids[i], j, true, NULL);
    json_decref(j);
  }
  for (int i = 0; i < 2; i++) {
    wait_state(ids[i], "dead", 60000);
    assert_sql("SELECT error_class FROM job_status WHERE job_id = $1", ids[i],
               "deadline_exceeded");
  }
  wait_topic_count(E.dlq_topic, 2, 30000);

  /* both deadlines pass (the jobs died as soon as their next attempt
   * would have come too late) */
  for (int i = 0; i < 2; i++)
    wait_sql("SELECT deadline < now() FROM job_status WHERE job_id = $1",
             ids[i], "t", 20000);
  /* its budget: deadline less receipt, as the worker saw them */
  char *budget = sql("SELECT (extract(epoch FROM deadline - received_at) *"
                     " 1000)::bigint FROM job_status WHERE job_id = $1",
                     fresh);
  cr_assert_not_null(budget);
  /* the service is back; the runbook says: replay them */
  cr_assert_eq(pv_sim_clear_faults(S.voltha_url), 200);
  char *out = NULL, *err = NULL;
  cr_assert_eq(PROVCTL(&out, &err, "dlq", "replay", fresh, "--yes"), 0,
               "%s%s", out, err);
  free(out);
  free(err);
  wait_state(fresh, "succeeded", 60000);
  /* runs so far: 1, or 2 when it parked once before dying */
  char *runs = sql("SELECT 'dead ' || (runs + 1) || ' deadline_exceeded'"
                   " FROM job_status WHERE job_id = $1", kept);
  cr_assert_not_null(runs);
  cr_assert_eq(PROVCTL(&out, &err, "dlq", "replay", kept, "--yes",
                       "--keep-deadline"), 0, "%s%s", out, err);
  free(out);
  free(err);
  /* the fresh deadline: the replay's time plus the job's budget, recorded
   * with the replay and carried by the replayed record */
  assert_sql("SELECT fresh_deadline FROM job_replays WHERE job_id = $1",
             fresh, "t");
  assert_sql("SELECT (extract(epoch FROM deadline - replayed_at) *"
             " 1000)::bigint FROM job_replays WHERE job_id = $1", fresh,
             budget);
  free(budget);
  assert_sql("SELECT j.deadline = r.deadline FROM job_status j JOIN"
             " job_replays r USING (job_id, tenant) WHERE job_id = $1", fresh,
             "t");
  pv_ksync_msg_t *m = find_record(E.jobs_topic, fresh, "x-replay-of", 30000);
  cr_assert_not_null(m);
  char *want = sql("SELECT (extract(epoch FROM deadline) * 1000)::bigint"
                   " FROM job_replays WHERE job_id = $1", fresh);
  cr_assert_str_eq(pv_ksync_msg_header(m, "x-replay-deadline"), want);
  free(want);
  pv_ksync_msg_destroy(m);
  /* --keep-deadline: the old behaviour, dead again at once */
  wait_sql("SELECT state || ' ' || runs || ' ' || error_class FROM"
           " job_status WHERE job_id = $1", kept, runs, 60000);
  free(runs);
  assert_sql("SELECT NOT fresh_deadline AND deadline < replayed_at FROM"
             " job_replays WHERE job_id = $1", kept, "t");
}
