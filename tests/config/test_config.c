/*
 * pv_config_load refuses a bad configuration with the file, the line, the
 * section and key, and a reason, so an operator can fix it from the first
 * message; it never echoes a secret; and docs/configuration.md is the key
 * table as the binary prints it.
 */
#include "tests/support/proc.h"
#include "tests/support/testenv.h"
#include "config/config.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[256];
static char path[512];
static char err[1024];

/* The environment overrides every key: keep the developer's stack
 * variables out of these tests. */
static void clear_env(void)
{
  static const char *const vars[] = {
    "PROVISIOND_PG", "PROVISIOND_KAFKA_BROKERS", "PROVISIOND_KAFKA_TOPICS",
    "PROVISIOND_KAFKA_GROUP_ID", "PROVISIOND_KAFKA_RESULTS_TOPIC",
    "PROVISIOND_WORKER_ID", "PROVISIOND_WORKER_METRICS_LISTEN",
    "PROVISIOND_WORKER_MAX_IN_FLIGHT", "PROVISIOND_WORKER_LEASE_MS",
    "PROVISIOND_POSTGRES_CONNINFO", "PROVISIOND_HTTP_TLS_VERIFY",
    "PROVISIOND_WORKER_ORDERS_DIR", NULL};
  for (size_t i = 0; vars[i]; i++)
    unsetenv(vars[i]);
}

static void setup(void)
{
  clear_env();
  snprintf(dir, sizeof(dir), "/tmp/pv-config-test-%ld", (long)getpid());
  mkdir(dir, 0700);
  snprintf(path, sizeof(path), "%s/provisiond.conf", dir);
  err[0] = '\0';
}

static void teardown(void)
{
  char p[600];
  unlink(path);
  snprintf(p, sizeof(p), "%s/token", dir);
  unlink(p);
  rmdir(dir);
}

TestSuite(config, .init = setup, .fini = teardown, .timeout = 30);

static void write_file(const char *p, const char *text, mode_t mode)
{
  FILE *f = fopen(p, "w");
  cr_assert_not_null(f, "cannot write %s", p);
  fputs(text, f);
  fclose(f);
  cr_assert_eq(chmod(p, mode), 0);
}

/* Loads text as a config file and expects a refusal containing want
 * (after the "file:line: " prefix). */
static void expect_refused(const char *text, int line, const char *want)
{
  write_file(path, text, 0600);
  pv_config_t *c = pv_config_load(path, err, sizeof(err));
  cr_assert_null(c, "accepted a bad config:\n%s", text);
  char prefix[600];
  if (line > 0)
    snprintf(prefix, sizeof(prefix), "%s:%d: ", path, line);
  else
    snprintf(prefix, sizeof(prefix), "%s: ", path);
  cr_assert(!strncmp(err, prefix, strlen(prefix)),
            "error \"%s\" must start with \"%s\"", err, prefix);
  cr_assert(strstr(err, want), "error \"%s\" must say \"%s\"", err, want);
}

Test(config, defaults_and_a_good_file_load)
{
  write_file(path,
             "; comment\n[worker]\nmax_in_flight = 50\nlease_ms = 3000\n"
             "[kafka]\nbrokers = 10.0.0.1:9092\nsession.timeout.ms = 6000\n"
             "[tenant.isp-east]\nvoltha_url = http://127.0.0.1:1\n"
             "weight = 3\n",
             0600);
  pv_config_t *c = pv_config_load(path, err, sizeof(err));
  cr_assert_not_null(c, "%s", err);
  cr_assert_eq(c->max_in_flight, 50);
  cr_assert_eq(c->lease_ms, 3000);
  cr_assert_eq(c->max_buffered, 20000, "default kept");
  cr_assert_str_eq(c->kafka_brokers, "10.0.0.1:9092");
  cr_assert_eq(c->n_kafka_props, 1);
  cr_assert_str_eq(c->kafka_props[0].name, "session.timeout.ms");
  cr_assert_str_eq(c->kafka_props[0].value, "6000");
  cr_assert_eq(c->kafka_props[0].line, 7);
  const pv_tenant_entry_t *t = pv_config_tenant(c, "isp-east");
  cr_assert_not_null(t);
  cr_assert_eq(t->weight, 3);
  cr_assert_null(pv_config_tenant(c, "isp-west"));
  pv_config_destroy(c);
  pv_config_destroy(NULL);
}

/* The order types' folder: the install's by default (which may be absent),
 * or the one the file or the environment names (which must exist: the
 * loader is told so by orders_dir_set). */
Test(config, orders_dir_default_and_set)
{
  write_file(path, "[worker]\nid = w\n", 0600);
  pv_config_t *c = pv_config_load(path, err, sizeof(err));
  cr_assert_not_null(c, "%s", err);
  cr_assert_not(c->orders_dir_set);
  const char *tail = "/provisiond/orders";
  size_t n = strlen(c->orders_dir);
  cr_assert(n > strlen(tail) && c->orders_dir[0] == '/' &&
                !strcmp(c->orders_dir + n - strlen(tail), tail),
            "%s", c->orders_dir);
  pv_config_destroy(c);

  write_file(path, "[worker]\norders_dir = /srv/orders\n", 0600);
  c = pv_config_load(path, err, sizeof(err));
  cr_assert_not_null(c, "%s", err);
  cr_assert(c->orders_dir_set);
  cr_assert_str_eq(c->orders_dir, "/srv/orders");
  pv_config_destroy(c);

  setenv("PROVISIOND_WORKER_ORDERS_DIR", "/etc/provisiond/orders", 1);
  c = pv_config_load(path, err, sizeof(err));
  unsetenv("PROVISIOND_WORKER_ORDERS_DIR");
  cr_assert_not_null(c, "%s", err);
  cr_assert(c->orders_dir_set);
  cr_assert_str_eq(c->orders_dir, "/etc/provisiond/orders");
  pv_config_destroy(c);

  /* Set to nothing, as an optional key may be: the default. */
  write_file(path, "[worker]\norders_dir =\n", 0600);
  c = pv_config_load(path, err, sizeof(err));
  cr_assert_not_null(c, "%s", err);
  cr_assert_not(c->orders_dir_set);
  cr_assert(strstr(c->orders_dir, tail), "%s", c->orders_dir);
  pv_config_destroy(c);
}

Test(config, bad_integer_names_key_and_line)
{
  expect_refused("[worker]\nlog_level = info\nmax_in_flight = 12x\n", 3,
                 "[worker] max_in_flight: \"12x\" is not an integer");
}

/* Found by the config fuzz target's invariants: strtod takes "nan", and
 * NaN passes every range check. */
Test(config, nan_is_not_a_number)
{
  expect_refused("[http]\nbudget_ratio = nan\n", 2,
                 "[http] budget_ratio: \"nan\" is not a number");
  expect_refused("[http]\nbudget_min_per_sec = -NaN\n", 2,
                 "[http] budget_min_per_sec: \"-NaN\" is not a number");
}

Test(config, out_of_range_names_bounds)
{
  expect_refused("[worker]\n\nlease_ms = 999\n", 3,
                 "[worker] lease_ms: 999 is out of range [1000, 3.6e+06]");
  expect_refused("[http]\nbudget_ratio = 11\n", 2,
                 "[http] budget_ratio: 11 is out of range [0, 10]");
  expect_refused("[http]\ntls_verify = maybe\n", 2,
                 "[http] tls_verify: \"maybe\" is not a boolean");
}

Test(config, empty_required_string_refused)
{
  expect_refused("[kafka]\nbrokers =   \n", 2,
                 "[kafka] brokers: must not be empty");
}

Test(config, unknown_key_and_unknown_section)
{
  expect_refused("[worker]\nmax_inflight = 3\n", 2,
                 "[worker] max_inflight: unknown key");
  expect_refused("[worker]\nlog_level = info\n[workers]\nid = a\n", 4,
                 "[workers]: unknown section");
  expect_refused("[tenant.a]\nvoltha_url = http://x\nvoltah_url = http://x\n",
                 3, "[tenant.a] voltah_url: unknown key");
}

Test(config, bad_tenant_name_refused)
{
  expect_refused("[tenant.isp east]\nvoltha_url = http://127.0.0.1:1\n", 1,
                 "tenant name \"isp east\" must be 1-64 characters");
  expect_refused("[worker]\nid = w\n[tenant.]\nvoltha_url = http://x\n", 3,
                 "tenant name \"\" must be");
}

Test(config, tenant_values_checked)
{
  expect_refused("[tenant.a]\nvoltha_url = http://x\nweight = 0\n", 3,
                 "[tenant.a] weight: \"0\" must be an integer in [1, 1000]");
  expect_refused("[tenant.a]\nvoltha_url = ftp://x\n", 1,
                 "[tenant.a] voltha_url: \"ftp://x\" must start with http://");
  expect_refused("[worker]\nid = w\n[tenant.a]\nweight = 2\n", 3,
                 "[tenant.a]: no endpoint configured");
  expect_refused("[tenant.a]\nnetbox_url = http://x\n", 1,
                 "[tenant.a]: netbox_url needs netbox_token_env or "
                 "netbox_token_file");
}

Test(config, inline_secret_refused_and_not_echoed)
{
  expect_refused("[tenant.a]\nnetbox_url = http://x\n"
                 "netbox_token = s3cr3t-t0ken-value\n",
                 3, "[tenant.a] netbox_token: secrets are not written in the "
                 "config file");
  cr_assert_null(strstr(err, "s3cr3t"), "the secret leaked: %s", err);
}

Test(config, token_file_readable_by_others_refused)
{
  char tok[600];
  snprintf(tok, sizeof(tok), "%s/token", dir);
  write_file(tok, "s3cr3t-from-file\n", 0644);
  char text[1024];
  snprintf(text, sizeof(text),
           "[worker]\nid = w\n[tenant.a]\nnetbox_url = http://x\n"
           "netbox_token_file = %s\n", tok);
  expect_refused(text, 3, "is readable by other users; chmod 600 it");
  cr_assert_null(strstr(err, "s3cr3t"), "the secret leaked: %s", err);

  /* the same file, private: loaded, first line without its newline */
  cr_assert_eq(chmod(tok, 0600), 0);
  pv_config_t *c = pv_config_load(path, err, sizeof(err));
  cr_assert_not_null(c, "%s", err);
  cr_assert_str_eq(pv_config_tenant(c, "a")->netbox_token, "s3cr3t-from-file");
  pv_config_destroy(c);
}

Test(config, token_env_must_be_set)
{
  unsetenv("PV_TEST_NO_SUCH_TOKEN");
  expect_refused("[tenant.a]\nnetbox_url = http://x\n"
                 "netbox_token_env = PV_TEST_NO_SUCH_TOKEN\n",
                 1, "environment variable PV_TEST_NO_SUCH_TOKEN is not set");
}

Test(config, env_override_names_the_variable)
{
  write_file(path, "[worker]\nmax_in_flight = 10\n", 0600);
  setenv("PROVISIOND_WORKER_MAX_IN_FLIGHT", "40", 1);
  pv_config_t *c = pv_config_load(path, err, sizeof(err));
  cr_assert_not_null(c, "%s", err);
  cr_assert_eq(c->max_in_flight, 40, "the environment wins over the file");
  pv_config_destroy(c);

  setenv("PROVISIOND_WORKER_MAX_IN_FLIGHT", "lots", 1);
  c = pv_config_load(path, err, sizeof(err));
  cr_assert_null(c);
  cr_assert(strstr(err, "[worker] max_in_flight (from "
                        "PROVISIOND_WORKER_MAX_IN_FLIGHT): \"lots\" is not "
                        "an integer"),
            "got \"%s\"", err);
  unsetenv("PROVISIOND_WORKER_MAX_IN_FLIGHT");

  setenv("PROVISIOND_PG", "  ", 1);
  c = pv_config_load(path, err, sizeof(err));
  cr_assert_null(c);
  cr_assert(strstr(err, "[postgres] conninfo (from PROVISIOND_PG): must not "
                        "be empty"), "got \"%s\"", err);
  unsetenv("PROVISIOND_PG");
}

Test(config, over_long_line_refused_not_split)
{
  /* A line past inih's buffer must be refused, not parsed as two lines
   * (the tail could otherwise become a key of its own). */
  size_t n = 20000;
  char *text = malloc(n + 64);
  cr_assert_not_null(text);
  int off = snprintf(text, n + 64, "[worker]\nid = ");
  memset(text + off, 'a', n - (size_t)off);
  snprintf(text + n, 64, "\nmax_in_flight = 5\n");
  expect_refused(text, 2, "line is longer than");
  free(text);
}

Test(config, cross_key_checks)
{
  expect_refused("[worker]\nmax_in_flight = 100\nmax_buffered = 50\n", 0,
                 "[worker] max_buffered (50) must be at least max_in_flight "
                 "(100)");
  expect_refused("[http]\nbackoff_base_ms = 500\nbackoff_cap_ms = 100\n", 0,
                 "[http] backoff_cap_ms (100) is below backoff_base_ms (500)");
  expect_refused("[worker]\nlog_level = loud\n", 0,
                 "[worker] log_level: \"loud\" is not one of");
}

Test(config, results_topic_that_loops_refused)
{
  expect_refused("[kafka]\ntopics = a.jobs, b.jobs\nresults_topic = b.jobs\n",
                 0, "[kafka] results_topic: \"b.jobs\" is a job topic");
  expect_refused("[kafka]\ntopics = a.jobs\nresults_topic = a.jobs.dlq\n", 0,
                 "is the dead-letter topic of a.jobs");
  expect_refused("[kafka]\ntopics = ,\n", 0, "[kafka] topics: no topic named");
}

Test(config, reply_topics_of_the_fleet_refused_naming_the_field)
{
  write_file(path, "[kafka]\ntopics = a.jobs,  b.jobs\ndlq_suffix = .dead\n",
             0600);
  pv_config_t *c = pv_config_load(path, err, sizeof(err));
  cr_assert_not_null(c, "%s", err);
  cr_assert_eq(c->n_kafka_topics, 2);
  cr_assert_str_eq(c->kafka_topic_list[1], "b.jobs");
  pv_error_t e;
  cr_assert_eq(pv_config_check_reply_topic(c, "field \"reply_to\"",
                                           "a.jobs", &e), -1);
  cr_assert_eq(e.cls, PV_ERR_INVALID_JOB);
  cr_assert_str_eq(e.message, "field \"reply_to\": \"a.jobs\" is a job "
                   "topic: a reply there would come back as a job");
  cr_assert_eq(pv_config_check_reply_topic(c, "header \"reply-to\"",
                                           "b.jobs.dead", &e), -1);
  cr_assert(strstr(e.message, "header \"reply-to\": \"b.jobs.dead\" is the "
                   "dead-letter topic of b.jobs"), "%s", e.message);
  const char *fine[] = {"a.jobs.dlq", "a.job", "b.jobs.deadx", "x.dead",
                        "provisioning.results", "a.jobsa"};
  for (size_t i = 0; i < sizeof(fine) / sizeof(fine[0]); i++)
    cr_assert_eq(pv_config_check_reply_topic(c, "f", fine[i], &e), 0, "%s",
                 fine[i]);
  pv_config_destroy(c);
}

Test(config, missing_file_and_syntax_error)
{
  pv_config_t *c = pv_config_load("/nonexistent/pv.conf", err, sizeof(err));
  cr_assert_null(c);
  cr_assert(strstr(err, "/nonexistent/pv.conf: cannot open"), "got %s", err);
  expect_refused("[worker]\nid = w\nthis is not a key value line\n", 3,
                 "syntax error");
}

/* The daemon refuses to start: exit status 2, one line on stderr in the
 * form file:line: [section] key: reason. */
Test(config, provisiond_exits_2_with_file_line_key_reason)
{
  write_file(path, "[worker]\nid = w\n\n[http]\nmax_connections = 0\n", 0600);
  char bin[512], log[600];
  snprintf(bin, sizeof(bin), "%s/provisiond", pv_test_build_dir());
  snprintf(log, sizeof(log), "%s/stderr.log", dir);
  unlink(log);
  const char *argv[] = {bin, "-c", path, NULL};
  pid_t pid = pv_proc_start(argv, NULL, log);
  cr_assert_gt(pid, 0);
  int status = pv_proc_stop(pid, 0, 20000);
  cr_assert(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 2,
            "provisiond must exit 2 on a bad config (status %d)", status);
  FILE *f = fopen(log, "r");
  cr_assert_not_null(f);
  char line[2048] = "";
  cr_assert_not_null(fgets(line, sizeof(line), f));
  fclose(f);
  unlink(log);
  char want[1024];
  snprintf(want, sizeof(want), "%s:5: [http] max_connections: 0 is out of "
           "range [1, 10000]", path);
  cr_assert(strstr(line, want), "stderr \"%s\" must contain \"%s\"", line,
            want);
}

/* docs/configuration.md carries the key table exactly as `provisiond
 * --config-docs` prints it (below a hand-written introduction); this fails
 * when the table changes without the page. */
Test(config, docs_configuration_md_in_sync)
{
  char doc[1024];
  snprintf(doc, sizeof(doc), "%s/docs/configuration.md", pv_test_source_dir());
  FILE *f = fopen(doc, "r");
  cr_assert_not_null(f, "cannot open %s", doc);
  char *disk = NULL, *gen = NULL;
  size_t disk_len = 0, gen_len = 0;
  FILE *m = open_memstream(&disk, &disk_len);
  char chunk[4096];
  size_t n;
  while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
    fwrite(chunk, 1, n, m);
  fclose(f);
  fclose(m);
  m = open_memstream(&gen, &gen_len);
  pv_config_dump_markdown(m);
  fclose(m);
  const char *hdr = "| section | key |";
  const char *at = strstr(disk, hdr);
  cr_assert_not_null(at, "docs/configuration.md has no key table");
  cr_assert_null(strstr(at + 1, hdr), "docs/configuration.md has two tables");
  size_t i = 0, start = (size_t)(at - disk);
  while (start + i < disk_len && i < gen_len && at[i] == gen[i])
    i++;
  cr_assert(i == gen_len && start + i == disk_len,
            "docs/configuration.md's table differs from the key table at "
            "byte %zu of the table; regenerate it: keep the introduction and "
            "replace everything from \"%s\" with the output of "
            "build/provisiond --config-docs",
            i, hdr);
  free(disk);
  free(gen);
}

/* An optional key set to nothing is unset: `ca_path =` (as the example
 * configuration shows it, uncommented) must not hand curl an empty CA
 * file name, which fails every TLS handshake. */
Test(config, empty_optional_string_is_unset)
{
  write_file(path, "[http]\nca_path =\n[worker]\nmetrics_listen =  \n", 0600);
  pv_config_t *c = pv_config_load(path, err, sizeof(err));
  cr_assert_not_null(c, "%s", err);
  cr_assert_null(c->http_ca_path, "ca_path is \"%s\"", c->http_ca_path);
  cr_assert_null(c->metrics_listen, "empty metrics_listen disables it");
  pv_config_destroy(c);
}
