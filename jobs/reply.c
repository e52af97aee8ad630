#include "jobs/reply.h"

#include "common/error.h"

#include <stdlib.h>

/* Room left for what a cut reply adds or changes beyond its items: the
 * truncation markers, counts and the array framing. */
#define CUT_SLACK 64

/* doc with its result replaced by result (a new reference is taken) and
 * the markers of a cut reply. */
static json_t *cut_doc(json_t *doc, json_t *result, size_t full_len)
{
  json_t *d = json_copy(doc); /* shallow: values are shared */
  json_object_set(d, "result", result);
  json_object_set_new(d, "truncated", json_true());
  json_object_set_new(d, "reply_bytes", json_integer((json_int_t)full_len));
  return d;
}

/* The list result with its first k items. */
static json_t *first_items(json_t *result, size_t k)
{
  json_t *r = json_copy(result);
  json_t *all = json_object_get(result, "items");
  json_t *items = json_array();
  for (size_t i = 0; i < k; i++)
    json_array_append(items, json_array_get(all, i));
  json_object_set_new(r, "items", items);
  json_object_set_new(r, "count", json_integer((json_int_t)k));
  json_object_set_new(r, "truncated", json_true());
  return r;
}

static int encode_with(json_t *doc, json_t *result, size_t full_len,
                       pv_format_t fmt, char **out, size_t *len)
{
  json_t *d = cut_doc(doc, result, full_len);
  int rc = pv_doc_encode(d, fmt, out, len);
  json_decref(d);
  return rc;
}

/* How many leading items fit in max, by their encoded sizes: an estimate
 * the caller checks. */
static size_t items_that_fit(json_t *doc, json_t *result,
                             size_t full_len, pv_format_t fmt, size_t max)
{
  char *buf = NULL;
  size_t base = 0;
  json_t *none = first_items(result, 0);
  int rc = encode_with(doc, none, full_len, fmt, &buf, &base);
  json_decref(none);
  free(buf);
  if (rc < 0 || base + CUT_SLACK >= max)
    return 0;
  size_t room = max - base - CUT_SLACK, used = 0, k = 0;
  json_t *items = json_object_get(result, "items");
  for (; k < json_array_size(items); k++) {
    size_t n = 0;
    buf = NULL;
    rc = pv_doc_encode(json_array_get(items, k), fmt, &buf, &n);
    free(buf);
    if (rc < 0 || used + n + 1 > room) /* + 1: a separator */
      break;
    used += n + 1;
  }
  return k;
}

int pv_reply_encode_capped(json_t *doc, pv_format_t fmt, size_t max,
                           char **out, size_t *len, size_t *full_len)
{
  *full_len = 0;
  if (pv_doc_encode(doc, fmt, out, len) < 0)
    return -1;
  if (*len <= max)
    return 0;
  size_t full = *len;
  free(*out);
  *out = NULL;
  *full_len = full;
  json_t *result = json_object_get(doc, "result");
  if (json_is_array(json_object_get(result, "items"))) {
    size_t k = items_that_fit(doc, result, full, fmt, max);
    while (k > 0) {
      json_t *r = first_items(result, k);
      int rc = encode_with(doc, r, full, fmt, out, len);
      json_decref(r);
      if (rc == 0 && *len <= max)
        return 0;
      free(*out);
      *out = NULL;
      k = k >= 10 ? k - k / 10 : k - 1; /* the estimate was short */
    }
  }
  return encode_with(doc, json_null(), full, fmt, out, len);
}

int pv_reply_stub(const void *reply, size_t reply_len, pv_format_t fmt,
                  const char *id, const char *topic, const char *why,
                  char **out, size_t *len)
{
  json_t *orig = NULL;
  char err[64];
  if (!reply || pv_doc_decode(reply, reply_len, fmt, &orig, err,
                              sizeof(err)) < 0 || !json_is_object(orig)) {
    json_decref(orig);
    orig = json_pack("{s:i,s:s}", "v", 1, "id", id);
  }
  json_t *stub = json_object();
  static const char *const keep[] = {"v", "id", "tenant", "service", "op",
                                     "status", "attempts", "received_at",
                                     "finished_at", "duration_ms"};
  for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
    json_t *v = json_object_get(orig, keep[i]);
    if (v)
      json_object_set(stub, keep[i], v);
  }
  json_t *jerr = json_object_get(orig, "error");
  json_object_set_new(stub, "result", json_null());
  json_object_set(stub, "job_error", jerr ? jerr : json_null());
  json_object_set_new(
      stub, "error",
      json_pack("{s:s,s:s,s:n}", "class",
                pv_errclass_name(PV_ERR_REPLY_UNDELIVERABLE), "message",
                why ? why : "", "http_status"));
  json_object_set_new(stub, "reply_topic", json_string(topic));
  json_object_set_new(stub, "reply_bytes", json_integer((json_int_t)reply_len));
  json_decref(orig);
  int rc = pv_doc_encode(stub, fmt, out, len);
  json_decref(stub);
  return rc;
}
