#include "db/store.h"

#include "common/alloc.h"
#include "common/bytes.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/backoff.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Waits between two tries of a write that failed transiently: full jitter
 * (common/backoff.h) from 50 ms doubling up to 5 s, so the workers of a
 * fleet that lost PostgreSQL together do not all write again in lockstep
 * when it comes back. */
#define RETRY_BASE_MS 50
#define RETRY_CAP_MS 5000

typedef struct write_op write_op_t;

struct pv_store_s {
  uv_loop_t *loop;
  pv_pg_t *pg;
  char *worker_id;
  int pending;       /* writes not yet answered */
  write_op_t *waiting; /* writes whose retry timer is armed */
  int depth;         /* >0 while a write's callback runs */
  bool closing;      /* pv_store_close was called */
  uint64_t rng;      /* retry jitter */
};

/* One statement with owned copies of its parameters, retried until it
 * succeeds or fails permanently. It is always in exactly one place: in
 * the pg layer (its callback will come from there), or on the store's
 * waiting list with its retry timer armed. */
typedef void (*write_done_fn)(write_op_t *w, const pv_pg_result_t *res,
                              bool ok);

struct write_op {
  pv_store_t *store;
  const char *sql;   /* static text */
  const char *what;  /* for logs: "claim", "finish", ... */
  char *job_id;      /* for logs, may be NULL */
  int nparams;
  char **params;
  int tries;
  write_op_t *wprev, *wnext; /* the waiting list */
  bool waiting;
  uv_timer_t timer;
  write_done_fn done;
  void *cb;          /* the caller's callback, by kind */
  void *arg;
};

static char *dup_or_null(const char *s)
{
  return s ? pv_strdup(s) : NULL;
}

static char *fmt_ll(long long v)
{
  return pv_asprintf("%lld", v);
}

/* bytea in text format: \x followed by hex. */
static char *bytea_hex(const void *data, size_t len)
{
  if (!data)
    return NULL;
  char *s = pv_malloc(2 * len + 3);
  s[0] = '\\';
  s[1] = 'x';
  pv_hex_write(s + 2, data, len);
  return s;
}

static void write_free(write_op_t *w)
{
  for (int i = 0; i < w->nparams; i++)
    free(w->params[i]);
  free(w->params);
  free(w->job_id);
  free(w);
}

static void on_timer_closed(uv_handle_t *h)
{
  write_free(h->data);
}

static void store_free(pv_store_t *s)
{
  free(s->worker_id);
  free(s);
}

/* A closed store goes when its last write has had its callback, and not
 * while one of those callbacks is still on the stack. */
static void store_maybe_free(pv_store_t *s)
{
  if (s->closing && s->pending == 0 && s->depth == 0)
    store_free(s);
}

static void unwait(write_op_t *w)
{
  pv_store_t *s = w->store;
  if (!w->waiting)
    return;
  uv_timer_stop(&w->timer);
  if (w->wprev)
    w->wprev->wnext = w->wnext;
  else
    s->waiting = w->wnext;
  if (w->wnext)
    w->wnext->wprev = w->wprev;
  w->wprev = w->wnext = NULL;
  w->waiting = false;
}

static void write_finish(write_op_t *w, const pv_pg_result_t *res, bool ok)
{
  pv_store_t *s = w->store;
  unwait(w);
  s->pending--;
  s->depth++;
  w->done(w, res, ok);
  s->depth--;
  /* the timer was initialised at creation: close it, free afterwards */
  uv_close((uv_handle_t *)&w->timer, on_timer_closed);
  store_maybe_free(s);
}

static void write_send(write_op_t *w);

static void on_retry_timer(uv_timer_t *t)
{
  write_op_t *w = t->data;
  unwait(w);
  write_send(w);
}

/* Arms w's timer for its next try. */
static uint64_t retry_later(write_op_t *w)
{
  pv_store_t *s = w->store;
  w->tries++;
  uint64_t delay = (uint64_t)pv_backoff_full_jitter(
      w->tries, RETRY_BASE_MS, RETRY_CAP_MS, pv_backoff_rand(&s->rng));
  w->waiting = true;
  w->wprev = NULL;
  w->wnext = s->waiting;
  if (s->waiting)
    s->waiting->wprev = w;
  s->waiting = w;
  uv_timer_start(&w->timer, on_retry_timer, delay, 0);
  return delay;
}

/* SQLSTATE classes worth trying again: connection, rollback (deadlock,
 * serialization), resources, operator intervention, system errors. The
 * pg layer's own refusals (shutting down) also come without a SQLSTATE,
 * but they are told apart before this (pv_pg_result_closed). */
static bool transient_sqlstate(const char *st)
{
  static const char *const classes[] = {"08", "40", "53", "57", "58", NULL};
  if (!st || strlen(st) < 2)
    return true; /* no SQLSTATE: libpq lost the connection, not the statement */
  for (int i = 0; classes[i]; i++)
    if (!strncmp(st, classes[i], 2))
      return true;
  return false;
}

static void on_result(const pv_pg_result_t *res, void *arg)
{
  write_op_t *w = arg;
  if (pv_pg_result_ok(res)) {
    write_finish(w, res, true);
    return;
  }
  bool lost = pv_pg_result_connection_lost(res);
  const char *st = pv_pg_result_sqlstate(res);
  /* A closed pg layer will never run it: trying again would spin on a
   * timer forever and keep the loop from ending. */
  if (w->store->closing || pv_pg_result_closed(res) ||
      (!lost && !transient_sqlstate(st))) {
    pv_log(PV_LOG_ERROR, "store.write_failed", PV_S("write", w->what),
           PV_S("job_id", w->job_id), PV_S("sqlstate", st),
           PV_S("error", pv_pg_result_error(res)));
    write_finish(w, res, false);
    return;
  }
  /* Idempotent by construction: send it again, with backoff. */
  uint64_t delay = retry_later(w);
  pv_log(w->tries == 1 ? PV_LOG_WARN : PV_LOG_DEBUG, "store.write_retry",
         PV_S("write", w->what), PV_S("job_id", w->job_id),
         PV_I("try", w->tries), PV_I("delay_ms", delay),
         PV_B("connection_lost", lost), PV_S("error", pv_pg_result_error(res)));
}

static void write_send(write_op_t *w)
{
  int rc = pv_pg_query(w->store->pg, w->sql, w->nparams,
                       (const char *const *)w->params, on_result, w);
  if (rc == PV_PG_OK)
    return;
  if (rc == PV_PG_EFULL) {
    /* The queue is full (PostgreSQL down for long): wait and try again. */
    retry_later(w);
    return;
  }
  pv_log(PV_LOG_ERROR, "store.write_failed", PV_S("write", w->what),
         PV_S("job_id", w->job_id),
         PV_S("error", rc == PV_PG_ECLOSED ? "PostgreSQL handle closed"
                                           : "statement refused"));
  write_finish(w, NULL, false);
}

static void write_new(pv_store_t *s, const char *what, const char *sql,
                      const char *job_id, int nparams, char **params,
                      write_done_fn done, void *cb, void *arg)
{
  write_op_t *w = pv_calloc(1, sizeof(*w));
  w->store = s;
  w->what = what;
  w->sql = sql;
  w->job_id = dup_or_null(job_id);
  w->nparams = nparams;
  w->params = params;
  w->done = done;
  w->cb = cb;
  w->arg = arg;
  uv_timer_init(s->loop, &w->timer);
  w->timer.data = w;
  s->pending++;
  if (s->closing) {
    /* A write after pv_store_close is a caller's bug: fail it at once
     * rather than send it past the close. */
    pv_log(PV_LOG_ERROR, "store.write_after_close", PV_S("write", what),
           PV_S("job_id", job_id));
    write_finish(w, NULL, false);
    return;
  }
  write_send(w);
}

pv_store_t *pv_store_new(uv_loop_t *loop, pv_pg_t *pg, const char *worker_id)
{
  pv_store_t *s = pv_calloc(1, sizeof(*s));
  s->loop = loop;
  s->pg = pg;
  s->worker_id = pv_strdup(worker_id);
  s->rng = pv_clock_mono_us() ^ (uint64_t)(uintptr_t)s;
  return s;
}

void pv_store_close(pv_store_t *s)
{
  if (!s || s->closing)
    return;
  s->closing = true;
  /* Writes waiting for their next try fail now; their callbacks run here.
   * Writes inside the pg layer fail when it is destroyed (or answer
   * before); the store stays until the last of them has answered. */
  s->depth++;
  while (s->waiting) {
    write_op_t *w = s->waiting;
    pv_log(PV_LOG_WARN, "store.write_abandoned", PV_S("write", w->what),
           PV_S("job_id", w->job_id), PV_I("tries", w->tries));
    write_finish(w, NULL, false);
  }
  s->depth--;
  store_maybe_free(s);
}

/* ---- claim -------------------------------------------------------------- */

/* Inserts the job as running, or takes it over when its last run's lease
 * has expired; otherwise reports the existing row. A new job whose key
 * has an earlier job parked (or running, here or elsewhere) is inserted
 * parked behind it, so a key's jobs keep their order across retries. Job
 * ids are unique per tenant: an existing row of the tenant under this id
 * is taken over only if it is the same job (service, op and payload: a
 * redelivery or a provctl replay), and reported with same = false
 * otherwise. The final SELECT sees the snapshot from before the INSERT:
 * the row as it was. */
static const char CLAIM_SQL[] =
  "WITH b AS ("
  " SELECT job_id, next_attempt_at FROM job_status"
  "  WHERE $5::bytea IS NOT NULL AND tenant = $2::text"
  "   AND ordering_key_hash = sha256($5::bytea)"
  "   AND ordering_key = $5::bytea AND job_id <> $1::text"
  "   AND state NOT IN ('succeeded', 'failed', 'dead')"
  /* Neither the state test (NOT IN) nor the lease test (a CASE, not an
   * OR) can be served by an index, so only the (tenant, key hash) index
   * of 006 can: with them indexable, the planner scanned every job in
   * flight of the tenant at each claim (1-7 ms; throughput fell
   * fourfold). */
  /* A job running here counts too: jobs the due scan runs are in no
   * in-process lane, so only this row orders them. */
  "   AND CASE WHEN state = 'running' THEN lease_until > now()"
  "        ELSE true END"
  "  LIMIT 1),"
  " c AS ("
  " INSERT INTO job_status AS j (job_id, tenant, service, op, ordering_key,"
  "  state, runs, source_topic, source_partition, source_offset, reply_topic,"
  "  correlation_id, content_type, payload, headers, received_at, started_at,"
  "  deadline, lease_until, worker_id, next_attempt_at, retry_reason)"
  " SELECT $1::text, $2::text, $3::text, $4::text, $5::bytea,"
  "  CASE WHEN b.job_id IS NULL THEN 'running' ELSE 'retry_wait' END,"
  "  CASE WHEN b.job_id IS NULL THEN 1 ELSE 0 END, $6::text, $7::int,"
  "  $8::bigint, $9::text, $10::bytea, $11::text, $12::bytea, $13::jsonb,"
  "  to_timestamp($14::bigint / 1000.0),"
  "  CASE WHEN b.job_id IS NULL THEN now() END,"
  "  to_timestamp($15::bigint / 1000.0),"
  "  CASE WHEN b.job_id IS NULL"
  "   THEN now() + $16::int * interval '1 millisecond' END, $17::text,"
  "  CASE WHEN b.job_id IS NOT NULL"
  "   THEN greatest(coalesce(b.next_attempt_at, now()),"
  "                 now() + interval '1 second') END,"
  "  CASE WHEN b.job_id IS NOT NULL THEN 'behind ' || b.job_id END"
  "  FROM (SELECT 1) one LEFT JOIN b ON true"
  " ON CONFLICT (job_id, tenant) DO UPDATE SET state = 'running',"
  "  runs = j.runs + 1,"
  "  started_at = now(), lease_until = EXCLUDED.lease_until,"
  "  worker_id = EXCLUDED.worker_id, source_topic = EXCLUDED.source_topic,"
  "  source_partition = EXCLUDED.source_partition,"
  "  source_offset = EXCLUDED.source_offset, updated_at = now()"
  " WHERE EXCLUDED.state = 'running'"
  "  AND j.state IN ('received', 'running', 'retry_wait')"
  "  AND NOT (j.state = 'retry_wait' AND j.next_attempt_at > now())"
  "  AND (j.lease_until IS NULL OR j.lease_until < now()"
  "       OR j.worker_id = EXCLUDED.worker_id)"
  "  AND j.service = EXCLUDED.service AND j.op = EXCLUDED.op"
  "  AND j.payload = EXCLUDED.payload"
  " RETURNING j.runs, j.state, j.reached, j.retry_reason)"
  " SELECT CASE WHEN state = 'running' THEN 'claimed' ELSE 'parked' END,"
  "  runs, state, NULL::bytea, NULL::text, NULL::text, NULL::bigint,"
  "  retry_reason, NULL::text, NULL::text, reached, NULL::boolean, true,"
  "  NULL::text, NULL::text,"
  /* the row before this statement: running means a run was cut off */
  "  coalesce((SELECT p.state = 'running' FROM job_status p"
  "            WHERE p.job_id = $1::text AND p.tenant = $2::text), false)"
  "  FROM c"
  " UNION ALL"
  " SELECT 'existing', runs, state, reply, reply_topic, dlq_topic,"
  "  (extract(epoch FROM lease_until - now()) * 1000)::bigint, worker_id,"
  "  error_class, error_message, attempts,"
  /* published, and finished from this very record (schema 007) */
  "  published_at IS NOT NULL AND source_topic = $6::text"
  "   AND source_partition = $7::int AND source_offset = $8::bigint,"
  /* the same job (a redelivery or a replay), or another under this id */
  "  service = $3::text AND op = $4::text AND payload = $12::bytea,"
  "  service, op, false"
  "  FROM job_status WHERE job_id = $1::text AND tenant = $2::text"
  "  AND NOT EXISTS (SELECT 1 FROM c)";

const char *pv_store_claim_sql(void)
{
  return CLAIM_SQL;
}

static void claim_done(write_op_t *w, const pv_pg_result_t *res, bool ok)
{
  pv_claim_cb cb = (pv_claim_cb)w->cb;
  pv_claim_t c;
  memset(&c, 0, sizeof(c));
  if (!ok || pv_pg_result_ntuples(res) < 1) {
    c.status = PV_CLAIM_ERROR;
    cb(&c, w->arg);
    return;
  }
  const char *kind = pv_pg_result_get(res, 0, 0);
  const char *runs = pv_pg_result_get(res, 0, 1);
  c.runs = runs ? (int)strtol(runs, NULL, 10) : 0;
  if (!strcmp(kind, "claimed")) {
    const char *reached = pv_pg_result_get(res, 0, 10);
    const char *cut = pv_pg_result_get(res, 0, 15);
    c.status = PV_CLAIM_OK;
    c.reached = reached ? (int)strtol(reached, NULL, 10) : 0;
    c.interrupted = cut && cut[0] == 't';
    cb(&c, w->arg);
    return;
  }
  if (!strcmp(kind, "parked")) {
    c.status = PV_CLAIM_PARKED;
    c.state = "retry_wait";
    c.worker_id = pv_pg_result_get(res, 0, 7); /* the reason: behind X */
    cb(&c, w->arg);
    return;
  }
  c.state = pv_pg_result_get(res, 0, 2);
  const char *same = pv_pg_result_get(res, 0, 12);
  if (same && !strcmp(same, "f")) {
    /* the tenant's id names another job: never answered with its reply */
    c.status = PV_CLAIM_REUSED;
    c.service = pv_pg_result_get(res, 0, 13);
    c.op = pv_pg_result_get(res, 0, 14);
    cb(&c, w->arg);
    return;
  }
  if (c.state && (!strcmp(c.state, "succeeded") || !strcmp(c.state, "failed") ||
                  !strcmp(c.state, "dead"))) {
    size_t len = 0;
    void *reply = pv_bytea_decode(pv_pg_result_get(res, 0, 3), &len);
    c.status = PV_CLAIM_FINAL;
    c.reply = reply;
    c.reply_len = len;
    c.reply_topic = pv_pg_result_get(res, 0, 4);
    c.dlq_topic = pv_pg_result_get(res, 0, 5);
    c.error_class = pv_pg_result_get(res, 0, 8);
    c.error_message = pv_pg_result_get(res, 0, 9);
    const char *att = pv_pg_result_get(res, 0, 10);
    c.attempts = att ? (int)strtol(att, NULL, 10) : 0;
    const char *pub = pv_pg_result_get(res, 0, 11);
    c.published = pub && !strcmp(pub, "t");
    cb(&c, w->arg);
    free(reply);
    return;
  }
  if (c.state && !strcmp(c.state, "retry_wait")) {
    /* Parked already and not yet due (a duplicate record): the parked
     * job runs when it is due. */
    c.status = PV_CLAIM_PARKED;
    cb(&c, w->arg);
    return;
  }
  const char *left = pv_pg_result_get(res, 0, 6);
  c.status = PV_CLAIM_BUSY;
  c.lease_left_ms = left ? strtoll(left, NULL, 10) : 0;
  c.worker_id = pv_pg_result_get(res, 0, 7);
  cb(&c, w->arg);
}

/* Parameters $5..$13 of the claim and the invalid-record insert: the key
 * and provenance of the record, as bytes where they are bytes. */
static void job_params(const pv_store_job_t *j, char **p)
{
  p[4] = bytea_hex(j->ordering_key, j->ordering_key_len);
  p[5] = pv_strdup(j->source_topic);
  p[6] = fmt_ll(j->source_partition);
  p[7] = fmt_ll(j->source_offset);
  p[8] = dup_or_null(j->reply_topic);
  p[9] = bytea_hex(j->correlation_id, j->correlation_id_len);
  p[10] = pv_strdup(j->content_type ? j->content_type : "application/msgpack");
  p[11] = bytea_hex(j->payload ? j->payload : "", j->payload_len);
  p[12] = pv_strdup(j->headers_json ? j->headers_json : "[]");
}

void pv_store_claim(pv_store_t *s, const pv_store_job_t *j, pv_claim_cb cb,
                    void *arg)
{
  char **p = pv_calloc(17, sizeof(char *));
  p[0] = pv_strdup(j->job_id);
  p[1] = pv_strdup(j->tenant);
  p[2] = pv_strdup(j->service);
  p[3] = pv_strdup(j->op);
  job_params(j, p);
  p[13] = fmt_ll(j->received_at_ms);
  p[14] = j->deadline_ms ? fmt_ll(j->deadline_ms) : NULL;
  p[15] = fmt_ll(j->lease_ms);
  p[16] = pv_strdup(s->worker_id);
  write_new(s, "claim", CLAIM_SQL, j->job_id, 17, p, claim_done, (void *)cb,
            arg);
}

/* ---- finish ------------------------------------------------------------- */

/* The outcome of run $15 of worker $16 ($15 = 0: not fenced). Written
 * only while the row is still that run's: a run cut off from PostgreSQL
 * longer than its lease may find its job taken over by another worker,
 * whose outcome stands. Answers 'ok' when the row holds this run's
 * outcome (also when an earlier try of this very statement wrote it and
 * the answer was lost), 'lost' otherwise. */
static const char FINISH_SQL[] =
  "WITH u AS ("
  " UPDATE job_status SET state = $2::text, attempts = attempts + $3::int,"
  " reached = reached + CASE WHEN $3::int > 0 THEN 1 ELSE 0 END,"
  " result = $4::jsonb, error_class = $5::text, error_message = $6::text,"
  " http_status = $7::int,"
  " errors = CASE WHEN $5::text IS NULL THEN errors ELSE errors ||"
  "  jsonb_build_array(jsonb_build_object('at', now(), 'class', $5::text,"
  "  'message', $6::text, 'http_status', $7::int, 'attempts', $3::int)) END,"
  " reply = $8::bytea, reply_topic = $9::text, dlq_topic = $10::text,"
  " finished_at = CASE WHEN $2::text IN ('succeeded', 'failed', 'dead')"
  "  THEN now() END,"
  " next_attempt_at = to_timestamp($11::bigint / 1000.0),"
  " retry_reason = $12::text, breaker_state = $13::text, lease_until = NULL,"
  " published_at = NULL, updated_at = now()"
  " WHERE job_id = $1::text AND tenant = $14::text"
  "  AND state NOT IN ('succeeded', 'failed', 'dead')"
  "  AND ($15::int = 0 OR (runs = $15::int AND worker_id = $16::text))"
  " RETURNING 1)"
  " SELECT CASE WHEN EXISTS (SELECT 1 FROM u) THEN 'ok'"
  "  WHEN $15::int = 0 THEN 'ok'"
  "  WHEN EXISTS (SELECT 1 FROM job_status WHERE job_id = $1::text"
  "   AND tenant = $14::text AND runs = $15::int AND worker_id = $16::text"
  "   AND state = $2::text) THEN 'ok'"
  "  ELSE 'lost' END";

static void finish_done(write_op_t *w, const pv_pg_result_t *res, bool ok)
{
  pv_store_finish_cb cb = (pv_store_finish_cb)w->cb;
  const char *v = ok && pv_pg_result_ntuples(res) > 0
                      ? pv_pg_result_get(res, 0, 0) : NULL;
  pv_store_finish_t st = !ok                         ? PV_FINISH_FAILED
                         : v && !strcmp(v, "lost") ? PV_FINISH_LOST
                                                   : PV_FINISH_OK;
  if (st == PV_FINISH_LOST)
    pv_log(PV_LOG_WARN, "store.lease_lost", PV_S("job_id", w->job_id),
           PV_S("msg", "another worker took the job over while this run "
                       "was cut off from PostgreSQL: its outcome stands"));
  if (cb)
    cb(st, w->arg);
}

static void done_cb_adapter(write_op_t *w, const pv_pg_result_t *res, bool ok)
{
  pv_store_done_cb cb = (pv_store_done_cb)w->cb;
  if (cb)
    cb(ok, w->arg);
}

void pv_store_finish(pv_store_t *s, const pv_store_outcome_t *o,
                     pv_store_finish_cb cb, void *arg)
{
  bool has_err = o->err && o->err->cls != PV_ERR_NONE;
  char **p = pv_calloc(16, sizeof(char *));
  p[0] = pv_strdup(o->job_id);
  p[1] = pv_strdup(o->state);
  p[2] = fmt_ll(o->attempts);
  p[3] = dup_or_null(o->result_json);
  p[4] = has_err ? pv_strdup(pv_errclass_name(o->err->cls)) : NULL;
  /* a message may quote bytes from outside; text columns want UTF-8 */
  p[5] = has_err ? pv_utf8_scrub(o->err->message) : NULL;
  p[6] = has_err && o->err->http_status ? fmt_ll(o->err->http_status) : NULL;
  p[7] = bytea_hex(o->reply, o->reply_len);
  p[8] = dup_or_null(o->reply_topic);
  p[9] = dup_or_null(o->dlq_topic);
  p[10] = o->next_attempt_ms ? fmt_ll(o->next_attempt_ms) : NULL;
  p[11] = dup_or_null(o->retry_reason);
  p[12] = dup_or_null(o->breaker_state);
  p[13] = pv_strdup(o->tenant);
  p[14] = fmt_ll(o->run);
  p[15] = pv_strdup(s->worker_id);
  write_new(s, "finish", FINISH_SQL, o->job_id, 16, p, finish_done,
            (void *)cb, arg);
}

/* ---- invalid records ---------------------------------------------------- */

static const char INVALID_SQL[] =
  "INSERT INTO job_status (job_id, tenant, service, op, ordering_key, state,"
  " source_topic, source_partition, source_offset, reply_topic,"
  " correlation_id, content_type, payload, headers, received_at,"
  " finished_at, error_class, error_message, errors, dlq_topic, worker_id)"
  /* An id the tenant already uses for another job: this record's row is
   * named after its position ($19) instead, never merged into that job's
   * row. */
  " SELECT CASE WHEN EXISTS (SELECT 1 FROM job_status o"
  "   WHERE o.job_id = $1::text AND o.tenant = coalesce($2::text, '')"
  "    AND (o.service <> coalesce($3::text, '') OR o.op <> coalesce($4::text, '')"
  "         OR o.payload <> $12::bytea)) THEN $19::text ELSE $1::text END,"
  "  coalesce($2::text, ''), coalesce($3::text, ''),"
  "  coalesce($4::text, ''), $5::bytea, 'dead', $6::text, $7::int,"
  "  $8::bigint, $9::text, $10::bytea, $11::text, $12::bytea, $13::jsonb,"
  "  to_timestamp($14::bigint / 1000.0), now(), $15::text, $16::text,"
  "  jsonb_build_array(jsonb_build_object('at', now(), 'class', $15::text,"
  "  'message', $16::text)), $17::text, $18::text"
  /* A replayed job (row moved back to 'received' by provctl) that is
   * refused again must end dead again, not stay runnable forever. */
  " ON CONFLICT (job_id, tenant) DO UPDATE SET state = 'dead',"
  "  finished_at = now(),"
  "  error_class = EXCLUDED.error_class,"
  "  error_message = EXCLUDED.error_message,"
  "  errors = job_status.errors || EXCLUDED.errors,"
  "  source_topic = EXCLUDED.source_topic,"
  "  source_partition = EXCLUDED.source_partition,"
  "  source_offset = EXCLUDED.source_offset,"
  "  dlq_topic = EXCLUDED.dlq_topic, published_at = NULL, updated_at = now()"
  " WHERE job_status.state = 'received'";

void pv_store_record_invalid(pv_store_t *s, const pv_store_job_t *j,
                             const pv_error_t *err, const char *dlq_topic,
                             pv_store_done_cb cb, void *arg)
{
  char **p = pv_calloc(19, sizeof(char *));
  p[18] = pv_asprintf("invalid:%s:%d:%lld", j->source_topic,
                      (int)j->source_partition, (long long)j->source_offset);
  p[0] = j->job_id ? pv_strdup(j->job_id) : pv_strdup(p[18]);
  p[1] = dup_or_null(j->tenant);
  p[2] = dup_or_null(j->service);
  p[3] = dup_or_null(j->op);
  job_params(j, p);
  p[13] = fmt_ll(j->received_at_ms);
  p[14] = pv_strdup(pv_errclass_name(err->cls));
  p[15] = pv_utf8_scrub(err->message);
  p[16] = dup_or_null(dlq_topic);
  p[17] = pv_strdup(s->worker_id);
  write_new(s, "invalid", INVALID_SQL, p[0], 19, p, done_cb_adapter,
            (void *)cb, arg);
}

/* ---- due jobs ----------------------------------------------------------- */

static const char DUE_SQL[] =
  "WITH due AS ("
  " SELECT j.job_id, j.tenant, j.state AS was FROM job_status j"
  "  WHERE ((j.state = 'retry_wait' AND j.next_attempt_at <= now())"
  "         OR (j.state = 'running' AND j.lease_until < now()))"
  "   AND j.source_topic = ANY ($4::text[])"
  "   AND NOT EXISTS (SELECT 1 FROM job_status e"
  "    WHERE j.ordering_key_hash IS NOT NULL AND e.tenant = j.tenant"
  "     AND e.ordering_key_hash = j.ordering_key_hash"
  "     AND e.ordering_key = j.ordering_key AND e.job_id <> j.job_id"
  "     AND e.state NOT IN ('succeeded', 'failed', 'dead')"
  "     AND (e.received_at, e.source_offset)"
  "         < (j.received_at, j.source_offset))"
  "  ORDER BY j.next_attempt_at NULLS FIRST LIMIT $1::int"
  "  FOR UPDATE OF j SKIP LOCKED)"
  " UPDATE job_status j SET state = 'running', runs = j.runs + 1,"
  "  started_at = now(), worker_id = $2::text,"
  "  lease_until = now() + $3::int * interval '1 millisecond',"
  "  updated_at = now()"
  " FROM due WHERE j.job_id = due.job_id AND j.tenant = due.tenant"
  " RETURNING j.job_id, j.tenant, j.ordering_key, j.source_topic,"
  "  j.source_partition, j.source_offset, j.reply_topic, j.content_type,"
  "  j.payload, j.headers::text,"
  "  (extract(epoch FROM j.received_at) * 1000)::bigint,"
  "  (extract(epoch FROM j.deadline) * 1000)::bigint,"
  "  j.runs, j.reached, j.attempts, due.was = 'running'";

const char *pv_store_due_sql(void)
{
  return DUE_SQL;
}

static void due_done(write_op_t *w, const pv_pg_result_t *res, bool ok)
{
  pv_due_cb cb = (pv_due_cb)w->cb;
  int n = ok ? pv_pg_result_ntuples(res) : 0;
  for (int i = 0; i < n; i++) {
    size_t plen = 0, klen = 0;
    void *payload = pv_bytea_decode(pv_pg_result_get(res, i, 8), &plen);
    void *key = pv_bytea_decode(pv_pg_result_get(res, i, 2), &klen);
    const char *v;
    pv_due_job_t d = {
      .job_id = pv_pg_result_get(res, i, 0),
      .tenant = pv_pg_result_get(res, i, 1),
      .ordering_key = key,
      .ordering_key_len = klen,
      .source_topic = pv_pg_result_get(res, i, 3),
      .source_partition = (int32_t)strtol(pv_pg_result_get(res, i, 4), NULL, 10),
      .source_offset = strtoll(pv_pg_result_get(res, i, 5), NULL, 10),
      .reply_topic = pv_pg_result_get(res, i, 6),
      .content_type = pv_pg_result_get(res, i, 7),
      .payload = payload,
      .payload_len = plen,
      .headers_json = pv_pg_result_get(res, i, 9),
      .received_at_ms = (v = pv_pg_result_get(res, i, 10)) ? strtoll(v, NULL, 10) : 0,
      .deadline_ms = (v = pv_pg_result_get(res, i, 11)) ? strtoll(v, NULL, 10) : 0,
      .runs = (int)strtol(pv_pg_result_get(res, i, 12), NULL, 10),
      .reached = (int)strtol(pv_pg_result_get(res, i, 13), NULL, 10),
      .attempts = (int)strtol(pv_pg_result_get(res, i, 14), NULL, 10),
      .interrupted = (v = pv_pg_result_get(res, i, 15)) && v[0] == 't',
    };
    cb(&d, w->arg);
    free(payload);
    free(key);
  }
  cb(NULL, w->arg);
}

void pv_store_claim_due(pv_store_t *s, int max, int lease_ms,
                        const char *topics, pv_due_cb cb, void *arg)
{
  char **p = pv_calloc(4, sizeof(char *));
  p[0] = fmt_ll(max);
  p[1] = pv_strdup(s->worker_id);
  p[2] = fmt_ll(lease_ms);
  p[3] = pv_strdup(topics);
  write_new(s, "claim_due", DUE_SQL, NULL, 4, p, due_done, (void *)cb, arg);
}

/* ---- published outcomes ------------------------------------------------- */

/* One statement for a batch. runs pins the outcome: an acknowledgement
 * that arrives after the row was replayed and finished again says nothing
 * about the new outcome's reply. */
static const char PUBLISHED_SQL[] =
  "UPDATE job_status j SET published_at = now()"
  " FROM jsonb_to_recordset($1::jsonb) AS a(id text, tenant text, runs int)"
  " WHERE j.job_id = a.id AND j.tenant = a.tenant AND j.runs = a.runs"
  "  AND j.state IN ('succeeded', 'failed', 'dead')"
  "  AND j.published_at IS NULL";

void pv_store_mark_published(pv_store_t *s, const pv_store_published_t *jobs,
                             size_t n)
{
  if (n == 0)
    return;
  json_t *arr = json_array();
  for (size_t i = 0; i < n; i++) {
    json_t *o = json_pack("{s:s,s:s,s:i}", "id", jobs[i].job_id, "tenant",
                          jobs[i].tenant, "runs", jobs[i].runs);
    if (o) /* NULL only for text that is not UTF-8: no such row */
      json_array_append_new(arr, o);
  }
  char *doc = json_dumps(arr, JSON_COMPACT);
  json_decref(arr);
  if (!doc)
    return;
  char **p = pv_calloc(1, sizeof(char *));
  p[0] = doc;
  write_new(s, "published", PUBLISHED_SQL, NULL, 1, p, done_cb_adapter, NULL,
            NULL);
}

/* ---- leases and breakers ------------------------------------------------ */

static const char RENEW_SQL[] =
  "UPDATE job_status SET lease_until = now() + $2::int * interval"
  " '1 millisecond' WHERE worker_id = $1 AND state = 'running'";

void pv_store_renew_leases(pv_store_t *s, int lease_ms)
{
  char **p = pv_calloc(2, sizeof(char *));
  p[0] = pv_strdup(s->worker_id);
  p[1] = fmt_ll(lease_ms);
  write_new(s, "renew_leases", RENEW_SQL, NULL, 2, p, done_cb_adapter, NULL,
            NULL);
}

/* State row, history row, and a NOTIFY (delivered at commit) so every
 * worker of the fleet re-reads the row. */
static const char BREAKER_SQL[] =
  "WITH s AS ("
  " INSERT INTO breaker_state (service, tenant, endpoint, state, open_until,"
  "  reason, changed_by, changed_at)"
  " VALUES ($1::text, $2::text, $3::text, $5::text,"
  "  to_timestamp($7::bigint / 1000.0), $6::text, $8::text, now())"
  " ON CONFLICT (service, tenant, endpoint) DO UPDATE SET"
  "  state = EXCLUDED.state, open_until = EXCLUDED.open_until,"
  "  reason = EXCLUDED.reason, changed_by = EXCLUDED.changed_by,"
  "  changed_at = now()"
  " RETURNING 1),"
  " n AS (SELECT pg_notify('" PV_STORE_BREAKER_CHANNEL "',"
  "  json_build_object('service', $1::text, 'tenant', $2::text,"
  "   'endpoint', $3::text)::text))"
  " INSERT INTO breaker_events (service, tenant, endpoint, from_state,"
  "  to_state, reason, changed_by)"
  " SELECT $1::text, $2::text, $3::text, $4::text, $5::text, $6::text,"
  "  $8::text FROM s, n";

void pv_store_breaker_change(pv_store_t *s, const char *service,
                             const char *tenant, const char *endpoint,
                             const char *from, const char *to,
                             const char *reason, int64_t open_until_ms)
{
  char **p = pv_calloc(8, sizeof(char *));
  p[0] = pv_strdup(service);
  p[1] = pv_strdup(tenant);
  p[2] = pv_strdup(endpoint);
  p[3] = pv_strdup(from);
  p[4] = pv_strdup(to);
  p[5] = dup_or_null(reason);
  p[6] = open_until_ms ? fmt_ll(open_until_ms) : NULL;
  p[7] = pv_strdup(s->worker_id);
  write_new(s, "breaker_change", BREAKER_SQL, NULL, 8, p, done_cb_adapter,
            NULL, NULL);
}
