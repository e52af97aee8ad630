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
