/*
 * provctl prune: deletes finished rows older than the age asked for, in
 * batches, keeps unfinished, recent and (by default) dead ones.
 */
#include "tests/e2e/worker_harness.h"
#include "tests/support/proc.h"
#include "tests/support/testenv.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

static pv_e2e_t E;

TestSuite(prune, .timeout = 60);

static int provctl(const char *const *args, const char *log)
{
  char bin[512];
  snprintf(bin, sizeof(bin), "%s/provctl", pv_test_build_dir());
  const char *argv[16] = {bin};
  size_t n = 1;
  for (size_t i = 0; args[i] && n < 15; i++)
    argv[n++] = args[i];
  argv[n] = NULL;
  pid_t pid = pv_proc_start(argv, NULL, log);
  cr_assert_gt(pid, 0);
  int st = 0;
  cr_assert_eq(waitpid(pid, &st, 0), pid);
  cr_assert(WIFEXITED(st));
  return WEXITSTATUS(st);
}

static long long count(const char *where, const char *prefix)
{
  char sql[512];
  snprintf(sql, sizeof(sql), "SELECT count(*) FROM job_status WHERE job_id "
           "LIKE $1 AND %s", where);
  char *v = pv_e2e_sql_value(&E, sql, prefix);
  long long n = v ? strtoll(v, NULL, 10) : -1;
  free(v);
  return n;
}

Test(prune, deletes_old_finished_rows_only)
{
  pv_e2e_setup(&E, 1);
  char prefix[96], log[600];
  snprintf(prefix, sizeof(prefix), "prune-%s-%%", E.suffix);
  snprintf(log, sizeof(log), "%s.provctl", E.worker_log);
  char *ok = pv_e2e_sql_value(&E,
      "WITH ins AS (INSERT INTO job_status (job_id, tenant, service, op,"
      " state, source_topic, source_partition, source_offset, payload,"
      " finished_at)"
      " SELECT replace($1, '%', '') || g,"
      "  'isp-east', 'voltha', 'health_check',"
      "  (ARRAY['succeeded','failed','dead','running','succeeded'])[g % 5 + 1],"
      "  't', 0, g, '\\x00',"
      "  CASE WHEN g % 5 = 3 THEN NULL"
      "       WHEN g % 5 = 4 THEN now() - interval '10 minutes'"
      "       ELSE now() - interval '3 days' END"
      " FROM generate_series(1, 50) g RETURNING 1)"
      " SELECT count(*)::text FROM ins", prefix);
  cr_assert_str_eq(ok, "50");
  free(ok);
  /* 50 rows: 10 each of old succeeded, old failed, old dead, running,
   * recent succeeded */
  const char *args[] = {"prune", "--older-than", "2d", "--batch", "3", NULL};
  cr_assert_eq(provctl(args, log), 0, "see %s", log);
  cr_assert_eq(count("TRUE", prefix), 30, "old succeeded and failed go");
  cr_assert_eq(count("state = 'dead'", prefix), 10, "dead kept for replay");
  cr_assert_eq(count("state = 'running'", prefix), 10);
  cr_assert_eq(count("state = 'succeeded'", prefix), 10, "recent ones kept");
  cr_assert(pv_proc_wait_for_text(log, "pruned 20 job rows", 1000));
  const char *with_dead[] = {"prune", "--older-than", "2d", "--include-dead",
                             NULL};
  cr_assert_eq(provctl(with_dead, log), 0);
  cr_assert_eq(count("state = 'dead'", prefix), 0);
  const char *too_young[] = {"prune", "--older-than", "10m", NULL};
  cr_assert_eq(provctl(too_young, log), 2, "under an hour is refused");
  cr_assert(pv_proc_wait_for_text(log, "at least 1h", 1000));
  pv_e2e_teardown(&E);
}
