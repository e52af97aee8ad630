/**
 * @file job.h
 * @brief The job envelope (docs/messages.md) and the document codecs.
 *
 * Documents (args, results, replies) are held as jansson json_t trees in
 * memory whatever their wire format; msgpack and JSON are two encodings of
 * the same shape. Every size that comes from outside is capped here.
 */
#ifndef PV_JOBS_JOB_H
#define PV_JOBS_JOB_H

#include "common/error.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef enum pv_format { PV_FMT_MSGPACK = 0, PV_FMT_JSON } pv_format_t;

/** Caps on what a record may carry. */
#define PV_JOB_MAX_BYTES (1024 * 1024) /**< whole record value */
#define PV_JOB_ID_MAX 128
#define PV_JOB_TENANT_MAX 64
#define PV_JOB_NAME_MAX 64             /**< service, op */
#define PV_JOB_TOPIC_MAX 249           /**< Kafka's own topic name limit */
#define PV_DOC_MAX_DEPTH 32
/** Headers a job record may carry, not counting the replay lineage
 *  (x-replay*, at most PV_JOB_LINEAGE_HEADERS of them) that provctl adds. */
#define PV_JOB_MAX_HEADERS 128
#define PV_JOB_LINEAGE_HEADERS 8
/** Latest deadline accepted, in ms since the epoch: 9999-12-31T23:59:59.999Z.
 *  Past it a deadline is a bug, and PostgreSQL's timestamps end too. */
#define PV_JOB_DEADLINE_MAX INT64_C(253402300799999)
/** A replayed record's header giving the deadline the replay runs under
 *  (decimal ms since the epoch, 1..PV_JOB_DEADLINE_MAX), which replaces the
 *  job's (docs/messages.md). */
#define PV_JOB_REPLAY_DEADLINE_HEADER "x-replay-deadline"

typedef struct pv_job {
  int v;
  char *id;
  char *tenant;
  char *service;
  char *op;
  char *reply_to;      /**< NULL if absent */
  json_t *args;        /**< always an object (empty if absent); owned */
  int64_t deadline_ms; /**< wall ms since epoch, <= PV_JOB_DEADLINE_MAX;
                            0 if absent */
  int max_attempts;    /**< 0 if absent */
  pv_format_t format;  /**< the record's encoding; replies use the same */
} pv_job_t;

/** @returns the format named by a content-type header value (NULL = msgpack),
 *  or -1 if the value names neither format. */
int pv_format_from_content_type(const char *content_type);
const char *pv_format_content_type(pv_format_t fmt);

/**
 * @brief Decodes and checks the envelope (types, required fields, lengths,
 * v == 1). Does not look the op up in the catalog: see pv_job_validate().
 * @returns 0 and *out, or -1 with err (class invalid_job, message naming
 * the field and the problem).
 */
int pv_job_decode(const void *data, size_t len, pv_format_t fmt,
                  pv_job_t **out, pv_error_t *err);

/** What identification a record carried (owned strings, NULL if absent). */
typedef struct pv_job_ids {
  char *id, *tenant, *service, *op;
} pv_job_ids_t;

/**
 * @brief For a record pv_job_decode refused: the id, tenant, service and op
 * it carried, each kept only if it passes the checks pv_job_decode applies
 * to that field (a string, not empty, not too long, no control character),
 * so a refused value never reaches a row, a reply or a log line.
 */
void pv_job_salvage(const void *data, size_t len, pv_format_t fmt,
                    pv_job_ids_t *out);
void pv_job_ids_clear(pv_job_ids_t *ids);

/**
 * @brief Checks service, op and args against the catalog.
 * @returns 0, or -1 with err: unknown_op, or bad_args naming the argument.
 */
int pv_job_validate(const pv_job_t *job, pv_error_t *err);

void pv_job_destroy(pv_job_t *job);

/**
 * @brief Decodes a document (any JSON value; msgpack maps need string keys;
 * msgpack bin/ext are refused) with the size and depth caps above.
 * @returns 0 and *out (new reference), or -1 with errstr.
 */
int pv_doc_decode(const void *data, size_t len, pv_format_t fmt, json_t **out,
                  char *errstr, size_t errstr_size);

/**
 * @brief Encodes a document. @returns 0 and a malloc'd *out of *len bytes
 * (free() it), or -1 if the document cannot be encoded.
 */
int pv_doc_encode(const json_t *doc, pv_format_t fmt, char **out, size_t *len);

/** @returns the JSON kind of v for messages: "object", "array", "string",
 *  "integer", "real", "boolean" or "null". */
const char *pv_doc_kind(const json_t *v);

#endif
