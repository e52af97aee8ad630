/**
 * @file cli.h
 * @brief What provctl's subcommands share: exit codes, configuration and
 * connections with one-line errors, argument parsing helpers, table output.
 */
#ifndef PV_CLI_CLI_H
#define PV_CLI_CLI_H

#include "config/config.h"
#include "db/pg.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/** Exit codes (docs/provctl.md). */
enum {
  PV_EXIT_OK = 0,          /**< done */
  PV_EXIT_JOB = 1,         /**< the job failed, or was not found */
  PV_EXIT_USAGE = 2,       /**< usage or configuration error */
  PV_EXIT_UNREACHABLE = 3, /**< Kafka or PostgreSQL unreachable / failed */
};

/** Longest list a query returns (--limit is capped to it). */
#define PV_CLI_MAX_ROWS 100000

/** @brief The -c FILE given to provctl, or NULL for $PROVISIOND_CONFIG. */
void pv_cli_set_config_path(const char *path);
/** @returns the configuration, or NULL after printing why (exit 2). */
pv_config_t *pv_cli_load_config(void);
/** @returns a connection, or NULL after printing where it failed (exit 3). */
pv_pg_sync_t *pv_cli_db_connect(const pv_config_t *conf);
/** @returns 0 if a Kafka broker answers, else prints one line (exit 3). */
int pv_cli_kafka_check(const pv_config_t *conf);

/**
 * @brief Parses a duration such as "90s", "15m", "1h", "2d" (a bare number
 * is seconds) into seconds in [1, 10 years]. @returns 0 or -1 (printed,
 * naming opt).
 */
int pv_cli_parse_duration(const char *opt, const char *text, long long *secs);
/** @brief Parses a whole number in [min, max]. @returns 0 or -1 (printed). */
int pv_cli_parse_ll(const char *opt, const char *text, long long min,
                    long long max, long long *out);
/** @returns the operating system user name (never NULL). */
const char *pv_cli_os_user(void);
/** @returns a fresh job id "provctl-<ms>-<random hex>" (free it). */
char *pv_cli_new_job_id(void);

/** @brief Prints "provctl: <msg>\n" to stderr. */
void pv_cli_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/**
 * @brief Prints rows as a table: the header line, then each row, columns
 * padded to their widest value (capped at max_width, cut with "…" past
 * it). cells[r * ncols + c]; NULL prints "-".
 */
void pv_cli_table(FILE *out, const char *const *headers, size_t ncols,
                  const char *const *cells, size_t nrows, size_t max_width);

/**
 * @brief Reports a job id found under several tenants (job ids are unique
 * per tenant only): "job id "X" exists under 2 tenants (a, b): give
 * --tenant". tenant_col is the column of r holding the tenants.
 */
void pv_cli_err_ambiguous_id(const char *id, const pv_pg_result_t *r,
                             int tenant_col);


/* Subcommands: argc/argv start at the subcommand name. */
int pv_cmd_enqueue(int argc, char **argv);
int pv_cmd_status(int argc, char **argv);
int pv_cmd_jobs(int argc, char **argv);
int pv_cmd_dlq(int argc, char **argv);
int pv_cmd_breakers(int argc, char **argv);
int pv_cmd_breaker(int argc, char **argv);
int pv_cmd_prune(int argc, char **argv);
int pv_cmd_orders(int argc, char **argv);

#endif
