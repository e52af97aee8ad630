/*
 * db/migrate: fixture migrations (and the embedded schema) applied to a
 * scratch database on $PROVISIOND_PG.
 */
#include "common/log.h"
#include "tests/support/testenv.h"
#include "tests/db/test_pg_util.h"
#include "db/migrate.h"
#include "db/pg.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pv_test_db_t db;

static void setup(void)
{
  pv_log_set_level(PV_LOG_WARN);
  pv_test_db_create(&db);
}

static void teardown(void)
{
  pv_test_db_drop(&db);
}

TestSuite(migrate, .init = setup, .fini = teardown, .timeout = 60);

#define MIG(v, n, s, c) {(v), (n), (s), sizeof(s) - 1, (c)}

static const char sql_a[] = "CREATE TABLE a (id int PRIMARY KEY);\n"
                            "-- one row, so a second run would fail\n"
                            "INSERT INTO a VALUES (1);\n";
static const char sql_b[] = "CREATE TABLE b (id int);\n"
                            "SELECT pg_sleep(0.3);\n";
static const char sql_bad[] = "CREATE TABLE c (id int);\n"
                              "\n"
                              "-- the next statement is wrong\n"
                              "INSERT INTO c VALUES (1);\n"
                              "SELEC oops;\n";

static const pv_migration_t set_ab[] = {
    MIG(1, "001_a", sql_a, "aaaa"),
    MIG(2, "002_b", sql_b, "bbbb"),
};

/* Runs a set and returns what it printed (malloc'd). */
static char *run(const pv_migration_t *set, size_t n, bool status, int *rc,
                 char *err, size_t errsz)
{
  char *text = NULL;
  size_t len = 0;
  FILE *out = open_memstream(&text, &len);
  cr_assert_not_null(out);
  err[0] = '\0';
  *rc = pv_migrate_run_set(db.conninfo, set, n, status, out, err, errsz);
  fclose(out);
  return text;
}

static long count_rows(const char *sql)
{
  return pv_test_sql_long(db.conninfo, sql);
}

Test(migrate, applies_once_then_is_idempotent)
{
  char err[512];
  int rc;
  char *out = run(set_ab, 2, false, &rc, err, sizeof(err));
  cr_assert_eq(rc, 0, "%s", err);
  cr_assert_str_eq(out, "applied 001_a\napplied 002_b\n");
  free(out);
  cr_assert_eq(count_rows("SELECT count(*) FROM schema_migrations"), 2);
  cr_assert_eq(count_rows("SELECT count(*) FROM schema_migrations WHERE "
                          "version = 2 AND name = '002_b' AND checksum = "
                          "'bbbb' AND applied_at IS NOT NULL"),
               1);

  out = run(set_ab, 2, false, &rc, err, sizeof(err));
  cr_assert_eq(rc, 0, "%s", err);
  cr_assert_str_eq(out, "already applied 001_a\nalready applied 002_b\n");
  free(out);
  cr_assert_eq(count_rows("SELECT count(*) FROM a"), 1);
}

Test(migrate, status_only_reports_and_changes_nothing)
{
  char err[512];
  int rc;
  char *out = run(set_ab, 2, true, &rc, err, sizeof(err));
  cr_assert_eq(rc, 0, "%s", err);
  cr_assert(strstr(out, "001_a") && strstr(out, "002_b"), "%s", out);
  cr_assert(strstr(out, "applied ") == NULL, "%s", out);
  cr_assert(strstr(out, "pending") != NULL, "%s", out);
  free(out);
  cr_assert_eq(count_rows("SELECT count(*) FROM pg_class WHERE relname IN "
                          "('schema_migrations', 'a')"),
               0, "status must not create or apply anything");

  out = run(set_ab, 1, false, &rc, err, sizeof(err));
  cr_assert_eq(rc, 0, "%s", err);
  free(out);
  out = run(set_ab, 2, true, &rc, err, sizeof(err));
  cr_assert_eq(rc, 0, "%s", err);
  {
    const char *l1 = strstr(out, "001_a");
    const char *l2 = strstr(out, "002_b");
    cr_assert(l1 && l2, "%s", out);
    cr_assert(strncmp(strstr(l1, "applied"), "applied", 7) == 0 &&
                  strstr(l1, "applied") < l2,
              "001 is applied:\n%s", out);
    cr_assert(strstr(l2, "pending") != NULL, "002 is pending:\n%s", out);
  }
  free(out);
}

Test(migrate, refuses_a_changed_migration)
{
  char err[512];
  int rc;
  const pv_migration_t changed[] = {
      MIG(1, "001_a", "CREATE TABLE a (id bigint PRIMARY KEY);\n", "a2a2"),
      MIG(2, "002_b", sql_b, "bbbb"),
  };
  char *out = run(set_ab, 1, false, &rc, err, sizeof(err));
  cr_assert_eq(rc, 0, "%s", err);
  free(out);
  out = run(changed, 2, false, &rc, err, sizeof(err));
  free(out);
  cr_assert_eq(rc, -1);
  cr_assert(strstr(err, "001_a.sql") != NULL, "names the file: %s", err);
  cr_assert(strstr(err, "changed") != NULL, "%s", err);
  cr_assert_eq(count_rows("SELECT count(*) FROM pg_class WHERE relname = 'b'"),
               0, "nothing applied after a refusal");
}

Test(migrate, error_names_the_file_and_line_and_rolls_back)
{
  char err[512];
  int rc;
  const pv_migration_t set[] = {
      MIG(1, "001_a", sql_a, "aaaa"),
      MIG(3, "003_bad", sql_bad, "cccc"),
  };
  char *out = run(set, 2, false, &rc, err, sizeof(err));
  cr_assert_eq(rc, -1);
  cr_assert_str_eq(out, "applied 001_a\n");
  free(out);
  cr_assert(strstr(err, "003_bad.sql") != NULL, "%s", err);
  cr_assert(strstr(err, "line 5") != NULL, "%s", err);
  cr_assert(strstr(err, "syntax error") != NULL, "%s", err);
  cr_assert(strstr(err, "42601") != NULL, "%s", err);
  cr_assert_eq(count_rows("SELECT count(*) FROM pg_class WHERE relname = 'c'"),
               0, "the failed file's first statement was rolled back");
  cr_assert_eq(count_rows("SELECT count(*) FROM schema_migrations"), 1);
}

Test(migrate, runtime_error_without_position_still_names_the_file)
{
  char err[512];
  int rc;
  const pv_migration_t set[] = {
      MIG(1, "001_a", sql_a, "aaaa"),
      MIG(2, "002_dup", "INSERT INTO a VALUES (1);\n", "dddd"),
  };
  char *out = run(set, 2, false, &rc, err, sizeof(err));
  free(out);
  cr_assert_eq(rc, -1);
  cr_assert(strstr(err, "002_dup.sql") != NULL, "%s", err);
  cr_assert(strstr(err, "23505") != NULL, "%s", err);
}

Test(migrate, line_numbers_count_characters_not_bytes)
{
  const char sql[] = "-- café ünï\nSELEC 1;\n";
  char err[512];
  int rc;
  const pv_migration_t set[] = {MIG(1, "001_utf8", sql, "eeee")};
  char *out = run(set, 1, false, &rc, err, sizeof(err));
  free(out);
  cr_assert_eq(rc, -1);
  cr_assert(strstr(err, "line 2") != NULL, "%s", err);

  cr_assert_eq(pv_migrate_line_of("a\nb\nc", 5, 1), 1);
  cr_assert_eq(pv_migrate_line_of("a\nb\nc", 5, 3), 2);
  cr_assert_eq(pv_migrate_line_of("a\nb\nc", 5, 5), 3);
  cr_assert_eq(pv_migrate_line_of("a\nb\nc", 5, 6), 0);
  cr_assert_eq(pv_migrate_line_of("é\nx", 4, 3), 2);
  cr_assert_eq(pv_migrate_line_of("a", 1, 0), 0);
}

Test(migrate, rejects_a_malformed_set)
{
  char err[512];
  int rc;
  const pv_migration_t set[] = {
      MIG(2, "002_b", sql_b, "bbbb"),
      MIG(1, "001_a", sql_a, "aaaa"),
  };
  char *out = run(set, 2, false, &rc, err, sizeof(err));
  free(out);
  cr_assert_eq(rc, -1);
  cr_assert(strstr(err, "001_a") != NULL, "%s", err);
}

Test(migrate, connection_failure_is_reported_without_password)
{
  char err[512] = "";
  int rc = pv_migrate_run_set("host=127.0.0.1 port=1 password=s3cretpw",
                              set_ab, 2, false, NULL, err, sizeof(err));
  cr_assert_eq(rc, -1);
  cr_assert(strstr(err, "port=1") != NULL, "%s", err);
  cr_assert_null(strstr(err, "s3cretpw"), "%s", err);
}

typedef struct runner {
  char *text;
  int rc;
  char err[512];
} runner_t;

static void *run_thread(void *arg)
{
  runner_t *r = arg;
  size_t len = 0;
  FILE *out = open_memstream(&r->text, &len);
  if (!out) {
    r->rc = -2;
    return NULL;
  }
  r->rc = pv_migrate_run_set(db.conninfo, set_ab, 2, false, out, r->err,
                             sizeof(r->err));
  fclose(out);
  return NULL;
}

static int occurrences(const char *hay, const char *needle)
{
  int n = 0;
  for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++) {
    if (p == hay || p[-1] == '\n')
      n++;
  }
  return n;
}

Test(migrate, two_runners_at_once_apply_each_migration_once)
{
  runner_t r[2];
  pthread_t t[2];
  memset(r, 0, sizeof(r));
  for (int i = 0; i < 2; i++)
    cr_assert_eq(pthread_create(&t[i], NULL, run_thread, &r[i]), 0);
  for (int i = 0; i < 2; i++)
    cr_assert_eq(pthread_join(t[i], NULL), 0);
  for (int i = 0; i < 2; i++)
    cr_assert_eq(r[i].rc, 0, "runner %d: %s", i, r[i].err);
  cr_assert_eq(occurrences(r[0].text, "applied 001_a") +
                   occurrences(r[1].text, "applied 001_a"),
               1, "runner outputs:\n%s---\n%s", r[0].text, r[1].text);
  cr_assert_eq(occurrences(r[0].text, "applied 002_b") +
                   occurrences(r[1].text, "applied 002_b"),
               1);
  cr_assert_eq(occurrences(r[0].text, "already applied") +
                   occurrences(r[1].text, "already applied"),
               2);
  cr_assert_eq(count_rows("SELECT count(*) FROM schema_migrations"), 2);
  free(r[0].text);
  free(r[1].text);
}

/* ---------------------------------------------------------------- */
/* The embedded schema                                               */
/* ---------------------------------------------------------------- */

static char *read_file(const char *path, size_t *len)
{
  FILE *f = fopen(path, "rb");
  char *buf;
  long n;
  cr_assert_not_null(f, "cannot open %s", path);
  cr_assert_eq(fseek(f, 0, SEEK_END), 0);
  n = ftell(f);
  cr_assert_geq(n, 0);
  rewind(f);
  buf = malloc((size_t)n + 1);
  cr_assert_not_null(buf);
  cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
  buf[n] = '\0';
  fclose(f);
  *len = (size_t)n;
  return buf;
}

Test(migrate, embedded_schema_matches_the_files)
{
  size_t n = 0;
  const pv_migration_t *m = pv_migrations(&n);
  char path[1024];
  char err[256];
  pv_pg_sync_t *s = pv_pg_sync_connect(db.conninfo, err, sizeof(err));
  cr_assert_not_null(s, "%s", err);
  cr_assert_geq(n, 1);
  cr_assert_eq(m[0].version, 1);
  cr_assert_str_eq(m[0].name, "001_init");
  for (size_t i = 0; i < n; i++) {
    size_t len;
    char *file;
    const char *params[1];
    pv_pg_result_t *r;
    if (i > 0)
      cr_assert_gt(m[i].version, m[i - 1].version);
    snprintf(path, sizeof(path), "%s/db/schema/%s.sql", pv_test_source_dir(),
             m[i].name);
    file = read_file(path, &len);
    cr_assert_eq(m[i].sql_len, len, "%s: embedded length", m[i].name);
    cr_assert(memcmp(m[i].sql, file, len) == 0, "%s: embedded bytes",
              m[i].name);
    cr_assert_eq(m[i].sql[len], '\0');
    /* The build's SHA-256, checked by an independent implementation. */
    params[0] = m[i].sql;
    r = pv_pg_sync_query(s, "SELECT encode(sha256(convert_to($1, 'UTF8')), "
                            "'hex')", 1, params);
    cr_assert(pv_pg_result_ok(r), "%s", pv_pg_result_error(r));
    cr_assert_str_eq(m[i].checksum, pv_pg_result_get(r, 0, 0), "%s",
                     m[i].name);
    pv_pg_result_free(r);
    free(file);
  }
  pv_pg_sync_close(s);
}

Test(migrate, embedded_schema_applies_cleanly)
{
  char err[512];
  char *text = NULL;
  size_t len = 0;
  FILE *out = open_memstream(&text, &len);
  int rc;
  cr_assert_not_null(out);
  rc = pv_migrate_run(db.conninfo, false, out, err, sizeof(err));
  fclose(out);
  cr_assert_eq(rc, 0, "%s", err);
  cr_assert(strstr(text, "applied 001_init\n") == text, "%s", text);
  free(text);
  text = NULL;
  out = open_memstream(&text, &len);
  rc = pv_migrate_run(db.conninfo, false, out, err, sizeof(err));
  fclose(out);
  cr_assert_eq(rc, 0, "%s", err);
  cr_assert(strstr(text, "already applied 001_init\n") == text, "%s", text);
  free(text);
}
