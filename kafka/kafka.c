#include "kafka/kafka.h"

#include "common/alloc.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/map.h"

#include <errno.h>
#include <fcntl.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Records taken from librdkafka per loop turn before yielding, so a deep
 * backlog cannot starve HTTP and PostgreSQL work on the same loop. */
#define POLL_BATCH 500
/* Topics found missing by a produce are remembered this long (for the
 * reply-topic check at intake), at most this many (then forgotten all at
 * once: they are re-learnt from the next refusal). */
#define MISSING_TTL_MS 60000
#define MISSING_MAX 1024

/* One assigned partition: the offsets handed out, in order, with a done
 * flag each. The head is the oldest record not yet done. */
typedef struct ptrack {
  char *topic;
  int32_t partition;
  uint64_t generation;
  int64_t *offsets;
  uint8_t *done;
  size_t cap, head, count;
  uint64_t head_seq; /* track_seq of the head entry */
  int64_t next_offset; /* after the last record handed out, -1 before one */
} ptrack_t;

typedef struct qwatch {
  pv_kafka_t *kafka;
  int fds[2];
  uv_poll_t poll;
  bool started;
} qwatch_t;

struct pv_kafka_s {
  uv_loop_t *loop;
  pv_kafka_handlers_t h;
  void *arg;
  rd_kafka_t *consumer;
  rd_kafka_t *producer;
  rd_kafka_queue_t *cq;  /* consumer queue (main queue forwarded into it) */
  rd_kafka_queue_t *pq;  /* producer main queue */
  qwatch_t cwatch, pwatch;
  uv_timer_t tick;       /* safety net poll + continuation of long drains */
  bool tick_started;
  char **topics;
  size_t n_topics;
  ptrack_t *tracks;
  size_t n_tracks, cap_tracks;
  uint64_t next_generation;
  bool paused;
  bool closing;
  bool ever_assigned;    /* the group gave us an assignment once */
  bool subscribed;
  int open_handles;      /* k is freed when the last one has closed */
  pv_map_t *missing;     /* topic -> int64_t* (mono ms): found missing */
  pv_kafka_stats_t stats;
};

typedef struct produce_op {
  pv_produce_cb cb;
  void *arg;
} produce_op_t;

/* ---- produce errors ----------------------------------------------------- */

/* librdkafka's verdict on a record, in our three kinds. What librdkafka
 * reports in a delivery report it has already retried for as long as it
 * retries (unknown topic: after topic.metadata.propagation.max.ms). */
static int err_kind(rd_kafka_resp_err_t err)
{
  switch (err) {
  case RD_KAFKA_RESP_ERR_NO_ERROR:
    return PV_KAFKA_OK;
  case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
  case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
  case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
    return PV_KAFKA_ETOPIC;
  case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
  case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
  case RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE:
  case RD_KAFKA_RESP_ERR_INVALID_RECORD:
    return PV_KAFKA_ERECORD;
  default:
    return PV_KAFKA_ERETRY;
  }
}

static void free_value(const char *key, void *value, void *arg)
{
  free(value);
}

/* Remembers (kind PV_KAFKA_ETOPIC) or forgets (PV_KAFKA_OK) that topic
 * is missing. */
static void note_topic(pv_kafka_t *k, const char *topic, int kind)
{
  if (kind == PV_KAFKA_OK) {
    if (pv_map_size(k->missing))
      free(pv_map_remove(k->missing, topic));
    return;
  }
  if (kind != PV_KAFKA_ETOPIC)
    return;
  if (pv_map_size(k->missing) >= MISSING_MAX) {
    pv_map_each(k->missing, free_value, NULL);
    pv_map_destroy(k->missing);
    k->missing = pv_map_new();
  }
  int64_t *at = pv_map_get(k->missing, topic);
  if (!at) {
    at = pv_malloc(sizeof(*at));
    pv_map_put(k->missing, topic, at);
  }
  *at = (int64_t)pv_clock_mono_ms();
}

bool pv_kafka_topic_missing(pv_kafka_t *k, const char *topic, int64_t *age_ms)
{
  int64_t *at = pv_map_get(k->missing, topic);
  if (!at)
    return false;
  int64_t age = (int64_t)pv_clock_mono_ms() - *at;
  if (age > MISSING_TTL_MS) {
    free(pv_map_remove(k->missing, topic));
    return false;
  }
  if (age_ms)
    *age_ms = age;
  return true;
}

/* ---- records ------------------------------------------------------------ */

void pv_record_destroy(pv_record_t *rec)
{
  if (!rec)
    return;
  free(rec->topic);
  free(rec->key);
  free(rec->value);
  for (size_t i = 0; i < rec->n_headers; i++) {
    free(rec->headers[i].name);
    free(rec->headers[i].value);
  }
  free(rec->headers);
  free(rec);
}

const pv_header_t *pv_record_header(const pv_record_t *rec, const char *name)
{
  for (size_t i = 0; i < rec->n_headers; i++)
    if (!strcmp(rec->headers[i].name, name))
      return &rec->headers[i];
  return NULL;
}

static char *copy_bytes(const void *p, size_t n)
{
  char *c = pv_malloc(n + 1);
  if (n)
    memcpy(c, p, n);
  c[n] = '\0';
  return c;
}

static pv_record_t *record_from(const rd_kafka_message_t *m)
{
  pv_record_t *rec = pv_calloc(1, sizeof(*rec));
  rec->topic = pv_strdup(rd_kafka_topic_name(m->rkt));
  rec->partition = m->partition;
  rec->offset = m->offset;
  if (m->key) {
    rec->key = copy_bytes(m->key, m->key_len);
    rec->key_len = m->key_len;
  }
  if (m->payload) {
    rec->value = copy_bytes(m->payload, m->len);
    rec->value_len = m->len;
  }
  rd_kafka_timestamp_type_t tstype;
  rec->timestamp_ms = rd_kafka_message_timestamp(m, &tstype);
  rd_kafka_headers_t *hdrs = NULL;
  if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    /* Every header, however many: a record with more than a job may
     * carry is refused by the engine, and its dead letter must still be
     * the record as it came (the copy costs what librdkafka's own does). */
    size_t n = rd_kafka_header_cnt(hdrs);
    rec->headers = pv_calloc(n ? n : 1, sizeof(pv_header_t));
    for (size_t i = 0; i < n; i++) {
      const char *name;
      const void *val;
      size_t len;
      if (rd_kafka_header_get_all(hdrs, i, &name, &val, &len))
        break;
      rec->headers[i].name = pv_strdup(name);
      rec->headers[i].value = val ? copy_bytes(val, len) : NULL;
      rec->headers[i].value_len = val ? len : 0;
      rec->n_headers++;
    }
  }
  return rec;
}

/* ---- offset tracking ---------------------------------------------------- */

static ptrack_t *track_find(pv_kafka_t *k, const char *topic, int32_t part)
{
  for (size_t i = 0; i < k->n_tracks; i++)
    if (k->tracks[i].partition == part && !strcmp(k->tracks[i].topic, topic))
      return &k->tracks[i];
  return NULL;
}

static void track_add(pv_kafka_t *k, const char *topic, int32_t part)
{
  if (track_find(k, topic, part))
    return;
  if (k->n_tracks == k->cap_tracks) {
    k->cap_tracks = k->cap_tracks ? k->cap_tracks * 2 : 16;
    k->tracks = pv_realloc(k->tracks, k->cap_tracks * sizeof(ptrack_t));
  }
  ptrack_t *t = &k->tracks[k->n_tracks++];
  memset(t, 0, sizeof(*t));
  t->topic = pv_strdup(topic);
  t->partition = part;
  t->generation = ++k->next_generation;
  t->next_offset = -1;
  k->stats.assigned_partitions = (int)k->n_tracks;
}

static void track_remove(pv_kafka_t *k, const char *topic, int32_t part)
{
  ptrack_t *t = track_find(k, topic, part);
  if (!t)
    return;
  k->stats.pending_offsets -= (int64_t)t->count;
  free(t->topic);
  free(t->offsets);
  free(t->done);
  size_t i = (size_t)(t - k->tracks);
  k->tracks[i] = k->tracks[--k->n_tracks];
  k->stats.assigned_partitions = (int)k->n_tracks;
}

static void track_push(pv_kafka_t *k, ptrack_t *t, pv_record_t *rec)
{
  if (t->count == t->cap) {
    size_t ncap = t->cap ? t->cap * 2 : 64;
    int64_t *offs = pv_malloc(ncap * sizeof(int64_t));
    uint8_t *done = pv_malloc(ncap);
    for (size_t i = 0; i < t->count; i++) {
      offs[i] = t->offsets[(t->head + i) % t->cap];
      done[i] = t->done[(t->head + i) % t->cap];
    }
    free(t->offsets);
    free(t->done);
    t->offsets = offs;
    t->done = done;
    t->cap = ncap;
    t->head = 0;
  }
  size_t slot = (t->head + t->count) % t->cap;
  t->offsets[slot] = rec->offset;
  t->done[slot] = 0;
  rec->generation = t->generation;
  rec->track_seq = t->head_seq + t->count;
  t->count++;
  t->next_offset = rec->offset + 1;
  k->stats.pending_offsets++;
}

void pv_kafka_done(pv_kafka_t *k, const pv_record_t *rec)
{
  ptrack_t *t = track_find(k, rec->topic, rec->partition);
  if (!t || t->generation != rec->generation) {
    pv_log(PV_LOG_DEBUG, "kafka.offset_dropped", PV_S("topic", rec->topic),
           PV_I("partition", rec->partition), PV_I("offset", rec->offset),
           PV_S("reason", "partition no longer assigned"));
    return;
  }
  uint64_t idx = rec->track_seq - t->head_seq;
  if (idx >= t->count)
    return; /* already done: a bug upstream, but harmless here */
  t->done[(t->head + idx) % t->cap] = 1;
  int64_t last = -1;
  while (t->count && t->done[t->head]) {
    last = t->offsets[t->head];
    t->head = (t->head + 1) % t->cap;
    t->count--;
    t->head_seq++;
    k->stats.pending_offsets--;
  }
  if (last < 0)
    return;
  rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(l, t->topic, t->partition)->offset =
      last + 1;
  rd_kafka_resp_err_t err = rd_kafka_offsets_store(k->consumer, l);
  if (!err && l->elems[0].err)
    err = l->elems[0].err;
  if (err == RD_KAFKA_RESP_ERR__STATE) {
    /* Revoked under us (librdkafka >= 1.9): the partition is lost to
     * this worker; its new owner replays from the committed offset. */
    pv_log(PV_LOG_INFO, "kafka.partition_lost", PV_S("topic", t->topic),
           PV_I("partition", t->partition));
  } else if (err) {
    pv_log(PV_LOG_WARN, "kafka.offset_store_failed", PV_S("topic", t->topic),
           PV_I("partition", t->partition), PV_S("error", rd_kafka_err2str(err)));
  }
  rd_kafka_topic_partition_list_destroy(l);
}

/* ---- callbacks from librdkafka (served on the loop thread) -------------- */

static void log_cb(const rd_kafka_t *rk, int level, const char *fac,
                   const char *buf)
{
  pv_log_level_t lvl = level <= 3 ? PV_LOG_ERROR
                       : level <= 4 ? PV_LOG_WARN
                       : level <= 6 ? PV_LOG_INFO
                                    : PV_LOG_DEBUG;
  pv_log(lvl, "kafka.log", PV_S("client", rd_kafka_name(rk)),
         PV_S("facility", fac), PV_S("msg", buf));
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
  pv_kafka_t *k = opaque;
  if (err == RD_KAFKA_RESP_ERR__FATAL) {
    char buf[512];
    rd_kafka_resp_err_t orig = rd_kafka_fatal_error(rk, buf, sizeof(buf));
    pv_log(PV_LOG_ERROR, "kafka.fatal", PV_S("client", rd_kafka_name(rk)),
           PV_S("error", rd_kafka_err2name(orig)), PV_S("reason", buf));
    if (k->h.on_fatal)
      k->h.on_fatal(buf, k->arg);
    return;
  }
  if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
    k->stats.brokers_down = true;
  /* librdkafka recovers from everything else by itself. */
  pv_log(PV_LOG_WARN, "kafka.error", PV_S("client", rd_kafka_name(rk)),
         PV_S("error", rd_kafka_err2name((rd_kafka_resp_err_t)err)),
         PV_S("reason", reason));
}

static void pause_list(pv_kafka_t *k, rd_kafka_topic_partition_list_t *l,
                       bool pause)
{
  rd_kafka_resp_err_t err = pause ? rd_kafka_pause_partitions(k->consumer, l)
                                  : rd_kafka_resume_partitions(k->consumer, l);
  if (err)
    pv_log(PV_LOG_WARN, "kafka.pause_failed", PV_B("pause", pause),
           PV_S("error", rd_kafka_err2str(err)));
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
  pv_kafka_t *k = opaque;
  bool cooperative = !strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE");
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    k->ever_assigned = true;
    for (int i = 0; i < parts->cnt; i++) {
      track_add(k, parts->elems[i].topic, parts->elems[i].partition);
      pv_log(PV_LOG_INFO, "kafka.partition_assigned",
             PV_S("topic", parts->elems[i].topic),
             PV_I("partition", parts->elems[i].partition));
    }
    rd_kafka_error_t *e = NULL;
    rd_kafka_resp_err_t aerr = 0;
    if (cooperative)
      e = rd_kafka_incremental_assign(rk, parts);
    else
      aerr = rd_kafka_assign(rk, parts);
    if (e) {
      pv_log(PV_LOG_ERROR, "kafka.assign_failed",
             PV_S("error", rd_kafka_error_string(e)));
      rd_kafka_error_destroy(e);
    } else if (aerr) {
      pv_log(PV_LOG_ERROR, "kafka.assign_failed",
             PV_S("error", rd_kafka_err2str(aerr)));
    }
    if (k->paused)
      pause_list(k, parts, true);
    return;
  }
  /* Revoked or lost. Commit what is stored for these partitions first,
   * so their new owner does not redo finished jobs. */
  if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS &&
      !rd_kafka_assignment_lost(rk)) {
    rd_kafka_resp_err_t cerr = rd_kafka_commit(rk, NULL, 0);
    if (cerr && cerr != RD_KAFKA_RESP_ERR__NO_OFFSET)
      pv_log(PV_LOG_WARN, "kafka.commit_failed",
             PV_S("error", rd_kafka_err2str(cerr)));
  }
  for (int i = 0; i < parts->cnt; i++) {
    const char *topic = parts->elems[i].topic;
    int32_t part = parts->elems[i].partition;
    if (k->h.on_revoke)
      k->h.on_revoke(topic, part, k->arg);
    track_remove(k, topic, part);
    pv_log(PV_LOG_INFO, "kafka.partition_revoked", PV_S("topic", topic),
           PV_I("partition", part), PV_B("lost", rd_kafka_assignment_lost(rk)));
  }
  if (cooperative) {
    rd_kafka_error_t *e = rd_kafka_incremental_unassign(rk, parts);
    if (e) {
      pv_log(PV_LOG_ERROR, "kafka.unassign_failed",
             PV_S("error", rd_kafka_error_string(e)));
      rd_kafka_error_destroy(e);
    }
  } else {
    rd_kafka_assign(rk, NULL);
  }
}

static void dr_msg_cb(rd_kafka_t *rk, const rd_kafka_message_t *m,
                      void *opaque)
{
  pv_kafka_t *k = opaque;
  produce_op_t *op = m->_private;
  k->stats.pending_produce--;
  int kind = err_kind(m->err);
  if (m->err) {
    k->stats.produce_errors++;
  } else {
    k->stats.produced++;
    k->stats.brokers_down = false;
  }
  if (!k->closing)
    note_topic(k, rd_kafka_topic_name(m->rkt), kind);
  if (op) {
    op->cb(kind, m->err ? rd_kafka_err2str(m->err) : NULL, op->arg);
    free(op);
  }
}

/* ---- loop integration --------------------------------------------------- */

static void drain_pipe(int fd)
{
  char buf[256];
  while (read(fd, buf, sizeof(buf)) > 0)
    ;
}

/* Serves the consumer queue: records, rebalances, errors, logs. @returns
 * true when a full batch was taken (there may be more). */
static bool consume_some(pv_kafka_t *k)
{
  for (int i = 0; i < POLL_BATCH; i++) {
    if (k->closing)
      return false;
    rd_kafka_message_t *m = rd_kafka_consumer_poll(k->consumer, 0);
    if (!m)
      return false;
    if (m->err) {
      if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
        pv_log(PV_LOG_WARN, "kafka.consume_error",
               PV_S("topic", m->rkt ? rd_kafka_topic_name(m->rkt) : NULL),
               PV_I("partition", m->partition),
               PV_S("error", rd_kafka_message_errstr(m)));
      rd_kafka_message_destroy(m);
      continue;
    }
    pv_record_t *rec = record_from(m);
    rd_kafka_message_destroy(m);
    ptrack_t *t = track_find(k, rec->topic, rec->partition);
    if (!t) {
      /* A record from a partition we no longer own: not ours to run. */
      pv_record_destroy(rec);
      continue;
    }
    track_push(k, t, rec);
    k->stats.records_in++;
    k->stats.brokers_down = false;
    k->h.on_record(rec, k->arg);
  }
  return true;
}

static void on_tick(uv_timer_t *t);

static void on_queue_readable(uv_poll_t *p, int status, int events)
{
  qwatch_t *w = p->data;
  pv_kafka_t *k = w->kafka;
  drain_pipe(w->fds[0]);
  if (w == &k->pwatch) {
    rd_kafka_poll(k->producer, 0);
    return;
  }
  if (consume_some(k))
    uv_timer_start(&k->tick, on_tick, 0, 100); /* more: continue next turn */
}

static void on_tick(uv_timer_t *t)
{
  pv_kafka_t *k = t->data;
  if (k->closing)
    return;
  rd_kafka_poll(k->producer, 0);
  if (consume_some(k))
    uv_timer_start(&k->tick, on_tick, 0, 100);
}

static int watch_queue(pv_kafka_t *k, qwatch_t *w, rd_kafka_queue_t *q,
                       char *errstr, size_t n)
{
  w->kafka = k;
  if (pipe2(w->fds, O_NONBLOCK | O_CLOEXEC) < 0) {
    snprintf(errstr, n, "pipe: %s", strerror(errno));
    return -1;
  }
  rd_kafka_queue_io_event_enable(q, w->fds[1], "1", 1);
  uv_poll_init(k->loop, &w->poll, w->fds[0]);
  w->poll.data = w;
  uv_poll_start(&w->poll, UV_READABLE, on_queue_readable);
  w->started = true;
  return 0;
}

/* ---- construction ------------------------------------------------------- */

static int conf_set(rd_kafka_conf_t *c, const char *name, const char *value,
                    int line, const char *path, char *errstr, size_t n)
{
  char err[256];
  if (rd_kafka_conf_set(c, name, value, err, sizeof(err)) ==
      RD_KAFKA_CONF_OK)
    return 0;
  if (line > 0)
    snprintf(errstr, n, "%s:%d: [kafka] %s: %s", path ? path : "config", line,
             name, err);
  else
    snprintf(errstr, n, "kafka property %s: %s", name, err);
  return -1;
}

static rd_kafka_conf_t *base_conf(pv_kafka_t *k, const pv_config_t *conf,
                                  bool consumer, char *errstr, size_t n)
{
  rd_kafka_conf_t *c = rd_kafka_conf_new();
  char cid[200];
  snprintf(cid, sizeof(cid), "provisiond-%s", conf->worker_id);
  const char *const common[][2] = {
    {"bootstrap.servers", conf->kafka_brokers},
    {"client.id", cid},
    {"log.queue", "true"},
  };
  for (size_t i = 0; i < sizeof(common) / sizeof(common[0]); i++)
    if (conf_set(c, common[i][0], common[i][1], 0, NULL, errstr, n))
      goto fail;
  if (consumer) {
    /* At-least-once: offsets are stored by us, after the outcome is
     * durable; librdkafka only commits what we stored. */
    const char *const props[][2] = {
      {"group.id", conf->kafka_group_id},
      {"enable.auto.offset.store", "false"},
      {"enable.auto.commit", "true"},
      {"auto.commit.interval.ms", "1000"},
      {"auto.offset.reset", "earliest"},
      {"partition.assignment.strategy", "cooperative-sticky"},
    };
    for (size_t i = 0; i < sizeof(props) / sizeof(props[0]); i++)
      if (conf_set(c, props[i][0], props[i][1], 0, NULL, errstr, n))
        goto fail;
    rd_kafka_conf_set_rebalance_cb(c, rebalance_cb);
  } else {
    const char *const props[][2] = {
      {"enable.idempotence", "true"},
      {"linger.ms", "2"},
      {"queue.buffering.max.messages", "1000000"},
    };
    for (size_t i = 0; i < sizeof(props) / sizeof(props[0]); i++)
      if (conf_set(c, props[i][0], props[i][1], 0, NULL, errstr, n))
        goto fail;
    rd_kafka_conf_set_dr_msg_cb(c, dr_msg_cb);
  }
  /* The operator's own librdkafka properties win over our defaults; a
   * property meant for the other client type only draws a warning. */
  for (size_t i = 0; i < conf->n_kafka_props; i++) {
    const pv_kafka_prop_t *p = &conf->kafka_props[i];
    char err[256];
    rd_kafka_conf_res_t r = rd_kafka_conf_set(c, p->name, p->value, err,
                                              sizeof(err));
    if (r == RD_KAFKA_CONF_UNKNOWN || r == RD_KAFKA_CONF_INVALID) {
      snprintf(errstr, n, "%s:%d: [kafka] %s: %s",
               conf->path ? conf->path : "config", p->line, p->name, err);
      goto fail;
    }
  }
  rd_kafka_conf_set_error_cb(c, error_cb);
  rd_kafka_conf_set_log_cb(c, log_cb);
  rd_kafka_conf_set_opaque(c, k);
  return c;
fail:
  rd_kafka_conf_destroy(c);
  return NULL;
}

pv_kafka_t *pv_kafka_new(uv_loop_t *loop, const pv_config_t *conf,
                         const pv_kafka_handlers_t *handlers, void *arg,
                         char *errstr, size_t n)
{
  pv_kafka_t *k = pv_calloc(1, sizeof(*k));
  char err[512];
  k->loop = loop;
  k->h = *handlers;
  k->arg = arg;
  k->cwatch.fds[0] = k->cwatch.fds[1] = -1;
  k->pwatch.fds[0] = k->pwatch.fds[1] = -1;
  k->missing = pv_map_new();
  k->topics = pv_calloc(conf->n_kafka_topics ? conf->n_kafka_topics : 1,
                        sizeof(char *));
  for (size_t i = 0; i < conf->n_kafka_topics; i++)
    k->topics[k->n_topics++] = pv_strdup(conf->kafka_topic_list[i]);
  if (!k->n_topics) {
    snprintf(errstr, n, "[kafka] topics: no topic named");
    goto fail;
  }

  rd_kafka_conf_t *cc = base_conf(k, conf, true, errstr, n);
  if (!cc)
    goto fail;
  k->consumer = rd_kafka_new(RD_KAFKA_CONSUMER, cc, err, sizeof(err));
  if (!k->consumer) {
    rd_kafka_conf_destroy(cc); /* not taken on failure */
    snprintf(errstr, n, "kafka consumer: %s", err);
    goto fail;
  }
  rd_kafka_poll_set_consumer(k->consumer);
  rd_kafka_set_log_queue(k->consumer, NULL); /* main -> consumer queue */
  k->cq = rd_kafka_queue_get_consumer(k->consumer);

  rd_kafka_conf_t *pc = base_conf(k, conf, false, errstr, n);
  if (!pc)
    goto fail;
  k->producer = rd_kafka_new(RD_KAFKA_PRODUCER, pc, err, sizeof(err));
  if (!k->producer) {
    rd_kafka_conf_destroy(pc);
    snprintf(errstr, n, "kafka producer: %s", err);
    goto fail;
  }
  rd_kafka_set_log_queue(k->producer, NULL);
  k->pq = rd_kafka_queue_get_main(k->producer);

  if (watch_queue(k, &k->cwatch, k->cq, errstr, n) ||
      watch_queue(k, &k->pwatch, k->pq, errstr, n))
    goto fail;
  uv_timer_init(loop, &k->tick);
  k->tick.data = k;
  uv_timer_start(&k->tick, on_tick, 100, 100);
  k->tick_started = true;
  return k;
fail:
  pv_kafka_close(k, 0);
  return NULL;
}

int pv_kafka_subscribe(pv_kafka_t *k, char *errstr, size_t n)
{
  rd_kafka_topic_partition_list_t *l =
      rd_kafka_topic_partition_list_new((int)k->n_topics);
  for (size_t i = 0; i < k->n_topics; i++)
    rd_kafka_topic_partition_list_add(l, k->topics[i], RD_KAFKA_PARTITION_UA);
  rd_kafka_resp_err_t err = rd_kafka_subscribe(k->consumer, l);
  rd_kafka_topic_partition_list_destroy(l);
  if (err) {
    snprintf(errstr, n, "kafka subscribe: %s", rd_kafka_err2str(err));
    return -1;
  }
  k->subscribed = true;
  return 0;
}

void pv_kafka_pause(pv_kafka_t *k, bool pause)
{
  if (k->paused == pause)
    return;
  k->paused = pause;
  rd_kafka_topic_partition_list_t *l = NULL;
  if (rd_kafka_assignment(k->consumer, &l) == RD_KAFKA_RESP_ERR_NO_ERROR &&
      l) {
    if (l->cnt)
      pause_list(k, l, pause);
    rd_kafka_topic_partition_list_destroy(l);
  }
  pv_log(PV_LOG_INFO, pause ? "kafka.paused" : "kafka.resumed",
         PV_I("partitions", k->n_tracks));
}

bool pv_kafka_paused(const pv_kafka_t *k)
{
  return k->paused;
}

int pv_kafka_produce(pv_kafka_t *k, const char *topic, const void *key,
                     size_t key_len, const void *value, size_t value_len,
                     const pv_out_header_t *headers, size_t n_headers,
                     pv_produce_cb cb, void *arg, char *errstr, size_t n)
{
  rd_kafka_headers_t *hdrs = rd_kafka_headers_new(n_headers ? n_headers : 1);
  for (size_t i = 0; i < n_headers; i++)
    rd_kafka_header_add(hdrs, headers[i].name, -1, headers[i].value,
                        headers[i].value ? (ssize_t)headers[i].value_len : 0);
  produce_op_t *op = pv_malloc(sizeof(*op));
  op->cb = cb;
  op->arg = arg;
  rd_kafka_resp_err_t err = rd_kafka_producev(
      k->producer, RD_KAFKA_V_TOPIC(topic),
      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
      RD_KAFKA_V_KEY(key, key_len),
      RD_KAFKA_V_VALUE((void *)(uintptr_t)value, value_len),
      RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_OPAQUE(op), RD_KAFKA_V_END);
  if (err) {
    rd_kafka_headers_destroy(hdrs); /* only taken on success */
    free(op);
    snprintf(errstr, n, "produce to %s: %s", topic, rd_kafka_err2str(err));
    int kind = err_kind(err);
    note_topic(k, topic, kind);
    return kind == PV_KAFKA_OK ? PV_KAFKA_ERETRY : kind;
  }
  k->stats.pending_produce++;
  return 0;
}

void pv_kafka_get_stats(const pv_kafka_t *k, pv_kafka_stats_t *out)
{
  *out = k->stats;
  out->paused = k->paused;
}

void pv_kafka_each_partition(pv_kafka_t *k, pv_kafka_partition_fn fn,
                             void *arg)
{
  for (size_t i = 0; i < k->n_tracks; i++) {
    const ptrack_t *t = &k->tracks[i];
    pv_kafka_partition_t p = {
      .topic = t->topic,
      .partition = t->partition,
      .pending = (int64_t)t->count,
      .paused = k->paused,
      .high_watermark = -1,
      .position = -1,
      .lag = -1,
    };
    /* The oldest record not done is where a restart would resume; with
     * none pending, the one after the last handed out. */
    if (t->count)
      p.position = t->offsets[t->head];
    else if (t->next_offset >= 0)
      p.position = t->next_offset;
    else {
      rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
      rd_kafka_topic_partition_list_add(l, t->topic, t->partition);
      /* Local state only: no broker round trip. */
      if (rd_kafka_position(k->consumer, l) == RD_KAFKA_RESP_ERR_NO_ERROR &&
          l->elems[0].offset >= 0)
        p.position = l->elems[0].offset;
      rd_kafka_topic_partition_list_destroy(l);
    }
    int64_t lo = -1, hi = -1;
    /* Cached from fetch responses: no broker round trip either. */
    if (rd_kafka_get_watermark_offsets(k->consumer, t->topic, t->partition,
                                       &lo, &hi) ==
            RD_KAFKA_RESP_ERR_NO_ERROR &&
        hi >= 0)
      p.high_watermark = hi;
    if (p.high_watermark >= 0 && p.position >= 0)
      p.lag = p.high_watermark > p.position ? p.high_watermark - p.position
                                            : 0;
    else if (p.high_watermark >= 0 && lo >= 0)
      p.lag = p.high_watermark - lo; /* nothing read yet: all of it waits */
    fn(&p, arg);
  }
}

static void on_handle_closed(uv_handle_t *h)
{
  pv_kafka_t *k = h->data;
  if (--k->open_handles == 0)
    free(k);
}

static void close_watch(pv_kafka_t *k, qwatch_t *w)
{
  if (!w->started)
    return;
  w->poll.data = k;
  k->open_handles++;
  uv_close((uv_handle_t *)&w->poll, on_handle_closed);
  w->started = false;
}

void pv_kafka_close(pv_kafka_t *k, int flush_ms)
{
  if (!k)
    return;
  k->closing = true;
  bool abandon_consumer = false;
  if (k->consumer && k->subscribed && !k->ever_assigned) {
    /* librdkafka 2.0.2 aborts (an assertion in the sticky assignor,
     * upstream #4312, fixed in later releases) when a cooperative-sticky
     * consumer is closed or destroyed after joining its group but before
     * its first assignment. Such a consumer holds no partition and no
     * offset: leave it to the process's exit instead. */
    abandon_consumer = true;
    pv_log(PV_LOG_INFO, "kafka.consumer_left_unclosed",
           PV_S("reason", "stopped before the first partition assignment"));
  }
  if (k->consumer && !abandon_consumer) {
    /* Commit what is stored, leave the group (rebalance callbacks run
     * inside this call), then the consumer can go. */
    rd_kafka_resp_err_t err = rd_kafka_commit(k->consumer, NULL, 0);
    if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET)
      pv_log(PV_LOG_WARN, "kafka.commit_failed",
             PV_S("error", rd_kafka_err2str(err)));
    rd_kafka_consumer_close(k->consumer);
  }
  if (k->producer && k->stats.pending_produce > 0) {
    /* Wait only for records of ours that the broker has not acked yet.
     * rd_kafka_flush also waits for librdkafka's own queue to empty, and
     * with the log routed to it one item could stay behind: every
     * shutdown stalled for the whole flush_ms with nothing of ours in
     * flight. */
    rd_kafka_flush(k->producer, flush_ms);
    if (k->stats.pending_produce > 0)
      pv_log(PV_LOG_WARN, "kafka.flush_incomplete",
             PV_I("pending", (int64_t)k->stats.pending_produce));
  }
  if (k->tick_started) {
    uv_timer_stop(&k->tick);
    k->open_handles++;
    uv_close((uv_handle_t *)&k->tick, on_handle_closed);
  }
  close_watch(k, &k->cwatch);
  close_watch(k, &k->pwatch);
  if (k->cq) {
    rd_kafka_queue_io_event_enable(k->cq, -1, NULL, 0);
    rd_kafka_queue_destroy(k->cq);
  }
  if (k->pq) {
    rd_kafka_queue_io_event_enable(k->pq, -1, NULL, 0);
    rd_kafka_queue_destroy(k->pq);
  }
  if (k->consumer && !abandon_consumer)
    rd_kafka_destroy(k->consumer);
  if (k->producer) {
    /* Undelivered messages' opaques are freed by purging them first. */
    rd_kafka_purge(k->producer, RD_KAFKA_PURGE_F_QUEUE |
                                    RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_poll(k->producer, 0);
    rd_kafka_destroy(k->producer);
  }
  for (int i = 0; i < 2; i++) {
    qwatch_t *w = i ? &k->pwatch : &k->cwatch;
    if (w->fds[0] >= 0)
      close(w->fds[0]);
    if (w->fds[1] >= 0)
      close(w->fds[1]);
  }
  while (k->n_tracks)
    track_remove(k, k->tracks[0].topic, k->tracks[0].partition);
  free(k->tracks);
  for (size_t i = 0; i < k->n_topics; i++)
    free(k->topics[i]);
  free(k->topics);
  pv_map_each(k->missing, free_value, NULL);
  pv_map_destroy(k->missing);
  k->missing = NULL;
  /* The libuv handles live inside k: it is freed by the last close
   * callback, when the caller runs the loop once more. */
  if (k->open_handles == 0)
    free(k);
}
