#include "kafka/sync.h"

#include "common/alloc.h"

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct pv_ksync_producer {
  rd_kafka_t *rk;
  int delivered;
  int failed;
  char last_err[256]; /* the last failed delivery's reason */
};

struct pv_ksync_consumer {
  rd_kafka_t *rk;
  /* snapshot consumers only: per partition, the next offset to read and
   * the end offset as of creation */
  int nparts;
  int64_t *next;
  int64_t *end;
};

static rd_kafka_conf_t *conf_new(const char *brokers)
{
  rd_kafka_conf_t *c = rd_kafka_conf_new();
  char err[256];
  rd_kafka_conf_set(c, "bootstrap.servers", brokers, err, sizeof(err));
  rd_kafka_conf_set(c, "log_level", "3", err, sizeof(err));
  return c;
}

/* librdkafka's mock cluster does not serve CreateTopics; it creates a
 * topic (with its default partition count) when a producer asks for the
 * topic's metadata. */
static int auto_create(rd_kafka_t *rk, const char *const *topics, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topics[i], NULL);
    const rd_kafka_metadata_t *md = NULL;
    bool ok = false;
    for (int tries = 0; tries < 20 && !ok; tries++) {
      if (rd_kafka_metadata(rk, 0, rkt, &md, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR &&
          md->topic_cnt == 1 && !md->topics[0].err &&
          md->topics[0].partition_cnt > 0)
        ok = true;
      if (md)
        rd_kafka_metadata_destroy(md);
      md = NULL;
      if (!ok)
        usleep(100 * 1000);
    }
    rd_kafka_topic_destroy(rkt);
    if (!ok) {
      fprintf(stderr, "create_topics: %s: not created\n", topics[i]);
      return -1;
    }
  }
  return 0;
}

int pv_ksync_partitions(const char *brokers, const char *topic)
{
  char err[256];
  rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf_new(brokers), err,
                                sizeof(err));
  if (!rk)
    return -1;
  rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
  const rd_kafka_metadata_t *md = NULL;
  int n = -1;
  if (rd_kafka_metadata(rk, 0, rkt, &md, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR &&
      md->topic_cnt == 1 && !md->topics[0].err)
    n = md->topics[0].partition_cnt;
  if (md)
    rd_kafka_metadata_destroy(md);
  rd_kafka_topic_destroy(rkt);
  rd_kafka_destroy(rk);
  return n;
}

int pv_ksync_create_topics(const char *brokers, const char *const *topics,
                        size_t n, int partitions)
{
  return pv_ksync_create_topics_with(brokers, topics, n, partitions, NULL);
}

int pv_ksync_create_topics_with(const char *brokers,
                                const char *const *topics, size_t n,
                                int partitions, const char *const *configs)
{
  char err[512];
  rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf_new(brokers), err,
                                sizeof(err));
  if (!rk) {
    fprintf(stderr, "create_topics: %s\n", err);
    return -1;
  }
  rd_kafka_NewTopic_t **nt = pv_calloc(n, sizeof(*nt));
  for (size_t i = 0; i < n; i++) {
    nt[i] = rd_kafka_NewTopic_new(topics[i], partitions, 1, err, sizeof(err));
    for (size_t c = 0; nt[i] && configs && configs[c] && configs[c + 1];
         c += 2)
      if (rd_kafka_NewTopic_set_config(nt[i], configs[c], configs[c + 1])) {
        fprintf(stderr, "create_topics %s: config %s refused\n", topics[i],
                configs[c]);
        rd_kafka_NewTopic_destroy_array(nt, i + 1);
        free(nt);
        rd_kafka_destroy(rk);
        return -1;
      }
  }
  rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
  rd_kafka_AdminOptions_t *opt =
      rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
  rd_kafka_AdminOptions_set_operation_timeout(opt, 10000, err, sizeof(err));
  rd_kafka_AdminOptions_set_request_timeout(opt, 5000, err, sizeof(err));
  rd_kafka_CreateTopics(rk, nt, n, opt, q);
  int rc = 0;
  rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 10000);
  if (!ev || rd_kafka_event_error(ev) == RD_KAFKA_RESP_ERR__TIMED_OUT ||
      rd_kafka_event_error(ev) == RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE) {
    rc = auto_create(rk, topics, n); /* the mock cluster */
  } else {
    const rd_kafka_CreateTopics_result_t *res =
        rd_kafka_event_CreateTopics_result(ev);
    size_t cnt = 0;
    const rd_kafka_topic_result_t **tr =
        res ? rd_kafka_CreateTopics_result_topics(res, &cnt) : NULL;
    if (!res) {
      fprintf(stderr, "create_topics: %s\n", rd_kafka_event_error_string(ev));
      rc = -1;
    }
    for (size_t i = 0; i < cnt; i++) {
      rd_kafka_resp_err_t e = rd_kafka_topic_result_error(tr[i]);
      if (e && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
        fprintf(stderr, "create_topics %s: %s\n",
                rd_kafka_topic_result_name(tr[i]),
                rd_kafka_topic_result_error_string(tr[i]));
        rc = -1;
      }
    }
    rd_kafka_event_destroy(ev);
  }
  rd_kafka_AdminOptions_destroy(opt);
  rd_kafka_queue_destroy(q);
  rd_kafka_NewTopic_destroy_array(nt, n);
  free(nt);
  rd_kafka_destroy(rk);
  return rc;
}

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
  pv_ksync_producer_t *p = opaque;
  if (m->err) {
    p->failed++;
    snprintf(p->last_err, sizeof(p->last_err), "%s",
             rd_kafka_err2str(m->err));
  }
  else
    p->delivered++;
}

pv_ksync_producer_t *pv_ksync_producer_new(const char *brokers)
{
  pv_ksync_producer_t *p = pv_calloc(1, sizeof(*p));
  rd_kafka_conf_t *c = conf_new(brokers);
  char err[256];
  rd_kafka_conf_set(c, "linger.ms", "0", err, sizeof(err));
  rd_kafka_conf_set_dr_msg_cb(c, dr_cb);
  rd_kafka_conf_set_opaque(c, p);
  p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof(err));
  if (!p->rk) {
    fprintf(stderr, "producer: %s\n", err);
    free(p);
    return NULL;
  }
  return p;
}

int pv_ksync_produce(pv_ksync_producer_t *p, const char *topic, const char *key,
                  const void *value, size_t len, const char *const *headers)
{
  rd_kafka_headers_t *h = rd_kafka_headers_new(4);
  for (size_t i = 0; headers && headers[i]; i += 2)
    rd_kafka_header_add(h, headers[i], -1, headers[i + 1], -1);
  int before = p->delivered + p->failed;
  rd_kafka_resp_err_t e = rd_kafka_producev(
      p->rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
      RD_KAFKA_V_KEY(key, key ? strlen(key) : 0),
      RD_KAFKA_V_VALUE((void *)(uintptr_t)value, len), RD_KAFKA_V_HEADERS(h),
      RD_KAFKA_V_END);
  if (e) {
    rd_kafka_headers_destroy(h);
    fprintf(stderr, "produce: %s\n", rd_kafka_err2str(e));
    return -1;
  }
  for (int i = 0; i < 300 && p->delivered + p->failed == before; i++)
    rd_kafka_poll(p->rk, 100);
  return p->failed ? -1 : (p->delivered + p->failed > before ? 0 : -1);
}

void pv_ksync_producer_destroy(pv_ksync_producer_t *p)
{
  if (!p)
    return;
  rd_kafka_flush(p->rk, 10000);
  rd_kafka_destroy(p->rk);
  free(p);
}

pv_ksync_consumer_t *pv_ksync_consumer_new(const char *brokers, const char *topic)
{
  pv_ksync_consumer_t *c = pv_calloc(1, sizeof(*c));
  rd_kafka_conf_t *conf = conf_new(brokers);
  char err[256], group[96];
  snprintf(group, sizeof(group), "test-%ld-%ld-%p", (long)getpid(),
           (long)time(NULL), (void *)c);
  rd_kafka_conf_set(conf, "group.id", group, err, sizeof(err));
  rd_kafka_conf_set(conf, "auto.offset.reset", "earliest", err, sizeof(err));
  rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof(err));
  c->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
  if (!c->rk) {
    fprintf(stderr, "consumer: %s\n", err);
    free(c);
    return NULL;
  }
  rd_kafka_poll_set_consumer(c->rk);
  rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(l, topic, RD_KAFKA_PARTITION_UA);
  rd_kafka_subscribe(c->rk, l);
  rd_kafka_topic_partition_list_destroy(l);
  return c;
}

pv_ksync_msg_t *pv_ksync_consume(pv_ksync_consumer_t *c, int timeout_ms)
{
  struct timespec start, now;
  clock_gettime(CLOCK_MONOTONIC, &start);
  for (;;) {
    clock_gettime(CLOCK_MONOTONIC, &now);
    long elapsed = (now.tv_sec - start.tv_sec) * 1000 +
                   (now.tv_nsec - start.tv_nsec) / 1000000;
    if (elapsed >= timeout_ms)
      return NULL;
    rd_kafka_message_t *m = rd_kafka_consumer_poll(c->rk, 100);
    if (!m)
      continue;
    if (m->err) {
      rd_kafka_message_destroy(m);
      continue;
    }
    pv_ksync_msg_t *out = pv_calloc(1, sizeof(*out));
    if (m->key)
      out->key = pv_strndup(m->key, m->key_len);
    if (m->payload) {
      out->value = pv_malloc(m->len + 1);
      memcpy(out->value, m->payload, m->len);
      out->value[m->len] = '\0';
      out->len = m->len;
    }
    out->key_len = m->key ? m->key_len : 0;
    out->partition = m->partition;
    out->offset = m->offset;
    if (c->next && m->partition >= 0 && m->partition < c->nparts)
      c->next[m->partition] = m->offset + 1;
    rd_kafka_headers_t *h = NULL;
    if (!rd_kafka_message_headers(m, &h)) {
      size_t n = rd_kafka_header_cnt(h);
      out->hnames = pv_calloc(n + 1, sizeof(char *));
      out->hvalues = pv_calloc(n + 1, sizeof(char *));
      out->hlens = pv_calloc(n + 1, sizeof(size_t));
      for (size_t i = 0; i < n; i++) {
        const char *name;
        const void *val;
        size_t len;
        if (rd_kafka_header_get_all(h, i, &name, &val, &len))
          break;
        out->hnames[i] = pv_strdup(name);
        if (val) {
          /* exact bytes, NUL-terminated for callers that want text */
          out->hvalues[i] = pv_malloc(len + 1);
          memcpy(out->hvalues[i], val, len);
          out->hvalues[i][len] = '\0';
          out->hlens[i] = len;
        }
        out->n_headers++;
      }
    }
    rd_kafka_message_destroy(m);
    return out;
  }
}

const char *pv_ksync_msg_header(const pv_ksync_msg_t *m, const char *name)
{
  for (size_t i = 0; i < m->n_headers; i++)
    if (!strcmp(m->hnames[i], name))
      return m->hvalues[i];
  return NULL;
}

void pv_ksync_msg_destroy(pv_ksync_msg_t *m)
{
  if (!m)
    return;
  for (size_t i = 0; i < m->n_headers; i++) {
    free(m->hnames[i]);
    free(m->hvalues[i]);
  }
  free(m->hnames);
  free(m->hvalues);
  free(m->hlens);
  free(m->key);
  free(m->value);
  free(m);
}

pv_ksync_consumer_t *pv_ksync_consumer_at_end(const char *brokers,
                                              const char *topic)
{
  char err[256];
  rd_kafka_conf_t *conf = conf_new(brokers);
  rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof(err));
  rd_kafka_conf_set(conf, "group.id", "provctl-wait", err, sizeof(err));
  rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
  if (!rk) {
    fprintf(stderr, "consumer: %s\n", err);
    return NULL;
  }
  rd_kafka_poll_set_consumer(rk);
  const rd_kafka_metadata_t *md = NULL;
  rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
  rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, rkt, &md, 10000);
  int nparts = 0;
  if (!e && md && md->topic_cnt == 1 && !md->topics[0].err)
    nparts = md->topics[0].partition_cnt;
  if (md)
    rd_kafka_metadata_destroy(md);
  rd_kafka_topic_destroy(rkt);
  if (nparts <= 0) {
    fprintf(stderr, "topic %s: %s\n", topic,
            e ? rd_kafka_err2str(e) : "unknown topic");
    rd_kafka_destroy(rk);
    return NULL;
  }
  /* Explicit end offsets, read now: RD_KAFKA_OFFSET_END would resolve
   * later and could skip a reply produced in between. */
  rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(nparts);
  for (int p = 0; p < nparts; p++) {
    int64_t lo = 0, hi = 0;
    if (rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi, 10000))
      hi = RD_KAFKA_OFFSET_END;
    rd_kafka_topic_partition_list_add(l, topic, p)->offset = hi;
  }
  e = rd_kafka_assign(rk, l);
  rd_kafka_topic_partition_list_destroy(l);
  if (e) {
    fprintf(stderr, "assign %s: %s\n", topic, rd_kafka_err2str(e));
    rd_kafka_destroy(rk);
    return NULL;
  }
  pv_ksync_consumer_t *c = pv_calloc(1, sizeof(*c));
  c->rk = rk;
  return c;
}

void pv_ksync_consumer_destroy(pv_ksync_consumer_t *c)
{
  if (!c)
    return;
  rd_kafka_consumer_close(c->rk);
  rd_kafka_destroy(c->rk);
  free(c->next);
  free(c->end);
  free(c);
}

int pv_ksync_committed(const char *brokers, const char *group, const char *topic,
                    int partitions, int64_t *offsets)
{
  rd_kafka_conf_t *conf = conf_new(brokers);
  char err[256];
  rd_kafka_conf_set(conf, "group.id", group, err, sizeof(err));
  rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
  if (!rk)
    return -1;
  rd_kafka_topic_partition_list_t *l =
      rd_kafka_topic_partition_list_new(partitions);
  for (int i = 0; i < partitions; i++)
    rd_kafka_topic_partition_list_add(l, topic, i);
  rd_kafka_resp_err_t e = rd_kafka_committed(rk, l, 10000);
  for (int i = 0; i < partitions; i++)
    offsets[i] = e ? -1 : (l->elems[i].offset < 0 ? -1 : l->elems[i].offset);
  rd_kafka_topic_partition_list_destroy(l);
  rd_kafka_destroy(rk);
  return e ? -1 : 0;
}

/* ---- exact records (provctl dlq replay) ---------------------------- */

int pv_ksync_produce_raw(pv_ksync_producer_t *p, const char *topic,
                         const void *key, size_t key_len, const void *value,
                         size_t len, const pv_ksync_header_t *headers,
                         size_t n_headers, int timeout_ms, char *err,
                         size_t errsz)
{
  rd_kafka_headers_t *h = rd_kafka_headers_new(n_headers ? n_headers : 1);
  for (size_t i = 0; i < n_headers; i++) {
    if (rd_kafka_header_add(h, headers[i].name, -1, headers[i].value,
                            headers[i].value ? (ssize_t)headers[i].len : 0)) {
      rd_kafka_headers_destroy(h);
      snprintf(err, errsz, "header \"%s\" refused", headers[i].name);
      return -1;
    }
  }
  int before_ok = p->delivered, before_fail = p->failed;
  rd_kafka_resp_err_t e = rd_kafka_producev(
      p->rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
      RD_KAFKA_V_KEY(key, key ? key_len : 0),
      RD_KAFKA_V_VALUE((void *)(uintptr_t)value, len), RD_KAFKA_V_HEADERS(h),
      RD_KAFKA_V_END);
  if (e) {
    rd_kafka_headers_destroy(h);
    snprintf(err, errsz, "produce to %s: %s", topic, rd_kafka_err2str(e));
    return -1;
  }
  /* one record at a time: the next delivery report is this record's */
  struct timespec start, now;
  clock_gettime(CLOCK_MONOTONIC, &start);
  while (p->delivered == before_ok && p->failed == before_fail) {
    rd_kafka_poll(p->rk, 50);
    clock_gettime(CLOCK_MONOTONIC, &now);
    long elapsed = (now.tv_sec - start.tv_sec) * 1000 +
                   (now.tv_nsec - start.tv_nsec) / 1000000;
    if (elapsed >= timeout_ms) {
      /* purge it so a late delivery cannot happen after we said "failed" */
      rd_kafka_purge(p->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
      rd_kafka_poll(p->rk, 0);
      if (p->delivered > before_ok)
        return 0;
      snprintf(err, errsz, "produce to %s: no acknowledgement within %d ms",
               topic, timeout_ms);
      return -1;
    }
  }
  if (p->failed > before_fail) {
    snprintf(err, errsz, "produce to %s: %s", topic, p->last_err);
    return -1;
  }
  return 0;
}

int pv_ksync_ping(const char *brokers, int timeout_ms, char *err, size_t errsz)
{
  char cerr[256];
  rd_kafka_conf_t *c = conf_new(brokers);
  /* librdkafka logs its connection failures itself: keep stderr to our
   * one line */
  rd_kafka_conf_set(c, "log_level", "0", cerr, sizeof(cerr));
  rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, cerr, sizeof(cerr));
  if (!rk) {
    snprintf(err, errsz, "%s", cerr);
    return -1;
  }
  const rd_kafka_metadata_t *md = NULL;
  rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, NULL, &md, timeout_ms);
  int rc = 0;
  if (e || !md || md->broker_cnt < 1) {
    snprintf(err, errsz, "no broker answered within %d ms (%s)", timeout_ms,
             e ? rd_kafka_err2str(e) : "no brokers");
    rc = -1;
  }
  if (md)
    rd_kafka_metadata_destroy(md);
  rd_kafka_destroy(rk);
  return rc;
}

/* A partition's watermarks. For a while after a topic is created (and
 * during a leader change) a broker answers "not leader" or "leader not
 * available": that passes, so it is asked again for up to 10 s. */
static rd_kafka_resp_err_t watermarks(rd_kafka_t *rk, const char *topic,
                                      int32_t p, int64_t *lo, int64_t *hi)
{
  rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR_NO_ERROR;
  for (int tries = 0; tries < 100; tries++) {
    e = rd_kafka_query_watermark_offsets(rk, topic, p, lo, hi, 10000);
    if (e != RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION &&
        e != RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE &&
        e != RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
      break;
    usleep(100 * 1000);
  }
  return e;
}

pv_ksync_consumer_t *pv_ksync_consumer_snapshot(const char *brokers,
                                                const char *topic, char *err,
                                                size_t errsz)
{
  char cerr[256];
  rd_kafka_conf_t *conf = conf_new(brokers);
  rd_kafka_conf_set(conf, "enable.auto.commit", "false", cerr, sizeof(cerr));
  rd_kafka_conf_set(conf, "group.id", "provctl-snapshot", cerr, sizeof(cerr));
  /* A snapshot is read one record at a time (provctl dlq replay streams
   * whole dead-letter topics): prefetch 8 MB, not librdkafka's 64 MB, so
   * memory stays small whatever the topic's size. */
  if (rd_kafka_conf_set(conf, "queued.max.messages.kbytes", "8192", cerr,
                        sizeof(cerr)) != RD_KAFKA_CONF_OK) {
    snprintf(err, errsz, "%s", cerr);
    rd_kafka_conf_destroy(conf);
    return NULL;
  }
  rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, cerr, sizeof(cerr));
  if (!rk) {
    snprintf(err, errsz, "%s", cerr);
    return NULL;
  }
  rd_kafka_poll_set_consumer(rk);
  const rd_kafka_metadata_t *md = NULL;
  rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
  rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, rkt, &md, 10000);
  int nparts = 0;
  if (!e && md && md->topic_cnt == 1 && !md->topics[0].err)
    nparts = md->topics[0].partition_cnt;
  if (!e && md && md->topic_cnt == 1 && md->topics[0].err)
    e = md->topics[0].err;
  if (md)
    rd_kafka_metadata_destroy(md);
  rd_kafka_topic_destroy(rkt);
  if (nparts <= 0) {
    snprintf(err, errsz, "topic %s: %s", topic,
             e ? rd_kafka_err2str(e) : "unknown topic");
    rd_kafka_destroy(rk);
    return NULL;
  }
  pv_ksync_consumer_t *c = pv_calloc(1, sizeof(*c));
  c->rk = rk;
  c->nparts = nparts;
  c->next = pv_calloc((size_t)nparts, sizeof(int64_t));
  c->end = pv_calloc((size_t)nparts, sizeof(int64_t));
  rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(nparts);
  for (int p = 0; p < nparts; p++) {
    int64_t lo = 0, hi = 0;
    e = watermarks(rk, topic, p, &lo, &hi);
    if (e) {
      snprintf(err, errsz, "topic %s partition %d: %s", topic, p,
               rd_kafka_err2str(e));
      rd_kafka_topic_partition_list_destroy(l);
      pv_ksync_consumer_destroy(c);
      return NULL;
    }
    c->next[p] = lo;
    c->end[p] = hi;
    rd_kafka_topic_partition_list_add(l, topic, p)->offset = lo;
  }
  e = rd_kafka_assign(rk, l);
  rd_kafka_topic_partition_list_destroy(l);
  if (e) {
    snprintf(err, errsz, "assign %s: %s", topic, rd_kafka_err2str(e));
    pv_ksync_consumer_destroy(c);
    return NULL;
  }
  return c;
}

bool pv_ksync_consumer_drained(pv_ksync_consumer_t *c)
{
  if (!c || !c->next)
    return false;
  for (int p = 0; p < c->nparts; p++)
    if (c->next[p] < c->end[p])
      return false;
  return true;
}
