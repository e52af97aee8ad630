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

#include "jobs/job.h"

#include <inttypes.h>
#include <stdio.h>
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

#define N_DEVICE_FIELDS(req)                                                  \
  {"name", PV_ARG_STR, PV_IN_BODY, false, 1, 64, NULL, NULL, "device name"},  \
  {"device_type", PV_ARG_REF, PV_IN_BODY, req, 0, 0, NULL, NULL,              \
   "device type id or {\"slug\":...}"},                                       \
  {"role", PV_ARG_REF, PV_IN_BODY, req, 0, 0, NULL, NULL,                     \
   "device role id or {\"slug\":...}"},                                       \
  {"site", PV_ARG_REF, PV_IN_BODY, req, 0, 0, NULL, NULL,                     \
   "site id or {\"slug\":...}"},                                              \
  {"status", PV_ARG_STR, PV_IN_BODY, false, 1, 32, NULL, NULL,                \
   "offline, active, planned, staged, failed, inventory, decommissioning"},   \
  {"serial", PV_ARG_STR, PV_IN_BODY, false, 0, 50, NULL, NULL,                \
   "serial number"},                                                          \
  {"tenant", PV_ARG_REF, PV_IN_BODY, false, 0, 0, NULL, NULL,                 \
   "NetBox tenant id or {\"slug\":...}"},                                     \
  {"platform", PV_ARG_REF, PV_IN_BODY, false, 0, 0, NULL, NULL,               \
   "platform id or {\"slug\":...}"},                                          \
  {"description", PV_ARG_STR, PV_IN_BODY, false, 0, 200, NULL, NULL,          \
   "free text"},                                                              \
  {"custom_fields", PV_ARG_OBJECT, PV_IN_BODY, false, 0, 0, NULL, NULL,       \
   "custom field values"},                                                    \
  {"tags", PV_ARG_ARRAY, PV_IN_BODY, false, 0, 100, NULL, NULL,               \
   "tag ids or {\"name\":...} objects"}

#define ARGS(...) ((const pv_arg_t[]){__VA_ARGS__, END})
#define NO_ARGS ((const pv_arg_t[]){END})

/* ---- the table ---------------------------------------------------------- */

static const pv_op_t ops[] = {
  /* VOLTHA: REST through chameleon/envoy on :8881 (SOUTHBOUND 1.2). */
  {"voltha", "health_check", "GET", "/health", PV_TMO_HEALTH, true,
   PV_NORM_OBJECT, NULL, NULL, NO_ARGS,
   "VOLTHA health ({\"state\":\"HEALTHY\"})"},
  {"voltha", "list_devices", "GET", "/api/v1/devices", PV_TMO_LIST, true,
   PV_NORM_LIST, NULL, NULL,
   ARGS(V_PAGING,
        {"parent_id", PV_ARG_STR, PV_IN_CLIENT, false, 1, 256, NULL, NULL,
         "only children of this device (client-side filter)"},
        {"serial_number", PV_ARG_STR, PV_IN_CLIENT, false, 1, 64, NULL, NULL,
         "only devices with this serial (client-side filter)"}),
   "devices (OLTs and ONUs)"},
  {"voltha", "get_device", "GET", "/api/v1/devices/{device_id}", PV_TMO_GET,
   true, PV_NORM_OBJECT, NULL, NULL, ARGS(ARG_DEVICE_ID(PV_IN_PATH)),
   "one device"},
  {"voltha", "list_logical_devices", "GET", "/api/v1/logical_devices",
   PV_TMO_LIST, true, PV_NORM_LIST, NULL, NULL, ARGS(V_PAGING),
   "logical (OpenFlow) devices"},
  {"voltha", "get_device_ports", "GET", "/api/v1/devices/{device_id}/ports",
   PV_TMO_GET, true, PV_NORM_LIST, NULL, NULL,
   ARGS(ARG_DEVICE_ID(PV_IN_PATH)), "a device's ports"},
  {"voltha", "get_device_flows", "GET", "/api/v1/devices/{device_id}/flows",
   PV_TMO_GET, true, PV_NORM_LIST, NULL, NULL,
   ARGS(ARG_DEVICE_ID(PV_IN_PATH)), "a device's flows"},
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
   "pre-provisions an OLT (admin_state PREPROVISIONED)"},
  {"voltha", "enable_device", "POST", "/api/v1/devices/{device_id}/enable",
   PV_TMO_WRITE, true, PV_NORM_CUSTOM, NULL, NULL,
   ARGS(ARG_DEVICE_ID(PV_IN_PATH)),
   "enables a device; an already enabled device is success: "
   "{\"changed\":b}"},
  {"voltha", "disable_device", "POST", "/api/v1/devices/{device_id}/disable",
   PV_TMO_WRITE, true, PV_NORM_ACTION, NULL, NULL,
   ARGS(ARG_DEVICE_ID(PV_IN_PATH)), "disables a device"},
  {"voltha", "reboot_device", "POST", "/api/v1/devices/{device_id}/reboot",
   PV_TMO_LONG, false, PV_NORM_ACTION, NULL, NULL,
   ARGS(ARG_DEVICE_ID(PV_IN_PATH)), "reboots a device"},
  {"voltha", "delete_device", "DELETE", "/api/v1/devices/{device_id}/delete",
   PV_TMO_WRITE, true, PV_NORM_DELETE, NULL, NULL,
   ARGS(ARG_DEVICE_ID(PV_IN_PATH)), "deletes a device"},
  {"voltha", "provision_onu", "GET", "/api/v1/devices", PV_TMO_LONG, true,
   PV_NORM_CUSTOM, NULL, NULL,
   ARGS({"olt_id", PV_ARG_STR, PV_IN_CLIENT, true, 1, 256, NULL, NULL,
         "the parent OLT's device id"},
        {"serial_number", PV_ARG_STR, PV_IN_CLIENT, true, 1, 64, NULL, NULL,
         "the ONU's serial number"}),
   "finds the OLT's child ONU by serial number and enables it (enabled "
   "already = success): {device_id,olt_id,serial_number,changed,device}"},

  /* GenieACS NBI on :7557 (SOUTHBOUND 2). */
  {"genieacs", "health_check", "GET", "/devices/", PV_TMO_HEALTH, true,
   PV_NORM_CUSTOM, NULL, NULL, NO_ARGS,
   "NBI reachable: {\"healthy\":true,\"devices\":total}"},
  {"genieacs", "list_devices", "GET", "/devices/", PV_TMO_LIST, true,
   PV_NORM_LIST, NULL, NULL, ARGS(G_QUERY_ARGS),
   "devices matching a query; total from the `total` header"},
  {"genieacs", "get_device", "GET", "/devices/", PV_TMO_GET, true,
   PV_NORM_FIND, NULL, NULL,
   ARGS(ARG_DEVICE_ID(PV_IN_CLIENT),
        {"projection", PV_ARG_STR, PV_IN_CLIENT, false, 1, 4096, NULL, NULL,
         "comma-separated paths to return"}),
   "one device, by ?query={\"_id\":...} (the NBI has no GET by id)"},
  {"genieacs", "get_parameter_values", "POST", "/devices/{device_id}/tasks",
   PV_TMO_TASK_CR, true, PV_NORM_TASK, "getParameterValues", NULL,
   ARGS(G_TASK_ARGS,
        {"parameter_names", PV_ARG_STR_LIST, PV_IN_BODY, true, 1, 256,
         "parameterNames", NULL, "parameter paths to read"}),
   "task getParameterValues"},
  {"genieacs", "set_parameter_values", "POST", "/devices/{device_id}/tasks",
   PV_TMO_TASK_CR, true, PV_NORM_TASK, "setParameterValues", NULL,
   ARGS(G_TASK_ARGS,
        {"parameter_values", PV_ARG_PARAM_VALUES, PV_IN_BODY, true, 1, 256,
         "parameterValues", NULL, "[[path, value, \"xsd:type\"?], ...]"}),
   "task setParameterValues"},
  {"genieacs", "refresh_object", "POST", "/devices/{device_id}/tasks",
   PV_TMO_TASK_CR, true, PV_NORM_TASK, "refreshObject", NULL,
   ARGS(G_TASK_ARGS,
        {"object_name", PV_ARG_STR, PV_IN_BODY, true, 0, 1024, "objectName",
         NULL, "object path; \"\" means everything"}),
   "task refreshObject"},
  {"genieacs", "add_object", "POST", "/devices/{device_id}/tasks",
   PV_TMO_TASK_CR, false, PV_NORM_TASK, "addObject", NULL,
   ARGS(G_TASK_ARGS,
        {"object_name", PV_ARG_STR, PV_IN_BODY, true, 1, 1024, "objectName",
         NULL, "object path to add an instance to"},
        {"parameter_values", PV_ARG_PARAM_VALUES, PV_IN_BODY, false, 1, 256,
         "parameterValues", NULL, "values for the new instance"}),
   "task addObject"},
  {"genieacs", "delete_object", "POST", "/devices/{device_id}/tasks",
   PV_TMO_TASK_CR, false, PV_NORM_TASK, "deleteObject", NULL,
   ARGS(G_TASK_ARGS,
        {"object_name", PV_ARG_STR, PV_IN_BODY, true, 1, 1024, "objectName",
         NULL, "object instance path, e.g. ...WANIPConnection.2"}),
   "task deleteObject"},
  {"genieacs", "reboot", "POST", "/devices/{device_id}/tasks", PV_TMO_TASK_CR,
   false, PV_NORM_TASK, "reboot", NULL, ARGS(G_TASK_ARGS), "task reboot"},
  {"genieacs", "factory_reset", "POST", "/devices/{device_id}/tasks",
   PV_TMO_TASK_CR, false, PV_NORM_TASK, "factoryReset", NULL,
   ARGS(G_TASK_ARGS), "task factoryReset"},
  {"genieacs", "download", "POST", "/devices/{device_id}/tasks",
   PV_TMO_TASK_CR, false, PV_NORM_TASK, "download", NULL,
   ARGS(G_TASK_ARGS,
        {"file_name", PV_ARG_STR, PV_IN_BODY, true, 1, 1024, "fileName", NULL,
         "file name in GenieACS"},
        {"file_type", PV_ARG_STR, PV_IN_BODY, false, 1, 64, "fileType",
         "\"1 Firmware Upgrade Image\"", "TR-069 file type"},
        {"target_file_name", PV_ARG_STR, PV_IN_BODY, false, 1, 1024,
         "targetFileName", NULL, "name on the device"}),
   "task download (firmware)"},
  {"genieacs", "add_tag", "POST", "/devices/{device_id}/tags/{tag}",
   PV_TMO_WRITE, true, PV_NORM_ACTION, NULL, NULL,
   ARGS(ARG_DEVICE_ID(PV_IN_PATH),
        {"tag", PV_ARG_STR, PV_IN_PATH, true, 1, 128, NULL, NULL, "tag"}),
   "tags a device"},
  {"genieacs", "remove_tag", "DELETE", "/devices/{device_id}/tags/{tag}",
   PV_TMO_WRITE, true, PV_NORM_ACTION, NULL, NULL,
   ARGS(ARG_DEVICE_ID(PV_IN_PATH),
        {"tag", PV_ARG_STR, PV_IN_PATH, true, 1, 128, NULL, NULL, "tag"}),
   "removes a tag"},
  {"genieacs", "delete_device", "DELETE", "/devices/{device_id}", PV_TMO_WRITE,
   true, PV_NORM_DELETE, NULL, NULL, ARGS(ARG_DEVICE_ID(PV_IN_PATH)),
   "deletes a device with its tasks and faults"},
  {"genieacs", "list_tasks", "GET", "/tasks/", PV_TMO_LIST, true,
   PV_NORM_LIST, NULL, NULL,
   ARGS(G_DEVICE_FILTER, G_QUERY_ARGS),
   "pending tasks (device_id is optional here: adds {\"device\":id})"},
  {"genieacs", "list_faults", "GET", "/faults/", PV_TMO_LIST, true,
   PV_NORM_LIST, NULL, NULL,
   ARGS(G_DEVICE_FILTER, G_QUERY_ARGS),
   "faults (device_id is optional here: adds {\"device\":id})"},
  {"genieacs", "retry_task", "POST", "/tasks/{task_id}/retry", PV_TMO_WRITE,
   true, PV_NORM_ACTION, NULL, NULL,
   ARGS({"task_id", PV_ARG_STR, PV_IN_PATH, true, 1, 64, NULL, NULL,
         "task _id"}),
   "retries a faulted task"},
  {"genieacs", "delete_task", "DELETE", "/tasks/{task_id}", PV_TMO_WRITE,
   true, PV_NORM_DELETE, NULL, NULL,
   ARGS({"task_id", PV_ARG_STR, PV_IN_PATH, true, 1, 64, NULL, NULL,
         "task _id"}),
   "deletes a task"},

  /* NetBox REST (SOUTHBOUND 3): trailing slashes everywhere. */
  {"netbox", "health_check", "GET", "/api/status/", PV_TMO_HEALTH, true,
   PV_NORM_OBJECT, NULL, NULL, NO_ARGS, "NetBox status"},
  {"netbox", "list_devices", "GET", "/api/dcim/devices/", PV_TMO_LIST, true,
   PV_NORM_LIST, NULL, NULL,
   ARGS(N_PAGING, N_FILTER_STR("name", 64, "device name"),
        N_FILTER_INT("site_id", "site id"),
        N_FILTER_INT("tenant_id", "tenant id"),
        N_FILTER_INT("role_id", "role id"),
        N_FILTER_STR("status", 32, "status value"),
        N_FILTER_STR("serial", 50, "serial number")),
   "devices (pages followed)"},
  {"netbox", "get_device", "GET", "/api/dcim/devices/{id}/", PV_TMO_GET, true,
   PV_NORM_OBJECT, NULL, NULL, ARGS(ARG_NB_ID("device")), "one device"},
  {"netbox", "create_device", "POST", "/api/dcim/devices/", PV_TMO_WRITE,
   false, PV_NORM_OBJECT, NULL, NULL, ARGS(N_DEVICE_FIELDS(true)),
   "creates a device"},
  {"netbox", "update_device", "PATCH", "/api/dcim/devices/{id}/",
   PV_TMO_WRITE, true, PV_NORM_OBJECT, NULL, NULL,
   ARGS(ARG_NB_ID("device"), N_DEVICE_FIELDS(false)),
   "changes the given fields of a device (at least one)"},
  {"netbox", "delete_device", "DELETE", "/api/dcim/devices/{id}/",
   PV_TMO_WRITE, true, PV_NORM_DELETE, NULL, NULL, ARGS(ARG_NB_ID("device")),
   "deletes a device"},
  {"netbox", "list_interfaces", "GET", "/api/dcim/interfaces/", PV_TMO_LIST,
   true, PV_NORM_LIST, NULL, NULL,
   ARGS(N_PAGING, N_FILTER_INT("device_id", "device id"),
        N_FILTER_STR("name", 64, "interface name")),
   "interfaces (pages followed)"},
  {"netbox", "list_prefixes", "GET", "/api/ipam/prefixes/", PV_TMO_LIST, true,
   PV_NORM_LIST, NULL, NULL,
   ARGS(N_PAGING, N_FILTER_STR("prefix", 64, "e.g. 10.0.0.0/24"),
        N_FILTER_INT("vrf_id", "VRF id"),
        N_FILTER_INT("tenant_id", "tenant id"),
        N_FILTER_STR("status", 32, "status value")),
   "prefixes (pages followed)"},
  {"netbox", "allocate_ip", "POST",
   "/api/ipam/prefixes/{prefix_id}/available-ips/", PV_TMO_WRITE, false,
   PV_NORM_CUSTOM, NULL, NULL,
   ARGS({"prefix_id", PV_ARG_INT, PV_IN_PATH, true, 1, INT32_MAX, NULL, NULL,
         "prefix to allocate from"},
        {"description", PV_ARG_STR, PV_IN_CLIENT, false, 0, 60, NULL, NULL,
         "free text; \" [pv-job <job id>]\" is appended"},
        {"status", PV_ARG_STR, PV_IN_BODY, false, 1, 32, NULL, NULL,
         "active, reserved, deprecated, dhcp, slaac"},
        {"dns_name", PV_ARG_STR, PV_IN_BODY, false, 0, 255, NULL, NULL,
         "DNS name"},
        {"role", PV_ARG_STR, PV_IN_BODY, false, 1, 32, NULL, NULL, "IP role"},
        {"tenant", PV_ARG_REF, PV_IN_BODY, false, 0, 0, NULL, NULL,
         "NetBox tenant id or {\"slug\":...}"},
        {"assigned_object_type", PV_ARG_STR, PV_IN_BODY, false, 1, 64, NULL,
         NULL, "e.g. dcim.interface"},
        {"assigned_object_id", PV_ARG_INT, PV_IN_BODY, false, 1, INT32_MAX,
         NULL, NULL, "id of the assigned object"},
        {"prefix_length", PV_ARG_INT, PV_IN_BODY, false, 0, 128, NULL, NULL,
         "mask of the address (>= the prefix's)"},
        {"tags", PV_ARG_ARRAY, PV_IN_BODY, false, 0, 100, NULL, NULL,
         "tag ids or {\"name\":...} objects"}),
   "next free address of a prefix; the job id is recorded in description "
   "and an unknown outcome is reconciled by looking it up"},
  {"netbox", "release_ip", "DELETE", "/api/ipam/ip-addresses/{id}/",
   PV_TMO_WRITE, true, PV_NORM_DELETE, NULL, NULL,
   ARGS(ARG_NB_ID("IP address")),
   "deletes an IP address; an absent address (404) is success"},
  {"netbox", "get_ip_address", "GET", "/api/ipam/ip-addresses/{id}/",
   PV_TMO_GET, true, PV_NORM_OBJECT, NULL, NULL,
   ARGS(ARG_NB_ID("IP address")), "one IP address"},
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
   "IP addresses (pages followed)"},

  /* Any service: the steps name their own services. */
  {"*", PV_OP_ORDER, "-", "-", PV_TMO_LONG, false, PV_NORM_CUSTOM, NULL, NULL,
   ARGS({"steps", PV_ARG_STEPS, PV_IN_CLIENT, true, 1, PV_ORDER_MAX_STEPS,
         NULL, NULL, "[{\"service\",\"op\",\"args\"}] run in sequence"}),
   "runs steps in order; a failed step stops the order: "
   "{steps:[{service,op,status,result|error}],completed,count}"},
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
  fprintf(out, "%-9s %-22s %-6s %-46s %-8s %-4s %s\n", "SERVICE", "OP",
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
    fprintf(out, "%-9s %-22s %-6s %-46s %-8s %-4s %s\n", op->service, op->name,
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
            pv_timeout_class_ms(op->tmo) / 1000, op->idempotent ? "yes" : "no",
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
      static const char *const where[] = {"path", "query", "body", "client"};
      char lim[64];
      arg_limits(a, lim, sizeof(lim));
      fprintf(out, "| `%s` | %s | %s | %s | %s | %s%s%s%s | %s |\n",
              a->name, pv_arg_type_name(a->type), a->required ? "yes" : "no",
              lim[0] ? lim : "-", a->dflt ? a->dflt : "-", where[a->in],
              a->wire ? " `" : "", a->wire ? a->wire : "",
              a->wire ? "`" : "", a->desc);
    }
    if (op->one_of)
      fprintf(out, "\nExactly one of `%s` is required.\n", op->one_of);
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
            "may have reached the server.\n\n"
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
            "are nearly always typos.\n\n");
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
