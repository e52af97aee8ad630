#include "worker/engine.h"

#include "common/alloc.h"
#include "common/buf.h"
#include "common/bytes.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/map.h"
#include "jobs/catalog.h"
#include "jobs/job.h"
#include "jobs/reply.h"
#include "jobs/trace.h"
#include "common/backoff.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Delay before re-checking a job that runs elsewhere under a live lease. */
#define BUSY_RECHECK_MIN_MS 200
#define BUSY_RECHECK_MAX_MS 5000
/* Back-off for a reply or dead letter the broker did not take: full
 * jitter, the ceiling doubling from the base to the cap. */
#define PRODUCE_RETRY_BASE_MS 200
#define PRODUCE_RETRY_MAX_MS 30000
/* Acknowledged replies are recorded in PostgreSQL in batches: at most this
 * late, or at once when this many are waiting. */
#define PUBLISHED_FLUSH_MS 20
#define PUBLISHED_BATCH_MAX 512

typedef enum task_state {
  T_WAITING = 0, /* behind an earlier job of its key */
  T_READY,       /* head of its lane, queued for a share of capacity */
  T_CLAIMING,
  T_RUNNING,
  T_FINISHING,
  T_PUBLISHING,
} task_state_t;

typedef struct task task_t;

typedef struct pending_pub {
  char *job_id, *tenant;
  int runs;
} pending_pub_t;
typedef struct lane lane_t;
typedef struct tenant_q tenant_q_t;

typedef struct produce_req {
  task_t *task;  /* NULL once acknowledged */
  bool dlq;      /* false: the reply */
  bool waiting;  /* failed; goes again when the task's timer fires */
  bool stub;     /* Kafka refused the record for good: this is the small
                    stand-in (reply stub, dead letter without its value) */
  int tries;
  const char *topic; /* where the last try went (borrowed) */
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
  bool id_reused;             /* refused: its tenant's id names another job */
  char *run_key;              /* "tenant\x1fid" in eng->running, once counted */
  int reached;                /* earlier runs that sent a request */
  int runs;                   /* the row's runs for this outcome (0: no
                                 row of ours to mark published) */
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
  pv_map_t *running;          /* "tenant\x1fid" -> task, claimed in this
                                 process (ids are unique per tenant) */
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
  uint64_t rng;              /* pv_backoff_rand: retry jitter */
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
  pending_pub_t *published;  /* acknowledged, not yet recorded */
  size_t n_published, cap_published;
  uv_timer_t published_timer;
  pv_engine_stats_t stats;
};

static void dispatch(pv_engine_t *eng);
static void publish(task_t *t);
static void start_claim(task_t *t);
static void classify(task_t *t);
static void reject(task_t *t);
static void on_invalid_recorded(bool ok, void *arg);

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

/* Original headers as [[name, value|null], ...] for the job row, exact:
 * names and values that are not UTF-8 text (or hold a NUL byte, which
 * jsonb refuses) are kept as {"hex": "..."} (common/bytes.h). */
static char *headers_json(const pv_record_t *rec)
{
  json_t *arr = json_array();
  for (size_t i = 0; i < rec->n_headers; i++) {
    const pv_header_t *h = &rec->headers[i];
    json_t *v = h->value ? pv_bytes_to_json(h->value, h->value_len)
                         : json_null();
    json_t *name = pv_bytes_to_json(h->name, strlen(h->name));
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
  free(t->run_key);
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
    pv_map_remove(eng->running, t->run_key);
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

static void published_clear(pv_engine_t *eng)
{
  for (size_t i = 0; i < eng->n_published; i++) {
    free(eng->published[i].job_id);
    free(eng->published[i].tenant);
  }
  eng->n_published = 0;
}

/* Writes the batch of acknowledged outcomes (one statement). */
static void published_flush(pv_engine_t *eng)
{
  uv_timer_stop(&eng->published_timer);
  pv_store_published_t *b = pv_calloc(eng->n_published ? eng->n_published : 1,
                                      sizeof(*b));
  for (size_t i = 0; i < eng->n_published; i++) {
    b[i].job_id = eng->published[i].job_id;
    b[i].tenant = eng->published[i].tenant;
    b[i].runs = eng->published[i].runs;
  }
  pv_store_mark_published(eng->store, b, eng->n_published);
  free(b);
  published_clear(eng);
}

static void on_published_timer(uv_timer_t *timer)
{
  published_flush(timer->data);
}

/* The broker acknowledged everything t had to publish: once that is
 * recorded, a redelivery of its record is not answered again. */
static void published_add(task_t *t)
{
  pv_engine_t *eng = t->eng;
  if (t->runs <= 0 || !t->job || eng->closing)
    return;
  if (eng->n_published == eng->cap_published) {
    eng->cap_published = eng->cap_published ? 2 * eng->cap_published : 64;
    eng->published = pv_realloc(eng->published, eng->cap_published *
                                                    sizeof(*eng->published));
  }
  pending_pub_t *p = &eng->published[eng->n_published++];
  p->job_id = pv_strdup(t->job->id);
  p->tenant = pv_strdup(t->job->tenant);
  p->runs = t->runs;
  if (eng->n_published >= PUBLISHED_BATCH_MAX)
    published_flush(eng);
  else if (eng->n_published == 1)
    uv_timer_start(&eng->published_timer, on_published_timer,
                   PUBLISHED_FLUSH_MS, 0);
}

static void task_done(task_t *t)
{
  pv_engine_t *eng = t->eng;
  published_add(t);
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
  size_t full = 0;
  if (!doc || pv_reply_encode_capped(doc, t->format,
                                     (size_t)t->eng->conf->kafka_reply_max_bytes,
                                     &t->reply, &t->reply_len, &full) < 0) {
    pv_log(PV_LOG_ERROR, "job.reply_encode_failed", PV_S("job_id", id));
    t->reply = NULL;
  } else if (full) {
    /* The whole result stays in job_status.result. */
    pv_log(PV_LOG_INFO, "job.reply_truncated", PV_S("job_id", id),
           PV_I("bytes", (int64_t)full), PV_I("sent", (int64_t)t->reply_len),
           PV_I("reply_max_bytes", t->eng->conf->kafka_reply_max_bytes));
  }
  json_decref(doc);
}

static void on_produced(int err, const char *errstr, void *arg);

static void produce_retry(uv_timer_t *timer);

/* @returns 0, or a pv_kafka_produce error with the reason in errbuf. */
static int produce_one(produce_req_t *pr, char *errbuf, size_t errlen)
{
  task_t *t = pr->task;
  pv_engine_t *eng = t->eng;
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
    char what[320];
    if (pv_config_fleet_topic(eng->conf, topic, what, sizeof(what))) {
      /* Stored before intake refused such topics (a row answered again,
       * a parked job): never feed a reply back into the fleet. */
      pv_log(PV_LOG_WARN, "job.reply_redirected", PV_S("job_id", id),
             PV_S("reply_topic", topic), PV_S("is", what),
             PV_S("to", eng->conf->kafka_results_topic));
      topic = eng->conf->kafka_results_topic;
    }
    pr->topic = topic;
    rc = pv_kafka_produce(eng->kafka, topic, id, strlen(id), t->reply,
                          t->reply_len, hdrs, nh, on_produced, pr, errbuf,
                          errlen);
  } else {
    /* The original record byte for byte, all its headers (less any
     * earlier x-dlq-* ones: a record is refused past PV_JOB_MAX_HEADERS,
     * never cut) and why it is here, plus the stand-in's marker. */
    enum { DLQ_HEADERS = 8 };
    pv_out_header_t *hdrs = pv_calloc(rec->n_headers + DLQ_HEADERS + 1,
                                      sizeof(*hdrs));
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
    _Static_assert(sizeof(add) / sizeof(add[0]) == DLQ_HEADERS,
                   "the dead-letter headers fit");
    /* The stand-in for a record Kafka refused for good: no value, and how
     * large it was (the job row keeps it: provctl replays from there). */
    char omitted[24];
    if (pr->stub) {
      snprintf(omitted, sizeof(omitted), "%zu", rec->value_len);
      hdrs[nh].name = "x-dlq-value-omitted";
      hdrs[nh].value = omitted;
      hdrs[nh].value_len = strlen(omitted);
      nh++;
    }
    pr->topic = t->dlq_topic;
    rc = pv_kafka_produce(eng->kafka, t->dlq_topic, rec->key, rec->key_len,
                          pr->stub ? NULL : rec->value,
                          pr->stub ? 0 : rec->value_len, hdrs, nh,
                          on_produced, pr, errbuf, errlen);
    free(hdrs);
  }
  return rc;
}

static void produce_refused(produce_req_t *pr, int err, const char *errstr);

/* The broker did not take pr's record (errstr says why). Refused for
 * good: produce_refused. Otherwise it goes again after a full-jitter
 * wait, so that after an outage the replies of a fleet do not all come
 * back at the same moment. */
static void produce_failed(produce_req_t *pr, int err, const char *errstr)
{
  task_t *t = pr->task;
  if (err != PV_KAFKA_ERETRY) {
    produce_refused(pr, err, errstr);
    return;
  }
  pr->waiting = true;
  pr->tries++;
  int64_t delay = pv_backoff_full_jitter(pr->tries, PRODUCE_RETRY_BASE_MS,
                                         PRODUCE_RETRY_MAX_MS,
                                         pv_backoff_rand(&t->eng->rng));
  pv_log(PV_LOG_WARN, "job.produce_retry",
         PV_S("job_id", t->job ? t->job->id : t->salvaged_id),
         PV_S("what", pr->dlq ? "dead_letter" : "reply"),
         PV_S("error", errstr), PV_I("try", pr->tries),
         PV_I("retry_in_ms", delay));
  /* A task has at most two records in flight; the timer serves whichever
   * failed (both go again together if both did). */
  t->timer.data = t;
  uv_timer_start(&t->timer, produce_retry, (uint64_t)delay, 0);
}

/* Produces pr's record; a refusal goes through produce_failed. */
static void produce_send(produce_req_t *pr)
{
  char errbuf[256];
  int rc = produce_one(pr, errbuf, sizeof(errbuf));
  if (rc < 0)
    produce_failed(pr, rc, errbuf);
}

static void produce_retry(uv_timer_t *timer)
{
  task_t *t = timer->data;
  for (int i = 0; i < 2; i++) {
    produce_req_t *pr = &t->preq[i];
    if (!pr->task || !pr->waiting)
      continue;
    pr->waiting = false;
    produce_send(pr);
  }
}

/* pr's record is acknowledged (or given up): the task is done once the
 * other one is too. */
static void produce_finished(produce_req_t *pr)
{
  task_t *t = pr->task;
  pr->task = NULL;
  if (--t->produce_pending == 0)
    task_done(t);
}

/* Where the stand-in for a refused reply goes: the same topic when the
 * record was too large (a small one fits), else the results topic, unless
 * that is what refused it. NULL: nowhere left. */
static const char *stub_topic(const produce_req_t *pr, int err)
{
  const char *results = pr->task->eng->conf->kafka_results_topic;
  if (!pr->stub && err == PV_KAFKA_ERECORD)
    return pr->topic;
  return strcmp(pr->topic, results) ? results : NULL;
}

/* Kafka refused a reply or dead letter for good (unknown or invalid topic,
 * too large): retrying the same record would block its key forever. The
 * outcome is recorded already; what cannot be delivered is replaced by a
 * small stand-in once, and given up (logged, counted) when even that is
 * refused. */
static void produce_refused(produce_req_t *pr, int err, const char *errstr)
{
  task_t *t = pr->task;
  pv_engine_t *eng = t->eng;
  const char *id = t->job ? t->job->id : t->salvaged_id;
  const char *what = pr->dlq ? "dead_letter" : "reply";
  size_t bytes = pr->dlq ? t->rec->value_len : t->reply_len;
  const char *to = NULL;
  if (pr->dlq)
    to = !pr->stub && err == PV_KAFKA_ERECORD ? t->dlq_topic : NULL;
  else
    to = stub_topic(pr, err);
  pv_log(to ? PV_LOG_WARN : PV_LOG_ERROR,
         to ? "job.produce_refused" : "job.undeliverable", PV_S("job_id", id),
         PV_S("what", what), PV_B("stub", pr->stub),
         PV_S("topic", pr->topic), PV_I("bytes", (int64_t)bytes),
         PV_S("error", errstr), PV_S("stub_to", to));
  if (!to) {
    /* The row keeps the outcome, the reply and the record: provctl status
     * shows them and provctl dlq replay works from the row. */
    eng->stats.undeliverable++;
    produce_finished(pr);
    return;
  }
  if (!pr->dlq && !pr->stub) {
    char why[PV_ERROR_MSG_MAX], *stub = NULL;
    size_t stub_len = 0;
    snprintf(why, sizeof(why), "reply of %zu bytes refused by topic "
             "\"%.64s\": %s", bytes, pr->topic, errstr ? errstr : "");
    if (pv_reply_stub(t->reply, t->reply_len, t->format, id, pr->topic, why,
                      &stub, &stub_len) < 0) {
      eng->stats.undeliverable++;
      produce_finished(pr);
      return;
    }
    free(t->reply);
    t->reply = stub;
    t->reply_len = stub_len;
  }
  if (!pr->dlq && to != pr->topic) {
    char *own = pv_strdup(to); /* to may be the owned string it replaces */
    free(t->reply_topic_owned);
    t->reply_topic_owned = own;
  }
  if (pr->dlq)
    eng->stats.dead_letter_stubs += !pr->stub;
  else
    eng->stats.reply_stubs += !pr->stub;
  pr->stub = true;
  pr->tries = 0;
  produce_send(pr);
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
    produce_failed(pr, err, errstr);
    return;
  }
  produce_finished(pr);
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
    pr->stub = false;
    pr->tries = 0;
    t->produce_pending++;
  }
  if (t->produce_pending == 0) {
    task_done(t);
    return;
  }
  for (int i = 0; i < 2; i++) {
    produce_req_t *pr = &t->preq[i];
    if (pr->task)
      produce_send(pr);
  }
}

/* ---- outcomes ----------------------------------------------------------- */

static void record_outcome(task_t *t, const char *result_json);

/* This run's outcome was not written: another worker took the job over
 * while this run was cut off from PostgreSQL past its lease, and that
 * worker's outcome (and reply) stand. Publishing ours would answer the
 * job twice, differently. The record is done: the job's outcome is
 * durable, only not ours. */
static void lease_lost(task_t *t)
{
  pv_log(PV_LOG_WARN, "job.lease_lost", PV_S("job_id", t->job->id),
         PV_S("tenant_id", t->job->tenant), PV_S("service", t->job->service),
         PV_S("op", t->job->op), PV_S("state", t->final_state),
         PV_S("msg", "taken over by another worker while this run was cut "
                     "off from PostgreSQL: nothing published"));
  t->eng->stats.lease_lost++;
  t->final_state = NULL;
  release(t, true);
}

static void on_finished(pv_store_finish_t st, void *arg)
{
  task_t *t = arg;
  bool ok = st == PV_FINISH_OK;
  if (t->eng->closing) {
    release(t, false);
    return;
  }
  if (st == PV_FINISH_LOST) {
    lease_lost(t);
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

static void on_parked_recorded(pv_store_finish_t st, void *arg)
{
  task_t *t = arg;
  if (t->eng->closing) {
    release(t, false);
    return;
  }
  if (st == PV_FINISH_LOST) {
    lease_lost(t);
    return;
  }
  if (st != PV_FINISH_OK) {
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
  /* The service was not available (not "the request was wrong"): the
   * job may succeed later, so it waits instead of dying. */
  if (!pv_errclass_is_transient(t->err.cls))
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
    .tenant = t->job->tenant,
    .state = "retry_wait",
    .attempts = attempts,
    .err = &t->err,
    .reply_topic = t->reply_topic_owned ? t->reply_topic_owned : t->reply_topic,
    .next_attempt_ms = next,
    .retry_reason = t->retry_reason,
    .breaker_state = ep ? pv_breaker_state_name(pv_endpoint_breaker_state(ep))
                        : NULL,
    .run = t->runs,
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
    .tenant = t->job->tenant,
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
    .run = t->runs,
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
  /* an empty key is no key, as for the lanes */
  if (rec->key && rec->key_len) {
    sj->ordering_key = rec->key;
    sj->ordering_key_len = rec->key_len;
  }
  sj->source_topic = rec->topic;
  sj->source_partition = rec->partition;
  sj->source_offset = rec->offset;
  sj->reply_topic = t->reply_topic;
  const pv_header_t *corr = pv_record_header(rec, "correlation-id");
  if (corr && corr->value) {
    sj->correlation_id = corr->value;
    sj->correlation_id_len = corr->value_len;
  }
  sj->content_type = pv_format_content_type(t->format);
  sj->payload = rec->value;
  sj->payload_len = rec->value_len;
  sj->headers_json = hdrs_json;
  sj->received_at_ms = t->received_ms;
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
    t->runs = c->runs;
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
  case PV_CLAIM_REUSED:
    /* Another job of the tenant has this id: answering with its reply (or
     * merging into its row) would be wrong, and silently dropping this
     * one worse. */
    pv_error_set(&t->err, PV_ERR_INVALID_JOB, 0,
                 "id reused: tenant \"%s\" already has a job \"%s\" "
                 "(%s.%s, %s) with another service, op or payload; give "
                 "each job its own id", t->job->tenant, t->job->id,
                 c->service ? c->service : "?", c->op ? c->op : "?",
                 c->state ? c->state : "?");
    t->id_reused = true;
    reject(t);
    return;
  case PV_CLAIM_FINAL:
    if (c->published) {
      /* This very record was answered and the broker acknowledged it
       * (a redelivery after a crash or a rebalance): nothing to do. */
      pv_log(PV_LOG_DEBUG, "job.already_published",
             PV_S("job_id", t->job->id), PV_S("state", c->state));
      eng->stats.already_published++;
      release(t, true);
      return;
    }
    /* Finished before (a redelivery): publish what was published then,
     * never run it again. */
    t->runs = c->runs;
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
   * connection (already retried): an operator has to look. The job still
   * gets a dead row, so that it can be found and replayed by its id: one
   * without what PostgreSQL may have refused in the first (key, headers,
   * correlation id; the dead letter keeps them all). */
  pv_error_set(&t->err, PV_ERR_INTERNAL, 0,
               "the job could not be recorded in PostgreSQL (see "
               "store.write_failed)");
  t->finished_ms = pv_clock_wall_ms();
  t->final_state = "dead";
  build_reply(t, "dead", NULL);
  t->dlq_topic = pv_asprintf("%s%s", t->rec->topic, eng->conf->kafka_dlq_suffix);
  pv_store_job_t sj;
  store_job_of(t, t->job->id, t->job->tenant, t->job->service, t->job->op,
               "[]", &sj);
  sj.ordering_key = NULL;
  sj.correlation_id = NULL;
  t->state = T_FINISHING;
  pv_store_record_invalid(eng->store, &sj, &t->err, t->dlq_topic,
                          on_invalid_recorded, t);
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

/* The key of a job in eng->running: ids are unique per tenant. */
static char *run_key_of(const pv_job_t *j)
{
  return pv_asprintf("%s\x1f%s", j->tenant, j->id);
}

/* The task takes an in-flight slot: process, tenant and topic. */
static void count_in(task_t *t)
{
  pv_engine_t *eng = t->eng;
  t->counted = true;
  t->active = true;
  t->run_key = run_key_of(t->job);
  pv_map_put(eng->running, t->run_key, t);
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
        char *rk = run_key_of(t->job);
        task_t *owner = pv_map_get(eng->running, rk);
        free(rk);
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
 * reply: only what the decoder would have accepted for that field. */
static void salvage(task_t *t)
{
  pv_job_ids_t ids;
  pv_job_salvage(t->rec->value, t->rec->value_len, t->format, &ids);
  t->salvaged_id = ids.id;
  t->salvaged_tenant = ids.tenant;
  t->salvaged_service = ids.service;
  t->salvaged_op = ids.op;
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
  if (!t->active) { /* a reused id was refused after its claim: active */
    t->active = true;
    eng->active++;
  }
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
  /* a reused id names another job's row: this record gets its own */
  store_job_of(t, t->id_reused ? NULL : t->salvaged_id, t->salvaged_tenant,
               t->salvaged_service, t->salvaged_op, hj, &sj);
  t->state = T_FINISHING;
  pv_store_record_invalid(eng->store, &sj, &t->err, t->dlq_topic,
                          on_invalid_recorded, t);
  free(hj);
}

/* The job's trace header when it is valid W3C; otherwise a fresh one: a
 * malformed trace header is the sender's tracing problem, never a reason
 * to refuse the job (the transport would refuse to forward it). */
static char *intake_traceparent(task_t *t)
{
  const pv_header_t *h = pv_record_header(t->rec, "traceparent");
  const char *why = "no value";
  if (h && h->value && pv_traceparent_valid(h->value, h->value_len, &why))
    return pv_strdup(h->value);
  char *fresh = new_traceparent(t->eng);
  if (h)
    pv_log(PV_LOG_WARN, "job.traceparent_dropped", PV_S("job_id", t->job->id),
           PV_S("tenant_id", t->job->tenant), PV_S("reason", why),
           PV_I("bytes", (int64_t)h->value_len), PV_S("replaced_by", fresh));
  return fresh;
}

/* A reply topic a job names: a valid name, not a topic of the fleet
 * (the reply would come back as a job), and not one Kafka just reported
 * missing (the answer could not be delivered: better not run the job;
 * librdkafka's metadata cache as our producer saw it, no broker call).
 * @returns 0, or -1 with err (invalid_job) naming field. */
static int check_reply_topic(pv_engine_t *eng, const char *field,
                             const char *topic, pv_error_t *err)
{
  int64_t age_ms = 0;
  if (!valid_topic(topic)) {
    pv_error_set(err, PV_ERR_INVALID_JOB, 0,
                 "%s \"%.64s\" is not a valid Kafka topic name", field, topic);
    return -1;
  }
  if (pv_config_check_reply_topic(eng->conf, field, topic, err) < 0)
    return -1;
  if (pv_kafka_topic_missing(eng->kafka, topic, &age_ms)) {
    pv_error_set(err, PV_ERR_INVALID_JOB, 0,
                 "%s: topic \"%.64s\" does not exist (Kafka refused a reply "
                 "to it %lld s ago)", field, topic,
                 (long long)(age_ms / 1000));
    return -1;
  }
  return 0;
}

/* Headers the record carries that count against PV_JOB_MAX_HEADERS: all
 * but provctl's replay lineage (x-replay-of, x-replayed-by, ...: a record
 * at the cap must stay replayable), of which at most
 * PV_JOB_LINEAGE_HEADERS are let off. */
static size_t counted_headers(const pv_record_t *rec)
{
  size_t lineage = 0;
  for (size_t i = 0; i < rec->n_headers; i++)
    if (!strncmp(rec->headers[i].name, "x-replay", 8))
      lineage++;
  return rec->n_headers -
         (lineage < PV_JOB_LINEAGE_HEADERS ? lineage : PV_JOB_LINEAGE_HEADERS);
}

/* A replay's deadline (provctl dlq replay gives a replay a fresh one by
 * default): it replaces the job's. @returns 0, or -1 with t->err. */
static int replay_deadline(task_t *t)
{
  const pv_header_t *h = pv_record_header(t->rec,
                                          PV_JOB_REPLAY_DEADLINE_HEADER);
  if (!h)
    return 0;
  char text[24];
  long long v = -1;
  if (h->value && h->value_len > 0 && h->value_len < sizeof(text)) {
    memcpy(text, h->value, h->value_len);
    text[h->value_len] = '\0';
    char *end = NULL;
    if (text[0] >= '0' && text[0] <= '9')
      v = strtoll(text, &end, 10);
    if (!end || *end)
      v = -1;
  }
  if (v < 1 || v > PV_JOB_DEADLINE_MAX) {
    pv_error_set(&t->err, PV_ERR_INVALID_JOB, 0,
                 "header \"%s\": \"%.*s\" is not a deadline (ms since the "
                 "epoch, 1..%lld)", PV_JOB_REPLAY_DEADLINE_HEADER,
                 h->value ? (int)(h->value_len < 32 ? h->value_len : 32) : 0,
                 h->value ? h->value : "", (long long)PV_JOB_DEADLINE_MAX);
    return -1;
  }
  t->deadline_ms = v;
  return 0;
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
  pv_error_t scratch;
  if (hdr_reply && check_reply_topic(eng, "", hdr_reply, &scratch) == 0)
    t->reply_topic = hdr_reply; /* replies to rejected records go there too */
  size_t nh = counted_headers(rec);
  if (nh > PV_JOB_MAX_HEADERS) {
    /* kept whole in its dead letter and row; refused rather than cut */
    pv_error_set(&t->err, PV_ERR_INVALID_JOB, 0,
                 "record has %zu headers, at most %d", nh,
                 PV_JOB_MAX_HEADERS);
    return;
  }
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
    if (check_reply_topic(eng, hdr_reply ? "header \"reply-to\""
                                         : "field \"reply_to\"",
                          rt, &t->err) < 0)
      return;
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
  if (replay_deadline(t) < 0)
    return;
  t->traceparent = intake_traceparent(t);
}

/* "tenant\x1fkey" naming a lane. A key is bytes: one holding a NUL byte
 * is named by \x1e and its hex (a text key spelling the same would share
 * its lane: harmless, the jobs of both would only run one at a time). */
static char *lane_key_of(const task_t *t)
{
  const pv_record_t *rec = t->rec;
  if (!rec->key || !rec->key_len)
    return pv_asprintf("%s\x1f%s", t->job->tenant, t->job->id);
  if (!memchr(rec->key, '\0', rec->key_len))
    return pv_asprintf("%s\x1f%s", t->job->tenant, rec->key);
  size_t n = strlen(t->job->tenant);
  char *lk = pv_malloc(n + 2 + 2 * rec->key_len + 1);
  memcpy(lk, t->job->tenant, n);
  lk[n++] = '\x1f';
  lk[n++] = '\x1e';
  pv_hex_write(lk + n, rec->key, rec->key_len);
  return lk;
}

/* Jobs of one tenant with one Kafka key share a lane (no key: the job id). */
static void lane_enqueue(task_t *t)
{
  pv_engine_t *eng = t->eng;
  char *lk = lane_key_of(t);
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

/* Headers as the job row keeps them, back into a record's headers. */
static void headers_from_json(pv_record_t *rec, const char *text)
{
  json_t *arr = text ? json_loads(text, 0, NULL) : NULL;
  size_t n = json_array_size(arr);
  rec->headers = pv_calloc(n ? n : 1, sizeof(pv_header_t));
  for (size_t i = 0; i < n; i++) {
    json_t *pair = json_array_get(arr, i);
    size_t len = 0;
    char *name = pv_bytes_from_json(json_array_get(pair, 0), &len);
    if (!name)
      continue;
    pv_header_t *h = &rec->headers[rec->n_headers++];
    h->name = name;
    json_t *v = json_array_get(pair, 1);
    if (!json_is_null(v))
      h->value = pv_bytes_from_json(v, &h->value_len);
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
    rec->key = pv_malloc(d->ordering_key_len + 1);
    memcpy(rec->key, d->ordering_key, d->ordering_key_len);
    rec->key[d->ordering_key_len] = '\0';
    rec->key_len = d->ordering_key_len;
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
  t->runs = d->runs;
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

/* The job topics as a PostgreSQL array literal, "{a,b}" (topic names hold
 * no character an array literal would need to quote: Kafka allows only
 * [A-Za-z0-9._-]). */
static char *topics_array_of(const pv_config_t *conf)
{
  pv_buf_t b;
  pv_buf_init(&b, 64 * 1024);
  pv_buf_append(&b, "{", 1);
  for (size_t i = 0; i < conf->n_kafka_topics; i++) {
    if (i)
      pv_buf_append(&b, ",", 1);
    pv_buf_append(&b, conf->kafka_topic_list[i],
                  strlen(conf->kafka_topic_list[i]));
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
  eng->topics_array = topics_array_of(conf);
  eng->trace_state = (uint64_t)pv_clock_mono_us() ^ ((uint64_t)getpid() << 32) ^
                     0x9e3779b97f4a7c15ull;
  /* Per process, so the workers of a fleet retry at different times. */
  eng->rng = (uint64_t)pv_clock_wall_ms() ^ ((uint64_t)getpid() << 40) ^
             (uint64_t)pv_clock_mono_us();
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
  uv_timer_init(loop, &eng->published_timer);
  eng->published_timer.data = eng;
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
  /* Not written: after a drain the offsets are committed, and if they are
   * not, publishing again is what at-least-once asks for. */
  uv_timer_stop(&eng->published_timer);
  published_clear(eng);
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
  free(eng->published);
  eng->published = NULL;
  eng->open_handles = 4;
  uv_close((uv_handle_t *)&eng->published_timer, on_engine_timer_closed);
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
