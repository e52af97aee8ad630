/**
 * @file reply.h
 * @brief Reply documents that fit in a Kafka record: the cap on what a
 * reply carries, and the small stub that stands in for a reply the broker
 * refused for good (docs/messages.md, "Replies Kafka cannot take").
 *
 * @locality any thread (pure).
 */
#ifndef PV_JOBS_REPLY_H
#define PV_JOBS_REPLY_H

#include "jobs/job.h"

#include <jansson.h>
#include <stddef.h>

/**
 * @brief Encodes a reply document in fmt, in at most max bytes when it can.
 * A larger reply is cut: a result of the list shape ({"items": [...]})
 * keeps its first items while they fit, with "count" the items kept and
 * "truncated": true; any other result is left out (null). The cut reply
 * says "truncated": true and "reply_bytes" (the size it would have had).
 * doc is not changed (the result it holds may be shared): jansson's
 * copy functions just do not take const.
 * @param full_len set to the uncut size when the reply was cut, else 0.
 * @returns 0 and a malloc'd *out of *len bytes, or -1 if doc cannot be
 * encoded.
 */
int pv_reply_encode_capped(json_t *doc, pv_format_t fmt, size_t max,
                           char **out, size_t *len, size_t *full_len);

/**
 * @brief The stub sent instead of a reply Kafka refused for good: the
 * reply's envelope (v, id, tenant, service, op, status, attempts, times)
 * with "result": null, "error": {"class": "reply_undeliverable", "message":
 * why, "http_status": null}, "job_error": the reply's own error (or null),
 * "reply_topic": the topic that refused it, "reply_bytes": its size.
 * @param reply the refused reply (fmt); if it cannot be decoded the stub
 * carries id and the rest only.
 * @returns 0 and a malloc'd *out of *len bytes, or -1.
 */
int pv_reply_stub(const void *reply, size_t reply_len, pv_format_t fmt,
                  const char *id, const char *topic, const char *why,
                  char **out, size_t *len);

#endif
