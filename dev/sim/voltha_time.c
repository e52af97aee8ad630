/* What changes with time in the simulated VOLTHA: the stages a device goes
 * through after an enable or a reboot, ONUs announced to appear under an
 * OLT later (discovery), and the admin API that sets both.
 *
 * Nothing runs on a timer. sim_voltha_tick() runs at the start of every
 * request and applies whatever fell due on the simulator's clock, each
 * change as of the moment it was due (a stage's successor is scheduled from
 * its due time, not from when a request noticed it), so a client cannot
 * tell the difference and a test that advances the clock gets exactly the
 * states it would have seen by waiting. */
#include "dev/sim/voltha.h"

#include "common/alloc.h"
#include "common/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
/* Bounds on what the admin API lets a test schedule. */
#define MAX_ANNOUNCED 10000u
#define MAX_AFTER_MS 86400000LL
#define MAX_ACTIVATION_MS 3600000LL

/* An OLT: ACTIVE/REACHABLE after --activate-delay-ms (its adapter connects
 * to the box, then reports ports and ONUs). */
static const sim_stage_t olt_stages[] = {
    {1000, OP_ACTIVE, CS_REACHABLE, NULL},
};

/* An ONU by default: one step after --activate-delay-ms, so tests written
 * before the stages existed see what they always saw. */
static const sim_stage_t onu_one_step[] = {
    {1000, OP_ACTIVE, CS_REACHABLE, "omci-flows-pushed"},
};

/* An ONU with stages (PUT /_sim/activation): what the openonu adapter
 * reports while it brings an ONU up (voltha-openonu-adapter-go: the ONU
 * indication sets ACTIVATING/REACHABLE and starts OpenOMCI, the MIB upload
 * and download follow, ACTIVE comes with initial-mib-downloaded, then the
 * tech profile and the flows). The reasons are its deviceReasonMap names. */
static const sim_stage_t onu_stages[] = {
    {200, OP_ACTIVATING, CS_REACHABLE, "starting-openomci"},
    {400, OP_ACTIVATING, CS_REACHABLE, "discovery-mibsync-complete"},
    {600, OP_ACTIVE, CS_REACHABLE, "initial-mib-downloaded"},
    {800, OP_ACTIVE, CS_REACHABLE, "tech-profile-config-download-success"},
    {1000, OP_ACTIVE, CS_REACHABLE, "omci-flows-pushed"},
};

/* Reasons set at once by the action itself (before any stage). */
#define REASON_ENABLE "activating-onu"
#define REASON_REBOOT "rebooting"
#define REASON_DISABLE "omci-admin-lock"

/* ---- activations ---- */

static uint64_t stage_due(const vdev_t *d)
{
  return d->act_t0 +
         (uint64_t)d->stages[d->stage].permille * d->act_ms / 1000u;
}

static bool olt_up(const vdev_t *olt)
{
  return olt->admin == AD_ENABLED && olt->oper == OP_ACTIVE;
}

/* Children follow their OLT: reachable when it is up, unreachable when it
 * is not. An ONU still activating keeps its schedule and resumes once its
 * OLT is back. */
static void children_follow(voltha_t *v, vdev_t *olt)
{
  bool up = olt_up(olt);
  for (size_t i = 0; i < v->ndevs; i++) {
    vdev_t *c = v->devs[i];
    if (c->root || strcmp(c->parent_id, olt->id) != 0)
      continue;
    if (!up) {
      if (c->admin != AD_DISABLED) {
        c->oper = OP_UNKNOWN;
        c->conn = CS_UNREACHABLE;
      }
      continue;
    }
    if (c->admin == AD_ENABLED && !c->stages) {
      c->oper = OP_ACTIVE;
      c->conn = CS_REACHABLE;
    } else if (c->admin == AD_PREPROVISIONED) {
      c->oper = OP_DISCOVERED;
      c->conn = CS_REACHABLE;
    }
  }
}

static void cancel(voltha_t *v, vdev_t *d)
{
  if (d->stages && v->npending)
    v->npending--;
  d->stages = NULL;
  d->nstages = d->stage = 0;
}

static void finish(voltha_t *v, vdev_t *d, uint64_t at)
{
  cancel(v, d);
  if (d->root) {
    d->up_since = at;
    sim_voltha_olt_first_up(v, d);
    children_follow(v, d);
  }
}

/* Applies every stage of d due by now. An ONU's OMCI goes through its
 * OLT, so its stages wait while the OLT is not ACTIVE. */
static void advance(voltha_t *v, vdev_t *d, uint64_t now)
{
  while (d->stages && stage_due(d) <= now) {
    if (!d->root) {
      const vdev_t *p = sim_voltha_find(v, d->parent_id);
      if (!p || p->oper != OP_ACTIVE)
        return;
    }
    const sim_stage_t *st = &d->stages[d->stage];
    uint64_t at = stage_due(d);
    d->oper = st->oper;
    if (st->conn >= 0)
      d->conn = st->conn;
    if (st->reason)
      d->reason = st->reason;
    if (++d->stage == d->nstages)
      finish(v, d, at);
  }
}

/* The activation time of an ONU: its own (by serial), else the global
 * one, else -1 for the one-step default. */
static long long onu_activation_ms(const voltha_t *v, const char *serial)
{
  json_t *own = json_object_get(v->act_serial, serial);
  return own ? (long long)json_integer_value(own) : v->act_ms;
}

static void schedule(voltha_t *v, uint64_t due)
{
  if (due < v->next_due)
    v->next_due = due;
}

/* Starts d's activation at `at` and applies what is due already: all of
 * it when the duration is 0. */
static void start(voltha_t *v, vdev_t *d, uint64_t at)
{
  if (!d->stages)
    v->npending++;
  long long ms = d->root ? -1 : onu_activation_ms(v, d->serial);
  if (d->root) {
    d->stages = olt_stages;
    d->nstages = NELEM(olt_stages);
  } else if (ms < 0) {
    d->stages = onu_one_step;
    d->nstages = NELEM(onu_one_step);
  } else {
    d->stages = onu_stages;
    d->nstages = NELEM(onu_stages);
  }
  d->act_ms = ms < 0 ? v->inv.activate_delay_ms : (uint64_t)ms;
  d->act_t0 = at;
  d->stage = 0;
  advance(v, d, at);
  if (d->stages)
    schedule(v, stage_due(d));
}

static void enable_at(voltha_t *v, vdev_t *d, uint64_t at)
{
  d->admin = AD_ENABLED;
  d->oper = OP_ACTIVATING;
  if (!d->root)
    d->reason = REASON_ENABLE;
  start(v, d, at);
}

void sim_voltha_enable(voltha_t *v, vdev_t *d)
{
  enable_at(v, d, sim_clock_ms());
}

void sim_voltha_reboot(voltha_t *v, vdev_t *d)
{
  d->oper = OP_ACTIVATING;
  d->conn = CS_UNREACHABLE;
  if (d->root)
    children_follow(v, d);
  else
    d->reason = REASON_REBOOT;
  start(v, d, sim_clock_ms());
}

void sim_voltha_disable(voltha_t *v, vdev_t *d)
{
  if (d->admin == AD_DISABLED)
    return;
  cancel(v, d);
  d->admin = AD_DISABLED;
  d->oper = OP_UNKNOWN;
  d->conn = CS_UNREACHABLE;
  if (d->root)
    children_follow(v, d);
  else
    d->reason = REASON_DISABLE;
}

/* ---- discovery ---- */

static void drop_announcements_of(voltha_t *v, const char *olt_id)
{
  size_t w = 0;
  for (size_t i = 0; i < v->nann; i++)
    if (strcmp(v->ann[i].olt_id, olt_id) != 0)
      v->ann[w++] = v->ann[i];
  v->nann = w;
}

void sim_voltha_forget(voltha_t *v, vdev_t *d)
{
  cancel(v, d);
  if (d->root)
    drop_announcements_of(v, d->id);
}

static vdev_t *find_serial(voltha_t *v, const char *serial)
{
  for (size_t i = 0; i < v->ndevs; i++)
    if (strcmp(v->devs[i]->serial, serial) == 0)
      return v->devs[i];
  return NULL;
}

/* The OLT's ONU adapter creates the child device (ChildDeviceDetected):
 * DISCOVERED/REACHABLE, on the requested PON or the next one round robin,
 * with the next free onu_id there. */
static void appear(voltha_t *v, vdev_t *olt, const sim_announce_t *a,
                   uint64_t at)
{
  unsigned count = 0, max_id[SIM_PONS_PER_OLT] = {0};
  if (find_serial(v, a->serial)) {
    pv_log(PV_LOG_WARN, "sim.onu_discovery_dropped", PV_S("serial", a->serial),
           PV_S("why", "a device with this serial exists"));
    return;
  }
  for (size_t i = 0; i < v->ndevs; i++) {
    const vdev_t *c = v->devs[i];
    if (c->root || strcmp(c->parent_id, olt->id) != 0)
      continue;
    count++;
    if (c->channel_id < SIM_PONS_PER_OLT && c->onu_id > max_id[c->channel_id])
      max_id[c->channel_id] = c->onu_id;
  }
  unsigned npon = olt->npon ? olt->npon : SIM_PONS_PER_OLT;
  unsigned pon = a->pon >= 0 ? (unsigned)a->pon % npon : count % npon;
  vdev_t *d = sim_voltha_add_dev(v);
  if (!d) {
    pv_log(PV_LOG_WARN, "sim.onu_discovery_dropped", PV_S("serial", a->serial),
           PV_S("why", "device limit reached"));
    return;
  }
  sim_voltha_onu_init(v, olt, d, pon, max_id[pon] + 1, a->serial, count);
  d->admin = AD_PREPROVISIONED;
  d->oper = OP_DISCOVERED;
  d->conn = CS_REACHABLE;
  pv_log(PV_LOG_INFO, "sim.onu_discovered", PV_S("serial", d->serial),
         PV_S("olt", olt->id), PV_S("device_id", d->id));
  /* voltha-go enables a detected child device by itself. */
  if (a->enabled)
    enable_at(v, d, at);
}

static int announce_cmp(const void *a, const void *b)
{
  const sim_announce_t *x = a, *y = b;
  if (x->due_ms != y->due_ms)
    return x->due_ms < y->due_ms ? -1 : 1;
  return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* ONUs due by now appear in due order; one whose OLT is not up waits for
 * it (BBSim repeats discovery until the ONU is activated) and appears as
 * of the moment the OLT came up. */
static void discover_due(voltha_t *v, uint64_t now)
{
  if (!v->nann)
    return;
  qsort(v->ann, v->nann, sizeof(*v->ann), announce_cmp);
  size_t w = 0;
  for (size_t i = 0; i < v->nann; i++) {
    sim_announce_t a = v->ann[i];
    vdev_t *olt = a.due_ms <= now ? sim_voltha_find(v, a.olt_id) : NULL;
    if (!olt || !olt_up(olt)) {
      v->ann[w++] = a;
      continue;
    }
    appear(v, olt, &a, a.due_ms > olt->up_since ? a.due_ms : olt->up_since);
  }
  v->nann = w;
}

static void advance_all(voltha_t *v, uint64_t now, bool roots)
{
  for (size_t i = 0; i < v->ndevs && v->npending; i++) {
    vdev_t *d = v->devs[i];
    if (d->stages && d->root == roots)
      advance(v, d, now);
  }
}

/* The earliest change still scheduled. One waiting for its OLT is due
 * already, so ticks keep looking until the OLT is back. */
static uint64_t earliest_due(const voltha_t *v)
{
  uint64_t next = UINT64_MAX;
  for (size_t i = 0; i < v->ndevs && v->npending; i++)
    if (v->devs[i]->stages && stage_due(v->devs[i]) < next)
      next = stage_due(v->devs[i]);
  for (size_t i = 0; i < v->nann; i++)
    if (v->ann[i].due_ms < next)
      next = v->ann[i].due_ms;
  return next;
}

void sim_voltha_tick(voltha_t *v)
{
  if (!v->npending && !v->nann)
    return;
  uint64_t now = sim_clock_ms();
  if (now < v->next_due)
    return;
  /* OLTs first, so ONUs discovered under them and ONUs activating on them
   * see them up in the same pass. */
  advance_all(v, now, true);
  discover_due(v, now);
  advance_all(v, now, false);
  v->next_due = earliest_due(v);
}

void sim_voltha_time_free(voltha_t *v)
{
  free(v->ann);
  json_decref(v->act_serial);
}

/* ---- admin API ---- */

/* A GPON serial: 4 vendor-id characters and 8 hex digits (ALCL0001ABCD). */
static bool serial_ok(const char *s)
{
  if (!s || strlen(s) != 12)
    return false;
  for (int i = 0; i < 12; i++) {
    char c = s[i];
    bool ok = i < 4 ? (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                    : (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F') ||
                          (c >= 'a' && c <= 'f');
    if (!ok)
      return false;
  }
  return true;
}

static bool announced(const voltha_t *v, const char *serial)
{
  for (size_t i = 0; i < v->nann; i++)
    if (strcmp(v->ann[i].serial, serial) == 0)
      return true;
  return false;
}

/* An OLT named by its device id or its serial number. */
static vdev_t *find_olt(voltha_t *v, const char *ref)
{
  vdev_t *d = sim_voltha_find(v, ref);
  if (d && d->root)
    return d;
  d = find_serial(v, ref);
  return d && d->root ? d : NULL;
}

/* Validated fields of POST /_sim/discover. */
typedef struct announce_req {
  const char *olt, *serial;
  long long after_ms, pon, activation_ms;
  bool enabled;
} announce_req_t;

static int announce_parse(const json_t *body, announce_req_t *ar, char *err,
                          size_t errlen)
{
  static const char *const known[] = {"olt",         "serial",
                                      "after_ms",    "pon",
                                      "admin_state", "activation_ms"};
  memset(ar, 0, sizeof(*ar));
  ar->pon = ar->activation_ms = -1;
  if (sim_json_known_keys(body, known, NELEM(known), "discover", err,
                          errlen) < 0)
    return -1;
  ar->olt = json_string_value(json_object_get(body, "olt"));
  ar->serial = json_string_value(json_object_get(body, "serial"));
  const char *admin = json_string_value(json_object_get(body, "admin_state"));
  if (!ar->olt || !*ar->olt || strlen(ar->olt) > 64) {
    snprintf(err, errlen, "\"olt\" is required: the OLT's device id or "
                          "serial number");
    return -1;
  }
  if (!serial_ok(ar->serial)) {
    snprintf(err, errlen, "\"serial\" must be 4 vendor-id characters and 8 "
                          "hex digits (ALCL0001ABCD), got \"%.32s\"",
             ar->serial ? ar->serial : "");
    return -1;
  }
  if (json_object_get(body, "admin_state") &&
      (!admin || (strcmp(admin, "PREPROVISIONED") != 0 &&
                  strcmp(admin, "ENABLED") != 0))) {
    snprintf(err, errlen, "\"admin_state\" must be \"PREPROVISIONED\" "
                          "(waits for an enable) or \"ENABLED\" (activates "
                          "by itself)");
    return -1;
  }
  ar->enabled = admin && strcmp(admin, "ENABLED") == 0;
  if (sim_json_int(body, "after_ms", 0, MAX_AFTER_MS, &ar->after_ms, err,
                   errlen) < 0 ||
      sim_json_int(body, "pon", 0, SIM_PONS_PER_OLT - 1, &ar->pon, err,
                   errlen) < 0 ||
      sim_json_int(body, "activation_ms", 0, MAX_ACTIVATION_MS,
                   &ar->activation_ms, err, errlen) < 0)
    return -1;
  return 0;
}

static void discover_post(voltha_t *v, const sim_req_t *req, sim_resp_t *resp)
{
  char err[200];
  announce_req_t ar;
  json_t *body = sim_admin_body(req, resp);
  if (!body)
    return;
  vdev_t *olt = NULL;
  if (announce_parse(body, &ar, err, sizeof(err)) < 0) {
    sim_resp_admin_error(resp, 400, "%s", err);
  } else if (!(olt = find_olt(v, ar.olt))) {
    sim_resp_admin_error(resp, 404, "no OLT with device id or serial "
                                    "\"%s\"", ar.olt);
  } else if (find_serial(v, ar.serial) || announced(v, ar.serial)) {
    sim_resp_admin_error(resp, 409, "an ONU with serial %s is already %s",
                         ar.serial,
                         announced(v, ar.serial) ? "announced" : "known");
  } else if (v->nann >= MAX_ANNOUNCED) {
    sim_resp_admin_error(resp, 409, "%u announcements are pending already",
                         MAX_ANNOUNCED);
  } else {
    if (v->nann == v->anncap) {
      v->anncap = v->anncap ? v->anncap * 2 : 16;
      v->ann = pv_realloc(v->ann, v->anncap * sizeof(*v->ann));
    }
    sim_announce_t *a = &v->ann[v->nann++];
    memset(a, 0, sizeof(*a));
    snprintf(a->serial, sizeof(a->serial), "%s", ar.serial);
    snprintf(a->olt_id, sizeof(a->olt_id), "%s", olt->id);
    a->due_ms = sim_clock_ms() + (uint64_t)ar.after_ms;
    a->seq = ++v->ann_seq;
    a->pon = (int)ar.pon;
    a->enabled = ar.enabled;
    schedule(v, a->due_ms);
    if (ar.activation_ms >= 0)
      json_object_set_new(v->act_serial, a->serial,
                          json_integer(ar.activation_ms));
    pv_log(PV_LOG_INFO, "sim.onu_announced", PV_S("serial", a->serial),
           PV_S("olt", a->olt_id), PV_I("after_ms", ar.after_ms));
    sim_resp_json(resp, 200,
                  json_pack("{s:s,s:s,s:I,s:I}", "serial", a->serial, "olt",
                            a->olt_id, "after_ms", (json_int_t)ar.after_ms,
                            "due_ms", (json_int_t)a->due_ms));
  }
  json_decref(body);
}

static json_t *discover_list(const voltha_t *v)
{
  uint64_t now = sim_clock_ms();
  json_t *list = json_array();
  for (size_t i = 0; i < v->nann; i++) {
    const sim_announce_t *a = &v->ann[i];
    json_array_append_new(
        list,
        json_pack("{s:s,s:s,s:I,s:I,s:o,s:s}", "serial", a->serial, "olt",
                  a->olt_id, "due_ms", (json_int_t)a->due_ms, "due_in_ms",
                  (json_int_t)(a->due_ms > now ? a->due_ms - now : 0), "pon",
                  a->pon >= 0 ? json_integer(a->pon) : json_null(),
                  "admin_state", a->enabled ? "ENABLED" : "PREPROVISIONED"));
  }
  return json_pack("{s:I,s:o}", "now_ms", (json_int_t)now, "pending", list);
}

static json_t *activation_view(const voltha_t *v)
{
  json_t *stages = json_array();
  json_array_append_new(stages, json_string(REASON_ENABLE));
  for (size_t i = 0; i < NELEM(onu_stages); i++)
    json_array_append_new(stages, json_string(onu_stages[i].reason));
  return json_pack("{s:o,s:I,s:o,s:O,s:I}", "duration_ms",
                   v->act_ms < 0 ? json_null() : json_integer(v->act_ms),
                   "activate_delay_ms", (json_int_t)v->inv.activate_delay_ms,
                   "stages", stages, "onus", v->act_serial, "activating",
                   (json_int_t)v->npending);
}

/* PUT /_sim/activation {"duration_ms": M|null[, "serial": S]}: the stages
 * for every ONU, or for one; null goes back to the one-step default (or,
 * for one ONU, to the global setting). Activations already running keep
 * the duration they started with. */
static void activation_put(voltha_t *v, const sim_req_t *req,
                           sim_resp_t *resp)
{
  static const char *const known[] = {"duration_ms", "serial"};
  char err[200];
  long long ms = -1;
  json_t *body = sim_admin_body(req, resp);
  if (!body)
    return;
  const char *serial = json_string_value(json_object_get(body, "serial"));
  if (sim_json_known_keys(body, known, NELEM(known), "activation", err,
                          sizeof(err)) < 0 ||
      sim_json_int(body, "duration_ms", 0, MAX_ACTIVATION_MS, &ms, err,
                   sizeof(err)) < 0) {
    sim_resp_admin_error(resp, 400, "%s", err);
  } else if (!json_object_get(body, "duration_ms")) {
    sim_resp_admin_error(resp, 400, "\"duration_ms\" is required: ms from "
                                    "enable to omci-flows-pushed, or null");
  } else if (json_object_get(body, "serial") && !serial_ok(serial)) {
    sim_resp_admin_error(resp, 400, "\"serial\" must be an ONU serial "
                                    "(ALCL0001ABCD)");
  } else if (serial && !find_serial(v, serial) && !announced(v, serial)) {
    sim_resp_admin_error(resp, 404, "no ONU and no announced ONU has serial "
                                    "%s", serial);
  } else {
    if (!serial)
      v->act_ms = ms;
    else if (ms < 0)
      json_object_del(v->act_serial, serial);
    else
      json_object_set_new(v->act_serial, serial, json_integer(ms));
    sim_resp_json(resp, 200, activation_view(v));
  }
  json_decref(body);
}

bool sim_voltha_time_admin(voltha_t *v, const sim_req_t *req,
                           sim_resp_t *resp)
{
  bool discover = strcmp(req->path, "/_sim/discover") == 0;
  if (!discover && strcmp(req->path, "/_sim/activation") != 0)
    return false;
  sim_voltha_tick(v);
  const char *m = req->method;
  if (discover && strcmp(m, "POST") == 0) {
    discover_post(v, req, resp);
  } else if (discover && strcmp(m, "GET") == 0) {
    sim_resp_json(resp, 200, discover_list(v));
  } else if (discover && strcmp(m, "DELETE") == 0) {
    size_t n = v->nann;
    v->nann = 0;
    sim_resp_json(resp, 200, json_pack("{s:I}", "cancelled", (json_int_t)n));
  } else if (!discover && strcmp(m, "PUT") == 0) {
    activation_put(v, req, resp);
  } else if (!discover && strcmp(m, "GET") == 0) {
    sim_resp_json(resp, 200, activation_view(v));
  } else {
    sim_resp_admin_error(resp, 405, "use %s", discover ? "POST, GET or DELETE"
                                                       : "PUT or GET");
  }
  return true;
}
