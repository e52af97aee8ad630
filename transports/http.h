/**
 * @file http.h
 * @brief The robust HTTP transport: the one way provisiond talks to VOLTHA,
 * GenieACS and NetBox.
 *
 * One pv_http_t per libuv loop drives one curl multi handle through the
 * multi socket API. Requests go to an endpoint, the unit of pooling and
 * protection: one per (service, tenant, base URL), with its own admission
 * queue (max_connections), retry policy, retry budget and circuit breaker.
 *
 * A request's completion callback runs exactly once, on the loop thread,
 * after all attempts: it sees the final response or the final error
 * (classified into the wire error classes of common/error.h). When
 * pv_http_send() returns an error the callback is never called (libuv's
 * contract).
 *
 * @locality the loop thread that owns the pv_http_t, for every call.
 */
#ifndef PV_TRANSPORTS_HTTP_H
#define PV_TRANSPORTS_HTTP_H

#include "common/error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct pv_http_s pv_http_t;
typedef struct pv_endpoint_s pv_endpoint_t;

/* ---- engine ------------------------------------------------------------ */

typedef struct pv_http_conf {
  long connect_timeout_ms; /**< default 5000 */
  bool tls_verify;         /**< default true: peer and host verified */
  const char *ca_path;     /**< CA bundle file, NULL = system default */
  size_t max_response_bytes; /**< response body cap, default 8 MiB */
} pv_http_conf_t;

/** @brief Fills conf with the defaults above. */
void pv_http_conf_defaults(pv_http_conf_t *conf);

/** @returns a new engine on loop, or NULL with errstr set. */
pv_http_t *pv_http_new(uv_loop_t *loop, const pv_http_conf_t *conf,
                       char *errstr, size_t errstr_size);
/**
 * @brief Cancels what is in flight (callbacks run with PV_ERR_INTERNAL,
 * "shutting down"), frees every endpoint and the engine. The loop must run
 * once more afterwards so libuv can close the engine's handles.
 */
void pv_http_destroy(pv_http_t *http);

/* ---- circuit breaker ---------------------------------------------------- */

typedef enum pv_breaker_state {
  PV_BREAKER_CLOSED = 0,
  PV_BREAKER_OPEN,
  PV_BREAKER_HALF_OPEN,
  PV_BREAKER_FORCED_OPEN, /**< operator: fail fast until set back to auto */
  PV_BREAKER_DISABLED     /**< operator: never trips, always passes */
} pv_breaker_state_t;

const char *pv_breaker_state_name(pv_breaker_state_t s);
/** @returns the state for its name, or -1. */
int pv_breaker_state_parse(const char *name);

/** A breaker transition, handed to the state callback. */
typedef struct pv_breaker_change {
  const char *service, *tenant, *base_url;
  pv_breaker_state_t from, to;
  const char *reason;       /**< e.g. "5 consecutive failures", "probe succeeded" */
  int64_t open_until_ms;    /**< wall ms when half-open may be tried, 0 if n/a */
  bool local;               /**< false when applied from outside (set_state) */
} pv_breaker_change_t;

typedef void (*pv_breaker_change_cb)(const pv_breaker_change_t *chg,
                                     void *arg);

/** @brief Called on every transition of every endpoint of this engine. */
void pv_http_set_breaker_cb(pv_http_t *http, pv_breaker_change_cb cb,
                            void *arg);

/* ---- endpoints ---------------------------------------------------------- */

typedef struct pv_retry_conf {
  int max_attempts;       /**< default 3 (1 = no retry) */
  int backoff_base_ms;    /**< default 1000 */
  int backoff_cap_ms;     /**< default 10000 */
  int retry_after_max_ms; /**< longest Retry-After waited in-process, default 30000 */
} pv_retry_conf_t;

typedef struct pv_budget_conf {
  double ratio;           /**< retries allowed per recent request, default 0.2 */
  double min_per_sec;     /**< floor of retries per second, default 3 */
  int window_ms;          /**< what "recent" means, default 10000 */
} pv_budget_conf_t;

typedef struct pv_breaker_conf {
  int fail_max;           /**< consecutive counted failures to open, default 5 */
  int reset_timeout_ms;   /**< open -> half-open after, default 60000 */
  int half_open_max;      /**< probes admitted while half-open, default 1 */
  double failure_rate;    /**< opt-in: open at this failure ratio, 0 = off */
  int rate_window_ms;     /**< window for failure_rate, default 30000 */
  int rate_min_calls;     /**< calls in window before rate applies, default 20 */
} pv_breaker_conf_t;

typedef struct pv_endpoint_conf {
  const char *service;     /**< "voltha", "genieacs", "netbox" */
  const char *tenant;
  const char *base_url;    /**< scheme://host[:port][/prefix], no trailing '/' */
  /**
   * Header lines sent on every request, e.g. "Authorization: Token ...".
   * NULL-terminated; copied. Never logged.
   */
  const char *const *auth_headers;
  int max_connections;     /**< admission cap, default 20 */
  int max_idle;            /**< idle keep-alive connections kept, default 10 */
  pv_retry_conf_t retry;
  pv_budget_conf_t budget;
  pv_breaker_conf_t breaker;
  /**
   * Added: most calls waiting for admission; pv_http_send() fails with
   * PV_ERR_INTERNAL "admission queue full" beyond it. Default 10000.
   */
  int max_queued;
} pv_endpoint_conf_t;

/**
 * @brief Fills every field with its default; service/tenant/base_url NULL.
 * pv_http_endpoint() also treats any numeric field left 0 as its default
 * (so a zeroed conf works); a negative budget ratio/min_per_sec means none.
 */
void pv_endpoint_conf_defaults(pv_endpoint_conf_t *conf);

/**
 * @brief Creates (or returns the existing) endpoint for
 * (conf->service, conf->tenant, conf->base_url). Copies conf. Owned by http.
 * The base URL must be http(s), without userinfo (credentials belong in
 * auth_headers, which are never logged), spaces or a trailing '/'.
 */
pv_endpoint_t *pv_http_endpoint(pv_http_t *http, const pv_endpoint_conf_t *conf,
                                char *errstr, size_t errstr_size);

/** @returns the endpoint for the key, or NULL. */
pv_endpoint_t *pv_http_endpoint_find(pv_http_t *http, const char *service,
                                     const char *tenant, const char *base_url);

pv_breaker_state_t pv_endpoint_breaker_state(const pv_endpoint_t *ep);
/** @returns the endpoint's base URL (its key in breaker_state). */
const char *pv_endpoint_base_url(const pv_endpoint_t *ep);
/**
 * @brief Applies a state decided elsewhere (another worker, an operator).
 * The change callback runs with local = false. open_until_ms (wall) says
 * when an OPEN breaker may go half-open; 0 = now + reset_timeout.
 */
void pv_endpoint_set_breaker(pv_endpoint_t *ep, pv_breaker_state_t state,
                             int64_t open_until_ms, const char *reason);

/** Counters of one endpoint, for metrics and tests. */
typedef struct pv_endpoint_stats {
  uint64_t requests;        /**< attempts sent on the network */
  uint64_t retries;
  uint64_t budget_refused;  /**< retries refused by the budget */
  uint64_t breaker_rejected;/**< calls failed fast by an open breaker */
  int in_flight;            /**< admitted attempts */
  int queued;               /**< waiting for admission */
} pv_endpoint_stats_t;

void pv_endpoint_stats(const pv_endpoint_t *ep, pv_endpoint_stats_t *out);

/** One endpoint as seen by pv_http_each_endpoint (borrowed strings). */
typedef struct pv_endpoint_info {
  const char *service, *tenant, *base_url;
  int max_connections;        /**< admission cap (pool size) */
  pv_breaker_state_t breaker;
  pv_endpoint_stats_t stats;
} pv_endpoint_info_t;

typedef void (*pv_http_endpoint_fn)(const pv_endpoint_info_t *info,
                                    void *arg);

/** @brief Calls fn for every endpoint of http (metrics scrapes). fn must
 *  not create or destroy endpoints. */
void pv_http_each_endpoint(pv_http_t *http, pv_http_endpoint_fn fn,
                           void *arg);

/** One attempt that went on the network, for metrics (borrowed strings). */
typedef struct pv_http_attempt {
  const char *service, *tenant;
  const char *op;            /**< the request's op, may be NULL */
  const char *method;
  long status;               /**< HTTP status, 0 if none was received */
  pv_errclass_t cls;         /**< PV_ERR_NONE for a success */
  long duration_ms;          /**< of this attempt (admission to completion) */
  int attempt;               /**< 1-based */
  bool will_retry;           /**< a retry of the request follows */
  bool budget_refused;       /**< a retry was wanted, the budget said no */
} pv_http_attempt_t;

typedef void (*pv_http_attempt_cb)(const pv_http_attempt_t *a, void *arg);

/** @brief Called after every attempt on every endpoint of http, on the loop
 *  thread, before the request's own callback. NULL removes it. */
void pv_http_set_attempt_cb(pv_http_t *http, pv_http_attempt_cb cb,
                            void *arg);

/* ---- requests ----------------------------------------------------------- */

typedef struct pv_http_request {
  const char *method;    /**< "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD" */
  /**
   * Path and query relative to the endpoint's base URL, starting with '/'.
   * Already encoded by the caller (each path parameter percent-encoded).
   */
  const char *path;
  const char *const *headers; /**< NULL-terminated "Name: value", or NULL */
  const char *body;      /**< NULL for none; copied */
  size_t body_len;
  const char *content_type; /**< for body, default "application/json" */
  long timeout_ms;       /**< per attempt, from the op's timeout class */
  int64_t deadline_ms;   /**< wall ms since epoch; 0 = none. No attempt,
                              backoff or Retry-After wait goes past it. */
  bool idempotent;       /**< may be retried after the request was sent */
  int max_attempts;      /**< 0 = the endpoint's */
  /* Log context: every log line of the request carries these. */
  const char *job_id;
  const char *op;
  const char *traceparent; /**< W3C, forwarded as a header; may be NULL */
} pv_http_request_t;

typedef struct pv_http_response {
  long status;           /**< last HTTP status, 0 if none was received */
  char reason[128];      /**< HTTP reason phrase of the last response */
  char *body;            /**< NUL-terminated, owned by the transport;
                              valid only during the callback */
  size_t body_len;
  char content_type[128];
  long long total;       /**< GenieACS `total` header, -1 if absent */
  int grpc_status;       /**< VOLTHA envoy `grpc-status`, -1 if absent */
  char grpc_message[256];
  char etag[128];        /**< NetBox ETag, "" if absent */
  int attempts;          /**< attempts sent on the network */
  long duration_ms;      /**< from pv_http_send to completion */
  pv_error_t err;        /**< PV_ERR_NONE for any final status < 400
                              that was not a retryable failure */
  int64_t retry_at_ms;   /**< wall ms: for circuit_open / rate_limited,
                              when trying again makes sense; 0 if unknown */
} pv_http_response_t;

typedef void (*pv_http_done_cb)(const pv_http_response_t *resp, void *arg);

/**
 * @brief Sends a request through ep with retries, budget and breaker.
 * Copies everything in req. cb runs once, later, on the loop thread
 * (never from inside this call).
 * @returns 0, or -1 with err set (cb will not be called).
 */
int pv_http_send(pv_endpoint_t *ep, const pv_http_request_t *req,
                 pv_http_done_cb cb, void *arg, pv_error_t *err);

/**
 * @brief Blocking wrapper for the CLI: runs a private loop and engine
 * until the response is in. The response body is copied into *body
 * (free() it). Not for use on a loop thread.
 * hconf NULL = defaults. body may be NULL (the body is then dropped).
 * @returns 0 when out->err is PV_ERR_NONE, else -1 (out->err says why;
 * out and *body are filled whenever a response arrived).
 */
int pv_http_send_sync(const pv_http_conf_t *hconf,
                      const pv_endpoint_conf_t *econf,
                      const pv_http_request_t *req, pv_http_response_t *out,
                      char **body);

#endif
