/**
 * @file migrate.h
 * @brief Schema migrations: the numbered files db/schema/NNN_name.sql,
 * embedded into the binary at build time (db/schema/CMakeLists.txt), applied
 * in order, once, each in its own transaction.
 *
 * Rules for migration files: never edit one that may have been applied
 * anywhere (the checksum check refuses it: add a new file instead); no
 * BEGIN/COMMIT inside (the runner wraps each file in a transaction with
 * its schema_migrations row); no statements that cannot run in a
 * transaction block (CREATE INDEX CONCURRENTLY, VACUUM).
 *
 * Bookkeeping table (created if absent):
 *   schema_migrations (version int primary key, name text, checksum text,
 *                      applied_at timestamptz default now())
 * Two runners starting at once serialise on a PostgreSQL advisory lock
 * (key PV_MIGRATE_LOCK_KEY): the second waits, then finds everything
 * applied.
 *
 * @locality any thread; blocking (never call it on the event loop).
 */
#ifndef PV_DB_MIGRATE_H
#define PV_DB_MIGRATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/** pg_advisory_lock key ("pvmigrat" as a big-endian int8). */
#define PV_MIGRATE_LOCK_KEY "8103784878974329204"

typedef struct pv_migration {
  int version;          /**< NNN of the file name, > 0 */
  const char *name;     /**< file name without ".sql", e.g. "001_init" */
  const char *sql;      /**< the file's bytes, NUL-terminated */
  size_t sql_len;       /**< bytes, without the NUL */
  const char *checksum; /**< lowercase hex SHA-256 of the file's bytes */
} pv_migration_t;

/**
 * @brief The migrations embedded in this binary, in version order.
 * Defined in the C file generated from the db/schema/NNN_name.sql files at build time.
 * @param n receives the count.
 */
const pv_migration_t *pv_migrations(size_t *n);

/**
 * @brief Applies the embedded migrations (pv_migrate_run_set with
 * pv_migrations()). What `provisiond --migrate` and `provctl migrate
 * [--status]` call.
 */
int pv_migrate_run(const char *conninfo, bool status_only, FILE *out,
                   char *errstr, size_t errstr_size);

/**
 * @brief Applies a set of migrations (tests pass their own).
 *
 * Refuses, before applying anything, if an applied migration's checksum
 * differs from the set's. Then applies every pending migration in order,
 * each in its own transaction together with its schema_migrations row, and
 * stops at the first failure (earlier ones stay applied).
 *
 * @param set migrations with strictly increasing versions.
 * @param status_only print a table of applied/pending and change nothing
 *        (not even the bookkeeping table).
 * @param out where to print one line per migration ("applied 001_init",
 *        "already applied 001_init") or the status table; NULL for none.
 * @returns 0, or -1 with errstr naming the migration file, PostgreSQL's
 *          message and SQLSTATE, and the line in the file when the server
 *          gave an error position.
 */
int pv_migrate_run_set(const char *conninfo, const pv_migration_t *set,
                       size_t count, bool status_only, FILE *out,
                       char *errstr, size_t errstr_size);

/**
 * @brief Line (1-based) of the character at a 1-based PostgreSQL error
 * position (counted in characters, UTF-8) within sql. 0 if out of range.
 */
int pv_migrate_line_of(const char *sql, size_t sql_len, int position);

#endif
