/**
 * @file classify.h
 * @brief What one attempt's outcome means: retry or not, how the breaker
 * counts it, and which wire error class it ends as if it is the last.
 *
 * The table (idempotent / non-idempotent request):
 *
 *   outcome                         retry       breaker   final class
 *   2xx, 3xx                        no / no     success   none
 *   429                             yes / yes   neutral   rate_limited
 *   503                             yes / yes   failure   http_5xx
 *   502, 504                        yes / no    failure   http_5xx
 *   other 5xx                       no / no     failure   http_5xx
 *   other 4xx                       no / no     neutral   http_4xx
 *   connect/DNS/TLS handshake       yes / yes   failure   connect
 *   TLS peer verification failed    no / no     failure   connect
 *   timeout before request sent     yes / yes   failure   connect
 *   timeout after request sent      yes / no    failure   timeout / outcome_unknown
 *   reset after request sent        yes / no    failure   connect / outcome_unknown
 *   response over the size cap      no / no     neutral   internal (or status class)
 *   local error (bad URL, OOM)      no / no     neutral   internal
 *
 * 503 and 429 are retried for non-idempotent requests too: the server says
 * it did not process the request. 502/504 come from gateways that may have
 * passed the request on, so a non-idempotent request is not resent.
 *
 * @locality any thread (pure).
 */
#ifndef PV_TRANSPORTS_CLASSIFY_H
#define PV_TRANSPORTS_CLASSIFY_H

#include "common/error.h"
#include "transports/breaker.h"

#include <curl/curl.h>
#include <stdbool.h>
#include <stdint.h>

typedef enum pv_attempt_kind {
  PV_ATT_HTTP,        /**< a complete HTTP response (status set) */
  PV_ATT_CONNECT,     /**< could not resolve/connect/handshake: never sent */
  PV_ATT_TLS_VERIFY,  /**< the peer's certificate was refused: never sent */
  PV_ATT_TIMEOUT,     /**< the attempt's timer fired */
  PV_ATT_RESET,       /**< the connection broke / closed without an answer */
  PV_ATT_TOO_LARGE,   /**< the response body passed max_response_bytes */
  PV_ATT_LOCAL        /**< our side failed (bad option, out of memory) */
} pv_attempt_kind_t;

typedef struct pv_attempt_result {
  pv_attempt_kind_t kind;
  long status;  /**< HTTP status when one was received, else 0 */
  bool sent;    /**< the request may have reached the server */
} pv_attempt_result_t;

typedef struct pv_verdict {
  bool retry;                   /**< another attempt is allowed by the rules */
  bool honour_retry_after;      /**< wait per Retry-After if present (429/503) */
  pv_breaker_outcome_t breaker; /**< how the breaker counts it */
  pv_errclass_t cls;            /**< final class if no further attempt */
} pv_verdict_t;

/**
 * @brief Maps a finished curl transfer to an attempt kind.
 * @param sent whether any request bytes went out (CURLINFO_REQUEST_SIZE > 0).
 * A timeout before anything was sent is a connect failure.
 */
pv_attempt_kind_t pv_classify_curl(CURLcode code, bool sent);

pv_verdict_t pv_classify(const pv_attempt_result_t *r, bool idempotent);

/**
 * @brief The timeout of an attempt starting at now_wall_ms:
 * min(timeout_ms, deadline_ms - now) so no attempt outlives the deadline.
 * @param deadline_ms wall ms, 0 = none.
 * @param capped out: true when the deadline, not timeout_ms, set it.
 * @returns the timeout in ms, or 0 if the deadline has already passed
 * (then no attempt may start).
 */
long pv_attempt_timeout(long timeout_ms, int64_t deadline_ms,
                        int64_t now_wall_ms, bool *capped);

#endif
