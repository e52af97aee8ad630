/*
 * Integration tests of the HTTP transport against a private southbound
 * simulator per test (tests/support/simproc.h). Bounds on time are
 * generous lower bounds ("waited at least") or loose upper bounds that only
 * catch hangs; nothing asserts speed.
 */
#include "common/clock.h"
#include "common/log.h"
#include "tests/support/simproc.h"
#include "transports/http.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- fixture ------------------------------------------------------------ */

static pv_sim_t sim;
static uv_loop_t loop;
static pv_http_t *http;

typedef struct result {
  bool done;
  int calls;
  pv_http_response_t resp;
  char body[512];
  uint64_t at_us;
} result_t;

typedef struct changes {
  int n;
  pv_breaker_state_t from[16], to[16];
  bool local[16];
  int64_t open_until[16];
} changes_t;

static changes_t changes;

static void on_change(const pv_breaker_change_t *chg, void *arg)
{
  changes_t *c = arg;
  cr_assert_not_null(chg->service);
  cr_assert_not_null(chg->tenant);
  cr_assert_not_null(chg->base_url);
  if (c->n < 16) {
    c->from[c->n] = chg->from;
    c->to[c->n] = chg->to;
    c->local[c->n] = chg->local;
    c->open_until[c->n] = chg->open_until_ms;
  }
  c->n++;
}

static void setup(void)
{
  cr_assert_eq(pv_sim_start(&sim, NULL), 0, "southbound-sim did not start");
  cr_assert_eq(uv_loop_init(&loop), 0);
  char errstr[256];
  pv_http_conf_t hc;
  pv_http_conf_defaults(&hc);
  http = pv_http_new(&loop, &hc, errstr, sizeof(errstr));
  cr_assert_not_null(http, "%s", errstr);
  memset(&changes, 0, sizeof(changes));
  pv_http_set_breaker_cb(http, on_change, &changes);
}

static void teardown(void)
{
  pv_http_destroy(http);
  http = NULL;
  uv_run(&loop, UV_RUN_DEFAULT);
  cr_expect_eq(uv_loop_close(&loop), 0, "handles left open on the loop");
  pv_sim_stop(&sim);
  pv_log_set_sink(NULL, NULL);
  pv_log_set_level(PV_LOG_INFO);
}

TestSuite(transport_sim, .init = setup, .fini = teardown, .timeout = 60);

/* Short backoffs so retries do not slow the suite down. */
static pv_endpoint_conf_t conf_for(const char *base_url)
{
  pv_endpoint_conf_t c;
  pv_endpoint_conf_defaults(&c);
  c.service = "voltha";
  c.tenant = "acme";
  c.base_url = base_url;
  c.retry.backoff_base_ms = 20;
  c.retry.backoff_cap_ms = 100;
  return c;
}

static pv_endpoint_t *endpoint(const pv_endpoint_conf_t *c)
{
  char errstr[256];
  pv_endpoint_t *ep = pv_http_endpoint(http, c, errstr, sizeof(errstr));
  cr_assert_not_null(ep, "%s", errstr);
  return ep;
}

static void on_done(const pv_http_response_t *resp, void *arg)
{
  result_t *r = arg;
  r->calls++;
  r->done = true;
  r->resp = *resp;
  r->resp.body = NULL;
  snprintf(r->body, sizeof(r->body), "%s", resp->body);
  r->at_us = pv_clock_mono_us();
}

static pv_http_request_t get(const char *path)
{
  return (pv_http_request_t){
    .method = "GET",
    .path = path,
    .timeout_ms = 5000,
    .idempotent = true,
    .job_id = "job-1",
    .op = "list_devices",
  };
}

/* Runs the loop until every result is done; fails after 30 s. */
static void wait_all(result_t *rs, size_t n)
{
  uint64_t until = pv_clock_mono_ms() + 30000;
  for (;;) {
    size_t done = 0;
    for (size_t i = 0; i < n; i++)
      done += rs[i].done;
    if (done == n)
      return;
    cr_assert_lt(pv_clock_mono_ms(), until, "requests did not finish in 30 s");
    uv_run(&loop, UV_RUN_ONCE);
  }
}

static void send_ok(pv_endpoint_t *ep, const pv_http_request_t *req, result_t *r)
{
  pv_error_t err;
  int rc = pv_http_send(ep, req, on_done, r, &err);
  cr_assert_eq(rc, 0, "send failed: %s", err.message);
}

static void run_one(pv_endpoint_t *ep, const pv_http_request_t *req,
                    result_t *r)
{
  memset(r, 0, sizeof(*r));
  send_ok(ep, req, r);
  cr_assert_not(r->done, "callback ran inside pv_http_send");
  wait_all(r, 1);
  cr_assert_eq(r->calls, 1);
}

static void sleep_loop_ms(uint64_t ms)
{
  uint64_t until = pv_clock_mono_ms() + ms;
  while (pv_clock_mono_ms() < until) {
    uv_run(&loop, UV_RUN_NOWAIT);
    usleep(5000);
  }
}

static void fault(const char *json)
{
  cr_assert_eq(pv_sim_set_fault(sim.voltha_url, json), 200,
               "could not set fault %s", json);
}

static long long sim_requests(void)
{
  long long n = pv_sim_stat(sim.voltha_url, "requests");
  cr_assert_geq(n, 0, "sim stats unavailable");
  return n;
}

/* ---- cases -------------------------------------------------------------- */

Test(transport_sim, get_succeeds_and_captures_response)
{
  pv_endpoint_conf_t c = conf_for(sim.voltha_url);
  pv_endpoint_t *ep = endpoint(&c);
  result_t r;
  pv_http_request_t req = get("/health");
  run_one(ep, &req, &r);
  cr_assert_eq(r.resp.err.cls, PV_ERR_NONE, "%s", r.resp.err.message);
  cr_assert_eq(r.resp.status, 200);
  cr_assert_eq(r.resp.attempts, 1);
  cr_assert(strstr(r.body, "HEALTHY"), "body: %s", r.body);
  cr_assert(strstr(r.resp.content_type, "json"), "ctype %s", r.resp.content_type);
  cr_assert_str_eq(r.resp.reason, "OK");
  cr_assert_eq(pv_endpoint_breaker_state(ep), PV_BREAKER_CLOSED);
  /* same key: the same endpoint */
  cr_assert_eq(pv_http_endpoint_find(http, "voltha", "acme", sim.voltha_url), ep);
  cr_assert_eq(endpoint(&c), ep);
}

Test(transport_sim, retries_503_then_succeeds)
{
  pv_endpoint_conf_t c = conf_for(sim.voltha_url);
  pv_endpoint_t *ep = endpoint(&c);
  fault("{\"mode\":\"error\",\"status\":503,\"count\":1}");
  long long before = sim_requests();
  result_t r;
  pv_http_request_t req = get("/api/v1/devices");
  run_one(ep, &req, &r);
  cr_assert_eq(r.resp.err.cls, PV_ERR_NONE, "%s", r.resp.err.message);
  cr_assert_eq(r.resp.status, 200);
  cr_assert_eq(r.resp.attempts, 2);
  pv_endpoint_stats_t st;
  pv_endpoint_stats(ep, &st);
  cr_assert_eq(st.requests, 2);
  cr_assert_eq(st.retries, 1);
  cr_assert_eq(sim_requests() - before, 2);
}

Test(transport_sim, non_idempotent_post_is_retried_on_503)
{
  /* 503 says "not processed": safe to resend even a POST */
  pv_endpoint_conf_t c = conf_for(sim.voltha_url);
  pv_endpoint_t *ep = endpoint(&c);
  fault("{\"mode\":\"error\",\"status\":503,\"count\":1}");
  result_t r;
  pv_http_request_t req = get("/api/v1/devices");
  req.method = "POST";
  req.idempotent = false;
  req.body = "{\"type\":\"openolt\"}";
  req.body_len = strlen(req.body);
  run_one(ep, &req, &r);
  cr_assert_eq(r.resp.attempts, 2);
  cr_assert_neq(r.resp.err.cls, PV_ERR_OUTCOME_UNKNOWN);
}

Test(transport_sim, retry_after_2s_is_waited)
{
  pv_endpoint_conf_t c = conf_for(sim.voltha_url);
  pv_endpoint_t *ep = endpoint(&c);
  fault("{\"mode\":\"ratelimit\",\"retry_after\":2,\"count\":1}");
  result_t r;
  pv_http_request_t req = get("/api/v1/devices");
  uint64_t t0 = pv_clock_mono_us();
  run_one(ep, &req, &r);
  cr_assert_eq(r.resp.err.cls, PV_ERR_NONE, "%s", r.resp.err.message);
  cr_assert_eq(r.resp.attempts, 2);
  cr_assert_geq(r.at_us - t0, 2000000u, "waited only %llu us",
                (unsigned long long)(r.at_us - t0));
  cr_assert_geq(r.resp.duration_ms, 2000);
}

Test(transport_sim, retry_after_beyond_max_returns_rate_limited)
{
  pv_endpoint_conf_t c = conf_for(sim.voltha_url);
  c.retry.retry_after_max_ms = 1000;
  pv_endpoint_t *ep = endpoint(&c);
  fault("{\"mode\":\"ratelimit\",\"retry_after\":60}");
  result_t r;
  pv_http_request_t req = get("/api/v1/devices");
  int64_t now = pv_clock_wall_ms();
  run_one(ep, &req, &r);
  cr_assert_eq(r.resp.err.cls, PV_ERR_RATE_LIMITED, "%s", r.resp.err.message);
  cr_assert_eq(r.resp.err.http_status, 429);
  cr_assert_eq(r.resp.attempts, 1);
  cr_assert_geq(r.resp.retry_at_ms, now + 59000);
  cr_assert_leq(r.resp.retry_at_ms, now + 70000);
  /* 429 does not count against the breaker */
  cr_assert_eq(pv_endpoint_breaker_state(ep), PV_BREAKER_CLOSED);
}

Test(transport_sim, retry_after_past_deadline_returns_rate_limited)
{
  pv_endpoint_conf_t c = conf_for(sim.voltha_url);
  pv_endpoint_t *ep = endpoint(&c);
  fault("{\"mode\":\"ratelimit\",\"retry_after\":5}");
  result_t r;
  pv_http_request_t req = get("/api/v1/devices");
  req.deadline_ms = pv_clock_wall_ms() + 2000;
  run_one(ep, &req, &r);
  cr_assert_eq(r.resp.err.cls, PV_ERR_RATE_LIMITED, "%s", r.resp.err.message);
  cr_assert_eq(r.resp.attempts, 1);
  cr_assert_gt(r.resp.retry_at_ms, req.deadline_ms);
  cr_assert_lt(r.resp.duration_ms, 2000, "it waited instead of stopping");
}

Test(transport_sim, hang_hits_the_per_op_timeout)
{
  pv_endpoint_conf_t c = conf_for(sim.voltha_url);
  pv_endpoint_t *ep = endpoint(&c);
  fault("{\"mode\":\"hang\"}");
  result_t r;
  pv_http_request_t req = get("/api/v1/devices");
  req.timeout_ms = 300;
  req.max_attempts = 2;
  run_one(ep, &req, &r);
  cr_assert_eq(r.resp.err.cls, PV_ERR_TIMEOUT, "%s", r.resp.err.message);
  cr_assert_eq(r.resp.attempts, 2);
  cr_assert_geq(r.resp.duration_ms, 600);
  cr_assert_lt(r.resp.duration_ms, 10000);
}

Test(transport_sim, reset_on_non_idempotent_post_is_outcome_unknown)
{
  pv_endpoint_conf_t c = conf_for(sim.voltha_url);
  pv_endpoint_t *ep = endpoint(&c);
  fault("{\"mode\":\"reset\"}");
  result_t r;
  pv_http_request_t req = get("/api/v1/devices");
  req.method = "POST";
  req.idempotent = false;
  req.body = "{}";
  req.body_len = 2;
  run_one(ep, &req, &r);
  cr_assert_eq(r.resp.err.cls, PV_ERR_OUTCOME_UNKNOWN, "%s %s",
               pv_errclass_name(r.resp.err.cls), r.resp.err.message);
  cr_assert_eq(r.resp.attempts, 1, "a non-idempotent request was resent");
}

Test(transport_sim, reset_on_idempotent_get_is_retried)
{
  pv_endpoint_conf_t c = conf_for(sim.voltha_url);
  pv_endpoint_t *ep = endpoint(&c);
  fault("{\"mode\":\"reset\",\"count\":1}");
  result_t r;
  pv_http_request_t req = get("/api/v1/devices");
  run_one(ep, &req, &r);
  cr_assert_eq(r.resp.err.cls, PV_ERR_NONE, "%s", r.resp.err.message);
  cr_assert_geq(r.resp.attempts, 2);
}

Test(transport_sim, five_failures_open_breaker_then_fail_fast)
{
  pv_endpoint_conf_t c = conf_for(sim.voltha_url);
  c.retry.max_attempts = 1;
  c.breaker.reset_timeout_ms = 60000;
  pv_endpoint_t *ep = endpoint(&c);
  fault("{\"mode\":\"error\",\"status\":503}");
  pv_http_request_t req = get("/api/v1/devices");
  result_t r;
  for (int i = 0; i < 5; i++) {
    run_one(ep, &req, &r);
    cr_assert_eq(r.resp.err.cls, PV_ERR_HTTP_5XX);
    cr_assert_eq(r.resp.err.http_status, 503);
  }
  cr_assert_eq(pv_endpoint_breaker_state(ep), PV_BREAKER_OPEN);
  cr_assert_eq(changes.n, 1);
  cr_assert_eq(changes.from[0], PV_BREAKER_CLOSED);
  cr_assert_eq(changes.to[0], PV_BREAKER_OPEN);
  cr_assert(changes.local[0]);
  cr_assert_gt(changes.open_until[0], pv_clock_wall_ms() + 50000);

  long long before = sim_requests();
  int64_t now = pv_clock_wall_ms();
  run_one(ep, &req, &r);
  cr_assert_eq(r.resp.err.cls, PV_ERR_CIRCUIT_OPEN);
  cr_assert_eq(r.resp.attempts, 0);
  cr_assert_gt(r.resp.retry_at_ms, now + 50000);
  cr_assert_eq(sim_requests(), before, "a request reached the server");
  pv_endpoint_stats_t st;
  pv_endpoint_stats(ep, &st);
  cr_assert_eq(st.breaker_rejected, 1);
}

Test(transport_sim, half_open_lets_one_probe_through_then_closes)
{
  pv_endpoint_conf_t c = conf_for(sim.voltha_url);
  c.retry.max_attempts = 1;
  c.breaker.fail_max = 2;
  c.breaker.reset_timeout_ms = 300;
  pv_endpoint_t *ep = endpoint(&c);
  fault("{\"mode\":\"error\",\"status\":500}");
  pv_http_request_t req = get("/api/v1/devices");
  result_t r;
  run_one(ep, &req, &r);
  run_one(ep, &req, &r);
  cr_assert_eq(pv_endpoint_breaker_state(ep), PV_BREAKER_OPEN);
  cr_assert_eq(pv_sim_clear_faults(sim.voltha_url), 200);
  sleep_loop_ms(400);

  long long before = sim_requests();
  result_t rs[3];
  memset(rs, 0, sizeof(rs));
  for (int i = 0; i < 3; i++)
    send_ok(ep, &req, &rs[i]);
  wait_all(rs, 3);
  int ok = 0, open = 0;
  for (int i = 0; i < 3; i++) {
    ok += rs[i].resp.err.cls == PV_ERR_NONE;
    open += rs[i].resp.err.cls == PV_ERR_CIRCUIT_OPEN;
  }
  cr_assert_eq(ok, 1, "exactly one probe goes through");
  cr_assert_eq(open, 2);
  cr_assert_eq(sim_requests(), before + 1);
  cr_assert_eq(pv_endpoint_breaker_state(ep), PV_BREAKER_CLOSED);
  cr_assert_eq(changes.n, 3);
  cr_assert_eq(changes.to[1], PV_BREAKER_HALF_OPEN);
  cr_assert_eq(changes.to[2], PV_BREAKER_CLOSED);
}

Test(transport_sim, operator_states_apply_without_network)
{
  pv_endpoint_conf_t c = conf_for(sim.voltha_url);
  pv_endpoint_t *ep = endpoint(&c);
  pv_endpoint_set_breaker(ep, PV_BREAKER_FORCED_OPEN, 0, "operator");
  cr_assert_eq(changes.n, 1);
  cr_assert_not(changes.local[0], "an applied change must say local=false");
  pv_http_request_t req = get("/health");
  result_t r;
  long long before = sim_requests();
  run_one(ep, &req, &r);
  cr_assert_eq(r.resp.err.cls, PV_ERR_CIRCUIT_OPEN);
  cr_assert_eq(r.resp.retry_at_ms, 0, "forced open has no known end");
  cr_assert_eq(sim_requests(), before);

  pv_endpoint_set_breaker(ep, PV_BREAKER_DISABLED, 0, "operator");
  fault("{\"mode\":\"error\",\"status\":500}");
  c.retry.max_attempts = 1;
  for (int i = 0; i < 8; i++)
    run_one(ep, &req, &r);
  cr_assert_eq(pv_endpoint_breaker_state(ep), PV_BREAKER_DISABLED);
  cr_assert_eq(r.resp.err.cls, PV_ERR_HTTP_5XX);

  int64_t until = pv_clock_wall_ms() + 200;
  pv_endpoint_set_breaker(ep, PV_BREAKER_OPEN, until, "peer worker");
  cr_assert_eq(changes.open_until[2], until);
  run_one(ep, &req, &r);
  cr_assert_eq(r.resp.err.cls, PV_ERR_CIRCUIT_OPEN);
  cr_assert_geq(r.resp.retry_at_ms, until - 5);
}

Test(transport_sim, concurrent_requests_respect_max_connections)
{
  pv_endpoint_conf_t c = conf_for(sim.voltha_url);
  c.max_connections = 8;
  c.max_idle = 8;
  pv_endpoint_t *ep = endpoint(&c);
  fault("{\"mode\":\"latency\",\"latency_ms\":20}");
  long long conns_before = pv_sim_stat(sim.voltha_url, "connections_accepted");
  cr_assert_geq(conns_before, 0);
  enum { N = 200 };
  static result_t rs[N];
  memset(rs, 0, sizeof(rs));
  pv_http_request_t req = get("/api/v1/devices");
  for (int i = 0; i < N; i++)
    send_ok(ep, &req, &rs[i]);
  pv_endpoint_stats_t st;
  pv_endpoint_stats(ep, &st);
  cr_assert_eq(st.in_flight, 8);
  cr_assert_eq(st.queued, N - 8);
  int max_in_flight = 0;
  uint64_t until = pv_clock_mono_ms() + 30000;
  for (;;) {
    int done = 0;
    for (int i = 0; i < N; i++)
      done += rs[i].done;
    pv_endpoint_stats(ep, &st);
    if (st.in_flight > max_in_flight)
      max_in_flight = st.in_flight;
    if (done == N)
      break;
    cr_assert_lt(pv_clock_mono_ms(), until);
    uv_run(&loop, UV_RUN_ONCE);
  }
  for (int i = 0; i < N; i++)
    cr_assert_eq(rs[i].resp.err.cls, PV_ERR_NONE, "#%d: %s", i,
                 rs[i].resp.err.message);
  cr_assert_leq(max_in_flight, 8);
  long long conns = pv_sim_stat(sim.voltha_url, "connections_accepted");
  /* minus the connection of this stats call itself */
  cr_assert_leq(conns - conns_before - 1, 8, "%lld connections for 200 requests",
                conns - conns_before - 1);
}

static int closed_port(void)
{
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  cr_assert_geq(fd, 0);
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof(a);
  cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
  cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
  close(fd); /* nobody listens there now */
  return ntohs(a.sin_port);
}

Test(transport_sim, connect_error_is_retried_and_classified)
{
  char url[64];
  snprintf(url, sizeof(url), "http://127.0.0.1:%d", closed_port());
  pv_endpoint_conf_t c = conf_for(url);
  c.breaker.fail_max = 10;
  pv_endpoint_t *ep = endpoint(&c);
  result_t r;
  /* even a non-idempotent request: nothing left the machine */
  pv_http_request_t req = get("/api/v1/devices");
  req.method = "POST";
  req.idempotent = false;
  run_one(ep, &req, &r);
  cr_assert_eq(r.resp.err.cls, PV_ERR_CONNECT, "%s", r.resp.err.message);
  cr_assert_eq(r.resp.attempts, 3);
  cr_assert_eq(r.resp.status, 0);
  pv_endpoint_stats_t st;
  pv_endpoint_stats(ep, &st);
  cr_assert_eq(st.retries, 2);
}

Test(transport_sim, deadline_caps_the_attempt)
{
  pv_endpoint_conf_t c = conf_for(sim.voltha_url);
  pv_endpoint_t *ep = endpoint(&c);
  fault("{\"mode\":\"hang\"}");
  result_t r;
  pv_http_request_t req = get("/api/v1/devices");
  req.timeout_ms = 20000;
  req.deadline_ms = pv_clock_wall_ms() + 400;
  run_one(ep, &req, &r);
  cr_assert_eq(r.resp.err.cls, PV_ERR_DEADLINE_EXCEEDED, "%s",
               r.resp.err.message);
  cr_assert_eq(r.resp.attempts, 1);
  cr_assert_geq(r.resp.duration_ms, 300);
  cr_assert_lt(r.resp.duration_ms, 10000, "the 20 s attempt timeout was used");
}

Test(transport_sim, passed_deadline_sends_nothing)
{
  pv_endpoint_conf_t c = conf_for(sim.voltha_url);
  pv_endpoint_t *ep = endpoint(&c);
  result_t r;
  pv_http_request_t req = get("/api/v1/devices");
  req.deadline_ms = pv_clock_wall_ms() - 1;
  long long before = sim_requests();
  run_one(ep, &req, &r);
  cr_assert_eq(r.resp.err.cls, PV_ERR_DEADLINE_EXCEEDED);
  cr_assert_eq(r.resp.attempts, 0);
  cr_assert_eq(sim_requests(), before);
}

Test(transport_sim, exhausted_budget_refuses_retry)
{
  pv_endpoint_conf_t c = conf_for(sim.voltha_url);
  c.budget.ratio = -1;       /* none */
  c.budget.min_per_sec = -1; /* none */
  pv_endpoint_t *ep = endpoint(&c);
  fault("{\"mode\":\"error\",\"status\":503}");
  result_t r;
  pv_http_request_t req = get("/api/v1/devices");
  run_one(ep, &req, &r);
  cr_assert_eq(r.resp.err.cls, PV_ERR_HTTP_5XX);
  cr_assert_eq(r.resp.attempts, 1);
  pv_endpoint_stats_t st;
  pv_endpoint_stats(ep, &st);
  cr_assert_eq(st.budget_refused, 1);
  cr_assert(strstr(r.resp.err.message, "budget"), "%s", r.resp.err.message);
}

Test(transport_sim, other_4xx_is_not_retried)
{
  pv_endpoint_conf_t c = conf_for(sim.voltha_url);
  pv_endpoint_t *ep = endpoint(&c);
  fault("{\"mode\":\"error\",\"status\":404}");
  result_t r;
  pv_http_request_t req = get("/api/v1/devices");
  run_one(ep, &req, &r);
  cr_assert_eq(r.resp.err.cls, PV_ERR_HTTP_4XX);
  cr_assert_eq(r.resp.err.http_status, 404);
  cr_assert_eq(r.resp.attempts, 1);
}

Test(transport_sim, response_over_cap_is_an_error)
{
  pv_http_destroy(http);
  uv_run(&loop, UV_RUN_DEFAULT);
  pv_http_conf_t hc;
  pv_http_conf_defaults(&hc);
  hc.max_response_bytes = 8;
  char errstr[256];
  http = pv_http_new(&loop, &hc, errstr, sizeof(errstr));
  cr_assert_not_null(http);
  pv_endpoint_conf_t c = conf_for(sim.voltha_url);
  pv_endpoint_t *ep = endpoint(&c);
  result_t r;
  pv_http_request_t req = get("/health");
  run_one(ep, &req, &r);
  cr_assert_eq(r.resp.err.cls, PV_ERR_INTERNAL);
  cr_assert(strstr(r.resp.err.message, "over 8 bytes"), "%s",
            r.resp.err.message);
  cr_assert_eq(r.resp.attempts, 1);
}

/* Log capture for the secrets test. */
typedef struct logs {
  char *all;
  size_t len;
} logs_t;

static void capture(const char *line, size_t len, void *arg)
{
  logs_t *l = arg;
  l->all = realloc(l->all, l->len + len + 2);
  cr_assert_not_null(l->all);
  memcpy(l->all + l->len, line, len);
  l->len += len;
  l->all[l->len++] = '\n';
  l->all[l->len] = '\0';
}

Test(transport_sim, secrets_never_reach_logs_or_errors)
{
  static logs_t logs;
  pv_log_set_level(PV_LOG_DEBUG);
  pv_log_set_sink(capture, &logs);
  const char *auth[] = {"Authorization: Token s3cr3t-t0ken", NULL};
  pv_endpoint_conf_t c = conf_for(sim.voltha_url);
  c.auth_headers = auth;
  pv_endpoint_t *ep = endpoint(&c);
  result_t r;
  pv_http_request_t req = get("/api/v1/devices");
  run_one(ep, &req, &r);
  cr_assert_eq(r.resp.err.cls, PV_ERR_NONE);
  fault("{\"mode\":\"error\",\"status\":503}");
  run_one(ep, &req, &r);
  cr_assert_eq(r.resp.err.cls, PV_ERR_HTTP_5XX);
  pv_log_set_sink(NULL, NULL);
  cr_assert_not_null(logs.all);
  cr_assert_null(strstr(logs.all, "s3cr3t"), "secret in logs");
  cr_assert_null(strstr(r.resp.err.message, "s3cr3t"));
  cr_assert(strstr(logs.all, "\"http_request.retry\""));
  cr_assert(strstr(logs.all, "\"http_request.http_error\""));
  cr_assert(strstr(logs.all, "\"http_request.started\""));
  cr_assert(strstr(logs.all, "\"http_request.succeeded\""));
  cr_assert(strstr(logs.all, "\"tenant_id\":\"acme\""));
  cr_assert(strstr(logs.all, "\"job_id\":\"job-1\""));
  cr_assert(strstr(logs.all, "\"op\":\"list_devices\""));
  free(logs.all);
}

Test(transport_sim, destroy_cancels_in_flight_requests)
{
  pv_endpoint_conf_t c = conf_for(sim.voltha_url);
  c.max_connections = 2;
  pv_endpoint_t *ep = endpoint(&c);
  fault("{\"mode\":\"hang\"}");
  result_t rs[4];
  memset(rs, 0, sizeof(rs));
  pv_http_request_t req = get("/api/v1/devices");
  for (int i = 0; i < 4; i++)
    send_ok(ep, &req, &rs[i]);
  sleep_loop_ms(100); /* two in flight, two queued */
  pv_http_destroy(http);
  http = NULL;
  for (int i = 0; i < 4; i++) {
    cr_assert_eq(rs[i].calls, 1);
    cr_assert_eq(rs[i].resp.err.cls, PV_ERR_INTERNAL);
    cr_assert_str_eq(rs[i].resp.err.message, "shutting down");
  }
}

static void destroy_from_cb(const pv_http_response_t *resp, void *arg)
{
  (void)resp;
  int *calls = arg;
  (*calls)++;
  pv_http_destroy(http);
}

Test(transport_sim, destroy_inside_a_callback_is_safe)
{
  pv_endpoint_conf_t c = conf_for(sim.voltha_url);
  pv_endpoint_t *ep = endpoint(&c);
  int calls[2] = {0, 0};
  pv_http_request_t req = get("/health");
  pv_error_t err;
  cr_assert_eq(pv_http_send(ep, &req, destroy_from_cb, &calls[0], &err), 0);
  cr_assert_eq(pv_http_send(ep, &req, destroy_from_cb, &calls[1], &err), 0);
  uint64_t until = pv_clock_mono_ms() + 10000;
  while (calls[0] + calls[1] < 2 && pv_clock_mono_ms() < until)
    uv_run(&loop, UV_RUN_ONCE);
  cr_assert_eq(calls[0], 1);
  cr_assert_eq(calls[1], 1);
  http = NULL; /* destroyed by the callback */
}

Test(transport_sim, bad_requests_are_refused_synchronously)
{
  pv_endpoint_conf_t c = conf_for(sim.voltha_url);
  pv_endpoint_t *ep = endpoint(&c);
  result_t r = {0};
  pv_error_t err;
  pv_http_request_t req = get("devices");
  cr_assert_eq(pv_http_send(ep, &req, on_done, &r, &err), -1);
  cr_assert_eq(err.cls, PV_ERR_BAD_ARGS);
  cr_assert(strstr(err.message, "path"), "%s", err.message);
  const char *hdrs[] = {"X-Evil: a\r\nInjected: b", NULL};
  req = get("/health");
  req.headers = hdrs;
  cr_assert_eq(pv_http_send(ep, &req, on_done, &r, &err), -1);
  cr_assert(strstr(err.message, "headers[0]"), "%s", err.message);
  req = get("/health");
  req.method = "TRACE";
  cr_assert_eq(pv_http_send(ep, &req, on_done, &r, &err), -1);
  cr_assert(strstr(err.message, "method"), "%s", err.message);
  uv_run(&loop, UV_RUN_NOWAIT);
  cr_assert_eq(r.calls, 0, "callback ran for a refused send");

  char errstr[256];
  pv_endpoint_conf_t bad = conf_for("http://user:pw@127.0.0.1:1");
  cr_assert_null(pv_http_endpoint(http, &bad, errstr, sizeof(errstr)));
  cr_assert(strstr(errstr, "userinfo"), "%s", errstr);
  cr_assert_null(strstr(errstr, "pw@"), "credentials echoed: %s", errstr);
  bad = conf_for("ftp://127.0.0.1");
  cr_assert_null(pv_http_endpoint(http, &bad, errstr, sizeof(errstr)));
  const char *badauth[] = {"Authorization Token x", NULL};
  bad = conf_for(sim.voltha_url);
  bad.tenant = "other";
  bad.auth_headers = badauth;
  cr_assert_null(pv_http_endpoint(http, &bad, errstr, sizeof(errstr)));
  cr_assert_null(strstr(errstr, "Token x"), "secret echoed: %s", errstr);
}

Test(transport_sim, send_sync_for_the_cli)
{
  pv_endpoint_conf_t c = conf_for(sim.voltha_url);
  pv_http_request_t req = get("/health");
  pv_http_response_t out;
  char *body = NULL;
  cr_assert_eq(pv_http_send_sync(NULL, &c, &req, &out, &body), 0, "%s",
               out.err.message);
  cr_assert_eq(out.status, 200);
  cr_assert_not_null(body);
  cr_assert(strstr(body, "HEALTHY"));
  free(body);
  fault("{\"mode\":\"error\",\"status\":404}");
  cr_assert_eq(pv_http_send_sync(NULL, &c, &req, &out, &body), -1);
  cr_assert_eq(out.err.cls, PV_ERR_HTTP_4XX);
  free(body);
}
