/*
 * Request building from the catalog and answer normalisation shared by the
 * three clients. Everything here is pure (no I/O) so it is unit-tested
 * without a network.
 */
#include "transports/client_int.h"

#include "common/alloc.h"
#include "common/base64.h"
#include "common/utf8.h"
#include "jobs/job.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void pv_client_req_clear(pv_client_req_t *req)
{
  free(req->path);
  json_decref(req->body);
  free(req->raw);
  for (char **h = req->headers; *h; h++)
    free(*h);
  memset(req, 0, sizeof(*req));
}

const char *pv_client_arg_str(const json_t *args, const char *name)
{
  return json_string_value(json_object_get(args, name));
}

int64_t pv_client_arg_int(const json_t *args, const char *name, int64_t dflt)
{
  const json_t *v = json_object_get(args, name);
  return json_is_integer(v) ? json_integer_value(v) : dflt;
}

bool pv_client_arg_bool(const json_t *args, const char *name, bool dflt)
{
  const json_t *v = json_object_get(args, name);
  return json_is_boolean(v) ? json_is_true(v) : dflt;
}

/* ---- encoding ----------------------------------------------------------- */

int pv_client_pct_append(pv_buf_t *b, const char *s, size_t len)
{
  static const char hex[] = "0123456789ABCDEF";
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (keep) {
      if (pv_buf_append(b, &s[i], 1) < 0)
        return -1;
    } else {
      char esc[3] = {'%', hex[c >> 4], hex[c & 0x0f]};
      if (pv_buf_append(b, esc, 3) < 0)
        return -1;
    }
  }
  return 0;
}

int pv_client_query_append(pv_buf_t *b, const char *key, const char *value)
{
  const char *sep = b->data && strchr(b->data, '?') ? "&" : "?";
  if (pv_buf_append(b, sep, 1) < 0 || pv_client_pct_append(b, key, strlen(key)) < 0 ||
      pv_buf_append(b, "=", 1) < 0 ||
      pv_client_pct_append(b, value, strlen(value)) < 0)
    return -1;
  return 0;
}

/* A scalar argument as text for a path segment or query value. */
static int scalar_text(const json_t *v, char *num, size_t size,
                       const char **text, size_t *len)
{
  if (json_is_string(v)) {
    *text = json_string_value(v);
    *len = json_string_length(v);
    return 0;
  }
  if (json_is_integer(v)) {
    snprintf(num, size, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
  } else if (json_is_boolean(v)) {
    snprintf(num, size, "%s", json_is_true(v) ? "true" : "false");
  } else {
    return -1;
  }
  *text = num;
  *len = strlen(num);
  return 0;
}

int pv_client_build_path(const pv_op_t *op, const json_t *args, pv_buf_t *out,
                         pv_error_t *err)
{
  pv_buf_init(out, PV_CLIENT_PATH_MAX);
  const char *p = op->path;
  while (*p) {
    const char *open = strchr(p, '{');
    if (!open) {
      if (pv_buf_append(out, p, strlen(p)) < 0)
        goto too_long;
      break;
    }
    if (pv_buf_append(out, p, (size_t)(open - p)) < 0)
      goto too_long;
    const char *close = strchr(open, '}');
    char name[64];
    snprintf(name, sizeof(name), "%.*s", (int)(close - open - 1), open + 1);
    const json_t *v = json_object_get(args, name);
    char num[32];
    const char *text;
    size_t len;
    if (!v || scalar_text(v, num, sizeof(num), &text, &len) < 0 || len == 0) {
      pv_buf_free(out);
      pv_error_set(err, PV_ERR_BAD_ARGS, 0, "argument \"%s\": missing", name);
      return -1;
    }
    if (pv_client_pct_append(out, text, len) < 0)
      goto too_long;
    p = close + 1;
  }
  for (const pv_arg_t *a = op->args; a->name; a++) {
    if (a->in != PV_IN_QUERY)
      continue;
    const json_t *v = json_object_get(args, a->name);
    char num[32];
    const char *text;
    size_t len;
    if (!v || scalar_text(v, num, sizeof(num), &text, &len) < 0)
      continue;
    if (pv_client_query_append(out, a->wire ? a->wire : a->name, text) < 0)
      goto too_long;
  }
  if (!out->data)
    pv_buf_append(out, "/", 1);
  return 0;

too_long:
  pv_buf_free(out);
  pv_error_set(err, PV_ERR_BAD_ARGS, 0, "request path too long (over %d bytes)",
               PV_CLIENT_PATH_MAX);
  return -1;
}

/* Sets body[wire] = v (stolen); "a.b" sets body.a.b, creating "a". */
static void body_set(json_t *body, const char *wire, json_t *v)
{
  const char *dot;
  while ((dot = strchr(wire, '.')) != NULL) {
    char key[64];
    snprintf(key, sizeof(key), "%.*s", (int)(dot - wire), wire);
    json_t *sub = json_object_get(body, key);
    if (!json_is_object(sub)) {
      sub = json_object();
      json_object_set_new(body, key, sub);
    }
    body = sub;
    wire = dot + 1;
  }
  json_object_set_new(body, wire, v);
}

json_t *pv_client_build_body(const pv_op_t *op, const json_t *args)
{
  json_t *body = NULL;
  for (const pv_arg_t *a = op->args; a->name; a++) {
    if (a->in != PV_IN_BODY && !(a->in == PV_IN_PATH && a->wire))
      continue;
    if (!body)
      body = json_object();
    const char *wire = a->wire ? a->wire : a->name;
    json_t *v = json_object_get(args, a->name);
    if (v) {
      body_set(body, wire, json_incref(v));
    } else if (a->dflt) {
      json_t *d = json_loads(a->dflt, JSON_DECODE_ANY, NULL);
      if (d)
        body_set(body, wire, d);
    }
  }
  if (op->body) {
    json_t *fixed = json_loads(op->body, 0, NULL);
    if (!body)
      body = json_object();
    if (json_is_object(fixed))
      json_object_update_recursive(body, fixed);
    json_decref(fixed);
  }
  return body;
}

/* PV_IN_HEADER arguments as "Name: value" lines, PV_IN_RAW as the body
 * (decoded first when it is base64). */
static int build_raw_parts(const pv_op_t *op, const json_t *args,
                           pv_client_req_t *req, pv_error_t *err)
{
  size_t nh = 0;
  for (const pv_arg_t *a = op->args; a->name; a++) {
    const json_t *v = json_object_get(args, a->name);
    if (!json_is_string(v))
      continue;
    if (a->in == PV_IN_HEADER && nh < PV_CLIENT_HEADERS_MAX) {
      req->headers[nh++] = pv_asprintf("%s: %s", a->wire ? a->wire : a->name,
                                       json_string_value(v));
    } else if (a->in == PV_IN_RAW && a->type == PV_ARG_BASE64) {
      size_t len = json_string_length(v);
      unsigned char *bytes = pv_malloc(pv_base64_decoded_max(len) + 1);
      long n = pv_base64_decode(json_string_value(v), len, bytes);
      if (n < 0) {
        free(bytes);
        pv_error_set(err, PV_ERR_BAD_ARGS, 0, "argument \"%s\": not base64",
                     a->name);
        return -1;
      }
      free(req->raw);
      req->raw = (char *)bytes;
      req->raw_len = (size_t)n;
      req->raw_type = "application/octet-stream";
    } else if (a->in == PV_IN_RAW) {
      free(req->raw);
      req->raw = pv_strdup(json_string_value(v));
      req->raw_len = json_string_length(v);
      req->raw_type = "text/plain; charset=utf-8";
    }
  }
  return 0;
}

int pv_client_build_req(const pv_op_t *op, const json_t *args,
                        pv_client_req_t *req, pv_error_t *err)
{
  pv_buf_t path;
  memset(req, 0, sizeof(*req));
  if (pv_client_build_path(op, args, &path, err) < 0)
    return -1;
  req->method = op->method;
  req->path = pv_buf_steal(&path, NULL);
  req->body = pv_client_build_body(op, args);
  req->timeout_ms = pv_timeout_class_ms(op->tmo);
  req->idempotent = op->idempotent;
  if (build_raw_parts(op, args, req, err) < 0) {
    pv_client_req_clear(req);
    return -1;
  }
  return 0;
}

/* ---- answers ------------------------------------------------------------ */

json_t *pv_client_parse_body(const pv_http_response_t *resp)
{
  if (!resp->body || resp->body_len == 0)
    return NULL;
  return json_loadb(resp->body, resp->body_len, JSON_DECODE_ANY, NULL);
}

/* Appends text to out as one line: control characters and runs of blanks
 * become one space; a byte that starts no UTF-8 character becomes '?'
 * (plain-text bodies are any bytes, and the message goes into JSON), and
 * a character that does not fit is left out whole. */
static void append_clean(char *out, size_t size, const char *s, size_t len)
{
  const unsigned char *u = (const unsigned char *)s;
  size_t used = strlen(out);
  bool space = used > 0 && out[used - 1] == ' ';
  for (size_t i = 0; i < len && used + 1 < size;) {
    size_t k = pv_utf8_seq(u + i, len - i);
    if (k > 1) {
      if (used + k >= size)
        break;
      memcpy(out + used, u + i, k);
      used += k;
      space = false;
    } else if (k == 0) {
      out[used++] = '?';
      space = false;
    } else if (u[i] < 0x20 || u[i] == 0x7f || u[i] == ' ') {
      if (!space && used > 0) {
        out[used++] = ' ';
        space = true;
      }
    } else {
      out[used++] = (char)u[i];
      space = false;
    }
    i += k ? k : 1;
  }
  out[used] = '\0';
}

/* NetBox serializer errors: {"field":["msg", ...], ...}. */
static void field_errors(const json_t *obj, char *out, size_t size)
{
  const char *k;
  const json_t *v;
  json_object_foreach((json_t *)(uintptr_t)obj, k, v) {
    if (out[0])
      append_clean(out, size, "; ", 2);
    append_clean(out, size, k, strlen(k));
    append_clean(out, size, ": ", 2);
    if (json_is_string(v)) {
      append_clean(out, size, json_string_value(v), json_string_length(v));
    } else if (json_is_array(v) && json_is_string(json_array_get(v, 0))) {
      const json_t *m = json_array_get(v, 0);
      append_clean(out, size, json_string_value(m), json_string_length(m));
    } else {
      char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
      if (s) {
        append_clean(out, size, s, strlen(s));
        free(s);
      }
    }
  }
}

void pv_client_body_detail(const char *body, size_t len, char *out,
                           size_t size)
{
  char tmp[PV_CLIENT_DETAIL_MAX + 1];
  tmp[0] = '\0';
  if (size == 0)
    return;
  out[0] = '\0';
  if (!body || len == 0)
    return;

  json_t *doc = json_loadb(body, len, JSON_DECODE_ANY, NULL);
  if (json_is_array(doc) && json_is_object(json_array_get(doc, 0))) {
    /* Bulk answers: the first object's errors. */
    json_t *first = json_incref(json_array_get(doc, 0));
    json_decref(doc);
    doc = first;
  }
  if (json_is_object(doc)) {
    const json_t *d = json_object_get(doc, "detail");
    if (!d)
      d = json_object_get(doc, "error");
    if (!d)
      d = json_object_get(doc, "message");
    if (json_is_string(d))
      append_clean(tmp, sizeof(tmp), json_string_value(d),
                   json_string_length(d));
    else
      field_errors(doc, tmp, sizeof(tmp));
  } else if (json_is_string(doc)) {
    append_clean(tmp, sizeof(tmp), json_string_value(doc),
                 json_string_length(doc));
  } else {
    append_clean(tmp, sizeof(tmp), body, len);
  }
  json_decref(doc);
  snprintf(out, size, "%s", tmp);
}

void pv_client_resp_error(const char *service, const pv_http_response_t *resp,
                          pv_error_t *err)
{
  pv_errclass_t cls = resp->err.cls;
  int status = resp->err.http_status ? resp->err.http_status : (int)resp->status;
  if (cls == PV_ERR_NONE) {
    /* The transport let it through, but the caller found it wanting. */
    cls = resp->status >= 500 ? PV_ERR_HTTP_5XX : PV_ERR_HTTP_4XX;
  }
  char detail[PV_CLIENT_DETAIL_MAX + 1];
  pv_client_body_detail(resp->body, resp->body_len, detail, sizeof(detail));

  if ((cls == PV_ERR_HTTP_4XX || cls == PV_ERR_HTTP_5XX) && resp->status > 0) {
    char reason[64];
    reason[0] = '\0';
    append_clean(reason, sizeof(reason), resp->reason, strlen(resp->reason));
    pv_error_set(err, cls, status, "%s answered %ld%s%s%s%s", service,
                 resp->status, reason[0] ? " " : "", reason,
                 detail[0] ? ": " : "", detail);
    return;
  }
  /* Transport-level failures keep the transport's words. */
  pv_error_set(err, cls, status, "%s: %s", service,
               resp->err.message[0] ? resp->err.message : pv_errclass_name(cls));
}

int pv_client_grpc_http_status(int grpc_status)
{
  switch (grpc_status) {
  case 0: return 200;   /* OK */
  case 1: return 499;   /* CANCELLED */
  case 3: return 400;   /* INVALID_ARGUMENT */
  case 4: return 504;   /* DEADLINE_EXCEEDED */
  case 5: return 404;   /* NOT_FOUND */
  case 6: return 409;   /* ALREADY_EXISTS */
  case 7: return 403;   /* PERMISSION_DENIED */
  case 8: return 429;   /* RESOURCE_EXHAUSTED */
  case 9: return 400;   /* FAILED_PRECONDITION */
  case 10: return 409;  /* ABORTED */
  case 11: return 400;  /* OUT_OF_RANGE */
  case 12: return 501;  /* UNIMPLEMENTED */
  case 14: return 503;  /* UNAVAILABLE */
  case 16: return 401;  /* UNAUTHENTICATED */
  default: return 500;  /* UNKNOWN, INTERNAL, DATA_LOSS */
  }
}

bool pv_client_grpc_error(const pv_http_response_t *resp, pv_error_t *err)
{
  if (resp->grpc_status <= 0)
    return false;
  int status = pv_client_grpc_http_status(resp->grpc_status);
  pv_errclass_t cls;
  if (resp->grpc_status == 14 || resp->grpc_status == 4) {
    /* The core was unreachable or slow: worth another try later. */
    cls = resp->grpc_status == 14 ? PV_ERR_HTTP_5XX : PV_ERR_TIMEOUT;
  } else if (status == 429) {
    cls = PV_ERR_RATE_LIMITED;
  } else if (status >= 500) {
    cls = PV_ERR_HTTP_5XX;
  } else {
    cls = PV_ERR_HTTP_4XX;
  }
  char msg[PV_CLIENT_DETAIL_MAX + 1];
  msg[0] = '\0';
  append_clean(msg, sizeof(msg), resp->grpc_message, strlen(resp->grpc_message));
  if (!msg[0])
    pv_client_body_detail(resp->body, resp->body_len, msg, sizeof(msg));
  pv_error_set(err, cls, status, "voltha answered grpc-status %d%s%s",
               resp->grpc_status, msg[0] ? ": " : "", msg);
  return true;
}

bool pv_client_resp_ok(const char *service, const pv_http_response_t *resp,
                       pv_error_t *err)
{
  if (resp->err.cls != PV_ERR_NONE || resp->status < 200 ||
      resp->status > 299) {
    pv_client_resp_error(service, resp, err);
    return false;
  }
  if (pv_client_grpc_error(resp, err))
    return false;
  return true;
}

json_t *pv_client_normalise(const pv_op_t *op, const pv_http_response_t *resp,
                            pv_error_t *err)
{
  json_t *doc = pv_client_parse_body(resp);
  switch (op->norm) {
  case PV_NORM_OBJECT:
    if (json_is_object(doc))
      return doc;
    pv_error_set(err, PV_ERR_INTERNAL, (int)resp->status,
                 "%s.%s: expected a JSON object in the answer, got %s",
                 op->service, op->name, doc ? pv_doc_kind(doc) : "no JSON");
    json_decref(doc);
    return NULL;
  case PV_NORM_LIST: {
    json_t *items = NULL;
    if (json_is_array(doc))
      items = json_incref(doc);
    else if (json_is_object(doc) && json_is_array(json_object_get(doc, "items")))
      items = json_incref(json_object_get(doc, "items"));
    else if (json_is_object(doc) &&
             json_is_array(json_object_get(doc, "results")))
      items = json_incref(json_object_get(doc, "results"));
    json_decref(doc);
    if (!items) {
      pv_error_set(err, PV_ERR_INTERNAL, (int)resp->status,
                   "%s.%s: expected a list in the answer", op->service,
                   op->name);
      return NULL;
    }
    json_t *res = json_object();
    json_object_set_new(res, "count", json_integer((json_int_t)json_array_size(items)));
    json_object_set_new(res, "items", items);
    return res;
  }
  case PV_NORM_DELETE:
    json_decref(doc);
    return json_pack("{s:b}", "deleted", 1);
  case PV_NORM_ACTION:
  default:
    if (json_is_object(doc) && json_object_size(doc) > 0)
      return doc;
    json_decref(doc);
    return json_object();
  }
}

json_t *pv_client_delete_absent(const pv_op_t *op,
                                const pv_http_response_t *resp)
{
  if (op->norm != PV_NORM_DELETE || resp->status != 404 || resp->attempts < 2)
    return NULL;
  return json_pack("{s:b,s:b}", "deleted", 1, "already_absent", 1);
}

json_t *pv_client_simple_result(const char *service, const pv_op_t *op,
                                const pv_http_response_t *resp,
                                pv_error_t *err)
{
  json_t *res = pv_client_delete_absent(op, resp);
  if (res)
    return res;
  if (!pv_client_resp_ok(service, resp, err))
    return NULL;
  return pv_client_normalise(op, resp, err);
}
