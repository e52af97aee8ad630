/* The OpenFlow tables of a VOLTHA logical device: FlowTableUpdate and
 * MeterModUpdate as the core applies them (voltha-go logical_agent_flow.go
 * and logical_agent_meter.go, voltha-lib-go flow_utils.go), with the
 * protobuf JSON parser's 400s for bodies it cannot map.
 *
 * - A flow is identified by table_id, priority and match (the OpenFlow
 *   rule, and VOLTHA's HashFlowStats): OFPFC_ADD of the same triple
 *   replaces the flow, it does not add a second one.
 * - OFPFC_DELETE removes the flows that FlowMatchesMod accepts: cookie
 *   under cookie_mask, table_id unless OFPTT_ALL (255), out_port and
 *   out_group unless ANY (0x7fffffff), and every oxm field of the mod's
 *   match present in the flow's. OFPFC_DELETE_STRICT also wants the same
 *   priority and exactly the same match.
 * - OFPMC_ADD of an existing meter id changes nothing (success);
 *   OFPMC_MODIFY replaces an existing meter's config, keeps its flows;
 *   OFPMC_DELETE of an unknown one is success too, and a deleted meter
 *   takes the flows that use it along (deleteFlowsHavingMeter).
 * Flows are stored in the rendered ofp_flow_stats form (every field, 64-bit
 * integers as strings). */
#include "dev/sim/sim.h"

#include "common/map.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FLOWS 10000u
#define OFPTT_ALL 255u
#define OFP_ANY 0x7fffffffu

static const char *const flow_cmds[] = {"OFPFC_ADD", "OFPFC_MODIFY",
                                        "OFPFC_MODIFY_STRICT", "OFPFC_DELETE",
                                        "OFPFC_DELETE_STRICT"};
static const char *const meter_cmds[] = {"OFPMC_ADD", "OFPMC_MODIFY",
                                         "OFPMC_DELETE"};
enum { FC_ADD, FC_MODIFY, FC_MODIFY_STRICT, FC_DELETE, FC_DELETE_STRICT };
enum { MC_ADD, MC_MODIFY, MC_DELETE };

static const char *const flow_mod_fields[] = {
    "cookie",   "cookie_mask", "table_id",  "command",   "idle_timeout",
    "hard_timeout", "priority", "buffer_id", "out_port", "out_group",
    "flags",    "match",       "instructions", NULL};
static const char *const meter_mod_fields[] = {"command", "flags", "meter_id",
                                               "bands", NULL};
static const char *const update_fields[] = {"id", "xid", NULL};
static const char *const match_fields[] = {"type", "oxm_fields", NULL};

static bool listed(const char *const *names, const char *k)
{
  for (; *names; names++)
    if (strcmp(*names, k) == 0)
      return true;
  return false;
}

/* An unsigned protobuf integer: a JSON integer >= 0 or a decimal string
 * (how MessageToDict writes uint64). */
static bool get_uint(const json_t *v, uint64_t max, uint64_t *out)
{
  if (json_is_integer(v) && json_integer_value(v) >= 0 &&
      (uint64_t)json_integer_value(v) <= max) {
    *out = (uint64_t)json_integer_value(v);
    return true;
  }
  if (!json_is_string(v))
    return false;
  const char *s = json_string_value(v);
  if (!*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 20)
    return false;
  errno = 0;
  unsigned long long x = strtoull(s, NULL, 10);
  if (errno == ERANGE || x > max)
    return false;
  *out = x;
  return true;
}

static json_t *u64s(uint64_t x)
{
  char b[24];
  snprintf(b, sizeof(b), "%llu", (unsigned long long)x);
  return json_string(b);
}

/* The protobuf JSON parser's errors: 400 with its text. */
static bool check_fields(const json_t *o, const char *type,
                         const char *const *known, sim_resp_t *resp)
{
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)(uintptr_t)o, k, v)
  {
    if (!listed(known, k)) {
      sim_resp_text(resp, 400,
                    "Message type \"openflow_13.%s\" has no field named "
                    "\"%.64s\".", type, k);
      return false;
    }
  }
  return true;
}

static bool get_command(const json_t *mod, const char *const *names, int n,
                        const char *enum_type, int *out, sim_resp_t *resp)
{
  const json_t *c = json_object_get(mod, "command");
  *out = 0;
  if (!c)
    return true; /* proto3 default: the first value */
  for (int i = 0; i < n; i++)
    if ((json_is_string(c) && strcmp(json_string_value(c), names[i]) == 0) ||
        (json_is_integer(c) && json_integer_value(c) == i)) {
      *out = i;
      return true;
    }
  char *dump = json_dumps(c, JSON_ENCODE_ANY);
  sim_resp_text(resp, 400, "Invalid enum value %.64s for enum type "
                           "openflow_13.%s.", dump ? dump : "?", enum_type);
  free(dump);
  return false;
}

/* One of the two update messages: its type, the member holding the mod,
 * the mod's fields and its command enum. */
typedef struct update_kind {
  const char *type, *field;
  const char *const *mod_fields;
  const char *mod_type;
  const char *const *cmds;
  int ncmds;
  const char *enum_type;
} update_kind_t;

static const update_kind_t flow_update = {
    "FlowTableUpdate", "flow_mod", flow_mod_fields, "ofp_flow_mod", flow_cmds,
    5, "ofp_flow_mod_command"};
static const update_kind_t meter_update = {
    "MeterModUpdate", "meter_mod", meter_mod_fields, "ofp_meter_mod",
    meter_cmds, 3, "ofp_meter_mod_command"};

/* Parses {"id", "<field>": {...}, "xid"} and the mod's command; the mod is
 * borrowed from *body (json_decref it). NULL when resp says why not. */
static json_t *parse_update(const sim_req_t *req, const update_kind_t *k,
                            json_t **body, int *cmd, sim_resp_t *resp)
{
  const char *type = k->type, *field = k->field;
  json_error_t jerr;
  *body = json_loadb(req->body, req->body_len, 0, &jerr);
  if (!json_is_object(*body)) {
    sim_resp_text(resp, 400, "Failed to parse %s from request body: %s", type,
                  *body ? "not a JSON object" : jerr.text);
    return NULL;
  }
  const char *key;
  json_t *v;
  json_object_foreach(*body, key, v)
  {
    if (strcmp(key, field) != 0 && !listed(update_fields, key)) {
      sim_resp_text(resp, 400,
                    "Message type \"openflow_13.%s\" has no field named "
                    "\"%.64s\".", type, key);
      return NULL;
    }
  }
  json_t *mod = json_object_get(*body, field);
  if (!json_is_object(mod)) {
    sim_resp_text(resp, 400, "%s is required", field);
    return NULL;
  }
  if (!check_fields(mod, k->mod_type, k->mod_fields, resp) ||
      !get_command(mod, k->cmds, k->ncmds, k->enum_type, cmd, resp))
    return NULL;
  return mod;
}

/* ---- flows ---- */

/* VOLTHA's flow id: a hash of table_id, priority and match. */
static uint64_t flow_id(uint64_t table, uint64_t prio, const json_t *match)
{
  json_t *key = json_pack("{s:I,s:I,s:O}", "t", (json_int_t)table, "p",
                          (json_int_t)prio, "m", match);
  char *text = json_dumps(key, JSON_COMPACT | JSON_SORT_KEYS);
  uint64_t h = text ? pv_map_hash(text) & 0x7fffffffffffffffULL : 0;
  free(text);
  json_decref(key);
  return h;
}

static uint64_t uget(const json_t *o, const char *k, uint64_t dflt)
{
  uint64_t x;
  return get_uint(json_object_get(o, k), UINT64_MAX, &x) ? x : dflt;
}

static json_t *match_of(const json_t *mod)
{
  const json_t *m = json_object_get(mod, "match");
  json_t *out = json_is_object(m) ? json_deep_copy(m) : json_object();
  if (!json_object_get(out, "type"))
    json_object_set_new(out, "type", json_string("OFPMT_STANDARD"));
  if (!json_object_get(out, "oxm_fields"))
    json_object_set_new(out, "oxm_fields", json_array());
  return out;
}

/* The stored (rendered) form of an added flow. */
static json_t *flow_stats(const json_t *mod)
{
  json_t *match = match_of(mod);
  uint64_t table = uget(mod, "table_id", 0), prio = uget(mod, "priority", 0);
  const json_t *ins = json_object_get(mod, "instructions");
  json_t *f = json_object();
  json_object_set_new(f, "id", u64s(flow_id(table, prio, match)));
  json_object_set_new(f, "table_id", json_integer((json_int_t)table));
  json_object_set_new(f, "duration_sec", json_integer(0));
  json_object_set_new(f, "duration_nsec", json_integer(0));
  json_object_set_new(f, "priority", json_integer((json_int_t)prio));
  json_object_set_new(f, "idle_timeout",
                      json_integer((json_int_t)uget(mod, "idle_timeout", 0)));
  json_object_set_new(f, "hard_timeout",
                      json_integer((json_int_t)uget(mod, "hard_timeout", 0)));
  json_object_set_new(f, "flags", json_integer((json_int_t)uget(mod, "flags", 0)));
  json_object_set_new(f, "cookie", u64s(uget(mod, "cookie", 0)));
  json_object_set_new(f, "packet_count", json_string("0"));
  json_object_set_new(f, "byte_count", json_string("0"));
  json_object_set_new(f, "match", match);
  json_object_set_new(f, "instructions", json_is_array(ins)
                                             ? json_deep_copy(ins)
                                             : json_array());
  return f;
}

/* Does an instruction list output to port (actions) or group? */
static bool outputs_to(const json_t *flow, const char *key, uint64_t want)
{
  size_t i, j;
  json_t *ins, *act;
  json_array_foreach(json_object_get(flow, "instructions"), i, ins)
  {
    json_t *acts = json_object_get(json_object_get(ins, "actions"), "actions");
    json_array_foreach(acts, j, act)
    {
      const json_t *body = json_object_get(act, strcmp(key, "port") == 0
                                                    ? "output"
                                                    : "group");
      uint64_t v;
      if (get_uint(json_object_get(body, key), UINT64_MAX, &v) &&
          (v & OFP_ANY) == (want & OFP_ANY))
        return true;
    }
  }
  return false;
}

/* Every oxm field of the mod's match is in the flow's match. */
static bool has_match(const json_t *flow, const json_t *mod_match)
{
  const json_t *want = json_object_get(mod_match, "oxm_fields");
  const json_t *have = json_object_get(json_object_get(flow, "match"),
                                       "oxm_fields");
  size_t i, j;
  json_t *w, *h;
  json_array_foreach(want, i, w)
  {
    bool found = false;
    json_array_foreach(have, j, h) found = found || json_equal(w, h);
    if (!found)
      return false;
  }
  return true;
}

static bool flow_matches(const json_t *flow, const json_t *mod, bool strict)
{
  uint64_t mask = uget(mod, "cookie_mask", 0);
  if (mask && (uget(flow, "cookie", 0) & mask) != (uget(mod, "cookie", 0) & mask))
    return false;
  uint64_t table = uget(mod, "table_id", 0);
  if (table != OFPTT_ALL && uget(flow, "table_id", 0) != table)
    return false;
  uint64_t port = uget(mod, "out_port", 0), group = uget(mod, "out_group", 0);
  if ((port & OFP_ANY) != OFP_ANY && !outputs_to(flow, "port", port))
    return false;
  if ((group & OFP_ANY) != OFP_ANY && !outputs_to(flow, "group_id", group))
    return false;
  json_t *match = match_of(mod);
  bool ok;
  if (strict)
    ok = uget(flow, "priority", 0) == uget(mod, "priority", 0) &&
         json_equal(json_object_get(flow, "match"), match);
  else
    ok = has_match(flow, match);
  json_decref(match);
  return ok;
}

void sim_of_flow_mod(json_t *flows, const sim_req_t *req, sim_resp_t *resp)
{
  json_t *body = NULL;
  int cmd;
  json_t *mod = parse_update(req, &flow_update, &body, &cmd, resp);
  if (!mod)
    goto out;
  static const char *const nums[] = {"cookie", "cookie_mask", "table_id",
                                     "priority", "idle_timeout",
                                     "hard_timeout", "flags", "out_port",
                                     "out_group", "buffer_id"};
  for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
    const json_t *v = json_object_get(mod, nums[i]);
    uint64_t x;
    bool wide = strncmp(nums[i], "cookie", 6) == 0;
    if (v && !get_uint(v, wide ? UINT64_MAX : UINT32_MAX, &x)) {
      sim_resp_text(resp, 400, "Failed to parse %s field: not a uint%d.",
                    nums[i], wide ? 64 : 32);
      goto out;
    }
  }
  const json_t *ins = json_object_get(mod, "instructions");
  const json_t *match = json_object_get(mod, "match");
  if ((ins && !json_is_array(ins)) || (match && !json_is_object(match))) {
    sim_resp_text(resp, 400, "Failed to parse %s field: wrong type.",
                  ins && !json_is_array(ins) ? "instructions" : "match");
    goto out;
  }
  if (match && !check_fields(match, "ofp_match", match_fields, resp))
    goto out;
  if (cmd == FC_ADD) {
    json_t *f = flow_stats(mod);
    const char *id = json_string_value(json_object_get(f, "id"));
    size_t i;
    json_t *e;
    json_array_foreach(flows, i, e)
    {
      if (strcmp(json_string_value(json_object_get(e, "id")), id) == 0) {
        json_array_set_new(flows, i, f); /* same flow: replaced */
        f = NULL;
        break;
      }
    }
    if (f && json_array_size(flows) >= MAX_FLOWS) {
      json_decref(f);
      sim_resp_text(resp, 500, "flow table full (the simulator keeps at most "
                               "%u flows)", MAX_FLOWS);
      goto out;
    }
    if (f)
      json_array_append_new(flows, f);
  } else {
    bool strict = cmd == FC_MODIFY_STRICT || cmd == FC_DELETE_STRICT;
    bool del = cmd == FC_DELETE || cmd == FC_DELETE_STRICT;
    size_t i = 0;
    while (i < json_array_size(flows)) {
      json_t *e = json_array_get(flows, i);
      if (!flow_matches(e, mod, strict)) {
        i++;
      } else if (del) {
        json_array_remove(flows, i);
      } else {
        json_object_set_new(e, "instructions",
                            json_is_array(ins) ? json_deep_copy(ins)
                                               : json_array());
        i++;
      }
    }
  }
  sim_resp_json(resp, 200, json_object());
out:
  json_decref(body);
}

/* ---- meters ---- */

static bool uses_meter(const json_t *flow, uint64_t meter_id)
{
  size_t i;
  json_t *ins;
  json_array_foreach(json_object_get(flow, "instructions"), i, ins)
  {
    if (uget(json_object_get(ins, "meter"), "meter_id", 0) == meter_id)
      return true;
  }
  return false;
}

static json_t *meter_entry(const json_t *mod)
{
  const json_t *bands = json_object_get(mod, "bands");
  uint64_t id = uget(mod, "meter_id", 0);
  return json_pack("{s:{s:I,s:I,s:o},s:{s:I,s:i,s:s,s:s,s:i,s:i,s:[]}}",
                   "config", "flags", (json_int_t)uget(mod, "flags", 0),
                   "meter_id", (json_int_t)id, "bands",
                   json_is_array(bands) ? json_deep_copy(bands) : json_array(),
                   "stats", "meter_id", (json_int_t)id, "flow_count", 0,
                   "packet_in_count", "0", "byte_in_count", "0",
                   "duration_sec", 0, "duration_nsec", 0, "band_stats");
}

static long find_meter(const json_t *meters, uint64_t id)
{
  size_t i;
  json_t *e;
  json_array_foreach(meters, i, e)
  {
    if (uget(json_object_get(e, "config"), "meter_id", 0) == id)
      return (long)i;
  }
  return -1;
}

void sim_of_meter_mod(json_t *flows, json_t *meters, const sim_req_t *req,
                      sim_resp_t *resp)
{
  json_t *body = NULL;
  int cmd;
  json_t *mod = parse_update(req, &meter_update, &body, &cmd, resp);
  if (!mod)
    goto out;
  uint64_t id = 0, flags;
  const json_t *idv = json_object_get(mod, "meter_id");
  const json_t *fv = json_object_get(mod, "flags");
  const json_t *bands = json_object_get(mod, "bands");
  if ((idv && !get_uint(idv, UINT32_MAX, &id)) ||
      (fv && !get_uint(fv, UINT32_MAX, &flags)) ||
      (bands && !json_is_array(bands))) {
    sim_resp_text(resp, 400, "Failed to parse meter_mod field: wrong type.");
    goto out;
  }
  long at = find_meter(meters, id);
  if (cmd == MC_ADD) {
    /* An existing meter id is left alone: voltha logs Meter-already-exists
     * and answers OK. */
    if (at < 0) {
      if (json_array_size(meters) >= MAX_FLOWS) {
        sim_resp_text(resp, 500, "meter table full");
        goto out;
      }
      json_array_append_new(meters, meter_entry(mod));
    }
  } else if (cmd == MC_MODIFY) {
    if (at < 0) {
      /* A plain Go error in the core: gRPC Unknown, which the gateway
       * answers as a 500 with the text. */
      sim_resp_text(resp, 500, "no-meter-to-modify: %llu",
                    (unsigned long long)id);
      goto out;
    }
    json_array_set_new(meters, (size_t)at, meter_entry(mod));
  } else if (at >= 0) {
    size_t i = 0;
    while (i < json_array_size(flows)) {
      if (uses_meter(json_array_get(flows, i), id))
        json_array_remove(flows, i);
      else
        i++;
    }
    json_array_remove(meters, (size_t)at);
  }
  sim_resp_json(resp, 200, json_object());
out:
  json_decref(body);
}

json_t *sim_of_meters_json(const json_t *flows, const json_t *meters)
{
  json_t *items = json_deep_copy(meters);
  size_t i, j;
  json_t *e, *f;
  json_array_foreach(items, i, e)
  {
    uint64_t id = uget(json_object_get(e, "config"), "meter_id", 0);
    json_int_t n = 0;
    json_array_foreach(flows, j, f) n += uses_meter(f, id);
    json_object_set_new(json_object_get(e, "stats"), "flow_count",
                        json_integer(n));
  }
  return json_pack("{s:o}", "items", items);
}
