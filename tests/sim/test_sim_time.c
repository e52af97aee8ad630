/* The simulator's time over real HTTP: ONU discovery after N ms, ONU
 * activation stages, the clock that tests may advance, all of them under
 * fault injection. The fixture's inventory: 2 OLTs (EC1800000001,
 * EC1800000002) x 4 ONUs, --activate-delay-ms 200. */
#include "tests/sim/simfix.h"
#include "tests/support/testenv.h"

#include <string.h>

TestSuite(sim_time, .init = simfix_start, .fini = simfix_stop, .timeout = 60);

#define OLT1 "EC1800000001"
#define NEW_SERIAL "ALCL00990001"

static const char *jstr(const json_t *o, const char *k)
{
  const char *s = json_string_value(json_object_get(o, k));
  return s ? s : "";
}

/* @returns a copy of the device with that serial, or NULL when VOLTHA
 * does not list it. */
static json_t *by_serial(const char *serial)
{
  char url[256];
  SIMURL(url, sim.voltha_url, "/api/v1/devices");
  th_resp_t *r = th_get(url);
  cr_assert_eq(r->status, 200, "GET devices: %ld %s", r->status, r->body);
  json_t *found = NULL, *d;
  size_t i;
  json_array_foreach(json_object_get(r->json, "items"), i, d)
  {
    if (!found && strcmp(jstr(d, "serial_number"), serial) == 0)
      found = json_deep_copy(d);
  }
  th_free(r);
  return found;
}

/* The id of the device with that serial (which must be listed). */
static void id_of(const char *serial, char *out, size_t size)
{
  json_t *d = by_serial(serial);
  cr_assert_not_null(d, "%s is not listed", serial);
  snprintf(out, size, "%s", jstr(d, "id"));
  json_decref(d);
}

static long action(const char *id, const char *what)
{
  char url[256];
  if (strcmp(what, "delete") == 0) {
    SIMURL(url, sim.voltha_url, "/api/v1/devices/%s/delete", id);
    th_resp_t *r = th_request("DELETE", url, NULL, NULL, 0);
    long st = r->status;
    th_free(r);
    return st;
  }
  SIMURL(url, sim.voltha_url, "/api/v1/devices/%s/%s", id, what);
  th_resp_t *r = th_request("POST", url, NULL, NULL, 0);
  long st = r->status;
  th_free(r);
  return st;
}

/* Asserts the ONU's oper status, connect status and reason. */
static void expect_state(const char *serial, const char *admin,
                         const char *oper, const char *conn,
                         const char *reason)
{
  json_t *d = by_serial(serial);
  cr_assert_not_null(d, "%s is not listed", serial);
  cr_assert_str_eq(jstr(d, "admin_state"), admin, "%s admin", serial);
  cr_assert_str_eq(jstr(d, "oper_status"), oper, "%s oper (reason %s)",
                   serial, jstr(d, "reason"));
  cr_assert_str_eq(jstr(d, "connect_status"), conn, "%s connect", serial);
  cr_assert_str_eq(jstr(d, "reason"), reason, "%s reason", serial);
  json_decref(d);
}

static void advance(long long ms)
{
  cr_assert_eq(pv_sim_clock_advance(sim.voltha_url, ms), 200);
}

static json_t *admin_get(const char *base, const char *path)
{
  json_t *out = NULL;
  cr_assert_eq(pv_sim_admin(base, "GET", path, NULL, &out), 200, "%s", path);
  cr_assert_not_null(out);
  return out;
}

/* ---- discovery ---- */

Test(sim_time, announced_onu_is_absent_until_due_then_discovered)
{
  cr_assert_eq(pv_sim_onu_announce(sim.voltha_url, OLT1, NEW_SERIAL, 60000,
                                   0), 200);
  cr_assert_null(by_serial(NEW_SERIAL), "listed before it is due");
  json_t *pend = admin_get(sim.voltha_url, "/_sim/discover");
  json_t *p0 = json_array_get(json_object_get(pend, "pending"), 0);
  cr_assert_str_eq(jstr(p0, "serial"), NEW_SERIAL);
  cr_assert_gt(json_integer_value(json_object_get(p0, "due_in_ms")), 50000);
  json_decref(pend);

  advance(55000);
  cr_assert_null(by_serial(NEW_SERIAL), "listed 5 s early");
  advance(5000);
  json_t *d = by_serial(NEW_SERIAL);
  cr_assert_not_null(d, "not discovered once due");
  char olt_id[32];
  id_of(OLT1, olt_id, sizeof(olt_id));
  cr_assert(json_is_false(json_object_get(d, "root")));
  cr_assert_str_eq(jstr(d, "parent_id"), olt_id, "a child of its OLT");
  cr_assert_str_eq(jstr(d, "type"), "brcm_openomci_onu");
  cr_assert_str_eq(jstr(d, "vendor_id"), "ALCL");
  cr_assert_str_eq(jstr(d, "admin_state"), "PREPROVISIONED");
  cr_assert_str_eq(jstr(d, "oper_status"), "DISCOVERED");
  cr_assert_str_eq(jstr(d, "connect_status"), "REACHABLE");
  json_t *pa = json_object_get(d, "proxy_address");
  cr_assert_str_eq(jstr(pa, "device_id"), olt_id);
  /* The OLT has ONUs 0..3 on PONs 0..3 (onu_id 1): the fifth goes round
   * robin to PON 0 with the next onu_id there. */
  cr_assert_eq(json_integer_value(json_object_get(pa, "onu_id")), 2);
  cr_assert_eq(json_integer_value(json_object_get(d, "parent_port_no")),
               536870912);
  json_decref(d);
  pend = admin_get(sim.voltha_url, "/_sim/discover");
  cr_assert_eq(json_array_size(json_object_get(pend, "pending")), 0);
  json_decref(pend);

  /* Discovered, it is enabled like any ONU: the default one step. */
  char id[32];
  id_of(NEW_SERIAL, id, sizeof(id));
  cr_assert_eq(action(id, "enable"), 200);
  expect_state(NEW_SERIAL, "ENABLED", "ACTIVATING", "REACHABLE",
               "activating-onu");
  advance(200);
  expect_state(NEW_SERIAL, "ENABLED", "ACTIVE", "REACHABLE",
               "omci-flows-pushed");
}

/* Without advancing the clock: the ONU really is absent for the first
 * after_ms of real time, then appears. */
Test(sim_time, discovery_really_waits)
{
  long long t0 = pv_test_now_ms();
  cr_assert_eq(pv_sim_onu_announce(sim.voltha_url, OLT1, NEW_SERIAL, 400,
                                   0), 200);
  json_t *d = NULL;
  long long seen = 0;
  while (!d && pv_test_now_ms() - t0 < 10000) {
    long long before = pv_test_now_ms();
    d = by_serial(NEW_SERIAL);
    if (!d)
      pv_test_sleep_ms(20);
    else
      seen = before;
  }
  cr_assert_not_null(d, "never discovered");
  cr_assert_geq(seen + 25, t0 + 400, "listed %lld ms after the announce",
                seen - t0);
  json_decref(d);
}

Test(sim_time, announce_is_validated)
{
  json_t *out = NULL;
  static const struct {
    const char *body;
    long status;
    const char *names;
  } cases[] = {
      {"{\"olt\":\"nope\",\"serial\":\"ALCL00990001\"}", 404, "nope"},
      {"{\"olt\":\"EC1800000001\",\"serial\":\"ALCL-99\"}", 400, "serial"},
      {"{\"olt\":\"EC1800000001\",\"serial\":\"ALCL00990001\",\"afterms\":1}",
       400, "afterms"},
      {"{\"olt\":\"EC1800000001\",\"serial\":\"ALCL00990001\",\"pon\":4}", 400,
       "pon"},
      {"{\"olt\":\"EC1800000001\",\"serial\":\"ALCL00990001\","
       "\"admin_state\":\"DISABLED\"}", 400, "admin_state"},
      {"{\"olt\":\"EC1800000001\",\"serial\":\"ALCL00010001\"}", 409,
       "ALCL00010001"},
      {"{\"serial\":\"ALCL00990001\"}", 400, "olt"},
      {"[1]", 400, "JSON object"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    long st = pv_sim_admin(sim.voltha_url, "POST", "/_sim/discover",
                           cases[i].body, &out);
    cr_assert_eq(st, cases[i].status, "%s: %ld", cases[i].body, st);
    cr_assert(strstr(jstr(out, "error"), cases[i].names), "%s: %s",
              cases[i].body, jstr(out, "error"));
    json_decref(out);
  }
  cr_assert_eq(pv_sim_onu_announce(sim.voltha_url, OLT1, NEW_SERIAL, 1000,
                                   0), 200);
  cr_assert_eq(pv_sim_onu_announce(sim.voltha_url, OLT1, NEW_SERIAL, 1000,
                                   0), 409, "announced twice");
  cr_assert_eq(pv_sim_admin(sim.voltha_url, "DELETE", "/_sim/discover", NULL,
                            &out), 200);
  cr_assert_eq(json_integer_value(json_object_get(out, "cancelled")), 1);
  json_decref(out);
  advance(2000);
  cr_assert_null(by_serial(NEW_SERIAL), "a cancelled ONU never appears");
}

/* Discovery needs the OLT up; deleting the OLT drops what was announced
 * under it. */
Test(sim_time, onu_waits_for_its_olt)
{
  char olt[32];
  id_of(OLT1, olt, sizeof(olt));
  cr_assert_eq(pv_sim_onu_announce(sim.voltha_url, olt, NEW_SERIAL, 1000, 0),
               200, "the OLT named by its id");
  cr_assert_eq(action(olt, "disable"), 200);
  advance(5000);
  cr_assert_null(by_serial(NEW_SERIAL), "discovered under a disabled OLT");
  cr_assert_eq(action(olt, "enable"), 200);
  advance(100);
  cr_assert_null(by_serial(NEW_SERIAL), "discovered under an ACTIVATING OLT");
  advance(200);
  json_t *d = by_serial(NEW_SERIAL);
  cr_assert_not_null(d, "not discovered once the OLT is back");
  cr_assert_str_eq(jstr(d, "oper_status"), "DISCOVERED");
  json_decref(d);

  cr_assert_eq(pv_sim_onu_announce(sim.voltha_url, "EC1800000002",
                                   "BRCM00990002", 1000, 0), 200);
  char olt2[32];
  id_of("EC1800000002", olt2, sizeof(olt2));
  cr_assert_eq(action(olt2, "disable"), 200);
  cr_assert_eq(action(olt2, "delete"), 200);
  json_t *pend = admin_get(sim.voltha_url, "/_sim/discover");
  cr_assert_eq(json_array_size(json_object_get(pend, "pending")), 0,
               "announcements under a deleted OLT remain");
  json_decref(pend);
}

/* ---- activation stages ---- */

Test(sim_time, announced_enabled_onu_activates_through_stages)
{
  cr_assert_eq(pv_sim_onu_activation(sim.voltha_url, NULL, 10000), 200);
  cr_assert_eq(pv_sim_onu_announce(sim.voltha_url, OLT1, NEW_SERIAL, 0, 1),
               200);
  /* voltha-go enables a detected ONU by itself. */
  expect_state(NEW_SERIAL, "ENABLED", "ACTIVATING", "REACHABLE",
               "activating-onu");
  static const struct {
    const char *oper, *reason;
  } stages[] = {
      {"ACTIVATING", "starting-openomci"},
      {"ACTIVATING", "discovery-mibsync-complete"},
      {"ACTIVE", "initial-mib-downloaded"},
      {"ACTIVE", "tech-profile-config-download-success"},
      {"ACTIVE", "omci-flows-pushed"},
  };
  for (size_t i = 0; i < sizeof(stages) / sizeof(stages[0]); i++) {
    advance(2000);
    expect_state(NEW_SERIAL, "ENABLED", stages[i].oper, "REACHABLE",
                 stages[i].reason);
  }
  json_t *act = admin_get(sim.voltha_url, "/_sim/activation");
  cr_assert_eq(json_integer_value(json_object_get(act, "duration_ms")), 10000);
  cr_assert_eq(json_integer_value(json_object_get(act, "activating")), 0);
  json_decref(act);
}

/* Seeded odd ONUs wait for an enable: BRCM00020002 is ONU 1 of OLT 2. */
Test(sim_time, per_onu_duration_zero_is_instant_and_others_keep_theirs)
{
  cr_assert_eq(pv_sim_onu_activation(sim.voltha_url, "ALCL00010002", 0),
               200);
  char a[32], b[32];
  id_of("ALCL00010002", a, sizeof(a));
  id_of("BRCM00020002", b, sizeof(b));
  cr_assert_eq(action(a, "enable"), 200);
  expect_state("ALCL00010002", "ENABLED", "ACTIVE", "REACHABLE",
               "omci-flows-pushed");
  cr_assert_eq(action(b, "enable"), 200);
  expect_state("BRCM00020002", "ENABLED", "ACTIVATING", "REACHABLE",
               "activating-onu");
  advance(200);
  expect_state("BRCM00020002", "ENABLED", "ACTIVE", "REACHABLE",
               "omci-flows-pushed");

  json_t *out = NULL;
  cr_assert_eq(pv_sim_admin(sim.voltha_url, "PUT", "/_sim/activation",
                            "{\"serial\":\"ZZZZ00000000\",\"duration_ms\":1}",
                            &out), 404);
  json_decref(out);
  cr_assert_eq(pv_sim_admin(sim.voltha_url, "PUT", "/_sim/activation",
                            "{\"duration_ms\":-5}", &out), 400);
  cr_assert(strstr(jstr(out, "error"), "duration_ms"));
  json_decref(out);
  cr_assert_eq(pv_sim_admin(sim.voltha_url, "PUT", "/_sim/activation",
                            "{}", &out), 400, "duration_ms is required");
  json_decref(out);
}

Test(sim_time, disable_enable_reboot_delete_stay_consistent)
{
  cr_assert_eq(pv_sim_onu_activation(sim.voltha_url, NULL, 10000), 200);
  char id[32];
  id_of("ALCL00010002", id, sizeof(id));
  cr_assert_eq(action(id, "enable"), 200);
  cr_assert_eq(action(id, "enable"), 409, "enable while activating");
  advance(3000);
  expect_state("ALCL00010002", "ENABLED", "ACTIVATING", "REACHABLE",
               "starting-openomci");

  cr_assert_eq(action(id, "disable"), 200);
  expect_state("ALCL00010002", "DISABLED", "UNKNOWN", "UNREACHABLE",
               "omci-admin-lock");
  advance(20000);
  expect_state("ALCL00010002", "DISABLED", "UNKNOWN", "UNREACHABLE",
               "omci-admin-lock");

  /* Enabled again, the stages start over. */
  cr_assert_eq(action(id, "enable"), 200);
  expect_state("ALCL00010002", "ENABLED", "ACTIVATING", "UNREACHABLE",
               "activating-onu");
  advance(2000);
  expect_state("ALCL00010002", "ENABLED", "ACTIVATING", "REACHABLE",
               "starting-openomci");
  advance(8000);
  expect_state("ALCL00010002", "ENABLED", "ACTIVE", "REACHABLE",
               "omci-flows-pushed");

  cr_assert_eq(action(id, "reboot"), 200);
  expect_state("ALCL00010002", "ENABLED", "ACTIVATING", "UNREACHABLE",
               "rebooting");
  advance(6000);
  expect_state("ALCL00010002", "ENABLED", "ACTIVE", "REACHABLE",
               "initial-mib-downloaded");

  cr_assert_eq(action(id, "disable"), 200);
  cr_assert_eq(action(id, "delete"), 200);
  cr_assert_null(by_serial("ALCL00010002"));
  json_t *act = admin_get(sim.voltha_url, "/_sim/activation");
  cr_assert_eq(json_integer_value(json_object_get(act, "activating")), 0);
  json_decref(act);
}

/* An ONU's OMCI runs through its OLT: while the OLT reboots the ONU's
 * stages wait, then resume. */
Test(sim_time, onu_stages_wait_while_the_olt_is_down)
{
  /* The ONU's stages are all due after 100 ms, the OLT is back after
   * 200 (--activate-delay-ms). */
  cr_assert_eq(pv_sim_onu_activation(sim.voltha_url, NULL, 100), 200);
  char olt[32], id[32];
  id_of(OLT1, olt, sizeof(olt));
  id_of("ALCL00010002", id, sizeof(id));
  cr_assert_eq(action(id, "enable"), 200);
  cr_assert_eq(action(olt, "reboot"), 200);
  advance(150);
  expect_state("ALCL00010002", "ENABLED", "UNKNOWN", "UNREACHABLE",
               "activating-onu");
  advance(5000);
  expect_state("ALCL00010002", "ENABLED", "ACTIVE", "REACHABLE",
               "omci-flows-pushed");
}

/* ---- the clock ---- */

Test(sim_time, clock_advances_and_the_request_log_uses_it)
{
  json_t *c0 = admin_get(sim.genieacs_url, "/_sim/clock");
  json_int_t now0 = json_integer_value(json_object_get(c0, "now_ms"));
  json_decref(c0);
  json_t *out = NULL;
  cr_assert_eq(pv_sim_admin(sim.netbox_url, "POST", "/_sim/clock/advance",
                            "{\"ms\":-1}", &out), 400);
  cr_assert(strstr(jstr(out, "error"), "ms"));
  json_decref(out);
  cr_assert_eq(pv_sim_admin(sim.netbox_url, "POST", "/_sim/clock/advance",
                            "{\"ms\":1,\"x\":2}", &out), 400);
  json_decref(out);
  cr_assert_eq(pv_sim_admin(sim.netbox_url, "GET", "/_sim/clock/advance",
                            NULL, &out), 405);
  json_decref(out);

  cr_assert_eq(pv_sim_clock_advance(sim.netbox_url, 3600000), 200);
  json_t *c1 = admin_get(sim.voltha_url, "/_sim/clock");
  cr_assert_geq(json_integer_value(json_object_get(c1, "now_ms")),
                now0 + 3600000, "one clock for every listener");
  cr_assert_geq(json_integer_value(json_object_get(c1, "advanced_ms")),
                3600000);
  json_decref(c1);

  char url[256];
  SIMURL(url, sim.voltha_url, "/health");
  th_free(th_get(url));
  json_t *log = admin_get(sim.voltha_url, "/_sim/requests?since=0");
  json_t *last = json_array_get(log, json_array_size(log) - 1);
  cr_assert_geq(json_integer_value(json_object_get(last, "mono_ms")),
                now0 + 3600000, "the request log is on the same clock");
  json_decref(log);
}

/* ---- under fault injection ---- */

Test(sim_time, discovery_and_stages_happen_while_requests_fail)
{
  cr_assert_eq(pv_sim_onu_activation(sim.voltha_url, NULL, 1000), 200);
  cr_assert_eq(pv_sim_onu_announce(sim.voltha_url, OLT1, NEW_SERIAL, 500, 1),
               200);
  cr_assert_eq(pv_sim_set_fault(sim.voltha_url,
                                "{\"mode\":\"error\",\"status\":503,"
                                "\"path_prefix\":\"/api\"}"), 200);
  char url[256];
  SIMURL(url, sim.voltha_url, "/api/v1/devices");
  th_resp_t *r = th_get(url);
  cr_assert_eq(r->status, 503);
  th_free(r);
  advance(2000);
  r = th_get(url);
  cr_assert_eq(r->status, 503);
  th_free(r);
  cr_assert_eq(pv_sim_set_fault(sim.voltha_url,
                                "{\"mode\":\"reset\",\"count\":1,"
                                "\"path_prefix\":\"/api\"}"), 200);
  r = th_get(url);
  cr_assert_neq(r->rc, CURLE_OK, "reset");
  th_free(r);
  cr_assert_eq(pv_sim_clear_faults(sim.voltha_url), 200);
  expect_state(NEW_SERIAL, "ENABLED", "ACTIVE", "REACHABLE",
               "omci-flows-pushed");
}

/* A delayed response shows the state as of when it is answered. */
Test(sim_time, a_delayed_answer_sees_the_state_of_its_time)
{
  cr_assert_eq(pv_sim_onu_announce(sim.voltha_url, OLT1, NEW_SERIAL, 300, 0),
               200);
  cr_assert_eq(pv_sim_set_fault(sim.voltha_url,
                                "{\"mode\":\"latency\",\"latency_ms\":600,"
                                "\"count\":1,\"path_prefix\":\"/api\"}"),
               200);
  json_t *d = by_serial(NEW_SERIAL);
  cr_assert_not_null(d, "the answer delayed past the discovery lacks it");
  json_decref(d);
}

/* ---- CPE informs (GenieACS) ---- */

#define DEV1 "00E0FC-HG8245H-4857544300000001" /* no escapes: raw = path */
#define DEV9 "00E0FC-HG8245H-4857544300000009" /* seeded offline */
#define SSID "InternetGatewayDevice.LANDevice.1.WLANConfiguration.1.SSID"
#define SET_SSID(v)                                                        \
  "{\"name\":\"setParameterValues\",\"parameterValues\":[[\"" SSID "\",\"" \
  v "\",\"xsd:string\"]]}"

static th_resp_t *task(const char *dev_path, const char *qs, const char *body)
{
  char url[512];
  SIMURL(url, sim.genieacs_url, "/devices/%s/tasks%s", dev_path, qs);
  return th_request("POST", url, NULL, body, 0);
}

/* GET /<coll>?query=<q> answered 200: its array (json_decref it). */
static json_t *query(const char *coll, const char *q)
{
  char url[1024];
  char *enc = curl_easy_escape(NULL, q, 0);
  SIMURL(url, sim.genieacs_url, "/%s/?query=%s", coll, enc);
  curl_free(enc);
  th_resp_t *r = th_get(url);
  cr_assert_eq(r->status, 200, "GET %s: %ld %s", coll, r->status, r->body);
  json_t *out = json_incref(r->json);
  th_free(r);
  return out;
}

static size_t count(const char *coll, const char *dev)
{
  char q[256];
  snprintf(q, sizeof(q), "{\"device\":\"%s\"}", dev);
  json_t *a = query(coll, q);
  size_t n = json_array_size(a);
  json_decref(a);
  return n;
}

/* The device's SSID value, copied into buf. */
static const char *ssid_of(const char *dev, char *buf, size_t size)
{
  char q[256];
  snprintf(q, sizeof(q), "{\"_id\":\"%s\"}", dev);
  json_t *a = query("devices", q);
  json_t *v = json_object_get(
      json_object_get(
          json_object_get(
              json_object_get(
                  json_object_get(json_object_get(json_array_get(a, 0),
                                                  "InternetGatewayDevice"),
                                  "LANDevice"),
                  "1"),
              "WLANConfiguration"),
          "1"),
      "SSID");
  snprintf(buf, size, "%s", jstr(v, "_value"));
  json_decref(a);
  return buf;
}

static long session(const char *body, json_t **out)
{
  return pv_sim_admin(sim.genieacs_url, "PUT", "/_sim/session", body, out);
}

Test(sim_time, busy_cpe_runs_a_task_at_its_next_inform)
{
  char b[64];
  cr_assert_eq(pv_sim_cpe_session(sim.genieacs_url, DEV1, "busy", 30000),
               200);
  json_t *d0 = query("devices", "{\"_id\":\"" DEV1 "\"}");
  char inform0[48];
  snprintf(inform0, sizeof(inform0), "%s",
           jstr(json_array_get(d0, 0), "_lastInform"));
  json_decref(d0);

  th_resp_t *r = task(DEV1, "?connection_request&timeout=3000",
                      SET_SSID("order-ssid"));
  cr_assert_eq(r->status, 202);
  cr_assert_str_eq(r->reason, "Task queued but not processed");
  th_free(r);
  cr_assert_eq(count("tasks", DEV1), 1, "queued");
  cr_assert_str_neq(ssid_of(DEV1, b, sizeof(b)), "order-ssid");
  json_t *s = admin_get(sim.genieacs_url, "/_sim/session");
  json_t *ds = json_object_get(json_object_get(s, "devices"), DEV1);
  cr_assert_str_eq(jstr(ds, "mode"), "busy");
  cr_assert(json_is_integer(json_object_get(ds, "inform_due_ms")));
  json_decref(s);

  cr_assert_eq(pv_sim_clock_advance(sim.genieacs_url, 29000), 200);
  cr_assert_eq(count("tasks", DEV1), 1, "ran 1 s before its inform");
  cr_assert_eq(pv_sim_clock_advance(sim.genieacs_url, 1000), 200);
  cr_assert_eq(count("tasks", DEV1), 0, "still queued after the inform");
  cr_assert_str_eq(ssid_of(DEV1, b, sizeof(b)), "order-ssid");
  cr_assert_eq(count("faults", DEV1), 0);
  d0 = query("devices", "{\"_id\":\"" DEV1 "\"}");
  cr_assert_str_neq(jstr(json_array_get(d0, 0), "_lastInform"), inform0,
                    "_lastInform moves with the inform");
  json_decref(d0);

  /* Busy still: a bare connection request reaches it (200). */
  r = task(DEV1, "?connection_request", NULL);
  cr_assert_eq(r->status, 200);
  th_free(r);
  /* Online again: executed at once. */
  cr_assert_eq(pv_sim_cpe_session(sim.genieacs_url, DEV1, "online", -1), 200);
  r = task(DEV1, "?connection_request", SET_SSID("now"));
  cr_assert_eq(r->status, 200);
  th_free(r);
  cr_assert_str_eq(ssid_of(DEV1, b, sizeof(b)), "now");
}

/* Real time, no advance: the offline CPE's task runs about K ms after it
 * was queued. */
Test(sim_time, offline_cpe_informs_after_k_ms)
{
  char b[64];
  cr_assert_eq(pv_sim_cpe_session(sim.genieacs_url, DEV9, NULL, 300), 200);
  long long t0 = pv_test_now_ms();
  th_resp_t *r = task(DEV9, "?connection_request", SET_SSID("later"));
  cr_assert_eq(r->status, 202);
  cr_assert_str_eq(r->reason, "Device is offline");
  th_free(r);
  long long gone = 0;
  while (!gone && pv_test_now_ms() - t0 < 10000) {
    long long before = pv_test_now_ms();
    if (count("tasks", DEV9) == 0)
      gone = before;
    else
      pv_test_sleep_ms(20);
  }
  cr_assert_gt(gone, 0, "the task never ran");
  cr_assert_geq(gone + 25, t0 + 300, "ran %lld ms after it was queued",
                gone - t0);
  cr_assert_str_eq(ssid_of(DEV9, b, sizeof(b)), "later");
  r = task(DEV9, "?connection_request", NULL);
  cr_assert_eq(r->status, 504, "informing did not bring it online");
  th_free(r);
}

Test(sim_time, inform_now_runs_queued_tasks_and_keeps_faulted_ones)
{
  char b[64];
  th_resp_t *r = task(DEV1, "", SET_SSID("first"));
  cr_assert_eq(r->status, 202);
  th_free(r);
  r = task(DEV1, "",
           "{\"name\":\"setParameterValues\",\"parameterValues\":"
           "[[\"InternetGatewayDevice.DeviceInfo.SerialNumber\",\"x\"]]}");
  char tid[32];
  snprintf(tid, sizeof(tid), "%s", jstr(r->json, "_id"));
  th_free(r);
  r = task(DEV1, "", SET_SSID("second"));
  th_free(r);
  /* Without an inform delay nothing ever runs by itself. */
  cr_assert_eq(pv_sim_clock_advance(sim.genieacs_url, 86400000), 200);
  cr_assert_eq(count("tasks", DEV1), 3);

  json_t *out = NULL;
  cr_assert_eq(pv_sim_admin(sim.genieacs_url, "POST", "/_sim/inform",
                            "{\"device\":\"" DEV1 "\"}", &out), 200);
  cr_assert_eq(json_integer_value(json_object_get(out, "tasks_run")), 2);
  cr_assert_eq(json_integer_value(json_object_get(out, "tasks_faulted")), 1);
  json_decref(out);
  cr_assert_str_eq(ssid_of(DEV1, b, sizeof(b)), "second", "in queue order");
  cr_assert_eq(count("tasks", DEV1), 1, "the faulted task stays");
  json_t *f = query("faults", "{\"device\":\"" DEV1 "\"}");
  cr_assert_str_eq(jstr(json_array_get(f, 0), "code"), "cwmp.9008");
  json_decref(f);

  cr_assert_eq(pv_sim_admin(sim.genieacs_url, "POST", "/_sim/inform",
                            "{\"device\":\"" DEV1 "\"}", &out), 200);
  cr_assert_eq(json_integer_value(json_object_get(out, "tasks_faulted")), 0,
               "a faulted task waits for its retry");
  json_decref(out);
  char url[256];
  SIMURL(url, sim.genieacs_url, "/tasks/%s/retry", tid);
  r = th_request("POST", url, NULL, NULL, 0);
  cr_assert_eq(r->status, 200);
  th_free(r);
  cr_assert_eq(pv_sim_admin(sim.genieacs_url, "POST", "/_sim/inform",
                            "{\"device\":\"" DEV1 "\"}", &out), 200);
  cr_assert_eq(json_integer_value(json_object_get(out, "tasks_faulted")), 1,
               "retried at the next inform");
  json_decref(out);
}

Test(sim_time, default_inform_delay_and_expired_tasks)
{
  json_t *out = NULL;
  cr_assert_eq(session("{\"inform_after_ms\":1000}", &out), 200);
  cr_assert_eq(json_integer_value(json_object_get(out, "inform_after_ms")),
               1000);
  json_decref(out);
  /* Every device informs 1 s after a task is queued for it; DEV0's id has
   * an escape, encoded again in the path. */
  th_resp_t *r = task("00236A-96318REF-SR360NA0A4%252D0000000", "",
                      SET_SSID("dflt"));
  cr_assert_eq(r->status, 202);
  th_free(r);
  cr_assert_eq(pv_sim_clock_advance(sim.genieacs_url, 1000), 200);
  cr_assert_eq(count("tasks", "00236A-96318REF-SR360NA0A4%2D0000000"), 0);

  cr_assert_eq(session("{\"inform_after_ms\":null}", &out), 200);
  json_decref(out);
  r = task(DEV1, "", "{\"name\":\"reboot\",\"expiry\":0.2}");
  cr_assert_eq(r->status, 202);
  th_free(r);
  pv_test_sleep_ms(300);
  cr_assert_eq(pv_sim_admin(sim.genieacs_url, "POST", "/_sim/inform",
                            "{\"device\":\"" DEV1 "\"}", &out), 200);
  cr_assert_eq(json_integer_value(json_object_get(out, "tasks_expired")), 1);
  cr_assert_eq(json_integer_value(json_object_get(out, "tasks_run")), 0);
  json_decref(out);
  cr_assert_eq(count("tasks", DEV1), 0, "an expired task is dropped");
}

Test(sim_time, session_calls_are_validated)
{
  static const struct {
    const char *body;
    long status;
    const char *names;
  } cases[] = {
      {"{\"device\":\"" DEV1 "\",\"mode\":\"asleep\"}", 400, "mode"},
      {"{\"device\":\"" DEV1 "\",\"moed\":\"busy\"}", 400, "moed"},
      {"{\"device\":\"" DEV1 "\",\"mode\":\"busy\",\"error\":\"x\"}", 400,
       "error"},
      {"{\"device\":\"" DEV1 "\",\"inform_after_ms\":-1}", 400,
       "inform_after_ms"},
      {"{\"device\":\"nope\",\"mode\":\"busy\"}", 404, "nope"},
      {"{\"mode\":\"busy\"}", 400, "device"},
      {"[]", 400, "JSON object"},
  };
  json_t *out = NULL;
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    long st = session(cases[i].body, &out);
    cr_assert_eq(st, cases[i].status, "%s: %ld", cases[i].body, st);
    cr_assert(strstr(jstr(out, "error"), cases[i].names), "%s: %s",
              cases[i].body, jstr(out, "error"));
    json_decref(out);
  }
  cr_assert_eq(pv_sim_admin(sim.genieacs_url, "POST", "/_sim/inform",
                            "{\"device\":\"nope\"}", &out), 404);
  json_decref(out);
  cr_assert_eq(pv_sim_admin(sim.genieacs_url, "POST", "/_sim/inform", "{}",
                            &out), 400);
  json_decref(out);
  cr_assert_eq(pv_sim_admin(sim.genieacs_url, "GET", "/_sim/inform", NULL,
                            &out), 405);
  json_decref(out);
  /* Offline with its own text, through the session call. */
  cr_assert_eq(session("{\"device\":\"" DEV1 "\",\"mode\":\"offline\","
                       "\"error\":\"Connection request error: timeout\"}",
                       &out), 200);
  json_decref(out);
  th_resp_t *r = task(DEV1, "?connection_request", NULL);
  cr_assert_eq(r->status, 504);
  cr_assert_str_eq(r->reason, "Connection request error: timeout");
  th_free(r);
  json_t *off = admin_get(sim.genieacs_url, "/_sim/offline");
  cr_assert_str_eq(jstr(off, DEV1), "Connection request error: timeout",
                   "one table for both calls");
  json_decref(off);
}

Test(sim_time, informs_happen_while_requests_fail)
{
  char b[64];
  cr_assert_eq(pv_sim_cpe_session(sim.genieacs_url, DEV1, "busy", 200), 200);
  th_resp_t *r = task(DEV1, "?connection_request", SET_SSID("faulted"));
  cr_assert_eq(r->status, 202);
  th_free(r);
  cr_assert_eq(pv_sim_set_fault(sim.genieacs_url,
                                "{\"mode\":\"error\",\"status\":503}"), 200);
  cr_assert_eq(pv_sim_clock_advance(sim.genieacs_url, 1000), 200);
  char url[256];
  SIMURL(url, sim.genieacs_url, "/tasks");
  r = th_get(url);
  cr_assert_eq(r->status, 503);
  th_free(r);
  cr_assert_eq(pv_sim_set_fault(sim.genieacs_url,
                                "{\"mode\":\"reset\",\"count\":1}"), 200);
  r = th_get(url);
  cr_assert_neq(r->rc, CURLE_OK);
  th_free(r);
  cr_assert_eq(pv_sim_clear_faults(sim.genieacs_url), 200);
  cr_assert_eq(count("tasks", DEV1), 0);
  cr_assert_str_eq(ssid_of(DEV1, b, sizeof(b)), "faulted");
}

/* ---- determinism ---- */

/* The ids a discovered ONU gets come from the seed and the calls made, not
 * from when they were made. */
static void discover_two(pv_sim_t *s, char ids[2][32])
{
  const char *serials[2] = {"ALCL00990001", "BRCM00990002"};
  cr_assert_eq(pv_sim_onu_announce(s->voltha_url, OLT1, serials[1], 2000, 0),
               200);
  cr_assert_eq(pv_sim_onu_announce(s->voltha_url, OLT1, serials[0], 2000, 0),
               200);
  cr_assert_eq(pv_sim_clock_advance(s->voltha_url, 2000), 200);
  char url[256];
  SIMURL(url, s->voltha_url, "/api/v1/devices");
  th_resp_t *r = th_get(url);
  size_t i;
  json_t *d;
  json_array_foreach(json_object_get(r->json, "items"), i, d)
  {
    for (int k = 0; k < 2; k++)
      if (strcmp(jstr(d, "serial_number"), serials[k]) == 0)
        snprintf(ids[k], sizeof(ids[k]), "%s", jstr(d, "id"));
  }
  th_free(r);
  cr_assert(ids[0][0] && ids[1][0], "both discovered");
}

Test(sim_time, same_seed_and_calls_give_the_same_ids)
{
  pv_sim_t other;
  const char *argv[] = {"--olts", "2", "--onus-per-olt", "4", "--cpes", "20",
                        "--prefixes", "2", "--activate-delay-ms", "200",
                        NULL};
  char a[2][32] = {{0}}, b[2][32] = {{0}};
  discover_two(&sim, a);
  pv_test_sleep_ms(50); /* the second run is later: it must not matter */
  cr_assert_eq(pv_sim_start(&other, argv), 0);
  discover_two(&other, b);
  cr_assert_eq(pv_sim_stop_status(&other), 0);
  for (int k = 0; k < 2; k++)
    cr_assert_str_eq(a[k], b[k], "ONU %d: %s vs %s", k, a[k], b[k]);
}
