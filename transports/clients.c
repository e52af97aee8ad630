/*
 * pv_clients: tenants, the life of one call, and the order op.
 *
 * A call is one catalog op in flight: it owns the scratch state of ops that
 * need several requests (paging, look-ups) and ends exactly once, through
 * pv_call_succeed() or pv_call_fail(). Calls start from
 * pv_clients_execute() and continue only from transport callbacks, so the
 * caller's callback never runs inside pv_clients_execute().
 */
#include "transports/clients.h"

#include "common/alloc.h"
#include "common/log.h"
#include "jobs/catalog.h"
#include "transports/client_int.h"
#include "transports/netbox.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { SVC_VOLTHA = 0, SVC_GENIEACS, SVC_NETBOX, SVC__COUNT };
static const char *const svc_names[SVC__COUNT] = {"voltha", "genieacs",
                                                   "netbox"};

typedef struct tenant {
  char *name;
  pv_endpoint_t *ep[SVC__COUNT];
} tenant_t;

struct pv_clients_s {
  pv_http_t *http;
  tenant_t *tenants;
  size_t n_tenants;
};

static int svc_index(const char *service)
{
  for (int i = 0; i < SVC__COUNT; i++)
    if (strcmp(svc_names[i], service) == 0)
      return i;
  return -1;
}

/* ---- tenants ------------------------------------------------------------ */

static bool has_ctl(const char *s)
{
  for (const unsigned char *p = (const unsigned char *)s; *p; p++)
    if (*p < 0x20 || *p == 0x7f)
      return true;
  return false;
}

/* Base URLs come from the operator's config, never from a job; still they
 * must be plain http(s) URLs without query, fragment or credentials. */
static int check_url(const char *tname, const char *svc, const char *url,
                     char *base, size_t size, char *errstr, size_t errstr_size)
{
  if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) {
    snprintf(errstr, errstr_size,
             "tenant \"%s\": %s_url must start with http:// or https://",
             tname, svc);
    return -1;
  }
  if (has_ctl(url) || strpbrk(url, "?# ") || strchr(url, '@')) {
    snprintf(errstr, errstr_size,
             "tenant \"%s\": %s_url must not carry a query, fragment, "
             "credentials or blanks",
             tname, svc);
    return -1;
  }
  size_t len = strlen(url);
  if (len >= size) {
    snprintf(errstr, errstr_size, "tenant \"%s\": %s_url is too long", tname,
             svc);
    return -1;
  }
  memcpy(base, url, len + 1);
  while (len > 0 && base[len - 1] == '/')
    base[--len] = '\0';
  /* Our NetBox paths start with /api/: accept a base URL given with it. */
  if (strcmp(svc, "netbox") == 0 && len >= 4 &&
      strcmp(base + len - 4, "/api") == 0)
    base[len - 4] = '\0';
  return 0;
}

pv_clients_t *pv_clients_new(pv_http_t *http, const pv_tenant_conf_t *tenants,
                             size_t n_tenants, char *errstr,
                             size_t errstr_size)
{
  pv_clients_t *clients = pv_calloc(1, sizeof(*clients));
  clients->http = http;
  clients->tenants = pv_calloc(n_tenants ? n_tenants : 1, sizeof(tenant_t));

  for (size_t i = 0; i < n_tenants; i++) {
    const pv_tenant_conf_t *tc = &tenants[i];
    tenant_t *t = &clients->tenants[i];
    if (!tc->name || !*tc->name || strlen(tc->name) > PV_JOB_TENANT_MAX ||
        has_ctl(tc->name)) {
      snprintf(errstr, errstr_size,
               "tenant %zu: name must be 1 to %d printable bytes", i + 1,
               PV_JOB_TENANT_MAX);
      goto fail;
    }
    for (size_t j = 0; j < i; j++) {
      if (strcmp(clients->tenants[j].name, tc->name) == 0) {
        snprintf(errstr, errstr_size, "tenant \"%s\" is configured twice",
                 tc->name);
        goto fail;
      }
    }
    t->name = pv_strdup(tc->name);
    clients->n_tenants = i + 1;

    const char *urls[SVC__COUNT] = {tc->voltha_url, tc->genieacs_url,
                                    tc->netbox_url};
    for (int s = 0; s < SVC__COUNT; s++) {
      if (!urls[s] || !*urls[s])
        continue;
      char base[1024];
      if (check_url(tc->name, svc_names[s], urls[s], base, sizeof(base), errstr,
                    errstr_size) < 0)
        goto fail;

      pv_endpoint_conf_t ec = tc->endpoint;
      ec.service = svc_names[s];
      ec.tenant = tc->name;
      ec.base_url = base;
      ec.auth_headers = NULL;
      char *auth = NULL;
      const char *hdrs[2] = {NULL, NULL};
      if (s == SVC_NETBOX && tc->netbox_token && *tc->netbox_token) {
        if (has_ctl(tc->netbox_token) || strchr(tc->netbox_token, ' ')) {
          /* Never echo the token itself. */
          snprintf(errstr, errstr_size,
                   "tenant \"%s\": netbox token contains blanks or control "
                   "characters",
                   tc->name);
          goto fail;
        }
        auth = pv_asprintf("Authorization: %s %s",
                           pv_netbox_auth_scheme(tc->netbox_token), tc->netbox_token);
        hdrs[0] = auth;
        ec.auth_headers = hdrs;
      }
      char eerr[256] = "";
      t->ep[s] = pv_http_endpoint(http, &ec, eerr, sizeof(eerr));
      if (auth) {
        /* The transport copied the header; wipe our copy of the secret. */
        memset(auth, 0, strlen(auth));
        free(auth);
      }
      if (!t->ep[s]) {
        snprintf(errstr, errstr_size, "tenant \"%s\": %s endpoint: %s",
                 tc->name, svc_names[s], eerr);
        goto fail;
      }
    }
  }
  clients->n_tenants = n_tenants;
  return clients;

fail:
  pv_clients_destroy(clients);
  return NULL;
}

void pv_clients_destroy(pv_clients_t *clients)
{
  if (!clients)
    return;
  /* Endpoints belong to the pv_http_t. */
  for (size_t i = 0; i < clients->n_tenants; i++)
    free(clients->tenants[i].name);
  free(clients->tenants);
  free(clients);
}

static tenant_t *find_tenant(pv_clients_t *clients, const char *name)
{
  for (size_t i = 0; i < clients->n_tenants; i++)
    if (clients->tenants[i].name && strcmp(clients->tenants[i].name, name) == 0)
      return &clients->tenants[i];
  return NULL;
}

pv_endpoint_t *pv_clients_endpoint(pv_clients_t *clients, const char *tenant,
                                   const char *service)
{
  tenant_t *t = find_tenant(clients, tenant);
  int s = svc_index(service);
  return t && s >= 0 ? t->ep[s] : NULL;
}

/* ---- calls -------------------------------------------------------------- */

static void call_free(pv_call_t *call)
{
  free(call->key);
  free(call->traceparent);
  json_decref(call->acc);
  free(call->s1);
  free(call);
}

static void on_http_done(const pv_http_response_t *resp, void *arg)
{
  pv_call_t *call = arg;
  call->attempts += resp->attempts;
  if (resp->retry_at_ms)
    call->retry_at_ms = resp->retry_at_ms;
  pv_call_next_fn next = call->next;
  call->next = NULL;
  next(call, resp);
}

/* Every request of a call goes out here: Accept, the extra headers, and a
 * JSON body, a raw body or none. */
static int send_http(pv_call_t *call, const pv_client_req_t *creq,
                     pv_call_next_fn next, pv_error_t *err)
{
  const char *headers[PV_CLIENT_HEADERS_MAX + 2] = {"Accept: application/json"};
  size_t nh = 1;
  for (char *const *h = creq->headers; *h && nh <= PV_CLIENT_HEADERS_MAX; h++)
    headers[nh++] = *h;
  char *text = NULL;
  pv_http_request_t req = {
    .method = creq->method,
    .path = creq->path,
    .headers = headers,
    .timeout_ms = creq->timeout_ms,
    .deadline_ms = call->deadline_ms,
    .idempotent = creq->idempotent,
    .job_id = call->job_id,
    .op = call->op->name,
    .traceparent = call->traceparent,
  };
  if (creq->raw) {
    req.body = creq->raw;
    req.body_len = creq->raw_len;
    req.content_type = creq->raw_type;
  } else if (creq->body) {
    text = json_dumps(creq->body, JSON_COMPACT);
    if (!text) {
      pv_error_set(err, PV_ERR_INTERNAL, 0, "cannot encode the request body");
      return -1;
    }
    req.body = text;
    req.body_len = strlen(text);
    req.content_type = "application/json";
  }
  call->next = next;
  int rc = pv_http_send(call->ep, &req, on_http_done, call, err);
  free(text);
  if (rc < 0)
    call->next = NULL;
  return rc;
}

int pv_call_send(pv_call_t *call, const char *method, const char *path,
                 const json_t *body, long timeout_ms, bool idempotent,
                 pv_call_next_fn next, pv_error_t *err)
{
  pv_client_req_t req = {
    .method = method,
    .path = (char *)(uintptr_t)path,
    .body = (json_t *)(uintptr_t)body,
    .timeout_ms = timeout_ms,
    .idempotent = idempotent,
  };
  return send_http(call, &req, next, err);
}

int pv_call_send_req(pv_call_t *call, const pv_client_req_t *req,
                     pv_call_next_fn next, pv_error_t *err)
{
  return send_http(call, req, next, err);
}

void pv_call_send_or_fail(pv_call_t *call, const char *method,
                          const char *path, const json_t *body,
                          long timeout_ms, bool idempotent,
                          pv_call_next_fn next)
{
  pv_error_t err;
  if (pv_call_send(call, method, path, body, timeout_ms, idempotent, next,
                   &err) < 0)
    pv_call_fail(call, &err);
}

void pv_call_succeed(pv_call_t *call, json_t *result)
{
  pv_error_t none;
  pv_error_clear(&none);
  call->done(call, result, &none);
  call_free(call);
}

void pv_call_fail(pv_call_t *call, const pv_error_t *err)
{
  call->done(call, NULL, err);
  call_free(call);
}

void pv_call_fail_resp(pv_call_t *call, const pv_http_response_t *resp)
{
  pv_error_t err;
  pv_client_resp_error(call->op->service, resp, &err);
  pv_call_fail(call, &err);
}

static pv_call_t *call_new(tenant_t *t, const pv_op_t *op, const json_t *args,
                           const pv_job_t *job, const char *key,
                           const pv_exec_ctx_t *ctx)
{
  pv_call_t *call = pv_calloc(1, sizeof(*call));
  call->ep = t->ep[svc_index(op->service)];
  call->op = op;
  call->args = args;
  call->job_id = job->id;
  call->key = pv_strdup(key);
  call->traceparent = ctx && ctx->traceparent ? pv_strdup(ctx->traceparent)
                                              : NULL;
  call->deadline_ms = ctx && ctx->deadline_ms ? ctx->deadline_ms
                                              : job->deadline_ms;
  return call;
}

static int call_start(pv_call_t *call, pv_error_t *err)
{
  int rc;
  switch (svc_index(call->op->service)) {
  case SVC_VOLTHA: rc = pv_voltha_start(call, err); break;
  case SVC_GENIEACS: rc = pv_genieacs_start(call, err); break;
  case SVC_NETBOX: rc = pv_netbox_start(call, err); break;
  default:
    pv_error_set(err, PV_ERR_INTERNAL, 0, "no client for service \"%s\"",
                 call->op->service);
    rc = -1;
  }
  return rc;
}

/* ---- one execution (a job) ---------------------------------------------- */

typedef struct exec {
  pv_clients_t *clients;
  tenant_t *tenant;
  const pv_job_t *job;
  pv_exec_ctx_t ctx;
  char *traceparent;
  pv_exec_done_cb cb;
  void *arg;
  int attempts;
  int64_t retry_at_ms;
  /* order */
  const json_t *steps;
  size_t step;
  json_t *outcomes;
  json_t *no_args; /* {} for steps that carry no args */
} exec_t;

static void exec_finish(exec_t *ex, json_t *result, const pv_error_t *err)
{
  pv_exec_result_t res = {
    .result = err->cls == PV_ERR_NONE || ex->steps ? result : NULL,
    .err = *err,
    .attempts = ex->attempts,
    .retry_at_ms = ex->retry_at_ms,
  };
  ex->cb(&res, ex->arg);
  json_decref(result);
  json_decref(ex->outcomes);
  json_decref(ex->no_args);
  free(ex->traceparent);
  free(ex);
}

static void single_done(pv_call_t *call, json_t *result, const pv_error_t *err)
{
  exec_t *ex = call->done_arg;
  ex->attempts += call->attempts;
  ex->retry_at_ms = call->retry_at_ms;
  if (err->cls != PV_ERR_NONE)
    pv_log(PV_LOG_DEBUG, "client.op_failed", PV_S("service", call->op->service),
           PV_S("tenant_id", ex->job->tenant), PV_S("job_id", ex->job->id),
           PV_S("op", call->op->name),
           PV_S("error_class", pv_errclass_name(err->cls)),
           PV_I("http_status", err->http_status));
  exec_finish(ex, result, err);
}

/* Order: steps run one after another; each outcome is recorded in
 * result.steps; the first failed step stops the order and its error is the
 * order's (prefixed with the step). */
static int order_next(exec_t *ex, pv_error_t *err);

static json_t *order_result(exec_t *ex)
{
  size_t done = 0;
  size_t i;
  json_t *o;
  json_array_foreach(ex->outcomes, i, o) {
    if (strcmp(json_string_value(json_object_get(o, "status")), "succeeded") == 0)
      done++;
  }
  return json_pack("{s:O,s:I,s:I}", "steps", ex->outcomes, "completed",
                   (json_int_t)done, "count",
                   (json_int_t)json_array_size(ex->steps));
}

static void order_step_done(pv_call_t *call, json_t *result,
                            const pv_error_t *err)
{
  exec_t *ex = call->done_arg;
  ex->attempts += call->attempts;
  ex->retry_at_ms = call->retry_at_ms;
  json_t *o = json_pack("{s:s,s:s,s:s}", "service", call->op->service, "op",
                        call->op->name, "status",
                        err->cls == PV_ERR_NONE ? "succeeded" : "failed");
  if (err->cls == PV_ERR_NONE) {
    json_object_set(o, "result", result);
  } else {
    json_t *e = json_pack("{s:s,s:s}", "class", pv_errclass_name(err->cls),
                          "message", err->message);
    if (err->http_status)
      json_object_set_new(e, "http_status", json_integer(err->http_status));
    json_object_set_new(o, "error", e);
  }
  json_array_append_new(ex->outcomes, o);
  json_decref(result);

  if (err->cls != PV_ERR_NONE) {
    pv_error_t oerr;
    pv_error_set(&oerr, err->cls, err->http_status, "step %zu (%s.%s): %s",
                 ex->step + 1, call->op->service, call->op->name,
                 err->message);
    exec_finish(ex, order_result(ex), &oerr);
    return;
  }
  ex->step++;
  pv_error_t nerr;
  if (order_next(ex, &nerr) < 0)
    exec_finish(ex, order_result(ex), &nerr);
}

static int order_next(exec_t *ex, pv_error_t *err)
{
  if (ex->step >= json_array_size(ex->steps)) {
    pv_error_t none;
    pv_error_clear(&none);
    exec_finish(ex, order_result(ex), &none);
    return 0;
  }
  const json_t *step = json_array_get(ex->steps, ex->step);
  const char *svc = json_string_value(json_object_get(step, "service"));
  const char *opn = json_string_value(json_object_get(step, "op"));
  const pv_op_t *op = pv_catalog_find(svc, opn);
  const json_t *args = json_object_get(step, "args");
  if (!args) {
    if (!ex->no_args)
      ex->no_args = json_object();
    args = ex->no_args;
  }
  if (!op) {
    pv_error_set(err, PV_ERR_UNKNOWN_OP, 0, "step %zu: unknown op", ex->step + 1);
    return -1;
  }
  char *key = pv_asprintf("%s#%zu", ex->job->id, ex->step + 1);
  pv_call_t *call = call_new(ex->tenant, op, args, ex->job, key, &ex->ctx);
  free(key);
  call->done = order_step_done;
  call->done_arg = ex;
  if (call_start(call, err) < 0) {
    pv_error_t inner = *err;
    pv_error_set(err, inner.cls, inner.http_status, "step %zu (%s.%s): %s",
                 ex->step + 1, op->service, op->name, inner.message);
    call_free(call);
    return -1;
  }
  return 0;
}

int pv_clients_execute(pv_clients_t *clients, const pv_job_t *job,
                       const pv_exec_ctx_t *ctx, pv_exec_done_cb cb, void *arg,
                       pv_error_t *err)
{
  tenant_t *t = find_tenant(clients, job->tenant);
  if (!t) {
    pv_error_set(err, PV_ERR_UNKNOWN_TENANT, 0, "unknown tenant \"%.64s\"",
                 job->tenant);
    return -1;
  }
  const pv_op_t *op = pv_catalog_find(job->service, job->op);
  if (!op) {
    pv_error_set(err, PV_ERR_UNKNOWN_OP, 0,
                 "unknown op \"%.64s\" for service \"%.64s\"", job->op,
                 job->service);
    return -1;
  }

  exec_t *ex = pv_calloc(1, sizeof(*ex));
  ex->clients = clients;
  ex->tenant = t;
  ex->job = job;
  ex->cb = cb;
  ex->arg = arg;
  if (ctx) {
    ex->ctx = *ctx;
    ex->traceparent = ctx->traceparent ? pv_strdup(ctx->traceparent) : NULL;
    ex->ctx.traceparent = ex->traceparent;
  }

  if (strcmp(op->name, PV_OP_ORDER) == 0) {
    ex->steps = json_object_get(job->args, "steps");
    if (!json_is_array(ex->steps) || json_array_size(ex->steps) == 0) {
      pv_error_set(err, PV_ERR_BAD_ARGS, 0, "argument \"steps\": missing");
      goto fail;
    }
    /* Every service the order needs must be there before step 1 runs:
     * half an order for a misconfigured tenant helps nobody. */
    size_t i;
    const json_t *step;
    json_array_foreach(ex->steps, i, step) {
      const char *svc = json_string_value(json_object_get(step, "service"));
      int s = svc ? svc_index(svc) : -1;
      if (s < 0 || !t->ep[s]) {
        pv_error_set(err, PV_ERR_UNKNOWN_TENANT, 0,
                     "tenant \"%s\" has no %.64s endpoint (step %zu)", t->name,
                     svc ? svc : "?", i + 1);
        goto fail;
      }
    }
    ex->outcomes = json_array();
    if (order_next(ex, err) < 0)
      goto fail;
    return 0;
  }

  int s = svc_index(op->service);
  if (s < 0 || !t->ep[s]) {
    pv_error_set(err, PV_ERR_UNKNOWN_TENANT, 0,
                 "tenant \"%s\" has no %s endpoint", t->name, job->service);
    goto fail;
  }
  pv_call_t *call = call_new(t, op, job->args, job, job->id, &ex->ctx);
  call->done = single_done;
  call->done_arg = ex;
  if (call_start(call, err) < 0) {
    call_free(call);
    goto fail;
  }
  return 0;

fail:
  json_decref(ex->outcomes);
  json_decref(ex->no_args);
  free(ex->traceparent);
  free(ex);
  return -1;
}
