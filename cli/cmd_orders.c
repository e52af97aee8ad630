/* provctl orders / provctl orders show TYPE: the order types of
 * [worker] orders_dir, loaded and checked exactly as provisiond loads them
 * (docs/orders.md). No connection: the folder is all it reads. */
#include "cli/cli.h"

#include "common/alloc.h"
#include "jobs/order_def.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static const char ORDERS_USAGE[] =
  "usage: provctl orders [--json]\n"
  "       provctl orders show TYPE [--json]\n"
  "\n"
  "The order types of [worker] orders_dir, checked against the operation\n"
  "catalog as provisiond checks them at start-up (a bad file: exit 2).\n"
  "show prints a type's inputs, failure policy and steps; --json its\n"
  "canonical definition.\n";

/* Compact JSON for a line of text (freed by the caller). */
static char *compact(const json_t *v)
{
  char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
  return s ? s : pv_strdup("?");
}

static int list_types(const pv_order_types_t *types, bool as_json)
{
  size_t n = pv_order_types_count(types);
  if (as_json) {
    for (size_t i = 0; i < n; i++) {
      const pv_order_def_t *def = pv_order_types_at(types, i);
      json_t *canon = pv_order_def_json(def);
      json_t *steps = json_array();
      for (size_t s = 0; s < pv_order_def_steps(def); s++)
        json_array_append_new(steps,
                              json_string(pv_order_def_step(def, s)->name));
      json_t *inputs = json_array();
      const char *key;
      json_t *v;
      json_object_foreach(json_object_get(canon, "input"), key, v)
        json_array_append_new(inputs, json_string(key));
      json_t *row = json_pack("{s:s,s:i,s:s,s:o,s:o}", "name",
                              pv_order_def_name(def), "version",
                              pv_order_def_version(def), "description",
                              pv_order_def_description(def), "inputs", inputs,
                              "steps", steps);
      char *text = compact(row);
      printf("%s\n", text);
      free(text);
      json_decref(row);
      json_decref(canon);
    }
    return PV_EXIT_OK;
  }
  static const char *const hdr[] = {"TYPE", "VERSION", "STEPS", "INPUTS",
                                    "DESCRIPTION"};
  char (*num)[3][24] = pv_calloc(n + 1, sizeof(*num));
  const char **cells = pv_calloc(n * 5 + 1, sizeof(char *));
  for (size_t i = 0; i < n; i++) {
    const pv_order_def_t *def = pv_order_types_at(types, i);
    json_t *canon = pv_order_def_json(def);
    snprintf(num[i][0], sizeof(num[i][0]), "%d", pv_order_def_version(def));
    snprintf(num[i][1], sizeof(num[i][1]), "%zu", pv_order_def_steps(def));
    snprintf(num[i][2], sizeof(num[i][2]), "%zu",
             json_object_size(json_object_get(canon, "input")));
    json_decref(canon);
    cells[i * 5] = pv_order_def_name(def);
    cells[i * 5 + 1] = num[i][0];
    cells[i * 5 + 2] = num[i][1];
    cells[i * 5 + 3] = num[i][2];
    cells[i * 5 + 4] = pv_order_def_description(def);
  }
  pv_cli_table(stdout, hdr, 5, cells, n, 60);
  free(cells);
  free(num);
  return PV_EXIT_OK;
}

/* "1..48 bytes", "0..1000 items", "1..2147483647", or "-". */
static void input_limits(const json_t *spec, char *buf, size_t size)
{
  const char *type = json_string_value(json_object_get(spec, "type"));
  const json_t *min = json_object_get(spec, "min");
  const json_t *max = json_object_get(spec, "max");
  const char *unit = strcmp(type, "string") == 0    ? " bytes"
                     : strcmp(type, "integer") == 0 ? ""
                                                    : " items";
  if (!min && !max) {
    snprintf(buf, size, "-");
    return;
  }
  char lo[24] = "", hi[24] = "";
  if (min)
    snprintf(lo, sizeof(lo), "%" JSON_INTEGER_FORMAT, json_integer_value(min));
  if (max)
    snprintf(hi, sizeof(hi), "%" JSON_INTEGER_FORMAT, json_integer_value(max));
  snprintf(buf, size, "%s..%s%s", lo, hi, unit);
}

static void show_inputs(const json_t *inputs)
{
  size_t n = json_object_size(inputs);
  printf("\ninputs:\n");
  if (n == 0) {
    printf("  (none)\n");
    return;
  }
  static const char *const hdr[] = {"NAME", "TYPE", "REQUIRED", "LIMITS",
                                    "DEFAULT", "DESCRIPTION"};
  const char **cells = pv_calloc(n * 6 + 1, sizeof(char *));
  char (*lim)[64] = pv_calloc(n, sizeof(*lim));
  char **dflt = pv_calloc(n, sizeof(char *));
  size_t i = 0;
  const char *key;
  json_t *spec;
  json_object_foreach((json_t *)(uintptr_t)inputs, key, spec) {
    input_limits(spec, lim[i], sizeof(lim[i]));
    const json_t *d = json_object_get(spec, "default");
    dflt[i] = d ? compact(d) : NULL;
    cells[i * 6] = key;
    cells[i * 6 + 1] = json_string_value(json_object_get(spec, "type"));
    cells[i * 6 + 2] = json_is_true(json_object_get(spec, "required"))
                           ? "yes" : "no";
    cells[i * 6 + 3] = lim[i];
    cells[i * 6 + 4] = dflt[i];
    cells[i * 6 + 5] = json_string_value(json_object_get(spec, "desc"));
    i++;
  }
  pv_cli_table(stdout, hdr, 6, cells, n, 60);
  for (i = 0; i < n; i++)
    free(dflt[i]);
  free(dflt);
  free(lim);
  free(cells);
}

/* "http_4xx: compensate, *: hold", or what applies without a policy. */
static void print_policy(const char *label, const json_t *on_error,
                         const char *none)
{
  if (!json_object_size(on_error)) {
    if (none)
      printf("%s%s\n", label, none);
    return;
  }
  printf("%s", label);
  const char *key;
  json_t *v;
  bool first = true;
  json_object_foreach((json_t *)(uintptr_t)on_error, key, v) {
    printf("%s%s: %s", first ? "" : ", ", key, json_string_value(v));
    first = false;
  }
  printf("\n");
}

static void print_call(const char *label, const json_t *call)
{
  char *args = compact(json_object_get(call, "args"));
  printf("      %-6s%s.%s %s\n", label,
         json_string_value(json_object_get(call, "service")),
         json_string_value(json_object_get(call, "op")), args);
  free(args);
}

static void print_value(const char *label, const json_t *v)
{
  char *text = compact(v);
  printf("      %-6s%s\n", label, text);
  free(text);
}

/* One step as a short block: what it runs, when, how it is undone. */
static void show_step(size_t i, const json_t *st)
{
  const json_t *await = json_object_get(st, "await");
  const json_t *desc = json_object_get(st, "description");
  printf("  %zu %s%s%s\n", i, json_string_value(json_object_get(st, "name")),
         desc ? " - " : "", desc ? json_string_value(desc) : "");
  const json_t *when = json_object_get(st, "when");
  if (when)
    print_value("when", when);
  if (await) {
    print_call("await", await);
    print_value("until", json_object_get(await, "until"));
    printf("      %-6severy %" JSON_INTEGER_FORMAT " ms, at most %"
           JSON_INTEGER_FORMAT " ms\n", "poll",
           json_integer_value(json_object_get(await, "poll_ms")),
           json_integer_value(json_object_get(await, "deadline_ms")));
  } else {
    print_call("call", json_object_get(st, "call"));
  }
  const json_t *comp = json_object_get(st, "compensate");
  if (json_is_object(comp))
    print_call("undo", comp);
  else if (comp)
    printf("      %-6snone (declared)\n", "undo");
  print_policy("      on error: ", json_object_get(st, "on_error"), NULL);
}

static int show_type(const pv_order_def_t *def, bool as_json)
{
  json_t *canon = pv_order_def_json(def);
  if (as_json) {
    char *text = json_dumps(canon, JSON_INDENT(2));
    printf("%s\n", text ? text : "null");
    free(text);
    json_decref(canon);
    return PV_EXIT_OK;
  }
  printf("%s (version %d)\n", pv_order_def_name(def),
         pv_order_def_version(def));
  if (pv_order_def_description(def)[0])
    printf("%s\n", pv_order_def_description(def));
  if (pv_order_def_deadline_ms(def))
    printf("deadline: %" PRId64 " ms\n", pv_order_def_deadline_ms(def));
  print_policy("on error: ", json_object_get(canon, "on_error"),
               "compensate (the default)");
  show_inputs(json_object_get(canon, "input"));
  printf("\nsteps:\n");
  size_t i;
  const json_t *st;
  json_array_foreach(json_object_get(canon, "steps"), i, st)
    show_step(i, st);
  const json_t *outputs = json_object_get(canon, "outputs");
  if (json_object_size(outputs)) {
    char *o = compact(outputs);
    printf("\noutputs: %s\n", o);
    free(o);
  }
  json_decref(canon);
  return PV_EXIT_OK;
}

int pv_cmd_orders(int argc, char **argv)
{
  static const struct option opts[] = {
    {"json", no_argument, NULL, 'j'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
  };
  bool as_json = false;
  int c;
  optind = 1;
  /* Options anywhere: "orders show TYPE --json" as well as "--json show". */
  while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (c) {
    case 'j': as_json = true; break;
    case 'h':
      fputs(ORDERS_USAGE, stdout);
      return PV_EXIT_OK;
    default:
      fputs(ORDERS_USAGE, stderr);
      return PV_EXIT_USAGE;
    }
  }
  const char *type = NULL;
  if (optind < argc) {
    if (strcmp(argv[optind], "show") != 0 || optind + 2 != argc) {
      fputs(ORDERS_USAGE, stderr);
      return PV_EXIT_USAGE;
    }
    type = argv[optind + 1];
  }
  pv_config_t *conf = pv_cli_load_config();
  if (!conf)
    return PV_EXIT_USAGE;
  char err[1024];
  pv_order_types_t *types = pv_order_types_load(
      conf->orders_dir, conf->orders_dir_set, err, sizeof(err));
  if (!types) {
    pv_cli_err("%s", err);
    pv_config_destroy(conf);
    return PV_EXIT_USAGE;
  }
  int rc;
  if (!type) {
    if (!as_json && pv_order_types_count(types) == 0)
      fprintf(stderr, "provctl: no order types in %s\n", conf->orders_dir);
    rc = list_types(types, as_json);
  } else {
    const pv_order_def_t *def = pv_order_types_find(types, type);
    if (def) {
      rc = show_type(def, as_json);
    } else {
      pv_cli_err("orders: no order type \"%s\" in %s (provctl orders lists "
                 "them)", type, conf->orders_dir);
      rc = PV_EXIT_JOB;
    }
  }
  pv_order_types_destroy(types);
  pv_config_destroy(conf);
  return rc;
}
