/*
 * The claim runs once per job: its plan must stay a keyed lookup however
 * many jobs are in flight. Regression: with the blocker lookup written as
 * an indexable state test and an OR on the lease, the planner served it
 * from the state or lease index, scanning every job in flight of the
 * tenant at each claim (worker throughput fell fourfold).
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

Test(store_plan, claim_looks_up_its_key_by_index_with_many_jobs_in_flight)
{
  /* 5,000 jobs running for one tenant, 50 parked, many finished */
  pv_test_sql(db.conninfo,
      "INSERT INTO job_status (job_id, tenant, service, op, ordering_key,"
      " state, source_topic, source_partition, source_offset, payload,"
      " lease_until, worker_id, next_attempt_at)"
      " SELECT 'j' || g, 'isp-east', 'voltha', 'health_check', 'k' || g,"
      "  CASE WHEN g <= 5000 THEN 'running' WHEN g <= 5050 THEN 'retry_wait'"
      "   ELSE 'succeeded' END, 't', 0, g, '\\x00',"
      "  now() + interval '30 s', 'w1', now() + interval '1 h'"
      " FROM generate_series(1, 20000) g");
  pv_test_sql(db.conninfo, "ANALYZE job_status");
  char err[512];
  pv_pg_sync_t *s = pv_pg_sync_connect(db.conninfo, err, sizeof(err));
  cr_assert_not_null(s, "%s", err);
  /* the worker's sessions plan once (force_generic_plan): check that plan */
  char *prep = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&prep, &len);
  fprintf(f, "PREPARE claim AS %s", pv_store_claim_sql());
  fclose(f);
  pv_pg_result_t *r = pv_pg_sync_exec(s, prep);
  cr_assert(pv_pg_result_ok(r), "%s", pv_pg_result_error(r));
  pv_pg_result_free(r);
  free(prep);
  r = pv_pg_sync_exec(s,
      "EXPLAIN EXECUTE claim('new-job', 'isp-east', 'voltha', 'health_check',"
      " 'k77', 't', 0, 1, NULL, NULL, 'application/msgpack', '\\x00', '[]',"
      " 1795753715202, NULL, 30000, 'w2')");
  cr_assert(pv_pg_result_ok(r), "%s", pv_pg_result_error(r));
  char plan[16384] = "";
  for (int i = 0; i < pv_pg_result_ntuples(r); i++) {
    strncat(plan, pv_pg_result_get(r, i, 0), sizeof(plan) - strlen(plan) - 2);
    strcat(plan, "\n");
  }
  pv_pg_result_free(r);
  pv_pg_sync_close(s);
  cr_assert(strstr(plan, "job_status_tenant_key_all_idx"),
            "the blocker lookup must use the (tenant, ordering_key) index:\n%s",
            plan);
  cr_assert_null(strstr(plan, "job_status_state_idx"), "%s", plan);
  cr_assert_null(strstr(plan, "job_status_lease_idx"), "%s", plan);
  cr_assert_null(strstr(plan, "Seq Scan on job_status"), "%s", plan);
}
