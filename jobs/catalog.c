/*
 * The operation catalog table and what is derived from it: argument
 * validation and the CLI / markdown listings.
 *
 * Paths and bodies follow /work/shared/design/SOUTHBOUND.md (docs copied
 * into docs/operations.md by pv-catalog-doc): VOLTHA delete is
 * DELETE /api/v1/devices/{id}/delete and health is /health; GenieACS has
 * no GET by id (a query is used); NetBox paths end with '/'.
 */
#include "jobs/catalog.h"

#include "common/base64.h"
#include "jobs/job.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- argument building blocks ------------------------------------------ */

#define END {NULL, PV_ARG_STR, PV_IN_CLIENT, false, 0, 0, NULL, NULL, NULL}

/* Ids are opaque strings: 256 bytes is far beyond any real VOLTHA or
 * GenieACS id and keeps paths short. */
#define ARG_DEVICE_ID(where)                                                  \
  {"device_id", PV_ARG_STR, where, true, 1, 256, NULL, NULL,                  \
   "device id (opaque; percent-encoded into the path)"}
#define ARG_NB_ID(what)                                                       \
  {"id", PV_ARG_INT, PV_IN_PATH, true, 1, INT32_MAX, NULL, NULL,              \
   "NetBox " what " id"}
#define ARG_LIMIT(dflt, what)                                                 \
  {"limit", PV_ARG_INT, PV_IN_CLIENT, false, 1, 10000, NULL, dflt, what}
#define ARG_OFFSET                                                            \
  {"offset", PV_ARG_INT, PV_IN_CLIENT, false, 0, 1000000000, NULL, "0",       \
   "rows to skip first"}

#define ARG_LD_ID(wire)                                                       \
  {"logical_device_id", PV_ARG_STR, PV_IN_PATH, true, 1, 256, wire, NULL,     \
   "logical device id (opaque; percent-encoded into the path)"}

/* The ONU ops name the ONU as its OLT sees it (SOUTHBOUND 1.2: ONUs are
 * discovered, never created). */
#define ONU_ARGS                                                              \
  {"olt_id", PV_ARG_STR, PV_IN_CLIENT, true, 1, 256, NULL, NULL,              \
   "the parent OLT's device id"},                                             \
  {"serial_number", PV_ARG_STR, PV_IN_CLIENT, true, 1, 64, NULL, NULL,        \
   "the ONU's serial number"}
#define ONU_RESULT "{device_id,olt_id,serial_number,changed,device}"

/* MeterModUpdate fields (openflow_13.proto ofp_meter_mod). */
#define V_METER_ARGS                                                          \
  ARG_LD_ID("id"),                                                            \
  {"meter_id", PV_ARG_INT, PV_IN_BODY, true, 1, 4294901760LL,                 \
   "meter_mod.meter_id", NULL, "meter id (1..OFPM_MAX)"},                     \
  {"bands", PV_ARG_ARRAY, PV_IN_BODY, true, 1, 16, "meter_mod.bands", NULL,   \
   "[{\"type\":\"OFPMBT_DROP\",\"rate\":kbps,\"burst_size\":kb}, ...]"},      \
  {"flags", PV_ARG_INT, PV_IN_BODY, false, 0, 15, "meter_mod.flags", "13",    \
   "OFPMF_* bits (13 = KBPS, BURST, STATS)"}

/* VOLTHA has no server-side paging: the client slices the list. */
#define V_PAGING                                                              \
  ARG_LIMIT(NULL, "most rows returned (default: all)"), ARG_OFFSET

/* GenieACS collection queries (SOUTHBOUND 2.2). */
#define G_QUERY_ARGS                                                          \
  {"query", PV_ARG_OBJECT, PV_IN_CLIENT, false, 0, 0, NULL, NULL,             \
   "MongoDB-style filter, sent URL-encoded"},                                 \
  {"projection", PV_ARG_STR, PV_IN_CLIENT, false, 1, 4096, NULL, NULL,        \
   "comma-separated paths to return"},                                        \
  {"sort", PV_ARG_OBJECT, PV_IN_CLIENT, false, 0, 0, NULL, NULL,              \
   "e.g. {\"_lastInform\":-1}"},                                              \
  {"skip", PV_ARG_INT, PV_IN_CLIENT, false, 0, 1000000000, NULL, "0",         \
   "rows to skip first"},                                                     \
  ARG_LIMIT("100", "most rows returned")

#define G_DEVICE_FILTER                                                       \
  {"device_id", PV_ARG_STR, PV_IN_CLIENT, false, 1, 256, NULL, NULL,          \
   "only this device's (added to the query as {\"device\":id})"}

/* Presets, provisions and files are named by the path (_id = name). */
#define G_NAME(what)                                                          \
  {"name", PV_ARG_STR, PV_IN_PATH, true, 1, 256, NULL, NULL,                  \
   what " name (_id)"}

/* GenieACS task options (SOUTHBOUND 2.3). */
#define G_TASK_ARGS                                                           \
  ARG_DEVICE_ID(PV_IN_PATH),                                                  \
  {"connection_request", PV_ARG_BOOL, PV_IN_CLIENT, false, 0, 0, NULL,        \
   "true", "ask the CPE to connect now (else the task waits for its next "    \
   "inform)"},                                                                \
  {"timeout_ms", PV_ARG_INT, PV_IN_CLIENT, false, 1000, 120000, NULL, NULL,   \
   "how long the NBI waits for the session to start"}

/* NetBox list paging; the client follows pages (capped). */
#define N_PAGING                                                              \
  ARG_LIMIT(NULL, "most rows returned (default: all, capped at 10000)"),     \
  ARG_OFFSET,                                                                 \
  {"q", PV_ARG_STR, PV_IN_QUERY, false, 1, 200, NULL, NULL, "free-text search"}

#define N_FILTER_INT(n, d)                                                    \
  {n, PV_ARG_INT, PV_IN_QUERY, false, 1, INT32_MAX, NULL, NULL, d}
#define N_FILTER_STR(n, maxlen, d)                                            \
  {n, PV_ARG_STR, PV_IN_QUERY, false, 1, maxlen, NULL, NULL, d}

/* NetBox body fields. REF = an id or an object of unique attributes. */
#define N_REF(n, req, d)                                                      \
  {n, PV_ARG_REF, PV_IN_BODY, req, 0, 0, NULL, NULL, d " id or {\"slug\":...}"}
#define N_STR(n, req, lo, hi, d)                                              \
  {n, PV_ARG_STR, PV_IN_BODY, req, lo, hi, NULL, NULL, d}
#define N_INT(n, req, lo, hi, d)                                              \
  {n, PV_ARG_INT, PV_IN_BODY, req, lo, hi, NULL, NULL, d}
#define N_BOOL(n, d) {n, PV_ARG_BOOL, PV_IN_BODY, false, 0, 0, NULL, NULL, d}
#define N_TENANT N_REF("tenant", false, "NetBox tenant")
#define N_SLUG(req) N_STR("slug", req, 1, 100, "URL-friendly unique name")
#define N_TAGS_CF                                                             \
  {"custom_fields", PV_ARG_OBJECT, PV_IN_BODY, false, 0, 0, NULL, NULL,       \
   "custom field values"},                                                    \
  {"tags", PV_ARG_ARRAY, PV_IN_BODY, false, 0, 100, NULL, NULL,               \
   "tag ids or {\"name\":...} objects"}
/* A keyed create records the job in description (pv_op_t.lookup): what
 * the caller gives is kept short enough for NetBox's 200 characters. */
#define N_DESC_KEYED                                                          \
  {"description", PV_ARG_STR, PV_IN_CLIENT, false, 0, 60, NULL, NULL,         \
   "free text; \" [pv-job <job id>]\" is appended"}
#define N_DESC N_STR("description", false, 0, 200, "free text")

#define N_DEVICE_FIELDS(req)                                                  \
  N_STR("name", false, 1, 64, "device name"),                                 \
  N_REF("device_type", req, "device type"), N_REF("role", req, "device role"),\
  N_REF("site", req, "site"),                                                 \
  N_STR("status", false, 1, 32,                                               \
        "offline, active, planned, staged, failed, inventory, "               \
        "decommissioning"),                                                   \
  N_STR("serial", false, 0, 50, "serial number"), N_TENANT,                   \
  N_REF("platform", false, "platform"), N_TAGS_CF
#define N_IP_FIELDS                                                           \
  N_STR("status", false, 1, 32, "active, reserved, deprecated, dhcp, slaac"), \
  N_STR("dns_name", false, 0, 255, "DNS name"),                               \
  N_STR("role", false, 1, 32, "loopback, secondary, anycast, vip, vrrp..."),  \
  N_TENANT,                                                                   \
  N_STR("assigned_object_type", false, 1, 64, "e.g. dcim.interface"),         \
  N_INT("assigned_object_id", false, 1, INT32_MAX,                            \
        "id of the assigned object"),                                         \
  N_TAGS_CF
#define N_PREFIX_FIELDS(req)                                                  \
  N_STR("prefix", req, 3, 64, "e.g. 10.0.0.0/24"), N_REF("vrf", false, "VRF"),\
  N_TENANT, N_REF("vlan", false, "VLAN"),                                     \
  N_STR("status", false, 1, 32, "container, active, reserved, deprecated"),   \
  N_BOOL("is_pool", "every address usable, network and broadcast too"),       \
  N_BOOL("mark_utilized", "count as fully used"), N_TAGS_CF
#define N_VLAN_FIELDS(req)                                                    \
  N_INT("vid", req, 1, 4094, "VLAN id"),                                      \
  N_STR("name", req, 1, 64, "VLAN name (unique in its group)"),               \
  N_REF("group", false, "VLAN group"), N_REF("site", false, "site"),          \
  N_TENANT, N_STR("status", false, 1, 32, "active, reserved, deprecated"),    \
  N_TAGS_CF
#define N_CABLE_FIELDS(req)                                                   \
  {"a_terminations", PV_ARG_ARRAY, PV_IN_BODY, req, 1, 16, NULL, NULL,        \
   "[{\"object_type\":\"dcim.interface\",\"object_id\":n}, ...]"},            \
  {"b_terminations", PV_ARG_ARRAY, PV_IN_BODY, req, 1, 16, NULL, NULL,        \
   "the other end, same form"},                                               \
  N_STR("type", false, 1, 50, "cat6, smf, mmf, dac-passive, ..."),            \
  N_STR("status", false, 1, 32, "connected, planned, decommissioning"),       \
  N_TENANT, N_STR("label", false, 0, 100, "label"),                           \
  N_STR("color", false, 0, 6, "RGB hex, e.g. ff0000"),                       \
  N_INT("length", false, 0, 99999, "length in length_unit (whole units)"),    \
  N_STR("length_unit", false, 1, 2, "km, m, cm, mi, ft, in"), N_TAGS_CF
#define N_CIRCUIT_FIELDS(req)                                                 \
  N_STR("cid", req, 1, 100, "circuit id (unique per provider)"),              \
  N_REF("provider", req, "provider"), N_REF("type", req, "circuit type"),     \
  N_STR("status", false, 1, 32,                                               \
        "planned, provisioning, active, offline, deprovisioning, "            \
        "decommissioned"),                                                    \
  N_TENANT, N_STR("install_date", false, 10, 10, "YYYY-MM-DD"),               \
  N_STR("termination_date", false, 10, 10, "YYYY-MM-DD"),                     \
  N_INT("commit_rate", false, 0, INT32_MAX, "committed rate (Kbps)"),         \
  N_TAGS_CF
#define N_NAME_SLUG(what)                                                     \
  N_STR("name", true, 1, 100, what " name (unique)"), N_SLUG(true)

/* The usual shapes of a NetBox resource's ops (path = its list path). */
#define N_LIST(name, path, what, ...)                                         \
  {"netbox", "list_" name, "GET", path, PV_TMO_LIST, true, PV_NORM_LIST,      \
   NULL, NULL, ARGS(N_PAGING, __VA_ARGS__), what " (pages followed)", NULL,   \
   NULL}
#define N_GET(name, path, what)                                               \
  {"netbox", "get_" name, "GET", path "{id}/", PV_TMO_GET, true,              \
   PV_NORM_OBJECT, NULL, NULL, ARGS(ARG_NB_ID(what)), "one " what, NULL,      \
   NULL}
#define N_CREATE(name, path, what, ...)                                       \
  {"netbox", "create_" name, "POST", path, PV_TMO_WRITE, false,               \
   PV_NORM_OBJECT, NULL, NULL, ARGS(__VA_ARGS__, N_DESC_KEYED),               \
   "creates " what, NULL, path}
#define N_UPDATE(name, path, what, ...)                                       \
  {"netbox", "update_" name, "PATCH", path "{id}/", PV_TMO_WRITE, true,       \
   PV_NORM_OBJECT, NULL, NULL, ARGS(ARG_NB_ID(what), __VA_ARGS__, N_DESC),    \
   "changes the given fields of a " what " (at least one)", NULL, NULL}
#define N_DELETE(name, path, what)                                            \
  {"netbox", "delete_" name, "DELETE", path "{id}/", PV_TMO_WRITE, true,      \
   PV_NORM_DELETE, NULL, NULL, ARGS(ARG_NB_ID(what)),                         \
   "deletes a " what " (409 while objects that refer to it remain)", NULL,    \
   NULL}
#define N_PARENT_ID(n, what)                                                  \
  {n, PV_ARG_INT, PV_IN_PATH, true, 1, INT32_MAX, NULL, NULL, what}

#define ARGS(...) ((const pv_arg_t[]){__VA_ARGS__, END})
#define NO_ARGS ((const pv_arg_t[]){END})

/* ---- the table ---------------------------------------------------------- */

static const pv_op_t ops[] = {
  /* VOLTHA: REST through chameleon/envoy on :8881 (SOUTHBOUND 1.2). */
  {"voltha", "health_check", "GET", "/health", PV_TMO_HEALTH, true,
   PV_NORM_OBJECT, NULL, NULL, NO_ARGS,
   "VOLTHA health ({\"state\":\"HEALTHY\"})", NULL, NULL},
  {"voltha", "list_devices", "GET", "/api/v1/devices", PV_TMO_LIST, true,
   PV_NORM_LIST, NULL, NULL,
   ARGS(V_PAGING,
        {"parent_id", PV_ARG_STR, PV_IN_CLIENT, false, 1, 256, NULL, NULL,
         "only children of this device (client-side filter)"},
        {"serial_number", PV_ARG_STR, PV_IN_CLIENT, false, 1, 64, NULL, NULL,
         "only devices with this serial (client-side filter)"}),
   "devices (OLTs and ONUs)", NULL, NULL},
  {"voltha", "get_device", "GET", "/api/v1/devices/{device_id}", PV_TMO_GET,
   true, PV_NORM_OBJECT, NULL, NULL, ARGS(ARG_DEVICE_ID(PV_IN_PATH)),
   "one device", NULL, NULL},
  {"voltha", "list_logical_devices", "GET", "/api/v1/logical_devices",
   PV_TMO_LIST, true, PV_NORM_LIST, NULL, NULL, ARGS(V_PAGING),
   "logical (OpenFlow) devices", NULL, NULL},
  {"voltha", "get_device_ports", "GET", "/api/v1/devices/{device_id}/ports",
   PV_TMO_GET, true, PV_NORM_LIST, NULL, NULL,
   ARGS(ARG_DEVICE_ID(PV_IN_PATH)), "a device's ports", NULL, NULL},
  {"voltha", "get_device_flows", "GET", "/api/v1/devices/{device_id}/flows",
   PV_TMO_GET, true, PV_NORM_LIST, NULL, NULL,
   ARGS(ARG_DEVICE_ID(PV_IN_PATH)), "a device's flows", NULL, NULL},
  {"voltha", "preprovision_olt", "POST", "/api/v1/devices", PV_TMO_WRITE,
   false, PV_NORM_OBJECT, NULL, "host_and_port|ipv4_address|mac_address",
   ARGS({"type", PV_ARG_STR, PV_IN_BODY, true, 1, 64, NULL, NULL,
         "adapter type, e.g. openolt"},
        {"host_and_port", PV_ARG_STR, PV_IN_BODY, false, 3, 262, NULL, NULL,
         "OLT address, e.g. 10.0.0.5:9191"},
        {"ipv4_address", PV_ARG_STR, PV_IN_BODY, false, 7, 15, NULL, NULL,
         "OLT IPv4 address"},
        {"mac_address", PV_ARG_STR, PV_IN_BODY, false, 17, 17, NULL, NULL,
         "OLT MAC address (aa:bb:cc:dd:ee:ff)"},
        {"extra_args", PV_ARG_STR, PV_IN_BODY, false, 0, 1024, NULL, NULL,
         "adapter-specific arguments"}),
   "pre-provisions an OLT (admin_state PREPROVISIONED)", NULL, NULL},
  {"voltha", "enable_device", "POST", "/api/v1/devices/{device_id}/enable",
   PV_TMO_WRITE, true, PV_NORM_CUSTOM, NULL, NULL,
   ARGS(ARG_DEVICE_ID(PV_IN_PATH)),
   "enables a device; an already enabled device is success: "
   "{\"changed\":b}", NULL, NULL},
  {"voltha", "disable_device", "POST", "/api/v1/devices/{device_id}/disable",
   PV_TMO_WRITE, true, PV_NORM_ACTION, NULL, NULL,
   ARGS(ARG_DEVICE_ID(PV_IN_PATH)), "disables a device", NULL, NULL},
  {"voltha", "reboot_device", "POST", "/api/v1/devices/{device_id}/reboot",
   PV_TMO_LONG, false, PV_NORM_ACTION, NULL, NULL,
   ARGS(ARG_DEVICE_ID(PV_IN_PATH)), "reboots a device", NULL, NULL},
  {"voltha", "delete_device", "DELETE", "/api/v1/devices/{device_id}/delete",
   PV_TMO_WRITE, true, PV_NORM_DELETE, NULL, NULL,
   ARGS(ARG_DEVICE_ID(PV_IN_PATH)), "deletes a device", NULL, NULL},
  {"voltha", "provision_onu", "GET", "/api/v1/devices", PV_TMO_LONG, true,
   PV_NORM_CUSTOM, NULL, NULL, ARGS(ONU_ARGS),
   "finds the OLT's child ONU by serial number and enables it (enabled "
   "already = success): " ONU_RESULT, NULL, NULL},
  {"voltha", "enable_onu", "GET", "/api/v1/devices", PV_TMO_LONG, true,
   PV_NORM_CUSTOM, NULL, NULL, ARGS(ONU_ARGS),
   "resumes a disabled ONU, found by OLT and serial number (enabled already "
   "= success): " ONU_RESULT, NULL, NULL},
  {"voltha", "disable_onu", "GET", "/api/v1/devices", PV_TMO_LONG, true,
   PV_NORM_CUSTOM, NULL, NULL, ARGS(ONU_ARGS),
   "suspends an ONU, found by OLT and serial number (disabled already = "
   "success; a never-enabled ONU is refused): " ONU_RESULT, NULL, NULL},
  {"voltha", "get_logical_device", "GET",
   "/api/v1/logical_devices/{logical_device_id}", PV_TMO_GET, true,
   PV_NORM_OBJECT, NULL, NULL, ARGS(ARG_LD_ID(NULL)),
   "one logical device (datapath_id, desc, switch_features, root_device_id)",
   NULL, NULL},
  {"voltha", "get_logical_device_ports", "GET",
   "/api/v1/logical_devices/{logical_device_id}/ports", PV_TMO_GET, true,
   PV_NORM_LIST, NULL, NULL, ARGS(ARG_LD_ID(NULL)),
   "a logical device's OpenFlow ports (NNI and the enabled ONUs' UNIs)",
   NULL, NULL},
  {"voltha", "get_logical_device_flows", "GET",
   "/api/v1/logical_devices/{logical_device_id}/flows", PV_TMO_GET, true,
   PV_NORM_LIST, NULL, NULL, ARGS(ARG_LD_ID(NULL)),
   "a logical device's flow table (ofp_flow_stats)", NULL, NULL},
  {"voltha", "add_flow", "POST",
   "/api/v1/logical_devices/{logical_device_id}/flows", PV_TMO_WRITE, true,
   PV_NORM_ACTION, NULL, NULL,
   ARGS(ARG_LD_ID("id"),
        {"priority", PV_ARG_INT, PV_IN_BODY, true, 0, 65535,
         "flow_mod.priority", NULL, "flow priority"},
        {"table_id", PV_ARG_INT, PV_IN_BODY, false, 0, 254,
         "flow_mod.table_id", NULL, "flow table (0 when left out)"},
        {"cookie", PV_ARG_U64, PV_IN_BODY, false, 0, 0, "flow_mod.cookie",
         NULL, "controller's flow identifier; delete_flow removes by it"},
        {"match", PV_ARG_OBJECT, PV_IN_BODY, false, 0, 0, "flow_mod.match",
         NULL, "ofp_match: {\"type\":\"OFPMT_OXM\",\"oxm_fields\":[...]}"},
        {"instructions", PV_ARG_ARRAY, PV_IN_BODY, false, 0, 16,
         "flow_mod.instructions", NULL, "ofp_instruction list"},
        {"idle_timeout", PV_ARG_INT, PV_IN_BODY, false, 0, 65535,
         "flow_mod.idle_timeout", NULL, "seconds; 0 = permanent"},
        {"hard_timeout", PV_ARG_INT, PV_IN_BODY, false, 0, 65535,
         "flow_mod.hard_timeout", NULL, "seconds; 0 = permanent"},
        {"flags", PV_ARG_INT, PV_IN_BODY, false, 0, 31, "flow_mod.flags",
         NULL, "OFPFF_* bits"}),
   "adds a flow: FlowTableUpdate with OFPFC_ADD. Idempotent: a flow with "
   "the same table, priority and match is replaced, not doubled",
   "{\"flow_mod\":{\"command\":\"OFPFC_ADD\"}}", NULL},
  {"voltha", "delete_flow", "POST",
   "/api/v1/logical_devices/{logical_device_id}/flows", PV_TMO_WRITE, true,
   PV_NORM_ACTION, NULL, NULL,
   ARGS(ARG_LD_ID("id"),
        {"cookie", PV_ARG_U64, PV_IN_BODY, true, 0, 0, "flow_mod.cookie",
         NULL, "cookie of the flows to delete (see get_logical_device_flows)"},
        {"table_id", PV_ARG_INT, PV_IN_BODY, false, 0, 255,
         "flow_mod.table_id", "255", "table, 255 = every table"}),
   "deletes the flows with this cookie: FlowTableUpdate with OFPFC_DELETE, "
   "an exact cookie mask and any out port/group (none left = success)",
   "{\"flow_mod\":{\"command\":\"OFPFC_DELETE\","
   "\"cookie_mask\":\"18446744073709551615\",\"out_port\":2147483647,"
   "\"out_group\":2147483647}}", NULL},
  {"voltha", "list_meters", "GET",
   "/api/v1/logical_devices/{logical_device_id}/meters", PV_TMO_GET, true,
   PV_NORM_LIST, NULL, NULL, ARGS(ARG_LD_ID(NULL)),
   "a logical device's meters ({config, stats})", NULL, NULL},
  {"voltha", "add_meter", "POST",
   "/api/v1/logical_devices/{logical_device_id}/meters", PV_TMO_WRITE, true,
   PV_NORM_ACTION, NULL, NULL, ARGS(V_METER_ARGS),
   "adds a meter: MeterModUpdate with OFPMC_ADD (an existing meter id is "
   "left as it is and is success)",
   "{\"meter_mod\":{\"command\":\"OFPMC_ADD\"}}", NULL},
  {"voltha", "update_meter", "POST",
   "/api/v1/logical_devices/{logical_device_id}/meters", PV_TMO_WRITE, true,
   PV_NORM_ACTION, NULL, NULL, ARGS(V_METER_ARGS),
   "replaces a meter's bands and flags: MeterModUpdate with OFPMC_MODIFY "
   "(VOLTHA answers an unknown meter id with no-meter-to-modify, a 500)",
   "{\"meter_mod\":{\"command\":\"OFPMC_MODIFY\"}}", NULL},
  {"voltha", "delete_meter", "POST",
   "/api/v1/logical_devices/{logical_device_id}/meters", PV_TMO_WRITE, true,
   PV_NORM_ACTION, NULL, NULL,
   ARGS(ARG_LD_ID("id"),
        {"meter_id", PV_ARG_INT, PV_IN_BODY, true, 1, 4294901760LL,
         "meter_mod.meter_id", NULL, "meter id"}),
   "deletes a meter and the flows that use it: MeterModUpdate with "
   "OFPMC_DELETE (no such meter = success)",
   "{\"meter_mod\":{\"command\":\"OFPMC_DELETE\"}}", NULL},
  {"voltha", "list_adapters", "GET", "/api/v1/adapters", PV_TMO_LIST, true,
   PV_NORM_LIST, NULL, NULL, ARGS(V_PAGING),
   "the adapters (plugins) VOLTHA runs", NULL, NULL},
  {"voltha", "list_device_types", "GET", "/api/v1/device_types", PV_TMO_LIST,
   true, PV_NORM_LIST, NULL, NULL, ARGS(V_PAGING),
   "the device types the adapters support", NULL, NULL},

  /* GenieACS NBI on :7557 (SOUTHBOUND 2). */
  {"genieacs", "health_check", "GET", "/devices/", PV_TMO_HEALTH, true,
   PV_NORM_CUSTOM, NULL, NULL, NO_ARGS,
   "NBI reachable: {\"healthy\":true,\"devices\":total}", NULL, NULL},
  {"genieacs", "list_devices", "GET", "/devices/", PV_TMO_LIST, true,
   PV_NORM_LIST, NULL, NULL, ARGS(G_QUERY_ARGS),
   "devices matching a query; total from the `total` header", NULL, NULL},
  {"genieacs", "get_device", "GET", "/devices/", PV_TMO_GET, true,
   PV_NORM_FIND, NULL, NULL,
   ARGS(ARG_DEVICE_ID(PV_IN_CLIENT),
        {"projection", PV_ARG_STR, PV_IN_CLIENT, false, 1, 4096, NULL, NULL,
         "comma-separated paths to return"}),
   "one device, by ?query={\"_id\":...} (the NBI has no GET by id)", NULL, NULL},
  {"genieacs", "get_parameter_values", "POST", "/devices/{device_id}/tasks",
   PV_TMO_TASK_CR, true, PV_NORM_TASK, "getParameterValues", NULL,
   ARGS(G_TASK_ARGS,
        {"parameter_names", PV_ARG_STR_LIST, PV_IN_BODY, true, 1, 256,
         "parameterNames", NULL, "parameter paths to read"}),
   "task getParameterValues", NULL, NULL},
  {"genieacs", "set_parameter_values", "POST", "/devices/{device_id}/tasks",
   PV_TMO_TASK_CR, true, PV_NORM_TASK, "setParameterValues", NULL,
   ARGS(G_TASK_ARGS,
        {"parameter_values", PV_ARG_PARAM_VALUES, PV_IN_BODY, true, 1, 256,
         "parameterValues", NULL, "[[path, value, \"xsd:type\"?], ...]"}),
   "task setParameterValues", NULL, NULL},
  {"genieacs", "refresh_object", "POST", "/devices/{device_id}/tasks",
   PV_TMO_TASK_CR, true, PV_NORM_TASK, "refreshObject", NULL,
   ARGS(G_TASK_ARGS,
        {"object_name", PV_ARG_STR, PV_IN_BODY, true, 0, 1024, "objectName",
         NULL, "object path; \"\" means everything"}),
   "task refreshObject", NULL, NULL},
  {"genieacs", "add_object", "POST", "/devices/{device_id}/tasks",
   PV_TMO_TASK_CR, false, PV_NORM_TASK, "addObject", NULL,
   ARGS(G_TASK_ARGS,
        {"object_name", PV_ARG_STR, PV_IN_BODY, true, 1, 1024, "objectName",
         NULL, "object path to add an instance to"},
        {"parameter_values", PV_ARG_PARAM_VALUES, PV_IN_BODY, false, 1, 256,
         "parameterValues", NULL, "values for the new instance"}),
   "task addObject", NULL, NULL},
  {"genieacs", "delete_object", "POST", "/devices/{device_id}/tasks",
   PV_TMO_TASK_CR, false, PV_NORM_TASK, "deleteObject", NULL,
   ARGS(G_TASK_ARGS,
        {"object_name", PV_ARG_STR, PV_IN_BODY, true, 1, 1024, "objectName",
         NULL, "object instance path, e.g. ...WANIPConnection.2"}),
   "task deleteObject", NULL, NULL},
  {"genieacs", "reboot", "POST", "/devices/{device_id}/tasks", PV_TMO_TASK_CR,
   false, PV_NORM_TASK, "reboot", NULL, ARGS(G_TASK_ARGS), "task reboot", NULL, NULL},
  {"genieacs", "factory_reset", "POST", "/devices/{device_id}/tasks",
   PV_TMO_TASK_CR, false, PV_NORM_TASK, "factoryReset", NULL,
   ARGS(G_TASK_ARGS), "task factoryReset", NULL, NULL},
  {"genieacs", "download", "POST", "/devices/{device_id}/tasks",
   PV_TMO_TASK_CR, false, PV_NORM_TASK, "download", NULL,
   ARGS(G_TASK_ARGS,
        {"file_name", PV_ARG_STR, PV_IN_BODY, true, 1, 1024, "fileName", NULL,
         "file name in GenieACS"},
        {"file_type", PV_ARG_STR, PV_IN_BODY, false, 1, 64, "fileType",
         "\"1 Firmware Upgrade Image\"", "TR-069 file type"},
        {"target_file_name", PV_ARG_STR, PV_IN_BODY, false, 1, 1024,
         "targetFileName", NULL, "name on the device"}),
   "task download (firmware)", NULL, NULL},
  {"genieacs", "run_provisions", "POST", "/devices/{device_id}/tasks",
   PV_TMO_TASK_CR, false, PV_NORM_TASK, "provisions", NULL,
   ARGS(G_TASK_ARGS,
        {"provisions", PV_ARG_ARRAY, PV_IN_BODY, true, 1, 64, NULL, NULL,
         "[[\"provision name\", args...], ...] (see put_provision)"}),
   "task provisions: runs provision scripts on the device", NULL, NULL},
  {"genieacs", "add_tag", "POST", "/devices/{device_id}/tags/{tag}",
   PV_TMO_WRITE, true, PV_NORM_ACTION, NULL, NULL,
   ARGS(ARG_DEVICE_ID(PV_IN_PATH),
        {"tag", PV_ARG_STR, PV_IN_PATH, true, 1, 128, NULL, NULL, "tag"}),
   "tags a device", NULL, NULL},
  {"genieacs", "remove_tag", "DELETE", "/devices/{device_id}/tags/{tag}",
   PV_TMO_WRITE, true, PV_NORM_ACTION, NULL, NULL,
   ARGS(ARG_DEVICE_ID(PV_IN_PATH),
        {"tag", PV_ARG_STR, PV_IN_PATH, true, 1, 128, NULL, NULL, "tag"}),
   "removes a tag", NULL, NULL},
  {"genieacs", "delete_device", "DELETE", "/devices/{device_id}", PV_TMO_WRITE,
   true, PV_NORM_DELETE, NULL, NULL, ARGS(ARG_DEVICE_ID(PV_IN_PATH)),
   "deletes a device with its tasks and faults", NULL, NULL},
  {"genieacs", "list_tasks", "GET", "/tasks/", PV_TMO_LIST, true,
   PV_NORM_LIST, NULL, NULL,
   ARGS(G_DEVICE_FILTER, G_QUERY_ARGS),
   "pending tasks (device_id is optional here: adds {\"device\":id})", NULL, NULL},
  {"genieacs", "list_faults", "GET", "/faults/", PV_TMO_LIST, true,
   PV_NORM_LIST, NULL, NULL,
   ARGS(G_DEVICE_FILTER, G_QUERY_ARGS),
   "faults (device_id is optional here: adds {\"device\":id})", NULL, NULL},
  {"genieacs", "retry_task", "POST", "/tasks/{task_id}/retry", PV_TMO_WRITE,
   true, PV_NORM_ACTION, NULL, NULL,
   ARGS({"task_id", PV_ARG_STR, PV_IN_PATH, true, 1, 64, NULL, NULL,
         "task _id"}),
   "retries a faulted task", NULL, NULL},
  {"genieacs", "delete_task", "DELETE", "/tasks/{task_id}", PV_TMO_WRITE,
   true, PV_NORM_DELETE, NULL, NULL,
   ARGS({"task_id", PV_ARG_STR, PV_IN_PATH, true, 1, 64, NULL, NULL,
         "task _id"}),
   "deletes a task", NULL, NULL},
  {"genieacs", "count_devices", "HEAD", "/devices/", PV_TMO_LIST, true,
   PV_NORM_CUSTOM, NULL, NULL,
   ARGS({"query", PV_ARG_OBJECT, PV_IN_CLIENT, false, 0, 0, NULL, NULL,
         "MongoDB-style filter, sent URL-encoded (none: every device)"}),
   "how many devices match, from the `total` header of a HEAD: no device "
   "is fetched: {\"count\":n}", NULL, NULL},
  {"genieacs", "delete_fault", "DELETE", "/faults/{fault_id}", PV_TMO_WRITE,
   true, PV_NORM_DELETE, NULL, NULL,
   ARGS({"fault_id", PV_ARG_STR, PV_IN_PATH, true, 3, 512, NULL, NULL,
         "fault _id, \"<device id>:<channel>\" (see list_faults); a "
         "task_<id> channel deletes that task too"}),
   "deletes a fault (the NBI answers 200 for an absent one too)", NULL,
   NULL},
  {"genieacs", "list_presets", "GET", "/presets/", PV_TMO_LIST, true,
   PV_NORM_LIST, NULL, NULL, ARGS(G_QUERY_ARGS), "presets", NULL, NULL},
  {"genieacs", "put_preset", "PUT", "/presets/{name}", PV_TMO_WRITE, true,
   PV_NORM_ACTION, NULL, NULL,
   ARGS(G_NAME("preset"),
        {"configurations", PV_ARG_ARRAY, PV_IN_BODY, true, 0, 256, NULL,
         NULL, "[{\"type\":\"value\"|\"age\"|\"add_tag\"|"
         "\"delete_tag\"|\"provision\"|\"add_object\"|"
         "\"delete_object\",...}]"},
        {"weight", PV_ARG_INT, PV_IN_BODY, false, -1000000, 1000000, NULL,
         "0", "order among presets (lower first)"},
        {"channel", PV_ARG_STR, PV_IN_BODY, false, 0, 128, NULL, NULL,
         "fault channel (\"default\" when empty)"},
        {"precondition", PV_ARG_STR, PV_IN_BODY, false, 0, 4096, NULL, NULL,
         "when it applies: an expression over device parameters (or the old "
         "JSON query form)"},
        {"events", PV_ARG_OBJECT, PV_IN_BODY, false, 0, 0, NULL, NULL,
         "{\"0 BOOTSTRAP\":true,...}"},
        {"schedule", PV_ARG_STR, PV_IN_BODY, false, 0, 256, NULL, NULL,
         "cron-like schedule"}),
   "creates or replaces a preset (the NBI stores what it is given)", NULL,
   NULL},
  {"genieacs", "delete_preset", "DELETE", "/presets/{name}", PV_TMO_WRITE,
   true, PV_NORM_DELETE, NULL, NULL, ARGS(G_NAME("preset")),
   "deletes a preset (200 for an absent one too)", NULL, NULL},
  {"genieacs", "list_provisions", "GET", "/provisions/", PV_TMO_LIST, true,
   PV_NORM_LIST, NULL, NULL, ARGS(G_QUERY_ARGS),
   "provisions ({_id, script})", NULL, NULL},
  {"genieacs", "put_provision", "PUT", "/provisions/{name}", PV_TMO_WRITE,
   true, PV_NORM_ACTION, NULL, NULL,
   ARGS(G_NAME("provision"),
        {"script", PV_ARG_STR, PV_IN_RAW, true, 1, 512 * 1024, NULL, NULL,
         "the provision's JavaScript, sent as the body"}),
   "creates or replaces a provision; the NBI refuses a script that does "
   "not compile (400 SyntaxError)", NULL, NULL},
  {"genieacs", "delete_provision", "DELETE", "/provisions/{name}",
   PV_TMO_WRITE, true, PV_NORM_DELETE, NULL, NULL, ARGS(G_NAME("provision")),
   "deletes a provision (200 for an absent one too)", NULL, NULL},
  {"genieacs", "list_files", "GET", "/files/", PV_TMO_LIST, true,
   PV_NORM_LIST, NULL, NULL, ARGS(G_QUERY_ARGS),
   "files ({_id, length, uploadDate, filename, metadata})", NULL, NULL},
  {"genieacs", "upload_file", "PUT", "/files/{name}", PV_TMO_WRITE, true,
   PV_NORM_ACTION, NULL, "content|content_base64",
   ARGS(G_NAME("file"),
        {"file_type", PV_ARG_STR, PV_IN_HEADER, true, 1, 128, "fileType",
         NULL, "TR-069 file type, e.g. \"1 Firmware Upgrade Image\""},
        {"oui", PV_ARG_STR, PV_IN_HEADER, false, 1, 64, "oui", NULL,
         "devices it is for (OUI)"},
        {"product_class", PV_ARG_STR, PV_IN_HEADER, false, 1, 128,
         "productClass", NULL, "devices it is for (product class)"},
        {"version", PV_ARG_STR, PV_IN_HEADER, false, 1, 128, "version",
         NULL, "file version"},
        {"content", PV_ARG_STR, PV_IN_RAW, false, 0, 768 * 1024, NULL, NULL,
         "text content (configuration files, scripts)"},
        {"content_base64", PV_ARG_BASE64, PV_IN_RAW, false, 4, 1000000,
         NULL, NULL, "binary content, base64 (at most ~730 KiB decoded: a "
         "job is at most 1 MiB)"}),
   "stores a file (replacing one of that name) with its metadata headers; "
   "firmware images larger than a job must be uploaded to GenieACS directly",
   NULL, NULL},
  {"genieacs", "delete_file", "DELETE", "/files/{name}", PV_TMO_WRITE, true,
   PV_NORM_DELETE, NULL, NULL, ARGS(G_NAME("file")),
   "deletes a file (absent: 404)", NULL, NULL},

  /* NetBox REST (SOUTHBOUND 3): trailing slashes everywhere. */
  {"netbox", "health_check", "GET", "/api/status/", PV_TMO_HEALTH, true,
   PV_NORM_OBJECT, NULL, NULL, NO_ARGS, "NetBox status", NULL, NULL},
  {"netbox", "list_devices", "GET", "/api/dcim/devices/", PV_TMO_LIST, true,
   PV_NORM_LIST, NULL, NULL,
   ARGS(N_PAGING, N_FILTER_STR("name", 64, "device name"),
        N_FILTER_INT("site_id", "site id"),
        N_FILTER_INT("tenant_id", "tenant id"),
        N_FILTER_INT("role_id", "role id"),
        N_FILTER_STR("status", 32, "status value"),
        N_FILTER_STR("serial", 50, "serial number")),
   "devices (pages followed)", NULL, NULL},
  N_GET("device", "/api/dcim/devices/", "device"),
  N_CREATE("device", "/api/dcim/devices/", "a device", N_DEVICE_FIELDS(true)),
  N_UPDATE("device", "/api/dcim/devices/", "device", N_DEVICE_FIELDS(false)),
  N_DELETE("device", "/api/dcim/devices/", "device"),
  N_LIST("interfaces", "/api/dcim/interfaces/", "interfaces",
         N_FILTER_INT("device_id", "device id"),
         N_FILTER_STR("name", 64, "interface name")),
  N_CREATE("interface", "/api/dcim/interfaces/", "an interface on a device",
           N_REF("device", true, "device"),
           N_STR("name", true, 1, 64, "interface name (unique per device)"),
           N_STR("type", true, 1, 50, "e.g. 1000base-t, 10gbase-x-sfpp, "
                                      "gpon, virtual"),
           N_STR("label", false, 0, 64, "physical label"),
           N_BOOL("enabled", "administratively up (default true)"),
           N_INT("mtu", false, 1, 65536, "MTU"),
           N_BOOL("mgmt_only", "management interface"), N_TAGS_CF),

  /* IP addresses */
  {"netbox", "allocate_ip", "POST",
   "/api/ipam/prefixes/{prefix_id}/available-ips/", PV_TMO_WRITE, false,
   PV_NORM_OBJECT, NULL, NULL,
   ARGS(N_PARENT_ID("prefix_id", "prefix to allocate from"), N_DESC_KEYED,
        N_IP_FIELDS,
        N_INT("prefix_length", false, 0, 128,
              "mask of the address (>= the prefix's)")),
   "next free address of a prefix", NULL, "/api/ipam/ip-addresses/"},
  {"netbox", "get_available_ips", "GET",
   "/api/ipam/prefixes/{prefix_id}/available-ips/", PV_TMO_GET, true,
   PV_NORM_LIST, NULL, NULL,
   ARGS(N_PARENT_ID("prefix_id", "prefix"),
        {"limit", PV_ARG_INT, PV_IN_QUERY, false, 1, 1000, NULL, "50",
         "most addresses returned (NetBox's default: 50)"}),
   "free addresses of a prefix, ascending (network and broadcast "
   "skipped unless it is a pool); nothing is reserved", NULL, NULL},
  N_CREATE("ip_address", "/api/ipam/ip-addresses/", "an IP address as given",
           N_STR("address", true, 3, 64, "address with mask, e.g. "
                                         "10.0.0.5/24"),
           N_REF("vrf", false, "VRF"), N_IP_FIELDS),
  N_UPDATE("ip_address", "/api/ipam/ip-addresses/", "IP address",
           N_STR("address", false, 3, 64, "address with mask"),
           N_REF("vrf", false, "VRF"), N_IP_FIELDS),
  {"netbox", "assign_ip_to_interface", "PATCH",
   "/api/ipam/ip-addresses/{id}/", PV_TMO_WRITE, true, PV_NORM_OBJECT, NULL,
   NULL,
   ARGS(ARG_NB_ID("IP address"),
        {"interface_id", PV_ARG_INT, PV_IN_BODY, true, 1, INT32_MAX,
         "assigned_object_id", NULL, "device interface to assign it to"}),
   "assigns an IP address to a device interface", 
   "{\"assigned_object_type\":\"dcim.interface\"}", NULL},
  {"netbox", "release_ip", "DELETE", "/api/ipam/ip-addresses/{id}/",
   PV_TMO_WRITE, true, PV_NORM_DELETE, NULL, NULL,
   ARGS(ARG_NB_ID("IP address")),
   "deletes an IP address; an absent address (404) is success", NULL, NULL},
  N_GET("ip_address", "/api/ipam/ip-addresses/", "IP address"),
  {"netbox", "list_ip_addresses", "GET", "/api/ipam/ip-addresses/",
   PV_TMO_LIST, true, PV_NORM_LIST, NULL, NULL,
   ARGS(N_PAGING, N_FILTER_STR("address", 64, "e.g. 10.0.0.5/24"),
        N_FILTER_STR("parent", 64, "parent prefix, e.g. 10.0.0.0/24"),
        N_FILTER_INT("vrf_id", "VRF id"),
        N_FILTER_INT("device_id", "assigned device id"),
        N_FILTER_INT("interface_id", "assigned interface id"),
        N_FILTER_INT("tenant_id", "tenant id"),
        N_FILTER_STR("status", 32, "status value"),
        N_FILTER_STR("description", 200, "exact description")),
   "IP addresses (pages followed)", NULL, NULL},

  /* Prefixes */
  {"netbox", "list_prefixes", "GET", "/api/ipam/prefixes/", PV_TMO_LIST, true,
   PV_NORM_LIST, NULL, NULL,
   ARGS(N_PAGING, N_FILTER_STR("prefix", 64, "e.g. 10.0.0.0/24"),
        N_FILTER_INT("vrf_id", "VRF id"),
        N_FILTER_INT("tenant_id", "tenant id"),
        N_FILTER_STR("status", 32, "status value")),
   "prefixes (pages followed)", NULL, NULL},
  N_GET("prefix", "/api/ipam/prefixes/", "prefix"),
  N_CREATE("prefix", "/api/ipam/prefixes/", "a prefix", N_PREFIX_FIELDS(true)),
  N_DELETE("prefix", "/api/ipam/prefixes/", "prefix"),
  {"netbox", "list_available_prefixes", "GET",
   "/api/ipam/prefixes/{prefix_id}/available-prefixes/", PV_TMO_GET, true,
   PV_NORM_LIST, NULL, NULL, ARGS(N_PARENT_ID("prefix_id", "parent prefix")),
   "the free CIDR blocks of a prefix (its space minus its child prefixes)",
   NULL, NULL},

  /* VRFs */
  N_LIST("vrfs", "/api/ipam/vrfs/", "VRFs",
         N_FILTER_STR("name", 100, "VRF name"),
         N_FILTER_STR("rd", 21, "route distinguisher"),
         N_FILTER_INT("tenant_id", "tenant id")),
  N_GET("vrf", "/api/ipam/vrfs/", "VRF"),
  N_CREATE("vrf", "/api/ipam/vrfs/", "a VRF",
           N_STR("name", true, 1, 100, "VRF name"),
           N_STR("rd", false, 1, 21, "route distinguisher, e.g. 65000:1"),
           N_TENANT, N_BOOL("enforce_unique", "no duplicate addresses "
                                              "inside (default true)"),
           N_TAGS_CF),
  N_DELETE("vrf", "/api/ipam/vrfs/", "VRF"),

  /* VLANs */
  N_LIST("vlan_groups", "/api/ipam/vlan-groups/", "VLAN groups",
         N_FILTER_STR("name", 100, "group name"),
         N_FILTER_STR("slug", 100, "group slug"),
         N_FILTER_INT("tenant_id", "tenant id")),
  N_LIST("vlans", "/api/ipam/vlans/", "VLANs",
         {"vid", PV_ARG_INT, PV_IN_QUERY, false, 1, 4094, NULL, NULL,
          "VLAN id"},
         N_FILTER_STR("name", 64, "VLAN name"),
         N_FILTER_INT("group_id", "VLAN group id"),
         N_FILTER_INT("site_id", "site id"),
         N_FILTER_INT("tenant_id", "tenant id"),
         N_FILTER_STR("status", 32, "status value")),
  N_GET("vlan", "/api/ipam/vlans/", "VLAN"),
  N_CREATE("vlan", "/api/ipam/vlans/", "a VLAN with the given vid",
           N_VLAN_FIELDS(true)),
  N_UPDATE("vlan", "/api/ipam/vlans/", "VLAN", N_VLAN_FIELDS(false)),
  N_DELETE("vlan", "/api/ipam/vlans/", "VLAN"),
  {"netbox", "allocate_vlan", "POST",
   "/api/ipam/vlan-groups/{group_id}/available-vlans/", PV_TMO_WRITE, false,
   PV_NORM_OBJECT, NULL, NULL,
   ARGS(N_PARENT_ID("group_id", "VLAN group to allocate from"),
        N_STR("name", true, 1, 64, "VLAN name (unique in the group)"),
        N_REF("site", false, "site"), N_TENANT,
        N_STR("status", false, 1, 32, "active, reserved, deprecated"),
        N_TAGS_CF, N_DESC_KEYED),
   "a VLAN with the next free vid of a VLAN group (409: none left)", NULL,
   "/api/ipam/vlans/"},

  /* Sites and tenants */
  N_LIST("sites", "/api/dcim/sites/", "sites",
         N_FILTER_STR("name", 100, "site name"),
         N_FILTER_STR("slug", 100, "site slug"),
         N_FILTER_STR("status", 32, "status value"),
         N_FILTER_INT("tenant_id", "tenant id")),
  N_GET("site", "/api/dcim/sites/", "site"),
  N_CREATE("site", "/api/dcim/sites/", "a site", N_NAME_SLUG("site"),
           N_STR("status", false, 1, 32,
                 "planned, staging, active, decommissioning, retired"),
           N_TENANT, N_STR("facility", false, 0, 50, "facility"),
           N_STR("time_zone", false, 1, 64, "e.g. Europe/Paris"), N_TAGS_CF),
  N_DELETE("site", "/api/dcim/sites/", "site"),
  N_LIST("tenants", "/api/tenancy/tenants/", "tenants",
         N_FILTER_STR("name", 100, "tenant name"),
         N_FILTER_STR("slug", 100, "tenant slug")),
  N_GET("tenant", "/api/tenancy/tenants/", "tenant"),
  {"netbox", "find_tenant", "GET", "/api/tenancy/tenants/", PV_TMO_GET, true,
   PV_NORM_FIND, NULL, "name|slug",
   ARGS(N_FILTER_STR("name", 100, "exact tenant name"),
        N_FILTER_STR("slug", 100, "exact tenant slug")),
   "the tenant with this name or slug (none: 404)", NULL, NULL},
  N_CREATE("tenant", "/api/tenancy/tenants/", "a tenant",
           N_NAME_SLUG("tenant"), N_TAGS_CF),
  N_DELETE("tenant", "/api/tenancy/tenants/", "tenant"),

  /* Cables */
  N_LIST("cables", "/api/dcim/cables/", "cables",
         N_FILTER_STR("label", 100, "cable label"),
         N_FILTER_INT("device_id", "an end on this device"),
         N_FILTER_INT("tenant_id", "tenant id"),
         N_FILTER_STR("status", 32, "status value")),
  N_GET("cable", "/api/dcim/cables/", "cable"),
  N_CREATE("cable", "/api/dcim/cables/", "a cable between two ends",
           N_CABLE_FIELDS(true)),
  N_UPDATE("cable", "/api/dcim/cables/", "cable", N_CABLE_FIELDS(false)),
  N_DELETE("cable", "/api/dcim/cables/", "cable"),

  /* Circuits */
  N_LIST("providers", "/api/circuits/providers/", "circuit providers",
         N_FILTER_STR("name", 100, "provider name"),
         N_FILTER_STR("slug", 100, "provider slug")),
  N_GET("provider", "/api/circuits/providers/", "circuit provider"),
  N_CREATE("provider", "/api/circuits/providers/", "a circuit provider",
           N_NAME_SLUG("provider"), N_TAGS_CF),
  N_LIST("circuit_types", "/api/circuits/circuit-types/", "circuit types",
         N_FILTER_STR("name", 100, "type name"),
         N_FILTER_STR("slug", 100, "type slug")),
  N_CREATE("circuit_type", "/api/circuits/circuit-types/", "a circuit type",
           N_NAME_SLUG("circuit type"),
           N_STR("color", false, 0, 6, "RGB hex"), N_TAGS_CF),
  N_LIST("circuits", "/api/circuits/circuits/", "circuits",
         N_FILTER_STR("cid", 100, "circuit id"),
         N_FILTER_INT("provider_id", "provider id"),
         N_FILTER_INT("type_id", "circuit type id"),
         N_FILTER_INT("tenant_id", "tenant id"),
         N_FILTER_STR("status", 32, "status value")),
  N_GET("circuit", "/api/circuits/circuits/", "circuit"),
  N_CREATE("circuit", "/api/circuits/circuits/", "a circuit",
           N_CIRCUIT_FIELDS(true)),
  N_UPDATE("circuit", "/api/circuits/circuits/", "circuit",
           N_CIRCUIT_FIELDS(false)),
  N_DELETE("circuit", "/api/circuits/circuits/", "circuit"),
  N_LIST("circuit_terminations", "/api/circuits/circuit-terminations/",
         "circuit terminations",
         N_FILTER_INT("circuit_id", "circuit id"),
         N_FILTER_STR("term_side", 1, "A or Z"),
         N_FILTER_INT("site_id", "terminating site id")),
  N_GET("circuit_termination", "/api/circuits/circuit-terminations/",
        "circuit termination"),
  N_CREATE("circuit_termination", "/api/circuits/circuit-terminations/",
           "one end (A or Z) of a circuit",
           N_REF("circuit", true, "circuit"),
           N_STR("term_side", true, 1, 1, "A or Z"),
           {"termination_type", PV_ARG_STR, PV_IN_BODY, false, 1, 64, NULL,
            "\"dcim.site\"", "what it terminates on"},
           N_INT("termination_id", true, 1, INT32_MAX,
                 "id of that object (a site)"),
           N_INT("port_speed", false, 0, INT32_MAX, "Kbps"),
           N_INT("upstream_speed", false, 0, INT32_MAX, "Kbps"),
           N_STR("xconnect_id", false, 0, 50, "cross-connect id"),
           N_STR("pp_info", false, 0, 100, "patch panel / ports"),
           N_BOOL("mark_connected", "connected without a cable"), N_TAGS_CF),

  /* Any service: the steps name their own services. */
  {"*", PV_OP_ORDER, "-", "-", PV_TMO_LONG, false, PV_NORM_CUSTOM, NULL, NULL,
   ARGS({"steps", PV_ARG_STEPS, PV_IN_CLIENT, true, 1, PV_ORDER_MAX_STEPS,
         NULL, NULL, "[{\"service\",\"op\",\"args\"}] run in sequence"}),
   "runs steps in order; a failed step stops the order: "
   "{steps:[{service,op,status,result|error}],completed,count}", NULL, NULL},
};

#define N_OPS (sizeof(ops) / sizeof(ops[0]))

static const char *const services[] = {"voltha", "genieacs", "netbox"};

/* ---- lookups ------------------------------------------------------------ */

bool pv_catalog_has_service(const char *service)
{
  for (size_t i = 0; i < sizeof(services) / sizeof(services[0]); i++)
    if (strcmp(services[i], service) == 0)
      return true;
  return false;
}

const pv_op_t *pv_catalog_find(const char *service, const char *name)
{
  if (!service || !name || !pv_catalog_has_service(service))
    return NULL;
  for (size_t i = 0; i < N_OPS; i++) {
    if (strcmp(ops[i].name, name) != 0)
      continue;
    if (strcmp(ops[i].service, service) == 0 || strcmp(ops[i].service, "*") == 0)
      return &ops[i];
  }
  return NULL;
}

const pv_op_t *pv_catalog_at(size_t i)
{
  return i < N_OPS ? &ops[i] : NULL;
}

size_t pv_catalog_count(void)
{
  return N_OPS;
}

const pv_arg_t *pv_op_arg(const pv_op_t *op, const char *name)
{
  for (const pv_arg_t *a = op->args; a->name; a++)
    if (strcmp(a->name, name) == 0)
      return a;
  return NULL;
}

long pv_timeout_class_ms(pv_timeout_class_t tmo)
{
  static const long ms[PV_TMO__COUNT] = {5000, 10000, 15000, 30000, 60000,
                                         150000};
  return (unsigned)tmo < PV_TMO__COUNT ? ms[tmo] : 30000;
}

const char *pv_timeout_class_name(pv_timeout_class_t tmo)
{
  static const char *const names[PV_TMO__COUNT] = {
    "health", "get", "list", "write", "long", "task_cr"};
  return (unsigned)tmo < PV_TMO__COUNT ? names[tmo] : "?";
}

const char *pv_norm_name(pv_norm_t norm)
{
  switch (norm) {
  case PV_NORM_OBJECT: return "object";
  case PV_NORM_LIST: return "list";
  case PV_NORM_ACTION: return "action";
  case PV_NORM_DELETE: return "delete";
  case PV_NORM_TASK: return "task";
  case PV_NORM_FIND: return "find";
  case PV_NORM_CUSTOM: return "custom";
  }
  return "?";
}

const char *pv_arg_type_name(pv_arg_type_t type)
{
  switch (type) {
  case PV_ARG_STR: return "string";
  case PV_ARG_INT: return "integer";
  case PV_ARG_BOOL: return "boolean";
  case PV_ARG_OBJECT: return "object";
  case PV_ARG_STR_LIST: return "string list";
  case PV_ARG_ARRAY: return "array";
  case PV_ARG_REF: return "id or object";
  case PV_ARG_PARAM_VALUES: return "parameter values";
  case PV_ARG_STEPS: return "steps";
  case PV_ARG_U64: return "unsigned 64-bit";
  case PV_ARG_BASE64: return "base64";
  }
  return "?";
}

/* ---- validation --------------------------------------------------------- */

/* A string argument: no embedded NUL (C code downstream would cut it) and
 * a length in [min, max]. */
static int check_string(const char *pfx, const char *what, const json_t *v,
                        int64_t min, int64_t max, pv_error_t *err)
{
  if (!json_is_string(v)) {
    pv_error_set(err, PV_ERR_BAD_ARGS, 0, "%s%s: expected string, got %s",
                 pfx, what, pv_doc_kind(v));
    return -1;
  }
  size_t len = json_string_length(v);
  if (strlen(json_string_value(v)) != len) {
    pv_error_set(err, PV_ERR_BAD_ARGS, 0, "%s%s: contains a NUL byte", pfx,
                 what);
    return -1;
  }
  if ((int64_t)len > max) {
    pv_error_set(err, PV_ERR_BAD_ARGS, 0,
                 "%s%s: too long (%zu bytes, at most %" PRId64 ")", pfx, what,
                 len, max);
    return -1;
  }
  if ((int64_t)len < min) {
    pv_error_set(err, PV_ERR_BAD_ARGS, 0,
                 "%s%s: too short (%zu bytes, at least %" PRId64 ")", pfx,
                 what, len, min);
    return -1;
  }
  return 0;
}

static int check_array_len(const char *pfx, const char *what, const json_t *v,
                           int64_t min, int64_t max, pv_error_t *err)
{
  if (!json_is_array(v)) {
    pv_error_set(err, PV_ERR_BAD_ARGS, 0, "%s%s: expected array, got %s", pfx,
                 what, pv_doc_kind(v));
    return -1;
  }
  size_t n = json_array_size(v);
  if ((int64_t)n < min || (int64_t)n > max) {
    pv_error_set(err, PV_ERR_BAD_ARGS, 0,
                 "%s%s: %zu items, expected %" PRId64 " to %" PRId64, pfx,
                 what, n, min, max);
    return -1;
  }
  return 0;
}

/* GenieACS parameterValues: [path, value, type?] with value a string,
 * number or bool (sanitizeTask in lib/db/types.ts). */
static int check_param_value(const char *pfx, const char *whole, size_t i,
                             const json_t *item, pv_error_t *err)
{
  char what[600];
  snprintf(what, sizeof(what), "%s: item %zu", whole, i);
  if (!json_is_array(item) || json_array_size(item) < 2 ||
      json_array_size(item) > 3) {
    pv_error_set(err, PV_ERR_BAD_ARGS, 0,
                 "%s%s: expected [path, value] or [path, value, type]", pfx,
                 what);
    return -1;
  }
  char sub[640];
  snprintf(sub, sizeof(sub), "%s path", what);
  if (check_string(pfx, sub, json_array_get(item, 0), 1, 1024, err) < 0)
    return -1;
  const json_t *val = json_array_get(item, 1);
  if (json_is_string(val)) {
    snprintf(sub, sizeof(sub), "%s value", what);
    if (check_string(pfx, sub, val, 0, 4096, err) < 0)
      return -1;
  } else if (!json_is_number(val) && !json_is_boolean(val)) {
    pv_error_set(err, PV_ERR_BAD_ARGS, 0,
                 "%s%s value: expected string, number or boolean, got %s", pfx,
                 what, pv_doc_kind(val));
    return -1;
  }
  if (json_array_size(item) == 3) {
    snprintf(sub, sizeof(sub), "%s type", what);
    if (check_string(pfx, sub, json_array_get(item, 2), 1, 64, err) < 0)
      return -1;
  }
  return 0;
}

/* OpenFlow cookies are uint64: a JSON integer covers only half the range,
 * so a decimal string is accepted too (protobuf's JSON takes both). */
static int check_u64(const char *pfx, const char *what, const json_t *v,
                     pv_error_t *err)
{
  if (json_is_integer(v)) {
    if (json_integer_value(v) < 0) {
      pv_error_set(err, PV_ERR_BAD_ARGS, 0,
                   "%s%s: %" JSON_INTEGER_FORMAT " is negative", pfx, what,
                   json_integer_value(v));
      return -1;
    }
    return 0;
  }
  if (!json_is_string(v)) {
    pv_error_set(err, PV_ERR_BAD_ARGS, 0,
                 "%s%s: expected integer or decimal string, got %s", pfx,
                 what, pv_doc_kind(v));
    return -1;
  }
  const char *s = json_string_value(v);
  size_t len = json_string_length(v);
  bool digits = len > 0 && len <= 20;
  for (size_t i = 0; i < len && digits; i++)
    digits = s[i] >= '0' && s[i] <= '9';
  errno = 0;
  if (digits)
    (void)strtoull(s, NULL, 10);
  if (!digits || errno == ERANGE) {
    pv_error_set(err, PV_ERR_BAD_ARGS, 0,
                 "%s%s: \"%.24s\" is not a decimal number in [0, "
                 "18446744073709551615]", pfx, what, s);
    return -1;
  }
  return 0;
}

/* A header value must stay one header: no CR, LF or other control byte. */
static int check_header(const char *pfx, const char *what, const json_t *v,
                        pv_error_t *err)
{
  const char *s = json_string_value(v);
  for (size_t i = 0; s && i < json_string_length(v); i++) {
    unsigned char c = (unsigned char)s[i];
    if (c < 0x20 || c == 0x7f) {
      pv_error_set(err, PV_ERR_BAD_ARGS, 0,
                   "%s%s: control characters are not allowed (sent as a "
                   "header)", pfx, what);
      return -1;
    }
  }
  return 0;
}

static int check_steps(const json_t *steps, pv_error_t *err);
static int check_typed(const char *pfx, const char *what, const pv_arg_t *a,
                       const json_t *v, pv_error_t *err);

static int check_value(const char *pfx, const pv_arg_t *a, const json_t *v,
                       pv_error_t *err)
{
  char what[96];
  snprintf(what, sizeof(what), "argument \"%s\"", a->name);
  return check_typed(pfx, what, a, v, err);
}

/* One value against one argument spec; what names it in messages. Shared
 * by job args (check_value) and order-type checks (pv_arg_check). */
static int check_typed(const char *pfx, const char *what, const pv_arg_t *a,
                       const json_t *v, pv_error_t *err)
{
  switch (a->type) {
  case PV_ARG_STR:
    return check_string(pfx, what, v, a->min, a->max, err);
  case PV_ARG_INT: {
    if (!json_is_integer(v)) {
      pv_error_set(err, PV_ERR_BAD_ARGS, 0, "%s%s: expected integer, got %s",
                   pfx, what, pv_doc_kind(v));
      return -1;
    }
    json_int_t n = json_integer_value(v);
    if (n < a->min || n > a->max) {
      pv_error_set(err, PV_ERR_BAD_ARGS, 0,
                   "%s%s: %" JSON_INTEGER_FORMAT " out of range [%" PRId64
                   ", %" PRId64 "]",
                   pfx, what, n, a->min, a->max);
      return -1;
    }
    return 0;
  }
  case PV_ARG_BOOL:
    if (!json_is_boolean(v)) {
      pv_error_set(err, PV_ERR_BAD_ARGS, 0, "%s%s: expected boolean, got %s",
                   pfx, what, pv_doc_kind(v));
      return -1;
    }
    return 0;
  case PV_ARG_OBJECT:
    if (!json_is_object(v)) {
      pv_error_set(err, PV_ERR_BAD_ARGS, 0, "%s%s: expected object, got %s",
                   pfx, what, pv_doc_kind(v));
      return -1;
    }
    return 0;
  case PV_ARG_REF:
    if (json_is_integer(v)) {
      if (json_integer_value(v) < 1 || json_integer_value(v) > INT32_MAX) {
        pv_error_set(err, PV_ERR_BAD_ARGS, 0,
                     "%s%s: id %" JSON_INTEGER_FORMAT " out of range", pfx,
                     what, json_integer_value(v));
        return -1;
      }
      return 0;
    }
    if (json_is_object(v) && json_object_size(v) > 0)
      return 0;
    pv_error_set(err, PV_ERR_BAD_ARGS, 0,
                 "%s%s: expected an id (integer) or a non-empty object, got %s",
                 pfx, what, pv_doc_kind(v));
    return -1;
  case PV_ARG_STR_LIST: {
    if (check_array_len(pfx, what, v, a->min, a->max, err) < 0)
      return -1;
    size_t i;
    const json_t *item;
    json_array_foreach(v, i, item) {
      char sub[600];
      snprintf(sub, sizeof(sub), "%s: item %zu", what, i);
      if (check_string(pfx, sub, item, 1, 1024, err) < 0)
        return -1;
    }
    return 0;
  }
  case PV_ARG_ARRAY:
    return check_array_len(pfx, what, v, a->min, a->max, err);
  case PV_ARG_PARAM_VALUES: {
    if (check_array_len(pfx, what, v, a->min, a->max, err) < 0)
      return -1;
    size_t i;
    const json_t *item;
    json_array_foreach(v, i, item) {
      if (check_param_value(pfx, what, i, item, err) < 0)
        return -1;
    }
    return 0;
  }
  case PV_ARG_STEPS:
    if (check_array_len(pfx, what, v, a->min, a->max, err) < 0)
      return -1;
    return check_steps(v, err);
  case PV_ARG_U64:
    return check_u64(pfx, what, v, err);
  case PV_ARG_BASE64:
    if (check_string(pfx, what, v, a->min, a->max, err) < 0)
      return -1;
    if (pv_base64_decode(json_string_value(v), json_string_length(v),
                         NULL) < 0) {
      pv_error_set(err, PV_ERR_BAD_ARGS, 0,
                   "%s%s: not base64 (RFC 4648, with padding, no line "
                   "breaks)", pfx, what);
      return -1;
    }
    return 0;
  }
  pv_error_set(err, PV_ERR_INTERNAL, 0, "%s%s: unknown type", pfx, what);
  return -1;
}

static int check_args_pfx(const char *pfx, const pv_op_t *op,
                          const json_t *args, pv_error_t *err)
{
  if (!json_is_object(args)) {
    pv_error_set(err, PV_ERR_BAD_ARGS, 0, "%sargs: expected object, got %s",
                 pfx, pv_doc_kind(args));
    return -1;
  }

  /* Unknown first: a typo ("devce_id") is a better message than the
   * "missing" that would follow from it. */
  const char *key;
  const json_t *v;
  json_object_foreach((json_t *)(uintptr_t)args, key, v) {
    if (!pv_op_arg(op, key)) {
      pv_error_set(err, PV_ERR_BAD_ARGS, 0,
                   "%sunknown argument \"%.64s\" for %s.%s", pfx, key,
                   op->service, op->name);
      return -1;
    }
  }

  int body_args = 0;
  bool has_body_schema = false;
  for (const pv_arg_t *a = op->args; a->name; a++) {
    v = json_object_get(args, a->name);
    if (a->in == PV_IN_BODY)
      has_body_schema = true;
    if (!v || json_is_null(v)) {
      if (a->required) {
        pv_error_set(err, PV_ERR_BAD_ARGS, 0, "%sargument \"%s\": missing",
                     pfx, a->name);
        return -1;
      }
      if (v) {
        pv_error_set(err, PV_ERR_BAD_ARGS, 0,
                     "%sargument \"%s\": null is not a value (leave it out)",
                     pfx, a->name);
        return -1;
      }
      continue;
    }
    if (check_value(pfx, a, v, err) < 0)
      return -1;
    if (a->in == PV_IN_HEADER) {
      char what[96];
      snprintf(what, sizeof(what), "argument \"%s\"", a->name);
      if (check_header(pfx, what, v, err) < 0)
        return -1;
    }
    if (a->in == PV_IN_BODY)
      body_args++;
  }

  if (op->one_of) {
    char given[128] = "";
    int n = 0;
    for (const char *tok = op->one_of; *tok;) {
      size_t len = strcspn(tok, "|");
      char name[64];
      snprintf(name, sizeof(name), "%.*s", (int)len, tok);
      if (json_object_get(args, name)) {
        size_t used = strlen(given);
        snprintf(given + used, sizeof(given) - used, "%s%s", n ? ", " : "",
                 name);
        n++;
      }
      tok += len;
      if (*tok == '|')
        tok++;
    }
    if (n != 1) {
      pv_error_set(err, PV_ERR_BAD_ARGS, 0,
                   "%sexactly one of the arguments %s is required (got %s)",
                   pfx, op->one_of, n ? given : "none");
      return -1;
    }
  }

  /* A PATCH with nothing to change would be a silent no-op. */
  if (strcmp(op->method, "PATCH") == 0 && has_body_schema && body_args == 0) {
    pv_error_set(err, PV_ERR_BAD_ARGS, 0,
                 "%sno field to change: give at least one argument besides "
                 "\"id\"",
                 pfx);
    return -1;
  }
  return 0;
}

static int check_steps(const json_t *steps, pv_error_t *err)
{
  size_t i;
  const json_t *step;
  json_array_foreach(steps, i, step) {
    char pfx[192];
    snprintf(pfx, sizeof(pfx), "step %zu: ", i + 1);
    if (!json_is_object(step)) {
      pv_error_set(err, PV_ERR_BAD_ARGS, 0,
                   "%sexpected object {service, op, args}, got %s", pfx,
                   pv_doc_kind(step));
      return -1;
    }
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)(uintptr_t)step, key, v) {
      if (strcmp(key, "service") != 0 && strcmp(key, "op") != 0 &&
          strcmp(key, "args") != 0) {
        pv_error_set(err, PV_ERR_BAD_ARGS, 0, "%sunknown field \"%.64s\"",
                     pfx, key);
        return -1;
      }
    }
    const json_t *svc = json_object_get(step, "service");
    const json_t *opn = json_object_get(step, "op");
    if (check_string(pfx, "field \"service\"", svc ? svc : json_null(), 1,
                     64, err) < 0 ||
        check_string(pfx, "field \"op\"", opn ? opn : json_null(), 1, 64,
                     err) < 0)
      return -1;
    const char *s = json_string_value(svc), *o = json_string_value(opn);
    if (strcmp(o, PV_OP_ORDER) == 0) {
      pv_error_set(err, PV_ERR_BAD_ARGS, 0, "%san order cannot contain an order",
                   pfx);
      return -1;
    }
    const pv_op_t *sop = pv_catalog_find(s, o);
    if (!sop) {
      pv_error_set(err, PV_ERR_UNKNOWN_OP, 0,
                   "%sunknown op \"%.64s\" for service \"%.64s\"", pfx, o, s);
      return -1;
    }
    snprintf(pfx, sizeof(pfx), "step %zu (%s.%s): ", i + 1, sop->service,
             sop->name);
    const json_t *sargs = json_object_get(step, "args");
    json_t *empty = NULL;
    if (!sargs)
      sargs = empty = json_object();
    int rc = check_args_pfx(pfx, sop, sargs, err);
    json_decref(empty);
    if (rc < 0)
      return -1;
  }
  return 0;
}

int pv_catalog_check_args(const pv_op_t *op, const json_t *args,
                          pv_error_t *err)
{
  return check_args_pfx("", op, args, err);
}

int pv_arg_check(const pv_arg_t *a, const json_t *v, const char *what,
                 pv_error_t *err)
{
  return check_typed("", what, a, v, err);
}

bool pv_op_writes(const pv_op_t *op)
{
  if (!op->idempotent)
    return true;
  /* GenieACS tasks are POSTs; these two only read the device. */
  if (op->task && (strcmp(op->task, "getParameterValues") == 0 ||
                   strcmp(op->task, "refreshObject") == 0))
    return false;
  if (strcmp(op->method, "GET") != 0)
    return true;
  /* A GET with a timeout class other than a read's is the first request
   * of a client that goes on to change something (provision_onu finds the
   * ONU, then enables it). */
  return op->tmo != PV_TMO_HEALTH && op->tmo != PV_TMO_GET &&
         op->tmo != PV_TMO_LIST;
}

/* ---- listings ----------------------------------------------------------- */

static void arg_limits(const pv_arg_t *a, char *buf, size_t size)
{
  buf[0] = '\0';
  switch (a->type) {
  case PV_ARG_STR:
  case PV_ARG_BASE64:
    if (a->min == a->max)
      snprintf(buf, size, "%" PRId64 " bytes", a->max);
    else
      snprintf(buf, size, "%" PRId64 "..%" PRId64 " bytes", a->min, a->max);
    break;
  case PV_ARG_INT:
    snprintf(buf, size, "%" PRId64 "..%" PRId64, a->min, a->max);
    break;
  case PV_ARG_STR_LIST:
  case PV_ARG_ARRAY:
  case PV_ARG_PARAM_VALUES:
  case PV_ARG_STEPS:
    snprintf(buf, size, "%" PRId64 "..%" PRId64 " items", a->min, a->max);
    break;
  default:
    break;
  }
}

static int dump_text(FILE *out, const char *service)
{
  fprintf(out, "%-9s %-26s %-6s %-52s %-8s %-4s %s\n", "SERVICE", "OP",
          "METHOD", "PATH", "TIMEOUT", "IDEM", "ARGS (* = required)");
  for (size_t i = 0; i < N_OPS; i++) {
    const pv_op_t *op = &ops[i];
    if (service && strcmp(op->service, service) != 0 &&
        strcmp(op->service, "*") != 0)
      continue;
    char args[512] = "";
    size_t used = 0;
    for (const pv_arg_t *a = op->args; a->name && used < sizeof(args); a++) {
      int n = snprintf(args + used, sizeof(args) - used, "%s%s%s",
                       used ? " " : "", a->name, a->required ? "*" : "");
      if (n < 0)
        break;
      used += (size_t)n;
    }
    fprintf(out, "%-9s %-26s %-6s %-52s %-8s %-4s %s\n", op->service, op->name,
            op->method, op->path, pv_timeout_class_name(op->tmo),
            op->idempotent ? "yes" : "no", args[0] ? args : "-");
  }
  return ferror(out) ? -1 : 0;
}

static void md_service(FILE *out, const char *service)
{
  fprintf(out, "## %s\n\n", strcmp(service, "*") == 0 ? "any service"
                                                       : service);
  fprintf(out, "| op | request | timeout | idempotent | result | "
               "description |\n");
  fprintf(out, "| --- | --- | --- | --- | --- | --- |\n");
  for (size_t i = 0; i < N_OPS; i++) {
    const pv_op_t *op = &ops[i];
    if (strcmp(op->service, service) != 0)
      continue;
    fprintf(out, "| `%s` | `%s %s` | %s (%ld s) | %s | %s | %s |\n", op->name,
            op->method, op->path, pv_timeout_class_name(op->tmo),
            pv_timeout_class_ms(op->tmo) / 1000,
            op->idempotent ? "yes" : op->lookup ? "no (keyed)" : "no",
            pv_norm_name(op->norm), op->desc);
  }
  fprintf(out, "\n");
  for (size_t i = 0; i < N_OPS; i++) {
    const pv_op_t *op = &ops[i];
    if (strcmp(op->service, service) != 0)
      continue;
    fprintf(out, "### %s.%s\n\n", service, op->name);
    if (!op->args[0].name) {
      fprintf(out, "No arguments.\n\n");
      continue;
    }
    fprintf(out, "| argument | type | required | limits | default | "
                 "sent as | description |\n");
    fprintf(out, "| --- | --- | --- | --- | --- | --- | --- |\n");
    for (const pv_arg_t *a = op->args; a->name; a++) {
      static const char *const where[] = {"path", "query", "body", "client",
                                          "header", "raw body"};
      char lim[64];
      arg_limits(a, lim, sizeof(lim));
      fprintf(out, "| `%s` | %s | %s | %s | %s | %s%s%s%s%s | %s |\n",
              a->name, pv_arg_type_name(a->type), a->required ? "yes" : "no",
              lim[0] ? lim : "-", a->dflt ? a->dflt : "-", where[a->in],
              a->wire && a->in == PV_IN_PATH ? " and body" : "",
              a->wire ? " `" : "", a->wire ? a->wire : "",
              a->wire ? "`" : "", a->desc);
    }
    if (op->one_of)
      fprintf(out, "\nExactly one of `%s` is required.\n", op->one_of);
    if (op->body)
      fprintf(out, "\nAlways sent in the body: `%s`.\n", op->body);
    if (op->lookup)
      fprintf(out, "\nNot idempotent, so keyed by the job: the client "
                   "records `[pv-job <job id>]` in `description` (the "
                   "`description` argument, at most 60 bytes, comes first) "
                   "and looks `GET %s?description=...` up before creating "
                   "and after a lost answer: a job creates at most one "
                   "object, and a replay returns it with `\"reconciled\": "
                   "true`.\n", op->lookup);
    fprintf(out, "\n");
  }
}

static int dump_markdown(FILE *out, const char *service)
{
  if (!service) {
    fprintf(out,
            "# Operation catalog\n\n"
            "Generated from `jobs/catalog.c` by `build/pv-catalog-doc "
            "docs/operations.md`; do not edit by hand (the `jobs` test "
            "fails when this page and the table differ).\n\n"
            "Timeout classes are per attempt: health 5 s, get 10 s, list "
            "15 s, write 30 s, long 60 s, task_cr 150 s (a GenieACS task "
            "with `connection_request` true; false makes it write, 30 s).\n"
            "An op that is not idempotent is never re-sent after the request "
            "may have reached the server. \"keyed\" ops (the NetBox creates "
            "and allocations) record the job in the object's `description` "
            "and look it up before creating and after a lost answer, so a "
            "retried or replayed job returns its one object with "
            "`\"reconciled\": true` instead of creating another.\n\n"
            "Result shapes (the reply's `result`):\n\n"
            "- object: the southbound JSON object as returned;\n"
            "- list: `{\"items\":[...],\"count\":n}` plus `total` when the "
            "service reports one and `truncated` when rows were left out;\n"
            "- action: the answer if it is a non-empty object, else `{}`;\n"
            "- delete: `{\"deleted\":true}`, with `\"already_absent\":true` "
            "when the object was already gone;\n"
            "- task: `{\"executed\":b,\"queued\":b,\"reason\":s,"
            "\"task\":{...}}` (GenieACS 200 = executed, 202 = queued with "
            "the reason phrase);\n"
            "- find: the single object a query found (none: `http_4xx`, "
            "404);\n"
            "- custom: described with the op.\n\n"
            "Arguments not listed for an op are refused (`bad_args`): they "
            "are nearly always typos.\n\n"
            "Which op replaces each method of the original Python clients, "
            "and what to use where the original called a route the real "
            "API does not have (VOLTHA alarms, events, technology profiles, "
            "configuration backup, PON statistics): "
            "[clients.md](clients.md).\n\n");
  }
  for (size_t s = 0; s < sizeof(services) / sizeof(services[0]); s++)
    if (!service || strcmp(service, services[s]) == 0)
      md_service(out, services[s]);
  md_service(out, "*");
  return ferror(out) ? -1 : 0;
}

int pv_catalog_dump(FILE *out, const char *service, bool markdown)
{
  if (service && !pv_catalog_has_service(service))
    return -1;
  return markdown ? dump_markdown(out, service) : dump_text(out, service);
}
