/* NetBox 4.x REST (SOUTHBOUND.md §3): token auth answering 403, DRF
 * pagination with absolute next/previous URLs, the filters clients use,
 * trailing-slash redirects, nested brief objects and choice dicts on read,
 * ids or attribute dicts on write, bulk operations (all-or-none), ETag /
 * If-Match. The models are tables (netbox_schema.c); this file is the
 * engine that renders, validates, stores and filters by them, and routes;
 * the available-* views are in netbox_avail.c. The whole handler runs
 * under the service mutex, the simulator's equivalent of NetBox's advisory
 * lock. */
#include "dev/sim/netbox_int.h"

#include "common/alloc.h"
#include "common/buf.h"
#include "common/clock.h"

#include <ctype.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>


/* ---- small helpers ---- */

const field_t *nb_find_field(const model_desc_t *md, const char *name)
{
  for (const field_t *f = md->fields; f->name; f++)
    if (strcmp(f->name, name) == 0)
      return f;
  return NULL;
}

const char *nb_choice_label(const char *const *choices, const char *v)
{
  for (size_t i = 0; choices[i]; i += 2)
    if (strcmp(choices[i], v) == 0)
      return choices[i + 1];
  return NULL;
}

/* NetBox timestamps have microseconds; each write gets a strictly later one
 * so that ETags always change. */
static json_t *stamp(netbox_t *nb)
{
  int64_t us = (int64_t)pv_clock_wall_ms() * 1000;
  if (us <= nb->last_us)
    us = nb->last_us + 1;
  nb->last_us = us;
  char base[40], out[48];
  sim_iso(us / 1000, base, sizeof(base)); /* 2024-01-01T00:00:00.123Z */
  snprintf(out, sizeof(out), "%.23s%03dZ", base, (int)(us % 1000));
  return json_string(out);
}

json_t *nb_find_obj(netbox_t *nb, int m, json_int_t id)
{
  json_t *arr = nb->objs[m];
  /* Ids ascend, so a binary search finds them. */
  size_t lo = 0, hi = json_array_size(arr);
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    json_int_t v = json_integer_value(json_object_get(json_array_get(arr, mid), "id"));
    if (v == id)
      return json_array_get(arr, mid);
    if (v < id)
      lo = mid + 1;
    else
      hi = mid;
  }
  return NULL;
}

const char *nb_sval(const json_t *o, const char *k)
{
  return json_string_value(json_object_get(o, k));
}

json_int_t nb_ival(const json_t *o, const char *k)
{
  json_t *v = json_object_get(o, k);
  return json_is_integer(v) ? json_integer_value(v) : -1;
}

static void obj_url(const sim_req_t *req, int m, json_int_t id, char *buf,
                    size_t size)
{
  snprintf(buf, size, "%s/api/%s/%s/%lld/", req->base_url, nb_models[m].app,
           nb_models[m].name, (long long)id);
}

/* ---- rendering ---- */

static json_t *family_json(const char *addr)
{
  bool v6 = addr && strchr(addr, ':');
  return json_pack("{s:i,s:s}", "value", v6 ? 6 : 4, "label",
                   v6 ? "IPv6" : "IPv4");
}

static json_t *tags_json(netbox_t *nb, const sim_req_t *req, const json_t *o)
{
  json_t *out = json_array();
  size_t i;
  json_t *t;
  json_array_foreach(json_object_get(o, "tags"), i, t)
  {
    const char *name = json_string_value(t);
    json_int_t id = json_integer_value(json_object_get(nb->tags, name));
    char url[300];
    snprintf(url, sizeof(url), "%s/api/extras/tags/%lld/", req->base_url,
             (long long)id);
    json_array_append_new(
        out, json_pack("{s:I,s:s,s:s,s:s,s:s,s:s}", "id", id, "url", url,
                       "display", name, "name", name, "slug", name, "color",
                       "9e9e9e"));
  }
  return out;
}

static json_t *field_json(netbox_t *nb, const sim_req_t *req,
                          const field_t *f, const json_t *o)
{
  json_t *v = json_object_get(o, f->name);
  switch (f->type) {
  case FT_FK: {
    json_t *ref = json_is_integer(v) ? nb_find_obj(nb, f->fk, json_integer_value(v))
                                     : NULL;
    return ref ? nb_render(nb, req, f->fk, ref, true) : json_null();
  }
  case FT_CHOICE: {
    const char *s = json_string_value(v);
    const char *label = s ? nb_choice_label(f->choices, s) : NULL;
    if (!label)
      return json_null();
    return json_pack("{s:s,s:s}", "value", s, "label", label);
  }
  case FT_NULL:
    return json_null();
  default:
    return nb_field_extra(nb, req, f, v);
  }
}

json_t *nb_render(netbox_t *nb, const sim_req_t *req, int m,
                      const json_t *o, bool brief)
{
  const model_desc_t *md = &nb_models[m];
  json_int_t id = nb_ival(o, "id");
  char url[300], durl[300];
  obj_url(req, m, id, url, sizeof(url));
  snprintf(durl, sizeof(durl), "%s/%s/%s/%lld/", req->base_url, md->app,
           md->name, (long long)id);
  json_t *out = json_object();
  json_object_set_new(out, "id", json_integer(id));
  json_object_set_new(out, "url", json_string(url));
  json_object_set_new(out, "display_url", json_string(durl));
  char dbuf[160];
  json_object_set_new(out, "display",
                      json_string(nb_display(nb, m, o, dbuf, sizeof(dbuf))));
  if (brief) {
    for (const char *const *b = md->brief; *b; b++) {
      if (strcmp(*b, "family") == 0) {
        json_object_set_new(out, "family",
                            family_json(nb_sval(o, m == M_IP ? "address" : "prefix")));
        continue;
      }
      const field_t *f = nb_find_field(md, *b);
      if (f)
        json_object_set_new(out, *b, field_json(nb, req, f, o));
    }
    nb_render_extras(nb, req, m, o, true, out);
    return out;
  }
  if (m == M_IP || m == M_PREFIX)
    json_object_set_new(out, "family",
                        family_json(nb_sval(o, m == M_IP ? "address" : "prefix")));
  for (const field_t *f = md->fields; f->name; f++)
    json_object_set_new(out, f->name, field_json(nb, req, f, o));
  nb_render_extras(nb, req, m, o, false, out);
  json_object_set_new(out, "tags", tags_json(nb, req, o));
  json_object_set_new(out, "custom_fields",
                      json_deep_copy(json_object_get(o, "custom_fields")));
  json_object_set_new(out, "created", json_incref(json_object_get(o, "created")));
  json_object_set_new(out, "last_updated",
                      json_incref(json_object_get(o, "last_updated")));
  return out;
}

/* ---- validation ---- */

void nb_add_err(json_t *errs, const char *field, const char *fmt, ...)
{
  char msg[300];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  json_t *list = json_object_get(errs, field);
  if (!list) {
    list = json_array();
    json_object_set_new(errs, field, list);
  }
  json_array_append_new(list, json_string(msg));
}

static bool slug_ok(const char *s)
{
  if (!*s)
    return false;
  for (; *s; s++)
    if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_')
      return false;
  return true;
}

/* Resolves a write-side foreign key: an id, or a dict of attributes. */
static json_t *resolve_fk(netbox_t *nb, int m, const json_t *v,
                          const char *field, json_t *errs)
{
  if (json_is_integer(v)) {
    json_t *o = nb_find_obj(nb, m, json_integer_value(v));
    if (!o)
      nb_add_err(errs, field, "Related object not found using the provided "
                           "numeric ID: %lld",
              (long long)json_integer_value(v));
    return o;
  }
  if (json_is_object(v)) {
    json_t *hit = NULL;
    size_t hits = 0, i;
    json_t *o;
    json_array_foreach(nb->objs[m], i, o)
    {
      const char *k;
      json_t *want;
      bool all = true;
      json_object_foreach((json_t *)(uintptr_t)v, k, want)
      {
        json_t *have = json_object_get(o, k);
        if (!have || !json_equal(have, want))
          all = false;
      }
      if (all) {
        hit = o;
        hits++;
      }
    }
    char *dump = json_dumps(v, JSON_COMPACT);
    if (hits == 0)
      nb_add_err(errs, field, "Related object not found using the provided "
                           "attributes: %.200s", dump ? dump : "{}");
    else if (hits > 1)
      nb_add_err(errs, field, "Multiple objects match the provided "
                           "attributes: %.200s", dump ? dump : "{}");
    free(dump);
    return hits == 1 ? hit : NULL;
  }
  char *dump = json_dumps(v, JSON_ENCODE_ANY);
  nb_add_err(errs, field, "Related objects must be referenced by numeric ID or "
                       "by dictionary of attributes. Received an "
                       "unrecognized value: %.100s", dump ? dump : "");
  free(dump);
  return NULL;
}

static void set_tags(netbox_t *nb, json_t *dst, const json_t *v, json_t *errs)
{
  if (!json_is_array(v)) {
    nb_add_err(errs, "tags", "Expected a list of items but got type \"%s\".",
            json_is_object(v) ? "dict" : "str");
    return;
  }
  json_t *names = json_array();
  size_t i;
  json_t *t;
  json_array_foreach((json_t *)(uintptr_t)v, i, t)
  {
    const char *name = json_string_value(t);
    if (json_is_object(t))
      name = nb_sval(t, "name") ? nb_sval(t, "name") : nb_sval(t, "slug");
    if (json_is_integer(t)) {
      const char *k;
      json_t *idv;
      json_object_foreach(nb->tags, k, idv)
      {
        if (json_integer_value(idv) == json_integer_value(t))
          name = k;
      }
    }
    if (!name || !*name || strlen(name) > 100) {
      nb_add_err(errs, "tags", "Related object not found using the provided "
                            "attributes.");
      continue;
    }
    json_array_append_new(names, json_string(name));
  }
  json_object_set_new(dst, "tags", names);
}

/* Builds the stored form of an object from a write body: a copy of `old`
 * (NULL on create) with the given fields applied. Errors go to errs.
 * `partial` is PATCH semantics: required fields need not be present. */
json_t *nb_validate(netbox_t *nb, int m, const json_t *in,
                        const json_t *old, bool partial, json_t *errs)
{
  const model_desc_t *md = &nb_models[m];
  json_t *o = old ? json_deep_copy(old) : json_object();
  if (!json_is_object(in)) {
    nb_add_err(errs, "non_field_errors", "Invalid data. Expected a dictionary, "
                                      "but got %s.",
            json_is_array(in) ? "list" : "str");
    return o;
  }
  for (const field_t *f = md->fields; f->name; f++) {
    json_t *v = json_object_get(in, f->name);
    if (!v) {
      if (old || partial)
        continue;
      if (f->required) {
        nb_add_err(errs, f->name, "This field is required.");
        continue;
      }
      /* Defaults on create. */
      if (f->type == FT_RANGES)
        json_object_set_new(o, f->name, json_pack("[[i,i]]", 1, 4094));
      else if (f->type == FT_TERMS)
        json_object_set_new(o, f->name, json_array());
      else if (f->type == FT_BOOL)
        json_object_set_new(o, f->name, json_boolean(f->def &&
                                                     strcmp(f->def, "true") == 0));
      else if (f->type == FT_INT && f->def)
        json_object_set_new(o, f->name, json_integer(strtoll(f->def, NULL, 10)));
      else if (f->def)
        json_object_set_new(o, f->name, json_string(f->def));
      else
        json_object_set_new(o, f->name, json_null());
      continue;
    }
    if (json_is_null(v)) {
      if (!f->nullable && f->type != FT_NULL)
        nb_add_err(errs, f->name, "This field may not be null.");
      else
        json_object_set_new(o, f->name, json_null());
      continue;
    }
    switch (f->type) {
    case FT_STR:
    case FT_SLUG: {
      const char *s = json_string_value(v);
      if (!s) {
        nb_add_err(errs, f->name, "Not a valid string.");
        break;
      }
      if (!*s && f->required) {
        nb_add_err(errs, f->name, "This field may not be blank.");
        break;
      }
      if (f->maxlen && strlen(s) > f->maxlen) {
        nb_add_err(errs, f->name, "Ensure this field has no more than %u "
                               "characters.", f->maxlen);
        break;
      }
      if (f->type == FT_SLUG && !slug_ok(s)) {
        nb_add_err(errs, f->name, "Enter a valid \"slug\" consisting of letters, "
                               "numbers, underscores or hyphens.");
        break;
      }
      json_object_set(o, f->name, v);
      break;
    }
    case FT_INT:
      if (!json_is_integer(v) || json_integer_value(v) < 0 ||
          json_integer_value(v) > INT32_MAX)
        nb_add_err(errs, f->name, "A valid integer is required.");
      else
        json_object_set(o, f->name, v);
      break;
    case FT_BOOL:
      if (!json_is_boolean(v))
        nb_add_err(errs, f->name, "Must be a valid boolean.");
      else
        json_object_set(o, f->name, v);
      break;
    case FT_FK: {
      json_t *ref = resolve_fk(nb, f->fk, v, f->name, errs);
      if (ref)
        json_object_set_new(o, f->name, json_integer(nb_ival(ref, "id")));
      break;
    }
    case FT_CHOICE:
    case FT_CHOICE_RAW: {
      const char *s = json_string_value(v);
      if (json_is_object(v))
        s = nb_sval(v, "value");
      if (!s || !nb_choice_label(f->choices, s)) {
        char *dump = json_dumps(v, JSON_ENCODE_ANY);
        nb_add_err(errs, f->name, "%.100s is not a valid choice.",
                dump ? dump : "");
        free(dump);
      } else {
        json_object_set_new(o, f->name, json_string(s));
      }
      break;
    }
    case FT_IPADDR:
    case FT_PREFIX: {
      sim_ip_t ip;
      const char *s = json_string_value(v);
      char buf[80];
      if (!s || sim_ip_parse(s, true, &ip) < 0) {
        nb_add_err(errs, f->name, f->type == FT_IPADDR
                                   ? "Enter a valid IPv4 or IPv6 address "
                                     "with mask (e.g. 192.0.2.1/24)."
                                   : "Enter a valid IPv4 or IPv6 prefix "
                                     "with mask (e.g. 192.0.2.0/24).");
        break;
      }
      if (f->type == FT_PREFIX)
        ip.addr = sim_ip_network(&ip);
      json_object_set_new(o, f->name, json_string(sim_ip_fmt(&ip, true, buf,
                                                             sizeof(buf))));
      break;
    }
    case FT_CTYPE:
      if (!json_is_string(v) || !nb_choice_label(f->choices,
                                                 json_string_value(v)))
        nb_add_err(errs, f->name, "Invalid content type: only %s is "
                   "modelled by the simulator.", f->choices[0]);
      else
        json_object_set(o, f->name, v);
      break;
    case FT_VID:
      if (!json_is_integer(v))
        nb_add_err(errs, f->name, "A valid integer is required.");
      else if (json_integer_value(v) < 1)
        nb_add_err(errs, f->name, "Ensure this value is greater than or "
                                  "equal to 1.");
      else if (json_integer_value(v) > 4094)
        nb_add_err(errs, f->name, "Ensure this value is less than or equal "
                                  "to 4094.");
      else
        json_object_set(o, f->name, v);
      break;
    case FT_RANGES:
      nb_validate_ranges(v, o, errs);
      break;
    case FT_TERMS:
      nb_validate_terms(f->name, v, o, errs);
      break;
    case FT_DATE: {
      const char *d = json_string_value(v);
      int y, mo, dd;
      char tail;
      if (!d || strlen(d) != 10 ||
          sscanf(d, "%4d-%2d-%2d%c", &y, &mo, &dd, &tail) != 3 || mo < 1 ||
          mo > 12 || dd < 1 || dd > 31)
        nb_add_err(errs, f->name, "Date has wrong format. Use one of these "
                                  "formats instead: YYYY-MM-DD.");
      else
        json_object_set(o, f->name, v);
      break;
    }
    case FT_NUM:
      if (!json_is_number(v) || json_number_value(v) < 0 ||
          json_number_value(v) >= 1000000)
        nb_add_err(errs, f->name, "A valid number is required.");
      else
        json_object_set(o, f->name, v);
      break;
    case FT_NULL:
      break;
    }
  }
  json_t *tags = json_object_get(in, "tags");
  if (tags)
    set_tags(nb, o, tags, errs);
  else if (!old)
    json_object_set_new(o, "tags", json_array());
  json_t *cf = json_object_get(in, "custom_fields");
  if (cf && !json_is_object(cf))
    nb_add_err(errs, "custom_fields", "Invalid data. Expected a dictionary.");
  else if (cf)
    json_object_set(o, "custom_fields", cf);
  else if (!old)
    json_object_set_new(o, "custom_fields", json_object());
  return o;
}

/* ---- storing ---- */

json_t *nb_insert(netbox_t *nb, int m, json_t *o)
{
  json_t *ts = stamp(nb);
  json_object_set_new(o, "id", json_integer(nb->next_id[m]++));
  json_object_set(o, "created", ts);
  json_object_set_new(o, "last_updated", ts);
  size_t i;
  json_t *t;
  json_array_foreach(json_object_get(o, "tags"), i, t)
  {
    if (!json_object_get(nb->tags, json_string_value(t)))
      json_object_set_new(nb->tags, json_string_value(t),
                          json_integer(nb->next_tag++));
  }
  json_array_append_new(nb->objs[m], o);
  return o;
}

static void replace(netbox_t *nb, int m, json_t *old, json_t *o)
{
  json_object_set_new(o, "last_updated", stamp(nb));
  size_t i;
  json_t *t;
  json_array_foreach(json_object_get(o, "tags"), i, t)
  {
    if (!json_object_get(nb->tags, json_string_value(t)))
      json_object_set_new(nb->tags, json_string_value(t),
                          json_integer(nb->next_tag++));
  }
  json_object_update(old, o);
  json_decref(o);
}

/* ---- responses ---- */

void nb_detail(sim_resp_t *resp, unsigned status, const char *fmt, ...)
{
  char msg[400];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  sim_resp_json(resp, status, json_pack("{s:s}", "detail", msg));
}

void nb_not_found(sim_resp_t *resp, int m)
{
  nb_detail(resp, 404, "No %s matches the given query.", nb_models[m].verbose);
}

void nb_method_not_allowed(sim_resp_t *resp, const char *method)
{
  nb_detail(resp, 405, "Method \"%s\" not allowed.", method);
}

static void etag(sim_resp_t *resp, const json_t *o)
{
  sim_resp_header(resp, "ETag", "W/\"%s\"", nb_sval(o, "last_updated"));
}

/* If-Match (4.6+): "*" or the current weak ETag, else 412. */
static bool precondition_ok(const sim_req_t *req, const json_t *o,
                            sim_resp_t *resp)
{
  const char *im = sim_req_header(req, "If-Match");
  if (!im || strcmp(im, "*") == 0)
    return true;
  char want[80];
  snprintf(want, sizeof(want), "W/\"%s\"", nb_sval(o, "last_updated"));
  if (strstr(im, want) || strstr(im, nb_sval(o, "last_updated")))
    return true;
  nb_detail(resp, 412, "Precondition failed.");
  etag(resp, o);
  return false;
}

/* ---- filtering ---- */

static bool str_lookup(const char *have, const char *lookup, const char *want)
{
  if (!have)
    have = "";
  if (!*lookup)
    return strcmp(have, want) == 0;
  if (strcmp(lookup, "n") == 0)
    return strcmp(have, want) != 0;
  if (strcmp(lookup, "ie") == 0)
    return strcasecmp(have, want) == 0;
  if (strcmp(lookup, "nie") == 0)
    return strcasecmp(have, want) != 0;
  if (strcmp(lookup, "ic") == 0)
    return strcasestr(have, want) != NULL;
  if (strcmp(lookup, "nic") == 0)
    return strcasestr(have, want) == NULL;
  if (strcmp(lookup, "isw") == 0)
    return strncasecmp(have, want, strlen(want)) == 0;
  if (strcmp(lookup, "iew") == 0) {
    size_t a = strlen(have), b = strlen(want);
    return a >= b && strcasecmp(have + a - b, want) == 0;
  }
  if (strcmp(lookup, "empty") == 0)
    return (strcmp(want, "true") == 0) == (*have == '\0');
  return true;
}

static bool q_match(netbox_t *nb, int m, const json_t *o, const char *q)
{
  static const char *const keys[] = {"name", "slug", "description", "serial",
                                     "address", "prefix", "dns_name", "model"};
  for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
    const char *v = nb_sval(o, keys[i]);
    if (v && strcasestr(v, q))
      return true;
  }
  return false;
}

/* @returns 1 match, 0 no match. */
static int filter_one(netbox_t *nb, int m, const filter_t *fl,
                      const char *lookup, const json_t *o, const char *val)
{
  switch (fl->kind) {
  case FL_STR:
    return str_lookup(nb_sval(o, fl->field), lookup, val);
  case FL_ID: {
    long long want;
    json_t *v = json_object_get(o, fl->field);
    bool neg = strcmp(lookup, "n") == 0;
    bool eqv;
    if (strcmp(val, "null") == 0)
      eqv = !v || json_is_null(v);
    else
      eqv = sim_parse_ll(val, 0, LLONG_MAX, &want) == 0 && json_is_integer(v) &&
            json_integer_value(v) == want;
    return neg ? !eqv : eqv;
  }
  case FL_SLUG:
  case FL_NAME: {
    json_t *ref = nb_find_obj(nb, fl->fk, nb_ival(o, fl->field));
    bool eqv;
    if (strcmp(val, "null") == 0)
      eqv = !ref;
    else
      eqv = ref && nb_sval(ref, fl->kind == FL_SLUG ? "slug" : "name") &&
            strcmp(nb_sval(ref, fl->kind == FL_SLUG ? "slug" : "name"), val) == 0;
    return strcmp(lookup, "n") == 0 ? !eqv : eqv;
  }
  case FL_CHOICE: {
    const char *v = nb_sval(o, fl->field);
    bool eqv = v && strcmp(v, val) == 0;
    return strcmp(lookup, "n") == 0 ? !eqv : eqv;
  }
  case FL_BOOL: {
    json_t *v = json_object_get(o, fl->field);
    bool want = strcasecmp(val, "true") == 0 || strcmp(val, "1") == 0;
    return json_is_boolean(v) && json_is_true(v) == want;
  }
  case FL_Q:
    return q_match(nb, m, o, val);
  case FL_IP_ADDRESS: {
    sim_ip_t a, b;
    if (sim_ip_parse(val, false, &b) < 0 ||
        sim_ip_parse(nb_sval(o, "address"), true, &a) < 0)
      return 0;
    return a.family == b.family && a.addr == b.addr;
  }
  case FL_IP_PARENT:
  case FL_CONTAINS: {
    sim_ip_t net, host;
    const char *mine = nb_sval(o, fl->field);
    if (fl->kind == FL_IP_PARENT) {
      if (sim_ip_parse(val, false, &net) < 0 ||
          sim_ip_parse(mine, true, &host) < 0)
        return 0;
      return sim_ip_contains(&net, &host);
    }
    if (sim_ip_parse(mine, true, &net) < 0 ||
        sim_ip_parse(val, false, &host) < 0)
      return 0;
    return sim_ip_contains(&net, &host) && host.plen >= net.plen;
  }
  case FL_PREFIX: {
    sim_ip_t a, b;
    if (sim_ip_parse(val, true, &b) < 0 ||
        sim_ip_parse(nb_sval(o, fl->field), true, &a) < 0)
      return 0;
    return a.family == b.family && a.plen == b.plen &&
           sim_ip_network(&a) == sim_ip_network(&b);
  }
  case FL_CABLE_DEVICE: {
    long long want;
    if (sim_parse_ll(val, 0, LLONG_MAX, &want) < 0)
      return 0;
    for (int s = 0; s < 2; s++) {
      size_t i;
      json_t *t;
      json_array_foreach(json_object_get(o, s ? "b_terminations"
                                              : "a_terminations"), i, t)
      {
        json_t *itf = strcmp(nb_sval(t, "object_type"), "dcim.interface") == 0
                          ? nb_find_obj(nb, M_IFACE, nb_ival(t, "object_id"))
                          : NULL;
        if (itf && nb_ival(itf, "device") == want)
          return 1;
      }
    }
    return 0;
  }
  case FL_SITE_TERM: {
    long long want;
    return sim_parse_ll(val, 0, LLONG_MAX, &want) == 0 &&
           nb_sval(o, "termination_type") &&
           strcmp(nb_sval(o, "termination_type"), "dcim.site") == 0 &&
           nb_ival(o, "termination_id") == want;
  }
  case FL_IP_DEVICE:
  case FL_IP_IFACE: {
    long long want;
    if (!nb_sval(o, "assigned_object_type") ||
        sim_parse_ll(val, 0, LLONG_MAX, &want) < 0)
      return 0;
    json_int_t iid = nb_ival(o, "assigned_object_id");
    if (fl->kind == FL_IP_IFACE)
      return iid == want;
    json_t *iface = nb_find_obj(nb, M_IFACE, iid);
    return iface && nb_ival(iface, "device") == want;
  }
  }
  return 0;
}

typedef struct active_filter {
  const filter_t *fl;
  char lookup[16];
  const char *key; /* the raw parameter name, to group repeated ones */
} active_filter_t;

/* Resolves the query parameters into filters; invalid slugs and choices
 * are 400 with the real message. @returns the count, or -1 (resp set). */
static int build_filters(netbox_t *nb, int m, const sim_req_t *req,
                         active_filter_t *out, sim_resp_t *resp)
{
  int n = 0;
  for (size_t i = 0; i < req->nargs; i++) {
    const char *key = req->args[i].key;
    const char *val = req->args[i].value ? req->args[i].value : "";
    char base[64];
    const char *dunder = strstr(key, "__");
    size_t bl = dunder ? (size_t)(dunder - key) : strlen(key);
    if (bl >= sizeof(base))
      continue;
    memcpy(base, key, bl);
    base[bl] = '\0';
    const filter_t *fl = NULL;
    for (const filter_t *f = nb_models[m].filters; f->param; f++)
      if (strcmp(f->param, base) == 0)
        fl = f;
    if (!fl)
      continue; /* unknown parameters are ignored */
    if (fl->kind == FL_SLUG && strcmp(val, "null") != 0) {
      bool found = false;
      size_t k;
      json_t *x;
      json_array_foreach(nb->objs[fl->fk], k, x)
      {
        if (nb_sval(x, "slug") && strcmp(nb_sval(x, "slug"), val) == 0)
          found = true;
      }
      if (!found) {
        char msg[300];
        snprintf(msg, sizeof(msg), "Select a valid choice. %.100s is not one "
                                   "of the available choices.", val);
        sim_resp_json(resp, 400, json_pack("{s:[s]}", key, msg));
        return -1;
      }
    }
    if (fl->kind == FL_CHOICE) {
      const field_t *f = nb_find_field(&nb_models[m], fl->field);
      if (f && !nb_choice_label(f->choices, val)) {
        char msg[300];
        snprintf(msg, sizeof(msg), "Select a valid choice. %.100s is not one "
                                   "of the available choices.", val);
        sim_resp_json(resp, 400, json_pack("{s:[s]}", key, msg));
        return -1;
      }
    }
    if (n == SIM_ARGS_MAX)
      break;
    out[n].fl = fl;
    snprintf(out[n].lookup, sizeof(out[n].lookup), "%s",
             dunder ? dunder + 2 : "");
    out[n].key = key;
    n++;
  }
  return n;
}

static bool matches(netbox_t *nb, int m, const sim_req_t *req,
                    const active_filter_t *af, int naf, const json_t *o)
{
  for (int i = 0; i < naf; i++) {
    /* Repeated parameters OR their values: evaluate each group once, at
     * its first occurrence. */
    bool first = true;
    for (int j = 0; j < i; j++)
      if (strcmp(af[j].key, af[i].key) == 0)
        first = false;
    if (!first)
      continue;
    bool any = false;
    for (int j = i; j < naf && !any; j++) {
      if (strcmp(af[j].key, af[i].key) != 0)
        continue;
      for (size_t a = 0; a < req->nargs; a++)
        if (strcmp(req->args[a].key, af[j].key) == 0 &&
            filter_one(nb, m, af[j].fl, af[j].lookup, o,
                       req->args[a].value ? req->args[a].value : ""))
          any = true;
    }
    if (!any)
      return false;
  }
  return true;
}

/* ---- list, pagination ---- */

static void page_url(const sim_req_t *req, long long limit, long long offset,
                     pv_buf_t *b)
{
  (void)pv_buf_appendf(b, "%s%s?", req->base_url, req->path);
  for (size_t i = 0; i < req->nargs; i++) {
    if (strcmp(req->args[i].key, "limit") == 0 ||
        strcmp(req->args[i].key, "offset") == 0)
      continue;
    char *k = sim_pct_encode(req->args[i].key);
    char *v = sim_pct_encode(req->args[i].value ? req->args[i].value : "");
    (void)pv_buf_appendf(b, "%s=%s&", k, v);
    free(k);
    free(v);
  }
  if (offset > 0)
    (void)pv_buf_appendf(b, "limit=%lld&offset=%lld", limit, offset);
  else
    (void)pv_buf_appendf(b, "limit=%lld", limit);
}

long long nb_page_limit(const sim_req_t *req)
{
  const char *l = sim_req_arg(req, "limit");
  long long limit = PAGINATE_COUNT;
  if (l && sim_parse_ll(l, 0, LLONG_MAX, &limit) < 0)
    limit = PAGINATE_COUNT;
  if (limit == 0 || limit > MAX_PAGE_SIZE)
    limit = MAX_PAGE_SIZE;
  return limit;
}

typedef struct order {
  const char *key;
  int dir;
} order_t;

static int order_cmp(const void *a, const void *b, void *arg)
{
  const order_t *ord = arg;
  const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
  json_t *vx = json_object_get(x, ord->key), *vy = json_object_get(y, ord->key);
  int c = 0;
  if (json_is_integer(vx) && json_is_integer(vy))
    c = json_integer_value(vx) < json_integer_value(vy)   ? -1
        : json_integer_value(vx) > json_integer_value(vy) ? 1
                                                          : 0;
  else if (json_is_string(vx) && json_is_string(vy))
    c = strcmp(json_string_value(vx), json_string_value(vy));
  else
    c = (vx && !json_is_null(vx)) - (vy && !json_is_null(vy));
  if (c == 0)
    c = nb_ival(x, "id") < nb_ival(y, "id") ? -1 : 1;
  return c * ord->dir;
}

static json_t *shape(json_t *full, const sim_req_t *req)
{
  const char *fields = sim_req_arg(req, "fields");
  const char *omit = sim_req_arg(req, "omit");
  if (fields && *fields) {
    json_t *o = json_object();
    char *copy = pv_strdup(fields);
    for (char *f = copy; f;) {
      char *c = strchr(f, ',');
      if (c)
        *c = '\0';
      json_t *v = json_object_get(full, f);
      if (v)
        json_object_set(o, f, v);
      f = c ? c + 1 : NULL;
    }
    free(copy);
    json_decref(full);
    return o;
  }
  if (omit && *omit) {
    char *copy = pv_strdup(omit);
    for (char *f = copy; f;) {
      char *c = strchr(f, ',');
      if (c)
        *c = '\0';
      json_object_del(full, f);
      f = c ? c + 1 : NULL;
    }
    free(copy);
  }
  return full;
}

static void list(netbox_t *nb, int m, const sim_req_t *req, sim_resp_t *resp)
{
  active_filter_t af[SIM_ARGS_MAX];
  int naf = build_filters(nb, m, req, af, resp);
  if (naf < 0)
    return;
  long long limit = nb_page_limit(req), offset = 0, start = -1;
  const char *off = sim_req_arg(req, "offset");
  const char *st = sim_req_arg(req, "start");
  const char *ord = sim_req_arg(req, "ordering");
  bool brief = sim_req_arg(req, "brief") &&
               (strcmp(sim_req_arg(req, "brief"), "true") == 0 ||
                strcmp(sim_req_arg(req, "brief"), "1") == 0 ||
                strcmp(sim_req_arg(req, "brief"), "True") == 0);
  if (off && sim_parse_ll(off, 0, LLONG_MAX, &offset) < 0)
    offset = 0;
  if (st) {
    if (off || ord) {
      nb_detail(resp, 400, "'start' may not be combined with 'offset' or "
                        "'ordering'.");
      return;
    }
    if (sim_parse_ll(st, 0, LLONG_MAX, &start) < 0) {
      nb_detail(resp, 400, "'start' must be a non-negative integer.");
      return;
    }
  }
  json_t *arr = nb->objs[m];
  size_t n = 0;
  json_t **hits = pv_malloc((json_array_size(arr) + 1) * sizeof(*hits));
  size_t i;
  json_t *o;
  json_array_foreach(arr, i, o)
  {
    if (start >= 0 && nb_ival(o, "id") < start)
      continue;
    if (matches(nb, m, req, af, naf, o))
      hits[n++] = o;
  }
  if (ord && *ord) {
    const char *key = ord[0] == '-' ? ord + 1 : ord;
    if (nb_find_field(&nb_models[m], key) || strcmp(key, "id") == 0 ||
        strcmp(key, "created") == 0 || strcmp(key, "last_updated") == 0) {
      order_t oc = {.key = key, .dir = ord[0] == '-' ? -1 : 1};
      qsort_r(hits, n, sizeof(*hits), order_cmp, &oc);
    }
  }
  json_t *results = json_array();
  for (size_t k = (size_t)(offset < (long long)n ? offset : (long long)n);
       k < n && (long long)json_array_size(results) < limit; k++)
    json_array_append_new(results,
                          shape(nb_render(nb, req, m, hits[k], brief), req));
  json_t *page = json_object();
  pv_buf_t b;
  if (start >= 0) {
    json_object_set_new(page, "count", json_null());
    if (json_array_size(results) == (size_t)limit && n > (size_t)limit) {
      pv_buf_init(&b, 8192);
      (void)pv_buf_appendf(&b, "%s%s?start=%lld&limit=%lld", req->base_url,
                           req->path,
                           (long long)nb_ival(hits[limit], "id"), limit);
      json_object_set_new(page, "next", json_string(b.data ? b.data : ""));
      pv_buf_free(&b);
    } else {
      json_object_set_new(page, "next", json_null());
    }
    json_object_set_new(page, "previous", json_null());
  } else {
    json_object_set_new(page, "count", json_integer((json_int_t)n));
    if (offset + limit < (long long)n) {
      pv_buf_init(&b, 8192);
      page_url(req, limit, offset + limit, &b);
      json_object_set_new(page, "next", b.data ? json_string(b.data)
                                               : json_null());
      pv_buf_free(&b);
    } else {
      json_object_set_new(page, "next", json_null());
    }
    if (offset > 0) {
      pv_buf_init(&b, 8192);
      page_url(req, limit, offset - limit > 0 ? offset - limit : 0, &b);
      json_object_set_new(page, "previous", b.data ? json_string(b.data)
                                                   : json_null());
      pv_buf_free(&b);
    } else {
      json_object_set_new(page, "previous", json_null());
    }
  }
  json_object_set_new(page, "results", results);
  free(hits);
  sim_resp_json(resp, 200, page);
}

/* ---- writes ---- */

bool nb_body_json(const sim_req_t *req, json_t **out, sim_resp_t *resp)
{
  const char *ct = sim_req_header(req, "Content-Type");
  json_error_t jerr;
  if (ct && strncasecmp(ct, "application/json", 16) != 0) {
    nb_detail(resp, 415, "Unsupported media type \"%.80s\" in request.", ct);
    return false;
  }
  *out = json_loadb(req->body, req->body_len, JSON_DECODE_ANY, &jerr);
  if (!*out) {
    nb_detail(resp, 400, "JSON parse error - %s: line %d column %d (char %d)",
           jerr.text, jerr.line, jerr.column, jerr.position);
    return false;
  }
  return true;
}

void nb_store_created(netbox_t *nb, const sim_req_t *req, sim_resp_t *resp,
                      int m, json_t *built, bool bulk)
{
  json_t *out_list = json_array();
  size_t i;
  json_t *o;
  json_array_foreach(built, i, o)
  {
    nb_insert(nb, m, json_incref(o));
    json_array_append_new(out_list, nb_render(nb, req, m, o, false));
  }
  if (bulk) {
    sim_resp_json(resp, 201, out_list);
  } else {
    json_t *one = json_incref(json_array_get(out_list, 0));
    json_decref(out_list);
    sim_resp_json(resp, 201, one);
  }
}

/* POST on a list endpoint: one object, or a list created all-or-none. */
static void create(netbox_t *nb, int m, const sim_req_t *req, sim_resp_t *resp)
{
  json_t *in = NULL;
  if (!nb_body_json(req, &in, resp))
    return;
  bool bulk = json_is_array(in);
  size_t n = bulk ? json_array_size(in) : 1;
  if (bulk && (n == 0 || n > MAX_BULK)) {
    json_decref(in);
    nb_detail(resp, 400, "A bulk request needs between 1 and %u objects.",
           MAX_BULK);
    return;
  }
  if (json_array_size(nb->objs[m]) + n > MAX_OBJECTS) {
    json_decref(in);
    nb_detail(resp, 400, "The simulator holds at most %u objects per model.",
           MAX_OBJECTS);
    return;
  }
  json_t *built = json_array(), *errs_list = json_array();
  bool bad = false;
  for (size_t i = 0; i < n; i++) {
    json_t *errs = json_object();
    json_t *o = nb_validate(nb, m, bulk ? json_array_get(in, i) : in, NULL,
                         false, errs);
    nb_check_model(nb, m, o, -1, errs);
    /* Within one bulk request the new objects must not clash either. */
    for (size_t k = 0; k < json_array_size(built) && !json_object_size(errs);
         k++) {
      json_t *p = json_array_get(built, k);
      if (nb_sval(p, "slug") && nb_sval(o, "slug") &&
          strcmp(nb_sval(p, "slug"), nb_sval(o, "slug")) == 0)
        nb_add_err(errs, "slug", "%s with this slug already exists.",
                nb_models[m].verbose);
    }
    bad = bad || json_object_size(errs) > 0;
    json_array_append_new(errs_list, errs);
    json_array_append_new(built, o);
  }
  if (bad) {
    sim_resp_json(resp, 400, bulk ? json_incref(errs_list)
                                  : json_incref(json_array_get(errs_list, 0)));
    goto out;
  }
  nb_store_created(nb, req, resp, m, built, bulk);
out:
  json_decref(built);
  json_decref(errs_list);
  json_decref(in);
}

static void update_one(netbox_t *nb, int m, json_t *obj, const sim_req_t *req,
                       sim_resp_t *resp)
{
  json_t *in = NULL;
  if (!precondition_ok(req, obj, resp) || !nb_body_json(req, &in, resp))
    return;
  bool partial = strcmp(req->method, "PATCH") == 0;
  json_t *errs = json_object();
  /* PUT replaces: required fields must be given, like on create. */
  json_t *o = nb_validate(nb, m, in, partial ? obj : NULL, partial, errs);
  if (!partial && !json_object_size(errs)) {
    json_t *merged = json_deep_copy(obj);
    json_object_update(merged, o);
    json_decref(o);
    o = merged;
  }
  nb_check_model(nb, m, o, nb_ival(obj, "id"), errs);
  if (json_object_size(errs)) {
    json_decref(o);
    sim_resp_json(resp, 400, errs);
  } else {
    json_decref(errs);
    json_object_set(o, "id", json_object_get(obj, "id"));
    replace(nb, m, obj, o);
    sim_resp_json(resp, 200, nb_render(nb, req, m, obj, false));
    etag(resp, obj);
  }
  json_decref(in);
}

static void delete_one(netbox_t *nb, int m, json_t *obj, const sim_req_t *req,
                       sim_resp_t *resp)
{
  if (!precondition_ok(req, obj, resp))
    return;
  json_int_t id = nb_ival(obj, "id");
  size_t deps = nb_dependents(nb, m, id);
  if (deps) {
    nb_detail(resp, 409, "Unable to delete object. %zu dependent objects were "
                      "found: protected by on_delete=PROTECT", deps);
    return;
  }
  nb_delete_cascade(nb, m, id);
  resp->status = 204;
}

/* PATCH/PUT/DELETE with a list body on the list endpoint. */
static void bulk_write(netbox_t *nb, int m, const sim_req_t *req,
                       sim_resp_t *resp)
{
  json_t *in = NULL;
  if (!nb_body_json(req, &in, resp))
    return;
  bool del = strcmp(req->method, "DELETE") == 0;
  bool partial = strcmp(req->method, "PATCH") == 0;
  if (!json_is_array(in) || json_array_size(in) == 0 ||
      json_array_size(in) > MAX_BULK) {
    json_decref(in);
    nb_detail(resp, 400, "Bulk operations require a list of 1 to %u objects "
                      "with \"id\".", MAX_BULK);
    return;
  }
  size_t n = json_array_size(in);
  json_t *errs_list = json_array(), *built = json_array();
  bool bad = false;
  for (size_t i = 0; i < n; i++) {
    json_t *item = json_array_get(in, i);
    json_t *errs = json_object();
    json_t *obj = json_is_integer(json_object_get(item, "id"))
                      ? nb_find_obj(nb, m, nb_ival(item, "id"))
                      : NULL;
    json_t *o = NULL;
    if (!obj) {
      nb_add_err(errs, "id", "Object with id %lld does not exist.",
              (long long)nb_ival(item, "id"));
    } else if (del) {
      if (nb_dependents(nb, m, nb_ival(obj, "id")))
        nb_add_err(errs, "non_field_errors",
                "Unable to delete object: dependent objects exist.");
    } else {
      o = nb_validate(nb, m, item, partial ? obj : NULL, partial, errs);
      if (!partial && !json_object_size(errs)) {
        json_t *merged = json_deep_copy(obj);
        json_object_update(merged, o);
        json_decref(o);
        o = merged;
      }
      nb_check_model(nb, m, o, nb_ival(obj, "id"), errs);
    }
    bad = bad || json_object_size(errs) > 0;
    json_array_append_new(errs_list, errs);
    json_array_append_new(built, o ? o : json_null());
  }
  if (bad) {
    sim_resp_json(resp, 400, json_incref(errs_list));
    goto out;
  }
  if (del) {
    for (size_t i = 0; i < n; i++)
      nb_delete_cascade(nb, m, nb_ival(json_array_get(in, i), "id"));
    resp->status = 204;
    goto out;
  }
  json_t *out_list = json_array();
  for (size_t i = 0; i < n; i++) {
    json_t *obj = nb_find_obj(nb, m, nb_ival(json_array_get(in, i), "id"));
    json_t *o = json_incref(json_array_get(built, i));
    json_object_set(o, "id", json_object_get(obj, "id"));
    replace(nb, m, obj, o);
    json_array_append_new(out_list, nb_render(nb, req, m, obj, false));
  }
  sim_resp_json(resp, 200, out_list);
out:
  json_decref(errs_list);
  json_decref(built);
  json_decref(in);
}

/* ---- auth ---- */

/* netbox/api/authentication.py: 403 (not 401) with the real detail texts.
 * The version is chosen by the nbt_ prefix, not by the keyword. */
static bool authenticate(netbox_t *nb, const sim_req_t *req, sim_resp_t *resp)
{
  const char *h = sim_req_header(req, "Authorization");
  if (!h || !*h) {
    nb_detail(resp, 403, "Authentication credentials were not provided.");
    return false;
  }
  const char *sp = strchr(h, ' ');
  size_t kl = sp ? (size_t)(sp - h) : strlen(h);
  bool known_kw = (kl == 5 && strncasecmp(h, "Token", 5) == 0) ||
                  (kl == 6 && strncasecmp(h, "Bearer", 6) == 0);
  if (!known_kw) {
    nb_detail(resp, 403, "Authentication credentials were not provided.");
    return false;
  }
  const char *cred = sp ? sp + 1 : "";
  while (*cred == ' ')
    cred++;
  if (!*cred) {
    nb_detail(resp, 403, "Invalid token header. No credentials provided.");
    return false;
  }
  if (strchr(cred, ' ')) {
    nb_detail(resp, 403, "Invalid token header. Token string should not contain "
                      "spaces.");
    return false;
  }
  bool v2 = strncmp(cred, "nbt_", 4) == 0;
  for (size_t i = 0; i < nb->ntokens; i++)
    if (nb->tokens[i].v2 == v2 && strcmp(nb->tokens[i].plain, cred) == 0)
      return true;
  nb_detail(resp, 403, v2 ? "Invalid v2 token" : "Invalid v1 token");
  return false;
}

/* ---- seeding ---- */

static json_t *seed(netbox_t *nb, int m, json_t *fields)
{
  json_t *errs = json_object();
  json_t *o = nb_validate(nb, m, fields, NULL, false, errs);
  json_decref(errs);
  json_decref(fields);
  return nb_insert(nb, m, o);
}

/* VLAN groups, a VLAN, a provider with one circuit and its A end, and a
 * cable from the first OLT's NNI to it (docs/simulator.md lists them). */
static void seed_l2_and_circuits(netbox_t *nb)
{
  seed(nb, M_VLANGROUP, json_pack("{s:s,s:s,s:[[i,i]],s:i}", "name", "Access",
                                  "slug", "access", "vid_ranges", 100, 3999,
                                  "tenant", 1));
  seed(nb, M_VLANGROUP, json_pack("{s:s,s:s,s:[[i,i]]}", "name", "Spare",
                                  "slug", "spare", "vid_ranges", 10, 12));
  seed(nb, M_VLAN, json_pack("{s:i,s:s,s:i,s:i,s:i}", "vid", 100, "name",
                             "subscribers", "group", 1, "site", 1, "tenant",
                             1));
  json_t *p1 = nb_find_obj(nb, M_PREFIX, 1);
  if (p1 && nb->inv.prefixes > 0)
    json_object_set_new(p1, "vlan", json_integer(1));
  seed(nb, M_PROVIDER, json_pack("{s:s,s:s}", "name", "Transit Co", "slug",
                                 "transit-co"));
  seed(nb, M_CTYPE, json_pack("{s:s,s:s}", "name", "Internet", "slug",
                              "internet"));
  seed(nb, M_CIRCUIT, json_pack("{s:s,s:i,s:i,s:i,s:i}", "cid", "TC-0001",
                                "provider", 1, "type", 1, "tenant", 1,
                                "commit_rate", 1000000));
  seed(nb, M_CTERM, json_pack("{s:i,s:s,s:s,s:i,s:i}", "circuit", 1,
                              "term_side", "A", "termination_type",
                              "dcim.site", "termination_id", 1, "port_speed",
                              1000000));
  if (nb->inv.olts > 0)
    seed(nb, M_CABLE,
         json_pack("{s:[{s:s,s:i}],s:[{s:s,s:i}],s:s}", "a_terminations",
                   "object_type", "dcim.interface", "object_id", 2,
                   "b_terminations", "object_type",
                   "circuits.circuittermination", "object_id", 1, "label",
                   "uplink-1"));
}

void *sim_netbox_new(const sim_inventory_t *inv, const char *const *tokens,
                     size_t ntokens)
{
  netbox_t *nb = pv_calloc(1, sizeof(*nb));
  nb->inv = *inv;
  nb->rng = inv->seed * 0xd1342543de82ef95ULL + 0x6e6574626f78ULL;
  for (int m = 0; m < M__COUNT; m++) {
    nb->objs[m] = json_array();
    nb->next_id[m] = 1;
  }
  nb->tags = json_object();
  nb->next_tag = 1;
  nb->tokens = pv_calloc(ntokens ? ntokens : 1, sizeof(*nb->tokens));
  for (size_t i = 0; i < ntokens; i++) {
    nb->tokens[i].plain = pv_strdup(tokens[i]);
    nb->tokens[i].v2 = strncmp(tokens[i], "nbt_", 4) == 0;
  }
  nb->ntokens = ntokens;

  seed(nb, M_TENANT, json_pack("{s:s,s:s,s:s}", "name", "ISP East", "slug",
                               "isp-east", "description", "seeded tenant"));
  seed(nb, M_TENANT, json_pack("{s:s,s:s,s:s}", "name", "ISP West", "slug",
                               "isp-west", "description", "seeded tenant"));
  seed(nb, M_SITE, json_pack("{s:s,s:s,s:i}", "name", "East POP 1", "slug",
                             "east-pop-1", "tenant", 1));
  seed(nb, M_SITE, json_pack("{s:s,s:s,s:i}", "name", "West POP 1", "slug",
                             "west-pop-1", "tenant", 2));
  seed(nb, M_MFR, json_pack("{s:s,s:s}", "name", "EdgeCore", "slug",
                            "edgecore"));
  seed(nb, M_MFR, json_pack("{s:s,s:s}", "name", "Generic", "slug",
                            "generic"));
  seed(nb, M_DTYPE, json_pack("{s:i,s:s,s:s}", "manufacturer", 1, "model",
                              "ASFvOLT16", "slug", "asfvolt16"));
  seed(nb, M_DTYPE, json_pack("{s:i,s:s,s:s}", "manufacturer", 2, "model",
                              "ONT", "slug", "generic-ont"));
  seed(nb, M_ROLE, json_pack("{s:s,s:s}", "name", "OLT", "slug", "olt"));
  seed(nb, M_ROLE, json_pack("{s:s,s:s}", "name", "CPE", "slug", "cpe"));

  char buf[80];
  for (unsigned i = 0; i < inv->prefixes; i++) {
    snprintf(buf, sizeof(buf), "100.64.%u.0/28", i);
    json_t *p = seed(nb, M_PREFIX,
                     json_pack("{s:s,s:i,s:s}", "prefix", buf, "tenant",
                               (int)(i % 2 + 1), "description",
                               "subscriber pool"));
    snprintf(buf, sizeof(buf), "100.64.%u.1/28", i);
    seed(nb, M_IP, json_pack("{s:s,s:O,s:s}", "address", buf, "tenant",
                             json_object_get(p, "tenant"), "description",
                             "gateway"));
  }
  seed(nb, M_PREFIX, json_pack("{s:s,s:s}", "prefix", "198.18.0.0/24",
                               "description", "management"));
  seed(nb, M_PREFIX, json_pack("{s:s,s:s,s:b}", "prefix", "2001:db8:100::/64",
                               "description", "ipv6 subscriber pool",
                               "is_pool", 0));
  for (unsigned i = 0; i < inv->olts && i < 240; i++) {
    char name[32], serial[32];
    snprintf(name, sizeof(name), "olt-%02u", i + 1);
    snprintf(serial, sizeof(serial), "EC%010u", 1800000000u + i + 1);
    json_t *d = seed(nb, M_DEVICE,
                     json_pack("{s:s,s:i,s:i,s:i,s:i,s:s}", "name", name,
                               "device_type", 1, "role", 1, "site",
                               (int)(i % 2 + 1), "tenant", (int)(i % 2 + 1),
                               "serial", serial));
    json_int_t did = nb_ival(d, "id");
    json_t *mg = seed(nb, M_IFACE, json_pack("{s:I,s:s,s:s,s:b}", "device",
                                             did, "name", "mgmt0", "type",
                                             "1000base-t", "mgmt_only", 1));
    seed(nb, M_IFACE, json_pack("{s:I,s:s,s:s}", "device", did, "name",
                                "nni0", "type", "10gbase-x-sfpp"));
    snprintf(buf, sizeof(buf), "198.18.0.%u/24", i + 10);
    json_t *ip = seed(nb, M_IP,
                      json_pack("{s:s,s:s,s:I,s:s}", "address", buf,
                                "assigned_object_type", "dcim.interface",
                                "assigned_object_id", nb_ival(mg, "id"),
                                "description", "management"));
    json_object_set_new(d, "primary_ip4", json_integer(nb_ival(ip, "id")));
  }
  seed_l2_and_circuits(nb);
  return nb;
}

static void netbox_destroy(void *state)
{
  netbox_t *nb = state;
  if (!nb)
    return;
  for (int m = 0; m < M__COUNT; m++)
    json_decref(nb->objs[m]);
  json_decref(nb->tags);
  for (size_t i = 0; i < nb->ntokens; i++)
    free(nb->tokens[i].plain);
  free(nb->tokens);
  free(nb);
}

/* ---- routing ---- */

static void common_headers(netbox_t *nb, sim_resp_t *resp)
{
  uint64_t a = sim_rng_next(&nb->rng), b = sim_rng_next(&nb->rng);
  sim_resp_header(resp, "API-Version", "%s", API_VERSION);
  sim_resp_header(resp, "X-Request-ID", "%08x-%04x-4%03x-%04x-%012llx",
                  (unsigned)(a >> 32), (unsigned)(a >> 16) & 0xffff,
                  (unsigned)a & 0xfff,
                  (unsigned)(0x8000 | ((b >> 48) & 0x3fff)),
                  (unsigned long long)(b & 0xffffffffffffULL));
}

static void status(const sim_req_t *req, sim_resp_t *resp)
{
  sim_resp_json(
      resp, 200,
      json_pack("{s:s,s:s,s:{s:s,s:s},s:s,s:s,s:{},s:s,s:i}",
                "django-version", "5.2.8", "hostname", "southbound-sim",
                "installed_apps", "dcim", "4.6", "ipam", "4.6",
                "netbox-version", NETBOX_VERSION, "netbox-full-version",
                NETBOX_VERSION " (southbound-sim)", "plugins",
                "python-version", "3.12.3", "rq-workers-running", 1));
}

static void netbox_handle(void *state, const sim_req_t *req, sim_resp_t *resp)
{
  netbox_t *nb = state;
  char *seg[8];
  char *storage = NULL;
  const char *m = req->method;
  bool read = strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0;
  size_t plen = strlen(req->path);

  /* Django's APPEND_SLASH: 301 to the slashed URL, before any view. */
  if (strncmp(req->path, "/api", 4) == 0 && req->path[plen - 1] != '/') {
    pv_buf_t b;
    pv_buf_init(&b, 8192);
    (void)pv_buf_appendf(&b, "%s%s/", req->base_url, req->path);
    for (size_t i = 0; i < req->nargs; i++) {
      char *k = sim_pct_encode(req->args[i].key);
      char *v = req->args[i].value ? sim_pct_encode(req->args[i].value) : NULL;
      (void)pv_buf_appendf(&b, "%s%s%s%s", i ? "&" : "?", k, v ? "=" : "",
                           v ? v : "");
      free(k);
      free(v);
    }
    resp->status = 301;
    resp->content_type = "text/html; charset=utf-8";
    sim_resp_header(resp, "Location", "%s", b.data ? b.data : "/");
    pv_buf_free(&b);
    goto out;
  }
  int n = sim_split_path(req->path, seg, 8, &storage);
  if (n < 2 || strcmp(seg[0], "api") != 0) {
    nb_detail(resp, 404, "Not found.");
    goto out;
  }
  n--; /* the trailing "" segment */
  if (!authenticate(nb, req, resp))
    goto out;
  if (n == 1) {
    if (!read) {
      nb_method_not_allowed(resp, m);
      goto out;
    }
    static const char *const apps[] = {"circuits", "dcim", "ipam",
                                       "tenancy"};
    json_t *root = json_object();
    for (size_t k = 0; k < sizeof(apps) / sizeof(apps[0]); k++) {
      char u[300];
      snprintf(u, sizeof(u), "%s/api/%s/", req->base_url, apps[k]);
      json_object_set_new(root, apps[k], json_string(u));
    }
    sim_resp_json(resp, 200, root);
    goto out;
  }
  if (n == 2 && strcmp(seg[1], "status") == 0) {
    if (!read)
      nb_method_not_allowed(resp, m);
    else
      status(req, resp);
    goto out;
  }
  if (n == 2 && strcmp(seg[1], "authentication-check") == 0) {
    if (!read)
      nb_method_not_allowed(resp, m);
    else
      sim_resp_json(resp, 200, json_pack("{s:i,s:s,s:s}", "id", 1, "username",
                                         "admin", "display", "admin"));
    goto out;
  }
  int model = -1;
  if (n >= 3)
    for (int k = 0; k < M__COUNT; k++)
      if (strcmp(seg[1], nb_models[k].app) == 0 &&
          strcmp(seg[2], nb_models[k].name) == 0)
        model = k;
  if (model < 0 || n > 5) {
    nb_detail(resp, 404, "Not found.");
    goto out;
  }
  if (n == 3) {
    if (read)
      list(nb, model, req, resp);
    else if (strcmp(m, "POST") == 0)
      create(nb, model, req, resp);
    else if (strcmp(m, "PUT") == 0 || strcmp(m, "PATCH") == 0 ||
             strcmp(m, "DELETE") == 0)
      bulk_write(nb, model, req, resp);
    else
      nb_method_not_allowed(resp, m);
    goto out;
  }
  long long id;
  if (sim_parse_ll(seg[3], 1, LLONG_MAX, &id) < 0) {
    nb_detail(resp, 404, "Not found.");
    goto out;
  }
  json_t *obj = nb_find_obj(nb, model, (json_int_t)id);
  if (n == 5) {
    static const struct {
      int model;
      const char *view;
      void (*fn)(netbox_t *, json_t *, const sim_req_t *, sim_resp_t *);
    } views[] = {
      {M_PREFIX, "available-ips", nb_available_ips},
      {M_PREFIX, "available-prefixes", nb_available_prefixes},
      {M_VLANGROUP, "available-vlans", nb_available_vlans},
    };
    size_t k = 0;
    while (k < sizeof(views) / sizeof(views[0]) &&
           (views[k].model != model || strcmp(seg[4], views[k].view) != 0))
      k++;
    if (k == sizeof(views) / sizeof(views[0]))
      nb_detail(resp, 404, "Not found.");
    else if (!obj)
      nb_not_found(resp, model);
    else
      views[k].fn(nb, obj, req, resp);
    goto out;
  }
  if (!read && strcmp(m, "PUT") != 0 && strcmp(m, "PATCH") != 0 &&
      strcmp(m, "DELETE") != 0) {
    nb_method_not_allowed(resp, m);
    goto out;
  }
  if (!obj) {
    nb_not_found(resp, model);
    goto out;
  }
  if (read) {
    sim_resp_json(resp, 200, shape(nb_render(nb, req, model, obj, false), req));
    etag(resp, obj);
  } else if (strcmp(m, "DELETE") == 0) {
    delete_one(nb, model, obj, req, resp);
  } else {
    update_one(nb, model, obj, req, resp);
  }
out:
  common_headers(nb, resp);
  free(storage);
}

static void netbox_error(void *state, const sim_req_t *req, unsigned status,
                         sim_resp_t *resp)
{
  netbox_t *nb = state;
  if (status == 500) {
    sim_resp_json(resp, 500,
                  json_pack("{s:s,s:s,s:s,s:s}", "error",
                            "Injected fault (southbound-sim)", "exception",
                            "RuntimeError", "netbox_version", NETBOX_VERSION,
                            "python_version", "3.12.3"));
  } else if (status == 429) {
    nb_detail(resp, 429, "Request was throttled.");
  } else if (status == 413) {
    nb_detail(resp, 413, "Request body exceeded settings.DATA_UPLOAD_MAX_MEMORY_"
                      "SIZE.");
  } else {
    const char *r = status == 503 ? "Service Unavailable"
                    : status == 502 ? "Bad Gateway"
                    : status == 504 ? "Gateway Timeout"
                                    : "Error";
    nb_detail(resp, status, "%s", r);
  }
  common_headers(nb, resp);
}

const sim_svc_ops_t sim_netbox_ops = {
    .name = "netbox",
    .handle = netbox_handle,
    .error = netbox_error,
    .admin = NULL,
    .destroy = netbox_destroy,
};
