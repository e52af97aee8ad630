/* When simulated CPEs run their queued tasks. A real CPE runs them in a
 * session it opens itself: at its next periodic inform, or right after a
 * connection request reaches it. A task whose connection request fails
 * (the CPE is offline) or whose session does not finish in time (the CPE
 * is busy) answers 202 and waits for that next inform (genieacs/genieacs
 * #141, #222).
 *
 * A CPE is online (the default), offline (connection requests fail with
 * its error text) or busy (they reach it, but nothing runs now). A CPE
 * given an inform delay K informs K ms after a task is queued for it (or
 * after a busy CPE is reached), on the simulator's clock; without one it
 * never informs by itself, as before this existed. Informs are run by
 * sim_genie_tick() at the start of every request, each as of its due
 * time; POST /_sim/inform runs one now. */
#include "dev/sim/genieacs.h"

#include "common/alloc.h"
#include "common/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define MAX_INFORM_AFTER_MS 86400000LL
#define MAX_ERROR_LEN 200u
#define DEFAULT_OFFLINE_ERROR "Device is offline"

/* What one inform did. */
typedef struct inform_res {
  unsigned ran, faulted, expired;
} inform_res_t;

static long long inform_after(const genie_t *g, const char *devid)
{
  json_t *own = json_object_get(g->inform_after, devid);
  return own ? (long long)json_integer_value(own) : g->inform_default;
}

void sim_genie_queued(genie_t *g, const char *devid)
{
  long long k = devid ? inform_after(g, devid) : -1;
  if (k < 0 || json_object_get(g->inform_due, devid))
    return;
  uint64_t due = sim_clock_ms() + (uint64_t)k;
  json_object_set_new(g->inform_due, devid, json_integer((json_int_t)due));
  if (due < g->inform_next)
    g->inform_next = due;
}

void sim_genie_forget(genie_t *g, const char *devid)
{
  json_object_del(g->busy, devid);
  json_object_del(g->inform_after, devid);
  json_object_del(g->inform_due, devid);
}

static bool task_faulted(genie_t *g, const char *devid, const char *tid)
{
  char fid[400];
  snprintf(fid, sizeof(fid), "%s:task_%s", devid, tid);
  return sim_genie_find(g, "faults", fid) != NULL;
}

/* The device's session: its queued tasks run in the order they were
 * queued. A faulted task stays with its fault and is not retried until the
 * fault is cleared (POST /tasks/<id>/retry), as in GenieACS; an expired
 * one is dropped. */
static void inform(genie_t *g, const char *devid, uint64_t at,
                   inform_res_t *res)
{
  json_object_del(g->inform_due, devid);
  json_t *dev = json_object_get(g->devidx, devid);
  if (!dev)
    return;
  char ts[40];
  sim_iso(sim_clock_wall_at(at), ts, sizeof(ts));
  json_object_set_new(dev, "_lastInform", json_string(ts));
  json_t *tasks = json_object_get(g->colls, "tasks");
  size_t i = 0;
  while (i < json_array_size(tasks)) {
    json_t *t = json_array_get(tasks, i);
    const char *td = json_string_value(json_object_get(t, "device"));
    const char *tid = json_string_value(json_object_get(t, "_id"));
    const char *exp = json_string_value(json_object_get(t, "expiry"));
    if (!td || !tid || strcmp(td, devid) != 0 ||
        task_faulted(g, devid, tid)) {
      i++;
      continue;
    }
    /* Both are sim_iso() strings, so they compare as times. */
    if (exp && strcmp(exp, ts) < 0) {
      json_array_remove(tasks, i);
      res->expired++;
      continue;
    }
    const char *fault = sim_genie_execute(dev, t, ts);
    if (fault) {
      sim_genie_task_fault(g, devid, tid, fault, ts);
      res->faulted++;
      i++;
      continue;
    }
    json_array_remove(tasks, i);
    res->ran++;
  }
  pv_log(PV_LOG_INFO, "sim.cpe_inform", PV_S("device", devid),
         PV_I("tasks_run", res->ran), PV_I("tasks_faulted", res->faulted));
}

typedef struct due {
  const char *id; /* borrowed from inform_due's keys */
  uint64_t at;
} due_t;

static int due_cmp(const void *a, const void *b)
{
  const due_t *x = a, *y = b;
  if (x->at != y->at)
    return x->at < y->at ? -1 : 1;
  return strcmp(x->id, y->id);
}

void sim_genie_tick(genie_t *g)
{
  size_t n = json_object_size(g->inform_due);
  uint64_t now = sim_clock_ms();
  if (!n || now < g->inform_next)
    return;
  due_t *due = pv_malloc(n * sizeof(*due));
  size_t k = 0;
  const char *id;
  json_t *at;
  g->inform_next = UINT64_MAX;
  json_object_foreach(g->inform_due, id, at)
  {
    uint64_t t = (uint64_t)json_integer_value(at);
    if (t <= now)
      due[k++] = (due_t){pv_strdup(id), t};
    else if (t < g->inform_next)
      g->inform_next = t;
  }
  qsort(due, k, sizeof(*due), due_cmp);
  for (size_t i = 0; i < k; i++) {
    inform_res_t res = {0, 0, 0};
    inform(g, due[i].id, due[i].at, &res);
    free((char *)(uintptr_t)due[i].id);
  }
  free(due);
}

/* ---- admin API ---- */

static const char *mode_of(const genie_t *g, const char *devid)
{
  if (json_object_get(g->offline, devid))
    return "offline";
  return json_object_get(g->busy, devid) ? "busy" : "online";
}

static json_t *session_json(const genie_t *g, const char *devid)
{
  json_t *o = json_pack("{s:s}", "mode", mode_of(g, devid));
  json_t *err = json_object_get(g->offline, devid);
  json_t *after = json_object_get(g->inform_after, devid);
  json_t *due = json_object_get(g->inform_due, devid);
  if (err)
    json_object_set(o, "error", err);
  json_object_set_new(o, "inform_after_ms",
                      after ? json_incref(after)
                      : g->inform_default < 0
                          ? json_null()
                          : json_integer(g->inform_default));
  json_object_set_new(o, "inform_due_ms", due ? json_incref(due) : json_null());
  return o;
}

/* Devices with anything but the defaults, and the default itself. */
static json_t *sessions_view(const genie_t *g)
{
  json_t *devs = json_object();
  json_t *tables[] = {g->offline, g->busy, g->inform_after, g->inform_due};
  for (size_t t = 0; t < NELEM(tables); t++) {
    const char *id;
    json_t *v;
    json_object_foreach(tables[t], id, v)
    {
      if (!json_object_get(devs, id))
        json_object_set_new(devs, id, session_json(g, id));
    }
  }
  return json_pack("{s:o,s:o}", "inform_after_ms",
                   g->inform_default < 0 ? json_null()
                                         : json_integer(g->inform_default),
                   "devices", devs);
}

static void set_mode(genie_t *g, const char *devid, const char *mode,
                     const char *error)
{
  json_object_del(g->offline, devid);
  json_object_del(g->busy, devid);
  if (strcmp(mode, "offline") == 0)
    json_object_set_new(g->offline, devid,
                        json_string(error ? error : DEFAULT_OFFLINE_ERROR));
  else if (strcmp(mode, "busy") == 0)
    json_object_set_new(g->busy, devid, json_true());
}

/* Checks PUT /_sim/session; @returns 0, or -1 with the status and message
 * of the refusal. */
static int session_check(const genie_t *g, const json_t *body, char *err,
                         size_t errlen, unsigned *status)
{
  static const char *const known[] = {"device", "mode", "error",
                                      "inform_after_ms"};
  long long k = -1;
  const char *dev = json_string_value(json_object_get(body, "device"));
  const char *mode = json_string_value(json_object_get(body, "mode"));
  json_t *error = json_object_get(body, "error");
  *status = 400;
  if (sim_json_known_keys(body, known, NELEM(known), "session", err,
                          errlen) < 0 ||
      sim_json_int(body, "inform_after_ms", 0, MAX_INFORM_AFTER_MS, &k, err,
                   errlen) < 0)
    return -1;
  if (json_object_get(body, "device") && !dev) {
    snprintf(err, errlen, "\"device\" must be a device id (raw, single %%)");
  } else if (!dev && (json_object_size(body) != 1 ||
                      !json_object_get(body, "inform_after_ms"))) {
    snprintf(err, errlen, "without \"device\" only \"inform_after_ms\" (the "
                          "default of every device) can be set");
  } else if (json_object_get(body, "mode") &&
             (!mode || (strcmp(mode, "online") != 0 &&
                        strcmp(mode, "offline") != 0 &&
                        strcmp(mode, "busy") != 0))) {
    snprintf(err, errlen, "\"mode\" must be \"online\", \"offline\" or "
                          "\"busy\"");
  } else if (error && (!json_is_string(error) || !mode ||
                       strcmp(mode, "offline") != 0 ||
                       json_string_length(error) > MAX_ERROR_LEN)) {
    snprintf(err, errlen, "\"error\" goes with \"mode\":\"offline\": the "
                          "connection-request error text (<= %u bytes)",
             MAX_ERROR_LEN);
  } else if (dev && !json_object_get(g->devidx, dev)) {
    snprintf(err, errlen, "No such device: %.300s", dev);
    *status = 404;
  } else {
    return 0;
  }
  return -1;
}

/* PUT /_sim/session {"device","mode","error","inform_after_ms"}. A key
 * that is absent leaves its setting alone; "inform_after_ms": null removes
 * the device's own delay (then the default applies). */
static void session_put(genie_t *g, const sim_req_t *req, sim_resp_t *resp)
{
  char err[400];
  unsigned status;
  json_t *body = sim_admin_body(req, resp);
  if (!body)
    return;
  if (session_check(g, body, err, sizeof(err), &status) < 0) {
    sim_resp_admin_error(resp, status, "%s", err);
    json_decref(body);
    return;
  }
  const char *dev = json_string_value(json_object_get(body, "device"));
  const char *mode = json_string_value(json_object_get(body, "mode"));
  json_t *k = json_object_get(body, "inform_after_ms");
  if (!dev) {
    g->inform_default = json_is_integer(k) ? json_integer_value(k) : -1;
    sim_resp_json(resp, 200, sessions_view(g));
    json_decref(body);
    return;
  }
  if (mode)
    set_mode(g, dev, mode,
             json_string_value(json_object_get(body, "error")));
  if (json_is_integer(k))
    json_object_set(g->inform_after, dev, k);
  else if (k)
    json_object_del(g->inform_after, dev);
  sim_resp_json(resp, 200, session_json(g, dev));
  json_decref(body);
}

/* POST /_sim/inform {"device": id}: the device informs now (test-only:
 * no waiting for its delay). */
static void inform_post(genie_t *g, const sim_req_t *req, sim_resp_t *resp)
{
  static const char *const known[] = {"device"};
  char err[160];
  json_t *body = sim_admin_body(req, resp);
  if (!body)
    return;
  const char *dev = json_string_value(json_object_get(body, "device"));
  if (sim_json_known_keys(body, known, NELEM(known), "inform", err,
                          sizeof(err)) < 0) {
    sim_resp_admin_error(resp, 400, "%s", err);
  } else if (!dev) {
    sim_resp_admin_error(resp, 400, "\"device\" is required: the raw id");
  } else if (!json_object_get(g->devidx, dev)) {
    sim_resp_admin_error(resp, 404, "No such device: %.200s", dev);
  } else {
    inform_res_t res = {0, 0, 0};
    inform(g, dev, sim_clock_ms(), &res);
    sim_resp_json(resp, 200,
                  json_pack("{s:s,s:i,s:i,s:i}", "device", dev, "tasks_run",
                            (int)res.ran, "tasks_faulted", (int)res.faulted,
                            "tasks_expired", (int)res.expired));
  }
  json_decref(body);
}

/* PUT /_sim/offline {"device","offline":bool,"error"}: the older form of
 * a session's mode (offline, or back online). */
static void offline_put(genie_t *g, const sim_req_t *req, sim_resp_t *resp)
{
  json_error_t jerr;
  json_t *body = json_loadb(req->body, req->body_len, 0, &jerr);
  const char *dev = json_string_value(json_object_get(body, "device"));
  json_t *off = json_object_get(body, "offline");
  json_t *err = json_object_get(body, "error");
  if (!dev || !json_is_boolean(off) || (err && !json_is_string(err)) ||
      (err && json_string_length(err) > MAX_ERROR_LEN)) {
    sim_resp_admin_error(resp, 400, "want {\"device\":\"<id>\",\"offline\":"
                                    "true|false[,\"error\":\"text <= 200\"]}");
  } else if (!json_object_get(g->devidx, dev)) {
    sim_resp_admin_error(resp, 404, "No such device");
  } else {
    set_mode(g, dev, json_is_true(off) ? "offline" : "online",
             json_string_value(err));
    sim_resp_json(resp, 200, json_pack("{s:b}", "ok", 1));
  }
  json_decref(body);
}

bool sim_genie_admin(genie_t *g, const sim_req_t *req, sim_resp_t *resp)
{
  const char *p = req->path, *m = req->method;
  bool offline = strcmp(p, "/_sim/offline") == 0;
  bool session = strcmp(p, "/_sim/session") == 0;
  bool inf = strcmp(p, "/_sim/inform") == 0;
  if (!offline && !session && !inf)
    return false;
  sim_genie_tick(g);
  if (offline && strcmp(m, "GET") == 0)
    sim_resp_json(resp, 200, json_deep_copy(g->offline));
  else if (offline && strcmp(m, "PUT") == 0)
    offline_put(g, req, resp);
  else if (session && strcmp(m, "GET") == 0)
    sim_resp_json(resp, 200, sessions_view(g));
  else if (session && strcmp(m, "PUT") == 0)
    session_put(g, req, resp);
  else if (inf && strcmp(m, "POST") == 0)
    inform_post(g, req, resp);
  else
    sim_resp_admin_error(resp, 405, "use %s", inf ? "POST" : "GET or PUT");
  return true;
}
