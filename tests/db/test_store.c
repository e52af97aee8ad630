/*
 * db/store.c without a database: a PostgreSQL that cannot be reached
 * (port 1 refuses) keeps writes queued in the pg layer, and a queue capped
 * at one statement makes every further write wait on the store's own
 * retry timer. That is enough to see how the store retries and how it
 * closes with writes in flight.
 */
#include "common/log.h"
#include "tests/db/test_pg_util.h"
#include "db/pg.h"
#include "db/store.h"

#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static uv_loop_t loop;
static pv_pg_t *pg;

static void setup(void)
{
  char err[256];
  pv_log_set_level(PV_LOG_ERROR); /* connect failures are expected */
  cr_assert_eq(uv_loop_init(&loop), 0);
  pg = pv_pg_new(&loop, "host=127.0.0.1 port=1 dbname=nowhere", err,
                 sizeof(err));
  cr_assert_not_null(pg, "%s", err);
  /* one statement queued in the pg layer; every other write gets
   * PV_PG_EFULL and waits on the store's retry timer */
  pv_pg_set_max_queue(pg, 1);
}

static void teardown(void)
{
  pv_pg_destroy(pg);
  pg = NULL;
  pv_test_loop_drain(&loop);
  cr_assert_eq(uv_loop_close(&loop), 0, "every handle was closed");
}

TestSuite(store, .init = setup, .fini = teardown, .timeout = 30);

static void collect_due(uv_handle_t *h, void *arg)
{
  int64_t *due = arg; /* [0] = count, then the due times */
  if (h->type != UV_TIMER || !uv_is_active(h) || due[0] >= 255)
    return;
  due[1 + due[0]++] = (int64_t)uv_timer_get_due_in((uv_timer_t *)h);
}

Test(store, retries_are_jittered_not_in_lockstep)
{
  pv_store_t *store = pv_store_new(&loop, pg, "w-jitter");
  for (int i = 0; i < 41; i++)
    pv_store_renew_leases(store, 30000); /* the first is queued in pg */
  int64_t due[256] = {0};
  uv_walk(&loop, collect_due, due);
  int waiting = 0, distinct = 0;
  for (int i = 0; i < due[0]; i++) {
    if (due[1 + i] > 50)
      continue; /* the pg layer's reconnect timer */
    waiting++;
    bool seen = false;
    for (int j = 0; j < i; j++)
      seen = seen || due[1 + j] == due[1 + i];
    distinct += !seen;
  }
  /* 40 first retries, each somewhere in [0, 50] ms: 40 equal waits would
   * be a fleet retrying in lockstep */
  cr_assert_eq(waiting, 40, "40 writes wait for their first retry, within "
               "50 ms (got %d of %lld timers)", waiting, (long long)due[0]);
  cr_assert_geq(distinct, 10, "only %d distinct waits among 40", distinct);
  pv_store_close(store);
}

/* Callbacks per write, by index: libuv-style exact counts. */
static int oks[8], fails[8];

static void count_done(pv_store_finish_t st, void *arg)
{
  int i = (int)(intptr_t)arg;
  if (st == PV_FINISH_OK)
    oks[i]++;
  else
    fails[i]++;
}

static void finish_job(pv_store_t *store, int i)
{
  char id[32];
  snprintf(id, sizeof(id), "job-%d", i);
  pv_store_outcome_t o = {.job_id = id, .tenant = "t", .state = "succeeded"};
  pv_store_finish(store, &o, count_done, (void *)(intptr_t)i);
}

static int active_timers;
static void count_timer(uv_handle_t *h, void *arg)
{
  (void)arg;
  if (h->type == UV_TIMER && uv_is_active(h))
    active_timers++;
}

Test(store, close_fails_waiting_writes_then_those_in_flight_when_pg_goes)
{
  memset(oks, 0, sizeof(oks));
  memset(fails, 0, sizeof(fails));
  pv_store_t *store = pv_store_new(&loop, pg, "w-close");
  for (int i = 0; i < 5; i++)
    finish_job(store, i); /* 0 in the pg layer, 1-4 on retry timers */
  for (int i = 0; i < 5; i++)
    cr_assert_eq(oks[i] + fails[i], 0, "no callback inside the call");

  pv_store_close(store);
  cr_assert_eq(fails[0], 0, "the write in the pg layer is still under way");
  for (int i = 1; i < 5; i++)
    cr_assert_eq(fails[i], 1, "waiting write %d failed at close", i);

  /* Destroying the pg layer runs its callback: the store must still be
   * there to take it (then it frees itself). */
  pv_pg_destroy(pg);
  pg = NULL;
  cr_assert_eq(fails[0], 1, "the write in flight failed when pg went");
  for (int i = 0; i < 5; i++)
    cr_assert_eq(oks[i], 0);
  active_timers = 0;
  uv_walk(&loop, count_timer, NULL);
  cr_assert_eq(active_timers, 0, "no retry timer left armed");
}

Test(store, a_closed_pg_layer_ends_a_write_instead_of_retrying_it)
{
  memset(oks, 0, sizeof(oks));
  memset(fails, 0, sizeof(fails));
  pv_store_t *store = pv_store_new(&loop, pg, "w-pgclosed");
  finish_job(store, 0);
  pv_pg_destroy(pg); /* the store is still open: e.g. a second signal */
  pg = NULL;
  cr_assert_eq(fails[0], 1, "the write failed with the pg layer");
  /* it must not try again against the closed handle */
  uv_run(&loop, UV_RUN_NOWAIT);
  active_timers = 0;
  uv_walk(&loop, count_timer, NULL);
  cr_assert_eq(active_timers, 0, "a retry timer is armed against a closed "
               "pg layer: the loop would never end");
  cr_assert_eq(fails[0] + oks[0], 1, "one callback");
  pv_store_close(store); /* nothing pending: freed at once */
}
