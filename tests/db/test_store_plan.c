/*
 * The claim runs once per job, the due-job scan once per parked job: their
 * plans must stay keyed lookups however many jobs are in flight and however
 * long the keys. Regression: with the blocker lookup written as an
 * indexable state test and an OR on the lease, the planner served it from
 * the state or lease index, scanning every job in flight of the tenant at
 * each claim (worker throughput fell fourfold). Keys are bytes of any
 * length (issue 13), looked up by their hash.
 */
#include "tests/db/test_pg_util.h"
#include "db/migrate.h"
#include "db/pg.h"
#include "db/store.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pv_test_db_t db;

static void setup(void)
{
  pv_test_db_create(&db);
  char err[512];
  cr_assert_eq(pv_migrate_run(db.conninfo, false, NULL, err, sizeof(err)), 0,
               "%s", err);
}

static void teardown(void)
{
  pv_test_db_drop(&db);
}

TestSuite(store_plan, .init = setup, .fini = teardown, .timeout = 60);

/* 5,000 jobs running for one tenant, 50 parked (due), many finished;
 * every tenth key past btree's row limit. */
static void load_jobs(void)
{
  pv_test_sql(db.conninfo,
      "INSERT INTO job_status (job_id, tenant, service, op, ordering_key,"
      " state, source_topic, source_partition, source_offset, payload,"
      " lease_until, worker_id, next_attempt_at)"
      " SELECT 'j' || g, 'isp-east', 'voltha', 'health_check',"
      "  convert_to(CASE WHEN g % 10 = 0 THEN repeat('long', 1000) || g"
      "             ELSE 'k' || g END, 'UTF8'),"
      "  CASE WHEN g <= 5000 THEN 'running' WHEN g <= 5050 THEN 'retry_wait'"
      "   ELSE 'succeeded' END, 't', 0, g, '\\x00',"
      "  now() + interval '30 s', 'w1', now() - interval '1 s'"
      " FROM generate_series(1, 20000) g");
  pv_test_sql(db.conninfo, "ANALYZE job_status");
}

/* The generic plan (the worker's sessions plan once: force_generic_plan)
 * of sql run with args, as text. */
static void plan_of(const char *sql, const char *args, char *plan,
                    size_t size)
{
  char err[512];
  pv_pg_sync_t *s = pv_pg_sync_connect(db.conninfo, err, sizeof(err));
  cr_assert_not_null(s, "%s", err);
  char *prep = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&prep, &len);
  fprintf(f, "PREPARE q AS %s", sql);
  fclose(f);
  pv_pg_result_t *r = pv_pg_sync_exec(s, "SET plan_cache_mode = "
                                         "force_generic_plan");
  pv_pg_result_free(r);
  r = pv_pg_sync_exec(s, prep);
  cr_assert(pv_pg_result_ok(r), "%s", pv_pg_result_error(r));
  pv_pg_result_free(r);
  free(prep);
  char *explain = NULL;
  f = open_memstream(&explain, &len);
  fprintf(f, "EXPLAIN EXECUTE q(%s)", args);
  fclose(f);
  r = pv_pg_sync_exec(s, explain);
  free(explain);
  cr_assert(pv_pg_result_ok(r), "%s", pv_pg_result_error(r));
  plan[0] = '\0';
  for (int i = 0; i < pv_pg_result_ntuples(r); i++) {
    strncat(plan, pv_pg_result_get(r, i, 0), size - strlen(plan) - 2);
    strcat(plan, "\n");
  }
  pv_pg_result_free(r);
  pv_pg_sync_close(s);
}

Test(store_plan, claim_looks_up_its_key_by_index_with_many_jobs_in_flight)
{
  load_jobs();
  char plan[16384];
  plan_of(pv_store_claim_sql(),
          "'new-job', 'isp-east', 'voltha', 'health_check', '\\x6b3737',"
          " 't', 0, 1, NULL, NULL, 'application/msgpack', '\\x00', '[]',"
          " 1795753715202, NULL, 30000, 'w2'", plan, sizeof(plan));
  cr_assert(strstr(plan, "job_status_tenant_key_hash_idx"),
            "the blocker lookup must use the (tenant, key hash) index:\n%s",
            plan);
  cr_assert_null(strstr(plan, "job_status_state_idx"), "%s", plan);
  cr_assert_null(strstr(plan, "job_status_lease_idx"), "%s", plan);
  cr_assert_null(strstr(plan, "Seq Scan on job_status"), "%s", plan);
}

Test(store_plan, due_scan_looks_up_earlier_jobs_of_a_key_by_index)
{
  load_jobs();
  char plan[16384];
  plan_of(pv_store_due_sql(), "200, 'w2', 30000, '{t}'", plan, sizeof(plan));
  cr_assert(strstr(plan, "job_status_tenant_key_hash_idx"),
            "the earlier-job lookup must use the (tenant, key hash) index:"
            "\n%s", plan);
  cr_assert_null(strstr(plan, "Seq Scan on job_status"), "%s", plan);
}
