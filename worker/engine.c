#include "worker/engine.h"

#include "common/alloc.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/map.h"
#include "jobs/catalog.h"
#include "jobs/job.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Delay before re-checking a job that runs elsewhere under a live lease. */
#define BUSY_RECHECK_MIN_MS 200
#define BUSY_RECHECK_MAX_MS 5000
/* Back-off for a reply or dead letter the broker did not take. */
#define PRODUCE_RETRY_MAX_MS 30000

typedef enum task_state {
  T_WAITING = 0, /* behind an earlier job of its key */
  T_READY,       /* head of its lane, queued for a share of capacity */
  T_CLAIMING,
  T_RUNNING,
  T_FINISHING,
  T_PUBLISHING,
} task_state_t;

typedef struct task task_t;
typedef struct lane lane_t;
typedef struct tenant_q tenant_q_t;

typedef struct produce_req {
  task_t *task;  /* NULL once acknowledged */
  bool dlq;      /* false: the reply */
  bool waiting;  /* failed; goes again when the task's timer fires */
  int tries;
} produce_req_t;

struct task {
  pv_engine_t *eng;
  task_t *prev, *next;        /* every task of the engine */
  task_t *lane_next;          /* FIFO of its lane */
  task_t *ready_next;         /* FIFO of its tenant's ready queue, or of
                                 the duplicates waiting behind it */
  task_t *dups;               /* same job id, waiting for this run */
  lane_t *lane;
  tenant_q_t *tq;
  task_state_t state;
  bool counted;               /* holds an in-flight slot */
  bool active;                /* has work outstanding (claim .. publish) */
  bool abandoned;             /* its partition was revoked before it ran */
  bool from_store;            /* a parked job claimed from PostgreSQL: its
                                 offset was committed when it parked */
  int reached;                /* earlier runs that sent a request */
  bool interrupted;           /* an earlier run was cut off mid-way */
  bool outcome_retried;       /* the outcome was written again without its
                                 result after a permanent failure */
  int64_t retry_at_ms;        /* when the service may be tried again */
  int64_t next_attempt_ms;    /* parked: when it runs again */
  const char *retry_reason;   /* parked: why (static text) */
  pv_record_t *rec;
  pv_job_t *job;              /* NULL when the record is invalid */
  pv_format_t format;
  pv_error_t err;
  /* what a record that never became a job still told us */
  char *salvaged_id, *salvaged_tenant, *salvaged_service, *salvaged_op;
  const char *reply_topic;    /* borrowed: header, job or config */
  char *traceparent;
  int64_t received_ms, started_ms, finished_ms, deadline_ms;
  int attempts;
  char *reply;
  size_t reply_len;
  char *reply_topic_owned;    /* republished replies, refused jobs */
  char *dlq_topic;
  int produce_pending;
  produce_req_t preq[2];
  uv_timer_t timer;           /* busy re-checks, produce retries */
  const char *final_state;
};

struct lane {
  task_t *head, *tail;
  char key[];
};

struct tenant_q {
  const char *name;
  int weight;
  int cap;
  int in_flight;
  task_t *head, *tail;
};

struct pv_engine_s {
  uv_loop_t *loop;
  const pv_config_t *conf;
  pv_store_t *store;
  pv_clients_t *clients;
  pv_kafka_t *kafka;
  pv_map_t *lanes;
  pv_map_t *running;          /* job id -> task, claimed in this process */
  pv_map_t *topic_load;       /* topic -> int* jobs in flight from it */
  tenant_q_t *tenants;
  size_t n_tenants;
  size_t rr;
  task_t *tasks;              /* list head */
  int in_flight;
  int active;
  int buffered;
  bool draining;
  bool closing;
  bool fatal;
  uv_timer_t lease_timer;
  uv_timer_t drain_timer;
  pv_engine_drained_cb drained_cb;
  void *drained_arg;
  uint64_t trace_state;
  int open_handles;          /* freed when the last timer has closed */
  pv_job_observer_cb observer;
  void *observer_arg;
  uv_timer_t due_timer;
  bool due_pending;          /* a due-job claim is in flight */
  int due_last_batch;        /* jobs asked for by the last claim */
  int due_got;               /* jobs it returned so far */
  char *topics_array;        /* "{t1,t2}": our topics, for the due scan */
  pv_map_t *holds;           /* "tenant\x1fservice" -> int64_t* until (ms):
                                a Retry-After every job of it honours */
  pv_engine_stats_t stats;
};

static void dispatch(pv_engine_t *eng);
static void publish(task_t *t);
static void start_claim(task_t *t);
static void classify(task_t *t);
static void reject(task_t *t);

/* ---- small helpers ------------------------------------------------------ */

static bool valid_topic(const char *s)
{
  size_t n = strlen(s);
  if (n == 0 || n > PV_JOB_TOPIC_MAX || !strcmp(s, ".") || !strcmp(s, ".."))
    return false;
  for (; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
          (*s >= '0' && *s <= '9') || *s == '.' || *s == '_' || *s == '-'))
      return false;
  return true;
}

static const char *header_str(const pv_record_t *rec, const char *name)
{
  const pv_header_t *h = pv_record_header(rec, name);
  if (!h || !h->value || memchr(h->value, '\0', h->value_len))
    return NULL;
  return h->value;
}

static tenant_q_t *tenant_find(pv_engine_t *eng, const char *name)
{
  for (size_t i = 0; i < eng->n_tenants; i++)
    if (!strcmp(eng->tenants[i].name, name))
      return &eng->tenants[i];
  return NULL;
}

/* Jobs in flight per source topic, for max_in_flight_per_topic: a flood
 * on one topic (long provisioning orders) leaves room for another (quick
 * queries). */
static int *topic_slot(pv_engine_t *eng, const char *topic)
{
  int *n = pv_map_get(eng->topic_load, topic);
  if (!n) {
    n = pv_calloc(1, sizeof(*n));
    pv_map_put(eng->topic_load, topic, n);
  }
  return n;
}

static bool topic_has_room(pv_engine_t *eng, const char *topic)
{
  int cap = eng->conf->max_in_flight_per_topic;
  if (cap <= 0)
    return true;
  int *n = pv_map_get(eng->topic_load, topic);
  return !n || *n < cap;
}

/* W3C traceparent: version 00, random trace and span ids, sampled. */
static char *new_traceparent(pv_engine_t *eng)
{
  uint64_t r[3];
  for (int i = 0; i < 3; i++) {
    /* xorshift64*: unique enough for trace ids, never for secrets */
    uint64_t x = eng->trace_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    eng->trace_state = x;
    r[i] = x * 2685821657736338717ull;
  }
  return pv_asprintf("00-%016llx%016llx-%016llx-01", (unsigned long long)r[0],
                     (unsigned long long)r[1], (unsigned long long)r[2]);
}

/* Original headers as [[name, value|null], ...] for the job row; a value
 * that is not UTF-8 text is kept as {"hex": "..."}. */
static char *headers_json(const pv_record_t *rec)
{
  json_t *arr = json_array();
  for (size_t i = 0; i < rec->n_headers; i++) {
    const pv_header_t *h = &rec->headers[i];
    json_t *v = json_null();
    if (h->value) {
      v = json_stringn(h->value, h->value_len);
      if (!v) {
        char *hex = pv_malloc(2 * h->value_len + 1);
        for (size_t b = 0; b < h->value_len; b++)
          snprintf(hex + 2 * b, 3, "%02x", (unsigned char)h->value[b]);
        v = json_pack("{s:s}", "hex", hex);
        free(hex);
      }
    }
    json_t *name = json_string(h->name);
    if (!name)
      name = json_string("(invalid header name)");
    json_array_append_new(arr, json_pack("[oo]", name, v));
  }
  char *s = json_dumps(arr, JSON_COMPACT);
  json_decref(arr);
  return s ? s : pv_strdup("[]");
}

static void emit(task_t *t, pv_job_event_kind_t kind)
{
  pv_engine_t *eng = t->eng;
  if (!eng->observer)
    return;
  const pv_job_t *j = t->job;
  pv_job_event_t ev = {
    .kind = kind,
    .tenant = j ? j->tenant : t->salvaged_tenant,
    .service = j ? j->service : t->salvaged_service,
    .op = j ? j->op : t->salvaged_op,
    .state = t->final_state,
    .error_class = t->err.cls ? pv_errclass_name(t->err.cls) : NULL,
    .attempts = t->attempts,
    .duration_ms = t->finished_ms ? t->finished_ms - t->received_ms : 0,
    .queued_ms = t->started_ms ? t->started_ms - t->received_ms : 0,
  };
  eng->observer(&ev, eng->observer_arg);
}

/* ---- task lifecycle ----------------------------------------------------- */

static void on_task_closed(uv_handle_t *h)
{
  task_t *t = h->data;
  pv_record_destroy(t->rec);
  pv_job_destroy(t->job);
  free(t->salvaged_id);
  free(t->salvaged_tenant);
  free(t->salvaged_service);
  free(t->salvaged_op);
  free(t->traceparent);
  free(t->reply);
  free(t->reply_topic_owned);
  free(t->dlq_topic);
  free(t);
}

static void ready(task_t *t)
{
  t->state = T_READY;
  tenant_q_t *q = t->tq;
  t->ready_next = NULL;
  if (q->tail)
    q->tail->ready_next = t;
  else
    q->head = t;
  q->tail = t;
}

/* Takes t out of everything and frees it; its lane's next job becomes
 * ready. done: the outcome is durable and published, store the offset. */
static void release(task_t *t, bool done)
{
  pv_engine_t *eng = t->eng;
  if (done && !eng->closing && !t->from_store)
    pv_kafka_done(eng->kafka, t->rec);
  if (t->counted) {
    eng->in_flight--;
    t->tq->in_flight--;
    (*topic_slot(eng, t->rec->topic))--;
    pv_map_remove(eng->running, t->job ? t->job->id : t->salvaged_id);
  }
  /* Records of the same job that arrived meanwhile: their turn now (the
   * job row tells them it is finished). */
  while (t->dups) {
    task_t *d = t->dups;
    t->dups = d->ready_next;
    if (!eng->closing)
      ready(d);
  }
  if (t->active)
    eng->active--;
  if (t->lane) {
    lane_t *l = t->lane;
    /* only the head of a lane ever finishes */
    l->head = t->lane_next;
    if (!l->head) {
      l->tail = NULL;
      pv_map_remove(eng->lanes, l->key);
      free(l);
    } else if (!eng->closing) {
      ready(l->head);
    }
  }
  if (t->prev)
    t->prev->next = t->next;
  else
    eng->tasks = t->next;
  if (t->next)
    t->next->prev = t->prev;
  eng->buffered--;
  if (pv_kafka_paused(eng->kafka) && !eng->draining && !eng->closing &&
      eng->buffered <= eng->conf->max_buffered / 2)
    pv_kafka_pause(eng->kafka, false);
  uv_close((uv_handle_t *)&t->timer, on_task_closed);
  if (eng->closing)
    return;
  dispatch(eng);
  if (eng->draining && eng->active == 0 && eng->drained_cb) {
    pv_engine_drained_cb cb = eng->drained_cb;
    eng->drained_cb = NULL;
    uv_timer_stop(&eng->drain_timer);
    cb(true, eng->drained_arg);
  }
}

static void task_done(task_t *t)
{
  pv_engine_t *eng = t->eng;
  if (t->final_state)
    emit(t, t->job ? PV_JOB_EV_FINISHED : PV_JOB_EV_REJECTED);
  else
    emit(t, PV_JOB_EV_REPUBLISHED);
  if (t->final_state) {
    if (!strcmp(t->final_state, "succeeded"))
      eng->stats.succeeded++;
    else if (!strcmp(t->final_state, "failed"))
      eng->stats.failed++;
    else if (!strcmp(t->final_state, "dead"))
      eng->stats.dead++;
  }
  release(t, true);
}

/* ---- replies and dead letters ------------------------------------------- */

static const char *reply_status(const char *state)
{
  return !strcmp(state, "dead") ? "dead_lettered" : state;
}

/* Builds and encodes the reply of a finished job into t->reply. */
static void build_reply(task_t *t, const char *state, const json_t *result)
{
  const pv_job_t *j = t->job;
  json_t *err = json_null();
  if (t->err.cls != PV_ERR_NONE) {
    err = json_pack("{s:s,s:s}", "class", pv_errclass_name(t->err.cls),
                    "message", t->err.message);
    if (!err) /* a message that is not UTF-8 text */
      err = json_pack("{s:s,s:s}", "class", pv_errclass_name(t->err.cls),
                      "message", "(unprintable message)");
    json_object_set_new(err, "http_status", t->err.http_status
                                                ? json_integer(t->err.http_status)
                                                : json_null());
  }
  const char *id = j ? j->id : t->salvaged_id;
  json_t *doc = json_pack(
      "{s:i,s:s?,s:s?,s:s?,s:s?,s:s,s:O?,s:o,s:i,s:I,s:I,s:I}", "v", 1, "id",
      id, "tenant", j ? j->tenant : t->salvaged_tenant, "service",
      j ? j->service : t->salvaged_service, "op", j ? j->op : t->salvaged_op,
      "status", reply_status(state), "result", result, "error", err,
      "attempts", t->attempts, "received_at", (json_int_t)t->received_ms,
      "finished_at", (json_int_t)t->finished_ms, "duration_ms",
      (json_int_t)(t->finished_ms - t->received_ms));
  free(t->reply);
  t->reply = NULL;
  t->reply_len = 0;
  if (!doc || pv_doc_encode(doc, t->format, &t->reply, &t->reply_len) < 0) {
    pv_log(PV_LOG_ERROR, "job.reply_encode_failed", PV_S("job_id", id));
    t->reply = NULL;
  }
  json_decref(doc);
}

static void on_produced(int err, const char *errstr, void *arg);

static void produce_retry(uv_timer_t *timer);

static int produce_one(produce_req_t *pr)
{
  task_t *t = pr->task;
  pv_engine_t *eng = t->eng;
  char errbuf[256];
  const pv_record_t *rec = t->rec;
  int rc;
  if (!pr->dlq) {
    const char *id = t->job ? t->job->id : t->salvaged_id;
    pv_out_header_t hdrs[2];
    size_t nh = 0;
    const pv_header_t *corr = pv_record_header(rec, "correlation-id");
    if (corr) {
      hdrs[nh].name = corr->name;
      hdrs[nh].value = corr->value;
      hdrs[nh].value_len = corr->value_len;
      nh++;
    }
    hdrs[nh].name = "content-type";
    hdrs[nh].value = pv_format_content_type(t->format);
    hdrs[nh].value_len = strlen(hdrs[nh].value);
    nh++;
    const char *topic = t->reply_topic_owned ? t->reply_topic_owned
                                             : t->reply_topic;
    rc = pv_kafka_produce(eng->kafka, topic, id, strlen(id), t->reply,
                          t->reply_len, hdrs, nh, on_produced, pr, errbuf,
                          sizeof(errbuf));
  } else {
    /* The original record byte for byte, its headers (less any earlier
     * x-dlq-* ones) and why it is here. */
    pv_out_header_t hdrs[PV_KAFKA_MAX_HEADERS + 8];
    size_t nh = 0;
    for (size_t i = 0; i < rec->n_headers; i++) {
      if (!strncmp(rec->headers[i].name, "x-dlq-", 6))
        continue;
      hdrs[nh].name = rec->headers[i].name;
      hdrs[nh].value = rec->headers[i].value;
      hdrs[nh].value_len = rec->headers[i].value_len;
      nh++;
    }
    char attempts[16], part[16], off[24], at[32];
    snprintf(attempts, sizeof(attempts), "%d", t->attempts);
    snprintf(part, sizeof(part), "%d", (int)rec->partition);
    snprintf(off, sizeof(off), "%lld", (long long)rec->offset);
    pv_clock_fmt_rfc3339(t->finished_ms ? t->finished_ms : pv_clock_wall_ms(),
                         at, sizeof(at));
    const char *add[][2] = {
      {"x-dlq-error-class", pv_errclass_name(t->err.cls)},
      {"x-dlq-error", t->err.message},
      {"x-dlq-attempts", attempts},
      {"x-dlq-source-topic", rec->topic},
      {"x-dlq-source-partition", part},
      {"x-dlq-source-offset", off},
      {"x-dlq-failed-at", at},
      {"x-dlq-worker", eng->conf->worker_id},
    };
    for (size_t i = 0; i < sizeof(add) / sizeof(add[0]); i++) {
      hdrs[nh].name = add[i][0];
      hdrs[nh].value = add[i][1];
      hdrs[nh].value_len = strlen(add[i][1]);
      nh++;
    }
    rc = pv_kafka_produce(eng->kafka, t->dlq_topic, rec->key, rec->key_len,
                          rec->value, rec->value_len, hdrs, nh, on_produced,
                          pr, errbuf, sizeof(errbuf));
  }
  if (rc < 0)
    pv_log(PV_LOG_WARN, "job.produce_failed",
           PV_S("job_id", t->job ? t->job->id : t->salvaged_id),
           PV_S("what", pr->dlq ? "dead_letter" : "reply"),
           PV_S("error", errbuf));
  return rc;
}

static void schedule_produce_retry(produce_req_t *pr)
{
  task_t *t = pr->task;
  pr->waiting = true;
  pr->tries++;
  uint64_t delay = 100u << (pr->tries < 9 ? pr->tries : 9);
  if (delay > PRODUCE_RETRY_MAX_MS)
    delay = PRODUCE_RETRY_MAX_MS;
  /* A task has at most two records in flight; the timer serves whichever
   * failed (both go again together if both did). */
  t->timer.data = t;
  uv_timer_start(&t->timer, produce_retry, delay, 0);
}

static void produce_retry(uv_timer_t *timer)
{
  task_t *t = timer->data;
  for (int i = 0; i < 2; i++) {
    produce_req_t *pr = &t->preq[i];
    if (!pr->task || !pr->waiting)
      continue;
    pr->waiting = false;
    if (produce_one(pr) < 0)
      schedule_produce_retry(pr);
  }
}

static void on_produced(int err, const char *errstr, void *arg)
{
  produce_req_t *pr = arg;
  task_t *t = pr->task;
  if (t->eng->closing) {
    if (--t->produce_pending == 0)
      release(t, false);
    return;
  }
  if (err) {
    pv_log(PV_LOG_WARN, "job.produce_retry",
           PV_S("job_id", t->job ? t->job->id : t->salvaged_id),
           PV_S("what", pr->dlq ? "dead_letter" : "reply"),
           PV_S("error", errstr));
    schedule_produce_retry(pr);
    return;
  }
  pr->task = NULL;
  if (--t->produce_pending == 0)
    task_done(t);
}

static void publish(task_t *t)
{
  t->state = T_PUBLISHING;
  t->produce_pending = 0;
  bool want[2] = {t->reply != NULL, t->dlq_topic != NULL};
  for (int i = 0; i < 2; i++) {
    if (!want[i])
      continue;
    produce_req_t *pr = &t->preq[i];
    pr->task = t;
    pr->dlq = i == 1;
    pr->waiting = false;
    pr->tries = 0;
    t->produce_pending++;
  }
  if (t->produce_pending == 0) {
    task_done(t);
    return;
  }
  for (int i = 0; i < 2; i++) {
    produce_req_t *pr = &t->preq[i];
    if (pr->task && produce_one(pr) < 0)
      schedule_produce_retry(pr);
  }
}

/* ---- outcomes ----------------------------------------------------------- */

static void record_outcome(task_t *t, const char *result_json);

static void on_finished(bool ok, void *arg)
{
  task_t *t = arg;
  if (t->eng->closing) {
    release(t, false);
    return;
  }
  if (!ok && !t->outcome_retried) {
    /* Refused for good (transient failures are retried by the store):
     * most likely the result itself (e.g. a NUL character jsonb will not
     * hold). Left 'running', the row would be taken over after its lease
     * and the job run again and again. Record the outcome without the
     * result; the reply still carries it. */
    t->outcome_retried = true;
    pv_log(PV_LOG_ERROR, "job.outcome_not_recorded",
           PV_S("job_id", t->job->id), PV_S("state", t->final_state),
           PV_S("msg", "writing the outcome again without its result; see "
                       "store.write_failed"));
    record_outcome(t, NULL);
    return;
  }
  if (!ok)
    pv_log(PV_LOG_ERROR, "job.outcome_not_recorded",
           PV_S("job_id", t->job->id), PV_S("state", t->final_state),
           PV_S("msg", "the reply is published anyway; the row stays "
                       "'running' and will be taken over when its lease "
                       "ends: an operator should look"));
  publish(t);
}

/* Errors that mean "the service was not available", not "the request was
 * wrong": the job may succeed later, so it waits instead of dying. */
static bool parkable(pv_errclass_t cls)
{
  switch (cls) {
  case PV_ERR_CIRCUIT_OPEN:
  case PV_ERR_RATE_LIMITED:
  case PV_ERR_CONNECT:
  case PV_ERR_TIMEOUT:
  case PV_ERR_HTTP_5XX:
    return true;
  default:
    return false;
  }
}

static const char *park_reason(pv_errclass_t cls)
{
  return cls == PV_ERR_CIRCUIT_OPEN   ? "breaker_open"
         : cls == PV_ERR_RATE_LIMITED ? "rate_limited"
                                      : "retries_exhausted";
}

static char *hold_key(const pv_job_t *j)
{
  return pv_asprintf("%s\x1f%s", j->tenant, j->service);
}

/* The Retry-After a service gave this tenant: every job of that
 * (tenant, service) waits for it, here, without sending a request. */
static int64_t hold_until(pv_engine_t *eng, const pv_job_t *j)
{
  char *k = hold_key(j);
  int64_t *until = pv_map_get(eng->holds, k);
  int64_t v = until ? *until : 0;
  if (until && v <= pv_clock_wall_ms()) {
    free(pv_map_remove(eng->holds, k));
    v = 0;
  }
  free(k);
  return v;
}

static void hold_set(pv_engine_t *eng, const pv_job_t *j, int64_t until)
{
  char *k = hold_key(j);
  int64_t *cur = pv_map_get(eng->holds, k);
  if (!cur) {
    cur = pv_malloc(sizeof(*cur));
    *cur = 0;
    pv_map_put(eng->holds, k, cur);
  }
  if (until > *cur)
    *cur = until;
  free(k);
}

static void on_parked_recorded(bool ok, void *arg)
{
  task_t *t = arg;
  if (t->eng->closing) {
    release(t, false);
    return;
  }
  if (!ok) {
    /* Not durable as parked: dead-letter it (recorded as dead, so no
     * worker takes it over later) rather than lose it. */
    size_t n = strlen(t->err.message);
    snprintf(t->err.message + n, sizeof(t->err.message) - n, "%s",
             " (could not be parked: see store.write_failed)");
    t->final_state = "dead";
    t->finished_ms = pv_clock_wall_ms();
    build_reply(t, "dead", NULL);
    t->dlq_topic = pv_asprintf("%s%s", t->rec->topic,
                               t->eng->conf->kafka_dlq_suffix);
    record_outcome(t, NULL);
    return;
  }
  t->eng->stats.parked++;
  emit(t, PV_JOB_EV_PARKED);
  /* Durable in PostgreSQL: the record is done, any worker runs the job
   * when it is due. */
  release(t, true);
}

/* Full-jitter exponential wait for the n-th parked run. */
static int64_t park_backoff(pv_engine_t *eng, int n)
{
  int64_t base = eng->conf->park_backoff_base_ms;
  int64_t cap = eng->conf->park_backoff_cap_ms;
  int64_t ceil_ms = base;
  for (int i = 1; i < n && ceil_ms < cap; i++)
    ceil_ms *= 2;
  if (ceil_ms > cap)
    ceil_ms = cap;
  eng->trace_state ^= eng->trace_state << 13;
  eng->trace_state ^= eng->trace_state >> 7;
  eng->trace_state ^= eng->trace_state << 17;
  /* at least a tenth of the step, so parked jobs never spin */
  return ceil_ms / 10 + (int64_t)(eng->trace_state % (uint64_t)(ceil_ms - ceil_ms / 10 + 1));
}

/* Decides whether an unavailable service parks the job rather than
 * killing it. @returns true if it was parked (the outcome is on its way). */
static bool maybe_park(task_t *t, int attempts, int64_t retry_at_ms)
{
  pv_engine_t *eng = t->eng;
  if (!parkable(t->err.cls))
    return false;
  int reached = t->reached + (attempts > 0 ? 1 : 0);
  int limit = t->job->max_attempts ? t->job->max_attempts
                                   : eng->conf->job_max_attempts;
  int64_t now = pv_clock_wall_ms();
  int64_t next = now + park_backoff(eng, reached > 0 ? reached : 1);
  if (retry_at_ms > next)
    next = retry_at_ms;
  if (t->err.cls == PV_ERR_RATE_LIMITED && retry_at_ms > now)
    hold_set(eng, t->job, retry_at_ms);
  if (reached >= limit) {
    size_t n = strlen(t->err.message);
    snprintf(t->err.message + n, sizeof(t->err.message) - n,
             " (%d attempts used up)", reached);
    return false;
  }
  if (next >= t->deadline_ms) {
    /* The job cannot be tried again in time: that is what it dies of,
     * and the last answer says why. */
    char last[PV_ERROR_MSG_MAX];
    snprintf(last, sizeof(last), "%s", t->err.message);
    pv_error_set(&t->err, PV_ERR_DEADLINE_EXCEEDED, t->err.http_status,
                 "deadline passes before %s is available again; last error "
                 "(%s): %s", t->job->service, pv_errclass_name(t->err.cls),
                 last);
    return false;
  }
  t->next_attempt_ms = next;
  t->retry_reason = park_reason(t->err.cls);
  t->final_state = NULL;
  pv_log(PV_LOG_INFO, "job.parked", PV_S("job_id", t->job->id),
         PV_S("tenant_id", t->job->tenant), PV_S("service", t->job->service),
         PV_S("op", t->job->op), PV_S("reason", t->retry_reason),
         PV_S("error_class", pv_errclass_name(t->err.cls)),
         PV_S("error", t->err.message), PV_I("reached", reached),
         PV_I("limit", limit), PV_I("next_attempt_in_ms", next - now));
  pv_endpoint_t *ep = pv_clients_endpoint(eng->clients, t->job->tenant,
                                          t->job->service);
  pv_store_outcome_t o = {
    .job_id = t->job->id,
    .state = "retry_wait",
    .attempts = attempts,
    .err = &t->err,
    .reply_topic = t->reply_topic_owned ? t->reply_topic_owned : t->reply_topic,
    .next_attempt_ms = next,
    .retry_reason = t->retry_reason,
    .breaker_state = ep ? pv_breaker_state_name(pv_endpoint_breaker_state(ep))
                        : NULL,
  };
  t->state = T_FINISHING;
  pv_store_finish(eng->store, &o, on_parked_recorded, t);
  return true;
}

static void complete(task_t *t, const json_t *result, const pv_error_t *err,
                     int attempts, int64_t retry_at_ms)
{
  pv_engine_t *eng = t->eng;
  t->finished_ms = pv_clock_wall_ms();
  t->attempts = attempts;
  if (err)
    t->err = *err;
  if (maybe_park(t, attempts, retry_at_ms))
    return;
  const char *state = t->err.cls == PV_ERR_NONE       ? "succeeded"
                      : !pv_errclass_is_dead(t->err.cls) ? "failed"
                                                        : "dead";
  t->final_state = state;
  build_reply(t, state, result);
  if (!strcmp(state, "dead"))
    t->dlq_topic = pv_asprintf("%s%s", t->rec->topic, eng->conf->kafka_dlq_suffix);
  pv_log(t->err.cls == PV_ERR_NONE ? PV_LOG_DEBUG : PV_LOG_INFO,
         "job.finished", PV_S("job_id", t->job->id),
         PV_S("tenant_id", t->job->tenant), PV_S("service", t->job->service),
         PV_S("op", t->job->op), PV_S("state", state),
         PV_S("error_class", t->err.cls ? pv_errclass_name(t->err.cls) : NULL),
         PV_S("error", t->err.cls ? t->err.message : NULL),
         PV_I("attempts", attempts),
         PV_I("duration_ms", t->finished_ms - t->received_ms));

  char *result_json = result ? json_dumps(result, JSON_COMPACT) : NULL;
  record_outcome(t, result_json);
  free(result_json);
}

/* Writes t's final outcome (t->final_state, t->err, t->attempts, the
 * encoded reply); on_finished publishes next. */
static void record_outcome(task_t *t, const char *result_json)
{
  pv_engine_t *eng = t->eng;
  pv_endpoint_t *ep = pv_clients_endpoint(eng->clients, t->job->tenant,
                                          t->job->service);
  pv_store_outcome_t o = {
    .job_id = t->job->id,
    .state = t->final_state,
    .attempts = t->attempts,
    .result_json = result_json,
    .err = &t->err,
    .reply = t->reply,
    .reply_len = t->reply_len,
    .reply_topic = t->reply_topic_owned ? t->reply_topic_owned
                                        : t->reply_topic,
    .dlq_topic = t->dlq_topic,
    .breaker_state = ep ? pv_breaker_state_name(pv_endpoint_breaker_state(ep))
                        : NULL,
  };
  t->state = T_FINISHING;
  pv_store_finish(eng->store, &o, on_finished, t);
}

static void on_exec(const pv_exec_result_t *res, void *arg)
{
  task_t *t = arg;
  if (t->eng->closing) {
    release(t, false);
    return;
  }
  complete(t, res->result, &res->err, res->attempts, res->retry_at_ms);
}

/* An op that may be sent again after a run was cut off: idempotent, or
 * keyed (its client finds the object the earlier run created). */
static bool resendable(const pv_job_t *j)
{
  const pv_op_t *op = pv_catalog_find(j->service, j->op);
  return op && (op->idempotent || op->lookup);
}

static void execute(task_t *t)
{
  pv_engine_t *eng = t->eng;
  int64_t now = pv_clock_wall_ms();
  t->state = T_RUNNING;
  t->started_ms = now;
  if (now >= t->deadline_ms) {
    pv_error_t e;
    pv_error_set(&e, PV_ERR_DEADLINE_EXCEEDED, 0,
                 "deadline passed before the job could run");
    complete(t, NULL, &e, 0, 0);
    return;
  }
  if (t->interrupted && !resendable(t->job)) {
    /* Its worker died mid-run: the request may have been carried out.
     * Sending it again could do it twice; an operator decides. */
    pv_error_t e;
    pv_error_set(&e, PV_ERR_OUTCOME_UNKNOWN, 0,
                 "an earlier run of this job was cut off and may have sent "
                 "%s.%s (not idempotent): not sent again", t->job->service,
                 t->job->op);
    complete(t, NULL, &e, 0, 0);
    return;
  }
  int64_t hold = hold_until(eng, t->job);
  if (hold) {
    /* The service asked this tenant to wait (Retry-After): no request
     * before then, from any job. */
    pv_error_t e;
    pv_error_set(&e, PV_ERR_RATE_LIMITED, 429,
                 "%s asked to wait until its Retry-After", t->job->service);
    complete(t, NULL, &e, 0, hold);
    return;
  }
  emit(t, PV_JOB_EV_STARTED);
  pv_exec_ctx_t ctx = {.traceparent = t->traceparent,
                       .deadline_ms = t->deadline_ms};
  pv_error_t e;
  pv_error_clear(&e);
  pv_log(PV_LOG_DEBUG, "job.started", PV_S("job_id", t->job->id),
         PV_S("tenant_id", t->job->tenant), PV_S("service", t->job->service),
         PV_S("op", t->job->op), PV_S("traceparent", t->traceparent));
  if (pv_clients_execute(eng->clients, t->job, &ctx, on_exec, t, &e) < 0)
    complete(t, NULL, &e, 0, 0);
}

static void on_busy_recheck(uv_timer_t *timer)
{
  start_claim(timer->data);
}

static void on_claim(const pv_claim_t *c, void *arg)
{
  task_t *t = arg;
  pv_engine_t *eng = t->eng;
  if (eng->closing) {
    release(t, false);
    return;
  }
  switch (c->status) {
  case PV_CLAIM_OK:
    t->reached = c->reached;
    t->interrupted = c->interrupted;
    execute(t);
    return;
  case PV_CLAIM_PARKED:
    /* An earlier job of its key is parked (or it is parked itself): it
     * waits in PostgreSQL; the record is done. */
    pv_log(PV_LOG_INFO, "job.parked", PV_S("job_id", t->job->id),
           PV_S("tenant_id", t->job->tenant), PV_S("reason", c->worker_id));
    eng->stats.parked++;
    emit(t, PV_JOB_EV_PARKED);
    release(t, true);
    return;
  case PV_CLAIM_FINAL:
    /* Finished before (a redelivery): publish what was published then,
     * never run it again. */
    eng->stats.republished++;
    pv_log(PV_LOG_INFO, "job.republished", PV_S("job_id", t->job->id),
           PV_S("state", c->state));
    t->final_state = NULL;
    t->finished_ms = pv_clock_wall_ms();
    t->attempts = c->attempts;
    if (c->reply && c->reply_len) {
      t->reply = pv_malloc(c->reply_len);
      memcpy(t->reply, c->reply, c->reply_len);
      t->reply_len = c->reply_len;
    }
    if (c->reply_topic)
      t->reply_topic_owned = pv_strdup(c->reply_topic);
    if (c->dlq_topic) {
      t->dlq_topic = pv_strdup(c->dlq_topic);
      int cls = c->error_class ? pv_errclass_parse(c->error_class) : -1;
      pv_error_set(&t->err, cls < 0 ? PV_ERR_INTERNAL : (pv_errclass_t)cls, 0,
                   "%s", c->error_message ? c->error_message : "");
    }
    publish(t);
    return;
  case PV_CLAIM_BUSY: {
    int64_t wait = c->lease_left_ms;
    if (wait < BUSY_RECHECK_MIN_MS)
      wait = BUSY_RECHECK_MIN_MS;
    if (wait > BUSY_RECHECK_MAX_MS)
      wait = BUSY_RECHECK_MAX_MS;
    pv_log(PV_LOG_INFO, "job.running_elsewhere", PV_S("job_id", t->job->id),
           PV_S("worker", c->worker_id), PV_I("recheck_ms", wait));
    t->timer.data = t;
    uv_timer_start(&t->timer, on_busy_recheck, (uint64_t)wait, 0);
    return;
  }
  case PV_CLAIM_ERROR:
    break;
  }
  /* The job row could not be written for a reason other than the
   * connection (already retried): an operator has to look. */
  pv_error_t e;
  pv_error_set(&e, PV_ERR_INTERNAL, 0,
               "the job could not be recorded in PostgreSQL");
  t->err = e;
  t->finished_ms = pv_clock_wall_ms();
  t->final_state = "dead";
  build_reply(t, "dead", NULL);
  t->dlq_topic = pv_asprintf("%s%s", t->rec->topic, eng->conf->kafka_dlq_suffix);
  publish(t);
}

/* The row's identity and provenance, as the job table keeps them. */
static void store_job_of(const task_t *t, const char *id, const char *tenant,
                         const char *service, const char *op,
                         const char *hdrs_json, pv_store_job_t *sj)
{
  const pv_record_t *rec = t->rec;
  memset(sj, 0, sizeof(*sj));
  sj->job_id = id;
  sj->tenant = tenant;
  sj->service = service;
  sj->op = op;
  sj->ordering_key = rec->key && !memchr(rec->key, '\0', rec->key_len)
                         ? rec->key : NULL;
  sj->source_topic = rec->topic;
  sj->source_partition = rec->partition;
  sj->source_offset = rec->offset;
  sj->reply_topic = t->reply_topic;
  sj->correlation_id = header_str(rec, "correlation-id");
  sj->content_type = pv_format_content_type(t->format);
  sj->payload = rec->value;
  sj->payload_len = rec->value_len;
  sj->headers_json = hdrs_json;
  sj->received_at_ms = t->received_ms;
}

static void start_claim(task_t *t)
{
  pv_engine_t *eng = t->eng;
  const pv_job_t *j = t->job;
  const pv_record_t *rec = t->rec;
  char *hj = headers_json(rec);
  pv_store_job_t sj;
  store_job_of(t, j->id, j->tenant, j->service, j->op, hj, &sj);
  sj.deadline_ms = t->deadline_ms;
  sj.lease_ms = eng->conf->lease_ms;
  t->state = T_CLAIMING;
  pv_store_claim(eng->store, &sj, on_claim, t);
  free(hj);
}

/* The task takes an in-flight slot: process, tenant and topic. */
static void count_in(task_t *t)
{
  pv_engine_t *eng = t->eng;
  t->counted = true;
  t->active = true;
  pv_map_put(eng->running, t->job->id, t);
  eng->in_flight++;
  eng->active++;
  t->tq->in_flight++;
  (*topic_slot(eng, t->rec->topic))++;
}

static void start(task_t *t)
{
  count_in(t);
  start_claim(t);
}

/* Takes the first ready task of q whose topic has room (looking a bounded
 * way down the queue), or NULL. */
static task_t *take_ready(pv_engine_t *eng, tenant_q_t *q)
{
  task_t *prev = NULL;
  int looked = 0;
  for (task_t *t = q->head; t && looked < 64; prev = t, t = t->ready_next) {
    looked++;
    if (!t->abandoned && !topic_has_room(eng, t->rec->topic))
      continue;
    if (prev)
      prev->ready_next = t->ready_next;
    else
      q->head = t->ready_next;
    if (q->tail == t)
      q->tail = prev;
    t->ready_next = NULL;
    return t;
  }
  return NULL;
}

/* Weighted round robin over tenants with ready work: each turn a tenant
 * may start up to `weight` jobs, within its own cap and the process cap,
 * so a tenant's flood cannot take the capacity others need. */
static void dispatch(pv_engine_t *eng)
{
  if (eng->draining || eng->closing || eng->n_tenants == 0)
    return;
  bool progress = true;
  while (progress && eng->in_flight < eng->conf->max_in_flight) {
    progress = false;
    for (size_t i = 0; i < eng->n_tenants; i++) {
      tenant_q_t *q = &eng->tenants[(eng->rr + i) % eng->n_tenants];
      int picks = 0;
      while (q->head && picks < q->weight && q->in_flight < q->cap &&
             eng->in_flight < eng->conf->max_in_flight) {
        task_t *t = take_ready(eng, q);
        if (!t)
          break; /* its next jobs' topics are at their cap */
        if (t->abandoned) {
          release(t, false); /* its partition moved on; not ours to run */
          continue;
        }
        task_t *owner = pv_map_get(eng->running, t->job->id);
        if (owner) {
          /* The same job id is running here under another key: never two
           * runs of one job at once; wait for it. */
          t->ready_next = owner->dups;
          owner->dups = t;
          continue;
        }
        picks++;
        progress = true;
        start(t);
      }
    }
    eng->rr = (eng->rr + 1) % eng->n_tenants;
  }
}

/* ---- intake ------------------------------------------------------------- */

/* Pulls what identification an invalid record carried, for its row and
 * reply. Only well-formed short strings are kept. */
static void salvage(task_t *t)
{
  json_t *doc = NULL;
  char err[64];
  if (!t->rec->value ||
      pv_doc_decode(t->rec->value, t->rec->value_len, t->format, &doc, err,
                    sizeof(err)) < 0)
    return;
  if (json_is_object(doc)) {
    struct { const char *name; char **dst; size_t max; } f[] = {
      {"id", &t->salvaged_id, PV_JOB_ID_MAX},
      {"tenant", &t->salvaged_tenant, PV_JOB_TENANT_MAX},
      {"service", &t->salvaged_service, PV_JOB_NAME_MAX},
      {"op", &t->salvaged_op, PV_JOB_NAME_MAX},
    };
    for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
      json_t *v = json_object_get(doc, f[i].name);
      if (json_is_string(v) && json_string_length(v) > 0 &&
          json_string_length(v) <= f[i].max &&
          !memchr(json_string_value(v), '\0', json_string_length(v)))
        *f[i].dst = pv_strdup(json_string_value(v));
    }
  }
  json_decref(doc);
}

static void on_invalid_recorded(bool ok, void *arg)
{
  task_t *t = arg;
  if (t->eng->closing) {
    release(t, false);
    return;
  }
  publish(t);
}

/* A record that cannot become a job: a dead row, a dead letter (original
 * bytes), and a dead_lettered reply when we know whose job it was. */
static void reject(task_t *t)
{
  pv_engine_t *eng = t->eng;
  const pv_record_t *rec = t->rec;
  if (t->job) {
    /* decoded but refused (unknown op/tenant, bad args): keep its ids */
    t->salvaged_id = pv_strdup(t->job->id);
    t->salvaged_tenant = pv_strdup(t->job->tenant);
    t->salvaged_service = pv_strdup(t->job->service);
    t->salvaged_op = pv_strdup(t->job->op);
    /* reply_to may be borrowed from the job: keep it past the job */
    if (t->reply_topic && t->reply_topic == t->job->reply_to) {
      t->reply_topic_owned = pv_strdup(t->reply_topic);
      t->reply_topic = t->reply_topic_owned;
    }
    pv_job_destroy(t->job);
    t->job = NULL;
  } else {
    salvage(t);
  }
  eng->stats.invalid++;
  t->active = true;
  eng->active++;
  t->finished_ms = pv_clock_wall_ms();
  t->final_state = "dead";
  t->dlq_topic = pv_asprintf("%s%s", rec->topic, eng->conf->kafka_dlq_suffix);
  if (t->salvaged_id && t->reply_topic)
    build_reply(t, "dead", NULL);
  pv_log(PV_LOG_WARN, "job.rejected", PV_S("job_id", t->salvaged_id),
         PV_S("tenant_id", t->salvaged_tenant), PV_S("topic", rec->topic),
         PV_I("partition", rec->partition), PV_I("offset", rec->offset),
         PV_S("error_class", pv_errclass_name(t->err.cls)),
         PV_S("error", t->err.message));
  char *hj = headers_json(rec);
  pv_store_job_t sj;
  store_job_of(t, t->salvaged_id, t->salvaged_tenant, t->salvaged_service,
               t->salvaged_op, hj, &sj);
  t->state = T_FINISHING;
  pv_store_record_invalid(eng->store, &sj, &t->err, t->dlq_topic,
                          on_invalid_recorded, t);
  free(hj);
}

/* Decodes and checks a record; sets t->err when it cannot run. */
static void classify(task_t *t)
{
  pv_engine_t *eng = t->eng;
  const pv_record_t *rec = t->rec;
  const char *ct = header_str(rec, "content-type");
  int fmt = pv_format_from_content_type(ct);
  t->format = fmt < 0 ? PV_FMT_MSGPACK : (pv_format_t)fmt;
  const char *hdr_reply = header_str(rec, "reply-to");
  t->reply_topic = eng->conf->kafka_results_topic;
  if (hdr_reply && valid_topic(hdr_reply))
    t->reply_topic = hdr_reply; /* replies to rejected records go there too */
  if (fmt < 0) {
    pv_error_set(&t->err, PV_ERR_INVALID_JOB, 0,
                 "header \"content-type\": \"%.64s\" is neither "
                 "application/msgpack nor application/json", ct);
    return;
  }
  if (!rec->value || rec->value_len == 0) {
    pv_error_set(&t->err, PV_ERR_INVALID_JOB, 0, "record has no value");
    return;
  }
  if (pv_job_decode(rec->value, rec->value_len, t->format, &t->job,
                    &t->err) < 0) {
    t->job = NULL;
    return;
  }
  pv_job_t *j = t->job;
  if (hdr_reply || j->reply_to) {
    const char *rt = hdr_reply ? hdr_reply : j->reply_to;
    if (!valid_topic(rt)) {
      pv_error_set(&t->err, PV_ERR_INVALID_JOB, 0,
                   "%s \"%.64s\" is not a valid Kafka topic name",
                   hdr_reply ? "header \"reply-to\"" : "field \"reply_to\"",
                   rt);
      return;
    }
    t->reply_topic = rt;
  }
  if (pv_job_validate(j, &t->err) < 0)
    return;
  t->tq = tenant_find(eng, j->tenant);
  if (!t->tq) {
    pv_error_set(&t->err, PV_ERR_UNKNOWN_TENANT, 0,
                 "tenant \"%s\" is not configured", j->tenant);
    return;
  }
  if (j->max_attempts > eng->conf->max_attempts_cap)
    j->max_attempts = eng->conf->max_attempts_cap;
  t->deadline_ms = j->deadline_ms ? j->deadline_ms
                                  : t->received_ms +
                                        eng->conf->default_deadline_ms;
  const char *tp = header_str(rec, "traceparent");
  t->traceparent = tp && strlen(tp) == 55 ? pv_strdup(tp)
                                          : new_traceparent(eng);
}

/* Jobs of one tenant with one Kafka key share a lane (no key: the job id). */
static void lane_enqueue(task_t *t)
{
  pv_engine_t *eng = t->eng;
  const pv_record_t *rec = t->rec;
  const char *key = rec->key && rec->key_len &&
                            !memchr(rec->key, '\0', rec->key_len)
                        ? rec->key
                        : t->job->id;
  char *lk = pv_asprintf("%s\x1f%s", t->job->tenant, key);
  lane_t *l = pv_map_get(eng->lanes, lk);
  if (!l) {
    size_t n = strlen(lk);
    l = pv_calloc(1, sizeof(*l) + n + 1);
    memcpy(l->key, lk, n + 1);
    pv_map_put(eng->lanes, l->key, l);
  }
  free(lk);
  t->lane = l;
  t->lane_next = NULL;
  if (l->tail) {
    l->tail->lane_next = t;
    l->tail = t;
    t->state = T_WAITING;
  } else {
    l->head = l->tail = t;
    ready(t);
  }
}

static void on_record(pv_record_t *rec, void *arg)
{
  pv_engine_t *eng = arg;
  task_t *t = pv_calloc(1, sizeof(*t));
  t->eng = eng;
  t->rec = rec;
  t->received_ms = pv_clock_wall_ms();
  uv_timer_init(eng->loop, &t->timer);
  t->timer.data = t;
  t->next = eng->tasks;
  if (eng->tasks)
    eng->tasks->prev = t;
  eng->tasks = t;
  eng->buffered++;
  eng->stats.received++;
  if (eng->buffered >= eng->conf->max_buffered)
    pv_kafka_pause(eng->kafka, true);
  if (eng->draining || eng->closing) {
    /* Not ours to start any more: its offset stays uncommitted. */
    t->abandoned = true;
    release(t, false);
    return;
  }
  classify(t);
  emit(t, PV_JOB_EV_RECEIVED);
  if (t->err.cls != PV_ERR_NONE) {
    reject(t);
    return;
  }
  lane_enqueue(t);
  dispatch(eng);
}

static void on_revoke(const char *topic, int32_t partition, void *arg)
{
  pv_engine_t *eng = arg;
  /* Jobs of the partition that have not started are dropped when they
   * reach the front; the partition's new owner runs them. Running ones
   * finish here; their offsets can no longer be stored. */
  for (task_t *t = eng->tasks; t; t = t->next)
    if ((t->state == T_WAITING || t->state == T_READY) &&
        t->rec->partition == partition && !strcmp(t->rec->topic, topic))
      t->abandoned = true;
}

static void on_fatal(const char *reason, void *arg)
{
  pv_engine_t *eng = arg;
  eng->fatal = true;
  eng->stats.fatal = true;
}

/* ---- parked jobs coming due -------------------------------------------- */

static int hex_nibble(char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return 0;
}

/* Headers as the job row keeps them, back into a record's headers. */
static void headers_from_json(pv_record_t *rec, const char *text)
{
  json_t *arr = text ? json_loads(text, 0, NULL) : NULL;
  size_t n = json_array_size(arr);
  if (n > PV_KAFKA_MAX_HEADERS)
    n = PV_KAFKA_MAX_HEADERS;
  rec->headers = pv_calloc(n ? n : 1, sizeof(pv_header_t));
  for (size_t i = 0; i < n; i++) {
    json_t *pair = json_array_get(arr, i);
    const char *name = json_string_value(json_array_get(pair, 0));
    json_t *v = json_array_get(pair, 1);
    if (!name)
      continue;
    pv_header_t *h = &rec->headers[rec->n_headers++];
    h->name = pv_strdup(name);
    if (json_is_string(v)) {
      h->value_len = json_string_length(v);
      h->value = pv_malloc(h->value_len + 1);
      memcpy(h->value, json_string_value(v), h->value_len + 1);
    } else if (json_is_object(v)) {
      const char *hex = json_string_value(json_object_get(v, "hex"));
      size_t len = hex ? strlen(hex) / 2 : 0;
      h->value = pv_malloc(len + 1);
      for (size_t b = 0; b < len; b++)
        h->value[b] = (char)(hex_nibble(hex[2 * b]) << 4 |
                             hex_nibble(hex[2 * b + 1]));
      h->value[len] = '\0';
      h->value_len = len;
    }
  }
  json_decref(arr);
}

static void on_due_timer(uv_timer_t *timer);

static void on_due(const pv_due_job_t *d, void *arg)
{
  pv_engine_t *eng = arg;
  if (!d) {
    eng->due_pending = false;
    /* A full batch: more may be due (a backlog after an outage), so look
     * again now rather than at the next tick. */
    if (eng->due_last_batch > 0 && eng->due_got >= eng->due_last_batch &&
        !eng->closing)
      uv_timer_start(&eng->due_timer, on_due_timer, 0,
                     (uint64_t)eng->conf->retry_poll_ms);
    return;
  }
  eng->due_got++;
  pv_record_t *rec = pv_calloc(1, sizeof(*rec));
  rec->topic = pv_strdup(d->source_topic);
  rec->partition = d->source_partition;
  rec->offset = d->source_offset;
  if (d->ordering_key) {
    rec->key = pv_strdup(d->ordering_key);
    rec->key_len = strlen(d->ordering_key);
  }
  rec->value = pv_malloc(d->payload_len + 1);
  memcpy(rec->value, d->payload, d->payload_len);
  rec->value[d->payload_len] = '\0';
  rec->value_len = d->payload_len;
  headers_from_json(rec, d->headers_json);

  task_t *t = pv_calloc(1, sizeof(*t));
  t->eng = eng;
  t->rec = rec;
  t->from_store = true;
  t->received_ms = d->received_at_ms;
  t->reached = d->reached;
  t->interrupted = d->interrupted;
  uv_timer_init(eng->loop, &t->timer);
  t->timer.data = t;
  t->next = eng->tasks;
  if (eng->tasks)
    eng->tasks->prev = t;
  eng->tasks = t;
  eng->buffered++;
  eng->stats.due_claimed++;
  if (eng->closing) {
    release(t, false); /* its lease runs out; another worker takes it */
    return;
  }
  if (d->reply_topic)
    t->reply_topic_owned = pv_strdup(d->reply_topic);
  classify(t);
  if (d->deadline_ms)
    t->deadline_ms = d->deadline_ms;
  if (t->err.cls != PV_ERR_NONE || !t->tq) {
    /* It was valid when it parked; a configuration change (tenant
     * removed) can make it invalid now. */
    if (t->err.cls == PV_ERR_NONE)
      pv_error_set(&t->err, PV_ERR_UNKNOWN_TENANT, 0, "tenant not configured");
    if (t->job) {
      t->active = true;
      eng->active++;
      complete(t, NULL, NULL, 0, 0);
    } else {
      reject(t);
    }
    return;
  }
  pv_log(PV_LOG_INFO, "job.due", PV_S("job_id", t->job->id),
         PV_S("tenant_id", t->job->tenant), PV_I("reached", d->reached),
         PV_I("runs", d->runs));
  /* Claimed already (the due query marked it running under our lease):
   * it takes an in-flight slot and runs. */
  count_in(t);
  execute(t);
}

static void on_due_timer(uv_timer_t *timer)
{
  pv_engine_t *eng = timer->data;
  if (eng->draining || eng->closing || eng->due_pending)
    return;
  int room = eng->conf->max_in_flight - eng->in_flight;
  if (room <= 0)
    return;
  if (room > 200)
    room = 200;
  eng->due_pending = true;
  eng->due_last_batch = room;
  eng->due_got = 0;
  pv_store_claim_due(eng->store, room, eng->conf->lease_ms, eng->topics_array,
                     on_due, eng);
}

/* ---- engine ------------------------------------------------------------- */

static void on_lease_timer(uv_timer_t *timer)
{
  pv_engine_t *eng = timer->data;
  if (eng->in_flight > 0)
    pv_store_renew_leases(eng->store, eng->conf->lease_ms);
}

/* "a, b" -> "{a,b}" (topic names hold no character an array literal
 * would need to quote: Kafka allows only [A-Za-z0-9._-]). */
static char *topics_array_of(const char *list)
{
  pv_buf_t b;
  pv_buf_init(&b, 64 * 1024);
  pv_buf_append(&b, "{", 1);
  bool first = true;
  for (const char *p = list; *p;) {
    while (*p == ',' || *p == ' ' || *p == '\t')
      p++;
    size_t n = strcspn(p, ", \t");
    if (n) {
      if (!first)
        pv_buf_append(&b, ",", 1);
      pv_buf_append(&b, p, n);
      first = false;
    }
    p += n;
  }
  pv_buf_append(&b, "}", 1);
  return pv_buf_steal(&b, NULL);
}

pv_engine_t *pv_engine_new(uv_loop_t *loop, const pv_config_t *conf,
                           pv_store_t *store, pv_clients_t *clients,
                           char *errstr, size_t errstr_size)
{
  pv_engine_t *eng = pv_calloc(1, sizeof(*eng));
  eng->loop = loop;
  eng->conf = conf;
  eng->store = store;
  eng->clients = clients;
  eng->lanes = pv_map_new();
  eng->running = pv_map_new();
  eng->topic_load = pv_map_new();
  eng->holds = pv_map_new();
  eng->topics_array = topics_array_of(conf->kafka_topics);
  eng->trace_state = (uint64_t)pv_clock_mono_us() ^ ((uint64_t)getpid() << 32) ^
                     0x9e3779b97f4a7c15ull;
  eng->n_tenants = conf->n_tenants;
  eng->tenants = pv_calloc(conf->n_tenants ? conf->n_tenants : 1,
                           sizeof(tenant_q_t));
  for (size_t i = 0; i < conf->n_tenants; i++) {
    const pv_tenant_entry_t *te = &conf->tenants[i];
    tenant_q_t *q = &eng->tenants[i];
    q->name = te->name;
    q->weight = te->weight > 0 ? te->weight : 1;
    q->cap = te->max_in_flight > 0                 ? te->max_in_flight
             : conf->max_in_flight_per_tenant > 0 ? conf->max_in_flight_per_tenant
                                                  : conf->max_in_flight;
  }
  pv_kafka_handlers_t h = {.on_record = on_record,
                           .on_revoke = on_revoke,
                           .on_fatal = on_fatal};
  eng->kafka = pv_kafka_new(loop, conf, &h, eng, errstr, errstr_size);
  if (!eng->kafka)
    goto fail;
  if (pv_kafka_subscribe(eng->kafka, errstr, errstr_size) < 0)
    goto fail;
  uv_timer_init(loop, &eng->lease_timer);
  eng->lease_timer.data = eng;
  uint64_t every = (uint64_t)conf->lease_ms / 3;
  uv_timer_start(&eng->lease_timer, on_lease_timer, every, every);
  uv_timer_init(loop, &eng->drain_timer);
  eng->drain_timer.data = eng;
  uv_timer_init(loop, &eng->due_timer);
  eng->due_timer.data = eng;
  uv_timer_start(&eng->due_timer, on_due_timer, (uint64_t)conf->retry_poll_ms,
                 (uint64_t)conf->retry_poll_ms);
  return eng;
fail:
  if (eng->kafka)
    pv_kafka_close(eng->kafka, 0);
  pv_map_destroy(eng->lanes);
  pv_map_destroy(eng->running);
  pv_map_destroy(eng->topic_load);
  pv_map_destroy(eng->holds);
  free(eng->topics_array);
  free(eng->tenants);
  free(eng);
  return NULL;
}

static void on_drain_timeout(uv_timer_t *timer)
{
  pv_engine_t *eng = timer->data;
  if (!eng->drained_cb)
    return;
  pv_log(PV_LOG_WARN, "worker.drain_timeout", PV_I("still_running", eng->active));
  pv_engine_drained_cb cb = eng->drained_cb;
  eng->drained_cb = NULL;
  cb(false, eng->drained_arg);
}

void pv_engine_drain(pv_engine_t *eng, pv_engine_drained_cb cb, void *arg)
{
  eng->draining = true;
  eng->stats.draining = true;
  pv_kafka_pause(eng->kafka, true);
  pv_log(PV_LOG_INFO, "worker.draining", PV_I("running", eng->active),
         PV_I("waiting", eng->buffered - eng->active));
  if (eng->active == 0) {
    cb(true, arg);
    return;
  }
  eng->drained_cb = cb;
  eng->drained_arg = arg;
  uv_timer_start(&eng->drain_timer, on_drain_timeout,
                 (uint64_t)eng->conf->drain_timeout_ms, 0);
}

void pv_engine_shutdown(pv_engine_t *eng)
{
  eng->closing = true;
  uv_timer_stop(&eng->lease_timer);
  uv_timer_stop(&eng->drain_timer);
  uv_timer_stop(&eng->due_timer);
}

static void free_lane(const char *key, void *lane, void *arg)
{
  free(lane);
}

static void on_engine_timer_closed(uv_handle_t *h)
{
  pv_engine_t *eng = h->data;
  if (--eng->open_handles == 0)
    free(eng);
}

void pv_engine_destroy(pv_engine_t *eng)
{
  if (!eng)
    return;
  pv_engine_shutdown(eng);
  /* Commit what is stored and leave the group before the records go. */
  pv_kafka_close(eng->kafka, 5000);
  eng->kafka = NULL;
  while (eng->tasks) {
    task_t *t = eng->tasks;
    eng->tasks = t->next;
    uv_close((uv_handle_t *)&t->timer, on_task_closed);
  }
  pv_map_each(eng->lanes, free_lane, NULL);
  pv_map_destroy(eng->lanes);
  eng->lanes = NULL;
  pv_map_destroy(eng->running);
  eng->running = NULL;
  pv_map_each(eng->topic_load, free_lane, NULL);
  pv_map_destroy(eng->topic_load);
  eng->topic_load = NULL;
  pv_map_each(eng->holds, free_lane, NULL);
  pv_map_destroy(eng->holds);
  eng->holds = NULL;
  free(eng->tenants);
  eng->tenants = NULL;
  free(eng->topics_array);
  eng->topics_array = NULL;
  eng->open_handles = 3;
  uv_close((uv_handle_t *)&eng->lease_timer, on_engine_timer_closed);
  uv_close((uv_handle_t *)&eng->drain_timer, on_engine_timer_closed);
  uv_close((uv_handle_t *)&eng->due_timer, on_engine_timer_closed);
}

void pv_engine_stats(const pv_engine_t *eng, pv_engine_stats_t *out)
{
  *out = eng->stats;
  out->in_flight = eng->in_flight;
  out->buffered = eng->buffered;
  out->fatal = eng->fatal;
}

void pv_engine_set_observer(pv_engine_t *eng, pv_job_observer_cb cb,
                            void *arg)
{
  eng->observer = cb;
  eng->observer_arg = arg;
}

pv_kafka_t *pv_engine_kafka(pv_engine_t *eng)
{
  return eng->kafka;
}
