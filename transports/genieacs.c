/*
 * GenieACS NBI client (SOUTHBOUND.md §2).
 *
 * Quirks handled here: collections answer a bare JSON array with the
 * match count in a `total` header (a HEAD gives the count alone); there is no GET by id, so get_device is
 * a query on _id; device ids already carry %XX escapes and are escaped
 * again in paths (%2D -> %252D) but go raw into the query JSON; a task with
 * a connection request answers 200 when executed and 202 (reason phrase
 * says why) when only queued.
 */
#include "transports/genieacs.h"

#include "common/alloc.h"
#include "jobs/job.h"
#include "transports/client_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The collection behind a query op: the catalog path ("/devices/"). */
int pv_genieacs_query_path(const pv_op_t *op, const json_t *args,
                           pv_buf_t *out, pv_error_t *err)
{
  pv_buf_init(out, PV_CLIENT_PATH_MAX);
  json_t *query = NULL;
  char *text = NULL;
  int rc = -1;

  if (pv_buf_append(out, op->path, strlen(op->path)) < 0)
    goto too_long;

  const json_t *q = json_object_get(args, "query");
  const char *dev = pv_client_arg_str(args, "device_id");
  if (strcmp(op->name, "get_device") == 0) {
    query = json_pack("{s:s}", "_id", dev);
  } else if (dev) {
    /* list_tasks / list_faults: the device filter joins the query. */
    query = q ? json_deep_copy(q) : json_object();
    json_object_set_new(query, "device", json_string(dev));
  } else if (q) {
    query = json_incref((json_t *)(uintptr_t)q);
  }
  if (query) {
    text = json_dumps(query, JSON_COMPACT);
    if (!text || pv_client_query_append(out, "query", text) < 0)
      goto too_long;
    free(text);
    text = NULL;
  }

  const char *projection = pv_client_arg_str(args, "projection");
  if (strcmp(op->name, "health_check") == 0)
    projection = "_id";
  if (projection && pv_client_query_append(out, "projection", projection) < 0)
    goto too_long;

  const json_t *sort = json_object_get(args, "sort");
  if (sort) {
    text = json_dumps(sort, JSON_COMPACT);
    if (!text || pv_client_query_append(out, "sort", text) < 0)
      goto too_long;
    free(text);
    text = NULL;
  }

  char num[32];
  int64_t skip = pv_client_arg_int(args, "skip", 0);
  if (skip > 0) {
    snprintf(num, sizeof(num), "%" PRId64, skip);
    if (pv_client_query_append(out, "skip", num) < 0)
      goto too_long;
  }
  /* The NBI returns everything without a limit: never leave it out of a
   * GET. A HEAD returns no rows (only `total`). */
  int64_t limit = op->norm == PV_NORM_LIST
                      ? pv_client_arg_int(args, "limit", 100)
                      : strcmp(op->name, "get_device") == 0 ? 2 : 1;
  snprintf(num, sizeof(num), "%" PRId64, limit);
  if (strcmp(op->method, "HEAD") != 0 &&
      pv_client_query_append(out, "limit", num) < 0)
    goto too_long;
  rc = 0;
  goto out;

too_long:
  pv_buf_free(out);
  pv_error_set(err, PV_ERR_BAD_ARGS, 0,
               "query too long (over %d bytes once encoded)",
               PV_CLIENT_PATH_MAX);
out:
  free(text);
  json_decref(query);
  return rc;
}

int pv_genieacs_task_req(const pv_op_t *op, const json_t *args,
                         pv_client_req_t *req, pv_error_t *err)
{
  pv_buf_t path;
  memset(req, 0, sizeof(*req));
  if (pv_client_build_path(op, args, &path, err) < 0)
    return -1;
  bool cr = pv_client_arg_bool(args, "connection_request", true);
  int64_t tmo = pv_client_arg_int(args, "timeout_ms", 0);
  if (cr) {
    /* Bare "?connection_request" is how the NBI spells the flag. */
    if (pv_buf_append(&path, "?connection_request", 19) < 0 ||
        (tmo > 0 && pv_buf_appendf(&path, "&timeout=%" PRId64, tmo) < 0)) {
      pv_error_set(err, PV_ERR_BAD_ARGS, 0, "request path too long");
      return -1;
    }
  }
  req->method = op->method;
  req->path = pv_buf_steal(&path, NULL);
  req->body = pv_client_build_body(op, args);
  if (!req->body)
    req->body = json_object();
  json_object_set_new(req->body, "name", json_string(op->task));
  if (cr) {
    /* The NBI may wait `timeout` for the session to start, then 120 s for
     * it to end (SOUTHBOUND 2.3). */
    long need = (long)tmo + 130000;
    long base = pv_timeout_class_ms(PV_TMO_TASK_CR);
    req->timeout_ms = need > base ? need : base;
  } else {
    req->timeout_ms = pv_timeout_class_ms(PV_TMO_WRITE);
  }
  req->idempotent = op->idempotent;
  return 0;
}

json_t *pv_genieacs_task_result(const pv_http_response_t *resp)
{
  json_t *task = pv_client_parse_body(resp);
  if (!json_is_object(task)) {
    json_decref(task);
    task = json_null();
  }
  json_t *res;
  if (resp->status == 200) {
    res = json_pack("{s:b,s:b,s:o}", "executed", 1, "queued", 0, "task", task);
  } else {
    char reason[128];
    size_t n = 0;
    for (const char *p = resp->reason; *p && n + 1 < sizeof(reason); p++)
      if ((unsigned char)*p >= 0x20 && *p != 0x7f)
        reason[n++] = *p;
    reason[n] = '\0';
    res = json_pack("{s:b,s:b,s:s,s:o}", "executed", 0, "queued", 1, "reason",
                    n ? reason : "Task queued", "task", task);
  }
  return res;
}

/* ---- handlers ----------------------------------------------------------- */

static void on_task(pv_call_t *call, const pv_http_response_t *resp)
{
  pv_error_t err;
  if (!pv_client_resp_ok("genieacs", resp, &err)) {
    pv_call_fail(call, &err);
    return;
  }
  pv_call_succeed(call, pv_genieacs_task_result(resp));
}

static void on_query(pv_call_t *call, const pv_http_response_t *resp)
{
  pv_error_t err;
  if (!pv_client_resp_ok("genieacs", resp, &err)) {
    pv_call_fail(call, &err);
    return;
  }
  if (strcmp(call->op->method, "HEAD") == 0) {
    if (resp->total < 0) {
      pv_error_set(&err, PV_ERR_INTERNAL, (int)resp->status,
                   "genieacs: no `total` header in the answer to HEAD %s",
                   call->op->path);
      pv_call_fail(call, &err);
      return;
    }
    pv_call_succeed(call, json_pack("{s:I}", "count", (json_int_t)resp->total));
    return;
  }
  json_t *items = pv_client_parse_body(resp);
  if (!json_is_array(items)) {
    json_decref(items);
    pv_error_set(&err, PV_ERR_INTERNAL, (int)resp->status,
                 "genieacs: expected a JSON array from %s", call->op->path);
    pv_call_fail(call, &err);
    return;
  }
  const char *name = call->op->name;
  json_t *res;
  if (strcmp(name, "health_check") == 0) {
    res = json_pack("{s:b}", "healthy", 1);
    if (resp->total >= 0)
      json_object_set_new(res, "devices", json_integer(resp->total));
    json_decref(items);
  } else if (strcmp(name, "get_device") == 0) {
    if (json_array_size(items) == 0) {
      pv_error_set(&err, PV_ERR_HTTP_4XX, 404, "genieacs: no device \"%.128s\"",
                   pv_client_arg_str(call->args, "device_id"));
      json_decref(items);
      pv_call_fail(call, &err);
      return;
    }
    res = json_incref(json_array_get(items, 0));
    json_decref(items);
    if (!json_is_object(res)) {
      /* The reply's result is a map (docs/messages.md), and a device
       * is one: anything else is a broken answer, not a device. */
      pv_error_set(&err, PV_ERR_INTERNAL, (int)resp->status,
                   "genieacs: expected a device object from %s, got %s",
                   call->op->path, pv_doc_kind(res));
      json_decref(res);
      pv_call_fail(call, &err);
      return;
    }
  } else {
    size_t n = json_array_size(items);
    res = json_pack("{s:o,s:I}", "items", items, "count", (json_int_t)n);
    if (resp->total >= 0) {
      json_object_set_new(res, "total", json_integer(resp->total));
      json_object_set_new(res, "truncated",
                          json_boolean(pv_client_arg_int(call->args, "skip", 0) +
                                           (long long)n <
                                       resp->total));
    }
  }
  pv_call_succeed(call, res);
}

static void on_simple(pv_call_t *call, const pv_http_response_t *resp)
{
  pv_error_t err;
  json_t *res = pv_client_simple_result("genieacs", call->op, resp, &err);
  if (!res) {
    pv_call_fail(call, &err);
    return;
  }
  pv_call_succeed(call, res);
}

int pv_genieacs_start(pv_call_t *call, pv_error_t *err)
{
  const pv_op_t *op = call->op;
  pv_client_req_t req;
  pv_call_next_fn next;

  if (op->task) {
    if (pv_genieacs_task_req(op, call->args, &req, err) < 0)
      return -1;
    next = on_task;
  } else if (strcmp(op->method, "GET") == 0 ||
             strcmp(op->method, "HEAD") == 0) {
    pv_buf_t path;
    if (pv_genieacs_query_path(op, call->args, &path, err) < 0)
      return -1;
    memset(&req, 0, sizeof(req));
    req.method = op->method;
    req.path = pv_buf_steal(&path, NULL);
    req.timeout_ms = pv_timeout_class_ms(op->tmo);
    req.idempotent = true;
    next = on_query;
  } else {
    if (pv_client_build_req(op, call->args, &req, err) < 0)
      return -1;
    next = on_simple;
  }
  int rc = pv_call_send_req(call, &req, next, err);
  pv_client_req_clear(&req);
  return rc;
}
