/*
 * The raw curl multi loop: see rawcurl.h.
 */
#include "bench/rawcurl.h"
#include "bench/benchutil.h"
#include "common/clock.h"

#include <curl/curl.h>
#include <stdlib.h>

static size_t discard(char *p, size_t s, size_t n, void *u)
{
  (void)p;
  (void)u;
  return s * n;
}

static int raw_setup(CURL *e, const char *url, bool fresh)
{
  if (curl_easy_setopt(e, CURLOPT_URL, url) != CURLE_OK ||
      curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
      curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard) != CURLE_OK ||
      curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 5000L) != CURLE_OK)
    return -1;
  if (fresh && (curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L) != CURLE_OK ||
                curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L) != CURLE_OK))
    return -1;
  return 0;
}

int pv_bench_raw_curl(const char *url, long total, int conc, bool fresh,
                      pv_bench_sample_t *out)
{
  CURLM *m = curl_multi_init();
  CURL **hs = calloc((size_t)conc, sizeof(CURL *));
  long issued = 0, done = 0, errors = 0;
  int rc = -1, running = 0;
  if (!m || !hs)
    goto out;
  /* Same idle cap as the transport's endpoint (max_connections 20). */
  if (curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, (long)conc) != CURLM_OK)
    goto out;
  double c0 = pv_bench_cpu_s();
  uint64_t w0 = pv_clock_mono_us();
  for (int i = 0; i < conc && issued < total; i++, issued++) {
    hs[i] = curl_easy_init();
    if (!hs[i] || raw_setup(hs[i], url, fresh) != 0 ||
        curl_multi_add_handle(m, hs[i]) != CURLM_OK)
      goto out;
  }
  while (done < total) {
    if (curl_multi_perform(m, &running) != CURLM_OK)
      goto out;
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(m, &left))) {
      if (msg->msg != CURLMSG_DONE)
        continue;
      long st = 0;
      CURL *e = msg->easy_handle;
      if (msg->data.result != CURLE_OK ||
          curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &st) != CURLE_OK ||
          st != 200)
        errors++;
      done++;
      if (curl_multi_remove_handle(m, e) != CURLM_OK)
        goto out;
      if (issued < total) {
        issued++;
        if (curl_multi_add_handle(m, e) != CURLM_OK)
          goto out;
      }
    }
    if (done < total && curl_multi_poll(m, NULL, 0, 1000, NULL) != CURLM_OK)
      goto out;
  }
  out->wall_s = (double)(pv_clock_mono_us() - w0) / 1e6;
  out->cpu_s = pv_bench_cpu_s() - c0;
  out->n = done;
  out->errors = errors;
  rc = 0;
out:
  for (int i = 0; hs && i < conc; i++) {
    if (hs[i]) {
      curl_multi_remove_handle(m, hs[i]);
      curl_easy_cleanup(hs[i]);
    }
  }
  free(hs);
  if (m)
    curl_multi_cleanup(m);
  return rc;
}
