/**
 * @file loop.h
 * @brief Test harness for the clients: a private simulator, a libuv loop,
 * a pv_http_t and a pv_clients_t with one tenant pointing at the simulator;
 * jobs are run to completion synchronously.
 */
#ifndef PV_TESTS_CLIENTS_LOOP_H
#define PV_TESTS_CLIENTS_LOOP_H

#include "common/error.h"
#include "tests/support/simproc.h"
#include "transports/clients.h"

#include <jansson.h>
#include <stdbool.h>
#include <uv.h>

typedef struct cl_env {
  uv_loop_t loop;
  pv_http_t *http;
  pv_clients_t *clients;
  pv_sim_t sim;
  bool loop_ok;
} cl_env_t;

/** What running a job gave. */
typedef struct cl_outcome {
  bool done;          /**< the callback ran */
  pv_error_t err;     /**< validation, execute or callback error */
  json_t *result;     /**< owned (json_decref), NULL when none */
  int attempts;
} cl_outcome_t;

/**
 * @brief Starts a simulator (extra_args may be NULL) and the clients with
 * tenant "acme" on all three services. netbox_token NULL = the simulator's
 * default v1 token. Fails the test on error.
 */
void cl_env_start(cl_env_t *env, const char *const *sim_args,
                  const char *netbox_token);
void cl_env_stop(cl_env_t *env);

/**
 * @brief Decodes job_json (a JSON job record), validates it, executes it
 * and runs the loop until it is done (bounded: 60 s).
 */
cl_outcome_t cl_run(cl_env_t *env, const char *job_json);
/** @brief Runs n jobs at once; out[i] for jobs[i]. */
void cl_run_many(cl_env_t *env, const char *const *jobs, size_t n,
                 cl_outcome_t *out);
void cl_outcome_clear(cl_outcome_t *o);

/* ---- one op at a time against the environment last started ---------- */

/** @returns a JSON job for tenant acme with a process-unique id; args is
 *  JSON text. free() it. */
char *cl_job(const char *service, const char *op, const char *args);
/** @brief Runs service.op(args) to completion. */
cl_outcome_t cl_op(const char *service, const char *op, const char *args);
/** @brief Runs and asserts success. @returns the result (json_decref). */
json_t *cl_ok(const char *service, const char *op, const char *args);
/** @brief Runs and asserts the error class, status (0: any) and that the
 *  message contains needle (NULL: any). */
void cl_fails(const char *service, const char *op, const char *args,
              pv_errclass_t cls, int status, const char *needle);
/** @returns o[k], asserting it is a string. */
const char *cl_str(const json_t *o, const char *k);
/** @returns res.items, asserting the list shape (count == size). */
json_t *cl_items(const json_t *res);

/** @returns GET base/_sim/requests?since=N (json_decref), or NULL. */
json_t *cl_sim_requests(const char *base_url, long long since);
/** @returns the simulator's last request sequence number, or -1. */
long long cl_sim_last_seq(const char *base_url);

#endif
