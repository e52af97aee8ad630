/*
 * The job envelope (docs/messages.md): decoding with a precise error for
 * every field, and validation against the catalog.
 */
#include "jobs/job.h"

#include "common/alloc.h"
#include "jobs/catalog.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Fields that identify and route a job must be printable: they end up in
 * log lines, Kafka headers, PostgreSQL rows, NetBox descriptions and an
 * operator's terminal (provctl), where an escape sequence would act. So
 * every control character (Unicode Cc) is refused: C0, DEL and C1
 * (U+0080-U+009F, e.g. U+009B, a one-character ANSI CSI). The strings are
 * UTF-8 (the codecs check it), where C1 is 0xC2 0x80-0x9F.
 * @returns the offset of the first control character, or -1. */
static long control_char_at(const char *s, size_t len, unsigned *cp)
{
  const unsigned char *p = (const unsigned char *)s;
  for (size_t i = 0; i < len; i++) {
    if (p[i] < 0x20 || p[i] == 0x7f) {
      *cp = p[i];
      return (long)i;
    }
    if (p[i] == 0xc2 && i + 1 < len && p[i + 1] >= 0x80 && p[i + 1] <= 0x9f) {
      *cp = p[i + 1];
      return (long)i;
    }
  }
  return -1;
}

static int get_string(const json_t *doc, const char *name, bool required,
                      size_t max, char **out, pv_error_t *err)
{
  const json_t *v = json_object_get(doc, name);
  *out = NULL;
  if (!v || json_is_null(v)) {
    if (!required)
      return 0;
    pv_error_set(err, PV_ERR_INVALID_JOB, 0, "field \"%s\": missing", name);
    return -1;
  }
  if (!json_is_string(v)) {
    pv_error_set(err, PV_ERR_INVALID_JOB, 0,
                 "field \"%s\": expected string, got %s", name, pv_doc_kind(v));
    return -1;
  }
  const char *s = json_string_value(v);
  size_t len = json_string_length(v);
  if (len == 0) {
    pv_error_set(err, PV_ERR_INVALID_JOB, 0, "field \"%s\": empty", name);
    return -1;
  }
  if (len > max) {
    pv_error_set(err, PV_ERR_INVALID_JOB, 0,
                 "field \"%s\": too long (%zu bytes, at most %zu)", name, len,
                 max);
    return -1;
  }
  unsigned cp = 0;
  long at = control_char_at(s, len, &cp);
  if (at >= 0) {
    /* The value itself is not echoed: it is what must not reach a log
     * line or a terminal. */
    pv_error_set(err, PV_ERR_INVALID_JOB, 0,
                 "field \"%s\": contains a control character (U+%04X at "
                 "byte %ld)",
                 name, cp, at);
    return -1;
  }
  *out = pv_strdup(s);
  return 0;
}

static int get_int(const json_t *doc, const char *name, bool required,
                   int64_t min, int64_t max, int64_t *out, bool *present,
                   pv_error_t *err)
{
  const json_t *v = json_object_get(doc, name);
  *present = false;
  if (!v || json_is_null(v)) {
    if (!required)
      return 0;
    pv_error_set(err, PV_ERR_INVALID_JOB, 0, "field \"%s\": missing", name);
    return -1;
  }
  if (!json_is_integer(v)) {
    pv_error_set(err, PV_ERR_INVALID_JOB, 0,
                 "field \"%s\": expected integer, got %s", name,
                 pv_doc_kind(v));
    return -1;
  }
  json_int_t n = json_integer_value(v);
  if (n < min || n > max) {
    pv_error_set(err, PV_ERR_INVALID_JOB, 0,
                 "field \"%s\": %" JSON_INTEGER_FORMAT " out of range [%" PRId64
                 ", %" PRId64 "]",
                 name, n, min, max);
    return -1;
  }
  *out = n;
  *present = true;
  return 0;
}

/* Kafka topic names: [a-zA-Z0-9._-], at most 249 bytes. */
static bool valid_topic(const char *s)
{
  for (const char *p = s; *p; p++) {
    char c = *p;
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
      return false;
  }
  return strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

int pv_job_decode(const void *data, size_t len, pv_format_t fmt,
                  pv_job_t **out, pv_error_t *err)
{
  json_t *doc = NULL;
  pv_job_t *job = NULL;
  char errstr[PV_ERROR_MSG_MAX];
  int64_t n;
  bool present;

  *out = NULL;
  if (pv_doc_decode(data, len, fmt, &doc, errstr, sizeof(errstr)) < 0) {
    pv_error_set(err, PV_ERR_INVALID_JOB, 0, "%s", errstr);
    goto fail;
  }
  if (!json_is_object(doc)) {
    pv_error_set(err, PV_ERR_INVALID_JOB, 0, "record is not a map (got %s)",
                 pv_doc_kind(doc));
    goto fail;
  }

  job = pv_calloc(1, sizeof(*job));
  job->format = fmt;

  if (get_int(doc, "v", true, INT64_MIN, INT64_MAX, &n, &present, err) < 0)
    goto fail;
  if (n != 1) {
    pv_error_set(err, PV_ERR_INVALID_JOB, 0,
                 "field \"v\": unsupported version %" PRId64
                 " (this worker reads 1)",
                 n);
    goto fail;
  }
  job->v = 1;

  if (get_string(doc, "id", true, PV_JOB_ID_MAX, &job->id, err) < 0 ||
      get_string(doc, "tenant", true, PV_JOB_TENANT_MAX, &job->tenant, err) < 0 ||
      get_string(doc, "service", true, PV_JOB_NAME_MAX, &job->service, err) < 0 ||
      get_string(doc, "op", true, PV_JOB_NAME_MAX, &job->op, err) < 0 ||
      get_string(doc, "reply_to", false, PV_JOB_TOPIC_MAX, &job->reply_to,
                 err) < 0)
    goto fail;
  if (job->reply_to && !valid_topic(job->reply_to)) {
    pv_error_set(err, PV_ERR_INVALID_JOB, 0,
                 "field \"reply_to\": \"%.64s\" is not a valid topic name "
                 "(letters, digits, '.', '_', '-')",
                 job->reply_to);
    goto fail;
  }

  const json_t *args = json_object_get(doc, "args");
  if (!args || json_is_null(args)) {
    job->args = json_object();
  } else if (!json_is_object(args)) {
    pv_error_set(err, PV_ERR_INVALID_JOB, 0,
                 "field \"args\": expected map, got %s", pv_doc_kind(args));
    goto fail;
  } else {
    job->args = json_incref((json_t *)(uintptr_t)args);
  }

  if (get_int(doc, "deadline", false, 0, PV_JOB_DEADLINE_MAX, &n, &present,
              err) < 0)
    goto fail;
  job->deadline_ms = present ? n : 0;
  /* The worker caps max_attempts further with its own configuration. */
  if (get_int(doc, "max_attempts", false, 1, 1000, &n, &present, err) < 0)
    goto fail;
  job->max_attempts = present ? (int)n : 0;

  json_decref(doc);
  *out = job;
  return 0;

fail:
  pv_job_destroy(job);
  json_decref(doc);
  return -1;
}

void pv_job_salvage(const void *data, size_t len, pv_format_t fmt,
                    pv_job_ids_t *out)
{
  json_t *doc = NULL;
  char errstr[64];
  memset(out, 0, sizeof(*out));
  if (!data || pv_doc_decode(data, len, fmt, &doc, errstr, sizeof(errstr)) < 0)
    return;
  if (json_is_object(doc)) {
    /* The checks of pv_job_decode, field by field: what would have been
     * refused there is not kept here either. */
    pv_error_t ignored;
    struct { const char *name; size_t max; char **dst; } f[] = {
      {"id", PV_JOB_ID_MAX, &out->id},
      {"tenant", PV_JOB_TENANT_MAX, &out->tenant},
      {"service", PV_JOB_NAME_MAX, &out->service},
      {"op", PV_JOB_NAME_MAX, &out->op},
    };
    for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
      if (get_string(doc, f[i].name, true, f[i].max, f[i].dst, &ignored) < 0)
        *f[i].dst = NULL;
  }
  json_decref(doc);
}

void pv_job_ids_clear(pv_job_ids_t *ids)
{
  free(ids->id);
  free(ids->tenant);
  free(ids->service);
  free(ids->op);
  memset(ids, 0, sizeof(*ids));
}

int pv_job_validate(const pv_job_t *job, pv_error_t *err)
{
  if (!pv_catalog_has_service(job->service)) {
    pv_error_set(err, PV_ERR_UNKNOWN_OP, 0,
                 "unknown service \"%.64s\" (expected voltha, genieacs or "
                 "netbox)",
                 job->service);
    return -1;
  }
  const pv_op_t *op = pv_catalog_find(job->service, job->op);
  if (!op) {
    pv_error_set(err, PV_ERR_UNKNOWN_OP, 0,
                 "unknown op \"%.64s\" for service \"%s\"", job->op,
                 job->service);
    return -1;
  }
  return pv_catalog_check_args(op, job->args, err);
}

void pv_job_destroy(pv_job_t *job)
{
  if (!job)
    return;
  free(job->id);
  free(job->tenant);
  free(job->service);
  free(job->op);
  free(job->reply_to);
  json_decref(job->args);
  free(job);
}
