/**
 * @file simproc.h
 * @brief Runs a private build/southbound-sim for a test and talks to its
 * admin API (/_sim/faults, /_sim/stats).
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

#endif
