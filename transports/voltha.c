/*
 * VOLTHA client (REST through chameleon or the envoy transcoder,
 * SOUTHBOUND.md §1).
 *
 * Errors come three ways: an HTTP status with the gRPC detail as plain
 * text (chameleon), HTTP 200 with a grpc-status header (envoy), or a 500
 * carrying text for codes chameleon does not map. All three end up in
 * pv_client_resp_ok(). Lists come as {"items":[...]}: unwrapped, then
 * filtered and sliced here because VOLTHA has no paging.
 */
#include "transports/voltha.h"

#include "common/alloc.h"
#include "transports/client_int.h"

#include <stdlib.h>
#include <string.h>

static const char *admin_state(const json_t *dev)
{
  const char *s = json_string_value(json_object_get(dev, "admin_state"));
  return s ? s : "";
}

/* Enable on an enabled device: 2.x says FailedPrecondition (HTTP 400 or
 * 500 through chameleon, 200 + grpc-status 9 through envoy); others answer
 * 409. Such an answer is only a hint: the device's state decides. */
static bool maybe_already(const pv_error_t *err)
{
  return err->http_status == 400 || err->http_status == 409 ||
         err->http_status == 500;
}

static int device_path(pv_buf_t *b, const char *id, const char *suffix)
{
  pv_buf_init(b, PV_CLIENT_PATH_MAX);
  if (pv_buf_append(b, "/api/v1/devices/", 16) < 0 ||
      pv_client_pct_append(b, id, strlen(id)) < 0 ||
      (suffix && pv_buf_append(b, suffix, strlen(suffix)) < 0))
    return -1;
  return 0;
}

json_t *pv_voltha_filter_list(json_t *items, const json_t *args)
{
  const char *parent = pv_client_arg_str(args, "parent_id");
  const char *serial = pv_client_arg_str(args, "serial_number");
  int64_t offset = pv_client_arg_int(args, "offset", 0);
  int64_t limit = pv_client_arg_int(args, "limit", -1);

  json_t *kept = json_array();
  size_t i;
  json_t *dev;
  json_array_foreach(items, i, dev) {
    const char *p = json_string_value(json_object_get(dev, "parent_id"));
    const char *s = json_string_value(json_object_get(dev, "serial_number"));
    if (parent && (!p || strcmp(p, parent) != 0))
      continue;
    if (serial && (!s || strcmp(s, serial) != 0))
      continue;
    json_array_append(kept, dev);
  }
  size_t total = json_array_size(kept);
  json_t *page = json_array();
  for (size_t k = (size_t)offset; k < total; k++) {
    if (limit >= 0 && (int64_t)json_array_size(page) >= limit)
      break;
    json_array_append(page, json_array_get(kept, k));
  }
  json_decref(kept);
  size_t n = json_array_size(page);
  return json_pack("{s:o,s:I,s:I,s:b}", "items", page, "count", (json_int_t)n,
                   "total", (json_int_t)total, "truncated",
                   (size_t)offset + n < total);
}

/* ---- simple ops --------------------------------------------------------- */

static void on_simple(pv_call_t *call, const pv_http_response_t *resp)
{
  pv_error_t err;
  json_t *res = pv_client_simple_result("voltha", call->op, resp, &err);
  if (!res) {
    pv_call_fail(call, &err);
    return;
  }
  if (pv_op_arg(call->op, "offset")) {
    json_t *sliced = pv_voltha_filter_list(json_object_get(res, "items"),
                                           call->args);
    json_decref(res);
    res = sliced;
  }
  pv_call_succeed(call, res);
}

/* ---- enable_device ------------------------------------------------------ */

static void on_enable_recheck(pv_call_t *call, const pv_http_response_t *resp)
{
  pv_error_t err;
  if (pv_client_resp_ok("voltha", resp, &err)) {
    json_t *dev = pv_client_parse_body(resp);
    bool enabled = strcmp(admin_state(dev), "ENABLED") == 0;
    json_decref(dev);
    if (enabled) {
      pv_call_succeed(call, json_pack("{s:b}", "changed", 0));
      return;
    }
  }
  pv_call_fail(call, &call->saved);
}

static void on_enable(pv_call_t *call, const pv_http_response_t *resp)
{
  if (pv_client_resp_ok("voltha", resp, &call->saved)) {
    pv_call_succeed(call, json_pack("{s:b}", "changed", 1));
    return;
  }
  if (!maybe_already(&call->saved)) {
    pv_call_fail(call, &call->saved);
    return;
  }
  pv_buf_t path;
  if (device_path(&path, pv_client_arg_str(call->args, "device_id"), NULL) < 0) {
    pv_call_fail(call, &call->saved);
    return;
  }
  pv_call_send_or_fail(call, "GET", path.data, NULL,
                       pv_timeout_class_ms(PV_TMO_GET), true, on_enable_recheck);
  pv_buf_free(&path);
}

/* ---- the ONU ops: provision_onu, enable_onu, disable_onu ---------------- */

/* Each finds the OLT's child by serial number, then brings it to a state;
 * already there is success ({"changed": false}). A refused change is
 * checked against the device's state, as for enable_device. */
typedef struct onu_goal {
  const char *op;
  const char *action; /* path suffix of the request that changes it */
  const char *state;  /* admin_state wanted */
} onu_goal_t;

static const onu_goal_t onu_goals[] = {
  {"provision_onu", "/enable", "ENABLED"},
  {"enable_onu", "/enable", "ENABLED"},
  {"disable_onu", "/disable", "DISABLED"},
};

static const onu_goal_t *onu_goal(const pv_op_t *op)
{
  for (size_t i = 0; i < sizeof(onu_goals) / sizeof(onu_goals[0]); i++)
    if (strcmp(onu_goals[i].op, op->name) == 0)
      return &onu_goals[i];
  return NULL;
}

static json_t *onu_result(pv_call_t *call, const json_t *dev, bool changed)
{
  return json_pack("{s:s,s:s,s:s,s:b,s:O}", "device_id", call->s1, "olt_id",
                   pv_client_arg_str(call->args, "olt_id"), "serial_number",
                   pv_client_arg_str(call->args, "serial_number"), "changed",
                   changed, "device", dev);
}

static void on_onu_final(pv_call_t *call, const pv_http_response_t *resp)
{
  pv_error_t err;
  if (!pv_client_resp_ok("voltha", resp, &err)) {
    pv_call_fail(call, &err);
    return;
  }
  json_t *dev = pv_client_parse_body(resp);
  if (!json_is_object(dev)) {
    json_decref(dev);
    pv_error_set(&err, PV_ERR_INTERNAL, (int)resp->status,
                 "voltha: device answer is not an object");
    pv_call_fail(call, &err);
    return;
  }
  /* flag: 1 = we changed it; 2 = the change was refused, state decides. */
  bool reached = strcmp(admin_state(dev), onu_goal(call->op)->state) == 0;
  if (call->flag == 2 && !reached) {
    json_decref(dev);
    pv_call_fail(call, &call->saved);
    return;
  }
  json_t *res = onu_result(call, dev, call->flag == 1);
  json_decref(dev);
  pv_call_succeed(call, res);
}

static void onu_get(pv_call_t *call)
{
  pv_buf_t path;
  if (device_path(&path, call->s1, NULL) < 0) {
    pv_error_t err;
    pv_error_set(&err, PV_ERR_BAD_ARGS, 0, "device id too long");
    pv_call_fail(call, &err);
    return;
  }
  pv_call_send_or_fail(call, "GET", path.data, NULL,
                       pv_timeout_class_ms(PV_TMO_GET), true, on_onu_final);
  pv_buf_free(&path);
}

static void on_onu_change(pv_call_t *call, const pv_http_response_t *resp)
{
  if (pv_client_resp_ok("voltha", resp, &call->saved)) {
    call->flag = 1;
  } else if (maybe_already(&call->saved)) {
    call->flag = 2;
  } else {
    pv_call_fail(call, &call->saved);
    return;
  }
  onu_get(call);
}

static void on_onu_list(pv_call_t *call, const pv_http_response_t *resp)
{
  pv_error_t err;
  if (!pv_client_resp_ok("voltha", resp, &err)) {
    pv_call_fail(call, &err);
    return;
  }
  json_t *doc = pv_client_parse_body(resp);
  const json_t *items = json_is_object(doc) ? json_object_get(doc, "items") : doc;
  if (!json_is_array(items)) {
    json_decref(doc);
    pv_error_set(&err, PV_ERR_INTERNAL, (int)resp->status,
                 "voltha: device list answer has no items");
    pv_call_fail(call, &err);
    return;
  }
  const char *olt = pv_client_arg_str(call->args, "olt_id");
  const char *sn = pv_client_arg_str(call->args, "serial_number");
  const json_t *onu = NULL;
  bool olt_seen = false;
  int matches = 0;
  size_t i;
  const json_t *dev;
  json_array_foreach(items, i, dev) {
    const char *id = json_string_value(json_object_get(dev, "id"));
    const char *parent = json_string_value(json_object_get(dev, "parent_id"));
    const char *serial = json_string_value(json_object_get(dev, "serial_number"));
    if (id && strcmp(id, olt) == 0)
      olt_seen = true;
    if (parent && serial && id && strcmp(parent, olt) == 0 &&
        strcmp(serial, sn) == 0) {
      onu = dev;
      matches++;
    }
  }
  if (matches == 0) {
    if (!olt_seen)
      pv_error_set(&err, PV_ERR_HTTP_4XX, 404, "voltha: no OLT \"%.80s\"", olt);
    else
      pv_error_set(&err, PV_ERR_HTTP_4XX, 404,
                   "voltha: OLT \"%.80s\" has no ONU with serial number "
                   "\"%.64s\" (not discovered yet?)",
                   olt, sn);
    json_decref(doc);
    pv_call_fail(call, &err);
    return;
  }
  if (matches > 1) {
    pv_error_set(&err, PV_ERR_HTTP_4XX, 409,
                 "voltha: %d ONUs under OLT \"%.80s\" have serial number "
                 "\"%.64s\"",
                 matches, olt, sn);
    json_decref(doc);
    pv_call_fail(call, &err);
    return;
  }
  call->s1 = pv_strdup(json_string_value(json_object_get(onu, "id")));
  const onu_goal_t *goal = onu_goal(call->op);
  if (strcmp(admin_state(onu), goal->state) == 0) {
    /* Idempotent: already in the state asked for. */
    json_t *res = onu_result(call, onu, false);
    json_decref(doc);
    pv_call_succeed(call, res);
    return;
  }
  json_decref(doc);
  pv_buf_t path;
  if (device_path(&path, call->s1, goal->action) < 0) {
    pv_error_set(&err, PV_ERR_INTERNAL, 0, "voltha: ONU id too long");
    pv_call_fail(call, &err);
    return;
  }
  pv_call_send_or_fail(call, "POST", path.data, NULL,
                       pv_timeout_class_ms(PV_TMO_WRITE), true, on_onu_change);
  pv_buf_free(&path);
}

/* ---- entry -------------------------------------------------------------- */

int pv_voltha_start(pv_call_t *call, pv_error_t *err)
{
  const char *name = call->op->name;
  if (onu_goal(call->op))
    return pv_call_send(call, "GET", "/api/v1/devices", NULL,
                        pv_timeout_class_ms(PV_TMO_LIST), true, on_onu_list,
                        err);

  pv_client_req_t req;
  if (pv_client_build_req(call->op, call->args, &req, err) < 0)
    return -1;
  pv_call_next_fn next = strcmp(name, "enable_device") == 0 ? on_enable
                                                            : on_simple;
  int rc = pv_call_send_req(call, &req, next, err);
  pv_client_req_clear(&req);
  return rc;
}
