/**
 * @file sync.h
 * @brief Blocking Kafka clients for provctl and the tests, used the way a
 * BSS or an operator would: create topics, produce jobs with headers,
 * consume replies and dead letters, read a group's committed offsets.
 * The daemon uses kafka.h (event-driven) instead; both wrap librdkafka
 * and nothing else does.
 */
#ifndef PV_KAFKA_SYNC_H
#define PV_KAFKA_SYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** @brief Creates topics with partitions each; existing ones are fine.
 *  A broker without the admin API (librdkafka's mock cluster) creates them
 *  with its own default partition count instead: ask pv_ksync_partitions().
 *  @returns 0, or -1 (message on stderr). */
int pv_ksync_create_topics(const char *brokers, const char *const *topics,
                        size_t n, int partitions);

/** @brief The same with topic configs ("name", "value" pairs, NULL-
 *  terminated; e.g. "max.message.bytes", "10000"), ignored by a broker
 *  without the admin API. */
int pv_ksync_create_topics_with(const char *brokers,
                                const char *const *topics, size_t n,
                                int partitions, const char *const *configs);

/** @returns the topic's partition count, or -1. */
int pv_ksync_partitions(const char *brokers, const char *topic);

typedef struct pv_ksync_producer pv_ksync_producer_t;

pv_ksync_producer_t *pv_ksync_producer_new(const char *brokers);
/** @brief headers: "name", "value" pairs, NULL-terminated (may be NULL).
 *  key may be NULL. @returns 0 once the broker acknowledged it. */
int pv_ksync_produce(pv_ksync_producer_t *p, const char *topic, const char *key,
                  const void *value, size_t len, const char *const *headers);
void pv_ksync_producer_destroy(pv_ksync_producer_t *p);

typedef struct pv_ksync_msg {
  char *key;           /**< NUL-terminated copy or NULL */
  char *value;         /**< NUL-terminated copy or NULL */
  size_t len;
  int32_t partition;
  int64_t offset;
  char **hnames;       /**< headers */
  char **hvalues;
  size_t n_headers;
  size_t key_len;      /**< exact key length (the key may hold NUL bytes) */
  size_t *hlens;       /**< exact header value lengths (0 for NULL) */
} pv_ksync_msg_t;

/** @returns the header's value, or NULL. */
const char *pv_ksync_msg_header(const pv_ksync_msg_t *m, const char *name);
void pv_ksync_msg_destroy(pv_ksync_msg_t *m);

typedef struct pv_ksync_consumer pv_ksync_consumer_t;

/** @brief A consumer in its own new group, from the earliest offset. */
pv_ksync_consumer_t *pv_ksync_consumer_new(const char *brokers, const char *topic);

/**
 * @brief A consumer without a group that reads every partition of topic
 * from its current end: what is produced after this returns. For waiting
 * on a reply to a job about to be sent. NULL if the topic is unknown.
 */
pv_ksync_consumer_t *pv_ksync_consumer_at_end(const char *brokers,
                                              const char *topic);
/** @returns the next message, or NULL after timeout_ms without one. */
pv_ksync_msg_t *pv_ksync_consume(pv_ksync_consumer_t *c, int timeout_ms);
void pv_ksync_consumer_destroy(pv_ksync_consumer_t *c);

/**
 * @brief The offsets group has committed on topic's partitions (0..n-1),
 * written to offsets[] (-1 where none). @returns 0 or -1.
 */
int pv_ksync_committed(const char *brokers, const char *group, const char *topic,
                    int partitions, int64_t *offsets);

/* ---- exact records (provctl dlq replay) ---------------------------- */

/** A header with an exact value (may be binary; value NULL = no value). */
typedef struct pv_ksync_header {
  const char *name;
  const void *value;
  size_t len;
} pv_ksync_header_t;

/**
 * @brief Produces key and value byte for byte with headers, and waits up
 * to timeout_ms for the broker's acknowledgement of this record.
 * @returns 0 once acknowledged, or -1 with the reason in err.
 */
int pv_ksync_produce_raw(pv_ksync_producer_t *p, const char *topic,
                         const void *key, size_t key_len, const void *value,
                         size_t len, const pv_ksync_header_t *headers,
                         size_t n_headers, int timeout_ms, char *err,
                         size_t errsz);

/** @brief Asks brokers for cluster metadata within timeout_ms.
 *  @returns 0 if a broker answered, or -1 with the reason in err. */
int pv_ksync_ping(const char *brokers, int timeout_ms, char *err,
                  size_t errsz);

/**
 * @brief A consumer without a group over every partition of topic, from
 * the first offset to the end offsets as of this call (records produced
 * later are not waited for). NULL (reason in err) if the topic is unknown
 * or the broker does not answer.
 */
pv_ksync_consumer_t *pv_ksync_consumer_snapshot(const char *brokers,
                                                const char *topic, char *err,
                                                size_t errsz);
/** @returns true when a snapshot consumer has read up to its end offsets
 *  (always false for other consumers). */
bool pv_ksync_consumer_drained(pv_ksync_consumer_t *c);

#endif
