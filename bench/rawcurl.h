/**
 * @file rawcurl.h
 * @brief The raw curl multi loop the benchmarks measure the HTTP transport
 * against: pooled GETs on one URL, no provisiond code in the path.
 *
 * Shared by transport_bench (its "raw" baseline) and worker_bench (the
 * HTTP part of the worker's floor, issue 20), so both measure the same loop.
 * CPU is counted with pv_bench_cpu_s (benchutil.h).
 *
 * @locality bench only; single thread, blocking (curl_multi_poll).
 */
#ifndef PV_BENCH_RAWCURL_H
#define PV_BENCH_RAWCURL_H

#include <stdbool.h>

/** One measured phase. */
typedef struct pv_bench_sample {
  double wall_s; /**< wall time of the phase */
  double cpu_s;  /**< user+sys CPU of this process during the phase */
  long n;        /**< requests completed */
  long errors;   /**< transport errors and answers other than 200 */
} pv_bench_sample_t;

/**
 * @brief GETs url `total` times with `conc` requests in flight on one curl
 * multi handle (connections pooled, at most `conc` kept; with `fresh`, a
 * new connection per request).
 * @returns 0 with *out filled, -1 if curl failed to run the loop.
 */
int pv_bench_raw_curl(const char *url, long total, int conc, bool fresh,
                      pv_bench_sample_t *out);

#endif
