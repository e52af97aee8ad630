/*
 * Every catalog op against a private southbound simulator over real HTTP:
 * success shapes, documented errors, argument validation, path injection,
 * NetBox concurrency and reconciliation, provision_onu idempotency.
 */
#include "common/alloc.h"
#include "tests/clients/loop.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static cl_env_t env;

static void setup(void)
{
  cl_env_start(&env, NULL, NULL);
}

static void teardown(void)
{
  cl_env_stop(&env);
}

/* ---- VOLTHA ------------------------------------------------------------- */

TestSuite(voltha, .init = setup, .fini = teardown, .timeout = 60);

/* First OLT (root device) of the seeded inventory: id into out. */
static void first_olt(char *out, size_t size)
{
  json_t *res = cl_ok("voltha", "list_devices", "{}");
  size_t i;
  json_t *d;
  json_array_foreach(cl_items(res), i, d) {
    if (json_is_true(json_object_get(d, "root"))) {
      snprintf(out, size, "%s", cl_str(d, "id"));
      json_decref(res);
      return;
    }
  }
  cr_assert_fail("no OLT in the simulator's inventory");
}

Test(voltha, reads)
{
  json_t *res = cl_ok("voltha", "health_check", "{}");
  cr_assert_str_eq(cl_str(res, "state"), "HEALTHY");
  json_decref(res);

  char olt[128];
  first_olt(olt, sizeof(olt));
  char args[512];
  snprintf(args, sizeof(args), "{\"device_id\":\"%s\"}", olt);
  res = cl_ok("voltha", "get_device", args);
  cr_assert_str_eq(cl_str(res, "id"), olt);
  json_decref(res);
  res = cl_ok("voltha", "get_device_ports", args);
  cr_assert_gt(json_array_size(cl_items(res)), 0);
  json_decref(res);
  res = cl_ok("voltha", "get_device_flows", args);
  cl_items(res);
  json_decref(res);
  res = cl_ok("voltha", "list_logical_devices", "{}");
  cl_items(res);
  json_decref(res);

  /* Client-side paging and filters. */
  snprintf(args, sizeof(args), "{\"parent_id\":\"%s\",\"limit\":2,\"offset\":1}",
           olt);
  res = cl_ok("voltha", "list_devices", args);
  cr_assert_eq(json_array_size(cl_items(res)), 2);
  cr_assert_gt(json_integer_value(json_object_get(res, "total")), 2);
  cr_assert(json_is_true(json_object_get(res, "truncated")));
  size_t i;
  json_t *d;
  json_array_foreach(cl_items(res), i, d) cr_assert_str_eq(cl_str(d, "parent_id"), olt);
  json_decref(res);

  cl_fails("voltha", "get_device", "{\"device_id\":\"0000deadbeef\"}",
        PV_ERR_HTTP_4XX, 404, "not found");
}

Test(voltha, olt_lifecycle)
{
  json_t *res = cl_ok("voltha", "preprovision_olt",
                   "{\"type\":\"openolt\",\"host_and_port\":\"10.250.0.9:9191\"}");
  cr_assert_str_eq(cl_str(res, "admin_state"), "PREPROVISIONED");
  char id[128], args[256];
  snprintf(id, sizeof(id), "%s", cl_str(res, "id"));
  json_decref(res);
  snprintf(args, sizeof(args), "{\"device_id\":\"%s\"}", id);

  cl_fails("voltha", "preprovision_olt",
        "{\"type\":\"openolt\",\"host_and_port\":\"10.250.0.9:9191\"}",
        PV_ERR_HTTP_4XX, 409, "already");

  res = cl_ok("voltha", "enable_device", args);
  cr_assert(json_is_true(json_object_get(res, "changed")));
  json_decref(res);
  /* Enabling an enabled device is success, not an error. */
  res = cl_ok("voltha", "enable_device", args);
  cr_assert(json_is_false(json_object_get(res, "changed")));
  json_decref(res);

  res = cl_ok("voltha", "reboot_device", args);
  json_decref(res);
  cl_fails("voltha", "delete_device", args, PV_ERR_HTTP_4XX, 400, "ENABLED");
  res = cl_ok("voltha", "disable_device", args);
  json_decref(res);
  res = cl_ok("voltha", "delete_device", args);
  cr_assert(json_is_true(json_object_get(res, "deleted")));
  json_decref(res);
  cl_fails("voltha", "get_device", args, PV_ERR_HTTP_4XX, 404, NULL);
  cl_fails("voltha", "enable_device", args, PV_ERR_HTTP_4XX, 404, NULL);
}

Test(voltha, provision_onu_is_idempotent)
{
  char olt[128];
  first_olt(olt, sizeof(olt));
  char args[512];
  snprintf(args, sizeof(args), "{\"parent_id\":\"%s\"}", olt);
  json_t *res = cl_ok("voltha", "list_devices", args);
  const json_t *onu = NULL;
  size_t i;
  json_t *d;
  json_array_foreach(cl_items(res), i, d) {
    if (strcmp(cl_str(d, "admin_state"), "ENABLED") != 0) {
      onu = d;
      break;
    }
  }
  cr_assert_not_null(onu, "every ONU of %s is enabled already", olt);
  char sn[64], onu_id[128];
  snprintf(sn, sizeof(sn), "%s", cl_str(onu, "serial_number"));
  snprintf(onu_id, sizeof(onu_id), "%s", cl_str(onu, "id"));
  json_decref(res);

  snprintf(args, sizeof(args), "{\"olt_id\":\"%s\",\"serial_number\":\"%s\"}",
           olt, sn);
  res = cl_ok("voltha", "provision_onu", args);
  cr_assert(json_is_true(json_object_get(res, "changed")));
  cr_assert_str_eq(cl_str(res, "device_id"), onu_id);
  cr_assert_str_eq(cl_str(json_object_get(res, "device"), "admin_state"), "ENABLED");
  json_decref(res);

  res = cl_ok("voltha", "provision_onu", args);
  cr_assert(json_is_false(json_object_get(res, "changed")), "second run");
  cr_assert_str_eq(cl_str(res, "device_id"), onu_id);
  json_decref(res);

  snprintf(args, sizeof(args),
           "{\"olt_id\":\"%s\",\"serial_number\":\"NOPE00000000\"}", olt);
  cl_fails("voltha", "provision_onu", args, PV_ERR_HTTP_4XX, 404,
        "has no ONU with serial number \"NOPE00000000\"");
  cl_fails("voltha", "provision_onu",
        "{\"olt_id\":\"nope\",\"serial_number\":\"X\"}", PV_ERR_HTTP_4XX, 404,
        "no OLT \"nope\"");
}

/* Ids that try to leave their path segment must reach the simulator as one
 * encoded segment under /api/v1/devices/, and never hit another route. */
Test(voltha, path_injection_stays_in_segment)
{
  static const char *const evil[] = {"../../health", "..", "x?admin=1",
                                     "x#frag", "a%2F..%2Fhealth", "a/b",
                                     "%2e%2e"};
  long long before = cl_sim_last_seq(env.sim.voltha_url);
  cr_assert_geq(before, 0);
  for (size_t i = 0; i < sizeof(evil) / sizeof(evil[0]); i++) {
    json_t *id = json_string(evil[i]);
    char *ids = json_dumps(id, JSON_ENCODE_ANY);
    char args[256];
    snprintf(args, sizeof(args), "{\"device_id\":%s}", ids);
    cl_fails("voltha", "get_device", args, PV_ERR_HTTP_4XX, 404, NULL);
    free(ids);
    json_decref(id);
  }
  json_t *log = cl_sim_requests(env.sim.voltha_url, before);
  cr_assert_not_null(log);
  cr_assert_eq(json_array_size(log), sizeof(evil) / sizeof(evil[0]));
  size_t i;
  json_t *e;
  json_array_foreach(log, i, e) {
    const char *path = cl_str(e, "path");
    cr_assert_eq(strncmp(path, "/api/v1/devices/", 16), 0, "%s", path);
    cr_assert_null(strchr(path + 16, '/'), "left its segment: %s", path);
    cr_assert_str_eq(cl_str(e, "query"), "", "query smuggled in: %s", path);
  }
  json_decref(log);
}

/* ---- GenieACS ----------------------------------------------------------- */

TestSuite(genieacs, .init = setup, .fini = teardown, .timeout = 60);

/* An online device id (JSON-quoted into out). */
static void some_device(char *out, size_t size, size_t nth)
{
  json_t *res = cl_ok("genieacs", "list_devices",
                   "{\"projection\":\"_id\",\"limit\":50}");
  json_t *it = cl_items(res);
  cr_assert_gt(json_array_size(it), nth);
  char *q = json_dumps(json_object_get(json_array_get(it, nth), "_id"),
                       JSON_ENCODE_ANY);
  snprintf(out, size, "%s", q);
  free(q);
  json_decref(res);
}

Test(genieacs, queries)
{
  json_t *res = cl_ok("genieacs", "health_check", "{}");
  cr_assert(json_is_true(json_object_get(res, "healthy")));
  cr_assert_gt(json_integer_value(json_object_get(res, "devices")), 0);
  json_decref(res);

  res = cl_ok("genieacs", "list_devices",
           "{\"limit\":5,\"skip\":1,\"projection\":\"_id,_tags\","
           "\"sort\":{\"_id\":1}}");
  cr_assert_eq(json_array_size(cl_items(res)), 5);
  json_int_t total = json_integer_value(json_object_get(res, "total"));
  cr_assert_gt(total, 5, "total comes from the `total` header");
  cr_assert(json_is_true(json_object_get(res, "truncated")));
  json_decref(res);

  char dev[300], args[512];
  some_device(dev, sizeof(dev), 0);
  snprintf(args, sizeof(args), "{\"device_id\":%s}", dev);
  res = cl_ok("genieacs", "get_device", args);
  char *idq = json_dumps(json_object_get(res, "_id"), JSON_ENCODE_ANY);
  cr_assert_str_eq(idq, dev);
  free(idq);
  json_decref(res);

  cl_fails("genieacs", "get_device", "{\"device_id\":\"000000-NOPE-0\"}",
        PV_ERR_HTTP_4XX, 404, "no device \"000000-NOPE-0\"");

  snprintf(args, sizeof(args), "{\"query\":{\"_id\":%s}}", dev);
  res = cl_ok("genieacs", "list_devices", args);
  cr_assert_eq(json_array_size(cl_items(res)), 1);
  cr_assert_eq(json_integer_value(json_object_get(res, "total")), 1);
  json_decref(res);

  res = cl_ok("genieacs", "list_faults", "{\"limit\":10}");
  cl_items(res);
  json_decref(res);
}

static void task_ok(const char *op, const char *dev, const char *extra)
{
  char args[1024];
  snprintf(args, sizeof(args), "{\"device_id\":%s%s%s}", dev,
           extra ? "," : "", extra ? extra : "");
  json_t *res = cl_ok("genieacs", op, args);
  cr_assert(json_is_boolean(json_object_get(res, "executed")), "%s", op);
  cr_assert(json_is_object(json_object_get(res, "task")), "%s", op);
  cr_assert(json_is_true(json_object_get(res, "executed")) ||
                json_is_string(json_object_get(res, "reason")),
            "%s: a queued task says why", op);
  json_decref(res);
}

Test(genieacs, tasks)
{
  char dev[300];
  some_device(dev, sizeof(dev), 0);
  task_ok("get_parameter_values", dev,
          "\"parameter_names\":[\"InternetGatewayDevice.DeviceInfo.SoftwareVersion\"],"
          "\"timeout_ms\":3000");
  task_ok("set_parameter_values", dev,
          "\"parameter_values\":[[\"InternetGatewayDevice.ManagementServer."
          "PeriodicInformInterval\",300,\"xsd:unsignedInt\"]]");
  task_ok("refresh_object", dev, "\"object_name\":\"\"");
  task_ok("add_object", dev,
          "\"object_name\":\"InternetGatewayDevice.WANDevice.1."
          "WANConnectionDevice.1.WANIPConnection\"");
  task_ok("delete_object", dev,
          "\"object_name\":\"InternetGatewayDevice.WANDevice.1."
          "WANConnectionDevice.1.WANIPConnection.9\"");
  task_ok("download", dev, "\"file_name\":\"fw-1.2.bin\"");
  task_ok("reboot", dev, NULL);
  task_ok("factory_reset", dev, NULL);

  /* Without a connection request the NBI only queues: 202. */
  char args[512];
  snprintf(args, sizeof(args), "{\"device_id\":%s,\"connection_request\":false}",
           dev);
  json_t *res = cl_ok("genieacs", "reboot", args);
  cr_assert(json_is_false(json_object_get(res, "executed")));
  cr_assert(json_is_true(json_object_get(res, "queued")));
  char tid[64];
  snprintf(tid, sizeof(tid), "%s", cl_str(json_object_get(res, "task"), "_id"));
  json_decref(res);

  snprintf(args, sizeof(args), "{\"device_id\":%s}", dev);
  res = cl_ok("genieacs", "list_tasks", args);
  bool seen = false;
  size_t i;
  json_t *t;
  json_array_foreach(cl_items(res), i, t) seen = seen || strcmp(cl_str(t, "_id"), tid) == 0;
  cr_assert(seen, "queued task %s listed for its device", tid);
  json_decref(res);

  snprintf(args, sizeof(args), "{\"task_id\":\"%s\"}", tid);
  res = cl_ok("genieacs", "retry_task", args);
  json_decref(res);
  res = cl_ok("genieacs", "delete_task", args);
  cr_assert(json_is_true(json_object_get(res, "deleted")));
  json_decref(res);
  cl_fails("genieacs", "delete_task", args, PV_ERR_HTTP_4XX, 404, "Task not found");

  cl_fails("genieacs", "reboot", "{\"device_id\":\"000000-NOPE-0\"}",
        PV_ERR_HTTP_4XX, 404, "No such device");
}

Test(genieacs, offline_device_queues_with_reason)
{
  /* Every tenth seeded device is offline (docs/simulator.md). */
  json_t *res = cl_ok("genieacs", "list_devices",
                   "{\"projection\":\"_id\",\"limit\":20}");
  int queued = 0;
  size_t i;
  json_t *d;
  json_array_foreach(cl_items(res), i, d) {
    char *id = json_dumps(json_object_get(d, "_id"), JSON_ENCODE_ANY);
    char args[512];
    snprintf(args, sizeof(args), "{\"device_id\":%s}", id);
    free(id);
    json_t *r = cl_ok("genieacs", "reboot", args);
    if (json_is_false(json_object_get(r, "executed"))) {
      queued++;
      cr_assert_str_eq(cl_str(r, "reason"), "Device is offline");
    }
    json_decref(r);
  }
  json_decref(res);
  cr_assert_gt(queued, 0, "no offline device among the first 20");
}

Test(genieacs, tags_and_delete)
{
  char dev[300], args[512];
  some_device(dev, sizeof(dev), 1);
  snprintf(args, sizeof(args), "{\"device_id\":%s,\"tag\":\"vip-1\"}", dev);
  json_decref(cl_ok("genieacs", "add_tag", args));
  snprintf(args, sizeof(args), "{\"query\":{\"_tags\":\"vip-1\"}}");
  json_t *res = cl_ok("genieacs", "list_devices", args);
  cr_assert_eq(json_array_size(cl_items(res)), 1);
  json_decref(res);
  snprintf(args, sizeof(args), "{\"device_id\":%s,\"tag\":\"vip-1\"}", dev);
  json_decref(cl_ok("genieacs", "remove_tag", args));

  snprintf(args, sizeof(args), "{\"device_id\":%s}", dev);
  res = cl_ok("genieacs", "delete_device", args);
  cr_assert(json_is_true(json_object_get(res, "deleted")));
  json_decref(res);
  cl_fails("genieacs", "get_device", args, PV_ERR_HTTP_4XX, 404, NULL);
}

/* Device ids carry %XX escapes: the path gets them escaped again and the
 * simulator must see the one device, not a 404 or another route. */
Test(genieacs, encoded_ids_and_injection)
{
  long long before = cl_sim_last_seq(env.sim.genieacs_url);
  /* The NBI deletes by id and answers 200 whether or not it existed. */
  json_decref(cl_ok("genieacs", "delete_device",
                 "{\"device_id\":\"../presets/inform\"}"));
  cl_fails("genieacs", "add_tag", "{\"device_id\":\"nope\",\"tag\":\"../../x?y#z\"}",
        PV_ERR_HTTP_4XX, 404, NULL);
  json_t *log = cl_sim_requests(env.sim.genieacs_url, before);
  size_t i;
  json_t *e;
  json_array_foreach(log, i, e) {
    const char *path = cl_str(e, "path");
    cr_assert_eq(strncmp(path, "/devices/", 9), 0, "%s", path);
    cr_assert_str_eq(cl_str(e, "query"), "");
  }
  cr_assert_eq(json_array_size(log), 2);
  cr_assert_str_eq(cl_str(json_array_get(log, 0), "path"),
                   "/devices/%2E%2E%2Fpresets%2Finform");
  json_decref(log);

  /* A real id with %XX: encoded again in the path, found and deleted. */
  char dev[300], args[512];
  some_device(dev, sizeof(dev), 2);
  snprintf(args, sizeof(args), "{\"device_id\":%s,\"tag\":\"t 1\"}", dev);
  json_decref(cl_ok("genieacs", "add_tag", args));
  snprintf(args, sizeof(args), "{\"device_id\":%s}", dev);
  json_t *res = cl_ok("genieacs", "get_device", args);
  bool tagged = false;
  json_t *t;
  json_array_foreach(json_object_get(res, "_tags"), i, t)
    tagged = tagged || strcmp(json_string_value(t), "t 1") == 0;
  cr_assert(tagged, "tag \"t 1\" on the device");
  json_decref(res);
}

/* ---- NetBox ------------------------------------------------------------- */

TestSuite(netbox, .init = setup, .fini = teardown, .timeout = 90);

/* The IPv4 prefix with the shortest (want_big) or longest mask. */
static long long pick_prefix(bool want_big, int *mask)
{
  json_t *res = cl_ok("netbox", "list_prefixes", "{}");
  long long pfx = 0;
  int best = -1;
  size_t i;
  json_t *p;
  json_array_foreach(cl_items(res), i, p) {
    const char *cidr = cl_str(p, "prefix");
    const char *slash = strchr(cidr, '/');
    int len = slash ? (int)strtol(slash + 1, NULL, 10) : 0;
    if (strchr(cidr, ':'))
      continue;
    if (best < 0 || (want_big ? len < best : len > best)) {
      best = len;
      pfx = json_integer_value(json_object_get(p, "id"));
    }
  }
  json_decref(res);
  cr_assert_gt(pfx, 0, "no IPv4 prefix in the simulator's inventory");
  if (mask)
    *mask = best;
  return pfx;
}

static long long prefix_id(size_t nth)
{
  (void)nth;
  return pick_prefix(true, NULL);
}

Test(netbox, reads_and_paging)
{
  json_t *res = cl_ok("netbox", "health_check", "{}");
  cr_assert(json_is_string(json_object_get(res, "netbox-version")));
  json_decref(res);

  res = cl_ok("netbox", "list_devices", "{}");
  json_int_t total = json_integer_value(json_object_get(res, "total"));
  cr_assert_eq((json_int_t)json_array_size(cl_items(res)), total,
               "no limit: every row, pages followed");
  cr_assert(json_is_false(json_object_get(res, "truncated")));
  long long dev = json_integer_value(json_object_get(json_array_get(cl_items(res), 0), "id"));
  json_decref(res);

  cr_assert_gt(total, 2);
  res = cl_ok("netbox", "list_devices", "{\"limit\":1,\"offset\":1}");
  cr_assert_eq(json_array_size(cl_items(res)), 1);
  cr_assert(json_is_true(json_object_get(res, "truncated")));
  json_decref(res);

  char args[128];
  snprintf(args, sizeof(args), "{\"id\":%lld}", dev);
  res = cl_ok("netbox", "get_device", args);
  cr_assert_eq(json_integer_value(json_object_get(res, "id")), dev);
  json_decref(res);
  snprintf(args, sizeof(args), "{\"device_id\":%lld}", dev);
  res = cl_ok("netbox", "list_interfaces", args);
  size_t i;
  json_t *itf;
  json_array_foreach(cl_items(res), i, itf)
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(itf, "device"), "id")), dev);
  json_decref(res);
  res = cl_ok("netbox", "list_ip_addresses", "{\"limit\":5}");
  cl_items(res);
  json_decref(res);

  cl_fails("netbox", "get_device", "{\"id\":999999}", PV_ERR_HTTP_4XX, 404,
        "netbox answered 404");
  cl_fails("netbox", "get_ip_address", "{\"id\":999999}", PV_ERR_HTTP_4XX, 404, NULL);
}

Test(netbox, device_crud_and_400)
{
  json_t *res = cl_ok("netbox", "list_devices", "{\"limit\":1}");
  json_t *d0 = json_array_get(cl_items(res), 0);
  long long dt = json_integer_value(json_object_get(json_object_get(d0, "device_type"), "id"));
  long long role = json_integer_value(json_object_get(json_object_get(d0, "role"), "id"));
  long long site = json_integer_value(json_object_get(json_object_get(d0, "site"), "id"));
  json_decref(res);

  char args[512];
  snprintf(args, sizeof(args),
           "{\"name\":\"pv-test-olt\",\"device_type\":%lld,\"role\":%lld,"
           "\"site\":%lld,\"status\":\"planned\",\"serial\":\"SN123\"}",
           dt, role, site);
  res = cl_ok("netbox", "create_device", args);
  long long id = json_integer_value(json_object_get(res, "id"));
  cr_assert_gt(id, 0);
  json_decref(res);

  snprintf(args, sizeof(args), "{\"id\":%lld,\"status\":\"active\"}", id);
  res = cl_ok("netbox", "update_device", args);
  cr_assert_str_eq(cl_str(json_object_get(res, "status"), "value"), "active");
  json_decref(res);

  snprintf(args, sizeof(args), "{\"id\":%lld}", id);
  res = cl_ok("netbox", "delete_device", args);
  cr_assert(json_is_true(json_object_get(res, "deleted")));
  json_decref(res);
  cl_fails("netbox", "get_device", args, PV_ERR_HTTP_4XX, 404, NULL);
  cl_fails("netbox", "delete_device", args, PV_ERR_HTTP_4XX, 404, NULL);

  snprintf(args, sizeof(args),
           "{\"name\":\"x\",\"device_type\":%lld,\"role\":%lld,\"site\":999999}",
           dt, role);
  cl_fails("netbox", "create_device", args, PV_ERR_HTTP_4XX, 400, "site");
}

Test(netbox, allocate_and_release)
{
  long long pfx = prefix_id(0);
  char args[256];
  snprintf(args, sizeof(args), "{\"prefix_id\":%lld,\"description\":\"cpe\"}",
           pfx);
  char *job = cl_job("netbox", "allocate_ip", args);
  cl_outcome_t a = cl_run(&env, job);
  cr_assert_eq(a.err.cls, PV_ERR_NONE, "%s", a.err.message);
  const char *desc = cl_str(a.result, "description");
  cr_assert(strstr(desc, "cpe [pv-job t-"), "%s", desc);
  long long ip = json_integer_value(json_object_get(a.result, "id"));

  /* The same job again (a redelivery) gets the same address back. */
  cl_outcome_t b = cl_run(&env, job);
  cr_assert_eq(b.err.cls, PV_ERR_NONE, "%s", b.err.message);
  cr_assert_str_eq(cl_str(b.result, "address"), cl_str(a.result, "address"));
  cr_assert(json_is_true(json_object_get(b.result, "reconciled")));
  cl_outcome_clear(&a);
  cl_outcome_clear(&b);
  free(job);

  snprintf(args, sizeof(args), "{\"id\":%lld}", ip);
  json_t *res = cl_ok("netbox", "get_ip_address", args);
  json_decref(res);
  res = cl_ok("netbox", "release_ip", args);
  cr_assert(json_is_true(json_object_get(res, "deleted")));
  cr_assert_null(json_object_get(res, "already_absent"));
  json_decref(res);
  /* Released already: still success (documented). */
  res = cl_ok("netbox", "release_ip", args);
  cr_assert(json_is_true(json_object_get(res, "already_absent")));
  json_decref(res);

  cl_fails("netbox", "allocate_ip", "{\"prefix_id\":999999}", PV_ERR_HTTP_4XX,
        404, NULL);
}

Test(netbox, concurrent_allocations_are_distinct)
{
  enum { N = 24 };
  long long pfx = prefix_id(0);
  char args[128];
  snprintf(args, sizeof(args), "{\"prefix_id\":%lld}", pfx);
  char *jobs[N];
  for (int i = 0; i < N; i++)
    jobs[i] = cl_job("netbox", "allocate_ip", args);
  cl_outcome_t out[N];
  cl_run_many(&env, (const char *const *)jobs, N, out);
  for (int i = 0; i < N; i++) {
    cr_assert_eq(out[i].err.cls, PV_ERR_NONE, "job %d: %s", i, out[i].err.message);
    for (int j = 0; j < i; j++)
      cr_assert_str_neq(cl_str(out[i].result, "address"),
                        cl_str(out[j].result, "address"), "jobs %d and %d", i, j);
  }
  for (int i = 0; i < N; i++) {
    cl_outcome_clear(&out[i]);
    free(jobs[i]);
  }
}

Test(netbox, full_prefix_is_a_permanent_409)
{
  /* The smallest seeded prefix is filled; the bound keeps the loop finite. */
  int best;
  long long pfx = pick_prefix(false, &best);
  cr_assert_geq(best, 22, "no small IPv4 prefix to fill");
  char args[128];
  snprintf(args, sizeof(args), "{\"prefix_id\":%lld}", pfx);
  int limit = (1 << (32 - best)) + 2;
  for (int n = 0; n < limit; n++) {
    cl_outcome_t o = cl_op("netbox", "allocate_ip", args);
    cl_outcome_clear(&o);
    if (o.err.cls == PV_ERR_NONE)
      continue;
    cr_assert_eq(o.err.cls, PV_ERR_HTTP_4XX, "%s", o.err.message);
    cr_assert_eq(o.err.http_status, 409);
    cr_assert(strstr(o.err.message, "is full"), "%s", o.err.message);
    return;
  }
  cr_assert_fail("prefix %lld never filled up", pfx);
}

/* A reset while the POST is in flight: the transport cannot know whether it
 * landed (outcome_unknown); the client looks the allocation up, finds none
 * and says it is safe to retry; the retry succeeds. */
Test(netbox, allocate_reconciles_after_reset)
{
  long long pfx = prefix_id(0);
  char path[128];
  snprintf(path, sizeof(path),
           "{\"mode\":\"reset\",\"method\":\"POST\",\"count\":1,"
           "\"path_prefix\":\"/api/ipam/prefixes/%lld/available-ips/\"}",
           pfx);
  cr_assert_eq(pv_sim_set_fault(env.sim.netbox_url, path), 200);
  long long before = cl_sim_last_seq(env.sim.netbox_url);

  char args[128];
  snprintf(args, sizeof(args), "{\"prefix_id\":%lld}", pfx);
  char *job = cl_job("netbox", "allocate_ip", args);
  cl_outcome_t o = cl_run(&env, job);
  cr_assert_eq(o.err.cls, PV_ERR_CONNECT, "%s: %s", pv_errclass_name(o.err.cls),
               o.err.message);
  cr_assert(strstr(o.err.message, "safe to retry"), "%s", o.err.message);

  /* look-up, POST (reset), look-up again: the POST goes out once (a
   * non-idempotent request gets a fresh connection, so libcurl never
   * re-sends it by itself). */
  json_t *log = cl_sim_requests(env.sim.netbox_url, before);
  size_t n = json_array_size(log);
  cr_assert_eq(n, 3, "%zu requests", n);
  cr_assert_str_eq(cl_str(json_array_get(log, 0), "method"), "GET");
  cr_assert_str_eq(cl_str(json_array_get(log, 1), "method"), "POST");
  const json_t *last = json_array_get(log, n - 1);
  cr_assert_str_eq(cl_str(last, "method"), "GET");
  cr_assert_str_eq(cl_str(last, "path"), "/api/ipam/ip-addresses/");
  cr_assert(strstr(cl_str(last, "query"), "description="), "%s", cl_str(last, "query"));
  json_decref(log);
  cr_assert_eq(pv_sim_clear_faults(env.sim.netbox_url), 200);

  cl_outcome_t again = cl_run(&env, job);
  cr_assert_eq(again.err.cls, PV_ERR_NONE, "%s", again.err.message);
  cr_assert_null(json_object_get(again.result, "reconciled"));
  cl_outcome_clear(&again);
  free(job);
}

/* The POST lands and only its answer is lost (reset after the server
 * handled it): the client must find the allocation instead of making a
 * second one. The connection was used by the look-up first, so it is a
 * reused one: a silent re-send by libcurl would allocate twice. */
Test(netbox, allocate_lost_answer_creates_one_address)
{
  long long pfx = prefix_id(0);
  char fault[256];
  snprintf(fault, sizeof(fault),
           "{\"mode\":\"reset_after\",\"method\":\"POST\",\"count\":1,"
           "\"path_prefix\":\"/api/ipam/prefixes/%lld/available-ips/\"}",
           pfx);
  cr_assert_eq(pv_sim_set_fault(env.sim.netbox_url, fault), 200);
  char args[128];
  snprintf(args, sizeof(args), "{\"prefix_id\":%lld}", pfx);
  char *job = cl_job("netbox", "allocate_ip", args);
  cl_outcome_t o = cl_run(&env, job);
  cr_assert_eq(o.err.cls, PV_ERR_NONE, "%s: %s", pv_errclass_name(o.err.cls),
               o.err.message);
  cr_assert(json_is_true(json_object_get(o.result, "reconciled")),
            "the answer was lost: the address must come from the look-up");
  char q[256];
  snprintf(q, sizeof(q), "{\"description\":\"%s\"}",
           cl_str(o.result, "description"));
  json_t *res = cl_ok("netbox", "list_ip_addresses", q);
  cr_assert_eq(json_array_size(cl_items(res)), 1, "one address for the job");
  json_decref(res);
  cl_outcome_clear(&o);
  free(job);
}

Test(netbox, tokens)
{
  /* Default env: v1 token accepted; now a v2-only simulator. */
  cl_env_stop(&env);
  static const char *const v2[] = {"--netbox-token", "nbt_k1.secretplain", NULL};
  cl_env_start(&env, v2, "nbt_k1.secretplain");
  json_t *res = cl_ok("netbox", "list_prefixes", "{\"limit\":1}");
  json_decref(res);
  cl_env_stop(&env);
  cl_env_start(&env, v2, "0123456789abcdef0123456789abcdef01234567");
  cl_fails("netbox", "list_prefixes", "{}", PV_ERR_HTTP_4XX, 403, NULL);
  cl_outcome_t o = cl_op("netbox", "list_prefixes", "{}");
  cr_assert_null(strstr(o.err.message, "0123456789abcdef"), "token leaked");
}

/* ---- tenants, validation and orders -------------------------------------- */

TestSuite(clients, .init = setup, .fini = teardown, .timeout = 60);

Test(clients, unknown_tenant_and_missing_service)
{
  cl_outcome_t o = cl_run(&env,
      "{\"v\":1,\"id\":\"u1\",\"tenant\":\"nobody\",\"service\":\"voltha\","
      "\"op\":\"health_check\"}");
  cr_assert_eq(o.err.cls, PV_ERR_UNKNOWN_TENANT);
  cr_assert_str_eq(o.err.message, "unknown tenant \"nobody\"");
  cr_assert_not(o.done, "callback must not run when execute fails");
  o = cl_run(&env, "{\"v\":1,\"id\":\"u2\",\"tenant\":\"voltha-only\","
                   "\"service\":\"netbox\",\"op\":\"health_check\"}");
  cr_assert_eq(o.err.cls, PV_ERR_UNKNOWN_TENANT);
  cr_assert_str_eq(o.err.message, "tenant \"voltha-only\" has no netbox endpoint");
  o = cl_run(&env, "{\"v\":1,\"id\":\"u3\",\"tenant\":\"voltha-only\","
                   "\"service\":\"voltha\",\"op\":\"health_check\"}");
  cr_assert_eq(o.err.cls, PV_ERR_NONE, "%s", o.err.message);
  cl_outcome_clear(&o);
}

Test(clients, bad_args_never_reach_the_network)
{
  long long before = pv_sim_stat(env.sim.voltha_url, "requests");
  cl_fails("voltha", "get_device", "{}", PV_ERR_BAD_ARGS, 0,
        "argument \"device_id\": missing");
  cl_fails("voltha", "get_device", "{\"device_id\":5}", PV_ERR_BAD_ARGS, 0,
        "expected string, got integer");
  char args[600];
  char big[400];
  memset(big, 'a', 300);
  big[300] = '\0';
  snprintf(args, sizeof(args), "{\"device_id\":\"%s\"}", big);
  cl_fails("voltha", "get_device", args, PV_ERR_BAD_ARGS, 0, "too long");
  cl_fails("netbox", "allocate_ip", "{\"prefix_id\":1,\"desc\":\"x\"}",
        PV_ERR_BAD_ARGS, 0, "unknown argument \"desc\"");
  cr_assert_eq(pv_sim_stat(env.sim.voltha_url, "requests"), before);
}

Test(clients, order_runs_steps_and_stops_at_failure)
{
  char olt[128];
  first_olt(olt, sizeof(olt));
  long long pfx = prefix_id(0);
  char args[1024];
  snprintf(args, sizeof(args),
           "{\"steps\":[{\"service\":\"voltha\",\"op\":\"get_device\","
           "\"args\":{\"device_id\":\"%s\"}},{\"service\":\"netbox\","
           "\"op\":\"allocate_ip\",\"args\":{\"prefix_id\":%lld}},"
           "{\"service\":\"genieacs\",\"op\":\"health_check\"}]}",
           olt, pfx);
  json_t *res = cl_ok("voltha", "order", args);
  cr_assert_eq(json_integer_value(json_object_get(res, "completed")), 3);
  json_t *steps = json_object_get(res, "steps");
  cr_assert_eq(json_array_size(steps), 3);
  cr_assert_str_eq(cl_str(json_array_get(steps, 1), "op"), "allocate_ip");
  cr_assert(strstr(cl_str(json_object_get(json_array_get(steps, 1), "result"),
                       "description"), "#2]") ||
            strstr(cl_str(json_object_get(json_array_get(steps, 1), "result"),
                       "description"), "#2"),
            "the step's key is recorded");
  json_decref(res);

  snprintf(args, sizeof(args),
           "{\"steps\":[{\"service\":\"voltha\",\"op\":\"health_check\"},"
           "{\"service\":\"voltha\",\"op\":\"get_device\","
           "\"args\":{\"device_id\":\"0000nothere\"}},"
           "{\"service\":\"netbox\",\"op\":\"allocate_ip\","
           "\"args\":{\"prefix_id\":%lld}}]}",
           pfx);
  long long nb_before = pv_sim_stat(env.sim.netbox_url, "requests");
  cl_outcome_t o = cl_op("netbox", "order", args);
  cr_assert_eq(o.err.cls, PV_ERR_HTTP_4XX);
  cr_assert_eq(o.err.http_status, 404);
  cr_assert(strstr(o.err.message, "step 2 (voltha.get_device): "), "%s",
            o.err.message);
  cr_assert_not_null(o.result, "an order reports its steps even on failure");
  steps = json_object_get(o.result, "steps");
  cr_assert_eq(json_array_size(steps), 2, "step 3 never ran");
  cr_assert_str_eq(cl_str(json_array_get(steps, 1), "status"), "failed");
  cr_assert_str_eq(cl_str(json_object_get(json_array_get(steps, 1), "error"), "class"),
                   "http_4xx");
  cr_assert_eq(json_integer_value(json_object_get(o.result, "completed")), 1);
  cr_assert_eq(pv_sim_stat(env.sim.netbox_url, "requests"), nb_before);
  cl_outcome_clear(&o);

  o = cl_run(&env, "{\"v\":1,\"id\":\"o3\",\"tenant\":\"voltha-only\","
                   "\"service\":\"voltha\",\"op\":\"order\",\"args\":{\"steps\":"
                   "[{\"service\":\"voltha\",\"op\":\"health_check\"},"
                   "{\"service\":\"netbox\",\"op\":\"health_check\"}]}}");
  cr_assert_eq(o.err.cls, PV_ERR_UNKNOWN_TENANT);
  cr_assert(strstr(o.err.message, "no netbox endpoint (step 2)"), "%s",
            o.err.message);
}
