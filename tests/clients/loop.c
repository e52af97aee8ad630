#include "tests/clients/loop.h"

#include "common/alloc.h"
#include "common/buf.h"
#include "jobs/job.h"

#include <criterion/criterion.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The environment cl_op() and friends use: the one started last. */
static cl_env_t *current;
static int job_seq;

void cl_env_start(cl_env_t *env, const char *const *sim_args,
                  const char *netbox_token)
{
  memset(env, 0, sizeof(*env));
  current = env;
  cr_assert_eq(pv_sim_start(&env->sim, sim_args), 0,
               "could not start the simulator");
  cr_assert_eq(uv_loop_init(&env->loop), 0);
  env->loop_ok = true;

  char errstr[256] = "";
  pv_http_conf_t hconf;
  pv_http_conf_defaults(&hconf);
  env->http = pv_http_new(&env->loop, &hconf, errstr, sizeof(errstr));
  cr_assert_not_null(env->http, "pv_http_new: %s", errstr);

  pv_tenant_conf_t t;
  memset(&t, 0, sizeof(t));
  t.name = "acme";
  t.voltha_url = env->sim.voltha_url;
  t.genieacs_url = env->sim.genieacs_url;
  t.netbox_url = env->sim.netbox_url;
  t.netbox_token = netbox_token ? netbox_token
                                : "0123456789abcdef0123456789abcdef01234567";
  pv_endpoint_conf_defaults(&t.endpoint);
  /* Short backoff keeps retry paths fast; the rules are the transport's. */
  t.endpoint.retry.backoff_base_ms = 20;
  t.endpoint.retry.backoff_cap_ms = 100;
  pv_tenant_conf_t lonely;
  memset(&lonely, 0, sizeof(lonely));
  lonely.name = "voltha-only";
  lonely.voltha_url = env->sim.voltha_url;
  pv_endpoint_conf_defaults(&lonely.endpoint);
  pv_tenant_conf_t tenants[2] = {t, lonely};
  env->clients = pv_clients_new(env->http, tenants, 2, errstr, sizeof(errstr));
  cr_assert_not_null(env->clients, "pv_clients_new: %s", errstr);
}

static void walk_close(uv_handle_t *h, void *arg)
{
  (void)arg;
  if (!uv_is_closing(h))
    uv_close(h, NULL);
}

void cl_env_stop(cl_env_t *env)
{
  pv_clients_destroy(env->clients);
  env->clients = NULL;
  if (env->http) {
    pv_http_destroy(env->http);
    env->http = NULL;
  }
  if (env->loop_ok) {
    uv_run(&env->loop, UV_RUN_NOWAIT);
    uv_walk(&env->loop, walk_close, NULL);
    uv_run(&env->loop, UV_RUN_DEFAULT);
    uv_loop_close(&env->loop);
    env->loop_ok = false;
  }
  pv_sim_stop(&env->sim);
}

void cl_outcome_clear(cl_outcome_t *o)
{
  json_decref(o->result);
  o->result = NULL;
}

typedef struct pending {
  cl_outcome_t *out;
  pv_job_t *job;
  int *left;
} pending_t;

static void on_done(const pv_exec_result_t *res, void *arg)
{
  pending_t *p = arg;
  p->out->done = true;
  p->out->err = res->err;
  p->out->attempts = res->attempts;
  p->out->result = res->result ? json_incref(res->result) : NULL;
  (*p->left)--;
}

static void on_guard(uv_timer_t *t)
{
  (void)t;
  /* Nothing: the loop wakes up and the bound below is checked. */
}

void cl_run_many(cl_env_t *env, const char *const *jobs, size_t n,
                 cl_outcome_t *out)
{
  pending_t *ps = pv_calloc(n, sizeof(*ps));
  int left = 0;
  for (size_t i = 0; i < n; i++) {
    memset(&out[i], 0, sizeof(out[i]));
    ps[i].out = &out[i];
    ps[i].left = &left;
    if (pv_job_decode(jobs[i], strlen(jobs[i]), PV_FMT_JSON, &ps[i].job,
                      &out[i].err) < 0)
      continue;
    if (pv_job_validate(ps[i].job, &out[i].err) < 0)
      continue;
    pv_exec_ctx_t ctx = {.traceparent = NULL, .deadline_ms = 0};
    left++;
    if (pv_clients_execute(env->clients, ps[i].job, &ctx, on_done, &ps[i],
                           &out[i].err) < 0)
      left--;
  }
  uv_timer_t guard;
  uv_timer_init(&env->loop, &guard);
  uv_timer_start(&guard, on_guard, 200, 200);
  uint64_t start = uv_now(&env->loop);
  while (left > 0 && uv_now(&env->loop) - start < 60000)
    uv_run(&env->loop, UV_RUN_ONCE);
  uv_timer_stop(&guard);
  uv_close((uv_handle_t *)&guard, NULL);
  uv_run(&env->loop, UV_RUN_NOWAIT);
  cr_assert_eq(left, 0, "jobs still running after 60 s");
  for (size_t i = 0; i < n; i++)
    pv_job_destroy(ps[i].job);
  free(ps);
}

cl_outcome_t cl_run(cl_env_t *env, const char *job_json)
{
  cl_outcome_t out;
  const char *jobs[1] = {job_json};
  cl_run_many(env, jobs, 1, &out);
  return out;
}

static size_t collect(char *data, size_t size, size_t nmemb, void *arg)
{
  pv_buf_t *b = arg;
  return pv_buf_append(b, data, size * nmemb) < 0 ? 0 : size * nmemb;
}

json_t *cl_sim_requests(const char *base_url, long long since)
{
  char url[512];
  snprintf(url, sizeof(url), "%s/_sim/requests?since=%lld", base_url, since);
  CURL *c = curl_easy_init();
  if (!c)
    return NULL;
  pv_buf_t b;
  pv_buf_init(&b, 64 * 1024 * 1024);
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  CURLcode rc = curl_easy_perform(c);
  curl_easy_cleanup(c);
  json_t *doc = NULL;
  if (rc == CURLE_OK && b.data)
    doc = json_loadb(b.data, b.len, 0, NULL);
  pv_buf_free(&b);
  return doc;
}

long long cl_sim_last_seq(const char *base_url)
{
  return pv_sim_stat(base_url, "last_seq");
}

/* ---- one op at a time --------------------------------------------------- */

char *cl_job(const char *service, const char *op, const char *args)
{
  return pv_asprintf("{\"v\":1,\"id\":\"t-%d-%d\",\"tenant\":\"acme\","
                     "\"service\":\"%s\",\"op\":\"%s\",\"args\":%s}",
                     (int)getpid(), ++job_seq, service, op, args);
}

cl_outcome_t cl_op(const char *service, const char *op, const char *args)
{
  cr_assert_not_null(current, "no client environment started");
  char *job = cl_job(service, op, args);
  cl_outcome_t o = cl_run(current, job);
  free(job);
  return o;
}

json_t *cl_ok(const char *service, const char *op, const char *args)
{
  cl_outcome_t o = cl_op(service, op, args);
  cr_assert_eq(o.err.cls, PV_ERR_NONE, "%s.%s %s: %s (%s, %d)", service, op,
               args, o.err.message, pv_errclass_name(o.err.cls),
               o.err.http_status);
  cr_assert(json_is_object(o.result), "%s.%s: result is not an object",
            service, op);
  return o.result;
}

void cl_fails(const char *service, const char *op, const char *args,
              pv_errclass_t cls, int status, const char *needle)
{
  cl_outcome_t o = cl_op(service, op, args);
  cr_assert_eq(o.err.cls, cls, "%s.%s %s: class %s (%s), want %s", service,
               op, args, pv_errclass_name(o.err.cls), o.err.message,
               pv_errclass_name(cls));
  if (status)
    cr_assert_eq(o.err.http_status, status, "%s.%s: status %d (%s)", service,
                 op, o.err.http_status, o.err.message);
  if (needle)
    cr_assert(strstr(o.err.message, needle), "%s.%s: \"%s\" lacks \"%s\"",
              service, op, o.err.message, needle);
  cr_assert_null(o.result);
}

const char *cl_str(const json_t *o, const char *k)
{
  const char *s = json_string_value(json_object_get(o, k));
  cr_assert_not_null(s, "no string \"%s\"", k);
  return s;
}

json_t *cl_items(const json_t *res)
{
  json_t *it = json_object_get(res, "items");
  cr_assert(json_is_array(it), "no items");
  cr_assert_eq((size_t)json_integer_value(json_object_get(res, "count")),
               json_array_size(it), "count != items");
  return it;
}
