/**
 * @file worker_harness.h
 * @brief End-to-end harness: a provisiond worker on the dev stack with its
 * own topics and consumer group, so suites never see each other's jobs.
 */
#ifndef PV_TESTS_E2E_HARNESS_H
#define PV_TESTS_E2E_HARNESS_H

#include "kafka/sync.h"

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

typedef struct pv_e2e {
  char suffix[64];
  char jobs_topic[128];
  char dlq_topic[160];
  char results_topic[128];
  char group[128];
  char worker_log[512];
  const char *brokers;
  const char *pg;
  const char *config;
  int partitions;      /**< of the jobs topic, as the broker made it */
  pid_t worker;
  pv_ksync_producer_t *producer;
  char config_copy[512]; /**< set by pv_e2e_config_append */
} pv_e2e_t;

/** @brief Names topics and group after a fresh suffix and creates them. */
void pv_e2e_setup(pv_e2e_t *e, int partitions);
/** @brief Starts a worker (extra_env: "NAME=value", NULL-terminated) and
 *  waits until it owns partitions. @returns its pid. */
pid_t pv_e2e_start_worker(pv_e2e_t *e, const char *worker_id,
                          const char *const *extra_env);
void pv_e2e_teardown(pv_e2e_t *e);

/** @brief Produces a job document as msgpack (json = false) or JSON. */
void pv_e2e_produce_job(pv_e2e_t *e, const char *key, json_t *job, bool json,
                        const char *const *extra_headers);

/** @brief Collects n replies (decoded, keyed by job id) within timeout_ms.
 *  @returns an object {job_id: reply}, possibly with fewer entries. */
json_t *pv_e2e_collect_replies(pv_e2e_t *e, size_t n, int timeout_ms);

/** @returns SELECT's first column of row 0 as a new string, or NULL. */
char *pv_e2e_sql_value(pv_e2e_t *e, const char *sql, const char *param);

/** @returns GET url's body parsed as JSON (json_decref it), or NULL. */
json_t *pv_e2e_http_get_json(const char *url);

/**
 * @brief Writes a copy of the stack's config with extra_ini appended (later
 * keys override earlier ones: e.g. "[kafka]\nsession.timeout.ms = 6000\n"
 * or a tenant's voltha_url pointing at a private simulator) and makes it
 * the config of every worker started afterwards.
 */
void pv_e2e_config_append(pv_e2e_t *e, const char *extra_ini);

/**
 * @brief Starts a worker like pv_e2e_start_worker, but with its own log
 * file (<tests/logs>/e2e-<suffix>-<worker_id>.log, written to log_out) and
 * without waiting: for suites that run several workers in one group.
 * @returns its pid (never 0; the test fails if it cannot start).
 */
pid_t pv_e2e_spawn_worker(pv_e2e_t *e, const char *worker_id,
                          const char *const *extra_env, char *log_out,
                          size_t log_len);

/** @returns how many times needle occurs in the file at path (0 if absent). */
int pv_e2e_count_text(const char *path, const char *needle);

#endif
