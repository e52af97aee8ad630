#include "tests/db/test_pg_util.h"

#include "common/alloc.h"
#include "common/buf.h"
#include "tests/support/testenv.h"

#include <criterion/criterion.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void quiet(void *arg, const char *message)
{
  (void)arg;
  (void)message; /* "database ... does not exist, skipping" and the like */
}

static PGconn *connect_or_fail(const char *conninfo)
{
  PGconn *c = PQconnectdb(conninfo);
  if (PQstatus(c) == CONNECTION_OK)
    PQsetNoticeProcessor(c, quiet, NULL);
  if (PQstatus(c) != CONNECTION_OK) {
    char msg[512];
    snprintf(msg, sizeof(msg), "%s", PQerrorMessage(c));
    PQfinish(c);
    cr_assert_fail("cannot connect to the test server: %s", msg);
  }
  return c;
}

/* $PROVISIOND_PG with dbname replaced, as a key=value string. */
static char *with_dbname(const char *conninfo, const char *dbname)
{
  char *err = NULL;
  PQconninfoOption *opts = PQconninfoParse(conninfo, &err);
  pv_buf_t b;
  char *out;
  cr_assert_not_null(opts, "PROVISIOND_PG does not parse: %s", err ? err : "");
  pv_buf_init(&b, 8192);
  for (PQconninfoOption *o = opts; o->keyword; o++) {
    if (!o->val || strcmp(o->keyword, "dbname") == 0)
      continue;
    pv_buf_appendf(&b, "%s='", o->keyword);
    for (const char *p = o->val; *p; p++) {
      if (*p == '\'' || *p == '\\')
        pv_buf_append(&b, "\\", 1);
      pv_buf_append(&b, p, 1);
    }
    pv_buf_append(&b, "' ", 2);
  }
  pv_buf_appendf(&b, "dbname='%s'", dbname);
  PQconninfoFree(opts);
  out = pv_buf_steal(&b, NULL);
  cr_assert_not_null(out);
  return out;
}

void pv_test_db_create(pv_test_db_t *db)
{
  static int n;
  const char *admin = pv_test_require_env("PROVISIOND_PG");
  char sql[128];
  snprintf(db->name, sizeof(db->name), "pv_test_%ld_%d", (long)getpid(), ++n);
  snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)",
           db->name);
  pv_test_sql(admin, sql);
  snprintf(sql, sizeof(sql), "CREATE DATABASE %s", db->name);
  pv_test_sql(admin, sql);
  db->conninfo = with_dbname(admin, db->name);
}

void pv_test_db_drop(pv_test_db_t *db)
{
  char sql[128];
  if (!db->conninfo)
    return;
  snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)",
           db->name);
  pv_test_sql(getenv("PROVISIOND_PG"), sql);
  free(db->conninfo);
  db->conninfo = NULL;
}

void pv_test_sql(const char *conninfo, const char *sql)
{
  PGconn *c = connect_or_fail(conninfo);
  PGresult *r = PQexec(c, sql);
  ExecStatusType st = PQresultStatus(r);
  char msg[512];
  snprintf(msg, sizeof(msg), "%s", PQresultErrorMessage(r));
  PQclear(r);
  PQfinish(c);
  cr_assert(st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK,
            "setup SQL failed: %s: %s", sql, msg);
}

char *pv_test_sql_value(const char *conninfo, const char *sql)
{
  PGconn *c = connect_or_fail(conninfo);
  PGresult *r = PQexec(c, sql);
  char *v = NULL;
  char msg[512];
  bool ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0;
  snprintf(msg, sizeof(msg), "%s", PQresultErrorMessage(r));
  if (ok && !PQgetisnull(r, 0, 0))
    v = pv_strdup(PQgetvalue(r, 0, 0));
  PQclear(r);
  PQfinish(c);
  cr_assert(ok, "query failed: %s: %s", sql, msg);
  return v;
}

long pv_test_sql_long(const char *conninfo, const char *sql)
{
  char *v = pv_test_sql_value(conninfo, sql);
  long n;
  cr_assert_not_null(v, "NULL from %s", sql);
  n = strtol(v, NULL, 10);
  free(v);
  return n;
}

static void on_deadline(uv_timer_t *t)
{
  *(bool *)t->data = true;
}

static bool run_until(uv_loop_t *loop, const bool *flag, const int *count,
                      int target, uint64_t timeout_ms)
{
  uv_timer_t t;
  bool expired = false;
  uv_timer_init(loop, &t);
  t.data = &expired;
  /* The loop's clock is cached since it last ran (a suite's setup may
   * have spent a second creating a database): "timeout_ms from now". */
  uv_update_time(loop);
  uv_timer_start(&t, on_deadline, timeout_ms, 0);
  while (!expired && !(flag ? *flag : *count >= target))
    uv_run(loop, UV_RUN_ONCE);
  uv_close((uv_handle_t *)&t, NULL);
  uv_run(loop, UV_RUN_NOWAIT); /* lets the close finish */
  return flag ? *flag : *count >= target;
}

bool pv_test_run_until(uv_loop_t *loop, const bool *flag, uint64_t timeout_ms)
{
  return run_until(loop, flag, NULL, 0, timeout_ms);
}

bool pv_test_run_until_count(uv_loop_t *loop, const int *count, int target,
                             uint64_t timeout_ms)
{
  return run_until(loop, NULL, count, target, timeout_ms);
}

void pv_test_loop_drain(uv_loop_t *loop)
{
  for (int i = 0; i < 100 && uv_run(loop, UV_RUN_NOWAIT) != 0; i++)
    ;
}
