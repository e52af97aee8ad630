/**
 * @file metrics.h
 * @brief Prometheus metrics and health endpoints of a provisiond process.
 *
 * Counters and histograms are fed by observers (job events from the engine,
 * HTTP attempts and breaker transitions from the transport); gauges (in
 * flight, pools, Kafka lag, PostgreSQL queue) are read from the modules
 * when /metrics is scraped. Everything runs on the loop thread: the HTTP
 * server (libmicrohttpd without a thread of its own) is driven by the loop
 * through its epoll descriptor, so no lock is needed.
 *
 * Label cardinality is bounded: tenants are the configured set, services
 * and ops come from the catalog, error classes from the wire contract, and
 * anything else is folded into "unknown". No job or device id is a label.
 *
 * Endpoints: GET /metrics (text format 0.0.4), GET /healthz (alive),
 * GET /readyz (200 when Kafka is assigned and reachable, PostgreSQL is
 * connected and the worker is not draining; 503 otherwise, with a JSON body
 * naming every problem).
 *
 * @locality the loop thread, for every function.
 */
#ifndef PV_WORKER_METRICS_H
#define PV_WORKER_METRICS_H

#include "common/buf.h"
#include "transports/http.h"
#include "worker/engine.h"
#include "db/pg.h"

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

typedef struct pv_metrics_s pv_metrics_t;

/**
 * @brief Creates an empty registry. tenants (n names, copied) is the
 * bounded set of tenant label values; any other tenant becomes "unknown".
 */
pv_metrics_t *pv_metrics_new(const char *const *tenants, size_t n);

/** @brief Frees everything (stops the server first). Accepts NULL. */
void pv_metrics_destroy(pv_metrics_t *m);

/**
 * @brief Borrowed modules read at scrape time; any may be NULL (its
 * gauges are left out, and /readyz reports it as not ready). Call again
 * with NULLs before destroying them. With pg set, a scrape also sends a
 * query (the fleet's unfinished jobs, at most every 10 s) whose callback
 * writes into m: destroy pg before m (pv_pg_destroy runs that callback).
 */
void pv_metrics_set_sources(pv_metrics_t *m, pv_engine_t *engine,
                            pv_http_t *http, pv_pg_t *pg);

/**
 * @brief Serves /metrics, /healthz and /readyz on listen ("host:port",
 * IPv4 literal; port 0 picks a free one) from loop.
 * @returns 0, or -1 with errstr naming the value.
 */
int pv_metrics_listen(pv_metrics_t *m, uv_loop_t *loop, const char *listen,
                      char *errstr, size_t errstr_size);

/** @returns the bound TCP port, 0 when not listening. */
int pv_metrics_port(const pv_metrics_t *m);

/** @brief Stops the server; the loop must run once more to close handles. */
void pv_metrics_stop(pv_metrics_t *m);

/** Observers: pass m as arg (engine, transport). */
void pv_metrics_on_job(const pv_job_event_t *ev, void *m);
void pv_metrics_on_attempt(const pv_http_attempt_t *a, void *m);
void pv_metrics_on_breaker(pv_metrics_t *m, const pv_breaker_change_t *chg);

/** @brief Appends the exposition text to out. @returns 0, -1 if out's cap
 *  was reached. */
int pv_metrics_render(pv_metrics_t *m, pv_buf_t *out);

/**
 * @brief Readiness as /readyz reports it: appends a JSON object
 * {"ready":bool,"problems":[...],...} to out.
 * @returns true when ready.
 */
bool pv_metrics_ready(pv_metrics_t *m, pv_buf_t *out);

/** @brief Appends s to out escaped as a Prometheus label value
 *  (backslash, double quote and newline). @returns 0 or -1 (cap). */
int pv_metrics_escape_label(pv_buf_t *out, const char *s);

#endif
