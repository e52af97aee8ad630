/*
 * Asynchronous PostgreSQL for the worker loop: libpq in non-blocking
 * pipeline mode driven by a uv_poll on the connection's socket. See pg.h
 * for the contract; this file explains the mechanics.
 *
 * Life of a query:
 *   pending/retry list --(send_some: Parse?/Bind/Execute ... Sync)-->
 *   in-flight batch --(handle_result, one op at a time)--> done list
 *   --(deliver, at the end of every libuv callback)--> user callback.
 *
 * User callbacks are never called from the middle of the state machine:
 * outcomes are queued on pg->done / pg->events and delivered by leave()
 * once the handle is consistent again, so a callback may queue queries or
 * destroy the handle. pg->depth counts entries (libuv callbacks,
 * pv_pg_destroy); the memory is freed by the outermost leave().
 */
#include "db/pg.h"

#include "common/alloc.h"
#include "common/clock.h"
#include "common/log.h"

#include <libpq-fe.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ERRMSG_MAX 256
#define CONNECT_TIMEOUT_MS 10000
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define STMT_BUCKETS 1024
#define MAX_LISTENS 64
#define CHANNEL_MAX 63

/* libpq options used unless the conninfo sets them: detect a dead peer on
 * an idle connection in ~1 min instead of the kernel's 2 h default, and
 * plan every prepared statement once (our statements are keyed lookups
 * whose generic plan is the right one; left to choose, the server kept
 * re-planning the claim statement at every execution, which cost more
 * than running it and cut worker throughput fourfold). They come before
 * dbname, so the expanded conninfo overrides them. */
static const char *const conn_keywords[] = {
    "keepalives_idle", "keepalives_interval", "keepalives_count",
    "tcp_user_timeout", "connect_timeout", "options", "dbname",
    "fallback_application_name", NULL};
#define CONN_NKEYS (sizeof(conn_keywords) / sizeof(conn_keywords[0]))

/* The values for conn_keywords, in the same order: one place, for the
 * loop's connections and the blocking ones alike. */
static void conn_values(const char *conninfo, const char *values[CONN_NKEYS])
{
  static const char *const defaults[] = {
      "30", "10", "3", "30000", "10",
      "-c plan_cache_mode=force_generic_plan"};
  size_t i = 0;
  for (; i < sizeof(defaults) / sizeof(defaults[0]); i++)
    values[i] = defaults[i];
  values[i++] = conninfo; /* dbname: expanded, so it overrides the rest */
  values[i++] = "provisiond";
  values[i] = NULL;
}

struct pv_pg_result {
  PGresult *res;  /* NULL for lost / local outcomes */
  bool lost;      /* connection lost while in flight */
  bool local;     /* local error (shutting down): res is NULL */
  bool closed;    /* settled by pv_pg_destroy */
  char err[ERRMSG_MAX];
};

typedef enum { OUT_RESULT, OUT_LOST, OUT_SHUTDOWN } outcome_t;

typedef struct query {
  struct query *next;   /* in exactly one list at a time */
  char *sql;
  const char **params;
  int nparams;
  unsigned flags;
  pv_pg_cb cb;
  void *arg;
  uint64_t t0_us;
  bool internal;        /* ours (LISTEN, DEALLOCATE): not counted against
                           max_queue nor in the stats */
  bool dealloc;         /* a DEALLOCATE of a statement replaced in the
                           cache: only meaningful on its own session */
  bool isolate;         /* re-send alone in its own batch */
  bool replanned;       /* already re-sent after "cached plan" error */
  int transient;        /* re-sends after deadlock/serialization errors */
  int resends;          /* PV_PG_RETRY re-sends after connection loss */
  /* state of the current send */
  unsigned stmt_id;     /* named statement used, 0 = unnamed */
  bool send_prepare;    /* a Parse for stmt_id precedes the Execute */
  bool aborted;         /* PGRES_PIPELINE_ABORTED: never ran */
  PGresult *res;        /* first result (ok or error) */
  /* outcome */
  outcome_t outcome;
  bool lost;
  char *why;
} query_t;

typedef struct qlist {
  query_t *head, *tail;
  size_t n;
} qlist_t;

typedef enum { PH_PREPARE, PH_EXEC } phase_t;

/* One Sync-terminated batch in flight. Results arrive in send order: for
 * each query an optional Parse result, the Execute result(s), each ended by
 * a NULL from PQgetResult; then PGRES_PIPELINE_SYNC. */
typedef struct batch {
  struct batch *next;
  qlist_t qs;
  query_t *cur;   /* query whose results come next; NULL = expect Sync */
  phase_t phase;
  bool got;       /* cur has had a result in this phase (NULL ends it) */
  bool synced;    /* the Sync was handed to libpq (it may have committed) */
} batch_t;

typedef struct stmt {
  struct stmt *next;
  char *sql;
  uint32_t hash;
  unsigned id;          /* name is "pv_<id>" */
  bool ready;           /* Parse confirmed */
  uint64_t parse_batch; /* batch that carries the Parse */
  uint64_t uses;        /* executions by name */
  uint64_t replan_at;   /* uses after which it is prepared afresh */
} stmt_t;

/* A generic plan is made once, with the table sizes of that moment: a
 * plan made on an empty table (a fresh database, a run after a purge)
 * scans what later holds millions of rows. So a statement is prepared
 * again, under a new name, after 1,000 uses, then 2,000, 4,000 ...:
 * plans follow the tables' growth at a cost of a few Parses. The old name
 * is then DEALLOCATEd, in the next batch that goes out (no round trip of
 * its own), so the server's prepared statements do not pile up. */
#define REPLAN_FIRST 1000

typedef struct listen {
  char channel[CHANNEL_MAX + 1];
  pv_pg_notify_cb cb;
  void *arg;
} listen_t;

typedef enum { EV_STATE, EV_NOTIFY } ev_type_t;

typedef struct event {
  struct event *next;
  ev_type_t type;
  bool connected;
  pv_pg_notify_cb ncb;
  void *narg;
  char *a;   /* why / channel */
  char *b;   /* payload */
} event_t;

typedef enum { ST_IDLE, ST_CONNECTING, ST_READY } conn_state_t;

struct pv_pg_s {
  uv_loop_t *loop;
  char *conninfo;
  char desc[256];        /* loggable conninfo, no password */
  PGconn *conn;
  conn_state_t st;
  uv_poll_t *poll;       /* heap: freed by its close callback */
  int poll_fd;
  int poll_events;
  uv_timer_t *timer;     /* connect timeout and reconnect backoff */
  uv_idle_t *idle;       /* sends queued queries once per iteration */
  bool idle_active;
  bool want_write;       /* PQflush returned 1: wait for writability */

  qlist_t pending;       /* accepted, never sent */
  qlist_t retry;         /* known not to have run: sent before pending */
  qlist_t done;          /* outcome known, callback not yet run */
  batch_t *bhead, *btail;
  size_t ninflight;      /* queries in in-flight batches */
  uint64_t batch_seq;

  size_t max_queue, max_batch, max_inflight;

  stmt_t *stmts[STMT_BUCKETS];
  size_t nstmts;
  unsigned next_stmt_id;
  qlist_t deallocs;      /* DEALLOCATEs waiting for the next batch */

  listen_t listens[MAX_LISTENS];
  size_t nlistens;

  pv_pg_state_cb state_cb;
  void *state_arg;
  event_t *ev_head, *ev_tail;

  unsigned attempt;      /* failed connects since the last success */
  bool ever_connected;
  uint64_t rng;
  int backend_pid;
  pv_pg_stats_t stats;

  int depth;             /* nested entries (libuv callbacks, destroy) */
  bool dead;             /* pv_pg_destroy was called */
};

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */
/* ------------------------------------------------------------------ */

/* Copies src as one line (runs of blanks and line breaks become one space,
 * no leading or trailing blanks), truncated to fit. */
static void one_line(char *dst, size_t size, const char *src)
{
  size_t n = 0;
  if (size == 0)
    return;
  for (; src && *src && n + 1 < size; src++) {
    bool space = *src == '\n' || *src == '\r' || *src == '\t' || *src == ' ';
    if (space && (n == 0 || dst[n - 1] == ' '))
      continue; /* collapse runs, drop leading blanks */
    dst[n++] = space ? ' ' : *src;
  }
  while (n > 0 && dst[n - 1] == ' ')
    n--;
  dst[n] = '\0';
}

static void ql_push(qlist_t *l, query_t *q)
{
  q->next = NULL;
  if (l->tail)
    l->tail->next = q;
  else
    l->head = q;
  l->tail = q;
  l->n++;
}

static query_t *ql_pop(qlist_t *l)
{
  query_t *q = l->head;
  if (!q)
    return NULL;
  l->head = q->next;
  if (!l->head)
    l->tail = NULL;
  l->n--;
  q->next = NULL;
  return q;
}

static void ql_prepend(qlist_t *l, query_t *q)
{
  q->next = l->head;
  l->head = q;
  if (!l->tail)
    l->tail = q;
  l->n++;
}

static uint32_t hash_str(const char *s)
{
  uint32_t h = 2166136261u; /* FNV-1a */
  for (; *s; s++) {
    h ^= (unsigned char)*s;
    h *= 16777619u;
  }
  return h;
}

static uint64_t rng_next(pv_pg_t *pg)
{
  uint64_t x = pg->rng; /* xorshift64: jitter only, not security */
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  pg->rng = x;
  return x;
}

static bool is_statement_error(const PGresult *res)
{
  const char *sev;
  if (!res || PQresultStatus(res) != PGRES_FATAL_ERROR)
    return false;
  /* Server errors of severity ERROR are about the statement. FATAL/PANIC
   * end the session, and libpq's own errors (connection closed) carry no
   * severity: those say nothing about the statement. */
  sev = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
  return sev && strcmp(sev, "ERROR") == 0;
}

static void notice_processor(void *arg, const char *message)
{
  char line[ERRMSG_MAX];
  (void)arg;
  one_line(line, sizeof(line), message);
  pv_log(PV_LOG_DEBUG, "postgres.notice", PV_S("message", line));
}

/* ------------------------------------------------------------------ */
/* Results                                                             */
/* ------------------------------------------------------------------ */

/* An empty statement (only comments) is not an error for the server
 * either: it does not abort the batch. */
static bool status_ok(ExecStatusType st)
{
  return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ||
         st == PGRES_EMPTY_QUERY;
}

int pv_pg_result_ok(const pv_pg_result_t *r)
{
  return r && !r->lost && !r->local && r->res &&
         status_ok(PQresultStatus(r->res));
}

int pv_pg_result_ntuples(const pv_pg_result_t *r)
{
  return pv_pg_result_ok(r) ? PQntuples(r->res) : 0;
}

int pv_pg_result_nfields(const pv_pg_result_t *r)
{
  return pv_pg_result_ok(r) ? PQnfields(r->res) : 0;
}

const char *pv_pg_result_get(const pv_pg_result_t *r, int row, int col)
{
  if (!pv_pg_result_ok(r) || row < 0 || col < 0 ||
      row >= PQntuples(r->res) || col >= PQnfields(r->res) ||
      PQgetisnull(r->res, row, col))
    return NULL;
  return PQgetvalue(r->res, row, col);
}

const char *pv_pg_result_field(const pv_pg_result_t *r, const char *name,
                               int row)
{
  int col;
  if (!pv_pg_result_ok(r) || !name)
    return NULL;
  col = PQfnumber(r->res, name);
  return col < 0 ? NULL : pv_pg_result_get(r, row, col);
}

long pv_pg_result_affected(const pv_pg_result_t *r)
{
  const char *s;
  char *end;
  long v;
  if (!pv_pg_result_ok(r))
    return -1;
  s = PQcmdTuples(r->res);
  if (!s || !*s)
    return -1;
  v = strtol(s, &end, 10);
  return *end ? -1 : v;
}

const char *pv_pg_result_sqlstate(const pv_pg_result_t *r)
{
  const char *s;
  if (!r || pv_pg_result_ok(r))
    return "";
  if (r->lost)
    return "08006"; /* connection_failure */
  if (r->local || !r->res)
    return "";
  s = PQresultErrorField(r->res, PG_DIAG_SQLSTATE);
  return s ? s : "";
}

const char *pv_pg_result_error(const pv_pg_result_t *r)
{
  if (!r || pv_pg_result_ok(r))
    return "";
  return r->err;
}

int pv_pg_result_error_position(const pv_pg_result_t *r)
{
  const char *s;
  char *end;
  long v;
  if (!r || !r->res || pv_pg_result_ok(r))
    return 0;
  s = PQresultErrorField(r->res, PG_DIAG_STATEMENT_POSITION);
  if (!s)
    return 0;
  v = strtol(s, &end, 10);
  return (*end || v < 0 || v > INT32_MAX) ? 0 : (int)v;
}

bool pv_pg_result_connection_lost(const pv_pg_result_t *r)
{
  return r && r->lost;
}

bool pv_pg_result_closed(const pv_pg_result_t *r)
{
  return r && r->closed;
}

/* Fills r->err for a result that is not ok. */
static void result_fill_error(pv_pg_result_t *r)
{
  const char *msg;
  if (pv_pg_result_ok(r) || r->err[0])
    return;
  if (!r->res) {
    one_line(r->err, sizeof(r->err), "no result");
    return;
  }
  msg = PQresultErrorField(r->res, PG_DIAG_MESSAGE_PRIMARY);
  if (!msg || !*msg)
    msg = PQresultErrorMessage(r->res);
  if (!msg || !*msg)
    msg = PQresStatus(PQresultStatus(r->res));
  one_line(r->err, sizeof(r->err), msg);
}

void pv_pg_result_free(pv_pg_result_t *r)
{
  if (!r)
    return;
  PQclear(r->res);
  free(r);
}

/* ------------------------------------------------------------------ */
/* conninfo                                                            */
/* ------------------------------------------------------------------ */

int pv_pg_conninfo_describe(const char *conninfo, char *buf, size_t size)
{
  static const char *const shown[] = {"host", "hostaddr", "port", "dbname",
                                      "user", NULL};
  char *errmsg = NULL;
  PQconninfoOption *opts;
  size_t len = 0;

  if (size == 0)
    return -1;
  buf[0] = '\0';
  opts = PQconninfoParse(conninfo ? conninfo : "", &errmsg);
  if (!opts) {
    one_line(buf, size, errmsg ? errmsg : "out of memory");
    PQfreemem(errmsg);
    return -1;
  }
  for (const char *const *k = shown; *k; k++) {
    for (PQconninfoOption *o = opts; o->keyword; o++) {
      int n;
      if (strcmp(o->keyword, *k) != 0 || !o->val || !*o->val)
        continue;
      n = snprintf(buf + len, size - len, "%s%s=%s", len ? " " : "", *k,
                   o->val);
      if (n < 0 || (size_t)n >= size - len) {
        buf[len] = '\0';
        goto out;
      }
      len += (size_t)n;
    }
  }
out:
  if (!buf[0])
    one_line(buf, size, "(libpq defaults)");
  PQconninfoFree(opts);
  return 0;
}

/* ------------------------------------------------------------------ */
/* Statement cache (per connection)                                    */
/* ------------------------------------------------------------------ */

static stmt_t *stmt_find(pv_pg_t *pg, const char *sql, uint32_t h)
{
  for (stmt_t *s = pg->stmts[h % STMT_BUCKETS]; s; s = s->next)
    if (s->hash == h && strcmp(s->sql, sql) == 0)
      return s;
  return NULL;
}

static stmt_t *stmt_add(pv_pg_t *pg, const char *sql, uint32_t h)
{
  stmt_t *s = pv_calloc(1, sizeof(*s));
  s->sql = pv_strdup(sql);
  s->hash = h;
  s->id = ++pg->next_stmt_id;
  s->replan_at = REPLAN_FIRST;
  s->next = pg->stmts[h % STMT_BUCKETS];
  pg->stmts[h % STMT_BUCKETS] = s;
  pg->nstmts++;
  return s;
}

/* Drops the entry for sql if it is statement id (and not a newer one).
 * @returns true if it was there with its Parse confirmed: the server
 * holds it under that name. */
static bool stmt_forget(pv_pg_t *pg, const char *sql, unsigned id)
{
  uint32_t h = hash_str(sql);
  stmt_t **pp = &pg->stmts[h % STMT_BUCKETS];
  for (; *pp; pp = &(*pp)->next) {
    stmt_t *s = *pp;
    if (s->id == id) {
      bool ready = s->ready;
      *pp = s->next;
      free(s->sql);
      free(s);
      pg->nstmts--;
      return ready;
    }
  }
  return false;
}

static void dealloc_done(const pv_pg_result_t *res, void *arg)
{
  (void)arg;
  /* Lost or closed: the session, and the statement with it, is gone. */
  if (!pv_pg_result_ok(res) && !pv_pg_result_connection_lost(res) &&
      !pv_pg_result_closed(res))
    pv_log(PV_LOG_WARN, "postgres.deallocate_failed",
           PV_S("sqlstate", pv_pg_result_sqlstate(res)),
           PV_S("error", pv_pg_result_error(res)));
}

/* Queues a DEALLOCATE of statement id (known to exist on this session) for
 * the next batch: a statement replaced in the cache stays prepared on the
 * server otherwise, for as long as the connection lives. */
static void stmt_deallocate(pv_pg_t *pg, unsigned id)
{
  char sql[48];
  snprintf(sql, sizeof(sql), "DEALLOCATE pv_%u", id);
  size_t len = strlen(sql);
  query_t *q = pv_calloc(1, sizeof(query_t) + len + 1);
  q->sql = (char *)q + sizeof(query_t);
  memcpy(q->sql, sql, len + 1);
  q->cb = dealloc_done;
  q->internal = true;
  q->dealloc = true;
  q->t0_us = pv_clock_mono_us();
  ql_push(&pg->deallocs, q);
}

static void stmt_mark_ready(pv_pg_t *pg, const char *sql, unsigned id)
{
  stmt_t *s = stmt_find(pg, sql, hash_str(sql));
  if (s && s->id == id)
    s->ready = true;
}

static void stmt_clear(pv_pg_t *pg)
{
  for (size_t i = 0; i < STMT_BUCKETS; i++) {
    stmt_t *s = pg->stmts[i];
    while (s) {
      stmt_t *next = s->next;
      free(s->sql);
      free(s);
      s = next;
    }
    pg->stmts[i] = NULL;
  }
  pg->nstmts = 0;
}

/* ------------------------------------------------------------------ */
/* Outcomes and delivery                                               */
/* ------------------------------------------------------------------ */

static void query_reset_send(query_t *q)
{
  PQclear(q->res);
  q->res = NULL;
  q->aborted = false;
  q->send_prepare = false;
  q->stmt_id = 0;
}

static void query_free(query_t *q)
{
  if (!q)
    return;
  PQclear(q->res);
  free(q->why);
  free(q); /* sql and params live in the same block */
}

static void finish(pv_pg_t *pg, query_t *q, outcome_t outcome, bool lost,
                   const char *why)
{
  q->outcome = outcome;
  q->lost = lost;
  if (outcome != OUT_RESULT) {
    PQclear(q->res); /* never expose results of an uncommitted batch */
    q->res = NULL;
    q->why = pv_strdup(why ? why : "");
  }
  ql_push(&pg->done, q);
}

/* Back to the retry list: known not to have run (or idempotent). */
static void requeue(pv_pg_t *pg, query_t *q, bool isolate)
{
  query_reset_send(q);
  q->isolate = isolate;
  pg->stats.queries_resent++;
  ql_push(&pg->retry, q);
}

static void push_event(pv_pg_t *pg, event_t *ev)
{
  ev->next = NULL;
  if (pg->ev_tail)
    pg->ev_tail->next = ev;
  else
    pg->ev_head = ev;
  pg->ev_tail = ev;
}

static void push_state(pv_pg_t *pg, bool connected, const char *why)
{
  event_t *ev = pv_calloc(1, sizeof(*ev));
  ev->type = EV_STATE;
  ev->connected = connected;
  ev->a = pv_strdup(why);
  push_event(pg, ev);
}

static void deliver_query(pv_pg_t *pg, query_t *q)
{
  pv_pg_result_t r;
  memset(&r, 0, sizeof(r));
  r.res = q->res;
  r.lost = q->lost;
  if (q->outcome != OUT_RESULT) {
    r.local = !q->lost;
    r.closed = q->outcome == OUT_SHUTDOWN;
    one_line(r.err, sizeof(r.err), q->why);
  }
  result_fill_error(&r);

  if (!q->internal) {
    uint64_t now = pv_clock_mono_us();
    if (pv_pg_result_ok(&r))
      pg->stats.queries_ok++;
    else if (r.lost)
      pg->stats.queries_lost++;
    else
      pg->stats.queries_failed++;
    pg->stats.latency_us_sum += now > q->t0_us ? now - q->t0_us : 0;
    pg->stats.latency_count++;
  }
  if (q->cb) {
    q->cb(&r, q->arg);
  } else if (!pv_pg_result_ok(&r)) {
    /* Fire-and-forget queries: a failure must still be visible. */
    pv_log(PV_LOG_WARN, "postgres.query_failed",
           PV_S("sqlstate", pv_pg_result_sqlstate(&r)),
           PV_S("error", r.err), PV_B("connection_lost", r.lost));
  }
}

static void deliver(pv_pg_t *pg)
{
  for (;;) {
    event_t *ev = pg->ev_head;
    query_t *q;
    if (ev) {
      pg->ev_head = ev->next;
      if (!pg->ev_head)
        pg->ev_tail = NULL;
      if (ev->type == EV_STATE && pg->state_cb)
        pg->state_cb(ev->connected, ev->a, pg->state_arg);
      else if (ev->type == EV_NOTIFY && ev->ncb)
        ev->ncb(ev->a, ev->b, ev->narg);
      free(ev->a);
      free(ev->b);
      free(ev);
      continue;
    }
    q = ql_pop(&pg->done);
    if (!q)
      break;
    deliver_query(pg, q);
    query_free(q);
  }
}

static void free_pg(pv_pg_t *pg);

static void enter(pv_pg_t *pg)
{
  pg->depth++;
}

static void leave(pv_pg_t *pg)
{
  if (pg->depth == 1)
    deliver(pg);
  pg->depth--;
  if (pg->depth == 0 && pg->dead)
    free_pg(pg);
}

/* ------------------------------------------------------------------ */
/* Socket watching                                                     */
/* ------------------------------------------------------------------ */

static void on_handle_closed(uv_handle_t *h)
{
  free(h);
}

static void unwatch(pv_pg_t *pg)
{
  if (!pg->poll)
    return;
  /* Must happen before libpq closes the fd: libuv may not poll a closed
   * descriptor. uv_close stops the watcher at once; the memory goes in
   * the close callback. */
  pg->poll->data = NULL;
  uv_close((uv_handle_t *)pg->poll, on_handle_closed);
  pg->poll = NULL;
  pg->poll_fd = -1;
  pg->poll_events = 0;
}

static void on_poll(uv_poll_t *h, int status, int events);

/* Watches fd for events, replacing the handle if libpq changed socket. */
static int watch(pv_pg_t *pg, int fd, int events)
{
  int rc;
  if (fd < 0)
    return -1;
  if (pg->poll && pg->poll_fd != fd)
    unwatch(pg);
  if (!pg->poll) {
    pg->poll = pv_calloc(1, sizeof(*pg->poll));
    rc = uv_poll_init(pg->loop, pg->poll, fd);
    if (rc != 0) {
      pv_log(PV_LOG_ERROR, "postgres.poll_failed", PV_S("error", uv_strerror(rc)));
      free(pg->poll);
      pg->poll = NULL;
      return -1;
    }
    pg->poll->data = pg;
    pg->poll_fd = fd;
    pg->poll_events = 0;
  }
  if (pg->poll_events == events)
    return 0;
  rc = uv_poll_start(pg->poll, events, on_poll);
  if (rc != 0) {
    pv_log(PV_LOG_ERROR, "postgres.poll_failed", PV_S("error", uv_strerror(rc)));
    return -1;
  }
  pg->poll_events = events;
  return 0;
}

/* ------------------------------------------------------------------ */
/* Connecting                                                          */
/* ------------------------------------------------------------------ */

static void on_timer(uv_timer_t *t);
static void send_some(pv_pg_t *pg);
static void start_connect(pv_pg_t *pg);

/* The session's prepared statements end with it, and so do the
 * DEALLOCATEs still to be sent for them: sent on the next session they
 * would fail (no such statement) and take their batch down. */
static void drop_deallocs(pv_pg_t *pg)
{
  query_t *q;
  qlist_t keep = {NULL, NULL, 0};
  while ((q = ql_pop(&pg->deallocs)) != NULL)
    finish(pg, q, OUT_LOST, true, "session ended");
  while ((q = ql_pop(&pg->retry)) != NULL) {
    if (q->dealloc)
      finish(pg, q, OUT_LOST, true, "session ended");
    else
      ql_push(&keep, q);
  }
  pg->retry = keep;
}

static void close_conn(pv_pg_t *pg)
{
  unwatch(pg);
  if (pg->conn) {
    PQfinish(pg->conn);
    pg->conn = NULL;
  }
  stmt_clear(pg);
  drop_deallocs(pg);
  pg->want_write = false;
  pg->backend_pid = 0;
  pg->st = ST_IDLE;
  if (pg->idle_active) {
    uv_idle_stop(pg->idle);
    pg->idle_active = false;
  }
}

static uint64_t next_backoff_ms(pv_pg_t *pg)
{
  uint64_t d = BACKOFF_MIN_MS;
  for (unsigned i = 0; i < pg->attempt && d < BACKOFF_MAX_MS; i++)
    d *= 2;
  if (d > BACKOFF_MAX_MS)
    d = BACKOFF_MAX_MS;
  pg->attempt++;
  /* Jitter: anywhere in [3/4 d, d], so a fleet that lost the same server
   * does not reconnect in lockstep. */
  return d - rng_next(pg) % (d / 4 + 1);
}

static void schedule_reconnect(pv_pg_t *pg, const char *reason, bool failed)
{
  uint64_t delay = next_backoff_ms(pg);
  int rc;
  if (failed)
    pv_log(PV_LOG_WARN, "postgres.connect_failed", PV_S("target", pg->desc),
           PV_S("reason", reason), PV_I("attempt", pg->attempt),
           PV_I("retry_in_ms", delay));
  rc = uv_timer_start(pg->timer, on_timer, delay, 0);
  if (rc != 0)
    pv_log(PV_LOG_ERROR, "postgres.timer_failed", PV_S("error", uv_strerror(rc)));
}

static void connect_failed(pv_pg_t *pg, const char *reason)
{
  char why[ERRMSG_MAX];
  one_line(why, sizeof(why), reason);
  pg->stats.connect_failures++;
  uv_timer_stop(pg->timer);
  close_conn(pg);
  schedule_reconnect(pg, why, true);
}

static void push_listen_queries(pv_pg_t *pg, bool front);

static void on_connected(pv_pg_t *pg)
{
  uv_timer_stop(pg->timer);
  if (PQsetnonblocking(pg->conn, 1) != 0 ||
      PQenterPipelineMode(pg->conn) != 1) {
    connect_failed(pg, PQerrorMessage(pg->conn));
    return;
  }
  if (watch(pg, PQsocket(pg->conn), UV_READABLE) != 0) {
    connect_failed(pg, "cannot watch the connection socket");
    return;
  }
  pg->st = ST_READY;
  pg->attempt = 0;
  pg->backend_pid = PQbackendPID(pg->conn);
  pg->stats.connects++;
  if (pg->ever_connected)
    pg->stats.reconnects++;
  pg->ever_connected = true;
  pv_log(PV_LOG_INFO, "postgres.connected", PV_S("target", pg->desc),
         PV_I("backend_pid", pg->backend_pid),
         PV_I("server_version", PQserverVersion(pg->conn)),
         PV_I("queued", pg->pending.n + pg->retry.n));
  push_state(pg, true, "connected");
  push_listen_queries(pg, true);
  send_some(pg);
}

static void connect_step(pv_pg_t *pg, PostgresPollingStatusType ps)
{
  int fd = PQsocket(pg->conn);
  switch (ps) {
  case PGRES_POLLING_OK:
    on_connected(pg);
    return;
  case PGRES_POLLING_READING:
    if (watch(pg, fd, UV_READABLE) != 0)
      connect_failed(pg, "cannot watch the connection socket");
    return;
  case PGRES_POLLING_WRITING:
    if (watch(pg, fd, UV_WRITABLE) != 0)
      connect_failed(pg, "cannot watch the connection socket");
    return;
  case PGRES_POLLING_FAILED:
  default:
    connect_failed(pg, PQerrorMessage(pg->conn));
    return;
  }
}

static void start_connect(pv_pg_t *pg)
{
  const char *values[CONN_NKEYS];
  conn_values(pg->conninfo, values);
  int rc;

  pg->conn = PQconnectStartParams(conn_keywords, values, 1);
  if (!pg->conn) {
    connect_failed(pg, "out of memory");
    return;
  }
  if (PQstatus(pg->conn) == CONNECTION_BAD) {
    connect_failed(pg, PQerrorMessage(pg->conn));
    return;
  }
  PQsetNoticeProcessor(pg->conn, notice_processor, NULL);
  pg->st = ST_CONNECTING;
  /* PQconnectPoll ignores connect_timeout; the timer enforces it. */
  rc = uv_timer_start(pg->timer, on_timer, CONNECT_TIMEOUT_MS, 0);
  if (rc != 0) {
    connect_failed(pg, uv_strerror(rc));
    return;
  }
  /* libpq's rule: after PQconnectStart, behave as if PQconnectPoll had
   * returned PGRES_POLLING_WRITING. */
  connect_step(pg, PGRES_POLLING_WRITING);
}

static void on_timer(uv_timer_t *t)
{
  pv_pg_t *pg = t->data;
  enter(pg);
  if (pg->st == ST_CONNECTING)
    connect_failed(pg, "timed out connecting");
  else if (pg->st == ST_IDLE && !pg->dead)
    start_connect(pg);
  leave(pg);
}

/* ------------------------------------------------------------------ */
/* Connection loss                                                     */
/* ------------------------------------------------------------------ */

/* Settles the queries of one in-flight batch when the connection is gone. */
static void settle_lost_batch(pv_pg_t *pg, batch_t *b, const char *why)
{
  bool definite = false;
  query_t *q;

  for (q = b->qs.head; q; q = q->next)
    if (is_statement_error(q->res))
      definite = true;

  while ((q = ql_pop(&b->qs)) != NULL) {
    if (!b->synced) {
      /* No Sync was sent: the implicit transaction cannot commit. */
      requeue(pg, q, false);
    } else if (definite) {
      /* A statement failed, so the whole batch rolled back: that one gets
       * its (genuine) error, the others never took effect. */
      if (is_statement_error(q->res))
        finish(pg, q, OUT_RESULT, false, NULL);
      else
        requeue(pg, q, true);
    } else if ((q->flags & PV_PG_RETRY) && q->resends < PV_PG_MAX_RESENDS) {
      q->resends++;
      requeue(pg, q, false);
    } else {
      char msg[ERRMSG_MAX + 32];
      snprintf(msg, sizeof(msg), "connection lost: %s", why);
      finish(pg, q, OUT_LOST, true, msg);
    }
  }
}

static void on_lost(pv_pg_t *pg, const char *reason)
{
  char why[ERRMSG_MAX];
  size_t inflight = pg->ninflight;

  one_line(why, sizeof(why), reason && *reason ? reason : "connection lost");
  pv_log(PV_LOG_WARN, "postgres.disconnected", PV_S("target", pg->desc),
         PV_S("reason", why), PV_I("in_flight", inflight),
         PV_I("queued", pg->pending.n + pg->retry.n));

  /* Settled queries that must run again go to the retry list in their
   * original order, ahead of anything queued later. */
  while (pg->bhead) {
    batch_t *b = pg->bhead;
    pg->bhead = b->next;
    settle_lost_batch(pg, b, why);
    free(b);
  }
  pg->btail = NULL;
  pg->ninflight = 0;

  close_conn(pg);
  push_state(pg, false, why);
  if (!pg->dead)
    schedule_reconnect(pg, why, false);
}

/* ------------------------------------------------------------------ */
/* Sending                                                             */
/* ------------------------------------------------------------------ */

static int flush(pv_pg_t *pg)
{
  int rc = PQflush(pg->conn);
  if (rc < 0) {
    on_lost(pg, PQerrorMessage(pg->conn));
    return -1;
  }
  if (rc == 1 && !pg->want_write)
    pg->stats.write_stalls++;
  pg->want_write = rc == 1;
  if (watch(pg, PQsocket(pg->conn),
            UV_READABLE | (pg->want_write ? UV_WRITABLE : 0)) != 0) {
    on_lost(pg, "cannot watch the connection socket");
    return -1;
  }
  return 0;
}

/* Hands one query to libpq as part of batch b. @returns 0 or -1. */
static int send_query(pv_pg_t *pg, query_t *q)
{
  uint32_t h = hash_str(q->sql);
  stmt_t *s = stmt_find(pg, q->sql, h);
  char name[32] = "";

  q->stmt_id = 0;
  q->send_prepare = false;
  uint64_t replan_at = REPLAN_FIRST;
  if (q->dealloc)
    return PQsendQueryParams(pg->conn, q->sql, 0, NULL, NULL, NULL, NULL, 0)
               ? 0 : -1;
  if (s && s->ready && ++s->uses >= s->replan_at) {
    unsigned old = s->id;
    replan_at = s->replan_at * 2;
    stmt_forget(pg, q->sql, old);
    /* Queries of this batch that used the old name come before the
     * DEALLOCATE, which goes at the end of the batch. */
    stmt_deallocate(pg, old);
    s = NULL; /* prepared again below, with today's table sizes */
  }
  /* A statement whose Parse is still unconfirmed in an *earlier* batch
   * may never have been created (that batch may abort before it), so it
   * is only used by name from the same batch; otherwise run unnamed. */
  if (!s && pg->nstmts < PV_PG_STMT_CACHE_MAX) {
    s = stmt_add(pg, q->sql, h);
    s->replan_at = replan_at;
    s->parse_batch = pg->batch_seq;
    snprintf(name, sizeof(name), "pv_%u", s->id);
    if (!PQsendPrepare(pg->conn, name, q->sql, 0, NULL))
      return -1;
    q->send_prepare = true;
    q->stmt_id = s->id;
  } else if (s && (s->ready || s->parse_batch == pg->batch_seq)) {
    snprintf(name, sizeof(name), "pv_%u", s->id);
    q->stmt_id = s->id;
  }
  if (q->stmt_id)
    return PQsendQueryPrepared(pg->conn, name, q->nparams, q->params, NULL,
                               NULL, 0) ? 0 : -1;
  return PQsendQueryParams(pg->conn, q->sql, q->nparams, NULL, q->params,
                           NULL, NULL, 0) ? 0 : -1;
}

static void send_some(pv_pg_t *pg)
{
  while (pg->st == ST_READY && !pg->dead && !pg->want_write &&
         pg->ninflight < pg->max_inflight &&
         (pg->retry.n > 0 || pg->pending.n > 0)) {
    batch_t *b = pv_calloc(1, sizeof(*b));
    qlist_t *src = pg->retry.n > 0 ? &pg->retry : &pg->pending;
    size_t limit = pg->max_batch;

    if (src == &pg->retry && pg->retry.head->isolate)
      limit = 1;
    pg->batch_seq++;
    /* Linked in before sending so that a failure settles it. */
    if (pg->btail)
      pg->btail->next = b;
    else
      pg->bhead = b;
    pg->btail = b;

    while (b->qs.n < limit && src->head) {
      query_t *q = src->head;
      if (src == &pg->retry && q->isolate && b->qs.n > 0)
        break;
      if (send_query(pg, q) != 0) {
        /* q stays queued; the batch so far is settled by on_lost. */
        on_lost(pg, PQerrorMessage(pg->conn));
        return;
      }
      ql_pop(src);
      ql_push(&b->qs, q);
      pg->ninflight++;
    }
    /* Statements replaced in the cache are deallocated at the end of a
     * batch that goes out anyway, after every use of their old name in
     * it; not in a batch that isolates one statement. */
    size_t ours = 0; /* not counted in the batch statistics */
    while (limit > 1 && pg->deallocs.head) {
      query_t *q = pg->deallocs.head;
      if (send_query(pg, q) != 0) {
        on_lost(pg, PQerrorMessage(pg->conn));
        return;
      }
      ql_pop(&pg->deallocs);
      ql_push(&b->qs, q);
      pg->ninflight++;
      ours++;
    }
    if (!PQpipelineSync(pg->conn)) {
      on_lost(pg, PQerrorMessage(pg->conn));
      return;
    }
    b->synced = true;
    b->cur = b->qs.head;
    b->phase = b->cur && b->cur->send_prepare ? PH_PREPARE : PH_EXEC;
    pg->stats.batches++;
    pg->stats.batch_statements += b->qs.n - ours;
    if (b->qs.n - ours > pg->stats.batch_max)
      pg->stats.batch_max = b->qs.n - ours;
    if (flush(pg) != 0)
      return;
  }
}

/* Queries queued during one loop iteration go out together at the start
 * of the next (an idle handle also keeps the loop from blocking in poll
 * meanwhile, whichever phase queued them). */
static void on_idle(uv_idle_t *h)
{
  pv_pg_t *pg = h->data;
  enter(pg);
  uv_idle_stop(h);
  pg->idle_active = false;
  send_some(pg);
  leave(pg);
}

static void kick(pv_pg_t *pg)
{
  if (pg->st != ST_READY || pg->idle_active || pg->dead)
    return;
  if (uv_idle_start(pg->idle, on_idle) == 0)
    pg->idle_active = true;
}

/* ------------------------------------------------------------------ */
/* Receiving                                                           */
/* ------------------------------------------------------------------ */

/* A batch's Sync arrived: its transaction committed, or rolled back if a
 * statement failed. */
static void complete_batch(pv_pg_t *pg, batch_t *b)
{
  bool failed = false;
  query_t *q;

  for (q = b->qs.head; q; q = q->next)
    if (q->aborted || (q->res && !status_ok(PQresultStatus(q->res))))
      failed = true;

  while ((q = ql_pop(&b->qs)) != NULL) {
    if (!failed) {
      finish(pg, q, OUT_RESULT, false, NULL);
    } else if (q->res && !status_ok(PQresultStatus(q->res))) {
      const char *state = PQresultErrorField(q->res, PG_DIAG_SQLSTATE);
      /* "cached plan must not change result type": the table changed
       * under a prepared statement. Forget it and run the query once more
       * with a fresh plan rather than fail a write over our cache. */
      if (state && strcmp(state, "0A000") == 0 && q->stmt_id &&
          !q->replanned) {
        if (stmt_forget(pg, q->sql, q->stmt_id))
          stmt_deallocate(pg, q->stmt_id);
        q->replanned = true;
        requeue(pg, q, true);
      } else if (state && strncmp(state, "40", 2) == 0 &&
                 q->transient < PV_PG_MAX_TRANSIENT_RETRIES) {
        /* Deadlock (40P01) or serialization failure (40001): batches make
         * transactions bigger, so they make these likelier; they are
         * transient by definition, so run the statement again, alone. */
        q->transient++;
        requeue(pg, q, true);
      } else {
        finish(pg, q, OUT_RESULT, false, NULL);
      }
    } else {
      /* Rolled back (ran before the failure) or skipped (after it). */
      requeue(pg, q, true);
    }
  }
}

static void keep_result(query_t *q, PGresult *r)
{
  if (q->res)
    PQclear(r); /* keep the first: a Parse error explains the rest */
  else
    q->res = r;
}

/* Consumes one PQgetResult value. @returns 1 when no progress can be made
 * (wait for more input), 0 to continue, -1 if the connection was reset. */
static int handle_result(pv_pg_t *pg, PGresult *r)
{
  batch_t *b = pg->bhead;
  query_t *q;
  ExecStatusType st;

  if (!b) {
    if (!r)
      return 1;
    PQclear(r);
    on_lost(pg, "unexpected result from server");
    return -1;
  }
  if (!b->cur) {
    if (!r)
      return 1;
    if (PQresultStatus(r) != PGRES_PIPELINE_SYNC) {
      PQclear(r);
      on_lost(pg, "unexpected result where a pipeline sync was due");
      return -1;
    }
    PQclear(r);
    pg->bhead = b->next;
    if (!pg->bhead)
      pg->btail = NULL;
    pg->ninflight -= b->qs.n;
    complete_batch(pg, b);
    free(b);
    return 0;
  }

  q = b->cur;
  if (!r) {
    if (!b->got)
      return 1;
    b->got = false;
    if (b->phase == PH_PREPARE) {
      b->phase = PH_EXEC;
    } else {
      b->cur = q->next;
      b->phase = b->cur && b->cur->send_prepare ? PH_PREPARE : PH_EXEC;
    }
    return 0;
  }

  b->got = true;
  st = PQresultStatus(r);
  if (st == PGRES_PIPELINE_SYNC) {
    PQclear(r);
    on_lost(pg, "pipeline sync arrived before the results it ends");
    return -1;
  }
  if (b->phase == PH_PREPARE) {
    if (st == PGRES_COMMAND_OK) {
      stmt_mark_ready(pg, q->sql, q->stmt_id);
      PQclear(r);
    } else {
      /* Not created (error, or skipped after an earlier error). */
      stmt_forget(pg, q->sql, q->stmt_id);
      if (st == PGRES_PIPELINE_ABORTED) {
        q->aborted = true;
        PQclear(r);
      } else {
        keep_result(q, r);
      }
    }
    return 0;
  }
  if (st == PGRES_PIPELINE_ABORTED) {
    q->aborted = true;
    PQclear(r);
  } else {
    keep_result(q, r);
  }
  return 0;
}

static void dispatch_notifies(pv_pg_t *pg)
{
  PGnotify *n;
  while ((n = PQnotifies(pg->conn)) != NULL) {
    for (size_t i = 0; i < pg->nlistens; i++) {
      event_t *ev;
      if (strcmp(pg->listens[i].channel, n->relname) != 0)
        continue;
      ev = pv_calloc(1, sizeof(*ev));
      ev->type = EV_NOTIFY;
      ev->ncb = pg->listens[i].cb;
      ev->narg = pg->listens[i].arg;
      ev->a = pv_strdup(n->relname);
      ev->b = pv_strdup(n->extra ? n->extra : "");
      push_event(pg, ev);
    }
    PQfreemem(n);
  }
}

/* Reads every complete result libpq holds. @returns -1 if connection lost. */
static int process_input(pv_pg_t *pg)
{
  dispatch_notifies(pg);
  while (pg->st == ST_READY && pg->bhead && !PQisBusy(pg->conn)) {
    int rc = handle_result(pg, PQgetResult(pg->conn));
    if (rc < 0)
      return -1;
    if (rc > 0)
      break;
  }
  if (pg->st != ST_READY)
    return -1;
  if (PQstatus(pg->conn) == CONNECTION_BAD) {
    on_lost(pg, PQerrorMessage(pg->conn));
    return -1;
  }
  dispatch_notifies(pg);
  return 0;
}

static void on_poll(uv_poll_t *h, int status, int events)
{
  pv_pg_t *pg = h->data;
  if (!pg)
    return;
  enter(pg);
  if (pg->st == ST_CONNECTING) {
    /* Stop watching first: PQconnectPoll may close this socket and open
     * another (next host, SSL/GSS fallback). watch() re-arms. */
    uv_poll_stop(h);
    pg->poll_events = 0;
    connect_step(pg, PQconnectPoll(pg->conn));
    goto out;
  }
  if (pg->st != ST_READY)
    goto out;
  if (status < 0) {
    /* libuv reports POLLERR (e.g. a reset) as UV_EBADF; libpq usually has
     * the real reason once it tries to read. */
    char why[ERRMSG_MAX];
    if (!PQconsumeInput(pg->conn))
      one_line(why, sizeof(why), PQerrorMessage(pg->conn));
    else
      snprintf(why, sizeof(why), "socket error (%s)", uv_strerror(status));
    on_lost(pg, why);
    goto out;
  }
  if ((events & UV_READABLE) && !PQconsumeInput(pg->conn)) {
    on_lost(pg, PQerrorMessage(pg->conn));
    goto out;
  }
  if (pg->want_write && flush(pg) != 0)
    goto out;
  if (process_input(pg) != 0)
    goto out;
  send_some(pg);
  /* PQflush may read while it waits to write; drain what it buffered,
   * since no readable event will announce it. */
  if (pg->st == ST_READY)
    process_input(pg);
out:
  leave(pg);
}

/* ------------------------------------------------------------------ */
/* Public async API                                                    */
/* ------------------------------------------------------------------ */

pv_pg_t *pv_pg_new(uv_loop_t *loop, const char *conninfo, char *errstr,
                   size_t errstr_size)
{
  pv_pg_t *pg = NULL;
  char desc[256];
  int rc;

  if (!loop || !conninfo) {
    snprintf(errstr, errstr_size, "pv_pg_new: loop and conninfo are required");
    return NULL;
  }
  if (pv_pg_conninfo_describe(conninfo, desc, sizeof(desc)) != 0) {
    snprintf(errstr, errstr_size, "invalid PostgreSQL conninfo: %s", desc);
    return NULL;
  }
  pg = pv_calloc(1, sizeof(*pg));
  pg->loop = loop;
  pg->conninfo = pv_strdup(conninfo);
  memcpy(pg->desc, desc, sizeof(pg->desc));
  pg->poll_fd = -1;
  pg->max_queue = PV_PG_DEFAULT_MAX_QUEUE;
  pg->max_batch = PV_PG_DEFAULT_MAX_BATCH;
  pg->max_inflight = PV_PG_DEFAULT_MAX_INFLIGHT;
  pg->rng = pv_clock_mono_us() ^ (uint64_t)(uintptr_t)pg;
  if (!pg->rng)
    pg->rng = 0x9e3779b97f4a7c15u;

  pg->timer = pv_calloc(1, sizeof(*pg->timer));
  rc = uv_timer_init(loop, pg->timer);
  if (rc != 0) {
    free(pg->timer);
    pg->timer = NULL;
    goto fail;
  }
  pg->timer->data = pg;
  pg->idle = pv_calloc(1, sizeof(*pg->idle));
  rc = uv_idle_init(loop, pg->idle);
  if (rc != 0) {
    free(pg->idle);
    pg->idle = NULL;
    goto fail;
  }
  pg->idle->data = pg;

  start_connect(pg);
  return pg;

fail:
  snprintf(errstr, errstr_size, "pv_pg_new: %s", uv_strerror(rc));
  if (pg->timer)
    uv_close((uv_handle_t *)pg->timer, on_handle_closed);
  free(pg->conninfo);
  free(pg);
  return NULL;
}

static void free_pg(pv_pg_t *pg)
{
  query_t *q;
  while ((q = ql_pop(&pg->done)) != NULL)
    query_free(q);
  while (pg->ev_head) {
    event_t *ev = pg->ev_head;
    pg->ev_head = ev->next;
    free(ev->a);
    free(ev->b);
    free(ev);
  }
  stmt_clear(pg);
  free(pg->conninfo);
  free(pg);
}

void pv_pg_destroy(pv_pg_t *pg)
{
  query_t *q;
  if (!pg || pg->dead)
    return;
  enter(pg);
  pg->dead = true;
  while (pg->bhead) {
    batch_t *b = pg->bhead;
    pg->bhead = b->next;
    while ((q = ql_pop(&b->qs)) != NULL)
      finish(pg, q, OUT_SHUTDOWN, b->synced,
             b->synced ? "shutting down (query was in flight)"
                       : "shutting down");
    free(b);
  }
  pg->btail = NULL;
  pg->ninflight = 0;
  while ((q = ql_pop(&pg->retry)) != NULL)
    finish(pg, q, OUT_SHUTDOWN, false, "shutting down");
  while ((q = ql_pop(&pg->pending)) != NULL)
    finish(pg, q, OUT_SHUTDOWN, false, "shutting down");

  if (pg->st == ST_READY)
    pv_log(PV_LOG_INFO, "postgres.closed", PV_S("target", pg->desc));
  close_conn(pg);
  pg->timer->data = NULL;
  uv_close((uv_handle_t *)pg->timer, on_handle_closed);
  pg->timer = NULL;
  pg->idle->data = NULL;
  uv_close((uv_handle_t *)pg->idle, on_handle_closed);
  pg->idle = NULL;
  leave(pg);
}

int pv_pg_query_ex(pv_pg_t *pg, const char *sql, int nparams,
                   const char *const *params, unsigned flags, pv_pg_cb cb,
                   void *arg)
{
  size_t sql_len, size, off;
  query_t *q;
  char *p;

  if (!pg || !sql || nparams < 0 || nparams > PV_PG_MAX_PARAMS ||
      (nparams > 0 && !params))
    return PV_PG_EINVAL;
  if (pg->dead)
    return PV_PG_ECLOSED;
  if (pv_pg_queue_depth(pg) >= pg->max_queue)
    return PV_PG_EFULL;

  /* One block: the struct, the param pointer array, then the strings. */
  sql_len = strlen(sql);
  size = sizeof(query_t) + (size_t)nparams * sizeof(char *);
  if (sql_len >= SIZE_MAX - size)
    return PV_PG_EINVAL;
  size += sql_len + 1;
  for (int i = 0; i < nparams; i++) {
    size_t l;
    if (!params[i])
      continue;
    l = strlen(params[i]);
    if (l >= SIZE_MAX - size)
      return PV_PG_EINVAL;
    size += l + 1;
  }
  q = pv_calloc(1, size);
  p = (char *)q;
  off = sizeof(query_t);
  q->params = nparams ? (const char **)(void *)(p + off) : NULL;
  off += (size_t)nparams * sizeof(char *);
  q->sql = p + off;
  memcpy(q->sql, sql, sql_len + 1);
  off += sql_len + 1;
  for (int i = 0; i < nparams; i++) {
    size_t l;
    if (!params[i]) {
      q->params[i] = NULL;
      continue;
    }
    l = strlen(params[i]);
    memcpy(p + off, params[i], l + 1);
    q->params[i] = p + off;
    off += l + 1;
  }
  q->nparams = nparams;
  q->flags = flags;
  q->cb = cb;
  q->arg = arg;
  q->t0_us = pv_clock_mono_us();
  ql_push(&pg->pending, q);
  kick(pg);
  return PV_PG_OK;
}

int pv_pg_query(pv_pg_t *pg, const char *sql, int nparams,
                const char *const *params, pv_pg_cb cb, void *arg)
{
  return pv_pg_query_ex(pg, sql, nparams, params, 0, cb, arg);
}

bool pv_pg_connected(const pv_pg_t *pg)
{
  return pg && pg->st == ST_READY;
}

size_t pv_pg_queue_depth(const pv_pg_t *pg)
{
  return pg ? pg->pending.n + pg->retry.n + pg->ninflight : 0;
}

void pv_pg_set_max_queue(pv_pg_t *pg, size_t max_queue)
{
  pg->max_queue = max_queue ? max_queue : 1;
}

void pv_pg_set_max_batch(pv_pg_t *pg, size_t max_batch)
{
  pg->max_batch = max_batch ? max_batch : 1;
  if (pg->max_inflight < pg->max_batch)
    pg->max_inflight = pg->max_batch;
}

void pv_pg_set_state_cb(pv_pg_t *pg, pv_pg_state_cb cb, void *arg)
{
  pg->state_cb = cb;
  pg->state_arg = arg;
}

static void listen_done(const pv_pg_result_t *res, void *arg)
{
  (void)arg;
  if (!pv_pg_result_ok(res) && !pv_pg_result_connection_lost(res))
    pv_log(PV_LOG_ERROR, "postgres.listen_failed",
           PV_S("sqlstate", pv_pg_result_sqlstate(res)),
           PV_S("error", pv_pg_result_error(res)));
}

static void push_listen_query(pv_pg_t *pg, const char *channel, bool front)
{
  char sql[CHANNEL_MAX + 16];
  query_t *q;
  size_t len;

  /* The name was checked to be [A-Za-z0-9_], so quoting is enough. */
  snprintf(sql, sizeof(sql), "LISTEN \"%s\"", channel);
  len = strlen(sql);
  q = pv_calloc(1, sizeof(query_t) + len + 1);
  q->sql = (char *)q + sizeof(query_t);
  memcpy(q->sql, sql, len + 1);
  q->cb = listen_done;
  q->internal = true;
  q->flags = PV_PG_RETRY;
  q->t0_us = pv_clock_mono_us();
  if (front)
    ql_prepend(&pg->pending, q);
  else
    ql_push(&pg->pending, q);
}

static void push_listen_queries(pv_pg_t *pg, bool front)
{
  /* Prepended in reverse so they go out in registration order. */
  for (size_t i = pg->nlistens; i > 0; i--) {
    bool seen = false;
    for (size_t j = 0; j < i - 1; j++)
      if (strcmp(pg->listens[j].channel, pg->listens[i - 1].channel) == 0)
        seen = true;
    if (!seen)
      push_listen_query(pg, pg->listens[i - 1].channel, front);
  }
}

int pv_pg_listen(pv_pg_t *pg, const char *channel, pv_pg_notify_cb cb,
                 void *arg)
{
  size_t len;
  bool already = false;

  if (!pg || !channel || !cb)
    return PV_PG_EINVAL;
  if (pg->dead)
    return PV_PG_ECLOSED;
  len = strlen(channel);
  if (len == 0 || len > CHANNEL_MAX || pg->nlistens >= MAX_LISTENS)
    return PV_PG_EINVAL;
  for (size_t i = 0; i < len; i++) {
    char c = channel[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9') || c == '_'))
      return PV_PG_EINVAL;
  }
  for (size_t i = 0; i < pg->nlistens; i++)
    if (strcmp(pg->listens[i].channel, channel) == 0)
      already = true;
  memcpy(pg->listens[pg->nlistens].channel, channel, len + 1);
  pg->listens[pg->nlistens].cb = cb;
  pg->listens[pg->nlistens].arg = arg;
  pg->nlistens++;
  /* When not connected, on_connected issues it with the others. */
  if (!already && pg->st == ST_READY) {
    push_listen_query(pg, channel, false);
    kick(pg);
  }
  return 0;
}

void pv_pg_unlisten(pv_pg_t *pg, const char *channel, pv_pg_notify_cb cb,
                    void *arg)
{
  if (!pg || !channel)
    return;
  for (size_t i = 0; i < pg->nlistens;) {
    listen_t *l = &pg->listens[i];
    if (l->cb == cb && l->arg == arg && strcmp(l->channel, channel) == 0) {
      memmove(l, l + 1, (pg->nlistens - i - 1) * sizeof(*l));
      pg->nlistens--;
    } else {
      i++;
    }
  }
  /* Notifications received but not yet delivered name the listener too.
   * The server keeps the LISTEN: what arrives for a channel nobody
   * listens to any more is dropped by dispatch_notifies. */
  event_t **pp = &pg->ev_head;
  event_t *last = NULL;
  while (*pp) {
    event_t *ev = *pp;
    if (ev->type == EV_NOTIFY && ev->ncb == cb && ev->narg == arg &&
        strcmp(ev->a, channel) == 0) {
      *pp = ev->next;
      free(ev->a);
      free(ev->b);
      free(ev);
      continue;
    }
    last = ev;
    pp = &ev->next;
  }
  pg->ev_tail = last;
}

void pv_pg_stats(const pv_pg_t *pg, pv_pg_stats_t *out)
{
  *out = pg->stats;
  out->queue_depth = pv_pg_queue_depth(pg);
  out->connected = pv_pg_connected(pg);
  out->backend_pid = pg->backend_pid;
}

/* ------------------------------------------------------------------ */
/* Blocking API                                                        */
/* ------------------------------------------------------------------ */

struct pv_pg_sync_s {
  PGconn *conn;
};

pv_pg_sync_t *pv_pg_sync_connect(const char *conninfo, char *errstr,
                                 size_t errstr_size)
{
  const char *values[CONN_NKEYS];
  char desc[256];
  char why[ERRMSG_MAX];
  pv_pg_sync_t *db;
  PGconn *conn;

  if (!conninfo || pv_pg_conninfo_describe(conninfo, desc, sizeof(desc)) != 0) {
    snprintf(errstr, errstr_size, "invalid PostgreSQL conninfo: %s",
             conninfo ? desc : "(null)");
    return NULL;
  }
  conn_values(conninfo, values);
  conn = PQconnectdbParams(conn_keywords, values, 1);
  if (!conn || PQstatus(conn) != CONNECTION_OK) {
    one_line(why, sizeof(why), conn ? PQerrorMessage(conn) : "out of memory");
    snprintf(errstr, errstr_size, "cannot connect to PostgreSQL (%s): %s",
             desc, why);
    PQfinish(conn);
    return NULL;
  }
  PQsetNoticeProcessor(conn, notice_processor, NULL);
  db = pv_calloc(1, sizeof(*db));
  db->conn = conn;
  return db;
}

static pv_pg_result_t *sync_wrap(pv_pg_sync_t *db, PGresult *res)
{
  pv_pg_result_t *r = pv_calloc(1, sizeof(*r));
  r->res = res;
  if (!res || PQstatus(db->conn) == CONNECTION_BAD) {
    r->lost = !res || !is_statement_error(res);
    if (r->lost)
      one_line(r->err, sizeof(r->err), PQerrorMessage(db->conn));
  }
  result_fill_error(r);
  return r;
}

pv_pg_result_t *pv_pg_sync_query(pv_pg_sync_t *db, const char *sql,
                                 int nparams, const char *const *params)
{
  if (!sql || nparams < 0 || nparams > PV_PG_MAX_PARAMS) {
    pv_pg_result_t *r = pv_calloc(1, sizeof(*r));
    r->local = true;
    one_line(r->err, sizeof(r->err), "invalid query arguments");
    return r;
  }
  return sync_wrap(db, PQexecParams(db->conn, sql, nparams, NULL, params,
                                    NULL, NULL, 0));
}

pv_pg_result_t *pv_pg_sync_exec(pv_pg_sync_t *db, const char *script)
{
  if (!script) {
    pv_pg_result_t *r = pv_calloc(1, sizeof(*r));
    r->local = true;
    one_line(r->err, sizeof(r->err), "invalid script");
    return r;
  }
  return sync_wrap(db, PQexec(db->conn, script));
}

int pv_pg_sync_backend_pid(const pv_pg_sync_t *db)
{
  return db && db->conn ? PQbackendPID(db->conn) : 0;
}

void pv_pg_sync_close(pv_pg_sync_t *db)
{
  if (!db)
    return;
  PQfinish(db->conn);
  free(db);
}
