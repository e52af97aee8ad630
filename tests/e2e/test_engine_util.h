/**
 * @file test_engine_util.h
 * @brief Helpers of the engine suites (tests/e2e/test_engine*.c): counting
 * replies and dead letters per key, polling job_status, the simulator's
 * request log and faults, and a worker config with extra lines.
 */
#ifndef PV_TESTS_E2E_ENGINE_UTIL_H
#define PV_TESTS_E2E_ENGINE_UTIL_H

#include "tests/e2e/worker_harness.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/** @returns the first column of row 0 as an integer (-1 for NULL). */
long long pv_te_sql_ll(pv_e2e_t *e, const char *sql, const char *param);

/** @brief Final rows (succeeded, failed, dead) whose job_id starts with
 *  prefix. */
long long pv_te_final_rows(pv_e2e_t *e, const char *prefix);

/** @brief Waits until at least n rows with prefix are final.
 *  @returns the count reached. */
long long pv_te_wait_final(pv_e2e_t *e, const char *prefix, long long n,
                           int timeout_ms);

/**
 * @brief Reads topic from the start and counts messages per key until n
 * distinct keys were seen (then 1.5 s more, for duplicates) or timeout.
 * @returns {key: count}.
 */
json_t *pv_te_count_by_key(pv_e2e_t *e, const char *topic, size_t n,
                           int timeout_ms);

/**
 * @brief Reads topic from the start (a new group) until n records arrived
 * and 1.5 s more passed without one, or timeout_ms passed.
 * @returns {key: [{"value": decoded value (absent if it does not decode),
 * "bytes": value size, "headers": {name: value|null}}, ...]}.
 */
json_t *pv_te_read_records(pv_e2e_t *e, const char *topic, size_t n,
                           int timeout_ms);
/** @returns the one record of key in records (a test failure otherwise). */
json_t *pv_te_only(json_t *records, const char *key);
/** @returns doc[a] (or doc[a][b]) as a string, or NULL. */
const char *pv_te_str_at(json_t *doc, const char *a, const char *b);
/** @returns how many records topic holds now (no consumer group). */
long long pv_te_count_records(pv_e2e_t *e, const char *topic);

/**
 * @brief Asserts that a worker (e->worker) is done with all `records` of
 * the jobs topic: the group's committed offsets cover them (waiting up to
 * 6 s), SIGTERM ends it with exit 0 within 10 s (no drain timeout waited
 * out), and a worker started next in the group (worker_id; its pid in
 * *next, for the suite's teardown) sees none of them again within 3 s of
 * its assignment.
 */
void pv_te_assert_all_done(pv_e2e_t *e, long long records,
                           const char *worker_id, pid_t *next);

/**
 * @brief Produces n voltha.health_check jobs "<prefix><i, 5 digits>" on
 * keys "key-<i % keys>", for tenant isp-east, or alternating with
 * isp-west when both_tenants.
 */
void pv_te_produce_health_checks(pv_e2e_t *e, const char *prefix, int n,
                                 int keys, bool both_tenants);

/** @returns the simulator's last request sequence number (GET /_sim/stats). */
long long pv_te_sim_last_seq(const char *base);
/** @returns every logged request after since: [{seq, method, path, query}]. */
json_t *pv_te_sim_requests(const char *base, long long since);
/** @brief PUT /_sim/faults with body, or DELETE it when body is NULL. */
void pv_te_sim_faults(const char *base, const char *body);

/** @brief Writes the stack's config plus extra (INI text) to a file named
 *  after the suite and makes it e->config. */
void pv_te_config_with(pv_e2e_t *e, char *path_buf, size_t path_len,
                       const char *extra);

/** @returns the file's contents (free() it), or NULL if it cannot be read. */
char *pv_te_slurp(const char *path);

/** @returns how many times needle occurs in the file at path. */
int pv_te_count_text(const char *path, const char *needle);
/** @returns the integer field of the first log line of event, or -1. */
long long pv_te_log_field(const char *path, const char *event,
                          const char *field);

/** @brief Sleeps ms milliseconds. */
void pv_te_sleep_ms(int ms);

#endif
