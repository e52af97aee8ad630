/**
 * @file genieacs.h
 * @brief GenieACS NBI request building and answer shapes (pure, tested on
 * their own). The entry point is pv_genieacs_start() in client_int.h.
 */
#ifndef PV_TRANSPORTS_GENIEACS_H
#define PV_TRANSPORTS_GENIEACS_H

#include "common/buf.h"
#include "common/error.h"
#include "jobs/catalog.h"
#include "transports/client_int.h"
#include "transports/http.h"

#include <jansson.h>

/**
 * @brief Collection query path of the GET and HEAD ops (list_*, get_device,
 * health_check, count_devices): `query` (the raw device id in it, then the
 * whole JSON URL-encoded), `projection`, `sort`, `skip`, `limit` (none for
 * a HEAD).
 * @returns 0, or -1 with err.
 */
int pv_genieacs_query_path(const pv_op_t *op, const json_t *args,
                           pv_buf_t *out, pv_error_t *err);

/**
 * @brief POST /devices/<encodeURIComponent(id)>/tasks[?connection_request
 * [&timeout=ms]] with {"name":task, ...}; the attempt timeout is 150 s
 * (at least timeout_ms + 130 s) with a connection request, 30 s without.
 */
int pv_genieacs_task_req(const pv_op_t *op, const json_t *args,
                         pv_client_req_t *req, pv_error_t *err);

/** @brief {"executed","queued"[,"reason"],"task"} from a task answer. */
json_t *pv_genieacs_task_result(const pv_http_response_t *resp);

#endif
