/**
 * @file genieacs.h
 * @brief Internal to the simulator's GenieACS NBI: the model shared by
 * genieacs.c (collections, tasks, the REST API) and genieacs_inform.c
 * (how CPEs answer connection requests and when they inform: sessions over
 * time, and their admin API).
 *
 * @locality every function runs with the GenieACS listener's model mutex
 * held (a handler or an admin call), so none of them locks.
 */
#ifndef PV_SIM_GENIEACS_H
#define PV_SIM_GENIEACS_H

#include "dev/sim/sim.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/** The reason phrase of a task whose connection request reached a busy
 *  CPE that did not run it in time (lib/nbi.ts). */
#define SIM_GENIE_NOT_PROCESSED "Task queued but not processed"

typedef struct genie {
  sim_inventory_t inv;
  uint64_t rng;
  uint32_t task_counter;
  json_t *colls;   /* collection name -> array of docs */
  json_t *devidx;  /* device id -> device doc (borrowed from colls) */
  json_t *offline; /* device id -> connection-request error text */
  /* Sessions over time (genieacs_inform.c). */
  json_t *busy;         /* device id -> true: reached, but runs nothing now */
  json_t *inform_after; /* device id -> ms from a queued task to its inform */
  long long inform_default; /* the same for every other device; -1: never */
  json_t *inform_due;   /* device id -> simulator clock ms of its inform */
  uint64_t inform_next; /* no inform is due before (never later than the
                           earliest one, so a quiet tick is one compare) */
} genie_t;

/* ---- genieacs.c ---- */

/** @returns the doc of collection name whose _id is id, or NULL. */
json_t *sim_genie_find(genie_t *g, const char *name, const char *id);
/**
 * @brief Runs a task against the device's parameter tree.
 * @returns NULL, or the CWMP fault as "code|message" (static).
 */
const char *sim_genie_execute(json_t *dev, const json_t *task,
                              const char *ts);
/** @brief Stores the fault <devid>:task_<tid> of a task that faulted. */
void sim_genie_task_fault(genie_t *g, const char *devid, const char *tid,
                          const char *fault, const char *ts);

/* ---- genieacs_inform.c ---- */

/** @brief A task was queued for devid (or a busy device was reached): its
 *  next inform is scheduled, if it informs at all. */
void sim_genie_queued(genie_t *g, const char *devid);
/** @brief Runs every inform due by now on the simulator's clock. */
void sim_genie_tick(genie_t *g);
/** @brief Forgets devid's session settings (it is being deleted). */
void sim_genie_forget(genie_t *g, const char *devid);
/** @brief The admin paths /_sim/offline, /_sim/session, /_sim/inform.
 *  @returns false when the path is not one of them. */
bool sim_genie_admin(genie_t *g, const sim_req_t *req, sim_resp_t *resp);

#endif
