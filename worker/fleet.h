/**
 * @file fleet.h
 * @brief Circuit breakers shared by the fleet through PostgreSQL.
 *
 * Every local breaker transition is written to breaker_state and
 * breaker_events and announced with NOTIFY (store.c). This module listens,
 * re-reads the rows named by each notification (and every row after a
 * reconnect, since NOTIFY is lost while disconnected), and applies them to
 * this worker's endpoints:
 *
 *  - another worker's "open" opens ours, until its open_until plus one
 *    reset interval: the worker that opened the breaker sends the one probe
 *    per interval; ours probes only if that worker has gone quiet;
 *  - "closed" closes ours (a probe elsewhere succeeded, or an operator);
 *  - operator states "forced_open" and "disabled" apply as they are;
 *  - "half_open" from elsewhere is not applied (one prober at a time);
 *  - rows this worker wrote itself are skipped.
 *
 * @locality the loop thread.
 */
#ifndef PV_WORKER_FLEET_H
#define PV_WORKER_FLEET_H

#include "transports/clients.h"
#include "db/pg.h"

typedef struct pv_fleet_s pv_fleet_t;

pv_fleet_t *pv_fleet_new(pv_pg_t *pg, pv_clients_t *clients,
                         const char *worker_id, int reset_timeout_ms);
/** @brief Re-reads every breaker row (call when PostgreSQL reconnects). */
void pv_fleet_resync(pv_fleet_t *fleet);
void pv_fleet_destroy(pv_fleet_t *fleet);

#endif
