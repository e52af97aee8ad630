/* VOLTHA 1.x REST as chameleon serves it (SOUTHBOUND.md §1): snake_case,
 * every primitive field present, enums as names, 64-bit ints as strings,
 * lists as {"items":[...]}, Empty as {}, errors as plain text.
 *
 * State changes that the real adapters perform asynchronously (activation
 * stages, ONU discovery) live in voltha_time.c and are applied lazily at
 * the start of every request, so no timer thread touches the model. */
#include "dev/sim/voltha.h"

#include "common/alloc.h"

#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Keeps one process's inventory bounded whatever the options say. */
#define MAX_DEVICES 500000u
#define NNI_PORT 1048576u
#define PON_BASE 536870912u
#define PONS_PER_OLT SIM_PONS_PER_OLT

static const char *const admin_names[] = {"UNKNOWN", "PREPROVISIONED",
                                          "ENABLED", "DISABLED"};
static const char *const oper_names[] = {"UNKNOWN", "DISCOVERED", "ACTIVATING",
                                         "TESTING", "ACTIVE",     "FAILED"};
static const char *const conn_names[] = {"UNKNOWN", "UNREACHABLE",
                                         "REACHABLE"};
static const char *const addr_keys[] = {"host_and_port", "ipv4_address",
                                        "ipv6_address", "mac_address"};

static const char *const olt_types[] = {"openolt", "ponsim_olt",
                                        "simulated_olt", "adtran_olt",
                                        "asfvolt16_olt"};
static const char *const onu_types[] = {"brcm_openomci_onu", "ponsim_onu",
                                        "simulated_onu", "adtran_onu"};
static const char *const onu_vendors[][2] = {{"ALCL", "Nokia"},
                                             {"BRCM", "Broadcom"},
                                             {"HWTC", "Huawei"},
                                             {"ZTEG", "ZTE"}};

/* ---- model ---- */

static void reindex(voltha_t *v)
{
  json_object_clear(v->index);
  for (size_t i = 0; i < v->ndevs; i++)
    json_object_set_new(v->index, v->devs[i]->id, json_integer((json_int_t)i));
}

static vdev_t *find_dev(voltha_t *v, const char *id)
{
  json_t *n = json_object_get(v->index, id);
  return n ? v->devs[json_integer_value(n)] : NULL;
}

vdev_t *sim_voltha_find(voltha_t *v, const char *id)
{
  return find_dev(v, id);
}

static vdev_t *find_ld(voltha_t *v, const char *ld_id)
{
  for (size_t i = 0; i < v->ndevs; i++)
    if (v->devs[i]->has_ld && strcmp(v->devs[i]->ld_id, ld_id) == 0)
      return v->devs[i];
  return NULL;
}

static void new_id(voltha_t *v, char *out, size_t size)
{
  do {
    snprintf(out, size, "%012llx",
             (unsigned long long)(sim_rng_next(&v->rng) & 0xffffffffffffULL));
  } while (find_dev(v, out));
}

static vdev_t *add_dev(voltha_t *v)
{
  if (v->ndevs >= MAX_DEVICES)
    return NULL;
  if (v->ndevs == v->cap) {
    v->cap = v->cap ? v->cap * 2 : 256;
    v->devs = pv_realloc(v->devs, v->cap * sizeof(*v->devs));
  }
  vdev_t *d = pv_calloc(1, sizeof(*d));
  new_id(v, d->id, sizeof(d->id));
  d->reason = "";
  v->devs[v->ndevs] = d;
  json_object_set_new(v->index, d->id, json_integer((json_int_t)v->ndevs));
  v->ndevs++;
  return d;
}

vdev_t *sim_voltha_add_dev(voltha_t *v)
{
  return add_dev(v);
}

static void dev_free(vdev_t *d)
{
  if (!d)
    return;
  json_decref(d->lport_down);
  json_decref(d->flows);
  json_decref(d->meters);
  free(d);
}

static void make_ld(voltha_t *v, vdev_t *olt)
{
  if (olt->has_ld)
    return;
  olt->has_ld = true;
  olt->datapath_id = (sim_rng_next(&v->rng) & 0xffffffffffffULL) |
                     (1ULL << 48);
  snprintf(olt->ld_id, sizeof(olt->ld_id), "%016llx",
           (unsigned long long)olt->datapath_id);
  olt->lport_down = json_object();
  olt->flows = json_array();
  olt->meters = json_array();
}

/* The vendor behind an ONU serial's 4-character vendor id; an unknown id
 * stands for itself. */
static const char *onu_vendor(const char *vendor_id)
{
  for (size_t i = 0; i < sizeof(onu_vendors) / sizeof(onu_vendors[0]); i++)
    if (strcmp(onu_vendors[i][0], vendor_id) == 0)
      return onu_vendors[i][1];
  return vendor_id;
}

void sim_voltha_onu_init(voltha_t *v, const vdev_t *olt, vdev_t *d,
                         unsigned channel, unsigned onu_id,
                         const char *serial, unsigned j)
{
  snprintf(d->type, sizeof(d->type), "brcm_openomci_onu");
  snprintf(d->parent_id, sizeof(d->parent_id), "%s", olt->id);
  d->channel_id = channel;
  d->onu_id = onu_id;
  d->parent_port_no = PON_BASE + d->channel_id;
  snprintf(d->serial, sizeof(d->serial), "%s", serial);
  snprintf(d->vendor_id, sizeof(d->vendor_id), "%.4s", serial);
  snprintf(d->vendor, sizeof(d->vendor), "%s", onu_vendor(d->vendor_id));
  snprintf(d->model, sizeof(d->model), "%s-ONT", d->vendor_id);
  snprintf(d->hw, sizeof(d->hw), "v%u", 1 + (unsigned)(j % 3));
  snprintf(d->fw, sizeof(d->fw), "3.%u.%u", (unsigned)(v->inv.seed % 7),
           j % 10);
  d->vlan = 1024 + d->onu_id;
  d->addr_kind = ADDR_NONE;
  d->uni_port = (d->channel_id << 12) | (d->onu_id << 4);
}

/* ONU j of an OLT: documented in docs/simulator.md. Even j are in service
 * (ENABLED/ACTIVE/REACHABLE, flows pushed), odd j are discovered and
 * waiting to be enabled (PREPROVISIONED/DISCOVERED/REACHABLE). */
static void add_onus(voltha_t *v, vdev_t *olt, unsigned olt_index)
{
  unsigned nonus = v->inv.onus_per_olt;
  const char *prefix = onu_vendors[olt_index % 4][0];
  char serial[24];
  for (unsigned j = 0; j < nonus; j++) {
    vdev_t *d = add_dev(v);
    if (!d)
      return;
    snprintf(serial, sizeof(serial), "%s%04X%04X", prefix, olt_index + 1,
             j + 1);
    sim_voltha_onu_init(v, olt, d, j % olt->npon, j / olt->npon + 1, serial,
                        j);
    bool olt_up = olt->oper == OP_ACTIVE;
    if (j % 2 == 0) {
      d->admin = AD_ENABLED;
      d->oper = olt_up ? OP_ACTIVE : OP_UNKNOWN;
      d->reason = "omci-flows-pushed";
    } else {
      d->admin = AD_PREPROVISIONED;
      d->oper = olt_up ? OP_DISCOVERED : OP_UNKNOWN;
    }
    d->conn = olt_up ? CS_REACHABLE : CS_UNREACHABLE;
  }
}

/* The OLT's "hardware" answers once it is reachable. */
static void olt_hardware(vdev_t *d, unsigned i, uint64_t seed)
{
  snprintf(d->vendor, sizeof(d->vendor), "EdgeCore");
  snprintf(d->model, sizeof(d->model), "ASFvOLT16");
  snprintf(d->hw, sizeof(d->hw), "1.0");
  snprintf(d->fw, sizeof(d->fw), "BAL.2.6.%u", (unsigned)(seed % 10));
  snprintf(d->serial, sizeof(d->serial), "EC%010u", 1800000000u + i + 1);
  d->npon = PONS_PER_OLT;
}

static void *voltha_new_impl(const sim_inventory_t *inv)
{
  voltha_t *v = pv_calloc(1, sizeof(*v));
  v->inv = *inv;
  v->rng = inv->seed * 0x9e3779b97f4a7c15ULL + 0x766f6c7468ULL;
  v->index = json_object();
  v->act_ms = -1;
  v->act_serial = json_object();
  v->next_due = UINT64_MAX;
  for (unsigned i = 0; i < inv->olts; i++) {
    vdev_t *d = add_dev(v);
    if (!d)
      break;
    snprintf(d->type, sizeof(d->type), "openolt");
    d->root = true;
    d->addr_kind = ADDR_HOST_PORT;
    snprintf(d->addr, sizeof(d->addr), "10.90.%u.%u:9191", (i / 250) % 256,
             i % 250 + 1);
    olt_hardware(d, i, inv->seed);
    d->admin = AD_ENABLED;
    d->oper = OP_ACTIVE;
    d->conn = CS_REACHABLE;
    make_ld(v, d);
    add_onus(v, d, i);
  }
  v->next_olt = inv->olts;
  return v;
}

void *sim_voltha_new(const sim_inventory_t *inv)
{
  return voltha_new_impl(inv);
}

static void voltha_destroy(void *state)
{
  voltha_t *v = state;
  if (!v)
    return;
  for (size_t i = 0; i < v->ndevs; i++)
    dev_free(v->devs[i]);
  free(v->devs);
  json_decref(v->index);
  sim_voltha_time_free(v);
  free(v);
}

static bool is_olt_type(const char *t)
{
  for (size_t i = 0; i < sizeof(olt_types) / sizeof(olt_types[0]); i++)
    if (strcmp(t, olt_types[i]) == 0)
      return true;
  return false;
}

static bool is_onu_type(const char *t)
{
  for (size_t i = 0; i < sizeof(onu_types) / sizeof(onu_types[0]); i++)
    if (strcmp(t, onu_types[i]) == 0)
      return true;
  return false;
}

void sim_voltha_olt_first_up(voltha_t *v, vdev_t *olt)
{
  if (olt->npon != 0)
    return;
  unsigned idx = v->next_olt++;
  olt_hardware(olt, idx, v->inv.seed);
  make_ld(v, olt);
  /* Discovery: a new OLT reports its ONUs once it is up. */
  add_onus(v, olt, idx);
}

/* ---- rendering ---- */

static json_t *u64s(uint64_t x)
{
  char b[24];
  snprintf(b, sizeof(b), "%llu", (unsigned long long)x);
  return json_string(b);
}

static json_t *port_json(const vdev_t *d, unsigned port_no, const char *label,
                         const char *type, const char *peer_dev,
                         unsigned peer_port)
{
  bool enabled = d->admin == AD_ENABLED;
  json_t *peers = json_array();
  if (peer_dev)
    json_array_append_new(peers, json_pack("{s:s,s:i}", "device_id", peer_dev,
                                           "port_no", (int)peer_port));
  json_t *p = json_pack(
      "{s:i,s:s,s:s,s:s,s:s,s:s,s:o}", "port_no", (int)port_no, "label", label,
      "type", type, "admin_state", enabled ? "ENABLED" : "DISABLED",
      "oper_status",
      enabled && d->oper == OP_ACTIVE ? "ACTIVE" : "UNKNOWN", "device_id",
      d->id, "peers", peers);
  static const char *const counters[] = {"rx_packets", "rx_bytes",
                                         "rx_errors",  "tx_packets",
                                         "tx_bytes",   "tx_errors"};
  for (size_t i = 0; i < 6; i++)
    json_object_set_new(p, counters[i], u64s(0));
  return p;
}

static json_t *ports_json(voltha_t *v, const vdev_t *d)
{
  json_t *items = json_array();
  char label[32];
  if (d->root) {
    if (d->npon == 0)
      return items; /* not discovered yet */
    json_array_append_new(items, port_json(d, NNI_PORT, "nni-1048576",
                                           "ETHERNET_NNI", NULL, 0));
    for (unsigned p = 0; p < d->npon; p++) {
      snprintf(label, sizeof(label), "pon-%u", p);
      json_array_append_new(items, port_json(d, PON_BASE + p, label,
                                             "PON_OLT", NULL, 0));
    }
  } else {
    json_array_append_new(items, port_json(d, 1, "PON port", "PON_ONU",
                                           d->parent_id, d->parent_port_no));
    snprintf(label, sizeof(label), "uni-%u", d->uni_port);
    json_array_append_new(items, port_json(d, d->uni_port, label,
                                           "ETHERNET_UNI", NULL, 0));
  }
  return items;
}

static json_t *flows_json(const vdev_t *d)
{
  return json_pack("{s:O}", "items", d->flows ? d->flows : json_array());
}

static json_t *dev_json(voltha_t *v, const vdev_t *d, int depth)
{
  json_t *o = json_object();
  json_object_set_new(o, "id", json_string(d->id));
  json_object_set_new(o, "type", json_string(d->type));
  json_object_set_new(o, "root", json_boolean(d->root));
  json_object_set_new(o, "parent_id", json_string(d->parent_id));
  json_object_set_new(o, "parent_port_no", json_integer(d->parent_port_no));
  json_object_set_new(o, "vendor", json_string(d->vendor));
  json_object_set_new(o, "model", json_string(d->model));
  json_object_set_new(o, "hardware_version", json_string(d->hw));
  json_object_set_new(o, "firmware_version", json_string(d->fw));
  json_object_set_new(o, "serial_number", json_string(d->serial));
  json_object_set_new(o, "vendor_id", json_string(d->vendor_id));
  json_object_set_new(o, "adapter", json_string(d->type));
  json_object_set_new(o, "vlan", json_integer(d->vlan));
  if (d->addr_kind != ADDR_NONE)
    json_object_set_new(o, addr_keys[d->addr_kind], json_string(d->addr));
  json_object_set_new(o, "extra_args", json_string(d->extra_args));
  if (!d->root) {
    vdev_t *p = find_dev(v, d->parent_id);
    json_object_set_new(
        o, "proxy_address",
        json_pack("{s:s,s:s,s:i,s:i,s:s,s:i,s:i}", "device_id", d->parent_id,
                  "device_type", p ? p->type : "", "channel_id",
                  (int)d->channel_id, "channel_group_id", 0,
                  "channel_termination", "", "onu_id", (int)d->onu_id,
                  "onu_session_id", 0));
  }
  json_object_set_new(o, "admin_state", json_string(admin_names[d->admin]));
  json_object_set_new(o, "oper_status", json_string(oper_names[d->oper]));
  json_object_set_new(o, "reason", json_string(d->reason));
  json_object_set_new(o, "connect_status", json_string(conn_names[d->conn]));
  json_object_set_new(o, "ports", depth > 0 ? ports_json(v, d) : json_array());
  if (depth > 0) {
    json_object_set_new(o, "flows", flows_json(d));
    json_object_set_new(o, "flow_groups", json_pack("{s:[]}", "items"));
  }
  return o;
}

static json_t *ld_ports_json(voltha_t *v, const vdev_t *olt)
{
  json_t *items = json_array();
  char id[32];
  for (size_t i = 0; i <= v->ndevs; i++) {
    const vdev_t *d;
    unsigned port_no;
    if (i == 0) {
      d = olt;
      port_no = NNI_PORT;
      snprintf(id, sizeof(id), "nni-%u", NNI_PORT);
    } else {
      d = v->devs[i - 1];
      if (d->root || strcmp(d->parent_id, olt->id) != 0 ||
          d->admin != AD_ENABLED)
        continue;
      port_no = d->uni_port;
      snprintf(id, sizeof(id), "uni-%u", port_no);
    }
    bool down = json_object_get(olt->lport_down, id) != NULL;
    bool live = !down && d->oper == OP_ACTIVE;
    json_t *hw = json_array();
    for (int k = 0; k < 6; k++)
      json_array_append_new(hw, json_integer((json_int_t)((port_no >> (k * 4)) & 0xff)));
    json_t *ofp = json_pack(
        "{s:i,s:o,s:s,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i}", "port_no",
        (int)port_no, "hw_addr", hw, "name", id, "config", down ? 1 : 0,
        "state", live ? 4 : 1, "curr", 4128, "advertised", 4128, "supported",
        0, "peer", 0, "curr_speed", 32, "max_speed", 32);
    json_array_append_new(
        items, json_pack("{s:s,s:o,s:s,s:i,s:b}", "id", id, "ofp_port", ofp,
                         "device_id", d->id, "device_port_no", (int)port_no,
                         "root_port", i == 0));
  }
  return items;
}

static json_t *ld_json(const vdev_t *olt)
{
  json_t *o = json_object();
  json_object_set_new(o, "id", json_string(olt->ld_id));
  json_object_set_new(o, "datapath_id", u64s(olt->datapath_id));
  json_object_set_new(
      o, "desc",
      json_pack("{s:s,s:s,s:s,s:s,s:s}", "mfr_desc", "VOLTHA Project",
                "hw_desc", olt->model, "sw_desc", olt->fw, "serial_num",
                olt->serial, "dp_desc", "n/a"));
  json_object_set_new(o, "switch_features",
                      json_pack("{s:i,s:i,s:i,s:i}", "n_buffers", 256,
                                "n_tables", 2, "auxiliary_id", 0,
                                "capabilities", 15));
  json_object_set_new(o, "root_device_id", json_string(olt->id));
  json_object_set_new(o, "ports", json_array());
  return o;
}

static json_t *items(json_t *list)
{
  return json_pack("{s:o}", "items", list);
}

/* ---- handlers ---- */

static void not_found_dev(sim_resp_t *resp, const char *id)
{
  sim_resp_text(resp, 404, "Device '%s' not found", id);
}

/* Validates a create body the way protobuf's json_format.Parse would:
 * unknown fields and wrong types are INVALID_ARGUMENT (400). */
static void create_device(voltha_t *v, const sim_req_t *req, sim_resp_t *resp)
{
  static const char *const strfields[] = {
      "id",         "type",           "parent_id",     "vendor",
      "model",      "hardware_version", "firmware_version",
      "serial_number", "vendor_id",   "adapter",       "host_and_port",
      "ipv4_address", "ipv6_address", "mac_address",   "extra_args",
      "reason",     "admin_state",    "oper_status",   "connect_status"};
  static const char *const otherfields[] = {"root", "parent_port_no", "vlan",
                                            "ports", "flows", "pm_configs",
                                            "proxy_address", "flow_groups",
                                            "images", "custom"};
  json_error_t jerr;
  const char *key;
  json_t *val;
  json_t *body = json_loadb(req->body, req->body_len, 0, &jerr);
  if (!body || !json_is_object(body)) {
    sim_resp_text(resp, 400, "Failed to parse Device from request body: %s",
                  body ? "not a JSON object" : jerr.text);
    goto out;
  }
  json_object_foreach(body, key, val)
  {
    bool is_str = false, known = false;
    for (size_t i = 0; i < sizeof(strfields) / sizeof(strfields[0]); i++)
      if (strcmp(key, strfields[i]) == 0)
        is_str = known = true;
    for (size_t i = 0; i < sizeof(otherfields) / sizeof(otherfields[0]); i++)
      if (strcmp(key, otherfields[i]) == 0)
        known = true;
    if (!known) {
      sim_resp_text(resp, 400,
                    "Message type \"voltha.Device\" has no field named "
                    "\"%.64s\".", key);
      goto out;
    }
    if (is_str && !json_is_string(val)) {
      sim_resp_text(resp, 400, "Failed to parse %.64s field: expected a "
                               "string.", key);
      goto out;
    }
  }
  const char *type = json_string_value(json_object_get(body, "type"));
  if (!type || !*type) {
    sim_resp_text(resp, 400, "device type is required");
    goto out;
  }
  if (!is_olt_type(type) && !is_onu_type(type)) {
    sim_resp_text(resp, 400, "adapter-not-registered-for-device-type %.64s",
                  type);
    goto out;
  }
  int kind = ADDR_NONE;
  const char *addr = NULL;
  for (int k = 0; k < 4 && kind == ADDR_NONE; k++) {
    const char *a = json_string_value(json_object_get(body, addr_keys[k]));
    if (a && *a) {
      kind = k;
      addr = a;
    }
  }
  if (!addr) {
    sim_resp_text(resp, 400, "no-device-info-present; MAC or HOSTIP&PORT");
    goto out;
  }
  if (strlen(addr) >= 64) {
    sim_resp_text(resp, 400, "%s is too long", addr_keys[kind]);
    goto out;
  }
  if (kind == ADDR_HOST_PORT) {
    const char *colon = strrchr(addr, ':');
    long long port;
    if (!colon || colon == addr || sim_parse_ll(colon + 1, 1, 65535, &port) < 0) {
      sim_resp_text(resp, 400, "invalid host_and_port \"%s\": want host:port",
                    addr);
      goto out;
    }
  }
  for (size_t i = 0; i < v->ndevs; i++) {
    const vdev_t *o = v->devs[i];
    if (o->root && o->addr_kind == kind && strcmp(o->addr, addr) == 0) {
      sim_resp_text(resp, 409, "device is already pre-provisioned");
      goto out;
    }
  }
  const char *extra = json_string_value(json_object_get(body, "extra_args"));
  vdev_t *d = add_dev(v);
  if (!d) {
    sim_resp_text(resp, 500, "device limit reached");
    goto out;
  }
  snprintf(d->type, sizeof(d->type), "%s", type);
  d->root = true;
  d->addr_kind = kind;
  snprintf(d->addr, sizeof(d->addr), "%s", addr);
  snprintf(d->extra_args, sizeof(d->extra_args), "%s", extra ? extra : "");
  d->admin = AD_PREPROVISIONED;
  d->oper = OP_UNKNOWN;
  d->conn = CS_UNKNOWN;
  sim_resp_json(resp, 200, dev_json(v, d, 0));
out:
  json_decref(body);
}

static void delete_device(voltha_t *v, vdev_t *d, sim_resp_t *resp)
{
  if (d->admin == AD_ENABLED) {
    sim_resp_text(resp, 400, "Device '%s' is ENABLED: disable it before "
                             "deleting it", d->id);
    return;
  }
  char id[20];
  snprintf(id, sizeof(id), "%s", d->id);
  size_t w = 0;
  for (size_t i = 0; i < v->ndevs; i++) {
    vdev_t *c = v->devs[i];
    if (strcmp(c->id, id) == 0 || strcmp(c->parent_id, id) == 0) {
      sim_voltha_forget(v, c);
      dev_free(c);
      continue;
    }
    v->devs[w++] = c;
  }
  v->ndevs = w;
  reindex(v);
  sim_resp_json(resp, 200, json_object());
}

static void device_action(voltha_t *v, vdev_t *d, const char *action,
                          sim_resp_t *resp)
{
  if (strcmp(action, "enable") == 0) {
    if (d->admin == AD_ENABLED && d->oper != OP_FAILED) {
      sim_resp_text(resp, 409, "cannot-enable-an-already-enabled-device: %s",
                    d->id);
      return;
    }
    sim_voltha_enable(v, d);
  } else if (strcmp(action, "disable") == 0) {
    if (d->admin == AD_PREPROVISIONED) {
      sim_resp_text(resp, 409, "invalid-admin-state: %s", d->id);
      return;
    }
    sim_voltha_disable(v, d);
  } else { /* reboot */
    if (d->admin != AD_ENABLED) {
      sim_resp_text(resp, 409, "invalid-admin-state: %s", d->id);
      return;
    }
    sim_voltha_reboot(v, d);
  }
  sim_resp_json(resp, 200, json_object());
}

static void method_not_allowed(sim_resp_t *resp)
{
  sim_resp_text(resp, 405, "Method Not Allowed");
}

static void logical(voltha_t *v, const sim_req_t *req, char **seg, int n,
                    sim_resp_t *resp)
{
  const char *m = req->method;
  bool get = strcmp(m, "GET") == 0;
  bool post = strcmp(m, "POST") == 0;
  if (n == 1) {
    if (!get)
      return method_not_allowed(resp);
    json_t *list = json_array();
    for (size_t i = 0; i < v->ndevs; i++)
      if (v->devs[i]->has_ld)
        json_array_append_new(list, ld_json(v->devs[i]));
    return sim_resp_json(resp, 200, items(list));
  }
  vdev_t *olt = find_ld(v, seg[1]);
  if (!olt) {
    sim_resp_text(resp, 404, "LogicalDevice '%s' not found", seg[1]);
    return;
  }
  if (n == 2) {
    if (!get)
      return method_not_allowed(resp);
    return sim_resp_json(resp, 200, ld_json(olt));
  }
  if (strcmp(seg[2], "ports") == 0) {
    json_t *ports = ld_ports_json(v, olt);
    if (n == 3) {
      if (!get) {
        json_decref(ports);
        return method_not_allowed(resp);
      }
      return sim_resp_json(resp, 200, items(ports));
    }
    json_t *port = NULL;
    size_t i;
    json_t *p;
    json_array_foreach(ports, i, p)
    {
      if (strcmp(json_string_value(json_object_get(p, "id")), seg[3]) == 0)
        port = json_incref(p);
    }
    json_decref(ports);
    if (!port || n > 5) {
      json_decref(port);
      sim_resp_text(resp, 404, "LogicalPort '%s' not found", seg[3]);
      return;
    }
    if (n == 4) {
      if (!get) {
        json_decref(port);
        return method_not_allowed(resp);
      }
      return sim_resp_json(resp, 200, port);
    }
    json_decref(port);
    if (strcmp(seg[4], "enable") != 0 && strcmp(seg[4], "disable") != 0) {
      sim_resp_text(resp, 404, "Not Found");
      return;
    }
    if (!post)
      return method_not_allowed(resp);
    if (strcmp(seg[4], "disable") == 0)
      json_object_set_new(olt->lport_down, seg[3], json_true());
    else
      json_object_del(olt->lport_down, seg[3]);
    return sim_resp_json(resp, 200, json_object());
  }
  if (n == 3 && strcmp(seg[2], "flows") == 0) {
    if (get)
      return sim_resp_json(resp, 200, flows_json(olt));
    if (post)
      return sim_of_flow_mod(olt->flows, req, resp);
    return method_not_allowed(resp);
  }
  if (n == 3 && strcmp(seg[2], "meters") == 0) {
    if (get)
      return sim_resp_json(resp, 200,
                           sim_of_meters_json(olt->flows, olt->meters));
    if (post)
      return sim_of_meter_mod(olt->flows, olt->meters, req, resp);
    return method_not_allowed(resp);
  }
  if (n == 3 && strcmp(seg[2], "flow_groups") == 0) {
    if (!get)
      return method_not_allowed(resp);
    return sim_resp_json(resp, 200, json_pack("{s:[]}", "items"));
  }
  sim_resp_text(resp, 404, "Not Found");
}

static void devices(voltha_t *v, const sim_req_t *req, char **seg, int n,
                    sim_resp_t *resp)
{
  const char *m = req->method;
  bool get = strcmp(m, "GET") == 0;
  const char *depth_h = sim_req_header(req, "Get-Depth");
  long long depth = 0;
  if (depth_h && sim_parse_ll(depth_h, -1, 100, &depth) < 0)
    depth = 0;
  if (depth < 0)
    depth = 100;
  if (n == 1) {
    if (get) {
      json_t *list = json_array();
      for (size_t i = 0; i < v->ndevs; i++)
        json_array_append_new(list, dev_json(v, v->devs[i], (int)depth));
      return sim_resp_json(resp, 200, items(list));
    }
    if (strcmp(m, "POST") == 0)
      return create_device(v, req, resp);
    return method_not_allowed(resp);
  }
  char *id = sim_pct_decode(seg[1], strlen(seg[1]));
  vdev_t *d = id ? find_dev(v, id) : NULL;
  if (n > 3) {
    sim_resp_text(resp, 404, "Not Found");
    goto out;
  }
  if (n == 3 && strcmp(seg[2], "enable") != 0 &&
      strcmp(seg[2], "disable") != 0 && strcmp(seg[2], "reboot") != 0 &&
      strcmp(seg[2], "delete") != 0 && strcmp(seg[2], "ports") != 0 &&
      strcmp(seg[2], "flows") != 0 && strcmp(seg[2], "flow_groups") != 0) {
    sim_resp_text(resp, 404, "Not Found");
    goto out;
  }
  if (n == 2) {
    if (!get) {
      method_not_allowed(resp);
      goto out;
    }
  } else if (strcmp(seg[2], "delete") == 0) {
    if (strcmp(m, "DELETE") != 0) {
      method_not_allowed(resp);
      goto out;
    }
  } else if (strcmp(seg[2], "ports") == 0 || strcmp(seg[2], "flows") == 0 ||
             strcmp(seg[2], "flow_groups") == 0) {
    if (!get) {
      method_not_allowed(resp);
      goto out;
    }
  } else if (strcmp(m, "POST") != 0) {
    method_not_allowed(resp);
    goto out;
  }
  if (!d) {
    not_found_dev(resp, id ? id : seg[1]);
    goto out;
  }
  if (n == 2)
    sim_resp_json(resp, 200, dev_json(v, d, (int)depth));
  else if (strcmp(seg[2], "delete") == 0)
    delete_device(v, d, resp);
  else if (strcmp(seg[2], "ports") == 0)
    sim_resp_json(resp, 200, items(ports_json(v, d)));
  else if (strcmp(seg[2], "flows") == 0)
    sim_resp_json(resp, 200, flows_json(d));
  else if (strcmp(seg[2], "flow_groups") == 0)
    sim_resp_json(resp, 200, json_pack("{s:[]}", "items"));
  else
    device_action(v, d, seg[2], resp);
out:
  free(id);
}

static json_t *adapter_json(const char *id, const char *vendor)
{
  return json_pack("{s:s,s:s,s:s,s:{s:s},s:n,s:[]}", "id", id, "vendor",
                   vendor, "version", "1.7.0", "config", "log_level", "INFO",
                   "additional_description", "logical_device_ids");
}

static json_t *device_type_json(const char *id, bool olt)
{
  return json_pack("{s:s,s:s,s:s,s:b,s:b,s:b}", "id", id, "vendor_id", "",
                   "adapter", id, "accepts_bulk_flow_update", 1,
                   "accepts_add_remove_flow_updates", 0,
                   "accepts_direct_logical_flows_update", !olt);
}

static void voltha_handle(void *state, const sim_req_t *req, sim_resp_t *resp)
{
  voltha_t *v = state;
  char *seg[12];
  char *storage = NULL;
  bool get = strcmp(req->method, "GET") == 0;
  sim_voltha_tick(v);

  if (strcmp(req->path, "/health") == 0 ||
      strcmp(req->path, "/api/v1/local/health") == 0) {
    if (!get && strcmp(req->method, "HEAD") != 0)
      return method_not_allowed(resp);
    return sim_resp_json(resp, 200, json_pack("{s:s}", "state", "HEALTHY"));
  }
  int n = sim_split_path(req->path, seg, 12, &storage);
  int base = 2;
  if (n < 2 || strcmp(seg[0], "api") != 0 || strcmp(seg[1], "v1") != 0)
    goto not_found;
  if (n > 2 && strcmp(seg[2], "local") == 0)
    base = 3;
  if (n == base || (n == base + 1 && seg[base][0] == '\0')) {
    if (!get) {
      method_not_allowed(resp);
      goto out;
    }
    sim_resp_json(resp, 200,
                  json_pack("{s:s,s:s,s:s,s:{s:s},s:[],s:[],s:[],s:[]}",
                            "version", "1.7.0", "log_level", "INFO",
                            "instance_id", "sim_voltha_1", "health", "state",
                            "HEALTHY", "adapters", "logical_devices",
                            "devices", "device_groups"));
    goto out;
  }
  char **s = seg + base;
  int k = n - base;
  if (strcmp(s[0], "devices") == 0) {
    devices(v, req, s, k, resp);
  } else if (strcmp(s[0], "logical_devices") == 0) {
    logical(v, req, s, k, resp);
  } else if (strcmp(s[0], "adapters") == 0 && k == 1) {
    if (!get) {
      method_not_allowed(resp);
      goto out;
    }
    json_t *list = json_array();
    json_array_append_new(list, adapter_json("openolt", "OLT white box"));
    json_array_append_new(list, adapter_json("brcm_openomci_onu", "Voltha"));
    sim_resp_json(resp, 200, items(list));
  } else if (strcmp(s[0], "device_types") == 0 && k <= 2) {
    if (!get) {
      method_not_allowed(resp);
      goto out;
    }
    json_t *list = json_array();
    for (size_t i = 0; i < sizeof(olt_types) / sizeof(olt_types[0]); i++)
      json_array_append_new(list, device_type_json(olt_types[i], true));
    for (size_t i = 0; i < sizeof(onu_types) / sizeof(onu_types[0]); i++)
      json_array_append_new(list, device_type_json(onu_types[i], false));
    if (k == 1) {
      sim_resp_json(resp, 200, items(list));
    } else {
      json_t *found = NULL, *e;
      size_t i;
      json_array_foreach(list, i, e)
      {
        if (strcmp(json_string_value(json_object_get(e, "id")), s[1]) == 0)
          found = json_incref(e);
      }
      json_decref(list);
      if (found)
        sim_resp_json(resp, 200, found);
      else
        sim_resp_text(resp, 404, "DeviceType '%s' not found", s[1]);
    }
  } else {
    goto not_found;
  }
  goto out;
not_found:
  sim_resp_text(resp, 404, "Not Found");
out:
  free(storage);
}

static void voltha_error(void *state, const sim_req_t *req, unsigned status,
                         sim_resp_t *resp)
{
  const char *r = MHD_get_reason_phrase_for(status);
  sim_resp_text(resp, status, "%s", r && *r ? r : "Error");
}

static bool voltha_admin(void *state, const sim_req_t *req, sim_resp_t *resp)
{
  return sim_voltha_time_admin(state, req, resp);
}

const sim_svc_ops_t sim_voltha_ops = {
    .name = "voltha",
    .handle = voltha_handle,
    .error = voltha_error,
    .admin = voltha_admin,
    .destroy = voltha_destroy,
};
