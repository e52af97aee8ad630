/**
 * @file kafka.h
 * @brief provisiond's only contact with librdkafka: the consumer group that
 * takes jobs, the idempotent producer for replies and dead letters, and the
 * per-partition offset tracker that makes intake at-least-once.
 *
 * Both clients are driven from the libuv loop: librdkafka signals its
 * queues through a pipe (rd_kafka_queue_io_event_enable) and we poll them
 * there, so every callback below runs on the loop thread. librdkafka's own
 * log lines are routed to that thread as well (log.queue).
 *
 * Offsets: every record handed to on_record is tracked as pending; the
 * caller reports pv_kafka_done() once the job is durable and its reply or
 * dead letter acknowledged. Only the contiguous prefix of done records of a
 * partition is stored, so the committed offset never passes an unfinished
 * job. Done reports for a partition that was revoked meanwhile are dropped:
 * the partition's new owner sees those records again (and the job table
 * keeps them from running twice).
 *
 * @locality the loop thread, for every function.
 */
#ifndef PV_KAFKA_KAFKA_H
#define PV_KAFKA_KAFKA_H

#include "config/config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct pv_kafka_s pv_kafka_t;

typedef struct pv_header {
  char *name;
  char *value;      /**< NULL for a null header value */
  size_t value_len;
} pv_header_t;

/** A header to produce (borrowed strings). */
typedef struct pv_out_header {
  const char *name;
  const char *value;  /**< NULL for a null header value */
  size_t value_len;
} pv_out_header_t;

/** A consumed record, copied out of librdkafka (owned by whoever holds it). */
typedef struct pv_record {
  char *topic;
  int32_t partition;
  int64_t offset;
  char *key;          /**< NUL-terminated copy, NULL if the record has none */
  size_t key_len;
  char *value;        /**< NUL-terminated copy, NULL if none */
  size_t value_len;
  pv_header_t *headers; /**< every header of the record, in order */
  size_t n_headers;
  int64_t timestamp_ms;
  uint64_t generation; /**< of the partition assignment it came from */
  uint64_t track_seq;  /**< its place in that partition's offset tracker */
} pv_record_t;

void pv_record_destroy(pv_record_t *rec);
/** @returns the first header named name (case-sensitive), or NULL. */
const pv_header_t *pv_record_header(const pv_record_t *rec, const char *name);

typedef struct pv_kafka_handlers {
  /** A new record; ownership passes to the handler. */
  void (*on_record)(pv_record_t *rec, void *arg);
  /** Partitions were revoked or lost (after the handler, they are gone). */
  void (*on_revoke)(const char *topic, int32_t partition, void *arg);
  /** librdkafka reported a fatal error: the process should stop. */
  void (*on_fatal)(const char *reason, void *arg);
} pv_kafka_handlers_t;

pv_kafka_t *pv_kafka_new(uv_loop_t *loop, const pv_config_t *conf,
                         const pv_kafka_handlers_t *handlers, void *arg,
                         char *errstr, size_t errstr_size);

/** @brief Joins the group on conf's topics. */
int pv_kafka_subscribe(pv_kafka_t *kafka, char *errstr, size_t errstr_size);

/** @brief Reports a record finished (see the file comment). */
void pv_kafka_done(pv_kafka_t *kafka, const pv_record_t *rec);

/** @brief Pauses (true) or resumes every assigned partition (back-pressure). */
void pv_kafka_pause(pv_kafka_t *kafka, bool pause);
bool pv_kafka_paused(const pv_kafka_t *kafka);

/**
 * Why a record was not produced: pv_kafka_produce's return value and the
 * err of its callback. Only PV_KAFKA_ERETRY may succeed by producing the
 * same record to the same topic again.
 */
typedef enum pv_kafka_err {
  PV_KAFKA_OK = 0,
  PV_KAFKA_ERETRY = -1,  /**< broker down, queue full, timed out, ... */
  PV_KAFKA_ETOPIC = -2,  /**< the topic does not exist (auto-creation off)
                              or its name is invalid */
  PV_KAFKA_ERECORD = -3  /**< the record itself is refused: larger than
                              message.max.bytes (ours or the topic's), or
                              invalid for the topic */
} pv_kafka_err_t;

typedef void (*pv_produce_cb)(int err, const char *errstr, void *arg);

/**
 * @brief Produces a record through the idempotent producer. cb runs once
 * with err 0 after the broker acknowledged it, or with a pv_kafka_err_t
 * after librdkafka gave up (message.timeout.ms, or a permanent refusal).
 * Copies everything. value may be NULL (a record without a value).
 * @returns 0, or a pv_kafka_err_t with errstr (cb will not run).
 */
int pv_kafka_produce(pv_kafka_t *kafka, const char *topic, const void *key,
                     size_t key_len, const void *value, size_t value_len,
                     const pv_out_header_t *headers, size_t n_headers,
                     pv_produce_cb cb, void *arg, char *errstr,
                     size_t errstr_size);

/**
 * @brief Whether topic was found missing by a produce in the last minute
 * (the broker answered "unknown topic", as librdkafka's metadata cache
 * knows it; a later successful produce to it clears this). Never asks the
 * broker: for checking a job's reply topic at intake.
 * @param age_ms set to how long ago it was found missing; may be NULL.
 */
bool pv_kafka_topic_missing(pv_kafka_t *kafka, const char *topic,
                            int64_t *age_ms);

/** Health and metrics. */
typedef struct pv_kafka_stats {
  int assigned_partitions;
  bool paused;
  uint64_t records_in;
  uint64_t produced;
  uint64_t produce_errors;
  uint64_t pending_produce;
  int64_t pending_offsets;  /**< records consumed whose offset is not stored */
  bool brokers_down;
} pv_kafka_stats_t;

void pv_kafka_get_stats(const pv_kafka_t *kafka, pv_kafka_stats_t *out);

/** One assigned partition, for metrics (borrowed strings). */
typedef struct pv_kafka_partition {
  const char *topic;
  int32_t partition;
  int64_t high_watermark; /**< last known (cached from fetches), -1 unknown */
  int64_t position;       /**< where this worker would resume, -1 unknown */
  int64_t lag;            /**< high_watermark - position, -1 unknown */
  int64_t pending;        /**< records handed out and not yet done */
  bool paused;
} pv_kafka_partition_t;

typedef void (*pv_kafka_partition_fn)(const pv_kafka_partition_t *p,
                                      void *arg);

/** @brief Calls fn for every assigned partition. Non-blocking: uses
 *  librdkafka's cached watermarks and local positions only. */
void pv_kafka_each_partition(pv_kafka_t *kafka, pv_kafka_partition_fn fn,
                             void *arg);

/**
 * @brief Stores what is done, commits, leaves the group and flushes the
 * producer (up to flush_ms), then frees everything. Handles must still be
 * closed by running the loop afterwards.
 */
void pv_kafka_close(pv_kafka_t *kafka, int flush_ms);

#endif
