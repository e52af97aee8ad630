/*
 * Replies and dead letters on their way out: what a worker publishes again
 * after a kill -9 (only what the broker may not have acknowledged), replies
 * the broker refuses (too large: capped, or a stub), reply topics that
 * would loop back into the fleet, and trace headers checked at intake.
 */
#include "common/bytes.h"
#include "jobs/job.h"
#include "tests/e2e/test_engine_util.h"
#include "tests/e2e/worker_harness.h"
#include "tests/support/proc.h"
#include "tests/support/testenv.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

static pv_e2e_t E;
static pid_t second;
static char conf_path[768];

static void teardown(void)
{
  if (second > 0)
    pv_proc_stop(second, SIGTERM, 30000);
  second = 0;
  pv_e2e_teardown(&E);
}

TestSuite(delivery, .fini = teardown, .timeout = 200);

/* ---- duplicates after kill -9 -------------------------------------------- */

/* The job ids of a worker log's job.republished lines, as an array
 * literal "{a,b}" (the ids here are letters, digits and dashes). */
static char *republished_ids(const char *log)
{
  FILE *f = fopen(log, "r");
  cr_assert_not_null(f, "cannot read %s", log);
  char *out = NULL;
  size_t len = 0;
  FILE *m = open_memstream(&out, &len);
  cr_assert_not_null(m);
  fputc('{', m);
  char line[4096];
  bool first = true;
  while (fgets(line, sizeof(line), f)) {
    if (!strstr(line, "\"event\":\"job.republished\""))
      continue;
    const char *id = strstr(line, "\"job_id\":\"");
    if (!id)
      continue;
    id += strlen("\"job_id\":\"");
    fprintf(m, "%s%.*s", first ? "" : ",", (int)strcspn(id, "\""), id);
    first = false;
  }
  fputc('}', m);
  fclose(f);
  fclose(m);
  return out;
}

#define DUP_JOBS 3000
#define DUP_KEYS 300

/*
 * The measurement of docs/kafka.md ("Duplicate replies after a crash"):
 * DUP_JOBS quick jobs, the worker killed with SIGKILL once a third of
 * them are final, a new worker started at once; every job must end with
 * exactly one final row and at least one reply, and the replies beyond
 * one per job are counted.
 */
Test(delivery, kill_9_duplicates_only_what_the_broker_may_not_have_acked)
{
  pv_e2e_setup(&E, 4);
  pv_te_config_with(&E, conf_path, sizeof(conf_path),
                    "[kafka]\nsession.timeout.ms = 6000\n"
                    "heartbeat.interval.ms = 500\n");
  char prefix[96];
  snprintf(prefix, sizeof(prefix), "DUP%s-", E.suffix);
  /* the backlog first, so the kill lands while the worker runs at full
   * speed (producing is slower than the worker) */
  pv_te_produce_health_checks(&E, prefix, DUP_JOBS, DUP_KEYS, true);
  const char *env[] = {"PROVISIOND_WORKER_LEASE_MS=3000", NULL};
  pid_t first = pv_e2e_start_worker(&E, "e2e-dup-a", env);
  long long at_kill = pv_te_wait_final(&E, prefix, DUP_JOBS / 3, 60000);
  cr_assert_geq(at_kill, DUP_JOBS / 3, "the first worker made no progress; "
                "see %s", E.worker_log);
  cr_assert_eq(kill(first, SIGKILL), 0);
  int st = pv_proc_stop(first, SIGKILL, 10000);
  cr_assert(WIFSIGNALED(st));
  E.worker = 0;
  at_kill = pv_te_final_rows(&E, prefix);
  cr_assert_lt(at_kill, DUP_JOBS, "the kill must land mid-load");

  char log_b[600];
  second = pv_e2e_spawn_worker(&E, "e2e-dup-b", NULL, log_b, sizeof(log_b));
  long long fin = pv_te_wait_final(&E, prefix, DUP_JOBS, 90000);
  cr_assert_eq(fin, DUP_JOBS, "%lld of %d jobs final after the restart; see "
               "%s", fin, DUP_JOBS, log_b);
  json_t *replies = pv_te_count_by_key(&E, E.results_topic, DUP_JOBS, 60000);
  cr_assert_eq(json_object_size(replies), (size_t)DUP_JOBS,
               "%zu of %d jobs got a reply", json_object_size(replies),
               DUP_JOBS);
  long long dups = 0;
  const char *rid;
  json_t *cnt;
  json_object_foreach(replies, rid, cnt)
    dups += json_integer_value(cnt) - 1;
  json_decref(replies);
  long long rerun = pv_te_sql_ll(&E, "SELECT count(*) FROM job_status WHERE "
                                     "job_id LIKE $1 || '%' AND runs > 1",
                                 prefix);
  int republished = pv_te_count_text(log_b, "\"event\":\"job.republished\"");
  fprintf(stderr, "delivery: kill -9 after %lld of %d final: %lld duplicate "
          "replies, %d republished by the new worker, %lld jobs run again\n",
          at_kill, DUP_JOBS, dups, republished, rerun);
  /* Before job_status.published_at every job finished since the last
   * offset commit was answered again (1423 and 1500 of about 1300 final
   * at the kill); now only those whose acknowledgement was not recorded
   * yet, i.e. finished in the last moments before the kill. */
  cr_assert_leq(dups * 2, at_kill, "%lld duplicate replies for %lld jobs "
                "final at the kill: replies known to be on Kafka were "
                "published again", dups, at_kill);
  /* ...and those are jobs finished just before the kill */
  char *ids = republished_ids(log_b);
  char q[512];
  snprintf(q, sizeof(q), "SELECT count(*) FROM job_status WHERE job_id = ANY "
           "($1::text[]) AND finished_at < (SELECT max(finished_at) - "
           "interval '2 s' FROM job_status WHERE worker_id = 'e2e-dup-a' AND "
           "job_id LIKE '%s%%')", prefix);
  long long stale = pv_te_sql_ll(&E, q, ids);
  free(ids);
  cr_assert_eq(stale, 0, "%lld republished jobs had finished over 2 s "
               "before the first worker's last one", stale);
}

/* ---- produce retries are jittered ---------------------------------------- */

#define JITTER_JOBS 8

/* The "retry_in_ms" of every job.produce_retry line of try 1 in log. */
static size_t first_retry_delays(const char *log, long long *out, size_t max)
{
  FILE *f = fopen(log, "r");
  cr_assert_not_null(f, "cannot read %s", log);
  char line[4096];
  size_t n = 0;
  while (n < max && fgets(line, sizeof(line), f)) {
    const char *d = strstr(line, "\"retry_in_ms\":");
    if (!strstr(line, "\"event\":\"job.produce_retry\"") ||
        !strstr(line, "\"try\":1,") || !d)
      continue;
    out[n++] = strtoll(d + strlen("\"retry_in_ms\":"), NULL, 10);
  }
  fclose(f);
  return n;
}

/*
 * A producer queue of one record: replies finishing together are refused
 * with "Local: Queue full" and go again. Without jitter they all went
 * again after exactly 200 ms (and collided again); with full jitter each
 * waits its own time in [0, 200] ms. Every job is answered.
 */
Test(delivery, produce_retries_are_jittered_and_every_reply_arrives)
{
  pv_e2e_setup(&E, 1);
  pv_te_config_with(&E, conf_path, sizeof(conf_path),
                    "[kafka]\nqueue.buffering.max.messages = 1\n");
  char prefix[96];
  snprintf(prefix, sizeof(prefix), "JIT%s-", E.suffix);
  pv_te_produce_health_checks(&E, prefix, JITTER_JOBS, JITTER_JOBS, false);
  pv_e2e_start_worker(&E, "e2e-jitter", NULL);
  cr_assert_eq(pv_te_wait_final(&E, prefix, JITTER_JOBS, 60000), JITTER_JOBS);
  json_t *replies = pv_te_count_by_key(&E, E.results_topic, JITTER_JOBS,
                                       90000);
  cr_assert_eq(json_object_size(replies), (size_t)JITTER_JOBS,
               "%zu of %d replies; see %s", json_object_size(replies),
               JITTER_JOBS, E.worker_log);
  json_decref(replies);
  long long d[64];
  size_t n = first_retry_delays(E.worker_log, d, 64);
  cr_assert_geq(n, 3, "only %zu replies were refused (queue full); see %s", n,
                E.worker_log);
  size_t distinct = 0;
  for (size_t i = 0; i < n; i++) {
    cr_assert(d[i] >= 0 && d[i] <= 200, "first retry after %lld ms", d[i]);
    bool seen = false;
    for (size_t k = 0; k < i; k++)
      seen = seen || d[k] == d[i];
    distinct += !seen;
  }
  fprintf(stderr, "delivery: %zu first produce retries, %zu distinct "
          "delays\n", n, distinct);
  cr_assert_geq(distinct * 2, n, "%zu first retries but only %zu distinct "
                "delays: retries in lockstep", n, distinct);
}

/* ---- traceparent checked at intake --------------------------------------- */

/*
 * A malformed trace header is dropped (and logged) and a fresh one used:
 * the job runs. Before, a 55-byte value with a space was forwarded and
 * refused by the transport (dead letter, bad_args), and an all-zero or
 * upper-case trace id went southbound as it was.
 */
Test(delivery, malformed_traceparent_is_replaced_and_the_job_runs)
{
  pv_e2e_setup(&E, 1);
  pv_e2e_start_worker(&E, "e2e-trace", NULL);
  static const struct { const char *tag, *tp; bool valid; } c[] = {
    {"space", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0 ", false},
    {"zero", "00-00000000000000000000000000000000-00f067aa0ba902b7-01", false},
    {"upper", "00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01", false},
    {"valid", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", true},
  };
  char prefix[96];
  snprintf(prefix, sizeof(prefix), "TP%s-", E.suffix);
  for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
    char id[128];
    snprintf(id, sizeof(id), "%s%s", prefix, c[i].tag);
    json_t *j = json_pack("{s:i,s:s,s:s,s:s,s:s}", "v", 1, "id", id,
                          "tenant", "isp-east", "service", "voltha", "op",
                          "health_check");
    const char *h[] = {"traceparent", c[i].tp, NULL};
    pv_e2e_produce_job(&E, c[i].tag, j, false, h);
    json_decref(j);
  }
  cr_assert_eq(pv_te_wait_final(&E, prefix, 4, 30000), 4);
  cr_assert_eq(pv_te_sql_ll(&E, "SELECT count(*) FROM job_status WHERE "
                                "job_id LIKE $1 || '%' AND state = "
                                "'succeeded'", prefix), 4,
               "every job runs whatever its trace header; see %s",
               E.worker_log);
  for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
    char needle[256];
    snprintf(needle, sizeof(needle), "\"event\":\"job.traceparent_dropped\","
             "\"worker\":\"e2e-trace\",\"job_id\":\"%s%s\"", prefix, c[i].tag);
    cr_assert_eq(pv_te_count_text(E.worker_log, needle), c[i].valid ? 0 : 1,
                 "%s: traceparent %s; see %s", c[i].tag,
                 c[i].valid ? "kept" : "dropped once", E.worker_log);
  }
}

/* ---- replies never go back into the fleet -------------------------------- */

/* Produces a health_check (or, with dev, a get_device) job id on key id,
 * with reply_to in the field or (header true) in the reply-to header. */
static json_t *reply_to_job(const char *id, const char *dev,
                            const char *reply_to, bool header)
{
  json_t *j = json_pack("{s:i,s:s,s:s,s:s,s:s}", "v", 1, "id", id, "tenant",
                        "isp-east", "service", "voltha", "op",
                        dev ? "get_device" : "health_check");
  if (dev)
    json_object_set_new(j, "args", json_pack("{s:s}", "device_id", dev));
  if (reply_to && !header)
    json_object_set_new(j, "reply_to", json_string(reply_to));
  return j;
}

static void produce_reply_to(const char *id, const char *dev,
                             const char *reply_to, bool header)
{
  json_t *j = reply_to_job(id, dev, reply_to, header);
  const char *h[] = {"reply-to", reply_to, NULL};
  pv_e2e_produce_job(&E, id, j, false, reply_to && header ? h : NULL);
  json_decref(j);
}

/*
 * A reply addressed to a job topic came back as a job and was answered
 * again every half second, forever (and for an op with arguments the
 * sender also got a false dead_lettered reply). Such a reply topic (job
 * topic or its dead-letter topic, field or header) is now refused as
 * invalid_job, answered on the results topic; a row stored before with
 * such a reply topic is answered on the results topic too. The job topic
 * holds exactly the records produced.
 */
Test(delivery, reply_to_a_fleet_topic_is_refused_and_nothing_loops)
{
  pv_e2e_setup(&E, 1);
  char a[128], b[128], c[128], d[128];
  snprintf(a, sizeof(a), "LOOP%s-field", E.suffix);
  snprintf(b, sizeof(b), "LOOP%s-header-dlq", E.suffix);
  snprintf(c, sizeof(c), "LOOP%s-with-args", E.suffix);
  snprintf(d, sizeof(d), "LOOP%s-old-row", E.suffix);
  /* d: finished before the fix with the job topic as its reply topic; its
   * payload is the record d is sent again with (a redelivery: another
   * payload under this id would be refused as "id reused") */
  json_t *dj = reply_to_job(d, NULL, NULL, false);
  char *denc = NULL;
  size_t dlen = 0;
  cr_assert_eq(pv_doc_encode(dj, PV_FMT_MSGPACK, &denc, &dlen), 0);
  json_decref(dj);
  char dhex[512];
  cr_assert_lt(2 * dlen, sizeof(dhex));
  pv_hex_write(dhex, denc, dlen);
  free(denc);
  char sql[1024];
  snprintf(sql, sizeof(sql),
           "INSERT INTO job_status (job_id, tenant, service, op, state,"
           " source_topic, source_partition, source_offset, payload, reply,"
           " reply_topic, finished_at) VALUES ($1, 'isp-east', 'voltha',"
           " 'health_check', 'succeeded', 'x', 0, 0, '\\x%s', '\\x80', '%s',"
           " now()) RETURNING 'ok'", dhex, E.jobs_topic);
  char *ok = pv_e2e_sql_value(&E, sql, d);
  cr_assert_str_eq(ok, "ok");
  free(ok);
  pv_e2e_start_worker(&E, "e2e-loop", NULL);
  produce_reply_to(a, NULL, E.jobs_topic, false);
  produce_reply_to(b, NULL, E.dlq_topic, true);
  produce_reply_to(c, "LOOP-DEV-1", E.jobs_topic, false);
  produce_reply_to(d, NULL, NULL, false);

  char prefix[96];
  snprintf(prefix, sizeof(prefix), "LOOP%s-", E.suffix);
  cr_assert_eq(pv_te_wait_final(&E, prefix, 4, 30000), 4);
  char msg_a[512], msg_b[512], msg_c[512];
  snprintf(msg_a, sizeof(msg_a), "field \"reply_to\": \"%s\" is a job topic: "
           "a reply there would come back as a job", E.jobs_topic);
  snprintf(msg_b, sizeof(msg_b), "header \"reply-to\": \"%s\" is the "
           "dead-letter topic of %s", E.dlq_topic, E.jobs_topic);
  snprintf(msg_c, sizeof(msg_c), "field \"reply_to\": \"%s\" is a job topic",
           E.jobs_topic);
  const char *ids[] = {a, b, c}, *msgs[] = {msg_a, msg_b, msg_c};
  for (size_t i = 0; i < 3; i++) {
    char *row = pv_e2e_sql_value(&E, "SELECT state || ' ' || error_class || "
                                     "' ' || error_message FROM job_status "
                                     "WHERE job_id = $1", ids[i]);
    cr_assert(row && !strncmp(row, "dead invalid_job ", 17) &&
                  strstr(row, msgs[i]),
              "%s: row \"%s\" must be dead invalid_job saying \"%s\"", ids[i],
              row ? row : "(none)", msgs[i]);
    free(row);
  }
  json_t *replies = pv_te_count_by_key(&E, E.results_topic, 4, 30000);
  cr_assert_eq(json_object_size(replies), 4, "every job is answered on the "
               "results topic (%zu were)", json_object_size(replies));
  json_decref(replies);
  cr_assert_eq(pv_te_count_text(E.worker_log, "\"event\":\"job.reply_redirected\""),
               1, "the old row's reply goes to the results topic; see %s",
               E.worker_log);
  /* nothing came back: the job topic holds the 4 records produced */
  pv_te_sleep_ms(2000);
  long long records = pv_te_count_records(&E, E.jobs_topic);
  cr_assert_eq(records, 4, "the job topic holds %lld records: replies came "
               "back as jobs", records);
}

/* ---- replies and dead letters Kafka refuses -------------------------------- */

/*
 * A reply over reply_max_bytes is cut to the list items that fit and
 * marked truncated; the whole result stays in job_status.result.
 */
Test(delivery, a_reply_over_the_cap_is_cut_and_marked_truncated)
{
  pv_e2e_setup(&E, 1);
  pv_te_config_with(&E, conf_path, sizeof(conf_path),
                    "[kafka]\nreply_max_bytes = 4096\n");
  pv_e2e_start_worker(&E, "e2e-cap", NULL);
  char id[128];
  snprintf(id, sizeof(id), "CAP%s-list", E.suffix);
  json_t *j = json_pack("{s:i,s:s,s:s,s:s,s:s}", "v", 1, "id", id, "tenant",
                        "isp-east", "service", "voltha", "op", "list_devices");
  pv_e2e_produce_job(&E, "k", j, false, NULL);
  json_decref(j);
  json_t *recs = pv_te_read_records(&E, E.results_topic, 1, 30000);
  json_t *r = pv_te_only(recs, id);
  cr_assert_leq(json_integer_value(json_object_get(r, "bytes")), 4096);
  json_t *v = json_object_get(r, "value");
  cr_assert_str_eq(pv_te_str_at(v, "status", NULL), "succeeded");
  cr_assert(json_is_true(json_object_get(v, "truncated")));
  json_t *res = json_object_get(v, "result");
  cr_assert(json_is_true(json_object_get(res, "truncated")));
  size_t kept = json_array_size(json_object_get(res, "items"));
  cr_assert_gt(kept, 0, "some items fit in 4096 bytes");
  cr_assert_eq(json_integer_value(json_object_get(res, "count")),
               (json_int_t)kept);
  long long whole = pv_te_sql_ll(&E, "SELECT jsonb_array_length(result -> "
                                     "'items') FROM job_status WHERE job_id = "
                                     "$1", id);
  cr_assert_gt(whole, (long long)kept, "job_status.result keeps every item "
               "(%lld), the reply %zu", whole, kept);
  cr_assert_gt(json_integer_value(json_object_get(v, "reply_bytes")), 4096);
  json_decref(recs);
}

#define REFUSED_GOOD 20

/*
 * Kafka refuses a reply and a dead letter as too large (here the worker's
 * producer takes at most 8000 bytes; on a broker it is the topic's
 * max.message.bytes): the reply is replaced by a small reply_undeliverable
 * stub on the same topic, the dead letter goes without its value. Before,
 * both were retried every <= 30 s forever: the later jobs of the key were
 * never answered, the committed offset stopped, SIGTERM waited out the
 * drain timeout and every restart redelivered it all.
 */
Test(delivery, a_refused_reply_or_dead_letter_never_blocks_its_key)
{
  pv_e2e_setup(&E, 1);
  pv_te_config_with(&E, conf_path, sizeof(conf_path),
                    "[kafka]\nmessage.max.bytes = 8000\n"
                    /* kafka-mock hands a cleanly left member's partitions
                     * on only after its session timeout */
                    "session.timeout.ms = 6000\n"
                    "heartbeat.interval.ms = 500\n");
  pv_e2e_start_worker(&E, "e2e-refused", NULL);
  char big[128], bad[128], prefix[96];
  snprintf(prefix, sizeof(prefix), "REF%s-", E.suffix);
  snprintf(big, sizeof(big), "%sbig-reply", prefix);
  snprintf(bad, sizeof(bad), "%sbig-dead-letter", prefix);
  json_t *j = json_pack("{s:i,s:s,s:s,s:s,s:s}", "v", 1, "id", big, "tenant",
                        "isp-east", "service", "voltha", "op", "list_devices");
  pv_e2e_produce_job(&E, "key", j, false, NULL);
  json_decref(j);
  char *pad = malloc(20001);
  memset(pad, 'p', 20000);
  pad[20000] = '\0';
  j = json_pack("{s:i,s:s,s:s,s:s,s:s,s:{s:s}}", "v", 1, "id", bad, "tenant",
                "isp-east", "service", "voltha", "op", "health_check", "args",
                "pad", pad);
  free(pad);
  pv_e2e_produce_job(&E, "key", j, false, NULL);
  json_decref(j);
  for (int i = 0; i < REFUSED_GOOD; i++) {
    char id[128];
    snprintf(id, sizeof(id), "%sgood-%02d", prefix, i);
    j = json_pack("{s:i,s:s,s:s,s:s,s:s}", "v", 1, "id", id, "tenant",
                  "isp-east", "service", "voltha", "op", "health_check");
    pv_e2e_produce_job(&E, "key", j, false, NULL);
    json_decref(j);
  }
  const int total = REFUSED_GOOD + 2;
  cr_assert_eq(pv_te_wait_final(&E, prefix, total, 60000), total,
               "the jobs behind the refused ones must be answered; see %s",
               E.worker_log);
  json_t *recs = pv_te_read_records(&E, E.results_topic, (size_t)total, 30000);
  cr_assert_eq(json_object_size(recs), (size_t)total, "%zu replies",
               json_object_size(recs));
  json_t *stub = json_object_get(pv_te_only(recs, big), "value");
  cr_assert_str_eq(pv_te_str_at(stub, "status", NULL), "succeeded");
  cr_assert_str_eq(pv_te_str_at(stub, "error", "class"), "reply_undeliverable");
  cr_assert_str_eq(pv_te_str_at(stub, "reply_topic", NULL), E.results_topic);
  cr_assert_gt(json_integer_value(json_object_get(stub, "reply_bytes")), 8000);
  cr_assert(json_is_null(json_object_get(stub, "result")));
  cr_assert_str_eq(pv_te_str_at(json_object_get(pv_te_only(recs, bad), "value"), "status",
                          NULL), "dead_lettered");
  json_decref(recs);
  /* the dead letter: key and headers, no value, and how large it was */
  json_t *dl = pv_te_read_records(&E, E.dlq_topic, 1, 30000);
  json_t *d = pv_te_only(dl, "key");
  cr_assert_eq(json_integer_value(json_object_get(d, "bytes")), 0);
  cr_assert_str_eq(pv_te_str_at(d, "headers", "x-dlq-error-class"), "bad_args");
  const char *omitted = pv_te_str_at(d, "headers", "x-dlq-value-omitted");
  cr_assert(omitted && atoi(omitted) > 20000, "x-dlq-value-omitted: %s",
            omitted ? omitted : "(none)");
  json_decref(dl);
  /* the row keeps the record for a replay by id */
  cr_assert_gt(pv_te_sql_ll(&E, "SELECT length(payload) FROM job_status "
                                "WHERE job_id = $1", bad), 20000);
  /* every record is done: committed, SIGTERM prompt, nothing again */
  pv_te_assert_all_done(&E, total, "e2e-refused-b", &second);
}
