/*
 * The shipped order types against the simulator, step by step: what each
 * step's references read is what the ops really return, the await
 * conditions become true on the simulator's real answers, and every
 * declared undo undoes its step. A plain sequential walk over the
 * definitions (resolve, run, poll, record), not the durable runner: this
 * checks the files, not the machinery.
 */
#include "common/alloc.h"
#include "jobs/order_def.h"
#include "tests/clients/loop.h"
#include "tests/support/testenv.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static cl_env_t env;
static pv_order_types_t *types;
static int job_seq;

static void setup(void)
{
  char dir[512], err[1024];
  snprintf(dir, sizeof(dir), "%s/jobs/orders", pv_test_source_dir());
  types = pv_order_types_load(dir, true, err, sizeof(err));
  cr_assert_not_null(types, "%s", err);
  /* Activation quick, so the awaits do not wait long. */
  static const char *const args[] = {"--activate-delay-ms", "300", NULL};
  cl_env_start(&env, args, NULL);
}

static void teardown(void)
{
  cl_env_stop(&env);
  pv_order_types_destroy(types);
}

TestSuite(order_types_sim, .init = setup, .fini = teardown, .timeout = 120);

/* Runs one op with resolved args. A failure ends the test unless
 * may_fail; *err gets it. @returns the result (owned) or NULL. */
static json_t *call(const pv_op_t *op, const json_t *args, bool may_fail,
                    pv_error_t *err)
{
  json_t *job = json_pack("{s:i,s:s,s:s,s:s,s:s,s:O}", "v", 1, "id",
                          "", "tenant", "acme", "service", op->service, "op",
                          op->name, "args", (json_t *)(uintptr_t)args);
  char *id = pv_asprintf("ord-%d-%d", (int)getpid(), ++job_seq);
  json_object_set_new(job, "id", json_string(id));
  free(id);
  char *text = json_dumps(job, JSON_COMPACT);
  json_decref(job);
  cl_outcome_t o = cl_run(&env, text);
  free(text);
  *err = o.err;
  if (!may_fail)
    cr_assert_eq(o.err.cls, PV_ERR_NONE, "%s.%s: %s (%s)", op->service,
                 op->name, o.err.message, pv_errclass_name(o.err.cls));
  return o.result;
}

static json_t *resolved(const json_t *tmpl, const json_t *ctx,
                        const char *what)
{
  pv_error_t e;
  json_t *args = pv_order_resolve(tmpl, ctx, &e);
  cr_assert_not_null(args, "%s: %s", what, e.message);
  return args;
}

/* One step: skipped, called once, or polled until its condition holds
 * (a 404 is "not yet"). The result lands in ctx.steps.NAME.result. */
static const json_t *run_step(const pv_order_step_t *st, json_t *ctx)
{
  pv_error_t e;
  int applies = pv_order_step_applies(st, ctx, &e);
  cr_assert_geq(applies, 0, "%s: %s", st->name, e.message);
  if (!applies)
    return NULL;
  json_t *args = resolved(st->call.args, ctx, st->name);
  cr_assert_eq(pv_catalog_check_args(st->call.op, args, &e), 0, "%s: %s",
               st->name, e.message);
  json_t *result = NULL;
  if (st->kind == PV_STEP_CALL) {
    result = call(st->call.op, args, false, &e);
  } else {
    for (int poll = 0;; poll++) {
      cr_assert_lt(poll, 100, "%s: condition never held", st->name);
      json_decref(result);
      result = call(st->call.op, args, true, &e);
      if (e.cls == PV_ERR_HTTP_4XX && e.http_status == 404) {
        usleep(100 * 1000);
        continue;
      }
      cr_assert_eq(e.cls, PV_ERR_NONE, "%s: %s", st->name, e.message);
      int r = pv_order_step_until(st, ctx, result, &e);
      cr_assert_geq(r, 0, "%s: %s", st->name, e.message);
      if (r == 1)
        break;
      usleep(100 * 1000);
    }
  }
  json_decref(args);
  json_t *steps = json_object_get(ctx, "steps");
  json_object_set_new(steps, st->name, json_pack("{s:o}", "result", result));
  return result;
}

/* Undoes the completed steps, newest first, by their declared undo. */
static void compensate_all(const pv_order_def_t *def, json_t *ctx)
{
  for (size_t i = pv_order_def_steps(def); i-- > 0;) {
    const pv_order_step_t *st = pv_order_def_step(def, i);
    json_t *done = json_object_get(json_object_get(ctx, "steps"), st->name);
    if (!done || !st->compensate.op)
      continue;
    json_object_set(ctx, "self", done);
    json_t *args = resolved(st->compensate.args, ctx, st->name);
    json_object_del(ctx, "self");
    pv_error_t e;
    json_decref(call(st->compensate.op, args, false, &e));
    json_decref(args);
  }
}

static json_t *new_ctx(const char *type, json_t *input)
{
  const pv_order_def_t *def = pv_order_types_find(types, type);
  pv_error_t e;
  json_t *norm = pv_order_input_normalize(def, input, &e);
  cr_assert_not_null(norm, "%s: %s", type, e.message);
  json_decref(input);
  return json_pack("{s:o,s:{},s:{s:s,s:s,s:s}}", "input", norm, "steps",
                   "order", "id", "ord-test", "tenant", "acme", "type", type);
}

static json_t *get(const char *service, const char *op, const char *args_sq,
                   pv_error_t *e)
{
  char *text = pv_strdup(args_sq);
  for (char *p = text; *p; p++)
    if (*p == '\'')
      *p = '"';
  json_t *args = json_loads(text, 0, NULL);
  free(text);
  json_t *r = call(pv_catalog_find(service, op), args, true, e);
  json_decref(args);
  return r;
}

/* OLT 0's device id, and the serial of its ONU 1, which the simulator
 * seeds discovered but not enabled (docs/simulator.md). */
static void olt_and_onu(char *olt, size_t olt_size)
{
  pv_error_t e;
  json_t *all = get("voltha", "list_devices", "{}", &e);
  size_t i;
  json_t *dev;
  olt[0] = '\0';
  json_array_foreach(json_object_get(all, "items"), i, dev) {
    if (!strcmp(json_string_value(json_object_get(dev, "serial_number")),
                "EC1800000001"))
      snprintf(olt, olt_size, "%s",
               json_string_value(json_object_get(dev, "id")));
  }
  json_decref(all);
  cr_assert_neq(olt[0], '\0', "OLT 0 not found");
}

#define CPE0 "00236A-96318REF-SR360NA0A4%2D0000000"
#define ONU_SERIAL "ALCL00010002"
#define WAN "InternetGatewayDevice.WANDevice.1.WANConnectionDevice.1." \
            "WANIPConnection.1."

static const char *cpe_param(const json_t *dev, const char *path)
{
  json_t *v = (json_t *)(uintptr_t)dev;
  char buf[256];
  snprintf(buf, sizeof(buf), "%s", path);
  for (char *seg = strtok(buf, "."); seg && v; seg = strtok(NULL, "."))
    v = json_object_get(v, seg);
  v = json_object_get(v, "_value");
  return json_is_string(v) ? json_string_value(v)
         : json_is_true(v) ? "true"
         : json_is_false(v) ? "false"
                            : NULL;
}

Test(order_types_sim, activate_subscriber_forward_and_undone)
{
  const pv_order_def_t *def = pv_order_types_find(types, "activate_subscriber");
  char olt[64];
  olt_and_onu(olt, sizeof(olt));
  json_t *ctx = new_ctx("activate_subscriber", json_pack(
      "{s:s,s:s,s:s,s:i,s:s,s:s}", "subscriber_id", "sub-1", "olt_id", olt,
      "serial_number", ONU_SERIAL, "prefix_id", 1, "cpe_device_id", CPE0,
      "wifi_ssid", "home-1"));
  /* Every step as the runner takes it, awaits with the shipped conditions:
   * wait_active holds once the simulator's activation stages reach
   * reason omci-flows-pushed. */
  for (size_t i = 0; i < pv_order_def_steps(def); i++) {
    const pv_order_step_t *st = pv_order_def_step(def, i);
    const json_t *res = run_step(st, ctx);
    if (!strcmp(st->name, "wait_active"))
      cr_assert_str_eq(json_string_value(json_object_get(res, "reason")),
                       "omci-flows-pushed");
  }

  /* The effects: one address for the subscriber, the ONU enabled, the CPE
   * reporting its WAN address and its SSID. */
  pv_error_t e;
  const json_t *ip = json_object_get(json_object_get(json_object_get(
      json_object_get(ctx, "steps"), "reserve_ip"), "result"), "id");
  char args[128];
  snprintf(args, sizeof(args), "{'id':%lld}", (long long)json_integer_value(ip));
  json_t *addr = get("netbox", "get_ip_address", args, &e);
  cr_assert_eq(e.cls, PV_ERR_NONE, "%s", e.message);
  cr_assert(strstr(json_string_value(json_object_get(addr, "description")),
                   "subscriber sub-1"));
  char bare[64];
  snprintf(bare, sizeof(bare), "%s",
           json_string_value(json_object_get(addr, "address")));
  *strchr(bare, '/') = '\0';
  json_decref(addr);
  const char *onu = json_string_value(json_object_get(json_object_get(
      json_object_get(json_object_get(ctx, "steps"), "enable_onu"), "result"),
      "device_id"));
  snprintf(args, sizeof(args), "{'device_id':'%s'}", onu);
  json_t *dev = get("voltha", "get_device", args, &e);
  cr_assert_str_eq(json_string_value(json_object_get(dev, "admin_state")),
                   "ENABLED");
  json_decref(dev);
  json_t *cpe = get("genieacs", "get_device", "{'device_id':'" CPE0 "'}", &e);
  cr_assert_str_eq(cpe_param(cpe, WAN "ExternalIPAddress"), bare);
  cr_assert_str_eq(cpe_param(cpe, WAN "Enable"), "true");
  cr_assert_str_eq(cpe_param(cpe, "InternetGatewayDevice.LANDevice.1."
                                  "WLANConfiguration.1.SSID"), "home-1");
  json_decref(cpe);
  json_t *outputs = resolved(pv_order_def_outputs(def), ctx, "outputs");
  cr_assert(json_equal(json_object_get(outputs, "ip_address_id"), ip));
  json_decref(outputs);

  /* Undone: the address released, the ONU disabled, WAN and Wi-Fi off. */
  compensate_all(def, ctx);
  snprintf(args, sizeof(args), "{'id':%lld}", (long long)json_integer_value(ip));
  json_decref(get("netbox", "get_ip_address", args, &e));
  cr_assert_eq(e.http_status, 404, "the address is still there");
  snprintf(args, sizeof(args), "{'device_id':'%s'}", onu);
  dev = get("voltha", "get_device", args, &e);
  cr_assert_str_eq(json_string_value(json_object_get(dev, "admin_state")),
                   "DISABLED");
  json_decref(dev);
  cpe = get("genieacs", "get_device", "{'device_id':'" CPE0 "'}", &e);
  cr_assert_str_eq(cpe_param(cpe, WAN "Enable"), "false");
  cr_assert_str_eq(cpe_param(cpe, "InternetGatewayDevice.LANDevice.1."
                                  "WLANConfiguration.1.Enable"), "false");
  json_decref(cpe);
  json_decref(ctx);
}

static void walk(const char *type, json_t *ctx)
{
  const pv_order_def_t *def = pv_order_types_find(types, type);
  for (size_t i = 0; i < pv_order_def_steps(def); i++)
    run_step(pv_order_def_step(def, i), ctx);
}

static const char *onu_state(const char *olt)
{
  static char state[32];
  pv_error_t e;
  char args[160];
  snprintf(args, sizeof(args), "{'parent_id':'%s','serial_number':'%s'}",
           olt, ONU_SERIAL);
  json_t *l = get("voltha", "list_devices", args, &e);
  snprintf(state, sizeof(state), "%s", json_string_value(json_object_get(
      json_array_get(json_object_get(l, "items"), 0), "admin_state")));
  json_decref(l);
  return state;
}

static bool cpe_tagged(const char *tag)
{
  pv_error_t e;
  json_t *cpe = get("genieacs", "get_device", "{'device_id':'" CPE0 "'}", &e);
  bool found = false;
  size_t i;
  json_t *t;
  json_array_foreach(json_object_get(cpe, "_tags"), i, t)
    found |= !strcmp(json_string_value(t), tag);
  json_decref(cpe);
  return found;
}

Test(order_types_sim, suspend_resume_deactivate)
{
  char olt[64];
  olt_and_onu(olt, sizeof(olt));
  pv_error_t e;
  char args[160];
  snprintf(args, sizeof(args), "{'olt_id':'%s','serial_number':'%s'}", olt,
           ONU_SERIAL);
  json_decref(get("voltha", "provision_onu", args, &e));
  cr_assert_eq(e.cls, PV_ERR_NONE, "%s", e.message);
  cr_assert_str_eq(onu_state(olt), "ENABLED");

#define SUB_INPUT                                                             \
  json_pack("{s:s,s:s,s:s,s:s}", "subscriber_id", "sub-2", "olt_id", olt,     \
            "serial_number", ONU_SERIAL, "cpe_device_id", CPE0)
  json_t *ctx = new_ctx("suspend_subscriber", SUB_INPUT);
  walk("suspend_subscriber", ctx);
  cr_assert_str_eq(onu_state(olt), "DISABLED");
  cr_assert(cpe_tagged("suspended"));
  /* Its undo puts things back. */
  compensate_all(pv_order_types_find(types, "suspend_subscriber"), ctx);
  cr_assert_str_eq(onu_state(olt), "ENABLED");
  cr_assert_not(cpe_tagged("suspended"));
  json_decref(ctx);

  ctx = new_ctx("suspend_subscriber", SUB_INPUT);
  walk("suspend_subscriber", ctx);
  json_decref(ctx);
  ctx = new_ctx("resume_subscriber", SUB_INPUT);
  walk("resume_subscriber", ctx);
  cr_assert_str_eq(onu_state(olt), "ENABLED");
  cr_assert_not(cpe_tagged("suspended"));
  json_decref(ctx);

  /* deactivate releases the address activation reserved. */
  json_t *ip = get("netbox", "allocate_ip", "{'prefix_id':2}", &e);
  cr_assert_eq(e.cls, PV_ERR_NONE, "%s", e.message);
  json_t *in = SUB_INPUT;
  json_object_set(in, "ip_address_id", json_object_get(ip, "id"));
  ctx = new_ctx("deactivate_subscriber", in);
  walk("deactivate_subscriber", ctx);
  cr_assert_str_eq(onu_state(olt), "DISABLED");
  snprintf(args, sizeof(args), "{'id':%lld}",
           (long long)json_integer_value(json_object_get(ip, "id")));
  json_decref(get("netbox", "get_ip_address", args, &e));
  cr_assert_eq(e.http_status, 404, "the address is still there");
  json_decref(ip);
  json_decref(ctx);
#undef SUB_INPUT
}

Test(order_types_sim, allocate_dual_stack)
{
  /* Prefix 1 is IPv4; with 4 seeded pools, prefix 6 is 2001:db8:100::/64. */
  json_t *ctx = new_ctx("allocate_dual_stack",
                        json_pack("{s:s,s:i,s:i}", "subscriber_id", "sub-3",
                                  "prefix_v4_id", 1, "prefix_v6_id", 6));
  walk("allocate_dual_stack", ctx);
  const pv_order_def_t *def = pv_order_types_find(types,
                                                  "allocate_dual_stack");
  json_t *out = resolved(pv_order_def_outputs(def), ctx, "outputs");
  cr_assert(!strncmp(json_string_value(json_object_get(out, "ipv4")),
                     "100.64.0.", 9), "%s",
            json_string_value(json_object_get(out, "ipv4")));
  cr_assert(!strncmp(json_string_value(json_object_get(out, "ipv6")),
                     "2001:db8:100::", 14), "%s",
            json_string_value(json_object_get(out, "ipv6")));
  compensate_all(def, ctx);
  pv_error_t e;
  char args[64];
  snprintf(args, sizeof(args), "{'id':%lld}",
           (long long)json_integer_value(json_object_get(out, "ipv4_id")));
  json_decref(get("netbox", "get_ip_address", args, &e));
  cr_assert_eq(e.http_status, 404);
  json_decref(out);
  json_decref(ctx);
}
