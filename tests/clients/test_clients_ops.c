/*
 * The ops that complete the original clients' methods (issue 18), against
 * a private simulator over real HTTP: each op's success shape, a 404 or a
 * validation error carrying the southbound's own message, the state they
 * leave behind, and that a fault injected on each op's route reaches the
 * job. Argument validation (missing, wrong type, out of range) is checked
 * for every op of the table in tests/jobs/test_catalog.c.
 */
#include "tests/clients/loop.h"

#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static cl_env_t env;

static void setup(void)
{
  cl_env_start(&env, NULL, NULL);
}

static void teardown(void)
{
  cl_env_stop(&env);
}

/* printf into a static buffer: the args of one op call. */
static const char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static const char *fmt(const char *f, ...)
{
  static char buf[4096];
  va_list ap;
  va_start(ap, f);
  vsnprintf(buf, sizeof(buf), f, ap);
  va_end(ap);
  return buf;
}

static json_int_t ival(const json_t *o, const char *k)
{
  const json_t *v = json_object_get(o, k);
  cr_assert(json_is_integer(v), "no integer \"%s\"", k);
  return json_integer_value(v);
}

/* ---- VOLTHA ------------------------------------------------------------- */

TestSuite(voltha_ops, .init = setup, .fini = teardown, .timeout = 60);

/* The first OLT, its logical device, and one ONU of it in the admin state
 * wanted (the seed has ENABLED and PREPROVISIONED ones). */
typedef struct olt_info {
  char olt[64], ld[64], onu_sn[32], onu_id[64];
} olt_info_t;

static void olt_info(olt_info_t *oi, const char *onu_state)
{
  memset(oi, 0, sizeof(*oi));
  json_t *res = cl_ok("voltha", "list_logical_devices", "{}");
  json_t *ld = json_array_get(cl_items(res), 0);
  snprintf(oi->ld, sizeof(oi->ld), "%s", cl_str(ld, "id"));
  snprintf(oi->olt, sizeof(oi->olt), "%s", cl_str(ld, "root_device_id"));
  json_decref(res);
  res = cl_ok("voltha", "list_devices", fmt("{\"parent_id\":\"%s\"}", oi->olt));
  size_t i;
  json_t *d;
  json_array_foreach(cl_items(res), i, d) {
    if (strcmp(cl_str(d, "admin_state"), onu_state) == 0) {
      snprintf(oi->onu_sn, sizeof(oi->onu_sn), "%s", cl_str(d, "serial_number"));
      snprintf(oi->onu_id, sizeof(oi->onu_id), "%s", cl_str(d, "id"));
      break;
    }
  }
  json_decref(res);
  cr_assert(oi->onu_sn[0], "no %s ONU under %s", onu_state, oi->olt);
}

static const char *onu_state_of(const json_t *res)
{
  return cl_str(json_object_get(res, "device"), "admin_state");
}

Test(voltha_ops, disable_and_enable_onu_by_olt_and_serial)
{
  olt_info_t oi;
  olt_info(&oi, "ENABLED");
  const char *args = fmt("{\"olt_id\":\"%s\",\"serial_number\":\"%s\"}",
                         oi.olt, oi.onu_sn);
  char a[256];
  snprintf(a, sizeof(a), "%s", args);

  json_t *res = cl_ok("voltha", "disable_onu", a);
  cr_assert(json_is_true(json_object_get(res, "changed")));
  cr_assert_str_eq(cl_str(res, "device_id"), oi.onu_id);
  cr_assert_str_eq(onu_state_of(res), "DISABLED");
  json_decref(res);
  res = cl_ok("voltha", "disable_onu", a);
  cr_assert(json_is_false(json_object_get(res, "changed")), "suspended twice");
  json_decref(res);
  /* The state is VOLTHA's, not ours: get_device sees it. */
  res = cl_ok("voltha", "get_device", fmt("{\"device_id\":\"%s\"}", oi.onu_id));
  cr_assert_str_eq(cl_str(res, "admin_state"), "DISABLED");
  json_decref(res);

  res = cl_ok("voltha", "enable_onu", a);
  cr_assert(json_is_true(json_object_get(res, "changed")));
  cr_assert_str_eq(onu_state_of(res), "ENABLED");
  json_decref(res);
  res = cl_ok("voltha", "enable_onu", a);
  cr_assert(json_is_false(json_object_get(res, "changed")), "resumed twice");
  json_decref(res);

  cl_fails("voltha", "disable_onu",
           fmt("{\"olt_id\":\"%s\",\"serial_number\":\"NOPE0000\"}", oi.olt),
           PV_ERR_HTTP_4XX, 404, "has no ONU with serial number \"NOPE0000\"");
  cl_fails("voltha", "enable_onu",
           "{\"olt_id\":\"nope\",\"serial_number\":\"X\"}", PV_ERR_HTTP_4XX,
           404, "no OLT \"nope\"");
}

/* A discovered ONU was never enabled: VOLTHA refuses to disable it, and
 * that refusal (its text) is the job's answer. */
Test(voltha_ops, disable_onu_never_enabled_is_refused)
{
  olt_info_t oi;
  olt_info(&oi, "PREPROVISIONED");
  cl_fails("voltha", "disable_onu",
           fmt("{\"olt_id\":\"%s\",\"serial_number\":\"%s\"}", oi.olt,
               oi.onu_sn),
           PV_ERR_HTTP_4XX, 409, "invalid-admin-state");
}

Test(voltha_ops, logical_device_adapters_and_device_types)
{
  olt_info_t oi;
  olt_info(&oi, "ENABLED");
  const char *a = fmt("{\"logical_device_id\":\"%s\"}", oi.ld);
  char args[256];
  snprintf(args, sizeof(args), "%s", a);
  json_t *res = cl_ok("voltha", "get_logical_device", args);
  cr_assert_str_eq(cl_str(res, "id"), oi.ld);
  cr_assert_str_eq(cl_str(res, "root_device_id"), oi.olt);
  cr_assert(json_is_string(json_object_get(res, "datapath_id")));
  json_decref(res);
  res = cl_ok("voltha", "get_logical_device_ports", args);
  cr_assert_gt(json_array_size(cl_items(res)), 1, "NNI and UNIs");
  cr_assert_str_eq(cl_str(json_array_get(cl_items(res), 0), "id"),
                   "nni-1048576");
  json_decref(res);
  res = cl_ok("voltha", "get_logical_device_flows", args);
  cl_items(res);
  json_decref(res);

  res = cl_ok("voltha", "list_adapters", "{}");
  cr_assert_gt(json_array_size(cl_items(res)), 0);
  json_decref(res);
  res = cl_ok("voltha", "list_device_types", "{}");
  json_int_t total = ival(res, "total");
  cr_assert_gt(total, 2);
  json_decref(res);
  res = cl_ok("voltha", "list_device_types", "{\"limit\":2,\"offset\":1}");
  cr_assert_eq(json_array_size(cl_items(res)), 2);
  cr_assert(json_is_true(json_object_get(res, "truncated")));
  cr_assert_eq(ival(res, "total"), total);
  json_decref(res);

  cl_fails("voltha", "get_logical_device",
           "{\"logical_device_id\":\"0000feedbeef0000\"}", PV_ERR_HTTP_4XX,
           404, "LogicalDevice '0000feedbeef0000' not found");
  cl_fails("voltha", "get_logical_device_flows",
           "{\"logical_device_id\":\"nope\"}", PV_ERR_HTTP_4XX, 404,
           "not found");
}

#define IN_PORT_MATCH(p)                                                     \
  "\"match\":{\"type\":\"OFPMT_OXM\",\"oxm_fields\":[{\"oxm_class\":"        \
  "\"OFPXMC_OPENFLOW_BASIC\",\"ofb_field\":{\"type\":\"OFPXMT_OFB_IN_PORT\"," \
  "\"port\":" #p "}}]}"

static size_t count_items(const char *op, const char *ld)
{
  json_t *res = cl_ok("voltha", op, fmt("{\"logical_device_id\":\"%s\"}", ld));
  size_t n = json_array_size(cl_items(res));
  json_decref(res);
  return n;
}

Test(voltha_ops, flows_and_meters)
{
  olt_info_t oi;
  olt_info(&oi, "ENABLED");
  size_t flows0 = count_items("get_logical_device_flows", oi.ld);
  char a[1024];

  snprintf(a, sizeof(a),
           "{\"logical_device_id\":\"%s\",\"meter_id\":7,\"bands\":"
           "[{\"type\":\"OFPMBT_DROP\",\"rate\":50000,\"burst_size\":1000}]}",
           oi.ld);
  json_decref(cl_ok("voltha", "add_meter", a));
  json_decref(cl_ok("voltha", "add_meter", a)); /* exists: success */
  cr_assert_eq(count_items("list_meters", oi.ld), 1);
  json_t *res = cl_ok("voltha", "list_meters",
                      fmt("{\"logical_device_id\":\"%s\"}", oi.ld));
  json_t *cfg = json_object_get(json_array_get(cl_items(res), 0), "config");
  cr_assert_eq(ival(cfg, "meter_id"), 7);
  cr_assert_eq(ival(cfg, "flags"), 13, "the default flags were sent");
  json_decref(res);

  /* A flow with a uint64 cookie beyond INT64_MAX, metered by 7. */
  snprintf(a, sizeof(a),
           "{\"logical_device_id\":\"%s\",\"priority\":1000,"
           "\"cookie\":\"18446744073709551000\"," IN_PORT_MATCH(16) ","
           "\"instructions\":[{\"type\":6,\"meter\":{\"meter_id\":7}}]}",
           oi.ld);
  json_decref(cl_ok("voltha", "add_flow", a));
  json_decref(cl_ok("voltha", "add_flow", a)); /* the same flow: replaced */
  cr_assert_eq(count_items("get_logical_device_flows", oi.ld), flows0 + 1);
  res = cl_ok("voltha", "get_logical_device_flows",
              fmt("{\"logical_device_id\":\"%s\"}", oi.ld));
  bool seen = false;
  size_t i;
  json_t *f;
  json_array_foreach(cl_items(res), i, f)
    seen = seen || strcmp(cl_str(f, "cookie"), "18446744073709551000") == 0;
  cr_assert(seen, "the flow is listed with its cookie");
  json_decref(res);

  /* delete_flow by cookie; deleting what is gone is success. */
  snprintf(a, sizeof(a),
           "{\"logical_device_id\":\"%s\",\"cookie\":\"18446744073709551000\"}",
           oi.ld);
  json_decref(cl_ok("voltha", "delete_flow", a));
  cr_assert_eq(count_items("get_logical_device_flows", oi.ld), flows0);
  json_decref(cl_ok("voltha", "delete_flow", a));

  /* delete_meter takes the flows that use it. */
  snprintf(a, sizeof(a),
           "{\"logical_device_id\":\"%s\",\"priority\":900,\"cookie\":5,"
           IN_PORT_MATCH(17) ",\"instructions\":[{\"type\":6,\"meter\":"
           "{\"meter_id\":7}}]}", oi.ld);
  json_decref(cl_ok("voltha", "add_flow", a));
  cr_assert_eq(count_items("get_logical_device_flows", oi.ld), flows0 + 1);
  snprintf(a, sizeof(a), "{\"logical_device_id\":\"%s\",\"meter_id\":7}",
           oi.ld);
  json_decref(cl_ok("voltha", "delete_meter", a));
  json_decref(cl_ok("voltha", "delete_meter", a));
  cr_assert_eq(count_items("list_meters", oi.ld), 0);
  cr_assert_eq(count_items("get_logical_device_flows", oi.ld), flows0);

  /* The southbound's own refusals. */
  cl_fails("voltha", "add_flow",
           fmt("{\"logical_device_id\":\"%s\",\"priority\":1,"
               "\"match\":{\"in_port\":1}}", oi.ld),
           PV_ERR_HTTP_4XX, 400,
           "\"openflow_13.ofp_match\" has no field named \"in_port\"");
  cl_fails("voltha", "add_meter",
           "{\"logical_device_id\":\"nope\",\"meter_id\":1,\"bands\":[{}]}",
           PV_ERR_HTTP_4XX, 404, "LogicalDevice 'nope' not found");
}
