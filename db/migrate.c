/*
 * Schema migrations over the blocking half of db/pg.h. See migrate.h
 * for the rules; the order of operations here is what makes concurrent
 * runners safe:
 *   1. take the advisory lock (the second runner waits here);
 *   2. create schema_migrations if absent (under the lock: two concurrent
 *      CREATE TABLE IF NOT EXISTS can otherwise collide in pg_type);
 *   3. read what is applied and refuse on any checksum change;
 *   4. apply each pending file: BEGIN; file; INSERT row; COMMIT.
 */
#include "db/migrate.h"

#include "common/alloc.h"
#include "common/clock.h"
#include "common/log.h"
#include "db/pg.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Waiting longer than this for another runner means it is stuck. */
#define LOCK_WAIT "300s"

typedef struct applied {
  int version;
  char name[128];
  char checksum[80];
  char applied_at[64];
  bool known; /* present in the set */
} applied_t;

static const char *nz(const char *s)
{
  return s ? s : "";
}

int pv_migrate_line_of(const char *sql, size_t sql_len, int position)
{
  int chars = 0;
  int line = 1;

  if (!sql || position <= 0)
    return 0;
  for (size_t i = 0; i < sql_len; i++) {
    unsigned char c = (unsigned char)sql[i];
    if ((c & 0xC0) == 0x80)
      continue; /* UTF-8 continuation byte: same character */
    if (++chars == position)
      return line;
    if (c == '\n')
      line++;
  }
  return 0;
}

static int check_set(const pv_migration_t *set, size_t count, char *errstr,
                     size_t errstr_size)
{
  for (size_t i = 0; i < count; i++) {
    const pv_migration_t *m = &set[i];
    const char *name = m->name ? m->name : "(unnamed)";
    if (!m->name || !*m->name || !m->sql || !m->checksum) {
      snprintf(errstr, errstr_size,
               "migration %s: name, sql and checksum are required", name);
      return -1;
    }
    if (m->version <= 0 || (i > 0 && m->version <= set[i - 1].version)) {
      snprintf(errstr, errstr_size,
               "migration %s: version %d is not greater than the previous "
               "one (versions must be positive and strictly increasing)",
               name, m->version);
      return -1;
    }
    if (strlen(m->sql) != m->sql_len) {
      snprintf(errstr, errstr_size, "migration %s: file contains a NUL byte",
               name);
      return -1;
    }
  }
  return 0;
}

/* Runs a statement that must succeed; on failure writes errstr. */
static int must(pv_pg_sync_t *db, const char *sql, int nparams,
                const char *const *params, const char *what, char *errstr,
                size_t errstr_size)
{
  pv_pg_result_t *r = pv_pg_sync_query(db, sql, nparams, params);
  int rc = 0;
  if (!pv_pg_result_ok(r)) {
    snprintf(errstr, errstr_size, "migrate: %s failed: %s%s%s%s", what,
             pv_pg_result_error(r), *pv_pg_result_sqlstate(r) ? " (SQLSTATE " : "",
             pv_pg_result_sqlstate(r), *pv_pg_result_sqlstate(r) ? ")" : "");
    rc = -1;
  }
  pv_pg_result_free(r);
  return rc;
}

/* Reads schema_migrations. @returns the count, or -1 with errstr set. */
static int read_applied(pv_pg_sync_t *db, bool table_may_be_missing,
                        applied_t **out, char *errstr, size_t errstr_size)
{
  pv_pg_result_t *r = NULL;
  applied_t *rows = NULL;
  int n = -1;

  *out = NULL;
  if (table_may_be_missing) {
    r = pv_pg_sync_query(
        db, "SELECT to_regclass('schema_migrations') IS NOT NULL", 0, NULL);
    if (!pv_pg_result_ok(r)) {
      snprintf(errstr, errstr_size,
               "migrate: cannot look for schema_migrations: %s",
               pv_pg_result_error(r));
      goto out;
    }
    if (strcmp(pv_pg_result_get(r, 0, 0) ? pv_pg_result_get(r, 0, 0) : "f",
               "t") != 0) {
      n = 0;
      goto out;
    }
    pv_pg_result_free(r);
  }
  r = pv_pg_sync_query(db,
                       "SELECT version, coalesce(name, ''), "
                       "coalesce(checksum, ''), "
                       "to_char(applied_at AT TIME ZONE 'UTC', "
                       "'YYYY-MM-DD HH24:MI:SS') || 'Z' "
                       "FROM schema_migrations ORDER BY version",
                       0, NULL);
  if (!pv_pg_result_ok(r)) {
    snprintf(errstr, errstr_size, "migrate: cannot read schema_migrations: %s",
             pv_pg_result_error(r));
    goto out;
  }
  n = pv_pg_result_ntuples(r);
  rows = n > 0 ? pv_calloc((size_t)n, sizeof(*rows)) : NULL;
  for (int i = 0; i < n; i++) {
    const char *v = pv_pg_result_get(r, i, 0);
    const char *at = pv_pg_result_get(r, i, 3);
    rows[i].version = v ? (int)strtol(v, NULL, 10) : 0;
    snprintf(rows[i].name, sizeof(rows[i].name), "%s",
             nz(pv_pg_result_get(r, i, 1)));
    snprintf(rows[i].checksum, sizeof(rows[i].checksum), "%s",
             nz(pv_pg_result_get(r, i, 2)));
    snprintf(rows[i].applied_at, sizeof(rows[i].applied_at), "%s", nz(at));
  }
  *out = rows;
  rows = NULL;
out:
  free(rows);
  pv_pg_result_free(r);
  return n;
}

static applied_t *find_applied(applied_t *rows, int n, int version)
{
  for (int i = 0; i < n; i++)
    if (rows[i].version == version)
      return &rows[i];
  return NULL;
}

static void print_status(FILE *out, const pv_migration_t *set, size_t count,
                         applied_t *rows, int n)
{
  if (!out)
    return;
  fprintf(out, "%-8s %-32s %-8s %s\n", "version", "name", "state",
          "applied_at");
  for (size_t i = 0; i < count; i++) {
    applied_t *a = find_applied(rows, n, set[i].version);
    const char *state = "pending";
    if (a) {
      a->known = true;
      state = strcmp(a->checksum, set[i].checksum) == 0 ? "applied"
                                                        : "CHANGED";
    }
    fprintf(out, "%03d      %-32s %-8s %s\n", set[i].version, set[i].name, state,
            a ? a->applied_at : "");
  }
  for (int i = 0; i < n; i++)
    if (!rows[i].known)
      fprintf(out, "%03d      %-32s %-8s %s\n", rows[i].version, rows[i].name,
              "unknown", rows[i].applied_at);
}

/* Applies one migration in its own transaction. */
static int apply_one(pv_pg_sync_t *db, const pv_migration_t *m, char *errstr,
                     size_t errstr_size)
{
  pv_pg_result_t *r = NULL;
  char version[16];
  const char *params[3];
  int rc = -1;

  if (must(db, "BEGIN", 0, NULL, "BEGIN", errstr, errstr_size) != 0)
    return -1;
  r = pv_pg_sync_exec(db, m->sql);
  if (!pv_pg_result_ok(r)) {
    int line = pv_migrate_line_of(m->sql, m->sql_len,
                                  pv_pg_result_error_position(r));
    char where[32] = "";
    if (line > 0)
      snprintf(where, sizeof(where), " at line %d", line);
    snprintf(errstr, errstr_size,
             "migration %s.sql failed%s: %s (SQLSTATE %s); nothing of it "
             "was applied",
             m->name, where, pv_pg_result_error(r),
             *pv_pg_result_sqlstate(r) ? pv_pg_result_sqlstate(r) : "none");
    goto fail;
  }
  snprintf(version, sizeof(version), "%d", m->version);
  params[0] = version;
  params[1] = m->name;
  params[2] = m->checksum;
  if (must(db,
           "INSERT INTO schema_migrations (version, name, checksum) "
           "VALUES ($1, $2, $3)",
           3, params, "recording the migration", errstr, errstr_size) != 0)
    goto fail;
  if (must(db, "COMMIT", 0, NULL, "COMMIT", errstr, errstr_size) != 0)
    goto fail;
  rc = 0;
  goto out;
fail:
  {
    /* Leave the session usable (and the error text as it is). */
    pv_pg_result_t *rb = pv_pg_sync_exec(db, "ROLLBACK");
    pv_pg_result_free(rb);
  }
out:
  pv_pg_result_free(r);
  return rc;
}

int pv_migrate_run_set(const char *conninfo, const pv_migration_t *set,
                       size_t count, bool status_only, FILE *out,
                       char *errstr, size_t errstr_size)
{
  pv_pg_sync_t *db = NULL;
  applied_t *rows = NULL;
  const char *lock_param[1] = {PV_MIGRATE_LOCK_KEY};
  int nrows;
  int rc = -1;
  size_t applied_now = 0;

  if (check_set(set, count, errstr, errstr_size) != 0)
    return -1;
  db = pv_pg_sync_connect(conninfo, errstr, errstr_size);
  if (!db)
    return -1;

  if (status_only) {
    nrows = read_applied(db, true, &rows, errstr, errstr_size);
    if (nrows < 0)
      goto out;
    print_status(out, set, count, rows, nrows);
    rc = 0;
    goto out;
  }

  if (must(db, "SET lock_timeout = '" LOCK_WAIT "'", 0, NULL,
           "setting lock_timeout", errstr, errstr_size) != 0 ||
      must(db, "SELECT pg_advisory_lock($1::bigint)", 1, lock_param,
           "waiting for the migration lock (another runner holding it "
           "for over " LOCK_WAIT "?)",
           errstr, errstr_size) != 0 ||
      must(db, "RESET lock_timeout", 0, NULL, "resetting lock_timeout",
           errstr, errstr_size) != 0)
    goto out;
  if (must(db,
           "CREATE TABLE IF NOT EXISTS schema_migrations ("
           "version int PRIMARY KEY, name text, checksum text, "
           "applied_at timestamptz DEFAULT now())",
           0, NULL, "creating schema_migrations", errstr, errstr_size) != 0)
    goto unlock;
  nrows = read_applied(db, false, &rows, errstr, errstr_size);
  if (nrows < 0)
    goto unlock;

  /* Refuse before touching anything if history was rewritten. */
  for (size_t i = 0; i < count; i++) {
    applied_t *a = find_applied(rows, nrows, set[i].version);
    if (a && strcmp(a->checksum, set[i].checksum) != 0) {
      snprintf(errstr, errstr_size,
               "migration %s.sql was changed after it was applied "
               "(checksum %.12s... in the database, %.12s... in this "
               "binary): restore the file and put the change in a new "
               "migration",
               set[i].name, a->checksum, set[i].checksum);
      goto unlock;
    }
  }

  for (size_t i = 0; i < count; i++) {
    const pv_migration_t *m = &set[i];
    uint64_t t0;
    if (find_applied(rows, nrows, m->version)) {
      if (out)
        fprintf(out, "already applied %s\n", m->name);
      continue;
    }
    t0 = pv_clock_mono_ms();
    if (apply_one(db, m, errstr, errstr_size) != 0) {
      pv_log(PV_LOG_ERROR, "migrate.failed", PV_S("migration", m->name),
             PV_S("error", errstr));
      goto unlock;
    }
    applied_now++;
    pv_log(PV_LOG_INFO, "migrate.applied", PV_S("migration", m->name),
           PV_I("version", m->version),
           PV_I("duration_ms", pv_clock_mono_ms() - t0));
    if (out)
      fprintf(out, "applied %s\n", m->name);
  }
  for (int i = 0; i < nrows; i++) {
    bool known = false;
    for (size_t j = 0; j < count; j++)
      if (set[j].version == rows[i].version)
        known = true;
    if (!known && out)
      fprintf(out, "unknown %d %s (applied, not in this binary: newer "
              "schema?)\n", rows[i].version, rows[i].name);
  }
  rc = 0;

unlock:
  {
    /* Closing the session would release it too; unlock explicitly so a
     * pooled or long-lived session never keeps it. */
    pv_pg_result_t *r = pv_pg_sync_query(
        db, "SELECT pg_advisory_unlock($1::bigint)", 1, lock_param);
    pv_pg_result_free(r);
  }
out:
  if (rc == 0)
    pv_log(PV_LOG_INFO, "migrate.done", PV_I("applied", applied_now),
           PV_I("known", count), PV_B("status_only", status_only));
  free(rows);
  pv_pg_sync_close(db);
  return rc;
}

int pv_migrate_run(const char *conninfo, bool status_only, FILE *out,
                   char *errstr, size_t errstr_size)
{
  size_t n = 0;
  const pv_migration_t *set = pv_migrations(&n);
  return pv_migrate_run_set(conninfo, set, n, status_only, out, errstr,
                            errstr_size);
}
