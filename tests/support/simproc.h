/**
 * @file simproc.h
 * @brief Runs a private build/southbound-sim for a test and talks to its
 * admin API (/_sim/faults, /_sim/stats, and the time of docs/simulator.md:
 * ONU discovery, activation stages, CPE informs, the clock).
 *
 * Each test that injects faults starts its own simulator on free ports
 * (port 0), so suites never disturb each other or the dev stack.
 */
#ifndef PV_TESTS_SIMPROC_H
#define PV_TESTS_SIMPROC_H

#include <jansson.h>
#include <sys/types.h>

typedef struct pv_sim {
  pid_t pid;
  char voltha_url[128];   /**< e.g. "http://127.0.0.1:41234" */
  char genieacs_url[128];
  char netbox_url[128];
} pv_sim_t;

/**
 * @brief Starts $PV_BUILD_DIR/southbound-sim with every port 0 plus
 * extra_args (NULL-terminated; may be NULL), waits for its "READY" line and
 * fills the URLs. @returns 0, or -1 (the test should fail).
 */
int pv_sim_start(pv_sim_t *sim, const char *const *extra_args);
/** @brief SIGTERM, then waits; SIGKILL after 5 s. Safe on a zeroed sim.
 *  Writes a line to stderr when the simulator did not exit with status 0
 *  (e.g. a sanitizer report in an ASan build). */
void pv_sim_stop(pv_sim_t *sim);
/**
 * @brief Like pv_sim_stop, but @returns the simulator's exit status: 0 for
 * a clean exit, the status it exited with, or -1 when it had to be killed
 * or died from a signal. Tests that want a clean shutdown assert 0.
 */
int pv_sim_stop_status(pv_sim_t *sim);

/** @brief PUT {base_url}/_sim/faults with the JSON body. @returns HTTP status. */
long pv_sim_set_fault(const char *base_url, const char *json);
/** @brief DELETE {base_url}/_sim/faults. @returns HTTP status. */
long pv_sim_clear_faults(const char *base_url);
/** @returns GET {base_url}/_sim/stats parsed (json_decref it), or NULL. */
json_t *pv_sim_stats(const char *base_url);
/** @returns stats[key] as an integer (e.g. "requests"), or -1. */
long long pv_sim_stat(const char *base_url, const char *key);

/**
 * @brief One admin call: method on {base_url}{path} with an optional JSON
 * body. *out (may be NULL) gets the parsed answer (json_decref it; NULL
 * when the body is not JSON). @returns the HTTP status, or -1.
 */
long pv_sim_admin(const char *base_url, const char *method, const char *path,
                  const char *json, json_t **out);

/* ---- time (docs/simulator.md "Time") ---- */

/**
 * @brief Announces an ONU with serial to appear under olt (its device id or
 * serial, e.g. "EC1800000001") after after_ms on the simulator's clock:
 * PREPROVISIONED/DISCOVERED, or with enabled ENABLED and activating by
 * itself. POST {voltha_url}/_sim/discover. @returns the HTTP status (200).
 */
long pv_sim_onu_announce(const char *voltha_url, const char *olt,
                         const char *serial, long long after_ms, int enabled);
/**
 * @brief Sets how long ONU activation takes, through its stages
 * (PUT {voltha_url}/_sim/activation): for the ONU with serial, or for all
 * when serial is NULL. duration_ms 0 is instant; < 0 goes back to the
 * default (one step after --activate-delay-ms). @returns the HTTP status.
 */
long pv_sim_onu_activation(const char *voltha_url, const char *serial,
                           long long duration_ms);
/**
 * @brief Sets how a CPE answers connection requests and when it informs
 * (PUT {genieacs_url}/_sim/session). mode is "online", "offline", "busy" or
 * NULL (unchanged); inform_after_ms >= 0: the device informs that long
 * after a task is queued for it, < 0: it never informs by itself. device
 * is the raw id (single %). @returns the HTTP status.
 */
long pv_sim_cpe_session(const char *genieacs_url, const char *device,
                        const char *mode, long long inform_after_ms);
/** @brief The CPE informs now and runs its queued tasks
 *  (POST {genieacs_url}/_sim/inform). @returns the HTTP status. */
long pv_sim_cpe_inform(const char *genieacs_url, const char *device);
/** @brief Test-only: moves the simulator's clock forward, so everything
 *  scheduled within ms happens at the next request (every listener of
 *  that simulator). @returns the HTTP status. */
long pv_sim_clock_advance(const char *base_url, long long ms);

#endif
