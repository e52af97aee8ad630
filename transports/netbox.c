/*
 * NetBox client (SOUTHBOUND.md §3).
 *
 * Lists are followed page by page with our own limit/offset (never the
 * `next` URL the server sends: a job must not make us fetch a URL we did
 * not build), up to PV_NETBOX_MAX_ROWS rows.
 *
 * allocate_ip and the create_* ops are not idempotent: each object created
 * records the job in its description. Before creating, and after an
 * outcome_unknown, the client looks that description up (op->lookup); an
 * object found is the job's. So a job replayed or retried after a crash or
 * a lost answer never creates a second object.
 */
#include "transports/netbox.h"

#include "common/alloc.h"
#include "transports/client_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *pv_netbox_auth_scheme(const char *token)
{
  return strncmp(token, "nbt_", 4) == 0 ? "Bearer" : "Token";
}

char *pv_netbox_ip_description(const char *key, const char *description)
{
  if (description && *description)
    return pv_asprintf("%s [pv-job %s]", description, key);
  return pv_asprintf("pv-job %s", key);
}

bool pv_netbox_ip_matches(const json_t *ip, const char *description)
{
  const char *d = json_string_value(json_object_get(ip, "description"));
  return d && strcmp(d, description) == 0;
}

/* ---- lists -------------------------------------------------------------- */

static void list_page(pv_call_t *call);

static void list_finish(pv_call_t *call)
{
  size_t n = json_array_size(call->acc);
  int64_t offset = pv_client_arg_int(call->args, "offset", 0);
  json_t *res = json_pack("{s:O,s:I}", "items", call->acc, "count",
                          (json_int_t)n);
  /* truncated: rows exist past the ones returned (the limit asked for, or
   * the PV_NETBOX_MAX_ROWS cap). Cursor-mode servers send no count. */
  if (call->total >= 0) {
    json_object_set_new(res, "total", json_integer(call->total));
    json_object_set_new(res, "truncated",
                        json_boolean(offset + (int64_t)n < call->total));
  }
  pv_call_succeed(call, res);
}

/* A page of a list answer: the document (json_decref it) with *rows its
 * `results`, or NULL once the call has failed (error status or shape). */
static json_t *page_of(pv_call_t *call, const pv_http_response_t *resp,
                       const json_t **rows)
{
  pv_error_t err;
  if (!pv_client_resp_ok("netbox", resp, &err)) {
    pv_call_fail(call, &err);
    return NULL;
  }
  json_t *doc = pv_client_parse_body(resp);
  *rows = json_object_get(doc, "results");
  if (!json_is_object(doc) || !json_is_array(*rows)) {
    json_decref(doc);
    pv_error_set(&err, PV_ERR_INTERNAL, (int)resp->status,
                 "netbox: expected a paginated list from %s", call->op->path);
    pv_call_fail(call, &err);
    return NULL;
  }
  return doc;
}

static void on_list_page(pv_call_t *call, const pv_http_response_t *resp)
{
  const json_t *rows;
  json_t *doc = page_of(call, resp, &rows);
  if (!doc)
    return;
  const json_t *count = json_object_get(doc, "count");
  call->total = json_is_integer(count) ? json_integer_value(count) : -1;
  size_t i;
  const json_t *row;
  json_array_foreach(rows, i, row) {
    if ((int64_t)json_array_size(call->acc) >= call->want)
      break;
    json_array_append(call->acc, (json_t *)(uintptr_t)row);
  }
  bool more = json_array_size(rows) > 0 &&
              !json_is_null(json_object_get(doc, "next")) &&
              json_object_get(doc, "next") != NULL;
  json_decref(doc);
  if (!more || (int64_t)json_array_size(call->acc) >= call->want ||
      call->pages >= PV_NETBOX_MAX_PAGES) {
    list_finish(call);
    return;
  }
  list_page(call);
}

static void list_page(pv_call_t *call)
{
  pv_error_t err;
  pv_buf_t path;
  if (pv_client_build_path(call->op, call->args, &path, &err) < 0) {
    pv_call_fail(call, &err);
    return;
  }
  int64_t got = (int64_t)json_array_size(call->acc);
  int64_t page = call->want - got;
  if (page > PV_NETBOX_PAGE_MAX)
    page = PV_NETBOX_PAGE_MAX;
  int64_t off = pv_client_arg_int(call->args, "offset", 0) + got;
  if (pv_buf_appendf(&path, "%slimit=%" PRId64 "&offset=%" PRId64,
                     strchr(path.data, '?') ? "&" : "?", page, off) < 0) {
    pv_error_set(&err, PV_ERR_BAD_ARGS, 0, "request path too long");
    pv_call_fail(call, &err);
    return;
  }
  call->pages++;
  pv_call_send_or_fail(call, "GET", path.data, NULL,
                       pv_timeout_class_ms(call->op->tmo), true, on_list_page);
  pv_buf_free(&path);
}

/* ---- keyed creates (allocate_ip, create_*) -------------------------------- */

static void create(pv_call_t *call);

/* flag: 0 = look-up before creating, 1 = reconciling after an unknown
 * outcome (call->saved holds it). */
static void on_lookup(pv_call_t *call, const pv_http_response_t *resp)
{
  pv_error_t err;
  if (!pv_client_resp_ok("netbox", resp, &err)) {
    if (call->flag == 1) {
      /* Could not tell: the object may or may not exist. */
      pv_call_fail(call, &call->saved);
    } else {
      pv_call_fail(call, &err);
    }
    return;
  }
  json_t *doc = pv_client_parse_body(resp);
  const json_t *rows = json_object_get(doc, "results");
  size_t i;
  const json_t *row;
  /* Check the description ourselves: a server that ignores the filter
   * would otherwise hand us someone else's object. */
  json_array_foreach(rows, i, row) {
    if (pv_netbox_ip_matches(row, call->s1)) {
      json_t *res = json_deep_copy(row);
      json_object_set_new(res, "reconciled", json_true());
      json_decref(doc);
      pv_call_succeed(call, res);
      return;
    }
  }
  json_decref(doc);
  if (call->flag == 1) {
    /* Not there after the answer was lost: the request did not take
     * effect, so running the job again is safe. Reported as `connect`, a
     * class the worker retries. */
    pv_error_set(&err, PV_ERR_CONNECT, 0,
                 "netbox: %s for job %.128s not confirmed (%.60s) and not "
                 "found: safe to retry",
                 call->op->name, call->key, call->saved.message);
    pv_call_fail(call, &err);
    return;
  }
  create(call);
}

/* GET <op->lookup>?description=<ours>: NetBox's description filter is an
 * exact match. */
static int send_lookup(pv_call_t *call, pv_error_t *err)
{
  pv_buf_t path;
  pv_buf_init(&path, PV_CLIENT_PATH_MAX);
  if (pv_buf_append(&path, call->op->lookup, strlen(call->op->lookup)) < 0 ||
      pv_client_query_append(&path, "description", call->s1) < 0 ||
      pv_buf_append(&path, "&limit=50", 9) < 0) {
    pv_error_set(err, PV_ERR_BAD_ARGS, 0, "request path too long");
    return -1;
  }
  int rc = pv_call_send(call, "GET", path.data, NULL,
                        pv_timeout_class_ms(PV_TMO_GET), true, on_lookup, err);
  pv_buf_free(&path);
  return rc;
}

static void lookup(pv_call_t *call)
{
  pv_error_t err;
  if (send_lookup(call, &err) < 0)
    pv_call_fail(call, call->flag == 1 ? &call->saved : &err);
}

/* A 409 from an available-* endpoint: the parent has nothing left. */
static void explain_full(pv_call_t *call, pv_error_t *err)
{
  const pv_arg_t *parent = NULL;
  for (const pv_arg_t *a = call->op->args; a->name && !parent; a++)
    if (a->in == PV_IN_PATH)
      parent = a;
  if (!parent || !strstr(call->op->path, "/available-"))
    return;
  char msg[PV_ERROR_MSG_MAX];
  snprintf(msg, sizeof(msg), "%s", err->message);
  pv_error_set(err, PV_ERR_HTTP_4XX, 409, "netbox: %s %" PRId64 " is full (%s)",
               strstr(call->op->path, "vlan-groups") ? "VLAN group" : "prefix",
               pv_client_arg_int(call->args, parent->name, 0), msg);
}

static void on_created(pv_call_t *call, const pv_http_response_t *resp)
{
  pv_error_t err;
  if (pv_client_resp_ok("netbox", resp, &err)) {
    json_t *obj = pv_client_parse_body(resp);
    if (json_is_array(obj) && json_array_size(obj) == 1) {
      json_t *one = json_incref(json_array_get(obj, 0));
      json_decref(obj);
      obj = one;
    }
    if (!json_is_object(obj)) {
      json_decref(obj);
      pv_error_set(&err, PV_ERR_INTERNAL, (int)resp->status,
                   "netbox: %s answer is not an object", call->op->name);
      pv_call_fail(call, &err);
      return;
    }
    pv_call_succeed(call, obj);
    return;
  }
  if (err.cls == PV_ERR_OUTCOME_UNKNOWN || err.cls == PV_ERR_TIMEOUT) {
    call->saved = err;
    call->flag = 1;
    lookup(call);
    return;
  }
  if (err.http_status == 409)
    explain_full(call, &err);
  pv_call_fail(call, &err);
}

static void create(pv_call_t *call)
{
  pv_error_t err;
  pv_client_req_t req;
  if (pv_client_build_req(call->op, call->args, &req, &err) < 0) {
    pv_call_fail(call, &err);
    return;
  }
  if (!req.body)
    req.body = json_object();
  json_object_set_new(req.body, "description", json_string(call->s1));
  if (pv_call_send_req(call, &req, on_created, &err) < 0)
    pv_call_fail(call, &err);
  pv_client_req_clear(&req);
}

/* ---- simple ops --------------------------------------------------------- */

static void on_simple(pv_call_t *call, const pv_http_response_t *resp)
{
  pv_error_t err;
  json_t *res;
  if (strcmp(call->op->name, "release_ip") == 0 && resp->status == 404)
    /* Releasing is about the address being free again: gone is done. */
    res = json_pack("{s:b,s:b}", "deleted", 1, "already_absent", 1);
  else
    res = pv_client_simple_result("netbox", call->op, resp, &err);
  if (!res) {
    pv_call_fail(call, &err);
    return;
  }
  pv_call_succeed(call, res);
}

/* ---- find (one object by unique attributes) --------------------------- */

static void on_find(pv_call_t *call, const pv_http_response_t *resp)
{
  pv_error_t err;
  const json_t *rows;
  json_t *doc = page_of(call, resp, &rows);
  if (!doc)
    return;
  size_t n = json_array_size(rows);
  if (n != 1) {
    /* The attributes are unique in NetBox: more than one match means the
     * filter was ignored, and guessing would be worse than failing. */
    char what[160] = "";
    for (const pv_arg_t *a = call->op->args; a->name; a++) {
      const char *v = pv_client_arg_str(call->args, a->name);
      if (v && !what[0])
        snprintf(what, sizeof(what), "%s \"%.100s\"", a->name, v);
    }
    pv_error_set(&err, PV_ERR_HTTP_4XX, n ? 409 : 404,
                 "netbox: %s %s with %s", n ? "more than one" : "no",
                 call->op->name + strlen("find_"), what);
    json_decref(doc);
    pv_call_fail(call, &err);
    return;
  }
  json_t *one = json_incref(json_array_get(rows, 0));
  json_decref(doc);
  pv_call_succeed(call, one);
}

int pv_netbox_start(pv_call_t *call, pv_error_t *err)
{
  const pv_op_t *op = call->op;

  /* Paginated lists are followed page by page; the available-* lists are
   * plain arrays and have no offset. */
  if (op->norm == PV_NORM_LIST && pv_op_arg(op, "offset")) {
    pv_buf_t path;
    if (pv_client_build_path(op, call->args, &path, err) < 0)
      return -1;
    call->acc = json_array();
    call->want = pv_client_arg_int(call->args, "limit", PV_NETBOX_MAX_ROWS);
    if (call->want > PV_NETBOX_MAX_ROWS)
      call->want = PV_NETBOX_MAX_ROWS;
    call->total = -1;
    int64_t page = call->want > PV_NETBOX_PAGE_MAX ? PV_NETBOX_PAGE_MAX
                                                   : call->want;
    int64_t off = pv_client_arg_int(call->args, "offset", 0);
    if (pv_buf_appendf(&path, "%slimit=%" PRId64 "&offset=%" PRId64,
                       strchr(path.data, '?') ? "&" : "?", page, off) < 0) {
      pv_error_set(err, PV_ERR_BAD_ARGS, 0, "request path too long");
      return -1;
    }
    call->pages = 1;
    int rc = pv_call_send(call, "GET", path.data, NULL, pv_timeout_class_ms(op->tmo),
                      true, on_list_page, err);
    pv_buf_free(&path);
    return rc;
  }

  if (op->lookup) {
    call->s1 = pv_netbox_ip_description(
        call->key, pv_client_arg_str(call->args, "description"));
    call->flag = 0;
    return send_lookup(call, err);
  }

  pv_client_req_t req;
  if (pv_client_build_req(op, call->args, &req, err) < 0)
    return -1;
  int rc = pv_call_send_req(call, &req,
                            op->norm == PV_NORM_FIND ? on_find : on_simple,
                            err);
  pv_client_req_clear(&req);
  return rc;
}
