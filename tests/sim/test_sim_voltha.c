/* The simulator's VOLTHA 1.x REST over real HTTP. */
#include "tests/sim/simfix.h"

#include <string.h>
#include <unistd.h>

TestSuite(sim_voltha, .init = simfix_start, .fini = simfix_stop,
          .timeout = 30);

static const char *jstr(const json_t *o, const char *k)
{
  const char *s = json_string_value(json_object_get(o, k));
  return s ? s : "";
}

/* @returns a copy of the first device matching pred, or NULL. */
static json_t *find_device(const char *field, const char *value)
{
  char url[256];
  SIMURL(url, sim.voltha_url, "/api/v1/devices");
  th_resp_t *r = th_get(url);
  cr_assert_eq(r->status, 200);
  json_t *items = json_object_get(r->json, "items");
  json_t *found = NULL, *d;
  size_t i;
  json_array_foreach(items, i, d)
  {
    if (!found && strcmp(jstr(d, field), value) == 0)
      found = json_deep_copy(d);
  }
  th_free(r);
  return found;
}

static json_t *get_device(const char *id, long *status)
{
  char url[256];
  SIMURL(url, sim.voltha_url, "/api/v1/devices/%s", id);
  th_resp_t *r = th_get(url);
  *status = r->status;
  json_t *d = r->json ? json_incref(r->json) : NULL;
  th_free(r);
  return d;
}

/* POST /api/v1/devices/{id}/{action} */
static th_resp_t *post(const char *id, const char *action)
{
  char url[256];
  SIMURL(url, sim.voltha_url, "/api/v1/devices/%s/%s", id, action);
  return th_request("POST", url, NULL, NULL, 0);
}

/* Polls until the device's oper_status is `want` (bounded: 10 s). */
static bool wait_oper(const char *id, const char *want)
{
  for (int i = 0; i < 200; i++) {
    long st;
    json_t *d = get_device(id, &st);
    bool ok = d && strcmp(jstr(d, "oper_status"), want) == 0;
    json_decref(d);
    if (ok)
      return true;
    usleep(50000);
  }
  return false;
}

Test(sim_voltha, health_paths_match_the_gateway)
{
  char url[256];
  SIMURL(url, sim.voltha_url, "/health");
  th_resp_t *r = th_get(url);
  cr_assert_eq(r->status, 200);
  cr_assert_str_eq(jstr(r->json, "state"), "HEALTHY");
  th_free(r);
  SIMURL(url, sim.voltha_url, "/api/v1/local/health");
  r = th_get(url);
  cr_assert_eq(r->status, 200);
  th_free(r);
  /* dotmac's health_check path does not exist in VOLTHA. */
  SIMURL(url, sim.voltha_url, "/api/v1/health");
  r = th_get(url);
  cr_assert_eq(r->status, 404);
  cr_assert_null(r->json, "errors are plain text");
  th_free(r);
}

Test(sim_voltha, seeded_inventory_has_olts_and_onus_with_all_fields)
{
  char url[256], hb[64];
  SIMURL(url, sim.voltha_url, "/api/v1/devices");
  th_resp_t *r = th_get(url);
  cr_assert_eq(r->status, 200);
  cr_assert_not_null(th_header(r, "Content-Type", hb, sizeof(hb)));
  json_t *items = json_object_get(r->json, "items");
  cr_assert_eq(json_array_size(items), 2 + 2 * 4);
  static const char *const keys[] = {
      "id",          "type",          "root",          "parent_id",
      "parent_port_no", "vendor",     "model",         "hardware_version",
      "firmware_version", "serial_number", "vendor_id", "adapter",
      "vlan",        "extra_args",    "admin_state",   "oper_status",
      "reason",      "connect_status", "ports"};
  size_t i;
  json_t *d;
  int olts = 0;
  json_array_foreach(items, i, d)
  {
    for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
      cr_assert_not_null(json_object_get(d, keys[k]), "missing %s", keys[k]);
    if (json_is_true(json_object_get(d, "root"))) {
      olts++;
      cr_assert_str_eq(jstr(d, "type"), "openolt");
      cr_assert_str_eq(jstr(d, "admin_state"), "ENABLED");
      cr_assert_str_eq(jstr(d, "oper_status"), "ACTIVE");
      cr_assert_str_eq(jstr(d, "connect_status"), "REACHABLE");
      cr_assert(strchr(jstr(d, "host_and_port"), ':'));
    } else {
      cr_assert_eq(strlen(jstr(d, "serial_number")), 12);
      cr_assert_not_null(json_object_get(d, "proxy_address"));
      cr_assert_gt(strlen(jstr(d, "parent_id")), 0);
    }
  }
  cr_assert_eq(olts, 2);
  th_free(r);

  /* The documented serial scheme: vendor + OLT index + ONU index. */
  json_t *onu = find_device("serial_number", "ALCL00010001");
  cr_assert_not_null(onu);
  cr_assert_str_eq(jstr(onu, "admin_state"), "ENABLED");
  json_decref(onu);
  onu = find_device("serial_number", "BRCM00020002");
  cr_assert_not_null(onu, "second OLT uses the BRCM prefix");
  cr_assert_str_eq(jstr(onu, "admin_state"), "PREPROVISIONED");
  cr_assert_str_eq(jstr(onu, "oper_status"), "DISCOVERED");
  json_decref(onu);
}

Test(sim_voltha, get_depth_embeds_ports_with_string_counters)
{
  json_t *olt = find_device("type", "openolt");
  char url[256], hdr[] = "Get-Depth: 1";
  const char *hdrs[] = {hdr, NULL};
  SIMURL(url, sim.voltha_url, "/api/v1/devices/%s", jstr(olt, "id"));
  th_resp_t *r = th_request("GET", url, hdrs, NULL, 0);
  json_t *ports = json_object_get(r->json, "ports");
  cr_assert_gt(json_array_size(ports), 1);
  json_t *p0 = json_array_get(ports, 0);
  cr_assert(json_is_string(json_object_get(p0, "rx_packets")),
            "64-bit counters are strings");
  cr_assert_str_eq(jstr(p0, "type"), "ETHERNET_NNI");
  th_free(r);
  SIMURL(url, sim.voltha_url, "/api/v1/devices/%s/ports", jstr(olt, "id"));
  r = th_get(url);
  /* NNI plus the 4 PON ports. */
  cr_assert_eq(json_array_size(json_object_get(r->json, "items")), 5);
  th_free(r);
  json_decref(olt);
}

Test(sim_voltha, preprovision_enable_activate_disable_delete)
{
  char url[256];
  SIMURL(url, sim.voltha_url, "/api/v1/devices");
  th_resp_t *r = th_request("POST", url, NULL,
                            "{\"type\":\"openolt\",\"host_and_port\":"
                            "\"10.9.9.9:9191\"}", 0);
  cr_assert_eq(r->status, 200, "%s", r->body);
  char id[64];
  snprintf(id, sizeof(id), "%s", jstr(r->json, "id"));
  cr_assert_str_eq(jstr(r->json, "admin_state"), "PREPROVISIONED");
  cr_assert_str_eq(jstr(r->json, "oper_status"), "UNKNOWN");
  cr_assert_str_eq(jstr(r->json, "connect_status"), "UNKNOWN");
  th_free(r);

  r = post(id, "disable");
  cr_assert_eq(r->status, 409, "disable of a PREPROVISIONED device");
  th_free(r);

  r = post(id, "enable");
  cr_assert_eq(r->status, 200);
  cr_assert_str_eq(r->body, "{}");
  th_free(r);
  long st;
  json_t *d = get_device(id, &st);
  cr_assert_str_eq(jstr(d, "admin_state"), "ENABLED");
  cr_assert(strcmp(jstr(d, "oper_status"), "ACTIVATING") == 0 ||
            strcmp(jstr(d, "oper_status"), "ACTIVE") == 0);
  json_decref(d);
  cr_assert(wait_oper(id, "ACTIVE"), "never became ACTIVE");
  d = get_device(id, &st);
  cr_assert_str_eq(jstr(d, "connect_status"), "REACHABLE");
  json_decref(d);

  r = post(id, "enable");
  cr_assert_eq(r->status, 409);
  cr_assert(strstr(r->body, "cannot-enable-an-already-enabled-device"));
  cr_assert_null(r->json, "plain-text error body");
  th_free(r);

  SIMURL(url, sim.voltha_url, "/api/v1/devices/%s/delete", id);
  r = th_request("DELETE", url, NULL, NULL, 0);
  cr_assert_eq(r->status, 400, "an enabled device cannot be deleted");
  th_free(r);

  r = post(id, "disable");
  cr_assert_eq(r->status, 200);
  th_free(r);
  char hdr[] = "Get-Depth: 1";
  const char *hdrs[] = {hdr, NULL};
  SIMURL(url, sim.voltha_url, "/api/v1/devices/%s", id);
  r = th_request("GET", url, hdrs, NULL, 0);
  cr_assert_str_eq(jstr(r->json, "admin_state"), "DISABLED");
  cr_assert_str_eq(jstr(r->json, "oper_status"), "UNKNOWN");
  cr_assert_str_eq(jstr(r->json, "connect_status"), "UNREACHABLE");
  json_t *p0 = json_array_get(json_object_get(r->json, "ports"), 0);
  cr_assert_str_eq(jstr(p0, "admin_state"), "DISABLED");
  th_free(r);
  r = post(id, "disable");
  cr_assert_eq(r->status, 200, "disabling twice is a no-op");
  th_free(r);

  SIMURL(url, sim.voltha_url, "/api/v1/devices/%s/delete", id);
  r = th_request("DELETE", url, NULL, NULL, 0);
  cr_assert_eq(r->status, 200);
  cr_assert_str_eq(r->body, "{}");
  th_free(r);
  d = get_device(id, &st);
  cr_assert_eq(st, 404);
  json_decref(d);
}

Test(sim_voltha, onu_found_by_serial_is_enabled_and_activates)
{
  json_t *onu = find_device("serial_number", "ALCL00010002");
  cr_assert_not_null(onu);
  char id[64];
  snprintf(id, sizeof(id), "%s", jstr(onu, "id"));
  json_decref(onu);
  th_resp_t *r = post(id, "enable");
  cr_assert_eq(r->status, 200);
  th_free(r);
  cr_assert(wait_oper(id, "ACTIVE"));
  r = post(id, "reboot");
  cr_assert_eq(r->status, 200);
  th_free(r);
  cr_assert(wait_oper(id, "ACTIVE"), "back after reboot");
}

Test(sim_voltha, create_errors_are_plain_text_with_the_right_codes)
{
  char url[256];
  SIMURL(url, sim.voltha_url, "/api/v1/devices");
  th_resp_t *r = th_request("POST", url, NULL, "{\"type\":\"openolt\"}", 0);
  cr_assert_eq(r->status, 400);
  cr_assert_str_eq(r->body, "no-device-info-present; MAC or HOSTIP&PORT");
  th_free(r);
  r = th_request("POST", url, NULL, "{not json", 0);
  cr_assert_eq(r->status, 400);
  th_free(r);
  r = th_request("POST", url, NULL,
                 "{\"type\":\"openolt\",\"host_and_port\":\"1.2.3.4:9191\","
                 "\"bogus\":1}", 0);
  cr_assert_eq(r->status, 400);
  cr_assert(strstr(r->body, "bogus"), "names the unknown field: %s", r->body);
  th_free(r);
  r = th_request("POST", url, NULL,
                 "{\"type\":\"openolt\",\"host_and_port\":\"10.90.0.1:9191\"}",
                 0);
  cr_assert_eq(r->status, 409, "seeded OLT 1 already has that address");
  th_free(r);
  r = th_request("POST", url, NULL,
                 "{\"type\":\"openolt\",\"host_and_port\":\"nohostport\"}", 0);
  cr_assert_eq(r->status, 400);
  th_free(r);
}

Test(sim_voltha, unknown_ids_paths_and_verbs)
{
  char url[256];
  long st;
  json_t *d = get_device("ffffffffffff", &st);
  cr_assert_eq(st, 404);
  json_decref(d);
  th_resp_t *r = post("ffffffffffff", "enable");
  cr_assert_eq(r->status, 404);
  cr_assert(strstr(r->body, "ffffffffffff"));
  th_free(r);
  json_t *olt = find_device("type", "openolt");
  /* dotmac's delete_device uses DELETE devices/{id}: not a VOLTHA route. */
  SIMURL(url, sim.voltha_url, "/api/v1/devices/%s", jstr(olt, "id"));
  r = th_request("DELETE", url, NULL, NULL, 0);
  cr_assert_eq(r->status, 405);
  th_free(r);
  SIMURL(url, sim.voltha_url, "/api/v1/devices/%s/config", jstr(olt, "id"));
  r = th_get(url);
  cr_assert_eq(r->status, 404);
  th_free(r);
  SIMURL(url, sim.voltha_url, "/api/v1/alarms");
  r = th_get(url);
  cr_assert_eq(r->status, 404);
  th_free(r);
  json_decref(olt);
}

Test(sim_voltha, logical_devices_ports_flows_and_meters)
{
  char url[256];
  SIMURL(url, sim.voltha_url, "/api/v1/logical_devices");
  th_resp_t *r = th_get(url);
  json_t *items = json_object_get(r->json, "items");
  cr_assert_eq(json_array_size(items), 2);
  json_t *ld = json_array_get(items, 0);
  char id[64];
  snprintf(id, sizeof(id), "%s", jstr(ld, "id"));
  cr_assert(json_is_string(json_object_get(ld, "datapath_id")));
  cr_assert_not_null(json_object_get(ld, "desc"));
  th_free(r);

  SIMURL(url, sim.voltha_url, "/api/v1/logical_devices/%s/ports", id);
  r = th_get(url);
  /* NNI plus one UNI per enabled ONU (2 of the 4). */
  cr_assert_eq(json_array_size(json_object_get(r->json, "items")), 3);
  th_free(r);
  SIMURL(url, sim.voltha_url, "/api/v1/logical_devices/%s/ports/nni-1048576/disable", id);
  r = th_request("POST", url, NULL, NULL, 0);
  cr_assert_eq(r->status, 200);
  th_free(r);

  SIMURL(url, sim.voltha_url, "/api/v1/logical_devices/%s/flows", id);
  r = th_request("POST", url, NULL,
                 "{\"id\":\"x\",\"flow_mod\":{\"command\":\"OFPFC_ADD\","
                 "\"priority\":1000,\"cookie\":\"7\"}}", 0);
  cr_assert_eq(r->status, 200);
  th_free(r);
  /* dotmac posts a raw flow, not a FlowTableUpdate. */
  r = th_request("POST", url, NULL, "{\"priority\":1000}", 0);
  cr_assert_eq(r->status, 400);
  th_free(r);
  r = th_get(url);
  cr_assert_eq(json_array_size(json_object_get(r->json, "items")), 1);
  th_free(r);

  SIMURL(url, sim.voltha_url, "/api/v1/logical_devices/%s/meters", id);
  r = th_request("POST", url, NULL,
                 "{\"id\":\"x\",\"meter_mod\":{\"meter_id\":1,\"flags\":6,"
                 "\"bands\":[]}}", 0);
  cr_assert_eq(r->status, 200);
  th_free(r);
  r = th_get(url);
  cr_assert_eq(json_array_size(json_object_get(r->json, "items")), 1);
  th_free(r);

  SIMURL(url, sim.voltha_url, "/api/v1/logical_devices/nope");
  r = th_get(url);
  cr_assert_eq(r->status, 404);
  th_free(r);
  SIMURL(url, sim.voltha_url, "/api/v1/adapters");
  r = th_get(url);
  cr_assert_gt(json_array_size(json_object_get(r->json, "items")), 0);
  th_free(r);
  SIMURL(url, sim.voltha_url, "/api/v1/device_types/openolt");
  r = th_get(url);
  cr_assert_eq(r->status, 200);
  th_free(r);
}

static char ld_id[64];

static th_resp_t *ld_post(const char *what, const char *body)
{
  char url[256];
  SIMURL(url, sim.voltha_url, "/api/v1/logical_devices/%s/%s", ld_id, what);
  return th_request("POST", url, NULL, body, 0);
}

static json_t *ld_items(const char *what)
{
  char url[256];
  SIMURL(url, sim.voltha_url, "/api/v1/logical_devices/%s/%s", ld_id, what);
  th_resp_t *r = th_get(url);
  cr_assert_eq(r->status, 200);
  json_t *items = json_incref(json_object_get(r->json, "items"));
  th_free(r);
  return items;
}

static void first_ld(void)
{
  char url[256];
  SIMURL(url, sim.voltha_url, "/api/v1/logical_devices");
  th_resp_t *r = th_get(url);
  snprintf(ld_id, sizeof(ld_id), "%s",
           jstr(json_array_get(json_object_get(r->json, "items"), 0), "id"));
  th_free(r);
}

static long ld_post_status(const char *what, const char *body)
{
  th_resp_t *r = ld_post(what, body);
  long st = r->status;
  th_free(r);
  return st;
}

#define MATCH_PORT(p)                                                        \
  "\"match\":{\"type\":\"OFPMT_OXM\",\"oxm_fields\":[{\"oxm_class\":"        \
  "\"OFPXMC_OPENFLOW_BASIC\",\"ofb_field\":{\"type\":\"OFPXMT_OFB_IN_PORT\"," \
  "\"port\":" #p "}}]}"

/* VOLTHA's flow identity (table, priority, match), delete matching and
 * meters taking their flows along. */
Test(sim_voltha, flow_table_update_and_meter_mod_semantics)
{
  first_ld();
  /* The same table/priority/match twice is one flow (replaced). */
  const char *add1 = "{\"id\":\"x\",\"flow_mod\":{\"command\":\"OFPFC_ADD\","
                     "\"priority\":1000,\"cookie\":\"18446744073709551615\","
                     MATCH_PORT(16) "}}";
  cr_assert_eq(ld_post_status("flows", add1), 200);
  cr_assert_eq(ld_post_status("flows", add1), 200);
  json_t *flows = ld_items("flows");
  cr_assert_eq(json_array_size(flows), 1);
  json_t *f = json_array_get(flows, 0);
  cr_assert_str_eq(jstr(f, "cookie"), "18446744073709551615", "uint64 as a string");
  cr_assert(json_is_string(json_object_get(f, "id")));
  cr_assert_str_eq(jstr(f, "packet_count"), "0");
  cr_assert(json_is_array(json_object_get(f, "instructions")));
  json_decref(flows);
  /* Another match: a second flow, using meter 5. */
  cr_assert_eq(ld_post_status("flows",
      "{\"flow_mod\":{\"priority\":1000,\"cookie\":9," MATCH_PORT(17) ","
      "\"instructions\":[{\"type\":6,\"meter\":{\"meter_id\":5}}]}}"), 200);
  flows = ld_items("flows");
  cr_assert_eq(json_array_size(flows), 2);
  json_decref(flows);

  /* Delete by cookie needs out_port/out_group ANY: with the defaults (0)
   * nothing matches, as in VOLTHA. */
  cr_assert_eq(ld_post_status("flows",
      "{\"flow_mod\":{\"command\":\"OFPFC_DELETE\",\"cookie\":9,"
      "\"cookie_mask\":\"18446744073709551615\",\"table_id\":255}}"), 200);
  flows = ld_items("flows");
  cr_assert_eq(json_array_size(flows), 2, "out_port 0 restricts the delete");
  json_decref(flows);

  /* Meters: add twice is one meter; it counts the flow that uses it. */
  const char *m5 = "{\"meter_mod\":{\"command\":\"OFPMC_ADD\",\"meter_id\":5,"
                   "\"flags\":13,\"bands\":[{\"type\":\"OFPMBT_DROP\","
                   "\"rate\":10000,\"burst_size\":1000}]}}";
  cr_assert_eq(ld_post_status("meters", m5), 200);
  cr_assert_eq(ld_post_status("meters", m5), 200);
  json_t *meters = ld_items("meters");
  cr_assert_eq(json_array_size(meters), 1);
  json_t *st = json_object_get(json_array_get(meters, 0), "stats");
  cr_assert_eq(json_integer_value(json_object_get(st, "flow_count")), 1);
  json_decref(meters);
  /* Deleting the meter deletes its flow; deleting it again is fine. */
  const char *d5 = "{\"meter_mod\":{\"command\":\"OFPMC_DELETE\",\"meter_id\":5}}";
  cr_assert_eq(ld_post_status("meters", d5), 200);
  cr_assert_eq(ld_post_status("meters", d5), 200);
  meters = ld_items("meters");
  cr_assert_eq(json_array_size(meters), 0);
  json_decref(meters);
  flows = ld_items("flows");
  cr_assert_eq(json_array_size(flows), 1);
  json_decref(flows);

  /* Delete by exact cookie with ANY port/group removes the first flow. */
  cr_assert_eq(ld_post_status("flows",
      "{\"flow_mod\":{\"command\":\"OFPFC_DELETE\","
      "\"cookie\":\"18446744073709551615\","
      "\"cookie_mask\":\"18446744073709551615\",\"table_id\":255,"
      "\"out_port\":2147483647,\"out_group\":2147483647}}"), 200);
  flows = ld_items("flows");
  cr_assert_eq(json_array_size(flows), 0);
  json_decref(flows);

  /* What protobuf's JSON parser refuses. */
  th_resp_t *r = ld_post("flows", "{\"flow_mod\":{\"command\":\"OFPFC_NOPE\"}}");
  cr_assert_eq(r->status, 400);
  cr_assert(strstr(r->body, "Invalid enum value \"OFPFC_NOPE\" for enum type "
                            "openflow_13.ofp_flow_mod_command"), "%s", r->body);
  th_free(r);
  r = ld_post("flows", "{\"flow_mod\":{\"prio\":1}}");
  cr_assert_eq(r->status, 400);
  cr_assert(strstr(r->body, "\"openflow_13.ofp_flow_mod\" has no field named "
                            "\"prio\""), "%s", r->body);
  th_free(r);
  r = ld_post("flows", "{\"flow_mod\":{\"priority\":-1}}");
  cr_assert_eq(r->status, 400);
  th_free(r);
  r = ld_post("meters", "{\"meter_mod\":{\"meter_id\":\"x\"}}");
  cr_assert_eq(r->status, 400);
  th_free(r);
  snprintf(ld_id, sizeof(ld_id), "%s", "nope");
  cr_assert_eq(ld_post_status("flows", add1), 404);
}
