/**
 * @file clients.h
 * @brief Executes catalog operations for tenants: the VOLTHA, GenieACS and
 * NetBox clients behind one entry point.
 *
 * A job names a tenant, a service, an op and args; it can never name a URL,
 * host or path. The tenant's configured endpoints and credentials decide
 * where requests go.
 *
 * @locality the loop thread of the pv_http_t given to pv_clients_new().
 */
#ifndef PV_TRANSPORTS_CLIENTS_H
#define PV_TRANSPORTS_CLIENTS_H

#include "jobs/job.h"
#include "transports/http.h"

#include <jansson.h>

/** One tenant's systems. A NULL url means the tenant lacks that service. */
typedef struct pv_tenant_conf {
  const char *name;
  const char *voltha_url;
  const char *genieacs_url;
  const char *netbox_url;
  const char *netbox_token;   /**< the secret itself (already read from its
                                   env var or file); never logged */
  /** Per-service settings; fields left 0 take the defaults. */
  pv_endpoint_conf_t endpoint; /**< service/tenant/base_url/auth ignored */
} pv_tenant_conf_t;

typedef struct pv_clients_s pv_clients_t;

/** @brief Copies the tenant table. @returns NULL with errstr on bad conf. */
pv_clients_t *pv_clients_new(pv_http_t *http, const pv_tenant_conf_t *tenants,
                             size_t n_tenants, char *errstr,
                             size_t errstr_size);
void pv_clients_destroy(pv_clients_t *clients);

typedef struct pv_exec_result {
  json_t *result;       /**< normalised answer (borrowed; incref to keep),
                             NULL on error -- except for the `order` op,
                             whose result ({steps, completed, count}) is
                             set on error too: it records the steps run */
  pv_error_t err;       /**< PV_ERR_NONE on success */
  int attempts;         /**< HTTP attempts sent, all requests of the op */
  int64_t retry_at_ms;  /**< for circuit_open / rate_limited: wall ms when a
                             later try makes sense, 0 if unknown */
} pv_exec_result_t;

typedef void (*pv_exec_done_cb)(const pv_exec_result_t *res, void *arg);

/** Per-execution context that does not come from the job itself. */
typedef struct pv_exec_ctx {
  const char *traceparent; /**< forwarded southbound; may be NULL */
  int64_t deadline_ms;     /**< effective deadline (wall ms), 0 = none */
} pv_exec_ctx_t;

/**
 * @brief Runs job's op (every request it needs) for job->tenant.
 * The job must have passed pv_job_validate() and stay alive until cb.
 * cb runs once, later, on the loop thread.
 * @returns 0, or -1 with err (e.g. unknown_tenant); cb then never runs.
 */
int pv_clients_execute(pv_clients_t *clients, const pv_job_t *job,
                       const pv_exec_ctx_t *ctx, pv_exec_done_cb cb, void *arg,
                       pv_error_t *err);

/** @returns the endpoint used for (tenant, service), or NULL. */
pv_endpoint_t *pv_clients_endpoint(pv_clients_t *clients, const char *tenant,
                                   const char *service);

#endif
