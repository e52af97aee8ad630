/*
 * Helpers shared by the test_pg* suites: a private scratch database per
 * test (pv_test_<pid>_<n>, dropped at the end) on the server named by
 * $PROVISIOND_PG, blocking SQL for setup and checks, and running a libuv
 * loop until a condition holds (bounded).
 */
#ifndef PV_TESTS_WORKER_TEST_PG_UTIL_H
#define PV_TESTS_WORKER_TEST_PG_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct pv_test_db {
  char name[64];
  char *conninfo; /* $PROVISIOND_PG with dbname replaced */
} pv_test_db_t;

/** @brief Creates a fresh database; fails the test if it cannot. */
void pv_test_db_create(pv_test_db_t *db);
/** @brief Drops it (WITH (FORCE)) and frees conninfo. */
void pv_test_db_drop(pv_test_db_t *db);

/** @brief Runs SQL that must succeed (simple protocol, several ok). */
void pv_test_sql(const char *conninfo, const char *sql);
/** @returns the first column of the first row, malloc'd (NULL for NULL). */
char *pv_test_sql_value(const char *conninfo, const char *sql);
long pv_test_sql_long(const char *conninfo, const char *sql);

/** @brief Runs the loop until *flag is true or timeout_ms pass.
 *  @returns the final value of *flag. */
bool pv_test_run_until(uv_loop_t *loop, const bool *flag, uint64_t timeout_ms);
/** @brief Like pv_test_run_until for a counter reaching target. */
bool pv_test_run_until_count(uv_loop_t *loop, const int *count, int target,
                             uint64_t timeout_ms);
/** @brief Runs the loop until nothing is left (closed handles freed). */
void pv_test_loop_drain(uv_loop_t *loop);

#endif
