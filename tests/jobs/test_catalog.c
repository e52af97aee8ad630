/* The catalog table: integrity, the stable op names, docs in sync. */
#include "jobs/catalog.h"
#include "tests/support/testenv.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The names MESSAGES.md promises BSS systems (stable API). */
static const char *const promised[] = {
  "voltha health_check", "voltha list_devices", "voltha get_device",
  "voltha list_logical_devices", "voltha get_device_ports",
  "voltha get_device_flows", "voltha preprovision_olt", "voltha enable_device",
  "voltha disable_device", "voltha reboot_device", "voltha delete_device",
  "voltha provision_onu",
  "genieacs health_check", "genieacs list_devices", "genieacs get_device",
  "genieacs get_parameter_values", "genieacs set_parameter_values",
  "genieacs refresh_object", "genieacs add_object", "genieacs delete_object",
  "genieacs reboot", "genieacs factory_reset", "genieacs download",
  "genieacs add_tag", "genieacs remove_tag", "genieacs delete_device",
  "genieacs list_tasks", "genieacs list_faults", "genieacs retry_task",
  "genieacs delete_task",
  "netbox health_check", "netbox list_devices", "netbox get_device",
  "netbox create_device", "netbox update_device", "netbox delete_device",
  "netbox list_interfaces", "netbox list_prefixes", "netbox allocate_ip",
  "netbox release_ip", "netbox get_ip_address", "netbox list_ip_addresses",
  "netbox order",
  /* The original clients' other methods (docs/clients.md); order types
   * build on the ONU, IP, VLAN, preset and provision ones. */
  "voltha enable_onu", "voltha disable_onu", "voltha get_logical_device",
  "voltha get_logical_device_ports", "voltha get_logical_device_flows",
  "voltha add_flow", "voltha delete_flow", "voltha list_meters",
  "voltha add_meter", "voltha update_meter", "voltha delete_meter",
  "voltha list_adapters", "voltha list_device_types",
  "genieacs count_devices", "genieacs delete_fault", "genieacs list_presets",
  "genieacs put_preset", "genieacs delete_preset", "genieacs list_provisions",
  "genieacs put_provision", "genieacs delete_provision",
  "genieacs run_provisions", "genieacs list_files", "genieacs upload_file",
  "genieacs delete_file",
  "netbox create_ip_address", "netbox update_ip_address",
  "netbox assign_ip_to_interface", "netbox get_available_ips",
  "netbox get_prefix", "netbox create_prefix", "netbox delete_prefix",
  "netbox list_available_prefixes", "netbox list_vrfs", "netbox get_vrf",
  "netbox create_vrf", "netbox delete_vrf", "netbox list_vlan_groups",
  "netbox list_vlans", "netbox get_vlan", "netbox create_vlan",
  "netbox update_vlan", "netbox delete_vlan", "netbox allocate_vlan",
  "netbox list_sites", "netbox get_site", "netbox create_site",
  "netbox delete_site", "netbox list_tenants", "netbox get_tenant",
  "netbox find_tenant", "netbox create_tenant", "netbox delete_tenant",
  "netbox create_interface", "netbox list_cables", "netbox get_cable",
  "netbox create_cable", "netbox update_cable", "netbox delete_cable",
  "netbox list_providers", "netbox get_provider", "netbox create_provider",
  "netbox list_circuit_types", "netbox create_circuit_type",
  "netbox list_circuits", "netbox get_circuit", "netbox create_circuit",
  "netbox update_circuit", "netbox delete_circuit",
  "netbox list_circuit_terminations", "netbox get_circuit_termination",
  "netbox create_circuit_termination",
};

Test(catalog, every_promised_op_exists)
{
  for (size_t i = 0; i < sizeof(promised) / sizeof(promised[0]); i++) {
    char svc[32], op[64];
    cr_assert_eq(sscanf(promised[i], "%31s %63s", svc, op), 2);
    cr_assert_not_null(pv_catalog_find(svc, op), "missing %s", promised[i]);
  }
  cr_assert_null(pv_catalog_find("voltha", "get_ip_address"));
  cr_assert_null(pv_catalog_find("nope", "order"));
}

Test(catalog, paths_match_southbound)
{
  /* The seed got these wrong (SOUTHBOUND.md §4). */
  cr_assert_str_eq(pv_catalog_find("voltha", "delete_device")->path,
                   "/api/v1/devices/{device_id}/delete");
  cr_assert_str_eq(pv_catalog_find("voltha", "delete_device")->method, "DELETE");
  cr_assert_str_eq(pv_catalog_find("voltha", "health_check")->path, "/health");
  cr_assert_str_eq(pv_catalog_find("genieacs", "get_device")->path, "/devices/");
  cr_assert_str_eq(pv_catalog_find("netbox", "allocate_ip")->path,
                   "/api/ipam/prefixes/{prefix_id}/available-ips/");
  cr_assert_str_eq(pv_catalog_find("netbox", "update_device")->method, "PATCH");
  cr_assert_eq(pv_catalog_find("netbox", "allocate_ip")->idempotent, false);
  cr_assert_eq(pv_timeout_class_ms(pv_catalog_find("genieacs", "reboot")->tmo),
               150000);
  cr_assert_geq(pv_timeout_class_ms(PV_TMO_TASK_CR), 130000);
}

Test(catalog, table_integrity)
{
  for (size_t i = 0; i < pv_catalog_count(); i++) {
    const pv_op_t *op = pv_catalog_at(i);
    bool any = strcmp(op->service, "*") == 0;
    cr_assert(any || pv_catalog_has_service(op->service), "%s", op->name);
    cr_assert_not_null(op->desc);
    if (!any) {
      cr_assert_eq(op->path[0], '/', "%s.%s path", op->service, op->name);
      /* NetBox paths end with '/' (no 301 that drops a POST body). */
      if (strcmp(op->service, "netbox") == 0)
        cr_assert_eq(op->path[strlen(op->path) - 1], '/', "%s", op->name);
    }
    /* Every {param} has a required path argument, and back. */
    for (const char *p = strchr(op->path, '{'); p; p = strchr(p + 1, '{')) {
      char name[64];
      cr_assert_eq(sscanf(p, "{%63[^}]}", name), 1);
      const pv_arg_t *a = pv_op_arg(op, name);
      cr_assert_not_null(a, "%s.%s: {%s} has no argument", op->service,
                         op->name, name);
      cr_assert(a->required && a->in == PV_IN_PATH, "%s.%s: %s", op->service,
                op->name, name);
    }
    for (const pv_arg_t *a = op->args; a->name; a++) {
      char needle[80];
      snprintf(needle, sizeof(needle), "{%s}", a->name);
      if (a->in == PV_IN_PATH)
        cr_assert_not_null(strstr(op->path, needle), "%s.%s: %s", op->service,
                           op->name, a->name);
      for (const pv_arg_t *b = a + 1; b->name; b++)
        cr_assert_str_neq(a->name, b->name, "%s.%s: duplicate argument",
                          op->service, op->name);
    }
    if (op->task)
      cr_assert_eq(op->norm, PV_NORM_TASK);
  }
}

Test(catalog, text_dump_filters_service)
{
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  cr_assert_eq(pv_catalog_dump(f, "netbox", false), 0);
  fclose(f);
  cr_assert(strstr(buf, "allocate_ip"));
  cr_assert_null(strstr(buf, "provision_onu"));
  free(buf);
  cr_assert_eq(pv_catalog_dump(stdout, "nope", false), -1);
}

/* docs/operations.md is generated from the table; this fails when someone
 * changes the table without regenerating it (build/pv-catalog-doc
 * docs/operations.md), so the page never lies. */
Test(catalog, docs_operations_md_in_sync)
{
  char path[1024];
  snprintf(path, sizeof(path), "%s/docs/operations.md", pv_test_source_dir());
  FILE *f = fopen(path, "r");
  cr_assert_not_null(f, "cannot open %s", path);
  char *disk = NULL;
  size_t disk_len = 0;
  FILE *m = open_memstream(&disk, &disk_len);
  char chunk[4096];
  size_t n;
  while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
    fwrite(chunk, 1, n, m);
  fclose(f);
  fclose(m);

  char *gen = NULL;
  size_t gen_len = 0;
  m = open_memstream(&gen, &gen_len);
  cr_assert_eq(pv_catalog_dump(m, NULL, true), 0);
  fclose(m);

  size_t i = 0;
  while (i < disk_len && i < gen_len && disk[i] == gen[i])
    i++;
  cr_assert(i == disk_len && i == gen_len,
            "docs/operations.md differs from the catalog at byte %zu; "
            "regenerate it: cmake --build build --target pv-catalog-doc && "
            "build/pv-catalog-doc docs/operations.md",
            i);
  free(disk);
  free(gen);
}

/* ---- every op's argument schema, derived from the table ---------------- */

/* A value the schema accepts for a. */
static json_t *good_value(const pv_arg_t *a)
{
  size_t n = a->min > 0 ? (size_t)a->min : 1;
  switch (a->type) {
  case PV_ARG_STR: {
    if (a->max < (int64_t)n)
      n = (size_t)a->max;
    char *s = calloc(n + 1, 1);
    memset(s, 'a', n);
    json_t *v = json_string(s);
    free(s);
    return v;
  }
  case PV_ARG_BASE64: return json_string("AAAA");
  case PV_ARG_INT: return json_integer(a->min);
  case PV_ARG_U64: return json_string("18446744073709551615");
  case PV_ARG_BOOL: return json_true();
  case PV_ARG_OBJECT: return json_object();
  case PV_ARG_REF: return json_integer(1);
  case PV_ARG_ARRAY:
  case PV_ARG_STR_LIST: {
    json_t *v = json_array();
    for (int64_t i = 0; i < a->min; i++)
      json_array_append_new(v, json_string("a"));
    return v;
  }
  case PV_ARG_PARAM_VALUES: return json_pack("[[s,s]]", "a.b", "x");
  case PV_ARG_STEPS:
    return json_pack("[{s:s,s:s}]", "service", "voltha", "op", "health_check");
  }
  return json_null();
}

/* The smallest valid args of op: its required arguments, plus the first
 * of its one_of group. */
static json_t *good_args(const pv_op_t *op)
{
  json_t *args = json_object();
  char first[64] = "";
  if (op->one_of)
    snprintf(first, sizeof(first), "%.*s", (int)strcspn(op->one_of, "|"),
             op->one_of);
  for (const pv_arg_t *a = op->args; a->name; a++)
    if (a->required || strcmp(a->name, first) == 0)
      json_object_set_new(args, a->name, good_value(a));
  return args;
}

static void expect_bad(const pv_op_t *op, json_t *args, const char *arg,
                       const char *needle)
{
  pv_error_t err;
  pv_error_clear(&err);
  int rc = pv_catalog_check_args(op, args, &err);
  char *dump = json_dumps(args, JSON_COMPACT);
  cr_assert_eq(rc, -1, "%s.%s accepted %.200s", op->service, op->name, dump);
  cr_assert_eq(err.cls, PV_ERR_BAD_ARGS, "%s.%s", op->service, op->name);
  char named[96];
  snprintf(named, sizeof(named), "argument \"%s\"", arg);
  cr_assert(strstr(err.message, named), "%s.%s: \"%s\" does not name %s",
            op->service, op->name, err.message, arg);
  cr_assert(strstr(err.message, needle), "%s.%s: \"%s\" lacks \"%s\"",
            op->service, op->name, err.message, needle);
  free(dump);
  json_decref(args);
}

/* A value of the wrong JSON type for a, and the words the refusal uses. */
static json_t *wrong_type(const pv_arg_t *a, const char **needle)
{
  switch (a->type) {
  case PV_ARG_STR:
  case PV_ARG_BASE64:
    *needle = "expected string, got integer";
    return json_integer(5);
  case PV_ARG_INT:
    *needle = "expected integer, got string";
    return json_string("5");
  case PV_ARG_U64:
    *needle = "expected integer or decimal string, got boolean";
    return json_true();
  case PV_ARG_BOOL:
    *needle = "expected boolean, got string";
    return json_string("true");
  case PV_ARG_OBJECT:
    *needle = "expected object, got array";
    return json_array();
  case PV_ARG_REF:
    *needle = "expected an id (integer) or a non-empty object, got string";
    return json_string("x");
  default:
    *needle = "expected array, got object";
    return json_object();
  }
}

/* Out of its range or size, when the type has one. */
static json_t *out_of_range(const pv_arg_t *a, const char **needle)
{
  switch (a->type) {
  case PV_ARG_STR:
  case PV_ARG_BASE64: {
    size_t n = (size_t)a->max + 1;
    if (a->type == PV_ARG_BASE64)
      n = ((size_t)a->max / 4 + 1) * 4; /* still valid base64 */
    char *s = malloc(n + 1);
    memset(s, 'A', n);
    s[n] = '\0';
    json_t *v = json_string(s);
    free(s);
    *needle = "too long";
    return v;
  }
  case PV_ARG_INT:
    *needle = "out of range";
    return a->max < INT64_MAX ? json_integer(a->max + 1)
                              : json_integer(a->min - 1);
  case PV_ARG_U64:
    *needle = "is not a decimal number";
    return json_string("18446744073709551616");
  case PV_ARG_ARRAY:
  case PV_ARG_STR_LIST:
  case PV_ARG_PARAM_VALUES: {
    json_t *v = json_array();
    for (int64_t i = 0; i <= a->max; i++)
      json_array_append_new(v, a->type == PV_ARG_PARAM_VALUES
                                   ? json_pack("[s,s]", "a.b", "x")
                                   : json_string("a"));
    *needle = "items, expected";
    return v;
  }
  default:
    return NULL;
  }
}

/* For every op of the table: its minimal valid args pass; leaving out any
 * required argument, giving any argument the wrong type, or a value out
 * of its range is refused with bad_args naming that argument. */
Test(catalog, every_op_refuses_missing_mistyped_and_out_of_range_args)
{
  size_t checked = 0;
  for (size_t i = 0; i < pv_catalog_count(); i++) {
    const pv_op_t *op = pv_catalog_at(i);
    json_t *args = good_args(op);
    pv_error_t err;
    pv_error_clear(&err);
    bool patch = strcmp(op->method, "PATCH") == 0;
    for (const pv_arg_t *a = op->args; a->name && patch; a++)
      patch = !(a->required && a->in == PV_IN_BODY);
    int rc = pv_catalog_check_args(op, args, &err);
    /* A PATCH needs a field to change besides the id (unless one is
     * required anyway). */
    cr_assert(patch ? rc == -1 && strstr(err.message, "no field to change")
                    : rc == 0,
              "%s.%s: minimal args refused: %s", op->service, op->name,
              err.message);
    for (const pv_arg_t *a = op->args; a->name; a++) {
      if (a->type == PV_ARG_STEPS)
        continue; /* the order's steps have their own test */
      if (a->required) {
        json_t *without = json_deep_copy(args);
        json_object_del(without, a->name);
        expect_bad(op, without, a->name, "missing");
      }
      const char *needle;
      json_t *bad = json_deep_copy(args);
      json_object_set_new(bad, a->name, wrong_type(a, &needle));
      expect_bad(op, bad, a->name, needle);
      json_t *v = out_of_range(a, &needle);
      if (v) {
        bad = json_deep_copy(args);
        json_object_set_new(bad, a->name, v);
        expect_bad(op, bad, a->name, needle);
      }
      checked++;
    }
    json_decref(args);
  }
  cr_assert_gt(checked, 300, "only %zu arguments checked", checked);
}

/* The invariants the clients rely on for the rows that use the newer
 * columns. */
Test(catalog, keyed_bodies_headers_and_raw_rows_are_consistent)
{
  for (size_t i = 0; i < pv_catalog_count(); i++) {
    const pv_op_t *op = pv_catalog_at(i);
    if (op->body) {
      json_t *b = json_loads(op->body, 0, NULL);
      cr_assert(json_is_object(b), "%s.%s: body is not a JSON object",
                op->service, op->name);
      json_decref(b);
    }
    if (op->lookup) {
      /* Not idempotent (else no look-up is needed), a POST, and the job
       * key's room in description kept. */
      cr_assert_not(op->idempotent, "%s", op->name);
      cr_assert_str_eq(op->method, "POST", "%s", op->name);
      cr_assert_eq(op->lookup[strlen(op->lookup) - 1], '/', "%s", op->name);
      const pv_arg_t *d = pv_op_arg(op, "description");
      cr_assert(d && d->in == PV_IN_CLIENT && d->max <= 60,
                "%s: description must be a client argument of <= 60 bytes",
                op->name);
    }
    if (strcmp(op->service, "netbox") == 0 &&
        strcmp(op->method, "POST") == 0)
      cr_assert_not_null(op->lookup, "%s: a NetBox POST creates: keyed",
                         op->name);
    size_t raw = 0;
    for (const pv_arg_t *a = op->args; a->name; a++) {
      if (a->in == PV_IN_HEADER)
        cr_assert(a->wire && a->type == PV_ARG_STR, "%s.%s", op->name,
                  a->name);
      if (a->in == PV_IN_RAW)
        raw++;
    }
    /* Two raw arguments only as alternatives. */
    cr_assert(raw <= 1 || op->one_of, "%s: %zu raw bodies", op->name, raw);
  }
}
/* Which ops change something: an order type must declare their undo. */
Test(catalog, op_writes)
{
  static const char *const writes[] = {
    "netbox allocate_ip", "netbox release_ip", "netbox create_device",
    "netbox update_device", "voltha enable_device", "voltha provision_onu",
    "voltha reboot_device", "genieacs set_parameter_values",
    "genieacs factory_reset", "genieacs add_tag"};
  static const char *const reads[] = {
    "netbox get_ip_address", "netbox list_ip_addresses", "voltha get_device",
    "voltha list_devices", "voltha health_check", "genieacs get_device",
    "genieacs get_parameter_values", "genieacs refresh_object",
    "genieacs list_tasks"};
  char svc[32], op[64];
  for (size_t i = 0; i < sizeof(writes) / sizeof(writes[0]); i++) {
    cr_assert_eq(sscanf(writes[i], "%31s %63s", svc, op), 2);
    cr_assert(pv_op_writes(pv_catalog_find(svc, op)), "%s", writes[i]);
  }
  for (size_t i = 0; i < sizeof(reads) / sizeof(reads[0]); i++) {
    cr_assert_eq(sscanf(reads[i], "%31s %63s", svc, op), 2);
    cr_assert_not(pv_op_writes(pv_catalog_find(svc, op)), "%s", reads[i]);
  }
}

/* One value against one argument, named as the caller says: the checker
 * job args and order types share. */
Test(catalog, arg_check_names_the_value)
{
  const pv_op_t *op = pv_catalog_find("genieacs", "set_parameter_values");
  const pv_arg_t *a = pv_op_arg(op, "parameter_values");
  pv_error_t e;
  json_t *v = json_loads("[[\"p\", 1], [\"q\"]]", 0, NULL);
  cr_assert_eq(pv_arg_check(a, v, "steps[3].args.parameter_values", &e), -1);
  cr_assert_str_eq(e.message, "steps[3].args.parameter_values: item 1: "
                              "expected [path, value] or [path, value, "
                              "type]");
  json_decref(v);
  /* Job args keep their messages. */
  json_t *args = json_loads("{\"device_id\":\"d\",\"parameter_values\":"
                            "[[\"p\", {}]]}", 0, NULL);
  cr_assert_eq(pv_catalog_check_args(op, args, &e), -1);
  cr_assert_str_eq(e.message, "argument \"parameter_values\": item 0 value: "
                              "expected string, number or boolean, got "
                              "object");
  json_decref(args);
}
