/**
 * @file client_int.h
 * @brief What the VOLTHA, GenieACS and NetBox clients share: one running
 * operation (pv_call_t), request building from the catalog, and turning
 * answers into results and errors. Private to transports/ client files.
 *
 * @locality the loop thread of the pv_http_t behind the calls.
 */
#ifndef PV_TRANSPORTS_CLIENT_INT_H
#define PV_TRANSPORTS_CLIENT_INT_H

#include "common/buf.h"
#include "common/error.h"
#include "jobs/catalog.h"
#include "transports/http.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/** Longest path + query we build (ids are capped well below this). */
#define PV_CLIENT_PATH_MAX 8192
/** Most bytes of a southbound error body quoted in an error message. */
#define PV_CLIENT_DETAIL_MAX 180

typedef struct pv_call pv_call_t;

/** Runs when one HTTP request of a call is complete. */
typedef void (*pv_call_next_fn)(pv_call_t *call,
                                const pv_http_response_t *resp);
/** Runs once when the call is over; result is stolen (may be NULL). */
typedef void (*pv_call_done_fn)(pv_call_t *call, json_t *result,
                                const pv_error_t *err);

struct pv_call {
  pv_endpoint_t *ep;
  const pv_op_t *op;
  const json_t *args;    /**< borrowed: the job's, or an order step's */
  const char *job_id;    /**< borrowed: for request logs */
  char *key;             /**< job id, or "<id>#<step>" inside an order:
                              what allocate_ip records in NetBox */
  char *traceparent;
  int64_t deadline_ms;
  int attempts;          /**< HTTP attempts so far, every request */
  int64_t retry_at_ms;

  /* Scratch state of multi-request ops (paging, lookups). */
  json_t *acc;
  int64_t offset;
  int64_t want;
  int64_t total;         /**< a list's row count as the server says, -1 */
  int pages;
  int flag;
  char *s1;
  pv_error_t saved;      /**< an error kept while a check runs */

  pv_call_next_fn next;
  pv_call_done_fn done;
  void *done_arg;
};

/** Most extra headers one request carries (GenieACS file metadata). */
#define PV_CLIENT_HEADERS_MAX 8

/** A request as the clients build it, before the transport copies it. */
typedef struct pv_client_req {
  const char *method;
  char *path;           /**< owned */
  json_t *body;         /**< owned, NULL for none */
  char *raw;            /**< owned body sent as is instead of `body` (a
                             PV_IN_RAW argument), NULL for none */
  size_t raw_len;
  const char *raw_type; /**< Content-Type of raw */
  char *headers[PV_CLIENT_HEADERS_MAX + 1]; /**< owned "Name: value" lines
                             (PV_IN_HEADER arguments), NULL-terminated */
  long timeout_ms;
  bool idempotent;
} pv_client_req_t;

void pv_client_req_clear(pv_client_req_t *req);

/**
 * @brief Sends one request of call; next runs with the answer.
 * @returns 0, or -1 with err (next will not run).
 */
int pv_call_send(pv_call_t *call, const char *method, const char *path,
                 const json_t *body, long timeout_ms, bool idempotent,
                 pv_call_next_fn next, pv_error_t *err);
/** @brief pv_call_send with a built request (which stays the caller's). */
int pv_call_send_req(pv_call_t *call, const pv_client_req_t *req,
                     pv_call_next_fn next, pv_error_t *err);
/** @brief Ends the call with a result (stolen). Frees the call. */
void pv_call_succeed(pv_call_t *call, json_t *result);
/** @brief Ends the call with an error. Frees the call. */
void pv_call_fail(pv_call_t *call, const pv_error_t *err);
/** @brief Ends the call with the error of a failed answer. */
void pv_call_fail_resp(pv_call_t *call, const pv_http_response_t *resp);
/** @brief Sends and, if sending fails, ends the call with that error. */
void pv_call_send_or_fail(pv_call_t *call, const char *method,
                          const char *path, const json_t *body,
                          long timeout_ms, bool idempotent,
                          pv_call_next_fn next);

/* ---- building requests (pure) ------------------------------------------ */

/**
 * @brief Appends s percent-encoded: every byte outside [A-Za-z0-9_-] becomes
 * %XX. Stricter than encodeURIComponent on purpose: '.', '~', '!' and the
 * like are encoded too, so no id can form a "." or ".." segment that curl
 * or a proxy would normalise away, and every server decodes %XX back to
 * the same character. @returns 0, or -1 past the buffer's cap.
 */
int pv_client_pct_append(pv_buf_t *b, const char *s, size_t len);

/** @brief Appends "?k=v" or "&k=v" (v percent-encoded). */
int pv_client_query_append(pv_buf_t *b, const char *key, const char *value);

/**
 * @brief Path of op's main request: the template with every {arg}
 * replaced by its percent-encoded value, then every PV_IN_QUERY argument
 * present in args. @returns 0, or -1 with err.
 */
int pv_client_build_path(const pv_op_t *op, const json_t *args, pv_buf_t *out,
                         pv_error_t *err);

/**
 * @brief Body of op's main request: every PV_IN_BODY argument under its
 * wire name (a dotted name nests: "flow_mod.priority"), defaults filled
 * in, every PV_IN_PATH argument that has a wire name, then op->body merged
 * over it. @returns a new object, or NULL if op has none of these.
 */
json_t *pv_client_build_body(const pv_op_t *op, const json_t *args);

/** @brief Main request of a simple op (path, body or raw body, headers,
 *  timeout, idempotent). */
int pv_client_build_req(const pv_op_t *op, const json_t *args,
                        pv_client_req_t *req, pv_error_t *err);

/* ---- answers (pure) ----------------------------------------------------- */

/**
 * @brief Whether an answer is a success: no transport error, a 2xx status
 * and (VOLTHA) no grpc-status error. @returns false with err otherwise.
 */
bool pv_client_resp_ok(const char *service, const pv_http_response_t *resp,
                       pv_error_t *err);

/** @returns the body parsed as JSON, or NULL (empty or not JSON). */
json_t *pv_client_parse_body(const pv_http_response_t *resp);

/**
 * @brief A short, single-line detail from an error body: NetBox's
 * `detail`, field errors as "field: msg; ...", or the text itself
 * (VOLTHA and GenieACS answer errors in plain text); control characters
 * dropped, at most PV_CLIENT_DETAIL_MAX bytes.
 */
void pv_client_body_detail(const char *body, size_t len, char *out,
                           size_t size);

/**
 * @brief The error of a failed answer: the transport's class, the HTTP
 * status and "<service> <status> <reason>: <detail>".
 */
void pv_client_resp_error(const char *service, const pv_http_response_t *resp,
                          pv_error_t *err);

/**
 * @brief An answer that the transport deemed fine but the service did not:
 * VOLTHA behind envoy answers HTTP 200 with `grpc-status` != 0.
 * @returns true and err if the answer is an error.
 */
bool pv_client_grpc_error(const pv_http_response_t *resp, pv_error_t *err);

/** @returns the HTTP-like status for a gRPC code (NOT_FOUND -> 404...). */
int pv_client_grpc_http_status(int grpc_status);

/**
 * @brief Normalises a successful answer by op->norm (object, list, action,
 * delete). @returns a new object, or NULL with err (unexpected shape).
 */
json_t *pv_client_normalise(const pv_op_t *op, const pv_http_response_t *resp,
                            pv_error_t *err);

/**
 * @brief A 404 on a delete that was sent more than once: an earlier attempt
 * may well have deleted it, so the goal state holds.
 * @returns {"deleted":true,"already_absent":true}, or NULL if not so.
 */
/**
 * @brief The answer to a one-request op, as every client reads it: a
 * delete of something already gone is success, an error status becomes
 * the classified error, anything else is normalised by the op's kind.
 * @returns a new reference, or NULL with err set.
 */
json_t *pv_client_simple_result(const char *service, const pv_op_t *op,
                                const pv_http_response_t *resp,
                                pv_error_t *err);

json_t *pv_client_delete_absent(const pv_op_t *op,
                                const pv_http_response_t *resp);

/** @returns args[name] as a string or NULL. */
const char *pv_client_arg_str(const json_t *args, const char *name);
/** @returns args[name] as an integer, or dflt if absent. */
int64_t pv_client_arg_int(const json_t *args, const char *name, int64_t dflt);
/** @returns args[name] as a bool, or dflt if absent. */
bool pv_client_arg_bool(const json_t *args, const char *name, bool dflt);

/* ---- per-service entry points ------------------------------------------ */

/** @brief Starts call->op. @returns 0, or -1 with err (no callback). */
int pv_voltha_start(pv_call_t *call, pv_error_t *err);
int pv_genieacs_start(pv_call_t *call, pv_error_t *err);
int pv_netbox_start(pv_call_t *call, pv_error_t *err);

#endif
