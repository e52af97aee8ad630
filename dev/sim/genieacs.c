/* The GenieACS NBI (SOUTHBOUND.md §2): collection queries with the `total`
 * header, tasks with connection requests (200 executed / 202 with the
 * reason phrase saying why not / 504), tags, presets, provisions, files and
 * faults, device ids with %XX escapes, and the uncaught-validation quirk
 * (an invalid task closes the connection without a response). When a CPE
 * runs its queued tasks (its next inform) is genieacs_inform.c's part. */
#include "dev/sim/genieacs.h"

#include "common/alloc.h"
#include "common/clock.h"

#include <ctype.h>
#include <limits.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GENIEACS_VERSION "1.2.16"
/* Bounds on what clients can grow. */
#define MAX_DOCS_PER_COLL 200000u
#define MAX_NAME_LEN 256u
#define MAX_TAGS_PER_DEVICE 1000u

static const char *const collections[] = {
    "devices", "tasks",   "faults", "presets",     "provisions",
    "files",   "virtual_parameters", "objects", "users", "config",
    "permissions", "operations"};

/* ---- helpers ---- */

static json_t *coll(genie_t *g, const char *name)
{
  return json_object_get(g->colls, name);
}

static void now_iso(char *buf, size_t size)
{
  sim_iso(pv_clock_wall_ms(), buf, size);
}

/* lib/util.ts generateDeviceId: every byte outside [A-Za-z0-9_] -> %XX. */
static void escape_part(const char *in, char *out, size_t size)
{
  static const char hex[] = "0123456789ABCDEF";
  size_t o = 0;
  for (const unsigned char *p = (const unsigned char *)in; *p && o + 4 < size;
       p++) {
    if (isalnum(*p) || *p == '_') {
      out[o++] = (char)*p;
    } else {
      out[o++] = '%';
      out[o++] = hex[*p >> 4];
      out[o++] = hex[*p & 15];
    }
  }
  out[o] = '\0';
}

/* A route segment: GenieACS's regexes accept only [A-Za-z0-9-_%] (plus ':'
 * for faults, '.' for file names); it is then decoded exactly once. */
static char *segment(const char *raw, char extra)
{
  if (!*raw || strlen(raw) > 1024)
    return NULL;
  for (const char *p = raw; *p; p++)
    if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' && *p != '%' &&
        !(extra && *p == extra))
      return NULL;
  return sim_pct_decode(raw, strlen(raw));
}

static json_t *leaf(json_t *v, const char *type, bool writable,
                    const char *ts)
{
  return json_pack("{s:o,s:s,s:s,s:b}", "_value", v, "_type", type,
                   "_timestamp", ts, "_writable", writable);
}

static json_t *objnode(bool writable, const char *ts)
{
  return json_pack("{s:b,s:b,s:s}", "_object", 1, "_writable", writable,
                   "_timestamp", ts);
}

static json_t *child(json_t *parent, const char *name, json_t *node)
{
  json_object_set_new(parent, name, node);
  return node;
}

/* ---- seeding ---- */

static json_t *make_device(genie_t *g, unsigned k, int64_t t0)
{
  static const struct {
    const char *oui, *pc, *maker;
  } models[] = {{"00236A", "96318REF", "Broadcom"},
                {"00E0FC", "HG8245H", "Huawei Technologies Co., Ltd"},
                {"50C7BF", "Archer C6", "TP-Link"},
                {"DC028E", "", "ZTE"}};
  unsigned m = k % 4;
  char serial[40], id[256], e1[64], e2[64], e3[96];
  char ts[40], reg[40], inform[40], boot[40];
  switch (m) {
  case 0:
    snprintf(serial, sizeof(serial), "SR360NA0A4-%07u", k);
    break;
  case 1:
    snprintf(serial, sizeof(serial), "48575443%08X", k);
    break;
  case 2:
    snprintf(serial, sizeof(serial), "22%08u", k);
    break;
  default:
    snprintf(serial, sizeof(serial), "ZTEG%08X", k);
    break;
  }
  escape_part(models[m].oui, e1, sizeof(e1));
  escape_part(models[m].pc, e2, sizeof(e2));
  escape_part(serial, e3, sizeof(e3));
  if (*models[m].pc)
    snprintf(id, sizeof(id), "%s-%s-%s", e1, e2, e3);
  else
    snprintf(id, sizeof(id), "%s-%s", e1, e3);
  sim_iso(t0 - 30LL * 86400000 - (int64_t)k * 60000, reg, sizeof(reg));
  sim_iso(t0 - (int64_t)(k % 300) * 1000, inform, sizeof(inform));
  sim_iso(t0 - 86400000 - (int64_t)(k % 977) * 1000, boot, sizeof(boot));
  snprintf(ts, sizeof(ts), "%s", inform);

  json_t *d = json_pack("{s:s,s:{s:s,s:s,s:s,s:s},s:s,s:s,s:s,s:s}", "_id", id,
                        "_deviceId", "_Manufacturer", models[m].maker, "_OUI",
                        models[m].oui, "_ProductClass", models[m].pc,
                        "_SerialNumber", serial, "_registered", reg,
                        "_lastInform", inform, "_lastBoot", boot,
                        "_lastBootstrap", reg);
  json_object_set_new(d, "_tags",
                      json_pack("[s]", k % 2 == 0 ? "isp-east" : "isp-west"));
  json_t *igd = child(d, "InternetGatewayDevice", objnode(false, ts));
  json_t *di = child(igd, "DeviceInfo", objnode(false, ts));
  json_object_set_new(di, "Manufacturer",
                      leaf(json_string(models[m].maker), "xsd:string", false, ts));
  json_object_set_new(di, "ManufacturerOUI",
                      leaf(json_string(models[m].oui), "xsd:string", false, ts));
  json_object_set_new(di, "ProductClass",
                      leaf(json_string(models[m].pc), "xsd:string", false, ts));
  json_object_set_new(di, "SerialNumber",
                      leaf(json_string(serial), "xsd:string", false, ts));
  json_object_set_new(
      di, "SoftwareVersion",
      leaf(sim_jsonf("V%u.%u.%u", 1 + m, (unsigned)(g->inv.seed % 10), k % 7),
           "xsd:string", false, ts));
  json_object_set_new(di, "HardwareVersion",
                      leaf(sim_jsonf("HW%u", 1 + k % 3), "xsd:string", false, ts));
  json_object_set_new(di, "UpTime",
                      leaf(json_integer(86400 + k % 977), "xsd:unsignedInt",
                           false, ts));
  json_t *ms = child(igd, "ManagementServer", objnode(false, ts));
  json_object_set_new(
      ms, "ConnectionRequestURL",
      leaf(sim_jsonf("http://100.127.%u.%u:7547/", (k / 250) % 256, k % 250 + 1),
           "xsd:string", false, ts));
  json_object_set_new(ms, "PeriodicInformInterval",
                      leaf(json_integer(300), "xsd:unsignedInt", true, ts));
  json_object_set_new(ms, "PeriodicInformEnable",
                      leaf(json_true(), "xsd:boolean", true, ts));
  json_t *lan = child(igd, "LANDevice", objnode(false, ts));
  json_t *lan1 = child(lan, "1", objnode(false, ts));
  json_t *wlc = child(lan1, "WLANConfiguration", objnode(false, ts));
  json_t *wl1 = child(wlc, "1", objnode(false, ts));
  json_object_set_new(wl1, "SSID",
                      leaf(sim_jsonf("home-%04u", k), "xsd:string", true, ts));
  json_object_set_new(wl1, "Enable", leaf(json_true(), "xsd:boolean", true, ts));
  json_t *wan = child(igd, "WANDevice", objnode(false, ts));
  json_t *wan1 = child(wan, "1", objnode(false, ts));
  json_t *wcd = child(wan1, "WANConnectionDevice", objnode(false, ts));
  json_t *wcd1 = child(wcd, "1", objnode(false, ts));
  json_t *wip = child(wcd1, "WANIPConnection", objnode(true, ts));
  json_t *wip1 = child(wip, "1", objnode(true, ts));
  json_object_set_new(wip1, "Enable", leaf(json_true(), "xsd:boolean", true, ts));
  json_object_set_new(
      wip1, "ExternalIPAddress",
      leaf(sim_jsonf("100.64.%u.%u", 100 + (k / 250) % 100, k % 250 + 1),
           "xsd:string", true, ts));
  return d;
}

void *sim_genieacs_new(const sim_inventory_t *inv)
{
  genie_t *g = pv_calloc(1, sizeof(*g));
  g->inv = *inv;
  g->rng = inv->seed * 0x2545f4914f6cdd1dULL + 0x67656e6965ULL;
  g->colls = json_object();
  g->devidx = json_object();
  g->offline = json_object();
  g->busy = json_object();
  g->inform_after = json_object();
  g->inform_default = -1;
  g->inform_due = json_object();
  g->inform_next = UINT64_MAX;
  for (size_t i = 0; i < sizeof(collections) / sizeof(collections[0]); i++)
    json_object_set_new(g->colls, collections[i], json_array());
  int64_t t0 = pv_clock_wall_ms();
  json_t *devs = coll(g, "devices");
  for (unsigned k = 0; k < inv->cpes && k < MAX_DOCS_PER_COLL; k++) {
    json_t *d = make_device(g, k, t0);
    const char *id = json_string_value(json_object_get(d, "_id"));
    json_object_set(g->devidx, id, d);
    /* Every tenth device (k % 10 == 9) is offline: connection requests to
     * it fail the way GenieACS reports an unreachable CPE. */
    if (k % 10 == 9)
      json_object_set_new(g->offline, id, json_string("Device is offline"));
    json_array_append_new(devs, d);
  }
  json_array_append_new(
      coll(g, "presets"),
      json_pack("{s:s,s:i,s:s,s:s,s:s,s:[{s:s,s:s,s:[]}]}", "_id", "inform",
                "weight", 0, "channel", "", "schedule", "", "precondition",
                "{}", "configurations", "type", "provision", "name",
                "default", "args"));
  json_array_append_new(coll(g, "provisions"),
                        json_pack("{s:s,s:s}", "_id", "default", "script",
                                  "const now = Date.now();\n"));
  return g;
}

static void genie_destroy(void *state)
{
  genie_t *g = state;
  if (!g)
    return;
  json_decref(g->devidx);
  json_decref(g->colls);
  json_decref(g->offline);
  json_decref(g->busy);
  json_decref(g->inform_after);
  json_decref(g->inform_due);
  free(g);
}

static void common_headers(sim_resp_t *resp)
{
  sim_resp_header(resp, "GenieACS-Version", "%s", GENIEACS_VERSION);
}

/* Removes every doc of collection name for which keep() is false. */
static size_t remove_where(genie_t *g, const char *name, const char *field,
                           const char *value)
{
  json_t *arr = coll(g, name);
  size_t i = 0, n = 0;
  while (i < json_array_size(arr)) {
    json_t *d = json_array_get(arr, i);
    const char *v = json_string_value(json_object_get(d, field));
    if (v && strcmp(v, value) == 0) {
      json_array_remove(arr, i);
      n++;
    } else {
      i++;
    }
  }
  return n;
}

static json_t *find_by_id(genie_t *g, const char *name, const char *id)
{
  if (strcmp(name, "devices") == 0)
    return json_object_get(g->devidx, id);
  json_t *arr = coll(g, name);
  size_t i;
  json_t *d;
  json_array_foreach(arr, i, d)
  {
    const char *v = json_string_value(json_object_get(d, "_id"));
    if (v && strcmp(v, id) == 0)
      return d;
  }
  return NULL;
}

json_t *sim_genie_find(genie_t *g, const char *name, const char *id)
{
  return find_by_id(g, name, id);
}

static void upsert(genie_t *g, const char *name, json_t *doc)
{
  const char *id = json_string_value(json_object_get(doc, "_id"));
  remove_where(g, name, "_id", id);
  json_array_append_new(coll(g, name), doc);
}

/* ---- collection queries ---- */

typedef struct sortkey {
  char path[256];
  int dir;
} sortkey_t;

typedef struct sortctx {
  sortkey_t keys[8];
  size_t n;
} sortctx_t;

static int type_rank(const json_t *v)
{
  if (!v || json_is_null(v))
    return 0;
  if (json_is_number(v))
    return 1;
  if (json_is_string(v))
    return 2;
  return 3;
}

static int sort_cmp(const void *a, const void *b, void *arg)
{
  const sortctx_t *sc = arg;
  const json_t *da = *(json_t *const *)a, *db = *(json_t *const *)b;
  for (size_t i = 0; i < sc->n; i++) {
    const json_t *x = sim_json_path(da, sc->keys[i].path);
    const json_t *y = sim_json_path(db, sc->keys[i].path);
    int rx = type_rank(x), ry = type_rank(y), c = 0;
    if (rx != ry)
      c = rx < ry ? -1 : 1;
    else if (rx == 1)
      c = json_number_value(x) < json_number_value(y)   ? -1
          : json_number_value(x) > json_number_value(y) ? 1
                                                        : 0;
    else if (rx == 2)
      c = strcmp(json_string_value(x), json_string_value(y));
    if (c)
      return c * sc->keys[i].dir;
  }
  return 0;
}

static void proj_set(json_t *out, const char *path, json_t *value)
{
  char buf[512];
  snprintf(buf, sizeof(buf), "%s", path);
  json_t *cur = out;
  char *p = buf;
  for (;;) {
    char *dot = strchr(p, '.');
    if (!dot) {
      json_object_set(cur, p, value);
      return;
    }
    *dot = '\0';
    json_t *next = json_object_get(cur, p);
    if (!json_is_object(next)) {
      next = json_object();
      json_object_set_new(cur, p, next);
    }
    cur = next;
    p = dot + 1;
  }
}

static void syntax_error(sim_resp_t *resp, const char *what,
                         const json_error_t *e)
{
  sim_resp_text(resp, 400, "SyntaxError: Unexpected token in JSON at "
                           "position %d (%s: %s)", e->position, what, e->text);
}

static void query_collection(genie_t *g, const char *name,
                             const sim_req_t *req, sim_resp_t *resp)
{
  json_error_t jerr;
  json_t *query = NULL, *sort = NULL, *out = NULL;
  json_t **hits = NULL;
  char err[160];
  long long skip = 0, limit = -1;
  bool devices = strcmp(name, "devices") == 0;
  const char *q = sim_req_arg(req, "query");
  const char *s = sim_req_arg(req, "sort");
  const char *p = sim_req_arg(req, "projection");
  const char *sk = sim_req_arg(req, "skip");
  const char *li = sim_req_arg(req, "limit");
  sortctx_t sc;
  memset(&sc, 0, sizeof(sc));

  if (q && *q) {
    query = json_loads(q, 0, &jerr);
    if (!query) {
      syntax_error(resp, "query", &jerr);
      goto out;
    }
  }
  if (s && *s) {
    sort = json_loads(s, 0, &jerr);
    if (!sort) {
      syntax_error(resp, "sort", &jerr);
      goto out;
    }
    const char *key;
    json_t *dir;
    json_object_foreach(sort, key, dir)
    {
      if (sc.n == 8)
        break;
      const char *last = strrchr(key, '.');
      last = last ? last + 1 : key;
      if (devices && last[0] != '_')
        snprintf(sc.keys[sc.n].path, sizeof(sc.keys[sc.n].path), "%s._value",
                 key);
      else
        snprintf(sc.keys[sc.n].path, sizeof(sc.keys[sc.n].path), "%s", key);
      sc.keys[sc.n].dir = json_number_value(dir) < 0 ? -1 : 1;
      sc.n++;
    }
  }
  if ((sk && *sk && sim_parse_ll(sk, 0, LLONG_MAX, &skip) < 0) ||
      (li && *li && sim_parse_ll(li, 0, LLONG_MAX, &limit) < 0)) {
    sim_resp_text(resp, 400, "skip and limit must be non-negative integers");
    goto out;
  }
  if (li && *li && limit == 0)
    limit = -1; /* Mongo: limit(0) is no limit */

  json_t *arr = coll(g, name);
  size_t nhits = 0;
  hits = pv_malloc((json_array_size(arr) + 1) * sizeof(*hits));
  size_t i;
  json_t *d;
  json_array_foreach(arr, i, d)
  {
    int r = query ? sim_gquery_match(query, d, devices, err, sizeof(err)) : 1;
    if (r < 0) {
      sim_resp_text(resp, 400, "Error: %s", err);
      goto out;
    }
    if (r)
      hits[nhits++] = d;
  }
  if (sc.n)
    qsort_r(hits, nhits, sizeof(*hits), sort_cmp, &sc);

  out = json_array();
  for (size_t k = (size_t)skip; k < nhits; k++) {
    if (limit >= 0 && (long long)json_array_size(out) >= limit)
      break;
    if (!p || !*p) {
      json_array_append(out, hits[k]);
      continue;
    }
    json_t *o = json_object();
    json_object_set(o, "_id", json_object_get(hits[k], "_id"));
    char *copy = pv_strdup(p);
    for (char *f = copy; f;) {
      char *comma = strchr(f, ',');
      if (comma)
        *comma = '\0';
      json_t *v = *f ? sim_json_path(hits[k], f) : NULL;
      if (v)
        proj_set(o, f, v);
      f = comma ? comma + 1 : NULL;
    }
    free(copy);
    json_array_append_new(out, o);
  }
  sim_resp_json(resp, 200, out);
  out = NULL;
  sim_resp_header(resp, "total", "%zu", nhits);
out:
  free(hits);
  json_decref(out);
  json_decref(query);
  json_decref(sort);
}

/* ---- tasks ---- */

static bool str_array(const json_t *a, bool nonempty)
{
  if (!json_is_array(a) || (nonempty && json_array_size(a) == 0))
    return false;
  size_t i;
  json_t *e;
  json_array_foreach((json_t *)(uintptr_t)a, i, e)
  {
    if (!json_is_string(e))
      return false;
  }
  return true;
}

static bool param_values(const json_t *a, bool nonempty)
{
  if (!json_is_array(a) || (nonempty && json_array_size(a) == 0))
    return false;
  size_t i;
  json_t *e;
  json_array_foreach((json_t *)(uintptr_t)a, i, e)
  {
    json_t *v = json_array_get(e, 1);
    json_t *t = json_array_get(e, 2);
    if (!json_is_array(e) || json_array_size(e) < 2 ||
        json_array_size(e) > 3 || !json_is_string(json_array_get(e, 0)) ||
        !(json_is_string(v) || json_is_number(v) || json_is_boolean(v)) ||
        (t && !json_is_string(t)))
      return false;
  }
  return true;
}

/* sanitizeTask (lib/db/types.ts): @returns NULL when valid. */
static const char *task_invalid(const json_t *t)
{
  const char *name = json_string_value(json_object_get(t, "name"));
  if (!json_is_object(t))
    return "Invalid task";
  if (!name)
    return "Invalid task name";
  json_t *exp = json_object_get(t, "expiry");
  if (exp && !json_is_number(exp))
    return "Invalid expiry";
  json_t *uk = json_object_get(t, "uniqueKey");
  if (uk && !json_is_string(uk))
    return "Invalid uniqueKey";
  if (strcmp(name, "getParameterValues") == 0)
    return str_array(json_object_get(t, "parameterNames"), true)
               ? NULL
               : "Missing 'parameterNames' property";
  if (strcmp(name, "setParameterValues") == 0)
    return param_values(json_object_get(t, "parameterValues"), true)
               ? NULL
               : "Missing or invalid 'parameterValues' property";
  if (strcmp(name, "refreshObject") == 0 || strcmp(name, "deleteObject") == 0)
    return json_is_string(json_object_get(t, "objectName"))
               ? NULL
               : "Missing 'objectName' property";
  if (strcmp(name, "addObject") == 0) {
    json_t *pv = json_object_get(t, "parameterValues");
    if (!json_is_string(json_object_get(t, "objectName")))
      return "Missing 'objectName' property";
    return !pv || param_values(pv, false) ? NULL
                                          : "Invalid 'parameterValues'";
  }
  if (strcmp(name, "download") == 0) {
    json_t *tf = json_object_get(t, "targetFileName");
    if (tf && !json_is_string(tf))
      return "Invalid 'targetFileName' property";
    if (json_is_string(json_object_get(t, "file")))
      return NULL;
    return json_is_string(json_object_get(t, "fileType")) &&
                   json_is_string(json_object_get(t, "fileName"))
               ? NULL
               : "Missing 'fileType' or 'fileName' property";
  }
  if (strcmp(name, "reboot") == 0 || strcmp(name, "factoryReset") == 0)
    return NULL;
  if (strcmp(name, "provisions") == 0) {
    json_t *pr = json_object_get(t, "provisions");
    if (!json_is_array(pr))
      return "Missing 'provisions' property";
    size_t i;
    json_t *e;
    json_array_foreach(pr, i, e)
    {
      if (!json_is_array(e) || !json_is_string(json_array_get(e, 0)))
        return "Invalid 'provisions' property";
    }
    return NULL;
  }
  return "Invalid task name";
}

static void new_object_id(genie_t *g, char *out, size_t size)
{
  /* A Mongo ObjectId: 4 bytes of seconds, 5 random, 3 of counter. */
  uint64_t r = sim_rng_next(&g->rng);
  snprintf(out, size, "%08x%010llx%06x",
           (unsigned)(pv_clock_wall_ms() / 1000),
           (unsigned long long)(r & 0xffffffffffULL),
           (unsigned)(++g->task_counter & 0xffffff));
}

/* Resolves a parameter path in the device tree. */
static json_t *param(json_t *dev, const char *path)
{
  if (!*path || strlen(path) > 400 || path[0] == '_')
    return NULL;
  return sim_json_path(dev, path);
}

static void touch(json_t *node, const char *ts)
{
  if (!json_is_object(node))
    return;
  if (json_object_get(node, "_timestamp"))
    json_object_set_new(node, "_timestamp", json_string(ts));
  const char *k;
  json_t *c;
  json_object_foreach(node, k, c)
  {
    if (k[0] != '_')
      touch(c, ts);
  }
}

static json_t *coerce(json_t *v, const char *type)
{
  if (strcmp(type, "xsd:boolean") == 0) {
    if (json_is_boolean(v))
      return json_incref(v);
    const char *s = json_string_value(v);
    if (s)
      return json_boolean(strcmp(s, "true") == 0 || strcmp(s, "1") == 0);
    return json_boolean(json_number_value(v) != 0);
  }
  if (strstr(type, "Int") || strcmp(type, "xsd:int") == 0) {
    if (json_is_integer(v))
      return json_incref(v);
    long long x;
    if (json_is_string(v) &&
        sim_parse_ll(json_string_value(v), LLONG_MIN, LLONG_MAX, &x) == 0)
      return json_integer(x);
    if (json_is_real(v))
      return json_integer((json_int_t)json_real_value(v));
    return json_incref(v);
  }
  if (json_is_string(v))
    return json_incref(v);
  char *s = json_dumps(v, JSON_ENCODE_ANY);
  json_t *r = json_string(s ? s : "");
  free(s);
  return r;
}

/* Runs a task against the device's tree. @returns NULL, or the CWMP fault
 * ("9005 Invalid parameter name" style) as "code|message". */
const char *sim_genie_execute(json_t *dev, const json_t *task, const char *ts)
{
  const char *name = json_string_value(json_object_get(task, "name"));
  size_t i;
  json_t *e;
  if (strcmp(name, "getParameterValues") == 0) {
    json_array_foreach(json_object_get(task, "parameterNames"), i, e)
    {
      json_t *n = param(dev, json_string_value(e));
      if (!n)
        return "9005|Invalid parameter name";
      touch(n, ts);
    }
  } else if (strcmp(name, "setParameterValues") == 0) {
    json_t *pv = json_object_get(task, "parameterValues");
    json_array_foreach(pv, i, e)
    {
      json_t *n = param(dev, json_string_value(json_array_get(e, 0)));
      if (!n || !json_object_get(n, "_value"))
        return "9005|Invalid parameter name";
      if (!json_is_true(json_object_get(n, "_writable")))
        return "9008|Attempt to set a non-writable parameter";
    }
    json_array_foreach(pv, i, e)
    {
      json_t *n = param(dev, json_string_value(json_array_get(e, 0)));
      const char *type = json_string_value(json_array_get(e, 2));
      if (!type)
        type = json_string_value(json_object_get(n, "_type"));
      if (!type)
        type = "xsd:string";
      json_object_set_new(n, "_value", coerce(json_array_get(e, 1), type));
      json_object_set_new(n, "_type", json_string(type));
      json_object_set_new(n, "_timestamp", json_string(ts));
    }
  } else if (strcmp(name, "refreshObject") == 0) {
    const char *obj = json_string_value(json_object_get(task, "objectName"));
    json_t *n = *obj ? param(dev, obj) : dev;
    if (!n)
      return "9005|Invalid parameter name";
    touch(n, ts);
  } else if (strcmp(name, "addObject") == 0) {
    json_t *n = param(dev, json_string_value(json_object_get(task, "objectName")));
    if (!n || !json_is_true(json_object_get(n, "_object")) ||
        !json_is_true(json_object_get(n, "_writable")))
      return "9005|Invalid parameter name";
    unsigned next = 1;
    char num[16];
    do
      snprintf(num, sizeof(num), "%u", next++);
    while (json_object_get(n, num) && next < 100000);
    json_object_set_new(n, num, objnode(true, ts));
  } else if (strcmp(name, "deleteObject") == 0) {
    const char *obj = json_string_value(json_object_get(task, "objectName"));
    char buf[512];
    snprintf(buf, sizeof(buf), "%s", obj);
    size_t len = strlen(buf);
    if (len && buf[len - 1] == '.')
      buf[--len] = '\0';
    char *dot = strrchr(buf, '.');
    json_t *n = param(dev, buf);
    if (!dot || !n || !json_is_true(json_object_get(n, "_object")))
      return "9005|Invalid parameter name";
    *dot = '\0';
    json_object_del(param(dev, buf), dot + 1);
  } else if (strcmp(name, "reboot") == 0) {
    json_object_set_new(dev, "_lastBoot", json_string(ts));
    json_t *up = param(dev, "InternetGatewayDevice.DeviceInfo.UpTime");
    if (up)
      json_object_set_new(up, "_value", json_integer(0));
  } else if (strcmp(name, "factoryReset") == 0) {
    json_object_set_new(dev, "_lastBootstrap", json_string(ts));
  }
  json_object_set_new(dev, "_lastInform", json_string(ts));
  return NULL;
}

void sim_genie_task_fault(genie_t *g, const char *devid, const char *tid,
                          const char *fault, const char *ts)
{
  char fid[320], chan[48], code[16];
  snprintf(chan, sizeof(chan), "task_%s", tid);
  snprintf(fid, sizeof(fid), "%s:%s", devid, chan);
  const char *bar = strchr(fault, '|');
  snprintf(code, sizeof(code), "cwmp.%.*s", (int)(bar - fault), fault);
  upsert(g, "faults",
         json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:{s:s,s:s},s:i,s:[]}", "_id",
                   fid, "device", devid, "channel", chan, "timestamp", ts,
                   "code", code, "message", bar + 1, "detail", "faultCode",
                   code + 5, "faultString", bar + 1, "retries", 0,
                   "provisions"));
}

static void post_task(genie_t *g, const char *devid, const sim_req_t *req,
                      sim_resp_t *resp)
{
  json_error_t jerr;
  json_t *task = NULL;
  bool cr = sim_req_has_arg(req, "connection_request");
  const char *to = sim_req_arg(req, "timeout");
  long long timeout;
  char ts[40];
  now_iso(ts, sizeof(ts));
  if (to && *to && sim_parse_ll(to, 0, 3600000, &timeout) < 0) {
    sim_resp_text(resp, 400, "Invalid timeout");
    goto out;
  }
  if (req->body_len) {
    task = json_loadb(req->body, req->body_len, 0, &jerr);
    /* The real NBI throws from JSON.parse / sanitizeTask without catching
     * it: the worker dies and the client sees the connection close. */
    if (!task || task_invalid(task)) {
      resp->close = true;
      goto out;
    }
  } else if (!cr) {
    sim_resp_text(resp, 400, "Invalid request: neither a task nor a "
                             "connection request");
    goto out;
  }
  json_t *dev = json_object_get(g->devidx, devid);
  if (!dev) {
    sim_resp_text(resp, 404, "No such device");
    goto out;
  }
  const char *cr_error = json_string_value(json_object_get(g->offline, devid));
  bool busy = json_object_get(g->busy, devid) != NULL;

  if (!task) {
    /* A bare connection request. A busy device gets it, and its session
     * (the inform) comes later. */
    if (cr_error) {
      sim_resp_text(resp, 504, "%s", cr_error);
      sim_resp_reason(resp, cr_error);
    } else {
      if (busy)
        sim_genie_queued(g, devid);
      else
        json_object_set_new(dev, "_lastInform", json_string(ts));
      sim_resp_text(resp, 200, "%s", "");
    }
    goto out;
  }

  char tid[32];
  new_object_id(g, tid, sizeof(tid));
  json_object_set_new(task, "_id", json_string(tid));
  json_object_set_new(task, "device", json_string(devid));
  json_object_set_new(task, "timestamp", json_string(ts));
  json_t *exp = json_object_get(task, "expiry");
  if (exp) {
    char eb[40];
    sim_iso(pv_clock_wall_ms() + (int64_t)(json_number_value(exp) * 1000), eb,
            sizeof(eb));
    json_object_set_new(task, "expiry", json_string(eb));
  }
  const char *uk = json_string_value(json_object_get(task, "uniqueKey"));
  if (uk) {
    json_t *arr = coll(g, "tasks");
    size_t i = 0;
    while (i < json_array_size(arr)) {
      json_t *t = json_array_get(arr, i);
      const char *tk = json_string_value(json_object_get(t, "uniqueKey"));
      const char *td = json_string_value(json_object_get(t, "device"));
      if (tk && td && strcmp(tk, uk) == 0 && strcmp(td, devid) == 0)
        json_array_remove(arr, i);
      else
        i++;
    }
  }
  if (json_array_size(coll(g, "tasks")) >= MAX_DOCS_PER_COLL) {
    sim_resp_text(resp, 503, "Too many queued tasks");
    goto out;
  }

  /* Not run now: queued for the device's next inform. Without a
   * connection request that is all the NBI does; with one, the reason
   * phrase says why it did not run (the request failed, or the device did
   * not run it in time). */
  if (!cr || cr_error || busy) {
    json_array_append(coll(g, "tasks"), task);
    sim_resp_json(resp, 202, json_incref(task));
    if (cr)
      sim_resp_reason(resp, cr_error ? cr_error : SIM_GENIE_NOT_PROCESSED);
    sim_genie_queued(g, devid);
    goto out;
  }
  const char *fault = sim_genie_execute(dev, task, ts);
  if (fault) {
    json_array_append(coll(g, "tasks"), task);
    sim_genie_task_fault(g, devid, tid, fault, ts);
    sim_resp_json(resp, 202, json_incref(task));
    sim_resp_reason(resp, "Task faulted");
    goto out;
  }
  sim_resp_json(resp, 200, json_incref(task));
out:
  json_decref(task);
}

/* ---- provisions: a syntax check good enough to reject truncated JS ---- */

static bool js_balanced(const char *s, size_t n)
{
  char stack[256];
  size_t depth = 0;
  char quote = 0;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (quote) {
      if (c == '\\')
        i++;
      else if (c == quote)
        quote = 0;
      continue;
    }
    if (c == '"' || c == '\'' || c == '`') {
      quote = c;
    } else if (c == '(' || c == '[' || c == '{') {
      if (depth == sizeof(stack))
        return false;
      stack[depth++] = c;
    } else if (c == ')' || c == ']' || c == '}') {
      char open = c == ')' ? '(' : c == ']' ? '[' : '{';
      if (!depth || stack[--depth] != open)
        return false;
    }
  }
  return depth == 0 && !quote;
}

/* ---- routing ---- */

static void not_allowed(sim_resp_t *resp, const char *allow)
{
  sim_resp_text(resp, 405, "405 Method Not Allowed");
  sim_resp_header(resp, "Allow", "%s", allow);
}

static bool known_collection(const char *name)
{
  for (size_t i = 0; i < sizeof(collections) / sizeof(collections[0]); i++)
    if (strcmp(name, collections[i]) == 0)
      return true;
  return false;
}

static void devices_route(genie_t *g, const sim_req_t *req, char **seg, int n,
                          sim_resp_t *resp)
{
  const char *m = req->method;
  char *id = segment(seg[1], 0);
  char *tag = NULL;
  if (!id)
    goto not_found;
  if (n == 2) {
    if (strcmp(m, "DELETE") != 0) {
      not_allowed(resp, "DELETE");
      goto out;
    }
    if (json_object_get(g->devidx, id)) {
      json_t *arr = coll(g, "devices");
      json_t *dev = json_object_get(g->devidx, id);
      for (size_t i = 0; i < json_array_size(arr); i++)
        if (json_array_get(arr, i) == dev) {
          json_array_remove(arr, i);
          break;
        }
      json_object_del(g->devidx, id);
      json_object_del(g->offline, id);
      sim_genie_forget(g, id);
      remove_where(g, "tasks", "device", id);
      remove_where(g, "faults", "device", id);
    }
    sim_resp_text(resp, 200, "%s", "");
    goto out;
  }
  if (n == 3 && strcmp(seg[2], "tasks") == 0) {
    if (strcmp(m, "POST") != 0) {
      not_allowed(resp, "POST");
      goto out;
    }
    post_task(g, id, req, resp);
    goto out;
  }
  if (n == 4 && strcmp(seg[2], "tags") == 0) {
    tag = segment(seg[3], 0);
    if (!tag || strlen(tag) > MAX_NAME_LEN)
      goto not_found;
    bool post = strcmp(m, "POST") == 0;
    if (!post && strcmp(m, "DELETE") != 0) {
      not_allowed(resp, "POST, DELETE");
      goto out;
    }
    json_t *dev = json_object_get(g->devidx, id);
    if (!dev) {
      sim_resp_text(resp, 404, "No such device");
      goto out;
    }
    json_t *tags = json_object_get(dev, "_tags");
    size_t i, found = (size_t)-1;
    json_t *t;
    json_array_foreach(tags, i, t)
    {
      if (strcmp(json_string_value(t), tag) == 0)
        found = i;
    }
    if (post && found == (size_t)-1 &&
        json_array_size(tags) >= MAX_TAGS_PER_DEVICE) {
      sim_resp_text(resp, 503, "Too many tags on this device (the simulator "
                               "keeps at most %u)", MAX_TAGS_PER_DEVICE);
      goto out;
    }
    if (post && found == (size_t)-1) {
      if (!tags) {
        tags = json_array();
        json_object_set_new(dev, "_tags", tags);
      }
      json_array_append_new(tags, json_string(tag));
    } else if (!post && found != (size_t)-1) {
      json_array_remove(tags, found);
      if (json_array_size(tags) == 0)
        json_object_del(dev, "_tags");
    }
    sim_resp_text(resp, 200, "%s", "");
    goto out;
  }
not_found:
  sim_resp_text(resp, 404, "404 Not Found");
out:
  free(id);
  free(tag);
}

static void named_route(genie_t *g, const sim_req_t *req, const char *cname,
                        const char *raw, sim_resp_t *resp)
{
  const char *m = req->method;
  json_error_t jerr;
  char *name = segment(raw, strcmp(cname, "files") == 0 ? '.' : 0);
  if (!name || strlen(name) > MAX_NAME_LEN) {
    sim_resp_text(resp, 404, "404 Not Found");
    goto out;
  }
  bool put = strcmp(m, "PUT") == 0, del = strcmp(m, "DELETE") == 0;
  if (!put && !del) {
    not_allowed(resp, "PUT, DELETE");
    goto out;
  }
  bool is_file = strcmp(cname, "files") == 0;
  if (del) {
    if (is_file && !find_by_id(g, cname, name)) {
      sim_resp_text(resp, 404, "404 Not Found");
      goto out;
    }
    remove_where(g, cname, "_id", name);
    sim_resp_text(resp, 200, "%s", "");
    goto out;
  }
  if (json_array_size(coll(g, cname)) >= MAX_DOCS_PER_COLL) {
    sim_resp_text(resp, 503, "Too many documents");
    goto out;
  }
  if (strcmp(cname, "presets") == 0 || strcmp(cname, "objects") == 0) {
    json_t *doc = json_loadb(req->body, req->body_len, 0, &jerr);
    if (!doc || !json_is_object(doc)) {
      json_decref(doc);
      sim_resp_text(resp, 400, "SyntaxError: Unexpected token in JSON at "
                               "position %d", jerr.position);
      goto out;
    }
    json_object_set_new(doc, "_id", json_string(name));
    upsert(g, cname, doc);
    sim_resp_text(resp, 200, "%s", "");
  } else if (is_file) {
    static const char *const meta[] = {"fileType", "oui", "productClass",
                                       "version"};
    char ts[40];
    now_iso(ts, sizeof(ts));
    json_t *md = json_object();
    for (size_t i = 0; i < 4; i++) {
      const char *v = sim_req_header(req, meta[i]);
      json_object_set_new(md, meta[i], json_string(v ? v : ""));
    }
    upsert(g, cname,
           json_pack("{s:s,s:I,s:s,s:s,s:o}", "_id", name, "length",
                     (json_int_t)req->body_len, "uploadDate", ts, "filename",
                     name, "metadata", md));
    sim_resp_text(resp, 201, "%s", "");
  } else { /* provisions, virtual_parameters: raw JavaScript */
    if (!js_balanced(req->body, req->body_len)) {
      sim_resp_text(resp, 400, "SyntaxError: Unexpected end of input");
      goto out;
    }
    json_t *doc = json_pack("{s:s,s:s%}", "_id", name, "script", req->body,
                            req->body_len);
    if (!doc) {
      sim_resp_text(resp, 400, "SyntaxError: Invalid or unexpected token");
      goto out;
    }
    upsert(g, cname, doc);
    sim_resp_text(resp, 200, "%s", "");
  }
out:
  free(name);
}

static void tasks_route(genie_t *g, const sim_req_t *req, char **seg, int n,
                        sim_resp_t *resp)
{
  const char *m = req->method;
  char *id = segment(seg[1], 0);
  if (!id || (n == 3 && strcmp(seg[2], "retry") != 0)) {
    sim_resp_text(resp, 404, "404 Not Found");
    goto out;
  }
  bool retry = n == 3;
  if (retry ? strcmp(m, "POST") != 0 : strcmp(m, "DELETE") != 0) {
    not_allowed(resp, retry ? "POST" : "DELETE");
    goto out;
  }
  json_t *task = find_by_id(g, "tasks", id);
  if (!task) {
    sim_resp_text(resp, 404, "Task not found");
    goto out;
  }
  char fid[400];
  snprintf(fid, sizeof(fid), "%s:task_%s",
           json_string_value(json_object_get(task, "device")), id);
  remove_where(g, "faults", "_id", fid);
  if (!retry)
    remove_where(g, "tasks", "_id", id);
  else /* it runs again at the device's next inform */
    sim_genie_queued(g, json_string_value(json_object_get(task, "device")));
  sim_resp_text(resp, 200, "%s", "");
out:
  free(id);
}

static void faults_route(genie_t *g, const sim_req_t *req, const char *raw,
                         sim_resp_t *resp)
{
  char *id = segment(raw, ':');
  if (!id || !strchr(id, ':')) {
    sim_resp_text(resp, 404, "404 Not Found");
    goto out;
  }
  if (strcmp(req->method, "DELETE") != 0) {
    not_allowed(resp, "DELETE");
    goto out;
  }
  const char *chan = strrchr(id, ':') + 1;
  if (strncmp(chan, "task_", 5) == 0)
    remove_where(g, "tasks", "_id", chan + 5);
  remove_where(g, "faults", "_id", id);
  sim_resp_text(resp, 200, "%s", "");
out:
  free(id);
}

static void genie_handle(void *state, const sim_req_t *req, sim_resp_t *resp)
{
  genie_t *g = state;
  char *seg[8];
  char *storage = NULL;
  const char *m = req->method;
  sim_genie_tick(g);
  int n = sim_split_path(req->path, seg, 8, &storage);
  /* "/devices/" is the collection, like "/devices". */
  if (n == 2 && seg[1][0] == '\0')
    n = 1;
  if (n < 1 || !*seg[0]) {
    sim_resp_text(resp, 404, "404 Not Found");
    goto out;
  }
  if (n == 1) {
    if (!known_collection(seg[0])) {
      sim_resp_text(resp, 404, "404 Not Found");
    } else if (strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0) {
      query_collection(g, seg[0], req, resp);
    } else {
      not_allowed(resp, "GET, HEAD");
    }
  } else if (strcmp(seg[0], "devices") == 0 && n >= 2 && n <= 4) {
    devices_route(g, req, seg, n, resp);
  } else if (n == 2 && (strcmp(seg[0], "presets") == 0 ||
                        strcmp(seg[0], "objects") == 0 ||
                        strcmp(seg[0], "provisions") == 0 ||
                        strcmp(seg[0], "virtual_parameters") == 0 ||
                        strcmp(seg[0], "files") == 0)) {
    named_route(g, req, seg[0], seg[1], resp);
  } else if (strcmp(seg[0], "tasks") == 0 && (n == 2 || n == 3)) {
    tasks_route(g, req, seg, n, resp);
  } else if (strcmp(seg[0], "faults") == 0 && n == 2) {
    faults_route(g, req, seg[1], resp);
  } else {
    sim_resp_text(resp, 404, "404 Not Found");
  }
out:
  common_headers(resp);
  free(storage);
}

static void genie_error(void *state, const sim_req_t *req, unsigned status,
                        sim_resp_t *resp)
{
  const char *r = MHD_get_reason_phrase_for(status);
  sim_resp_text(resp, status, "%s", r && *r ? r : "Error");
  common_headers(resp);
}

static bool genie_admin(void *state, const sim_req_t *req, sim_resp_t *resp)
{
  return sim_genie_admin(state, req, resp);
}

const sim_svc_ops_t sim_genieacs_ops = {
    .name = "genieacs",
    .handle = genie_handle,
    .error = genie_error,
    .admin = genie_admin,
    .destroy = genie_destroy,
};
