/**
 * @file error.h
 * @brief The error classes of the wire contract (docs/messages.md) and the
 * error value every module returns them in.
 *
 * Library codes (CURLcode, HTTP status, PQresultStatus, rd_kafka_resp_err_t)
 * are translated into these once, at the module that wraps the library.
 */
#ifndef PV_COMMON_ERROR_H
#define PV_COMMON_ERROR_H

#include <stdbool.h>

typedef enum pv_errclass {
  PV_ERR_NONE = 0,
  PV_ERR_INVALID_JOB,       /**< undecodable or malformed record */
  PV_ERR_UNKNOWN_TENANT,    /**< tenant not configured, or lacks service */
  PV_ERR_UNKNOWN_OP,        /**< service/op not in the catalog */
  PV_ERR_BAD_ARGS,          /**< args fail the op's schema */
  PV_ERR_HTTP_4XX,          /**< definite, permanent southbound refusal */
  PV_ERR_HTTP_5XX,          /**< server error after retries */
  PV_ERR_TIMEOUT,           /**< attempt timed out (idempotent op) */
  PV_ERR_CONNECT,           /**< could not connect / resolve */
  PV_ERR_CIRCUIT_OPEN,      /**< breaker open: no request was sent */
  PV_ERR_RATE_LIMITED,      /**< 429 and Retry-After beyond what we wait */
  PV_ERR_DEADLINE_EXCEEDED, /**< the job's deadline passed */
  PV_ERR_OUTCOME_UNKNOWN,   /**< non-idempotent request may have landed */
  PV_ERR_INTERNAL,          /**< a bug or local resource failure */
  PV_ERR_REPLY_UNDELIVERABLE, /**< Kafka refused the reply for good (only in
                                   the stub sent instead; the job's own
                                   outcome is unchanged) */
  PV_ERR__COUNT
} pv_errclass_t;

/** Longest message an error carries (bounded: it goes on the wire). */
#define PV_ERROR_MSG_MAX 256

typedef struct pv_error {
  pv_errclass_t cls;
  int http_status; /**< 0 when no HTTP status applies */
  char message[PV_ERROR_MSG_MAX];
} pv_error_t;

/** @returns the wire name ("bad_args", ...), "none" for PV_ERR_NONE. */
const char *pv_errclass_name(pv_errclass_t cls);
/** @returns the class for a wire name, or -1 if unknown. */
int pv_errclass_parse(const char *name);

/** @brief Sets all fields of err. The message is made one printable line
 *  of UTF-8 whatever the arguments hold (control characters become spaces,
 *  bytes that start no character '?'), and is cut to fit between
 *  characters. */
void pv_error_set(pv_error_t *err, pv_errclass_t cls, int http_status,
                  const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void pv_error_clear(pv_error_t *err);

/**
 * @brief Whether a job that ended with this class is dead-lettered
 * (needs an operator) rather than failed (a definite answer).
 */
bool pv_errclass_is_dead(pv_errclass_t cls);

/**
 * @brief Whether the class means "the service was not available" rather
 * than "the request was wrong" (circuit_open, rate_limited, connect,
 * timeout, http_5xx): a job that ends so is parked and run again later,
 * and an order's failure policy never applies to it.
 */
bool pv_errclass_is_transient(pv_errclass_t cls);

#endif
