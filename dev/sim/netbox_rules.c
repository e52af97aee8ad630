/* What NetBox's models do beyond their fields: uniqueness and consistency
 * rules (each model's clean() and constraints), the values computed on
 * read (counts, children, cable ends), the generic-relation fields
 * (vid_ranges, cable terminations) and what a delete does to the objects
 * that refer to the one deleted. netbox.c calls these; the tables they
 * follow are in netbox_schema.c. */
#include "dev/sim/netbox_int.h"

#include "common/alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VID_MIN 1
#define VID_MAX 4094
#define MAX_TERMS 16

/* ---- cables ---- */

/* The cable one end of which is (type, id), or NULL; *end gets "A"/"B". */
json_t *nb_cable_of(netbox_t *nb, const char *type, json_int_t id,
                    const char **end)
{
  size_t i, j;
  json_t *c, *t;
  json_array_foreach(nb->objs[M_CABLE], i, c)
  {
    for (int s = 0; s < 2; s++) {
      json_array_foreach(json_object_get(c, s ? "b_terminations"
                                              : "a_terminations"), j, t)
      {
        if (strcmp(nb_sval(t, "object_type"), type) == 0 &&
            nb_ival(t, "object_id") == id) {
          if (end)
            *end = s ? "B" : "A";
          return c;
        }
      }
    }
  }
  return NULL;
}

/* The model behind a cable termination's object_type, or -1. */
static int term_model(const char *type)
{
  if (type && strcmp(type, "dcim.interface") == 0)
    return M_IFACE;
  if (type && strcmp(type, "circuits.circuittermination") == 0)
    return M_CTERM;
  return -1;
}

/* a_terminations / b_terminations on write: [{object_type, object_id}]. */
void nb_validate_terms(const char *field, const json_t *v, json_t *o,
                       json_t *errs)
{
  if (!json_is_array(v) || json_array_size(v) > MAX_TERMS) {
    nb_add_err(errs, field, "Expected a list of at most %d items.",
               MAX_TERMS);
    return;
  }
  json_t *out = json_array();
  size_t i;
  json_t *t;
  json_array_foreach((json_t *)(uintptr_t)v, i, t)
  {
    const char *type = nb_sval(t, "object_type");
    json_int_t id = nb_ival(t, "object_id");
    if (term_model(type) < 0) {
      nb_add_err(errs, field, "Invalid object type: only dcim.interface and "
                              "circuits.circuittermination are modelled by "
                              "the simulator.");
      break;
    }
    if (id < 1) {
      nb_add_err(errs, field, "object_id: A valid integer is required.");
      break;
    }
    json_array_append_new(out, json_pack("{s:s,s:I}", "object_type", type,
                                         "object_id", id));
  }
  json_object_set_new(o, field, out);
}

/* Cable.clean() and CableTermination.clean(), in their words. */
static void check_cable(netbox_t *nb, const json_t *o, json_int_t self,
                        json_t *errs)
{
  const json_t *a = json_object_get(o, "a_terminations");
  const json_t *b = json_object_get(o, "b_terminations");
  if (json_object_get(o, "length") && !json_is_null(json_object_get(o, "length")) &&
      !nb_sval(o, "length_unit")) {
    nb_add_err(errs, "non_field_errors",
               "Must specify a unit when setting a cable length");
    return;
  }
  if (self < 0 && (json_array_size(a) == 0 || json_array_size(b) == 0)) {
    nb_add_err(errs, "non_field_errors",
               "Must define A and B terminations when creating a new cable.");
    return;
  }
  const json_t *sides[2] = {a, b};
  for (int s = 0; s < 2; s++) {
    size_t i;
    json_t *t;
    const char *first = NULL;
    json_array_foreach((json_t *)(uintptr_t)sides[s], i, t)
    {
      const char *type = nb_sval(t, "object_type");
      json_int_t id = nb_ival(t, "object_id");
      if (first && strcmp(first, type) != 0) {
        nb_add_err(errs, "non_field_errors", "Cannot connect different "
                   "termination types to same end of cable.");
        return;
      }
      first = type;
      json_t *obj = nb_find_obj(nb, term_model(type), id);
      if (!obj) {
        nb_add_err(errs, "non_field_errors", "Invalid cable termination: "
                   "the assigned termination object does not exist.");
        return;
      }
      if (term_model(type) == M_IFACE && nb_sval(obj, "type") &&
          strcmp(nb_sval(obj, "type"), "virtual") == 0) {
        nb_add_err(errs, "non_field_errors",
                   "Cables cannot be terminated to Virtual interfaces");
        return;
      }
      const json_t *other = sides[1 - s];
      size_t j;
      json_t *u;
      json_array_foreach((json_t *)(uintptr_t)other, j, u)
      {
        if (strcmp(nb_sval(u, "object_type"), type) == 0 &&
            nb_ival(u, "object_id") == id) {
          nb_add_err(errs, "non_field_errors", "A and B terminations "
                     "cannot connect to the same object.");
          return;
        }
      }
      json_t *cable = nb_cable_of(nb, type, id, NULL);
      if (cable && nb_ival(cable, "id") != self) {
        nb_add_err(errs, "non_field_errors", "Duplicate termination found "
                   "for %s %lld: cable %lld", type, (long long)id,
                   (long long)nb_ival(cable, "id"));
        return;
      }
    }
  }
}

/* Removes (type, id) from every cable end (its object is being deleted). */
static void detach_from_cables(netbox_t *nb, const char *type, json_int_t id)
{
  size_t i;
  json_t *c;
  json_array_foreach(nb->objs[M_CABLE], i, c)
  {
    for (int s = 0; s < 2; s++) {
      json_t *ends = json_object_get(c, s ? "b_terminations" : "a_terminations");
      for (size_t j = 0; j < json_array_size(ends);) {
        json_t *t = json_array_get(ends, j);
        if (strcmp(nb_sval(t, "object_type"), type) == 0 &&
            nb_ival(t, "object_id") == id)
          json_array_remove(ends, j);
        else
          j++;
      }
    }
  }
}

/* ---- VLANs ---- */

/* vid_ranges on write: [[lo, hi], ...] (IntegerRangeSerializer, then
 * VLANGroup.clean()). */
void nb_validate_ranges(const json_t *v, json_t *o, json_t *errs)
{
  if (!json_is_array(v) || json_array_size(v) == 0 ||
      json_array_size(v) > 64) {
    nb_add_err(errs, "vid_ranges", "Ranges must be specified in the form "
                                   "(lower, upper).");
    return;
  }
  size_t i, j;
  json_t *r, *q;
  json_array_foreach((json_t *)(uintptr_t)v, i, r)
  {
    if (!json_is_array(r) || json_array_size(r) != 2) {
      nb_add_err(errs, "vid_ranges", "Ranges must be specified in the form "
                                     "(lower, upper).");
      return;
    }
    if (!json_is_integer(json_array_get(r, 0)) ||
        !json_is_integer(json_array_get(r, 1))) {
      nb_add_err(errs, "vid_ranges", "Range boundaries must be defined as "
                                     "integers.");
      return;
    }
    json_int_t lo = json_integer_value(json_array_get(r, 0));
    json_int_t hi = json_integer_value(json_array_get(r, 1));
    if (lo < VID_MIN) {
      nb_add_err(errs, "vid_ranges", "Starting VLAN ID in range (%lld) "
                 "cannot be less than %d", (long long)lo, VID_MIN);
      return;
    }
    if (hi > VID_MAX) {
      nb_add_err(errs, "vid_ranges", "Ending VLAN ID in range (%lld) cannot "
                 "exceed %d", (long long)hi, VID_MAX);
      return;
    }
    if (hi < lo) {
      nb_add_err(errs, "vid_ranges", "Ending VLAN ID in range must be "
                 "greater than or equal to the starting VLAN ID (%lld-%lld)",
                 (long long)lo, (long long)hi);
      return;
    }
    json_array_foreach((json_t *)(uintptr_t)v, j, q)
    {
      if (j < i && json_is_array(q) &&
          json_integer_value(json_array_get(q, 0)) <= hi &&
          json_integer_value(json_array_get(q, 1)) >= lo) {
        nb_add_err(errs, "vid_ranges", "Ranges cannot overlap.");
        return;
      }
    }
  }
  json_object_set(o, "vid_ranges", (json_t *)(uintptr_t)v);
}

bool nb_vid_in_group(const json_t *group, json_int_t vid)
{
  size_t i;
  json_t *r;
  json_array_foreach(json_object_get(group, "vid_ranges"), i, r)
  {
    if (vid >= json_integer_value(json_array_get(r, 0)) &&
        vid <= json_integer_value(json_array_get(r, 1)))
      return true;
  }
  return false;
}

static void ranges_text(const json_t *group, char *buf, size_t size)
{
  size_t i, used = 0;
  json_t *r;
  buf[0] = '\0';
  json_array_foreach(json_object_get(group, "vid_ranges"), i, r)
  {
    int n = snprintf(buf + used, size - used, "%s%lld-%lld", i ? ", " : "",
                     (long long)json_integer_value(json_array_get(r, 0)),
                     (long long)json_integer_value(json_array_get(r, 1)));
    if (n < 0 || (size_t)n >= size - used)
      break;
    used += (size_t)n;
  }
}

static json_int_t group_vids(const json_t *group)
{
  json_int_t n = 0;
  size_t i;
  json_t *r;
  json_array_foreach(json_object_get(group, "vid_ranges"), i, r)
    n += json_integer_value(json_array_get(r, 1)) -
         json_integer_value(json_array_get(r, 0)) + 1;
  return n;
}

/* ---- model rules ---- */

static bool same_str(const json_t *x, const json_t *o, const char *k)
{
  return nb_sval(x, k) && nb_sval(o, k) && strcmp(nb_sval(x, k), nb_sval(o, k)) == 0;
}

/* Unique by name: the models whose name field is unique=True. */
static bool unique_name(int m)
{
  return m == M_TENANT || m == M_SITE || m == M_MFR || m == M_ROLE ||
         m == M_PROVIDER || m == M_CTYPE || m == M_VLANGROUP;
}

/* Rules between o and another stored object x of the same model. */
static void check_pair(netbox_t *nb, int m, const json_t *o, const json_t *x,
                       json_t *errs)
{
  if (unique_name(m) && same_str(x, o, "name"))
    nb_add_err(errs, "name", "%s with this name already exists.",
               nb_models[m].verbose);
  if (same_str(x, o, "slug"))
    nb_add_err(errs, "slug", "%s with this slug already exists.",
               nb_models[m].verbose);
  if (m == M_DEVICE && same_str(x, o, "name") &&
      nb_ival(x, "site") == nb_ival(o, "site") &&
      nb_ival(x, "tenant") == nb_ival(o, "tenant"))
    nb_add_err(errs, "non_field_errors", "Device name must be unique per "
                                         "site.");
  if (m == M_IFACE && nb_ival(x, "device") == nb_ival(o, "device") &&
      same_str(x, o, "name"))
    nb_add_err(errs, "non_field_errors", "The fields device, name must make "
                                         "a unique set.");
  /* UniqueConstraint(group, vid) and (group, name): NULL groups are
   * distinct, as in PostgreSQL. */
  if (m == M_VLAN && nb_ival(o, "group") > 0 &&
      nb_ival(x, "group") == nb_ival(o, "group")) {
    if (nb_ival(x, "vid") == nb_ival(o, "vid"))
      nb_add_err(errs, "non_field_errors",
                 "VLAN with this Group and VLAN ID already exists.");
    else if (same_str(x, o, "name"))
      nb_add_err(errs, "non_field_errors",
                 "VLAN with this Group and Name already exists.");
  }
  if (m == M_CIRCUIT && nb_ival(x, "provider") == nb_ival(o, "provider") &&
      same_str(x, o, "cid"))
    nb_add_err(errs, "non_field_errors",
               "Circuit with this Provider and Circuit ID already exists.");
  if (m == M_CTERM && nb_ival(x, "circuit") == nb_ival(o, "circuit") &&
      same_str(x, o, "term_side"))
    nb_add_err(errs, "non_field_errors", "Circuit termination with this "
               "Circuit and Termination side already exists.");
  if ((m == M_IP || m == M_PREFIX) && nb_ival(x, "vrf") == nb_ival(o, "vrf")) {
    const char *k = m == M_IP ? "address" : "prefix";
    sim_ip_t a, b;
    if (sim_ip_parse(nb_sval(x, k), true, &a) == 0 &&
        sim_ip_parse(nb_sval(o, k), true, &b) == 0 && a.family == b.family &&
        a.addr == b.addr && (m == M_IP || a.plen == b.plen)) {
      char vrfname[128] = "global table";
      json_t *vrf = nb_find_obj(nb, M_VRF, nb_ival(o, "vrf"));
      if (vrf)
        snprintf(vrfname, sizeof(vrfname), "VRF %s", nb_sval(vrf, "name"));
      nb_add_err(errs, k, "Duplicate %s found in %s: %s",
                 m == M_IP ? "IP address" : "prefix", vrfname,
                 nb_sval(x, k));
    }
  }
}

/* Rules about o alone (its clean()). */
static void check_one(netbox_t *nb, int m, const json_t *o, json_int_t self,
                      json_t *errs)
{
  if (m == M_IP) {
    bool has_t = nb_sval(o, "assigned_object_type") != NULL;
    bool has_i = nb_ival(o, "assigned_object_id") >= 0;
    if (has_t != has_i)
      nb_add_err(errs, "non_field_errors", "assigned_object_type and "
                                           "assigned_object_id go together.");
    else if (has_i &&
             !nb_find_obj(nb, M_IFACE, nb_ival(o, "assigned_object_id")))
      nb_add_err(errs, "assigned_object_id", "Related object not found "
                 "using the provided numeric ID: %lld",
                 (long long)nb_ival(o, "assigned_object_id"));
  }
  if (m == M_VLAN && nb_ival(o, "group") > 0) {
    json_t *g = nb_find_obj(nb, M_VLANGROUP, nb_ival(o, "group"));
    if (g && !nb_vid_in_group(g, nb_ival(o, "vid"))) {
      char r[256];
      ranges_text(g, r, sizeof(r));
      nb_add_err(errs, "vid", "VID must be in ranges %s for VLANs in group "
                 "%s", r, nb_sval(g, "name"));
    }
  }
  if (m == M_CTERM) {
    bool has_t = nb_sval(o, "termination_type") != NULL;
    json_int_t tid = nb_ival(o, "termination_id");
    if (has_t && tid < 0)
      nb_add_err(errs, "non_field_errors", "Please select a Site.");
    else if (!has_t || !nb_find_obj(nb, M_SITE, tid))
      nb_add_err(errs, "non_field_errors", "A circuit termination must "
                 "attach to a terminating object.");
  }
  if (m == M_CABLE)
    check_cable(nb, o, self, errs);
}

void nb_check_model(netbox_t *nb, int m, const json_t *o, json_int_t self,
                    json_t *errs)
{
  size_t i;
  json_t *x;
  if (json_object_size(errs))
    return;
  json_array_foreach(nb->objs[m], i, x)
  {
    if (nb_ival(x, "id") == self)
      continue;
    check_pair(nb, m, o, x, errs);
    if (json_object_size(errs))
      return;
  }
  check_one(nb, m, o, self, errs);
}

/* ---- deleting ---- */

static ondelete_t rule_of(int k, const char *field)
{
  for (const delete_rule_t *r = nb_delete_rules; r->field; r++)
    if (r->model == k && strcmp(r->field, field) == 0)
      return r->rule;
  return OD_PROTECT;
}

size_t nb_dependents(netbox_t *nb, int m, json_int_t id)
{
  size_t n = 0;
  for (int k = 0; k < M__COUNT; k++) {
    for (const field_t *f = nb_models[k].fields; f->name; f++) {
      if (f->type != FT_FK || f->fk != m || rule_of(k, f->name) != OD_PROTECT)
        continue;
      size_t i;
      json_t *x;
      json_array_foreach(nb->objs[k], i, x)
      {
        if (nb_ival(x, f->name) == id)
          n++;
      }
    }
  }
  return n;
}

static void remove_obj(netbox_t *nb, int m, json_int_t id)
{
  json_t *arr = nb->objs[m];
  for (size_t i = 0; i < json_array_size(arr); i++)
    if (nb_ival(json_array_get(arr, i), "id") == id) {
      json_array_remove(arr, i);
      return;
    }
}

/* Deletes every object of model k whose key `field` is id. */
static void delete_where(netbox_t *nb, int k, const char *field, json_int_t id)
{
  size_t i = 0;
  while (i < json_array_size(nb->objs[k])) {
    json_t *x = json_array_get(nb->objs[k], i);
    if (nb_ival(x, field) == id &&
        (k != M_IP || nb_sval(x, "assigned_object_type"))) {
      nb_delete_cascade(nb, k, nb_ival(x, "id"));
      i = 0; /* the array changed under us */
      continue;
    }
    i++;
  }
}

void nb_delete_cascade(netbox_t *nb, int m, json_int_t id)
{
  for (int k = 0; k < M__COUNT; k++) {
    for (const field_t *f = nb_models[k].fields; f->name; f++) {
      if (f->type != FT_FK || f->fk != m)
        continue;
      ondelete_t r = rule_of(k, f->name);
      if (r == OD_CASCADE) {
        delete_where(nb, k, f->name, id);
      } else if (r == OD_SET_NULL) {
        size_t i;
        json_t *x;
        json_array_foreach(nb->objs[k], i, x)
        {
          if (nb_ival(x, f->name) == id)
            json_object_set_new(x, f->name, json_null());
        }
      }
    }
  }
  /* Generic relations: an interface's IP addresses go with it
   * (GenericRelation); a cable loses the ends whose object is gone. */
  if (m == M_IFACE)
    delete_where(nb, M_IP, "assigned_object_id", id);
  if (m == M_IFACE || m == M_CTERM)
    detach_from_cables(nb, m == M_IFACE ? "dcim.interface"
                                        : "circuits.circuittermination", id);
  remove_obj(nb, m, id);
}

/* ---- values computed on read ---- */

static json_int_t count_refs(netbox_t *nb, int k, const char *field,
                             json_int_t id)
{
  json_int_t n = 0;
  size_t i;
  json_t *x;
  json_array_foreach(nb->objs[k], i, x) n += nb_ival(x, field) == id;
  return n;
}

static json_t *cable_brief(netbox_t *nb, const sim_req_t *req,
                           const json_t *c)
{
  return c ? nb_render(nb, req, M_CABLE, c, true) : json_null();
}

/* cable, cable_end, link_peers, _occupied of a cabled object. */
static void cable_fields(netbox_t *nb, const sim_req_t *req, const char *type,
                         json_int_t id, bool brief, json_t *out)
{
  const char *end = NULL;
  json_t *c = nb_cable_of(nb, type, id, &end);
  json_object_set_new(out, "cable", cable_brief(nb, req, c));
  json_object_set_new(out, "_occupied", json_boolean(c != NULL));
  if (brief)
    return;
  json_object_set_new(out, "cable_end", json_string(c ? end : ""));
  json_t *peers = json_array();
  const char *peer_type = NULL;
  size_t i;
  json_t *t;
  json_array_foreach(c ? json_object_get(c, strcmp(end, "A") == 0
                                                ? "b_terminations"
                                                : "a_terminations")
                       : NULL, i, t)
  {
    peer_type = nb_sval(t, "object_type");
    json_t *obj = nb_find_obj(nb, term_model(peer_type), nb_ival(t, "object_id"));
    if (obj)
      json_array_append_new(peers, nb_render(nb, req, term_model(peer_type),
                                             obj, true));
  }
  json_object_set_new(out, "link_peers", peers);
  json_object_set_new(out, "link_peers_type",
                      peer_type ? json_string(peer_type) : json_null());
}

/* The nested termination of a circuit (CircuitCircuitTerminationSerializer). */
static json_t *circuit_end(netbox_t *nb, const sim_req_t *req, json_int_t cid,
                           const char *side)
{
  size_t i;
  json_t *t;
  json_array_foreach(nb->objs[M_CTERM], i, t)
  {
    if (nb_ival(t, "circuit") != cid || strcmp(nb_sval(t, "term_side"), side))
      continue;
    json_t *out = nb_render(nb, req, M_CTERM, t, true);
    json_object_del(out, "circuit");
    json_object_del(out, "term_side");
    json_object_del(out, "cable");
    json_object_del(out, "_occupied");
    static const char *const keep[] = {"termination_type", "termination_id",
                                       "port_speed", "upstream_speed",
                                       "xconnect_id"};
    for (size_t k = 0; k < sizeof(keep) / sizeof(keep[0]); k++) {
      json_t *v = json_object_get(t, keep[k]);
      json_object_set_new(out, keep[k], v ? json_incref(v) : json_null());
    }
    json_t *site = nb_find_obj(nb, M_SITE, nb_ival(t, "termination_id"));
    json_object_set_new(out, "termination",
                        site ? nb_render(nb, req, M_SITE, site, true)
                             : json_null());
    return out;
  }
  return json_null();
}

static json_t *terms_json(netbox_t *nb, const sim_req_t *req, const json_t *v)
{
  json_t *out = json_array();
  size_t i;
  json_t *t;
  json_array_foreach(v, i, t)
  {
    int k = term_model(nb_sval(t, "object_type"));
    json_t *obj = nb_find_obj(nb, k, nb_ival(t, "object_id"));
    json_array_append_new(
        out, json_pack("{s:s,s:I,s:o}", "object_type",
                       nb_sval(t, "object_type"), "object_id",
                       nb_ival(t, "object_id"), "object",
                       obj ? nb_render(nb, req, k, obj, true) : json_null()));
  }
  return out;
}

json_t *nb_field_extra(netbox_t *nb, const sim_req_t *req, const field_t *f,
                       const json_t *v)
{
  if (f->type == FT_TERMS)
    return terms_json(nb, req, v);
  return v ? json_incref((json_t *)(uintptr_t)v) : json_null();
}

/* A prefix's child prefixes (same VRF, strictly inside) and its depth
 * (how many prefixes contain it): NetBox keeps both up to date. */
static void prefix_family(netbox_t *nb, const json_t *o, json_int_t *children,
                          json_int_t *depth)
{
  sim_ip_t me, x;
  *children = *depth = 0;
  if (sim_ip_parse(nb_sval(o, "prefix"), true, &me) < 0)
    return;
  size_t i;
  json_t *p;
  json_array_foreach(nb->objs[M_PREFIX], i, p)
  {
    if (p == o || nb_ival(p, "vrf") != nb_ival(o, "vrf") ||
        sim_ip_parse(nb_sval(p, "prefix"), true, &x) < 0 ||
        x.family != me.family)
      continue;
    if (x.plen > me.plen && sim_ip_contains(&me, &x))
      (*children)++;
    else if (x.plen < me.plen && sim_ip_contains(&x, &me))
      (*depth)++;
  }
}

void nb_render_extras(netbox_t *nb, const sim_req_t *req, int m,
                      const json_t *o, bool brief, json_t *out)
{
  json_int_t id = nb_ival(o, "id");
  if (m == M_IFACE || m == M_CTERM)
    cable_fields(nb, req, m == M_IFACE ? "dcim.interface"
                                       : "circuits.circuittermination",
                 id, brief, out);
  /* Related-object counts are in the brief form too. */
  json_int_t vlans = m == M_VLANGROUP ? count_refs(nb, M_VLAN, "group", id) : 0;
  if (m == M_VLANGROUP)
    json_object_set_new(out, "vlan_count", json_integer(vlans));
  if (m == M_PROVIDER || m == M_CTYPE)
    json_object_set_new(out, "circuit_count",
                        json_integer(count_refs(nb, M_CIRCUIT,
                                                m == M_PROVIDER ? "provider"
                                                                : "type",
                                                id)));
  if (brief)
    return;
  switch (m) {
  case M_IP: {
    json_t *iface = NULL;
    if (nb_sval(o, "assigned_object_type"))
      iface = nb_find_obj(nb, M_IFACE, nb_ival(o, "assigned_object_id"));
    json_object_set_new(out, "assigned_object",
                        iface ? nb_render(nb, req, M_IFACE, iface, true)
                              : json_null());
    break;
  }
  case M_PREFIX: {
    json_int_t children, depth;
    prefix_family(nb, o, &children, &depth);
    json_object_set_new(out, "children", json_integer(children));
    json_object_set_new(out, "_depth", json_integer(depth));
    break;
  }
  case M_VLANGROUP: {
    json_int_t total = group_vids(o);
    char util[32];
    snprintf(util, sizeof(util), "%.2f", total ? 100.0 * (double)vlans /
                                                     (double)total
                                               : 0.0);
    json_object_set_new(out, "scope", json_null());
    json_object_set_new(out, "total_vlan_ids", json_integer(total));
    json_object_set_new(out, "utilization", json_string(util));
    break;
  }
  case M_VLAN:
    json_object_set_new(out, "l2vpn_termination", json_null());
    json_object_set_new(out, "prefix_count",
                        json_integer(count_refs(nb, M_PREFIX, "vlan", id)));
    break;
  case M_PROVIDER:
    json_object_set_new(out, "accounts", json_array());
    json_object_set_new(out, "asns", json_array());
    break;
  case M_CIRCUIT:
    json_object_set_new(out, "termination_a", circuit_end(nb, req, id, "A"));
    json_object_set_new(out, "termination_z", circuit_end(nb, req, id, "Z"));
    json_object_set_new(out, "assignments", json_array());
    break;
  case M_CTERM: {
    json_t *site = nb_find_obj(nb, M_SITE, nb_ival(o, "termination_id"));
    json_object_set_new(out, "termination",
                        site ? nb_render(nb, req, M_SITE, site, true)
                             : json_null());
    break;
  }
  default:
    break;
  }
}

const char *nb_display(netbox_t *nb, int m, const json_t *o, char *buf,
                       size_t size)
{
  if (m == M_VLAN) {
    snprintf(buf, size, "%s (%lld)", nb_sval(o, "name"),
             (long long)nb_ival(o, "vid"));
    return buf;
  }
  if (m == M_CTERM) {
    json_t *c = nb_find_obj(nb, M_CIRCUIT, nb_ival(o, "circuit"));
    snprintf(buf, size, "%s: Termination %s", c ? nb_sval(c, "cid") : "?",
             nb_sval(o, "term_side"));
    return buf;
  }
  if (m == M_CABLE && (!nb_sval(o, "label") || !*nb_sval(o, "label"))) {
    snprintf(buf, size, "#%lld", (long long)nb_ival(o, "id"));
    return buf;
  }
  const char *d = nb_models[m].display ? nb_sval(o, nb_models[m].display)
                                       : NULL;
  if (!d) {
    snprintf(buf, size, "%s %lld", nb_models[m].verbose,
             (long long)nb_ival(o, "id"));
    return buf;
  }
  return d;
}
