/* What the chaos suite observes, and the invariants it checks at the end
 * (docs/reliability.md): one final row per job, a reply for each,
 * per-key order, no mutation done twice, nothing blocked, no leak. */
#include "tests/chaos/chaos.h"

#include "common/alloc.h"
#include "db/pg.h"
#include "jobs/catalog.h"
#include "jobs/job.h"
#include "kafka/sync.h"
#include "tests/support/proc.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Drift the leak witness (worker slot 0, never stopped) may show between
 * the warm-up and the end: RSS up to this much over its baseline, plus a
 * share of it, and this many more descriptors. */
#define RSS_DRIFT_KB (16 * 1024)
#define RSS_DRIFT_PCT 50
/* Idle keep-alive connections a worker may keep (http.max_idle of the
 * run's config per endpoint: 3 tenants x 3 services) on top of a few. */
#define FD_DRIFT (CH_TENANTS * CH_LISTENERS * CH_MAX_IDLE + 8)

/* ---- the simulator's request log ------------------------------------- */

static bool mutating(const char *method)
{
  return strcmp(method, "GET") && strcmp(method, "HEAD");
}

static void note_request(ch_run_t *r, int l, const json_t *e)
{
  const char *tp = json_string_value(json_object_get(e, "traceparent"));
  int n = ch_job_of_traceparent(r, tp);
  if (n < 0) {
    r->foreign_requests++;
    return;
  }
  ch_job_t *j = &r->jobs[n];
  long long seq = json_integer_value(json_object_get(e, "seq"));
  long long mono = json_integer_value(json_object_get(e, "mono_ms"));
  const char *method = json_string_value(json_object_get(e, "method"));
  if (j->requests++ == 0) {
    j->listener = l;
    j->first_seq = seq;
    j->first_mono = mono;
  }
  j->last_seq = seq;
  j->last_mono = mono;
  if (!method || !mutating(method) ||
      !json_is_true(json_object_get(e, "handled")))
    return;
  /* per (job, method, path): an order's steps each send their own */
  char *k = pv_asprintf("%d %s %s", n, method,
                        json_string_value(json_object_get(e, "path")));
  if (!r->mutations)
    r->mutations = pv_map_new();
  uintptr_t c = (uintptr_t)pv_map_get(r->mutations, k) + 1;
  pv_map_put(r->mutations, k, (void *)c);
  free(k);
  if ((int)c > j->mutations)
    j->mutations = (int)c;
}

static const char *listener_url(const ch_run_t *r, int l)
{
  return l == 0 ? r->sim.voltha_url
                : l == 1 ? r->sim.genieacs_url : r->sim.netbox_url;
}

bool ch_check_poll_sim(ch_run_t *r, long long settle_ms)
{
  if (r->sim_dead)
    return false;
  for (int l = 0; l < CH_LISTENERS; l++) {
    for (int page = 0; page < 50; page++) {
      char url[512];
      snprintf(url, sizeof(url), "%s/_sim/requests?since=%lld&limit=10000",
               listener_url(r, l), r->sim_since[l]);
      json_t *list = pv_e2e_http_get_json(url);
      if (!json_is_array(list)) {
        json_decref(list);
        int st = 0;
        if (!pv_proc_alive(r->sim.pid, &st)) {
          /* nothing of ours stops it: another program killed it (pids
           * are recycled fast on a busy machine) or it crashed */
          r->sim_dead = true;
          r->sim.pid = 0;
          ch_violation(r, "infrastructure: the simulator exited (status "
                       "0x%x): its request log is lost", st);
        }
        return false; /* a slow answer: the next poll reads on */
      }
      size_t n = json_array_size(list);
      long long newest = n ? json_integer_value(json_object_get(
                                 json_array_get(list, n - 1), "mono_ms"))
                           : 0;
      size_t i;
      json_t *e;
      bool stopped = false;
      json_array_foreach(list, i, e)
      {
        long long mono = json_integer_value(json_object_get(e, "mono_ms"));
        /* `handled` of a recent request may still change (a delayed
         * answer): leave it for a later poll. */
        if (settle_ms > 0 && newest - mono < settle_ms) {
          stopped = true;
          break;
        }
        note_request(r, l, e);
        r->sim_since[l] = json_integer_value(json_object_get(e, "seq"));
      }
      json_decref(list);
      if (stopped || n < 10000)
        break;
    }
  }
  return true;
}

/* ---- process figures ------------------------------------------------- */

long ch_proc_rss_kb(pid_t pid)
{
  char path[64], line[256];
  snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
  FILE *f = fopen(path, "r");
  if (!f)
    return -1;
  long kb = -1;
  while (fgets(line, sizeof(line), f))
    if (!strncmp(line, "VmRSS:", 6)) {
      kb = strtol(line + 6, NULL, 10);
      break;
    }
  fclose(f);
  return kb;
}

long ch_proc_fds(pid_t pid)
{
  char path[64];
  snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
  DIR *d = opendir(path);
  if (!d)
    return -1;
  long n = 0;
  struct dirent *de;
  while ((de = readdir(d)))
    if (de->d_name[0] != '.')
      n++;
  closedir(d);
  return n;
}

/* ---- PostgreSQL ------------------------------------------------------ */

long long ch_check_final(ch_run_t *r)
{
  if (r->pg_down)
    return -1;
  char err[256], prefix[96];
  pv_pg_sync_t *db = pv_pg_sync_connect(r->e.pg, err, sizeof(err));
  if (!db)
    return -1;
  snprintf(prefix, sizeof(prefix), "ch-%s-", r->e.suffix);
  const char *params[] = {prefix};
  pv_pg_result_t *res = pv_pg_sync_query(
      db, "SELECT count(*) FROM job_status WHERE job_id LIKE $1 || '%'"
          " AND state IN ('succeeded', 'failed', 'dead')", 1, params);
  long long n = pv_pg_result_ok(res) && pv_pg_result_ntuples(res) == 1
                    ? strtoll(pv_pg_result_get(res, 0, 0), NULL, 10)
                    : -1;
  pv_pg_result_free(res);
  pv_pg_sync_close(db);
  return n;
}

static int job_index(const ch_run_t *r, const char *id)
{
  char prefix[96];
  int pl = snprintf(prefix, sizeof(prefix), "ch-%s-", r->e.suffix);
  if (!id || strncmp(id, prefix, (size_t)pl))
    return -1;
  char *end = NULL;
  long v = strtol(id + pl, &end, 10);
  if (*end || v < 0 || v >= r->njobs)
    return -1;
  return (int)v;
}

static void read_rows(ch_run_t *r)
{
  char err[256], prefix[96];
  pv_pg_sync_t *db = pv_pg_sync_connect(r->e.pg, err, sizeof(err));
  cr_assert_not_null(db, "PostgreSQL: %s", err);
  snprintf(prefix, sizeof(prefix), "ch-%s-", r->e.suffix);
  const char *params[] = {prefix};
  pv_pg_result_t *res = pv_pg_sync_query(
      db, "SELECT job_id, state, coalesce(error_class, ''), runs, attempts"
          " FROM job_status WHERE job_id LIKE $1 || '%'", 1, params);
  cr_assert(pv_pg_result_ok(res), "%s", pv_pg_result_error(res));
  for (int i = 0; i < pv_pg_result_ntuples(res); i++) {
    int n = job_index(r, pv_pg_result_get(res, i, 0));
    if (n < 0 || !r->jobs[n].produced) {
      ch_violation(r, "exactly one row: row %s belongs to no job produced",
                   pv_pg_result_get(res, i, 0));
      continue;
    }
    ch_job_t *j = &r->jobs[n];
    j->rows++;
    snprintf(j->state, sizeof(j->state), "%s", pv_pg_result_get(res, i, 1));
    snprintf(j->error_class, sizeof(j->error_class), "%s",
             pv_pg_result_get(res, i, 2));
    j->runs = (int)strtol(pv_pg_result_get(res, i, 3), NULL, 10);
    j->attempts = (int)strtol(pv_pg_result_get(res, i, 4), NULL, 10);
  }
  pv_pg_result_free(res);
  pv_pg_sync_close(db);
}

/* ---- Kafka ----------------------------------------------------------- */

/* @returns a reply's or dead letter's value decoded (its content-type
 * names the format), or NULL. */
static json_t *decode_value(const pv_ksync_msg_t *m)
{
  const char *ct = pv_ksync_msg_header(m, "content-type");
  json_t *doc = NULL;
  char err[128];
  if (!m->value || pv_doc_decode(m->value, m->len,
                                 ct && strstr(ct, "json") ? PV_FMT_JSON
                                                          : PV_FMT_MSGPACK,
                                 &doc, err, sizeof(err)) != 0)
    return NULL;
  return doc;
}

/* A job's replies may repeat (at-least-once) but never disagree: two
 * statuses would mean two outcomes of one job. */
static void note_reply(ch_run_t *r, int n, const pv_ksync_msg_t *m)
{
  ch_job_t *j = &r->jobs[n];
  j->replies++;
  json_t *doc = decode_value(m);
  const char *st = json_string_value(json_object_get(doc, "status"));
  if (!st) {
    char id[96];
    ch_job_id(r, n, id, sizeof(id));
    ch_violation(r, "a reply: job %s has an undecodable reply", id);
  } else if (!j->reply_status[0]) {
    snprintf(j->reply_status, sizeof(j->reply_status), "%s", st);
  } else if (strcmp(j->reply_status, st)) {
    char id[96];
    ch_job_id(r, n, id, sizeof(id));
    ch_violation(r, "one outcome: job %s (%s) was answered %s and %s", id,
                 ch_kind(j->kind)->name, j->reply_status, st);
  }
  json_decref(doc);
}

/* Reads topic to its end as of now; counts per job (replies or dead
 * letters). */
static void read_topic(ch_run_t *r, const char *topic, bool dlq)
{
  char err[256];
  pv_ksync_consumer_t *c =
      pv_ksync_consumer_snapshot(r->e.brokers, topic, err, sizeof(err));
  cr_assert_not_null(c, "cannot read %s: %s", topic, err);
  for (int idle = 0; idle < 30 && !pv_ksync_consumer_drained(c);) {
    pv_ksync_msg_t *m = pv_ksync_consume(c, 1000);
    if (!m) {
      idle++;
      continue;
    }
    if (dlq) {
      /* a dead letter carries the original record: its key is the Kafka
       * key, the job id is inside the value */
      json_t *doc = decode_value(m);
      int n = job_index(r, json_string_value(json_object_get(doc, "id")));
      json_decref(doc);
      if (n >= 0)
        r->jobs[n].dead_letters++;
    } else {
      int n = job_index(r, m->key);
      if (n >= 0)
        note_reply(r, n, m);
    }
    pv_ksync_msg_destroy(m);
  }
  cr_assert(pv_ksync_consumer_drained(c), "%s was not read to its end", topic);
  pv_ksync_consumer_destroy(c);
}

/* ---- invariants ------------------------------------------------------ */

static void check_rows(ch_run_t *r)
{
  for (int n = 0; n < r->njobs; n++) {
    ch_job_t *j = &r->jobs[n];
    if (!j->produced)
      continue;
    const ch_kind_t *k = ch_kind(j->kind);
    char id[96];
    ch_job_id(r, n, id, sizeof(id));
    if (j->rows != 1)
      ch_violation(r, "exactly one row: job %s (%s) has %d", id, k->name,
                   j->rows);
    else if (strcmp(j->state, "succeeded") && strcmp(j->state, "failed") &&
             strcmp(j->state, "dead"))
      ch_violation(r, "no key blocked: job %s (%s, key k%d) is still %s",
                   id, k->name, j->key, j->state);
    else if (k->expect_state && (strcmp(j->state, k->expect_state) ||
                                 strcmp(j->error_class, k->expect_class)))
      ch_violation(r, "clear error: job %s (%s) ended %s/%s, not %s/%s", id,
                   k->name, j->state, j->error_class, k->expect_state,
                   k->expect_class);
    if (j->replies < 1)
      ch_violation(r, "a reply: job %s (%s, %s) has none", id, k->name,
                   j->state);
    if (!strcmp(j->state, "dead") && j->dead_letters < 1)
      ch_violation(r, "a dead letter: dead job %s (%s) has none", id,
                   k->name);
  }
}

/* Jobs of one (tenant, key) reach the services in production order: all
 * requests of a job come before any of the next one's. Requests on one
 * listener compare by sequence, across listeners by the simulator's
 * monotonic clock (ms: equal times cannot be told apart). */
static void check_order(ch_run_t *r)
{
  int lanes = CH_TENANTS * r->keys;
  int *last = pv_malloc((size_t)lanes * sizeof(int));
  for (int i = 0; i < lanes; i++)
    last[i] = -1;
  for (int n = 0; n < r->njobs; n++) {
    ch_job_t *j = &r->jobs[n];
    if (!j->produced || !j->requests)
      continue;
    int lane = j->tenant * r->keys + j->key;
    if (last[lane] >= 0) {
      ch_job_t *p = &r->jobs[last[lane]];
      bool ok = p->listener == j->listener ? p->last_seq < j->first_seq
                                           : p->last_mono <= j->first_mono;
      if (!ok) {
        char a[96], b[96];
        ch_job_id(r, last[lane], a, sizeof(a));
        ch_job_id(r, n, b, sizeof(b));
        ch_violation(r, "per-key order: %s key k%d: %s (%s) still sent a "
                     "request after %s (%s) started (seq %lld/%lld, mono "
                     "%lld/%lld)", ch_tenant_names[j->tenant], j->key, a,
                     ch_kind(p->kind)->name, b, ch_kind(j->kind)->name,
                     p->last_seq, j->first_seq, p->last_mono, j->first_mono);
      }
    }
    last[lane] = n;
  }
  free(last);
}

/* A mutating request that took effect twice for one job is allowed only
 * for an idempotent op whose row records the repeat (another run, or the
 * attempts). */
static int check_mutations(ch_run_t *r)
{
  int repeats = 0;
  for (int n = 0; n < r->njobs; n++) {
    ch_job_t *j = &r->jobs[n];
    if (j->mutations <= 1)
      continue;
    const ch_kind_t *k = ch_kind(j->kind);
    const pv_op_t *op = pv_catalog_find(k->service, k->op);
    char id[96];
    ch_job_id(r, n, id, sizeof(id));
    if (op && op->idempotent && (j->runs > 1 || j->attempts >= j->mutations)) {
      repeats++;
      continue;
    }
    ch_violation(r, "done twice: job %s (%s, %s) had %d mutating requests "
                 "take effect (runs %d, attempts %d, state %s/%s)", id,
                 k->name, op && op->idempotent ? "idempotent" :
                 "not idempotent", j->mutations, j->runs, j->attempts,
                 j->state, j->error_class);
  }
  return repeats;
}

static void check_processes(ch_run_t *r)
{
  for (int i = 0; i < r->nworkers; i++) {
    ch_worker_t *w = &r->workers[i];
    fprintf(stderr, "chaos: worker %d%s: RSS %ld -> %ld KiB, fds %ld -> %ld"
            "%s\n", i, i == 0 ? " (never stopped)" : "", w->base_rss_kb,
            w->end_rss_kb, w->base_fds, w->end_fds,
            w->restarted ? " (restarted since the baseline)" : "");
    if (i != 0 || w->base_rss_kb < 0 || w->end_rss_kb < 0)
      continue;
    long rss_cap = w->base_rss_kb + RSS_DRIFT_KB +
                   w->base_rss_kb * RSS_DRIFT_PCT / 100;
    if (w->end_rss_kb > rss_cap)
      ch_violation(r, "no leak: worker 0's RSS grew from %ld to %ld KiB "
                   "(cap %ld)", w->base_rss_kb, w->end_rss_kb, rss_cap);
    if (w->end_fds > w->base_fds + FD_DRIFT)
      ch_violation(r, "no leak: worker 0's descriptors grew from %ld to %ld",
                   w->base_fds, w->end_fds);
  }
}

/* ---- the report ------------------------------------------------------ */

static void report(ch_run_t *r, long long drain_ms, int repeats)
{
  int by_fault[CH_F__COUNT], dup_by[CH_F__COUNT + 1] = {0};
  int rerun_by[CH_F__COUNT + 1] = {0};
  ch_fault_counts(r, by_fault);
  int produced = 0, dups = 0, dup_replies = 0, reruns = 0;
  int states[4] = {0}; /* succeeded, failed, dead, other */
  for (int n = 0; n < r->njobs; n++) {
    ch_job_t *j = &r->jobs[n];
    if (!j->produced)
      continue;
    produced++;
    int f = j->first_fault == CH_NO_FAULT ? CH_F__COUNT
                                          : (int)r->events[j->first_fault].kind;
    if (j->replies > 1) {
      dups++;
      dup_replies += j->replies - 1;
      dup_by[f] += j->replies - 1;
    }
    if (j->runs > 1) {
      reruns++;
      rerun_by[f]++;
    }
    states[!strcmp(j->state, "succeeded") ? 0 : !strcmp(j->state, "failed") ? 1
           : !strcmp(j->state, "dead") ? 2 : 3]++;
  }
  fprintf(stderr, "chaos: seed %llu: %d jobs (%d succeeded, %d failed, %d "
          "dead, %d other), drained %lld ms after the faults stopped\n",
          (unsigned long long)r->seed, produced, states[0], states[1],
          states[2], states[3], drain_ms);
  fprintf(stderr, "chaos: faults injected:");
  for (int k = 0; k < CH_F__COUNT; k++)
    if (by_fault[k])
      fprintf(stderr, " %s %d,", ch_fault_names[k], by_fault[k]);
  fprintf(stderr, "\nchaos: duplicate replies %d (of %d jobs) by the first "
          "fault after the job:", dup_replies, dups);
  for (int k = 0; k <= CH_F__COUNT; k++)
    if (dup_by[k])
      fprintf(stderr, " %s %d,", k == CH_F__COUNT ? "final stop" : ch_fault_names[k],
              dup_by[k]);
  fprintf(stderr, "\nchaos: jobs with more than one run (parked, taken over) %d:", reruns);
  for (int k = 0; k <= CH_F__COUNT; k++)
    if (rerun_by[k])
      fprintf(stderr, " %s %d,", k == CH_F__COUNT ? "final stop" : ch_fault_names[k],
              rerun_by[k]);
  fprintf(stderr, "\nchaos: idempotent mutations repeated (allowed) %d; "
          "requests of no job %lld; invariants broken %d\n", repeats,
          r->foreign_requests, r->violations);
  /* outcomes per kind, for reading a failure */
  for (int k = 0; k < ch_kind_count(); k++) {
    int cnt[4] = {0};
    for (int n = 0; n < r->njobs; n++) {
      ch_job_t *j = &r->jobs[n];
      if (!j->produced || j->kind != k)
        continue;
      cnt[!strcmp(j->state, "succeeded") ? 0 : !strcmp(j->state, "failed") ? 1
          : !strcmp(j->state, "dead") ? 2 : 3]++;
    }
    if (cnt[0] + cnt[1] + cnt[2] + cnt[3])
      fprintf(stderr, "chaos:   %-26s succeeded %5d failed %5d dead %5d "
              "other %d\n", ch_kind(k)->name, cnt[0], cnt[1], cnt[2], cnt[3]);
  }
}

void ch_check_all(ch_run_t *r, long long drain_ms)
{
  if (!ch_check_poll_sim(r, 0) && !r->sim_dead)
    ch_violation(r, "infrastructure: the simulator's request log could not "
                 "be read at the end");
  read_rows(r);
  read_topic(r, r->e.results_topic, false);
  read_topic(r, r->alt_topic, false);
  read_topic(r, r->e.dlq_topic, true);
  /* the first fault started after each job was acknowledged */
  for (int n = 0, ev = 0; n < r->njobs; n++) {
    ch_job_t *j = &r->jobs[n];
    while (ev < r->nevents && r->events[ev].started_ms &&
           r->events[ev].started_ms < j->produced_ms)
      ev++;
    j->first_fault = ev < r->nevents && r->events[ev].started_ms ? ev
                                                                 : CH_NO_FAULT;
  }
  check_rows(r);
  check_order(r);
  int repeats = check_mutations(r);
  check_processes(r);
  report(r, drain_ms, repeats);
}
