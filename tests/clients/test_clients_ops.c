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

/* ---- GenieACS ----------------------------------------------------------- */

TestSuite(genieacs_ops, .init = setup, .fini = teardown, .timeout = 60);

/* Every tenth seeded CPE is offline (docs/simulator.md), 20 by default. */
Test(genieacs_ops, count_devices_fetches_no_device)
{
  json_t *all = cl_ok("genieacs", "list_devices",
                      "{\"projection\":\"_id\",\"limit\":1}");
  json_int_t total = ival(all, "total");
  json_decref(all);
  long long before = cl_sim_last_seq(env.sim.genieacs_url);
  json_t *res = cl_ok("genieacs", "count_devices", "{}");
  cr_assert_eq(ival(res, "count"), total);
  json_decref(res);
  json_t *log = cl_sim_requests(env.sim.genieacs_url, before);
  cr_assert_eq(json_array_size(log), 1);
  cr_assert_str_eq(cl_str(json_array_get(log, 0), "method"), "HEAD");
  json_decref(log);

  res = cl_ok("genieacs", "count_devices",
              "{\"query\":{\"_tags\":\"isp-east\"}}");
  cr_assert_eq(ival(res, "count"), (total + 1) / 2, "even CPEs are isp-east");
  json_decref(res);
  res = cl_ok("genieacs", "count_devices", "{\"query\":{\"_id\":\"nope\"}}");
  cr_assert_eq(ival(res, "count"), 0);
  json_decref(res);
  /* A HEAD error has no body: the status says it. */
  cl_fails("genieacs", "count_devices", "{\"query\":{\"$where\":\"1\"}}",
           PV_ERR_HTTP_4XX, 400, "genieacs answered 400");
}

Test(genieacs_ops, presets)
{
  const char *p = "{\"name\":\"wifi-on\",\"weight\":10,\"channel\":\"wifi\","
                  "\"precondition\":\"DeviceID.ProductClass = \\\"HG8245H\\\"\","
                  "\"events\":{\"1 BOOT\":true},\"configurations\":"
                  "[{\"type\":\"value\",\"name\":\"InternetGatewayDevice."
                  "LANDevice.1.WLANConfiguration.1.Enable\",\"value\":true}]}";
  json_decref(cl_ok("genieacs", "put_preset", p));
  json_decref(cl_ok("genieacs", "put_preset", p)); /* replaces */
  json_t *res = cl_ok("genieacs", "list_presets",
                      "{\"query\":{\"_id\":\"wifi-on\"}}");
  cr_assert_eq(json_array_size(cl_items(res)), 1);
  json_t *pr = json_array_get(cl_items(res), 0);
  cr_assert_eq(ival(pr, "weight"), 10);
  cr_assert_str_eq(cl_str(pr, "channel"), "wifi");
  cr_assert_eq(json_array_size(json_object_get(pr, "configurations")), 1);
  json_decref(res);
  res = cl_ok("genieacs", "list_presets", "{}");
  cr_assert_eq(ival(res, "total"), 2, "the seeded inform preset and ours");
  json_decref(res);

  res = cl_ok("genieacs", "delete_preset", "{\"name\":\"wifi-on\"}");
  cr_assert(json_is_true(json_object_get(res, "deleted")));
  json_decref(res);
  /* The NBI deletes by _id and answers 200 whether or not it existed. */
  json_decref(cl_ok("genieacs", "delete_preset", "{\"name\":\"wifi-on\"}"));
  res = cl_ok("genieacs", "list_presets", "{\"query\":{\"_id\":\"wifi-on\"}}");
  cr_assert_eq(json_array_size(cl_items(res)), 0);
  json_decref(res);
}

Test(genieacs_ops, provisions)
{
  json_decref(cl_ok("genieacs", "put_provision",
                    "{\"name\":\"inform-10m\",\"script\":"
                    "\"declare(\\\"InternetGatewayDevice.ManagementServer."
                    "PeriodicInformInterval\\\", {value: 1}, {value: 600});\"}"));
  json_t *res = cl_ok("genieacs", "list_provisions",
                      "{\"query\":{\"_id\":\"inform-10m\"}}");
  json_t *pr = json_array_get(cl_items(res), 0);
  cr_assert(strstr(cl_str(pr, "script"), "PeriodicInformInterval"),
            "the script is the raw body, stored as sent");
  json_decref(res);
  cl_fails("genieacs", "put_provision",
           "{\"name\":\"broken\",\"script\":\"declare(\\\"X\\\", {value: 1}\"}",
           PV_ERR_HTTP_4XX, 400, "SyntaxError: Unexpected end of input");
  json_decref(cl_ok("genieacs", "delete_provision", "{\"name\":\"inform-10m\"}"));
  res = cl_ok("genieacs", "list_provisions", "{}");
  cr_assert_eq(ival(res, "total"), 1, "only the seeded default is left");
  json_decref(res);
}

Test(genieacs_ops, files_text_and_binary)
{
  json_decref(cl_ok("genieacs", "upload_file",
                    "{\"name\":\"cpe.cfg\",\"file_type\":\"3 Vendor "
                    "Configuration File\",\"oui\":\"00E0FC\",\"product_class\":"
                    "\"HG8245H\",\"version\":\"7\",\"content\":\"a=1\\nb=2\\n\"}"));
  /* "AAECAwQF" is the six bytes 00 01 02 03 04 05. */
  json_decref(cl_ok("genieacs", "upload_file",
                    "{\"name\":\"fw-1.2.bin\",\"file_type\":\"1 Firmware "
                    "Upgrade Image\",\"content_base64\":\"AAECAwQF\"}"));
  json_t *res = cl_ok("genieacs", "list_files", "{\"sort\":{\"_id\":1}}");
  json_t *it = cl_items(res);
  cr_assert_eq(json_array_size(it), 2);
  json_t *cfg = json_array_get(it, 0), *fw = json_array_get(it, 1);
  cr_assert_str_eq(cl_str(cfg, "_id"), "cpe.cfg");
  cr_assert_eq(ival(cfg, "length"), 8);
  json_t *md = json_object_get(cfg, "metadata");
  cr_assert_str_eq(cl_str(md, "fileType"), "3 Vendor Configuration File");
  cr_assert_str_eq(cl_str(md, "oui"), "00E0FC");
  cr_assert_str_eq(cl_str(md, "productClass"), "HG8245H");
  cr_assert_str_eq(cl_str(md, "version"), "7");
  cr_assert_str_eq(cl_str(fw, "_id"), "fw-1.2.bin");
  cr_assert_eq(ival(fw, "length"), 6, "base64 decoded before sending");
  json_decref(res);

  res = cl_ok("genieacs", "delete_file", "{\"name\":\"fw-1.2.bin\"}");
  cr_assert(json_is_true(json_object_get(res, "deleted")));
  json_decref(res);
  cl_fails("genieacs", "delete_file", "{\"name\":\"fw-1.2.bin\"}",
           PV_ERR_HTTP_4XX, 404, "genieacs answered 404 Not Found: 404 Not Found");
  /* A header value must stay one header. */
  cl_fails("genieacs", "upload_file",
           "{\"name\":\"x\",\"file_type\":\"1\\r\\nX-Evil: 1\",\"content\":\"\"}",
           PV_ERR_BAD_ARGS, 0, "control characters");
  cl_fails("genieacs", "upload_file",
           "{\"name\":\"x\",\"file_type\":\"1\",\"content_base64\":\"AAEC!wQF\"}",
           PV_ERR_BAD_ARGS, 0, "not base64");
}

Test(genieacs_ops, delete_fault_and_its_task)
{
  /* A faulted task: setting a read-only parameter (docs/simulator.md). */
  json_t *res = cl_ok("genieacs", "list_devices",
                      "{\"projection\":\"_id\",\"limit\":1}");
  char *dev = json_dumps(json_object_get(json_array_get(cl_items(res), 0), "_id"),
                         JSON_ENCODE_ANY);
  json_decref(res);
  res = cl_ok("genieacs", "set_parameter_values",
              fmt("{\"device_id\":%s,\"parameter_values\":[[\"Internet"
                  "GatewayDevice.DeviceInfo.SerialNumber\",\"x\"]]}", dev));
  cr_assert_str_eq(cl_str(res, "reason"), "Task faulted");
  json_decref(res);
  res = cl_ok("genieacs", "list_faults", fmt("{\"device_id\":%s}", dev));
  cr_assert_eq(json_array_size(cl_items(res)), 1);
  char fid[512];
  snprintf(fid, sizeof(fid), "%s",
           cl_str(json_array_get(cl_items(res), 0), "_id"));
  json_decref(res);
  cr_assert(strstr(fid, ":task_"), "%s", fid);

  json_t *id = json_string(fid);
  char *idq = json_dumps(id, JSON_ENCODE_ANY);
  json_decref(id);
  res = cl_ok("genieacs", "delete_fault", fmt("{\"fault_id\":%s}", idq));
  cr_assert(json_is_true(json_object_get(res, "deleted")));
  json_decref(res);
  free(idq);
  res = cl_ok("genieacs", "list_faults", fmt("{\"device_id\":%s}", dev));
  cr_assert_eq(json_array_size(cl_items(res)), 0);
  json_decref(res);
  res = cl_ok("genieacs", "list_tasks", fmt("{\"device_id\":%s}", dev));
  cr_assert_eq(json_array_size(cl_items(res)), 0, "its task went with it");
  json_decref(res);
  free(dev);
}
