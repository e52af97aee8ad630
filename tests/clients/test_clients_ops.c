/*
 * The ops that complete the original clients' methods (issue 18), against
 * a private simulator over real HTTP: each op's success shape, a 404 or a
 * validation error carrying the southbound's own message, the state they
 * leave behind, and that a fault injected on each op's route reaches the
 * job. Argument validation (missing, wrong type, out of range) is checked
 * for every op of the table in tests/jobs/test_catalog.c.
 */
#include "tests/clients/loop.h"

#include "jobs/catalog.h"

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

  /* update_meter replaces the bands of an existing meter only. */
  snprintf(a, sizeof(a),
           "{\"logical_device_id\":\"%s\",\"meter_id\":7,\"bands\":"
           "[{\"type\":\"OFPMBT_DROP\",\"rate\":80000,\"burst_size\":1000}]}",
           oi.ld);
  json_decref(cl_ok("voltha", "update_meter", a));
  res = cl_ok("voltha", "list_meters",
              fmt("{\"logical_device_id\":\"%s\"}", oi.ld));
  cfg = json_object_get(json_array_get(cl_items(res), 0), "config");
  cr_assert_eq(ival(json_array_get(json_object_get(cfg, "bands"), 0), "rate"),
               80000);
  json_decref(res);
  cl_fails("voltha", "update_meter",
           fmt("{\"logical_device_id\":\"%s\",\"meter_id\":8,\"bands\":[{}]}",
               oi.ld),
           PV_ERR_HTTP_5XX, 500, "no-meter-to-modify: 8");

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
  /* A device runs it as a task (online device: executed at once). */
  json_t *devs = cl_ok("genieacs", "list_devices",
                       "{\"projection\":\"_id\",\"limit\":1}");
  char *dev = json_dumps(json_object_get(json_array_get(cl_items(devs), 0),
                                         "_id"), JSON_ENCODE_ANY);
  json_decref(devs);
  res = cl_ok("genieacs", "run_provisions",
              fmt("{\"device_id\":%s,\"provisions\":[[\"inform-10m\"]]}",
                  dev));
  cr_assert(json_is_true(json_object_get(res, "executed")));
  cr_assert_str_eq(cl_str(json_object_get(res, "task"), "name"), "provisions");
  json_decref(res);
  cl_fails("genieacs", "run_provisions",
           "{\"device_id\":\"000000-NOPE-0\",\"provisions\":[[\"x\"]]}",
           PV_ERR_HTTP_4XX, 404, "No such device");
  free(dev);
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

/* ---- NetBox ------------------------------------------------------------- */

TestSuite(netbox_ops, .init = setup, .fini = teardown, .timeout = 120);

/* One NetBox resource's ops (NULL: the resource has no such op), with
 * args that succeed, that the list finds, that update, and that NetBox
 * refuses with `needle` in its answer. The seed is in docs/simulator.md;
 * the default simulator has 4 OLTs (devices 1-4, interfaces 1-8). */
typedef struct crud {
  const char *create, *get, *list, *update, *del;
  const char *create_args, *list_args, *update_args, *bad_args, *needle;
} crud_t;

static const crud_t cruds[] = {
  {"create_device", "get_device", "list_devices", "update_device",
   "delete_device",
   "{\"name\":\"olt-99\",\"device_type\":1,\"role\":{\"slug\":\"olt\"},"
   "\"site\":1,\"status\":\"planned\"}",
   "{\"name\":\"olt-99\"}", "{\"serial\":\"SN-99\"}",
   "{\"device_type\":1,\"role\":1,\"site\":999}",
   "site: Related object not found using the provided numeric ID: 999"},
  {"create_interface", NULL, "list_interfaces", NULL, NULL,
   "{\"device\":1,\"name\":\"ge-0/0/1\",\"type\":\"1000base-t\"}",
   "{\"device_id\":1,\"name\":\"ge-0/0/1\"}", NULL,
   "{\"device\":1,\"name\":\"mgmt0\",\"type\":\"1000base-t\"}",
   "The fields device, name must make a unique set."},
  {"create_ip_address", "get_ip_address", "list_ip_addresses",
   "update_ip_address", "release_ip",
   "{\"address\":\"10.99.0.5/24\",\"dns_name\":\"cpe-5.example\"}",
   "{\"address\":\"10.99.0.5\"}", "{\"status\":\"reserved\"}",
   "{\"address\":\"100.64.0.1/28\"}",
   "Duplicate IP address found in global table: 100.64.0.1/28"},
  {"create_prefix", "get_prefix", "list_prefixes", NULL, "delete_prefix",
   "{\"prefix\":\"10.99.0.0/24\",\"status\":\"container\"}",
   "{\"prefix\":\"10.99.0.0/24\"}", NULL, "{\"prefix\":\"10.99\"}",
   "prefix: Enter a valid IPv4 or IPv6 prefix with mask"},
  {"create_vrf", "get_vrf", "list_vrfs", NULL, "delete_vrf",
   "{\"name\":\"cust-a\",\"rd\":\"65000:1\",\"tenant\":1}",
   "{\"name\":\"cust-a\"}", NULL, "{\"name\":\"x\",\"tenant\":999}",
   "tenant: Related object not found using the provided numeric ID: 999"},
  {"create_vlan", "get_vlan", "list_vlans", "update_vlan", "delete_vlan",
   "{\"vid\":300,\"name\":\"voice\",\"group\":{\"slug\":\"access\"}}",
   "{\"vid\":300,\"group_id\":1}", "{\"status\":\"reserved\"}",
   "{\"vid\":5,\"name\":\"low\",\"group\":1}",
   "vid: VID must be in ranges 100-3999 for VLANs in group Access"},
  {"create_site", "get_site", "list_sites", NULL, "delete_site",
   "{\"name\":\"North POP\",\"slug\":\"north-pop\",\"status\":\"planned\"}",
   "{\"slug\":\"north-pop\"}", NULL,
   "{\"name\":\"Other\",\"slug\":\"east-pop-1\"}",
   "slug: Site with this slug already exists."},
  {"create_tenant", "get_tenant", "list_tenants", NULL, "delete_tenant",
   "{\"name\":\"ISP North\",\"slug\":\"isp-north\"}",
   "{\"slug\":\"isp-north\"}", NULL,
   "{\"name\":\"ISP East\",\"slug\":\"isp-east-2\"}",
   "name: Tenant with this name already exists."},
  {"create_cable", "get_cable", "list_cables", "update_cable", "delete_cable",
   "{\"a_terminations\":[{\"object_type\":\"dcim.interface\",\"object_id\":3}],"
   "\"b_terminations\":[{\"object_type\":\"dcim.interface\",\"object_id\":4}],"
   "\"type\":\"smf\",\"length\":12,\"length_unit\":\"m\"}",
   "{\"device_id\":2}", "{\"label\":\"patched\"}",
   "{\"a_terminations\":[{\"object_type\":\"dcim.interface\",\"object_id\":5}],"
   "\"b_terminations\":[{\"object_type\":\"dcim.interface\",\"object_id\":2}]}",
   "Duplicate termination found for dcim.interface 2: cable 1"},
  {"create_provider", "get_provider", "list_providers", NULL, NULL,
   "{\"name\":\"Fiber Co\",\"slug\":\"fiber-co\"}", "{\"slug\":\"fiber-co\"}",
   NULL, "{\"name\":\"Transit Co\",\"slug\":\"tc2\"}",
   "Provider with this name already exists."},
  {"create_circuit_type", NULL, "list_circuit_types", NULL, NULL,
   "{\"name\":\"MPLS\",\"slug\":\"mpls\"}", "{\"slug\":\"mpls\"}", NULL,
   "{\"name\":\"x\",\"slug\":\"not a slug\"}",
   "slug: Enter a valid \"slug\""},
  {"create_circuit", "get_circuit", "list_circuits", "update_circuit",
   "delete_circuit",
   "{\"cid\":\"TC-0100\",\"provider\":{\"slug\":\"transit-co\"},\"type\":1,"
   "\"install_date\":\"2026-02-01\"}",
   "{\"cid\":\"TC-0100\"}", "{\"status\":\"offline\"}",
   "{\"cid\":\"TC-0001\",\"provider\":1,\"type\":1}",
   "Circuit with this Provider and Circuit ID already exists."},
  {"create_circuit_termination", "get_circuit_termination",
   "list_circuit_terminations", NULL, NULL,
   "{\"circuit\":1,\"term_side\":\"Z\",\"termination_id\":2,"
   "\"port_speed\":100000}",
   "{\"circuit_id\":1,\"term_side\":\"Z\"}", NULL,
   "{\"circuit\":1,\"term_side\":\"A\",\"termination_id\":1}",
   "Circuit termination with this Circuit and Termination side already "
   "exists."},
};

/* args (JSON text, NULL = {}) with key set to v (stolen), as JSON text in
 * a static buffer. */
static const char *with(const char *args, const char *key, json_t *v)
{
  json_t *a = json_loads(args ? args : "{}", 0, NULL);
  cr_assert_not_null(a, "bad test args: %s", args);
  json_object_set_new(a, key, v);
  char *text = json_dumps(a, JSON_COMPACT);
  json_decref(a);
  static char buf[2048];
  snprintf(buf, sizeof(buf), "%s", text);
  free(text);
  return buf;
}

static const char *with_desc(const char *args, const char *desc)
{
  return with(args, "description", json_string(desc));
}

static const char *with_id(const char *args, json_int_t id)
{
  return with(args, "id", json_integer(id));
}

static bool listed(const char *op, const char *args, json_int_t id)
{
  json_t *res = cl_ok("netbox", op, args);
  bool seen = false;
  size_t i;
  json_t *o;
  json_array_foreach(cl_items(res), i, o) seen = seen || ival(o, "id") == id;
  json_decref(res);
  return seen;
}

/* Every resource: create (keyed: a replay of the same job returns the same
 * object), get, list, update, delete, and NetBox's own refusal. */
Test(netbox_ops, crud_of_every_resource)
{
  for (size_t i = 0; i < sizeof(cruds) / sizeof(cruds[0]); i++) {
    const crud_t *c = &cruds[i];
    char *job = cl_job("netbox", c->create, with_desc(c->create_args, "t"));
    cl_outcome_t a = cl_run(&env, job);
    cr_assert_eq(a.err.cls, PV_ERR_NONE, "%s: %s", c->create, a.err.message);
    json_int_t id = ival(a.result, "id");
    cr_assert(strstr(cl_str(a.result, "description"), "t [pv-job t-"),
              "%s: %s", c->create, cl_str(a.result, "description"));
    cr_assert_null(json_object_get(a.result, "reconciled"));
    cl_outcome_t b = cl_run(&env, job);
    cr_assert_eq(b.err.cls, PV_ERR_NONE, "%s replay: %s", c->create,
                 b.err.message);
    cr_assert_eq(ival(b.result, "id"), id, "%s: a replay creates nothing",
                 c->create);
    cr_assert(json_is_true(json_object_get(b.result, "reconciled")));
    cl_outcome_clear(&a);
    cl_outcome_clear(&b);
    free(job);

    if (c->get) {
      json_t *res = cl_ok("netbox", c->get, with_id(NULL, id));
      cr_assert_eq(ival(res, "id"), id);
      json_decref(res);
    }
    cr_assert(listed(c->list, c->list_args, id), "%s %s", c->list,
              c->list_args);
    /* A filter value NetBox refuses: its 400 text is the job's. */
    if (pv_op_arg(pv_catalog_find("netbox", c->list), "status"))
      cl_fails("netbox", c->list, "{\"status\":\"bogus\"}", PV_ERR_HTTP_4XX,
               400, "Select a valid choice. bogus is not one of the "
                    "available choices.");
    if (c->update) {
      json_t *res = cl_ok("netbox", c->update, with_id(c->update_args, id));
      json_t *want = json_loads(c->update_args, 0, NULL);
      const char *k;
      json_t *v;
      json_object_foreach(want, k, v) {
        json_t *got = json_object_get(res, k);
        if (json_is_object(got))
          got = json_object_get(got, "value"); /* a choice */
        cr_assert(json_equal(got, v), "%s: %s not changed", c->update, k);
      }
      json_decref(want);
      json_decref(res);
    }
    cl_fails("netbox", c->create, c->bad_args, PV_ERR_HTTP_4XX, 400,
             c->needle);
    if (c->del) {
      json_t *res = cl_ok("netbox", c->del, with_id(NULL, id));
      cr_assert(json_is_true(json_object_get(res, "deleted")), "%s", c->del);
      json_decref(res);
      if (c->get)
        cl_fails("netbox", c->get, with_id(NULL, id), PV_ERR_HTTP_4XX, 404,
                 "matches the given query.");
    }
  }
}

/* How many objects the list finds (by c's list args) carry description. */
static size_t count_with_desc(const crud_t *c, const char *desc)
{
  json_t *res = cl_ok("netbox", c->list, c->list_args);
  size_t n = 0, i;
  json_t *o;
  json_array_foreach(cl_items(res), i, o) {
    const char *d = json_string_value(json_object_get(o, "description"));
    n += d && strcmp(d, desc) == 0;
  }
  json_decref(res);
  return n;
}

static void set_post_fault(const char *mode, const char *path)
{
  char fault[512];
  snprintf(fault, sizeof(fault),
           "{\"mode\":\"%s\",\"method\":\"POST\",\"count\":1,"
           "\"path_prefix\":\"%s\"}", mode, path);
  cr_assert_eq(pv_sim_set_fault(env.sim.netbox_url, fault), 200);
}

/* The POST landed, its answer was lost (reset after the server handled
 * it): the client finds the object by the job key instead of creating a
 * second one. Every keyed create is tried. */
Test(netbox_ops, lost_answer_creates_one_object)
{
  for (size_t i = 0; i < sizeof(cruds) / sizeof(cruds[0]); i++) {
    const crud_t *c = &cruds[i];
    const pv_op_t *op = pv_catalog_find("netbox", c->create);
    cr_assert_not_null(op->lookup, "%s is not keyed", c->create);
    set_post_fault("reset_after", op->path);
    cl_outcome_t o = cl_op("netbox", c->create, with_desc(c->create_args, "x"));
    cr_assert_eq(o.err.cls, PV_ERR_NONE, "%s: %s (%s)", c->create,
                 o.err.message, pv_errclass_name(o.err.cls));
    cr_assert(json_is_true(json_object_get(o.result, "reconciled")),
              "%s: the object comes from the look-up", c->create);
    cr_assert_eq(count_with_desc(c, cl_str(o.result, "description")), 1,
                 "%s: one object", c->create);
    cl_outcome_clear(&o);
  }
}

/* The POST never took effect (reset before the server read it): the look-up
 * finds nothing, the job is reported safe to retry, and the retry creates
 * the one object. */
Test(netbox_ops, lost_request_is_safe_to_retry)
{
  for (size_t i = 0; i < sizeof(cruds) / sizeof(cruds[0]); i++) {
    const crud_t *c = &cruds[i];
    const pv_op_t *op = pv_catalog_find("netbox", c->create);
    set_post_fault("reset", op->path);
    char *job = cl_job("netbox", c->create, with_desc(c->create_args, "y"));
    cl_outcome_t o = cl_run(&env, job);
    cr_assert_eq(o.err.cls, PV_ERR_CONNECT, "%s: %s (%s)", c->create,
                 o.err.message, pv_errclass_name(o.err.cls));
    cr_assert(strstr(o.err.message, "safe to retry"), "%s", o.err.message);
    cl_outcome_t again = cl_run(&env, job);
    cr_assert_eq(again.err.cls, PV_ERR_NONE, "%s retry: %s", c->create,
                 again.err.message);
    cr_assert_null(json_object_get(again.result, "reconciled"));
    cr_assert_eq(count_with_desc(c, cl_str(again.result, "description")), 1,
                 "%s: one object", c->create);
    cl_outcome_clear(&o);
    cl_outcome_clear(&again);
    free(job);
  }
}

Test(netbox_ops, available_ips_and_prefixes)
{
  /* Prefix 1 is 100.64.0.0/28 with .1 taken: .2-.14 are free. */
  json_t *res = cl_ok("netbox", "get_available_ips",
                      "{\"prefix_id\":1,\"limit\":3}");
  json_t *it = cl_items(res);
  cr_assert_eq(json_array_size(it), 3);
  cr_assert_str_eq(cl_str(json_array_get(it, 0), "address"), "100.64.0.2/28");
  json_decref(res);
  res = cl_ok("netbox", "get_available_ips", "{\"prefix_id\":1}");
  cr_assert_eq(json_array_size(cl_items(res)), 13, "the default limit is 50");
  json_decref(res);
  cl_fails("netbox", "get_available_ips", "{\"prefix_id\":999}",
           PV_ERR_HTTP_4XX, 404, "No Prefix matches the given query.");

  /* The management /24 is free; a child prefix takes its part of the
   * space, deleting it gives it back. */
  res = cl_ok("netbox", "list_prefixes", "{\"prefix\":\"198.18.0.0/24\"}");
  json_int_t mgmt = ival(json_array_get(cl_items(res), 0), "id");
  json_decref(res);
  const char *a = fmt("{\"prefix_id\":%lld}", (long long)mgmt);
  char args[64];
  snprintf(args, sizeof(args), "%s", a);
  res = cl_ok("netbox", "list_available_prefixes", args);
  cr_assert_eq(json_array_size(cl_items(res)), 1);
  cr_assert_str_eq(cl_str(json_array_get(cl_items(res), 0), "prefix"),
                   "198.18.0.0/24");
  json_decref(res);
  json_t *child = cl_ok("netbox", "create_prefix",
                        "{\"prefix\":\"198.18.0.128/25\"}");
  cr_assert_eq(ival(child, "_depth"), 1);
  res = cl_ok("netbox", "list_available_prefixes", args);
  cr_assert_eq(json_array_size(cl_items(res)), 1);
  cr_assert_str_eq(cl_str(json_array_get(cl_items(res), 0), "prefix"),
                   "198.18.0.0/25");
  json_decref(res);
  res = cl_ok("netbox", "get_prefix", fmt("{\"id\":%lld}", (long long)mgmt));
  cr_assert_eq(ival(res, "children"), 1);
  json_decref(res);
  json_decref(cl_ok("netbox", "delete_prefix",
                    fmt("{\"id\":%lld}", (long long)ival(child, "id"))));
  json_decref(child);
  res = cl_ok("netbox", "list_available_prefixes", args);
  cr_assert_str_eq(cl_str(json_array_get(cl_items(res), 0), "prefix"),
                   "198.18.0.0/24", "deleting the child freed its space");
  json_decref(res);
  cl_fails("netbox", "list_available_prefixes", "{\"prefix_id\":999}",
           PV_ERR_HTTP_4XX, 404, "No Prefix matches the given query.");
  /* A prefix with a VLAN that is in use: NetBox protects the VLAN. */
  cl_fails("netbox", "delete_vlan", "{\"id\":1}", PV_ERR_HTTP_4XX, 409,
           "Unable to delete object. 1 dependent objects were found");
}

Test(netbox_ops, assign_ip_to_interface)
{
  json_t *ip = cl_ok("netbox", "create_ip_address",
                     "{\"address\":\"10.77.0.9/24\"}");
  json_int_t id = ival(ip, "id");
  json_decref(ip);
  /* Interface 3 is olt-02's mgmt0 (docs/simulator.md). */
  json_t *res = cl_ok("netbox", "assign_ip_to_interface",
                      fmt("{\"id\":%lld,\"interface_id\":3}", (long long)id));
  cr_assert_str_eq(cl_str(res, "assigned_object_type"), "dcim.interface");
  cr_assert_eq(ival(res, "assigned_object_id"), 3);
  cr_assert_str_eq(cl_str(json_object_get(res, "assigned_object"), "name"),
                   "mgmt0");
  json_decref(res);
  res = cl_ok("netbox", "list_ip_addresses", "{\"interface_id\":3}");
  bool seen = false;
  size_t i;
  json_t *o;
  json_array_foreach(cl_items(res), i, o) seen = seen || ival(o, "id") == id;
  cr_assert(seen, "the interface lists the address");
  json_decref(res);
  cl_fails("netbox", "assign_ip_to_interface",
           fmt("{\"id\":%lld,\"interface_id\":99999}", (long long)id),
           PV_ERR_HTTP_4XX, 400,
           "assigned_object_id: Related object not found using the provided "
           "numeric ID: 99999");
  cl_fails("netbox", "assign_ip_to_interface",
           "{\"id\":999999,\"interface_id\":3}", PV_ERR_HTTP_4XX, 404,
           "No IPAddress matches the given query.");
}

Test(netbox_ops, find_tenant_by_name_or_slug)
{
  json_t *res = cl_ok("netbox", "find_tenant", "{\"slug\":\"isp-west\"}");
  cr_assert_eq(ival(res, "id"), 2);
  json_decref(res);
  res = cl_ok("netbox", "find_tenant", "{\"name\":\"ISP East\"}");
  cr_assert_str_eq(cl_str(res, "slug"), "isp-east");
  json_decref(res);
  cl_fails("netbox", "find_tenant", "{\"slug\":\"nope\"}", PV_ERR_HTTP_4XX,
           404, "netbox: no tenant with slug \"nope\"");
  cl_fails("netbox", "find_tenant", "{\"slug\":\"a\",\"name\":\"b\"}",
           PV_ERR_BAD_ARGS, 0, "exactly one of the arguments name|slug");
}

Test(netbox_ops, vlan_groups_and_allocate_vlan)
{
  json_t *res = cl_ok("netbox", "list_vlan_groups", "{\"slug\":\"spare\"}");
  json_t *g = json_array_get(cl_items(res), 0);
  cr_assert_eq(ival(g, "id"), 2);
  cr_assert_eq(ival(g, "total_vlan_ids"), 3);
  json_decref(res);

  /* Group 2 has VIDs 10-12: three allocations, then it is full. */
  char *job = cl_job("netbox", "allocate_vlan",
                     "{\"group_id\":2,\"name\":\"sub-a\",\"tenant\":1}");
  cl_outcome_t a = cl_run(&env, job);
  cr_assert_eq(a.err.cls, PV_ERR_NONE, "%s", a.err.message);
  cr_assert_eq(ival(a.result, "vid"), 10);
  cl_outcome_t b = cl_run(&env, job);
  cr_assert_eq(ival(b.result, "id"), ival(a.result, "id"),
               "a replay returns the job's VLAN");
  cr_assert(json_is_true(json_object_get(b.result, "reconciled")));
  cl_outcome_clear(&a);
  cl_outcome_clear(&b);
  free(job);
  /* Its answer lost after the VLAN was made: found, not made twice. */
  set_post_fault("reset_after", "/api/ipam/vlan-groups/2/available-vlans/");
  res = cl_ok("netbox", "allocate_vlan", "{\"group_id\":2,\"name\":\"sub-b\"}");
  cr_assert(json_is_true(json_object_get(res, "reconciled")));
  cr_assert_eq(ival(res, "vid"), 11);
  json_decref(res);
  res = cl_ok("netbox", "list_vlans", "{\"group_id\":2}");
  cr_assert_eq(json_array_size(cl_items(res)), 2, "one VLAN per job");
  json_decref(res);
  json_decref(cl_ok("netbox", "allocate_vlan",
                    "{\"group_id\":2,\"name\":\"sub-c\"}"));
  cl_fails("netbox", "allocate_vlan", "{\"group_id\":2,\"name\":\"sub-d\"}",
           PV_ERR_HTTP_4XX, 409, "netbox: VLAN group 2 is full");
  cl_fails("netbox", "allocate_vlan", "{\"group_id\":1,\"name\":\"subscribers\"}",
           PV_ERR_HTTP_4XX, 400, "VLAN with this Group and Name already exists.");
  cl_fails("netbox", "allocate_vlan", "{\"group_id\":99,\"name\":\"x\"}",
           PV_ERR_HTTP_4XX, 404, "No VLANGroup matches the given query.");
}

/* ---- fault injection reaches every new op ------------------------------- */

TestSuite(faults_ops, .init = setup, .fini = teardown, .timeout = 120);

/* Each new op with args that would succeed; {ld}, {olt}, {sn} and {dev}
 * are filled from the seeded inventory. */
static const char *const fault_ops[][3] = {
  {"voltha", "get_logical_device", "{\"logical_device_id\":\"{ld}\"}"},
  {"voltha", "get_logical_device_ports", "{\"logical_device_id\":\"{ld}\"}"},
  {"voltha", "get_logical_device_flows", "{\"logical_device_id\":\"{ld}\"}"},
  {"voltha", "add_flow", "{\"logical_device_id\":\"{ld}\",\"priority\":1}"},
  {"voltha", "delete_flow", "{\"logical_device_id\":\"{ld}\",\"cookie\":1}"},
  {"voltha", "list_meters", "{\"logical_device_id\":\"{ld}\"}"},
  {"voltha", "add_meter",
   "{\"logical_device_id\":\"{ld}\",\"meter_id\":1,\"bands\":[{}]}"},
  {"voltha", "update_meter",
   "{\"logical_device_id\":\"{ld}\",\"meter_id\":1,\"bands\":[{}]}"},
  {"voltha", "delete_meter", "{\"logical_device_id\":\"{ld}\",\"meter_id\":1}"},
  {"voltha", "list_adapters", "{}"},
  {"voltha", "list_device_types", "{}"},
  {"voltha", "disable_onu", "{\"olt_id\":\"{olt}\",\"serial_number\":\"{sn}\"}"},
  {"voltha", "enable_onu", "{\"olt_id\":\"{olt}\",\"serial_number\":\"{sn}\"}"},
  {"genieacs", "count_devices", "{}"},
  {"genieacs", "delete_fault", "{\"fault_id\":\"{dev}:default\"}"},
  {"genieacs", "list_presets", "{}"},
  {"genieacs", "put_preset", "{\"name\":\"p\",\"configurations\":[]}"},
  {"genieacs", "delete_preset", "{\"name\":\"p\"}"},
  {"genieacs", "list_provisions", "{}"},
  {"genieacs", "put_provision", "{\"name\":\"p\",\"script\":\"log(1);\"}"},
  {"genieacs", "delete_provision", "{\"name\":\"p\"}"},
  {"genieacs", "list_files", "{}"},
  {"genieacs", "upload_file",
   "{\"name\":\"f\",\"file_type\":\"1\",\"content\":\"x\"}"},
  {"genieacs", "delete_file", "{\"name\":\"f\"}"},
  {"genieacs", "run_provisions",
   "{\"device_id\":\"{dev}\",\"provisions\":[[\"default\"]]}"},
  {"netbox", "get_available_ips", "{\"prefix_id\":1}"},
  {"netbox", "list_available_prefixes", "{\"prefix_id\":1}"},
  {"netbox", "assign_ip_to_interface", "{\"id\":1,\"interface_id\":1}"},
  {"netbox", "find_tenant", "{\"slug\":\"isp-east\"}"},
  {"netbox", "allocate_vlan", "{\"group_id\":1,\"name\":\"f\"}"},
  {"netbox", "list_vlan_groups", "{\"slug\":\"access\"}"},
};

/* Replaces every "{key}" of text by value (into a static buffer). */
static const char *fill(const char *text, const char *const *kv)
{
  static char out[2][1024];
  static int which;
  char *buf = out[which ^= 1];
  snprintf(buf, sizeof(out[0]), "%s", text);
  for (; kv[0]; kv += 2) {
    char *at;
    while ((at = strstr(buf, kv[0])) != NULL) {
      char tail[1024];
      snprintf(tail, sizeof(tail), "%s", at + strlen(kv[0]));
      snprintf(at, sizeof(out[0]) - (size_t)(at - buf), "%s%s", kv[1], tail);
    }
  }
  return buf;
}

static const char *base_url(const char *service)
{
  return strcmp(service, "voltha") == 0     ? env.sim.voltha_url
         : strcmp(service, "genieacs") == 0 ? env.sim.genieacs_url
                                            : env.sim.netbox_url;
}

/* Runs svc.opn(args) once with an error injected on its route (its own
 * method and path, up to the first parameter), which the job must report,
 * then once without. @returns the second result. */
static json_t *fault_then_ok(const char *svc, const char *opn,
                             const char *args)
{
  const pv_op_t *op = pv_catalog_find(svc, opn);
  cr_assert_not_null(op, "%s.%s", svc, opn);
  char prefix[256];
  snprintf(prefix, sizeof(prefix), "%.*s", (int)strcspn(op->path, "{"),
           op->path);
  char fault[512];
  snprintf(fault, sizeof(fault),
           "{\"mode\":\"error\",\"status\":500,\"method\":\"%s\","
           "\"path_prefix\":\"%s\"}", op->method, prefix);
  cr_assert_eq(pv_sim_set_fault(base_url(svc), fault), 200);
  long long before = pv_sim_stat(base_url(svc), "faults_injected");
  cl_fails(svc, opn, args, PV_ERR_HTTP_5XX, 500, "answered 500");
  cr_assert_gt(pv_sim_stat(base_url(svc), "faults_injected"), before,
               "%s.%s: the fault was not on its route", svc, opn);
  cr_assert_eq(pv_sim_clear_faults(base_url(svc)), 200);
  /* Without the fault the same call goes through (a success also keeps
   * the breaker closed for the next op). */
  return cl_ok(svc, opn, args);
}

/* An error injected on an op's own route (its method and path, up to the
 * first parameter) is what the job reports: the route is the real one and
 * the simulator's fault injection covers it. */
Test(faults_ops, an_error_on_each_new_route_reaches_the_job)
{
  olt_info_t oi;
  olt_info(&oi, "ENABLED");
  json_t *res = cl_ok("genieacs", "list_devices",
                      "{\"projection\":\"_id\",\"limit\":1}");
  char dev[256];
  snprintf(dev, sizeof(dev), "%s",
           cl_str(json_array_get(cl_items(res), 0), "_id"));
  json_decref(res);
  const char *kv[] = {"{ld}", oi.ld, "{olt}", oi.olt, "{sn}", oi.onu_sn,
                      "{dev}", dev, NULL};

  for (size_t i = 0; i < sizeof(fault_ops) / sizeof(fault_ops[0]); i++)
    json_decref(fault_then_ok(fault_ops[i][0], fault_ops[i][1],
                              fill(fault_ops[i][2], kv)));
  /* Every op of the NetBox resources too. */
  for (size_t i = 0; i < sizeof(cruds) / sizeof(cruds[0]); i++) {
    const crud_t *c = &cruds[i];
    json_t *obj = fault_then_ok("netbox", c->create, c->create_args);
    json_int_t id = ival(obj, "id");
    json_decref(obj);
    json_decref(fault_then_ok("netbox", c->list, c->list_args));
    const char *by_id[] = {c->get, c->update, c->del};
    for (int k = 0; k < 3; k++)
      if (by_id[k])
        json_decref(fault_then_ok("netbox", by_id[k],
                                  with_id(k == 1 ? c->update_args : NULL, id)));
  }
}
