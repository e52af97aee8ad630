/*
 * Order types are configuration: `provisiond --check-config` and start-up
 * load [worker] orders_dir and refuse a bad file with the file and the
 * field on stderr and exit 2; `provctl orders` reads the same folder.
 * Nothing here needs a service: no connection is made.
 */
#include "tests/support/testenv.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[256], conf[512], orders[512];

static void setup(void)
{
  unsetenv("PROVISIOND_WORKER_ORDERS_DIR");
  unsetenv("PROVISIOND_CONFIG");
  snprintf(dir, sizeof(dir), "/tmp/pv-orders-cli-%ld", (long)getpid());
  cr_assert_eq(mkdir(dir, 0700), 0);
  snprintf(conf, sizeof(conf), "%s/provisiond.conf", dir);
  snprintf(orders, sizeof(orders), "%s/orders", dir);
  cr_assert_eq(mkdir(orders, 0700), 0);
}

static void teardown(void)
{
  char cmd[600];
  snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
  cr_assert_eq(system(cmd), 0);
}

TestSuite(orders_cli, .init = setup, .fini = teardown, .timeout = 60);

static void write_text(const char *path, const char *text)
{
  FILE *f = fopen(path, "w");
  cr_assert_not_null(f, "%s", path);
  fputs(text, f);
  fclose(f);
}

static char *read_text(const char *path)
{
  FILE *f = fopen(path, "r");
  cr_assert_not_null(f, "%s", path);
  static char buf[64 * 1024];
  size_t n = fread(buf, 1, sizeof(buf) - 1, f);
  fclose(f);
  buf[n] = '\0';
  return strdup(buf);
}

/* Runs build/PROG -c conf ARGS; *out and *err get what it printed.
 * @returns its exit status. */
static int run(const char *prog, const char *args, char **out, char **err)
{
  char cmd[2048];
  snprintf(cmd, sizeof(cmd), "%s/%s -c %s %s >%s/out 2>%s/err",
           pv_test_build_dir(), prog, conf, args, dir, dir);
  int st = system(cmd);
  cr_assert(WIFEXITED(st), "%s did not exit", cmd);
  char p[600];
  snprintf(p, sizeof(p), "%s/out", dir);
  *out = read_text(p);
  snprintf(p, sizeof(p), "%s/err", dir);
  *err = read_text(p);
  return WEXITSTATUS(st);
}

static void use_orders_dir(const char *d)
{
  char text[1024];
  snprintf(text, sizeof(text), "[worker]\nid = t\norders_dir = %s\n", d);
  write_text(conf, text);
}

Test(orders_cli, check_config_loads_the_shipped_types)
{
  char d[512];
  snprintf(d, sizeof(d), "%s/jobs/orders", pv_test_source_dir());
  use_orders_dir(d);
  char *out, *err;
  cr_assert_eq(run("provisiond", "--check-config", &out, &err), 0, "%s", err);
  char want[1200];
  snprintf(want, sizeof(want), "%s: ok (0 tenants)\n", conf);
  cr_assert_str_eq(out, want);
  free(out);
  free(err);

  cr_assert_eq(run("provctl", "orders", &out, &err), 0, "%s", err);
  cr_assert(strstr(out, "activate_subscriber    1        8      6"), "%s",
            out);
  cr_assert(strstr(out, "suspend_subscriber"), "%s", out);
  free(out);
  free(err);

  cr_assert_eq(run("provctl", "orders show activate_subscriber", &out, &err),
               0, "%s", err);
  cr_assert(strstr(out, "activate_subscriber (version 1)\n"), "%s", out);
  cr_assert(strstr(out, "on error: outcome_unknown: hold, *: compensate\n"),
            "%s", out);
  cr_assert(strstr(out, "prefix_id      integer  yes       1..2147483647"),
            "%s", out);
  cr_assert(strstr(out, "  0 reserve_ip"), "%s", out);
  cr_assert(strstr(out, "      undo  netbox.release_ip "
                        "{\"id\":\"${self.result.id}\"}\n"), "%s", out);
  free(out);
  free(err);

  /* --json is the canonical definition, the one an order pins. */
  cr_assert_eq(run("provctl", "orders show suspend_subscriber --json", &out,
                   &err), 0, "%s", err);
  json_error_t je;
  json_t *j = json_loads(out, 0, &je);
  cr_assert_not_null(j, "%s", je.text);
  cr_assert_str_eq(json_string_value(json_object_get(j, "name")),
                   "suspend_subscriber");
  cr_assert_eq(json_array_size(json_object_get(j, "steps")), 2);
  json_decref(j);
  free(out);
  free(err);

  cr_assert_eq(run("provctl", "orders show nope", &out, &err), 1);
  snprintf(want, sizeof(want), "provctl: orders: no order type \"nope\" in "
           "%s (provctl orders lists them)\n", d);
  cr_assert_str_eq(err, want);
  free(out);
  free(err);
  cr_assert_eq(run("provctl", "orders show", &out, &err), 2);
  free(out);
  free(err);
}

Test(orders_cli, a_bad_file_stops_the_start)
{
  use_orders_dir(orders);
  char path[600];
  snprintf(path, sizeof(path), "%s/x.json", orders);
  write_text(path, "{\"name\":\"x\",\"version\":1,\"input\":{\"prefix_id\":{"
                   "\"type\":\"integer\",\"required\":true}},\"steps\":[{"
                   "\"name\":\"a\",\"call\":{\"service\":\"netbox\",\"op\":"
                   "\"allocate_ip\",\"args\":{\"prefix_id\":"
                   "\"${input.prefx}\"}},\"compensate\":null}]}");
  char want[1200];
  snprintf(want, sizeof(want), "provisiond: %s: steps[0].args.prefix_id: "
           "${input.prefx} names no input (declared: prefix_id)\n", path);
  char *out, *err;
  cr_assert_eq(run("provisiond", "--check-config", &out, &err), 2);
  cr_assert_str_eq(err, want);
  cr_assert_str_eq(out, "");
  free(out);
  free(err);
  /* The daemon itself refuses to start, before any connection. */
  cr_assert_eq(run("provisiond", "", &out, &err), 2);
  cr_assert_str_eq(err, want);
  free(out);
  free(err);
  /* provctl reads the same folder and says the same. */
  cr_assert_eq(run("provctl", "orders", &out, &err), 2);
  snprintf(want, sizeof(want), "provctl: %s: steps[0].args.prefix_id: "
           "${input.prefx} names no input (declared: prefix_id)\n", path);
  cr_assert_str_eq(err, want);
  free(out);
  free(err);
}

Test(orders_cli, a_named_folder_must_exist_the_default_may_not)
{
  use_orders_dir("/nonexistent/orders");
  char *out, *err;
  cr_assert_eq(run("provisiond", "--check-config", &out, &err), 2);
  cr_assert_str_eq(err, "provisiond: /nonexistent/orders: cannot open the "
                        "order types folder: No such file or directory\n");
  free(out);
  free(err);

  /* Unset: the install's folder, which a build tree need not have. */
  write_text(conf, "[worker]\nid = t\n");
  cr_assert_eq(run("provisiond", "--check-config", &out, &err), 0, "%s", err);
  free(out);
  free(err);
}
