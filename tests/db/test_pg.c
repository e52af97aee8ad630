/*
 * db/pg: the asynchronous PostgreSQL layer against a real server
 * ($PROVISIOND_PG), each test in its own scratch database.
 */
#include "common/log.h"
#include "db/pg.h"
#include "db/store.h"
#include "tests/db/test_pg_util.h"
#include "worker/fleet.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uv_loop_t loop;
static pv_test_db_t db;
static pv_pg_t *pg;

/* Everything a test's callbacks saw. */
#define MAXQ 12000
typedef struct seen {
  int calls[MAXQ];       /* callbacks per query index */
  int order[MAXQ];       /* query index of the n-th callback */
  int ncalls;
  bool ok[MAXQ];
  bool lost[MAXQ];
  char sqlstate[MAXQ][6];
  char first_value[64];
} seen_t;
static seen_t *seen;

static void setup(void)
{
  pv_log_set_level(PV_LOG_WARN);
  cr_assert_eq(uv_loop_init(&loop), 0);
  pv_test_db_create(&db);
  pv_test_sql(db.conninfo,
              "CREATE TABLE kv (k int PRIMARY KEY, v text, n int DEFAULT 1)");
  seen = calloc(1, sizeof(*seen));
  cr_assert_not_null(seen);
  pg = NULL;
}

static void teardown(void)
{
  pv_pg_destroy(pg);
  pg = NULL;
  pv_test_loop_drain(&loop);
  cr_expect_eq(uv_loop_close(&loop), 0, "handles left open on the loop");
  pv_test_db_drop(&db);
  free(seen);
}

TestSuite(pg, .init = setup, .fini = teardown, .timeout = 60);

static void record(const pv_pg_result_t *res, void *arg)
{
  int i = (int)(intptr_t)arg;
  const char *v;
  cr_assert(i >= 0 && i < MAXQ);
  seen->calls[i]++;
  seen->order[seen->ncalls++] = i;
  seen->ok[i] = pv_pg_result_ok(res);
  seen->lost[i] = pv_pg_result_connection_lost(res);
  snprintf(seen->sqlstate[i], sizeof(seen->sqlstate[i]), "%s",
           pv_pg_result_sqlstate(res));
  v = pv_pg_result_get(res, 0, 0);
  if (i == 0 && v)
    snprintf(seen->first_value, sizeof(seen->first_value), "%s", v);
}

static void connect_pg(void)
{
  char err[256] = "";
  bool up = false;
  pg = pv_pg_new(&loop, db.conninfo, err, sizeof(err));
  cr_assert_not_null(pg, "pv_pg_new: %s", err);
  for (int i = 0; i < 100 && !pv_pg_connected(pg); i++) {
    pv_test_run_until(&loop, &up, 50);
  }
  cr_assert(pv_pg_connected(pg), "did not connect to %s", db.name);
}

static int upsert(int k, const char *v, unsigned flags, int idx)
{
  char key[16];
  const char *params[2] = {key, v};
  snprintf(key, sizeof(key), "%d", k);
  return pv_pg_query_ex(pg,
                        "INSERT INTO kv (k, v) VALUES ($1, $2) "
                        "ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v, "
                        "n = kv.n + 1",
                        2, params, flags, record, (void *)(intptr_t)idx);
}

Test(pg, ten_thousand_pipelined_inserts_each_callback_once_in_order)
{
  const int n = 10000;
  pv_pg_stats_t st;
  connect_pg();
  for (int i = 0; i < n; i++)
    cr_assert_eq(upsert(i, "x", 0, i), PV_PG_OK);
  cr_assert_eq(pv_pg_queue_depth(pg), (size_t)n);
  cr_assert(pv_test_run_until_count(&loop, &seen->ncalls, n, 30000),
            "only %d of %d callbacks", seen->ncalls, n);
  pv_test_run_until(&loop, &(bool){false}, 50); /* no late extra calls */
  cr_assert_eq(seen->ncalls, n);
  for (int i = 0; i < n; i++) {
    cr_assert_eq(seen->calls[i], 1, "query %d: %d callbacks", i, seen->calls[i]);
    cr_assert_eq(seen->order[i], i, "callback %d was for query %d", i,
                 seen->order[i]);
    cr_assert(seen->ok[i], "query %d failed: %s", i, seen->sqlstate[i]);
  }
  cr_assert_eq(pv_test_sql_long(db.conninfo, "SELECT count(*) FROM kv"), n);
  pv_pg_stats(pg, &st);
  cr_assert_eq(st.queries_ok, (uint64_t)n);
  cr_assert_eq(st.queue_depth, 0);
  cr_assert_eq(st.latency_count, (uint64_t)n);
  /* Behaviour, not speed: the statements really were batched. */
  cr_assert_gt(st.batch_max, 1);
  cr_assert_lt(st.batches, (uint64_t)n);
  cr_assert_eq(st.batch_statements, (uint64_t)n);
}

Test(pg, results_params_nulls_and_columns)
{
  const char *params[3] = {"42", NULL, "héllo"};
  connect_pg();
  cr_assert_eq(pv_pg_query(pg, "SELECT $1::int + 1 AS sum, $2::text AS nothing, "
                               "$3::text AS word",
                           3, params, record, (void *)0),
               PV_PG_OK);
  /* The copy is the module's: overwrite the caller's strings now. */
  params[0] = "999";
  cr_assert(pv_test_run_until_count(&loop, &seen->ncalls, 1, 5000));
  cr_assert(seen->ok[0]);
  cr_assert_str_eq(seen->first_value, "43");
}

static int field_checks;
static void check_fields(const pv_pg_result_t *res, void *arg)
{
  (void)arg;
  cr_assert(pv_pg_result_ok(res), "%s", pv_pg_result_error(res));
  cr_assert_eq(pv_pg_result_ntuples(res), 2);
  cr_assert_eq(pv_pg_result_nfields(res), 2);
  cr_assert_str_eq(pv_pg_result_field(res, "k", 1), "2");
  cr_assert_null(pv_pg_result_field(res, "v", 1), "SQL NULL is NULL");
  cr_assert_str_eq(pv_pg_result_field(res, "v", 0), "one");
  cr_assert_null(pv_pg_result_field(res, "nope", 0));
  cr_assert_null(pv_pg_result_get(res, 5, 0), "out of range is NULL");
  cr_assert_str_eq(pv_pg_result_sqlstate(res), "");
  cr_assert_str_eq(pv_pg_result_error(res), "");
  field_checks++;
}

static long affected;
static void check_affected(const pv_pg_result_t *res, void *arg)
{
  (void)arg;
  affected = pv_pg_result_affected(res);
  field_checks++;
}

Test(pg, field_access_by_name_and_rows_affected)
{
  field_checks = 0;
  pv_test_sql(db.conninfo, "INSERT INTO kv VALUES (1, 'one'), (2, NULL)");
  connect_pg();
  cr_assert_eq(pv_pg_query(pg, "SELECT k, v FROM kv ORDER BY k", 0, NULL,
                           check_fields, NULL), 0);
  cr_assert_eq(pv_pg_query(pg, "UPDATE kv SET n = 5", 0, NULL,
                           check_affected, NULL), 0);
  cr_assert(pv_test_run_until_count(&loop, &field_checks, 2, 5000));
  cr_assert_eq(affected, 2);
}

Test(pg, failing_statements_do_not_fail_their_neighbours)
{
  /* One loop iteration, so all of it goes out as one batch. */
  connect_pg();
  cr_assert_eq(upsert(1, "a", 0, 0), 0);
  cr_assert_eq(upsert(2, "b", 0, 1), 0);
  cr_assert_eq(pv_pg_query(pg, "SELECT 1 / 0", 0, NULL, record, (void *)2), 0);
  cr_assert_eq(upsert(3, "c", 0, 3), 0);
  cr_assert_eq(pv_pg_query(pg, "SELEC 1", 0, NULL, record, (void *)4), 0);
  cr_assert_eq(upsert(4, "d", 0, 5), 0);
  cr_assert_eq(pv_pg_query(pg, "INSERT INTO kv (k) VALUES (1)", 0, NULL,
                           record, (void *)6), 0);
  cr_assert_eq(upsert(5, "e", 0, 7), 0);
  cr_assert(pv_test_run_until_count(&loop, &seen->ncalls, 8, 10000),
            "%d callbacks", seen->ncalls);
  pv_test_run_until(&loop, &(bool){false}, 50);
  cr_assert_eq(seen->ncalls, 8);
  for (int i = 0; i < 8; i++)
    cr_assert_eq(seen->calls[i], 1, "query %d: %d callbacks", i, seen->calls[i]);
  cr_assert_str_eq(seen->sqlstate[2], "22012"); /* division_by_zero */
  cr_assert_str_eq(seen->sqlstate[4], "42601"); /* syntax_error */
  cr_assert_str_eq(seen->sqlstate[6], "23505"); /* unique_violation */
  for (int i = 0; i < 8; i++)
    if (i != 2 && i != 4 && i != 6)
      cr_assert(seen->ok[i], "neighbour %d failed: %s", i, seen->sqlstate[i]);
  /* Rows written before and after the failures are committed. */
  cr_assert_eq(pv_test_sql_long(db.conninfo, "SELECT count(*) FROM kv"), 5);
  cr_assert_eq(pv_test_sql_long(db.conninfo, "SELECT max(n) FROM kv"), 1,
               "a retried neighbour ran twice");
}

static char err_text[256];
static int err_pos;
static void keep_error(const pv_pg_result_t *res, void *arg)
{
  (void)arg;
  snprintf(err_text, sizeof(err_text), "%s", pv_pg_result_error(res));
  err_pos = pv_pg_result_error_position(res);
  seen->ncalls++;
}

Test(pg, statement_error_has_message_and_position)
{
  connect_pg();
  cr_assert_eq(pv_pg_query(pg, "SELECT nosuchcolumn FROM kv", 0, NULL,
                           keep_error, NULL), 0);
  cr_assert(pv_test_run_until_count(&loop, &seen->ncalls, 1, 5000));
  cr_assert(strstr(err_text, "nosuchcolumn") != NULL, "error: %s", err_text);
  cr_assert_eq(err_pos, 8);
  cr_assert_null(strchr(err_text, '\n'));
}

Test(pg, one_sync_per_statement_mode)
{
  pv_pg_stats_t st;
  connect_pg();
  pv_pg_set_max_batch(pg, 1);
  for (int i = 0; i < 200; i++)
    cr_assert_eq(i == 100 ? pv_pg_query(pg, "SELECT 1/0", 0, NULL, record,
                                        (void *)(intptr_t)i)
                          : upsert(i, "x", 0, i),
                 0);
  cr_assert(pv_test_run_until_count(&loop, &seen->ncalls, 200, 20000));
  for (int i = 0; i < 200; i++) {
    cr_assert_eq(seen->order[i], i, "isolated batches complete in order");
    cr_assert_eq(seen->ok[i], i != 100);
  }
  pv_pg_stats(pg, &st);
  cr_assert_eq(st.batch_max, 1);
  cr_assert_eq(st.queries_resent, 0, "nothing to re-send with one per batch");
  cr_assert_eq(pv_test_sql_long(db.conninfo, "SELECT count(*) FROM kv"), 199);
}

Test(pg, more_distinct_statements_than_the_cache_holds)
{
  const int n = PV_PG_STMT_CACHE_MAX + 100;
  char sql[64];
  connect_pg();
  for (int i = 0; i < n; i++) {
    snprintf(sql, sizeof(sql), "SELECT %d AS c%d", i, i);
    cr_assert_eq(pv_pg_query(pg, sql, 0, NULL, record, (void *)(intptr_t)i), 0);
  }
  cr_assert(pv_test_run_until_count(&loop, &seen->ncalls, n, 20000));
  for (int i = 0; i < n; i++)
    cr_assert(seen->ok[i], "query %d: %s", i, seen->sqlstate[i]);
}

/* pv_ prepared statements of the handle's own session. */
static long prepared_count(int idx)
{
  int before = seen->ncalls;
  cr_assert_eq(pv_pg_query(pg,
                           "SELECT count(*) FROM pg_prepared_statements "
                           "WHERE name LIKE 'pv\\_%'",
                           0, NULL, record, (void *)(intptr_t)idx), 0);
  cr_assert(pv_test_run_until_count(&loop, &seen->ncalls, before + 1, 5000));
  cr_assert(seen->ok[idx], "%s", seen->sqlstate[idx]);
  return idx == 0 ? strtol(seen->first_value, NULL, 10) : -1;
}

Test(pg, prepared_statement_survives_a_table_change)
{
  const char *sql = "SELECT * FROM kv";
  connect_pg();
  cr_assert_eq(pv_pg_query(pg, sql, 0, NULL, record, (void *)0), 0);
  cr_assert(pv_test_run_until_count(&loop, &seen->ncalls, 1, 5000));
  cr_assert(seen->ok[0]);
  /* The cached plan's result type is now wrong (SQLSTATE 0A000). */
  pv_test_sql(db.conninfo, "ALTER TABLE kv ADD COLUMN extra int");
  cr_assert_eq(pv_pg_query(pg, sql, 0, NULL, record, (void *)1), 0);
  cr_assert(pv_test_run_until_count(&loop, &seen->ncalls, 2, 5000));
  cr_assert(seen->ok[1], "after ALTER: %s", seen->sqlstate[1]);
  /* The statement with the stale plan is gone from the server too (the
   * DEALLOCATE rides with the next batch): the query's new name and the
   * counting query remain. */
  prepared_count(0); /* its DEALLOCATE rides at the end of this batch */
  cr_assert_eq(prepared_count(0), 2, "the stale statement was deallocated");
}

Test(pg, replanned_statements_are_deallocated)
{
  /* Replans at 1,000, then 2,000 and 4,000 more uses: three names
   * replaced. The server must hold two statements at the end (the last
   * name of the query and the counting query itself), not five. Chunks of
   * one full batch each: a DEALLOCATE must ride in a batch that goes out
   * anyway, never cost one of its own. */
  const int chunk = PV_PG_DEFAULT_MAX_BATCH;
  const int chunks = (1000 + 2000 + 4000) / chunk + 2;
  connect_pg();
  pv_pg_stats_t st0, st1;
  pv_pg_stats(pg, &st0);
  for (int c = 0; c < chunks; c++) {
    for (int i = 0; i < chunk; i++) {
      char v[16];
      const char *params[1] = {v};
      snprintf(v, sizeof(v), "%d", c * chunk + i);
      cr_assert_eq(pv_pg_query(pg, "SELECT $1::int", 1, params, record,
                               (void *)(intptr_t)(1 + i % 100)), 0);
    }
    cr_assert(pv_test_run_until_count(&loop, &seen->ncalls, (c + 1) * chunk,
                                      10000));
  }
  pv_pg_stats(pg, &st1);
  cr_assert_eq(st1.batches - st0.batches, (uint64_t)chunks,
               "%llu batches for %d full batches of queries",
               (unsigned long long)(st1.batches - st0.batches), chunks);
  prepared_count(0); /* a DEALLOCATE still queued rides with this one */
  cr_assert_eq(prepared_count(0), 2, "statements replaced by a re-plan "
               "must be deallocated (pg_prepared_statements grew)");
}

Test(pg, deadlock_and_serialization_failures_are_retried)
{
  pv_pg_stats_t st;
  /* flaky() fails with 40P01 on its first call only (sequences are not
   * rolled back); doomed() always fails with 40001. */
  pv_test_sql(db.conninfo,
              "CREATE SEQUENCE s;"
              "CREATE FUNCTION flaky() RETURNS int LANGUAGE plpgsql AS $$ "
              "BEGIN IF nextval('s') = 1 THEN RAISE EXCEPTION 'simulated' "
              "USING ERRCODE = '40P01'; END IF; RETURN 7; END $$;"
              "CREATE FUNCTION doomed() RETURNS int LANGUAGE plpgsql AS $$ "
              "BEGIN RAISE EXCEPTION 'simulated' USING ERRCODE = '40001'; "
              "END $$;");
  connect_pg();
  cr_assert_eq(pv_pg_query(pg, "SELECT flaky()", 0, NULL, record, (void *)0),
               0);
  cr_assert_eq(pv_pg_query(pg, "SELECT doomed()", 0, NULL, record, (void *)1),
               0);
  cr_assert_eq(upsert(1, "a", 0, 2), 0);
  cr_assert(pv_test_run_until_count(&loop, &seen->ncalls, 3, 10000));
  pv_test_run_until(&loop, &(bool){false}, 50);
  cr_assert_eq(seen->ncalls, 3);
  cr_assert(seen->ok[0], "transient failure retried: %s", seen->sqlstate[0]);
  cr_assert_str_eq(seen->first_value, "7");
  cr_assert(!seen->ok[1]);
  cr_assert_str_eq(seen->sqlstate[1], "40001");
  cr_assert(seen->ok[2]);
  pv_pg_stats(pg, &st);
  /* flaky once; doomed once as an aborted neighbour, then 3 times for
   * itself; the upsert once (aborted neighbour). */
  cr_assert_eq(st.queries_resent, 6);
  cr_assert_eq(pv_test_sql_long(db.conninfo, "SELECT count(*) FROM kv"), 1);
}

/* ---------------------------------------------------------------- */
/* NOTIFY and connection loss                                        */
/* ---------------------------------------------------------------- */

static int notifies;
static char last_payload[128];
static char last_channel[64];
static void on_notify(const char *channel, const char *payload, void *arg)
{
  (void)arg;
  snprintf(last_channel, sizeof(last_channel), "%s", channel);
  snprintf(last_payload, sizeof(last_payload), "%s", payload);
  notifies++;
}

Test(pg, notify_is_delivered)
{
  notifies = 0;
  connect_pg();
  cr_assert_eq(pv_pg_listen(pg, "bad name", on_notify, NULL), PV_PG_EINVAL);
  cr_assert_eq(pv_pg_listen(pg, "pv_Breaker", on_notify, NULL), 0);
  /* Let LISTEN commit before notifying. */
  cr_assert_eq(pv_pg_query(pg, "SELECT 1", 0, NULL, record, (void *)0), 0);
  cr_assert(pv_test_run_until_count(&loop, &seen->ncalls, 1, 5000));
  pv_test_sql(db.conninfo, "SELECT pg_notify('pv_Breaker', 'voltha/t1')");
  cr_assert(pv_test_run_until_count(&loop, &notifies, 1, 5000));
  cr_assert_str_eq(last_channel, "pv_Breaker");
  cr_assert_str_eq(last_payload, "voltha/t1");
}

static uint64_t queries_answered(void)
{
  pv_pg_stats_t st;
  pv_pg_stats(pg, &st);
  return st.queries_ok + st.queries_failed + st.queries_lost;
}

static void settle(int ms)
{
  bool never = false;
  pv_test_run_until(&loop, &never, (uint64_t)ms);
}

Test(pg, unlisten_stops_delivery_even_to_a_fleet_that_is_gone)
{
  notifies = 0;
  connect_pg();
  int a = 1;
  cr_assert_eq(pv_pg_listen(pg, "pv_unl", on_notify, &a), 0);
  cr_assert_eq(pv_pg_query(pg, "SELECT 1", 0, NULL, record, (void *)0), 0);
  cr_assert(pv_test_run_until_count(&loop, &seen->ncalls, 1, 5000));
  pv_test_sql(db.conninfo, "SELECT pg_notify('pv_unl', 'one')");
  cr_assert(pv_test_run_until_count(&loop, &notifies, 1, 5000));
  pv_pg_unlisten(pg, "pv_unl", on_notify, &a);
  pv_test_sql(db.conninfo, "SELECT pg_notify('pv_unl', 'two')");
  settle(300);
  cr_assert_eq(notifies, 1, "no delivery after unlisten");

  /* The fleet listens for breaker changes; once destroyed, a notification
   * must not reach it (it would read rows through a freed struct). The
   * scratch database has no breaker_state: its reads fail, harmlessly. */
  pv_fleet_t *f = pv_fleet_new(pg, NULL, "w-unl", 1000);
  uint64_t before = queries_answered();
  cr_assert(pv_test_run_until_count(&loop, &seen->ncalls, 1, 5000));
  settle(300); /* LISTEN and the first read are answered */
  cr_assert_gt(queries_answered(), before, "the fleet read its rows");
  pv_fleet_destroy(f);
  before = queries_answered();
  pv_test_sql(db.conninfo,
              "SELECT pg_notify('" PV_STORE_BREAKER_CHANNEL "', "
              "'{\"service\":\"voltha\",\"tenant\":\"t\"}')");
  settle(500);
  cr_assert_eq(queries_answered(), before,
               "a destroyed fleet re-read rows on a notification");
}

static int ups, downs;
static char down_why[256];
static void on_state(bool connected, const char *why, void *arg)
{
  (void)arg;
  if (connected) {
    ups++;
  } else {
    downs++;
    snprintf(down_why, sizeof(down_why), "%s", why);
  }
}

static int backend_pid(void)
{
  pv_pg_stats_t st;
  pv_pg_stats(pg, &st);
  return st.backend_pid;
}

static void terminate_backend(int pid)
{
  char sql[96];
  snprintf(sql, sizeof(sql), "SELECT pg_terminate_backend(%d)", pid);
  pv_test_sql(db.conninfo, sql);
}

static void kill_cb(uv_timer_t *t)
{
  terminate_backend(*(int *)t->data);
}

Test(pg, reconnects_after_backend_is_killed)
{
  pv_pg_stats_t st;
  uv_timer_t killer;
  int pid;

  ups = downs = notifies = 0;
  connect_pg();
  pv_pg_set_state_cb(pg, on_state, NULL);
  cr_assert_eq(pv_pg_listen(pg, "pv_wake", on_notify, NULL), 0);
  pid = backend_pid();
  cr_assert_gt(pid, 0);

  /* One batch in flight while the backend dies: a long query, an
   * idempotent upsert flagged PV_PG_RETRY, and a plain one. */
  cr_assert_eq(pv_pg_query(pg, "SELECT pg_sleep(5)", 0, NULL, record,
                           (void *)0), 0);
  cr_assert_eq(upsert(1, "retried", PV_PG_RETRY, 1), 0);
  cr_assert_eq(upsert(2, "unknown", 0, 2), 0);
  uv_timer_init(&loop, &killer);
  killer.data = &pid;
  uv_timer_start(&killer, kill_cb, 300, 0);
  cr_assert(pv_test_run_until_count(&loop, &downs, 1, 10000), "no disconnect");
  uv_close((uv_handle_t *)&killer, NULL);
  cr_assert(!pv_pg_connected(pg));
  cr_assert(strstr(down_why, "password") == NULL);

  /* Queued while down: must complete after the reconnect. */
  for (int i = 10; i < 110; i++)
    cr_assert_eq(upsert(i, "later", 0, i), 0);
  cr_assert(pv_test_run_until_count(&loop, &seen->ncalls, 103, 15000),
            "%d callbacks", seen->ncalls);
  cr_assert_eq(ups, 1);
  cr_assert(pv_pg_connected(pg));
  cr_assert_neq(backend_pid(), pid);

  cr_assert(seen->lost[0] && !seen->ok[0], "in-flight query reports lost");
  cr_assert_str_eq(seen->sqlstate[0], "08006");
  cr_assert(seen->lost[2] && !seen->ok[2], "may-have-run write reports lost");
  cr_assert(seen->ok[1], "PV_PG_RETRY write re-sent after reconnect");
  for (int i = 10; i < 110; i++)
    cr_assert(seen->ok[i] && seen->calls[i] == 1, "queued query %d", i);
  cr_assert_eq(pv_test_sql_long(db.conninfo,
                                "SELECT count(*) FROM kv WHERE k >= 10"), 100);
  cr_assert_eq(pv_test_sql_long(db.conninfo,
                                "SELECT count(*) FROM kv WHERE k = 1"), 1);

  /* LISTEN was re-issued on the new connection. */
  cr_assert_eq(pv_pg_query(pg, "SELECT 1", 0, NULL, record, (void *)200), 0);
  cr_assert(pv_test_run_until_count(&loop, &seen->ncalls, 104, 5000));
  pv_test_sql(db.conninfo, "SELECT pg_notify('pv_wake', 'again')");
  cr_assert(pv_test_run_until_count(&loop, &notifies, 1, 5000));
  cr_assert_str_eq(last_payload, "again");

  pv_pg_stats(pg, &st);
  cr_assert_eq(st.reconnects, 1);
  cr_assert_eq(st.connects, 2);
  cr_assert_eq(st.queries_lost, 2);
}

Test(pg, idle_connection_killed_is_noticed_and_remade)
{
  int pid;
  ups = downs = 0;
  connect_pg();
  pv_pg_set_state_cb(pg, on_state, NULL);
  pid = backend_pid();
  terminate_backend(pid);
  cr_assert(pv_test_run_until_count(&loop, &downs, 1, 5000),
            "loss of an idle connection not noticed");
  cr_assert(pv_test_run_until_count(&loop, &ups, 1, 5000), "no reconnect");
  cr_assert_neq(backend_pid(), pid);
  cr_assert_eq(pv_pg_query(pg, "SELECT 1", 0, NULL, record, (void *)0), 0);
  cr_assert(pv_test_run_until_count(&loop, &seen->ncalls, 1, 5000));
  cr_assert(seen->ok[0]);
}

Test(pg, large_statements_are_flushed_under_backpressure)
{
  /* 32 MiB of parameters while the server reads nothing (the first upsert
   * waits for a table lock held here), so the socket fills whatever the
   * speed of this process: PQflush must say "not yet", and the writable
   * path must finish the job once the lock is released. */
  const int n = 512;
  const size_t len = 64 * 1024;
  pv_pg_stats_t st;
  char err[256];
  pv_pg_result_t *r;
  pv_pg_sync_t *locker;
  char *big = malloc(len + 1);
  cr_assert_not_null(big);
  memset(big, 'z', len);
  big[len] = '\0';
  connect_pg();
  locker = pv_pg_sync_connect(db.conninfo, err, sizeof(err));
  cr_assert_not_null(locker, "%s", err);
  r = pv_pg_sync_exec(locker, "BEGIN; LOCK TABLE kv IN ACCESS EXCLUSIVE MODE");
  cr_assert(pv_pg_result_ok(r), "%s", pv_pg_result_error(r));
  pv_pg_result_free(r);

  for (int i = 0; i < n; i++)
    cr_assert_eq(upsert(i, big, 0, i), 0);
  free(big); /* the module holds its own copies */
  pv_pg_stats(pg, &st);
  for (int i = 0; i < 400 && st.write_stalls == 0; i++) {
    pv_test_run_until(&loop, &(bool){false}, 25);
    pv_pg_stats(pg, &st);
  }
  cr_assert_gt(st.write_stalls, 0, "the socket never filled");
  cr_assert_eq(seen->ncalls, 0);
  r = pv_pg_sync_exec(locker, "COMMIT");
  pv_pg_result_free(r);
  pv_pg_sync_close(locker);

  cr_assert(pv_test_run_until_count(&loop, &seen->ncalls, n, 30000),
            "%d of %d", seen->ncalls, n);
  for (int i = 0; i < n; i++)
    cr_assert(seen->ok[i] && seen->order[i] == i, "query %d", i);
  cr_assert_eq(pv_test_sql_long(db.conninfo,
                                "SELECT sum(length(v)) FROM kv"),
               (long)n * (long)len);
}

/* A stream of PV_PG_RETRY upserts with the backend killed midway: no write
 * is lost and none is reported lost. The first 300 go to kv2 and complete;
 * the rest wait for a lock on kv held by `locker`, so the kill surely lands
 * with batches in flight; the lock goes once the loss is seen. */
static int kill_at;
static int victim_pid;
static pv_pg_sync_t *locker;

static void record_and_kill(const pv_pg_result_t *res, void *arg)
{
  record(res, arg);
  if (seen->ncalls == kill_at)
    terminate_backend(victim_pid);
}

static void release_on_loss(bool connected, const char *why, void *arg)
{
  on_state(connected, why, arg);
  if (!connected && locker) {
    pv_pg_result_free(pv_pg_sync_exec(locker, "COMMIT"));
    pv_pg_sync_close(locker);
    locker = NULL;
  }
}

Test(pg, no_write_lost_when_killed_mid_stream)
{
  const int n = 4000;
  char key[16];
  char err[256];
  const char *params[1] = {key};
  pv_pg_stats_t st;
  pv_pg_result_t *r;

  downs = ups = 0;
  pv_test_sql(db.conninfo, "CREATE TABLE kv2 (LIKE kv INCLUDING ALL)");
  connect_pg();
  pv_pg_set_state_cb(pg, release_on_loss, NULL);
  pv_pg_set_max_batch(pg, 100);
  locker = pv_pg_sync_connect(db.conninfo, err, sizeof(err));
  cr_assert_not_null(locker, "%s", err);
  r = pv_pg_sync_exec(locker, "BEGIN; LOCK TABLE kv IN ACCESS EXCLUSIVE MODE");
  cr_assert(pv_pg_result_ok(r), "%s", pv_pg_result_error(r));
  pv_pg_result_free(r);
  victim_pid = backend_pid();
  kill_at = 100;
  for (int i = 0; i < n; i++) {
    snprintf(key, sizeof(key), "%d", i);
    cr_assert_eq(pv_pg_query_ex(pg,
                                i < 300
                                    ? "INSERT INTO kv2 (k, v) VALUES ($1, 'x') "
                                      "ON CONFLICT (k) DO UPDATE SET v = 'x'"
                                    : "INSERT INTO kv (k, v) VALUES ($1, 'x') "
                                      "ON CONFLICT (k) DO UPDATE SET v = 'x'",
                                1, params, PV_PG_RETRY, record_and_kill,
                                (void *)(intptr_t)i),
                 0);
  }
  cr_assert(pv_test_run_until_count(&loop, &seen->ncalls, n, 30000),
            "%d of %d callbacks", seen->ncalls, n);
  cr_assert_null(locker);
  cr_assert_eq(downs, 1);
  cr_assert_eq(ups, 1);
  for (int i = 0; i < n; i++)
    cr_assert(seen->ok[i] && seen->calls[i] == 1, "write %d: ok=%d calls=%d",
              i, seen->ok[i], seen->calls[i]);
  cr_assert_eq(pv_test_sql_long(db.conninfo, "SELECT count(*) FROM kv2"), 300);
  cr_assert_eq(pv_test_sql_long(db.conninfo, "SELECT count(*) FROM kv"),
               n - 300);
  pv_pg_stats(pg, &st);
  cr_assert_eq(st.queries_lost, 0);
  cr_assert_geq(st.queries_resent, (uint64_t)(n - 300),
                "the blocked writes were re-sent");
}

/* ---------------------------------------------------------------- */
/* No server, bounds, shutdown                                       */
/* ---------------------------------------------------------------- */

static char logged[64 * 1024];
static size_t logged_len;
static void capture(const char *line, size_t len, void *arg)
{
  (void)arg;
  if (logged_len + len + 1 < sizeof(logged)) {
    memcpy(logged + logged_len, line, len);
    logged_len += len;
    logged[logged_len++] = '\n';
    logged[logged_len] = '\0';
  }
}

Test(pg, queue_bound_and_shutdown_without_server)
{
  char err[256];
  pv_pg_stats_t st;
  logged_len = 0;
  logged[0] = '\0';
  pv_log_set_sink(capture, NULL);
  pv_log_set_level(PV_LOG_DEBUG);

  /* Port 1 on loopback: nothing listens, the connect is refused. */
  pg = pv_pg_new(&loop, "host=127.0.0.1 port=1 user=u password=s3cretpw "
                        "dbname=x", err, sizeof(err));
  cr_assert_not_null(pg, "%s", err);
  pv_pg_set_max_queue(pg, 5);
  for (int i = 0; i < 5; i++)
    cr_assert_eq(pv_pg_query(pg, "SELECT 1", 0, NULL, record,
                             (void *)(intptr_t)i), PV_PG_OK);
  cr_assert_eq(pv_pg_query(pg, "SELECT 1", 0, NULL, record, (void *)5),
               PV_PG_EFULL);
  cr_assert_eq(pv_pg_query(pg, NULL, 0, NULL, record, NULL), PV_PG_EINVAL);
  cr_assert_eq(pv_pg_query(pg, "SELECT 1", -1, NULL, record, NULL),
               PV_PG_EINVAL);
  cr_assert_eq(pv_pg_query(pg, "SELECT $1", 1, NULL, record, NULL),
               PV_PG_EINVAL);
  cr_assert_eq(pv_pg_queue_depth(pg), 5);

  /* A few reconnect rounds (backoff 100 ms, 200 ms...). */
  pv_test_run_until(&loop, &(bool){false}, 400);
  pv_pg_stats(pg, &st);
  cr_assert(!st.connected);
  cr_assert_geq(st.connect_failures, 2);
  cr_assert_eq(seen->ncalls, 0, "queued queries wait for the server");

  pv_pg_destroy(pg);
  pg = NULL;
  cr_assert_eq(seen->ncalls, 5);
  for (int i = 0; i < 5; i++) {
    cr_assert_eq(seen->calls[i], 1);
    cr_assert(!seen->ok[i] && !seen->lost[i], "never sent, so not lost");
  }
  pv_log_set_sink(NULL, NULL);
  cr_assert(strstr(logged, "postgres.connect_failed") != NULL, "%s", logged);
  cr_assert(strstr(logged, "port=1") != NULL);
  cr_assert_null(strstr(logged, "s3cretpw"), "password in logs:\n%s", logged);
}

Test(pg, bad_conninfo_is_refused_with_a_clear_error)
{
  char err[256] = "";
  cr_assert_null(pv_pg_new(&loop, "host=127.0.0.1 nonsense_option=1", err,
                           sizeof(err)));
  cr_assert(strstr(err, "nonsense_option") != NULL, "%s", err);
  cr_assert_null(pv_pg_new(&loop, "host=h password='s3cretpw", err,
                           sizeof(err)));
  cr_assert(strstr(err, "unterminated") != NULL, "%s", err);
  cr_assert_null(strstr(err, "s3cretpw"), "value echoed: %s", err);
}

static int destroyed_calls;
static int shutdown_calls;

static void count_shutdown(const pv_pg_result_t *res, void *arg)
{
  (void)arg;
  cr_assert(!pv_pg_result_ok(res));
  cr_assert(!pv_pg_result_connection_lost(res), "never sent, so not lost");
  cr_assert(strstr(pv_pg_result_error(res), "shutting down") != NULL, "%s",
            pv_pg_result_error(res));
  shutdown_calls++;
}

static void destroy_in_callback(const pv_pg_result_t *res, void *arg)
{
  (void)arg;
  cr_assert(pv_pg_result_ok(res));
  destroyed_calls++;
  /* Queued, never sent: they must get "shutting down", exactly once. */
  cr_assert_eq(pv_pg_query(pg, "SELECT 2", 0, NULL, count_shutdown, NULL), 0);
  cr_assert_eq(pv_pg_query(pg, "SELECT 3", 0, NULL, count_shutdown, NULL), 0);
  pv_pg_destroy(pg);
  pg = NULL;
}

Test(pg, destroy_from_inside_a_callback)
{
  destroyed_calls = shutdown_calls = 0;
  connect_pg();
  cr_assert_eq(pv_pg_query(pg, "SELECT 1", 0, NULL, destroy_in_callback, NULL),
               0);
  cr_assert(pv_test_run_until_count(&loop, &destroyed_calls, 1, 5000));
  cr_assert_null(pg);
  cr_assert_eq(shutdown_calls, 2);
  pv_test_run_until(&loop, &(bool){false}, 50);
  cr_assert_eq(destroyed_calls, 1);
  cr_assert_eq(shutdown_calls, 2);
}

/* ---------------------------------------------------------------- */
/* Blocking API                                                      */
/* ---------------------------------------------------------------- */

Test(pg, sync_api)
{
  char err[256];
  const char *params[2] = {"7", NULL};
  pv_pg_sync_t *s = pv_pg_sync_connect(db.conninfo, err, sizeof(err));
  pv_pg_result_t *r;
  cr_assert_not_null(s, "%s", err);
  cr_assert_gt(pv_pg_sync_backend_pid(s), 0);

  r = pv_pg_sync_query(s, "SELECT $1::int * 6 AS x, $2::text AS y", 2, params);
  cr_assert(pv_pg_result_ok(r), "%s", pv_pg_result_error(r));
  cr_assert_str_eq(pv_pg_result_field(r, "x", 0), "42");
  cr_assert_null(pv_pg_result_field(r, "y", 0));
  pv_pg_result_free(r);

  r = pv_pg_sync_exec(s, "CREATE TABLE t (a int);\nINSERT INTO t VALUES (1);\n"
                         "SELECT a FROM t");
  cr_assert(pv_pg_result_ok(r), "%s", pv_pg_result_error(r));
  cr_assert_str_eq(pv_pg_result_get(r, 0, 0), "1");
  pv_pg_result_free(r);

  r = pv_pg_sync_exec(s, "SELECT 1;\nSELECT * FROM missing_table");
  cr_assert(!pv_pg_result_ok(r));
  cr_assert_str_eq(pv_pg_result_sqlstate(r), "42P01");
  cr_assert_eq(pv_pg_result_error_position(r), 25, "position counts from "
               "the start of the script");
  cr_assert(!pv_pg_result_connection_lost(r));
  pv_pg_result_free(r);
  pv_pg_sync_close(s);
  pv_pg_sync_close(NULL);
  pv_pg_result_free(NULL);

  s = pv_pg_sync_connect("host=127.0.0.1 port=1 user=u password=s3cretpw",
                         err, sizeof(err));
  cr_assert_null(s);
  cr_assert(strstr(err, "port=1") != NULL, "%s", err);
  cr_assert_null(strstr(err, "s3cretpw"), "%s", err);
}

/* Regression: left to choose, the server re-planned the worker's claim
 * statement (a CTE with an upsert) at every execution, which cost more
 * than executing it and cut end-to-end throughput fourfold (bench
 * worker_bench: 2,340 -> 8,009 jobs/s). Every connection now asks for
 * generic plans. */
Test(pg, connections_plan_prepared_statements_once)
{
  connect_pg();
  cr_assert_eq(pv_pg_query(pg, "SELECT current_setting('plan_cache_mode')", 0,
                           NULL, record, (void *)0),
               PV_PG_OK);
  cr_assert(pv_test_run_until_count(&loop, &seen->ncalls, 1, 5000));
  cr_assert(seen->ok[0]);
  cr_assert_str_eq(seen->first_value, "force_generic_plan");
}
