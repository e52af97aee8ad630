/*
 * Defects the chaos suite (tests/chaos/) found, each reproduced by a
 * script that fails without its fix (docs/reliability-chaos.md lists
 * them with the seed that found them).
 */
#include "jobs/job.h"
#include "tests/e2e/worker_harness.h"
#include "tests/support/testenv.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static pv_e2e_t E;

static void teardown(void)
{
  pv_e2e_teardown(&E);
}

TestSuite(chaos_found, .fini = teardown, .timeout = 150);

#define REFUSED_JOBS 40

/* A job refused at validation (bad args) whose reply_to is a field of the
 * job: the worker freed the decoded job, then wrote the row and published
 * the reply with the freed reply_to (seed 1 of the chaos suite: rows
 * missing with "invalid byte sequence for encoding UTF8", replies sent to
 * a topic named by leftover bytes and retried forever). */
Test(chaos_found, refused_job_keeps_its_reply_to_field)
{
  pv_e2e_setup(&E, 2);
  char replies[128];
  int w = snprintf(replies, sizeof(replies), "e2e-%s.refused-replies",
                   E.suffix);
  cr_assert(w > 0 && (size_t)w < sizeof(replies));
  const char *topics[] = {replies};
  cr_assert_eq(pv_ksync_create_topics(E.brokers, topics, 1, 1), 0);
  pv_e2e_start_worker(&E, "e2e-chaos-found", NULL);
  for (int i = 0; i < REFUSED_JOBS; i++) {
    char id[128];
    snprintf(id, sizeof(id), "cf-%s-%03d", E.suffix, i);
    json_t *j = json_pack("{s:i,s:s,s:s,s:s,s:s,s:s,s:{s:s,s:s}}", "v", 1,
                          "id", id, "tenant", "isp-east", "service", "voltha",
                          "op", "get_device", "reply_to", replies, "args",
                          "device_id", "x", "devce_id", "typo");
    pv_e2e_produce_job(&E, id, j, i % 2 == 0, NULL);
    json_decref(j);
  }
  /* every refused job: its dead row, naming the reply topic it asked for */
  char like[128];
  snprintf(like, sizeof(like), "cf-%s-%%", E.suffix);
  char *n = NULL;
  for (int tries = 0; tries < 100; tries++) {
    free(n);
    n = pv_e2e_sql_value(&E, "SELECT count(*) FROM job_status WHERE job_id "
                             "LIKE $1 AND state = 'dead' AND error_class = "
                             "'bad_args'", like);
    if (n && atoi(n) == REFUSED_JOBS)
      break;
    struct timespec ts = {0, 200 * 1000000L};
    nanosleep(&ts, NULL);
  }
  cr_assert_str_eq(n, "40", "%s of %d refused jobs have their dead row; see "
                   "%s", n, REFUSED_JOBS, E.worker_log);
  free(n);
  char q[256];
  snprintf(q, sizeof(q), "SELECT count(*) FROM job_status WHERE job_id LIKE "
           "$1 AND reply_topic = '%s'", replies);
  n = pv_e2e_sql_value(&E, q, like);
  cr_assert_str_eq(n, "40", "rows naming the reply topic: %s of %d", n,
                   REFUSED_JOBS);
  free(n);

  /* and its dead_lettered reply on that topic */
  char saved[128];
  snprintf(saved, sizeof(saved), "%s", E.results_topic);
  memcpy(E.results_topic, replies, sizeof(replies));
  json_t *got = pv_e2e_collect_replies(&E, REFUSED_JOBS, 30000);
  memcpy(E.results_topic, saved, sizeof(saved));
  cr_assert_eq(json_object_size(got), REFUSED_JOBS,
               "%zu of %d refused jobs got their reply on %s; see %s",
               json_object_size(got), REFUSED_JOBS, replies, E.worker_log);
  const char *id;
  json_t *reply;
  json_object_foreach(got, id, reply)
      cr_assert_str_eq(json_string_value(json_object_get(reply, "status")),
                       "dead_lettered", "%s", id);
  json_decref(got);
}
