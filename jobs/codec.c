/*
 * Document codecs: msgpack and JSON to and from jansson trees.
 *
 * msgpack is decoded by a small reader of our own rather than
 * msgpack_unpack_next(): that one reports no byte offset for errors, and
 * it trusts the element counts in headers (a 5-byte array32 header can ask
 * for 2^32 slots). Here every count is checked against the bytes left, the
 * depth is capped, and an error names the byte where it was found.
 * Encoding uses msgpack-c's packer, which picks the shortest form.
 */
#include "jobs/job.h"

#include "common/alloc.h"

#include <inttypes.h>
#include <math.h>
#include <msgpack.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *pv_doc_kind(const json_t *v)
{
  if (!v)
    return "nothing";
  switch (json_typeof(v)) {
  case JSON_OBJECT: return "object";
  case JSON_ARRAY: return "array";
  case JSON_STRING: return "string";
  case JSON_INTEGER: return "integer";
  case JSON_REAL: return "real";
  case JSON_TRUE:
  case JSON_FALSE: return "boolean";
  case JSON_NULL: return "null";
  }
  return "unknown";
}

int pv_format_from_content_type(const char *content_type)
{
  if (!content_type || !*content_type)
    return PV_FMT_MSGPACK;
  /* Media type only: parameters such as "; charset=utf-8" do not matter. */
  size_t len = strcspn(content_type, ";");
  while (len > 0 && (content_type[len - 1] == ' ' || content_type[len - 1] == '\t'))
    len--;
  while (len > 0 && (*content_type == ' ' || *content_type == '\t')) {
    content_type++;
    len--;
  }
  static const struct {
    const char *name;
    pv_format_t fmt;
  } types[] = {
    {"application/msgpack", PV_FMT_MSGPACK},
    {"application/x-msgpack", PV_FMT_MSGPACK},
    {"application/vnd.msgpack", PV_FMT_MSGPACK},
    {"application/json", PV_FMT_JSON},
  };
  for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
    if (strlen(types[i].name) == len &&
        strncasecmp(types[i].name, content_type, len) == 0)
      return (int)types[i].fmt;
  return -1;
}

const char *pv_format_content_type(pv_format_t fmt)
{
  return fmt == PV_FMT_JSON ? "application/json" : "application/msgpack";
}

/* ---- msgpack reader ----------------------------------------------------- */

typedef struct mp_reader {
  const uint8_t *p;
  size_t len;
  size_t off;
  char *errstr;
  size_t errsize;
  bool failed;
} mp_reader_t;

static void mp_fail(mp_reader_t *r, size_t at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void mp_fail(mp_reader_t *r, size_t at, const char *fmt, ...)
{
  if (r->failed)
    return;
  r->failed = true;
  char what[160];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof(what), fmt, ap);
  va_end(ap);
  snprintf(r->errstr, r->errsize, "record is not valid msgpack at byte %zu: %s",
           at, what);
}

static bool mp_need(mp_reader_t *r, size_t n)
{
  if (r->len - r->off < n) {
    mp_fail(r, r->off, "truncated (needs %zu more bytes, %zu left)", n,
            r->len - r->off);
    return false;
  }
  return true;
}

static uint64_t mp_be(mp_reader_t *r, size_t n)
{
  uint64_t v = 0;
  for (size_t i = 0; i < n; i++)
    v = (v << 8) | r->p[r->off + i];
  r->off += n;
  return v;
}

/* Reads an n-byte big-endian length or count; false on truncation. */
static bool mp_size(mp_reader_t *r, size_t n, uint64_t *out)
{
  if (!mp_need(r, n))
    return false;
  *out = mp_be(r, n);
  return true;
}

static json_t *mp_value(mp_reader_t *r, int depth);

static json_t *mp_str(mp_reader_t *r, size_t at, uint64_t n)
{
  if (!mp_need(r, (size_t)(n > SIZE_MAX ? SIZE_MAX : n)))
    return NULL;
  json_t *s = json_stringn((const char *)r->p + r->off, (size_t)n);
  if (!s) {
    mp_fail(r, at, "string is not valid UTF-8");
    return NULL;
  }
  r->off += (size_t)n;
  return s;
}

static json_t *mp_array(mp_reader_t *r, size_t at, uint64_t n, int depth)
{
  /* Every element takes at least one byte: a count beyond what is left is
   * a lie, refused before anything is allocated for it. */
  if (n > r->len - r->off) {
    mp_fail(r, at, "array of %" PRIu64 " items but only %zu bytes left", n,
            r->len - r->off);
    return NULL;
  }
  json_t *arr = json_array();
  for (uint64_t i = 0; i < n; i++) {
    json_t *v = mp_value(r, depth + 1);
    if (!v) {
      json_decref(arr);
      return NULL;
    }
    json_array_append_new(arr, v);
  }
  return arr;
}

static json_t *mp_map(mp_reader_t *r, size_t at, uint64_t n, int depth)
{
  if (n > (r->len - r->off) / 2) {
    mp_fail(r, at, "map of %" PRIu64 " entries but only %zu bytes left", n,
            r->len - r->off);
    return NULL;
  }
  json_t *obj = json_object();
  for (uint64_t i = 0; i < n; i++) {
    size_t kat = r->off;
    if (!mp_need(r, 1))
      goto fail;
    uint8_t b = r->p[r->off];
    uint64_t klen;
    if (b >= 0xa0 && b <= 0xbf) {
      r->off++;
      klen = b & 0x1f;
    } else if (b >= 0xd9 && b <= 0xdb) {
      r->off++;
      if (!mp_size(r, (size_t)1 << (b - 0xd9), &klen))
        goto fail;
    } else {
      mp_fail(r, kat, "map key is not a string");
      goto fail;
    }
    json_t *key = mp_str(r, kat, klen);
    if (!key)
      goto fail;
    const char *k = json_string_value(key);
    if (strlen(k) != json_string_length(key)) {
      json_decref(key);
      mp_fail(r, kat, "map key contains a NUL byte");
      goto fail;
    }
    if (json_object_get(obj, k)) {
      mp_fail(r, kat, "duplicate map key \"%.64s\"", k);
      json_decref(key);
      goto fail;
    }
    json_t *v = mp_value(r, depth + 1);
    if (!v) {
      json_decref(key);
      goto fail;
    }
    json_object_set_new(obj, k, v);
    json_decref(key);
  }
  return obj;
fail:
  json_decref(obj);
  return NULL;
}

static json_t *mp_real(mp_reader_t *r, size_t at, double d)
{
  json_t *v = json_real(d);
  if (!v)
    mp_fail(r, at, "float is not finite");
  return v;
}

static json_t *mp_value(mp_reader_t *r, int depth)
{
  size_t at = r->off;
  if (depth > PV_DOC_MAX_DEPTH) {
    mp_fail(r, at, "nested deeper than %d levels", PV_DOC_MAX_DEPTH);
    return NULL;
  }
  if (!mp_need(r, 1))
    return NULL;
  uint8_t b = r->p[r->off++];
  uint64_t n;

  if (b <= 0x7f)
    return json_integer(b);
  if (b >= 0xe0)
    return json_integer((int8_t)b);
  if (b >= 0x80 && b <= 0x8f)
    return mp_map(r, at, b & 0x0f, depth);
  if (b >= 0x90 && b <= 0x9f)
    return mp_array(r, at, b & 0x0f, depth);
  if (b >= 0xa0 && b <= 0xbf)
    return mp_str(r, at, b & 0x1f);

  switch (b) {
  case 0xc0: return json_null();
  case 0xc2: return json_false();
  case 0xc3: return json_true();
  case 0xc4: case 0xc5: case 0xc6:
    mp_fail(r, at, "binary data (bin) is not accepted: send a string");
    return NULL;
  case 0xc7: case 0xc8: case 0xc9:
  case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8:
    mp_fail(r, at, "extension types (ext) are not accepted");
    return NULL;
  case 0xca: {
    if (!mp_need(r, 4))
      return NULL;
    uint32_t bits = (uint32_t)mp_be(r, 4);
    float f;
    memcpy(&f, &bits, sizeof(f));
    return mp_real(r, at, (double)f);
  }
  case 0xcb: {
    if (!mp_need(r, 8))
      return NULL;
    uint64_t bits = mp_be(r, 8);
    double d;
    memcpy(&d, &bits, sizeof(d));
    return mp_real(r, at, d);
  }
  case 0xcc: case 0xcd: case 0xce: case 0xcf: {
    if (!mp_size(r, (size_t)1 << (b - 0xcc), &n))
      return NULL;
    if (n > (uint64_t)INT64_MAX) {
      mp_fail(r, at, "integer %" PRIu64 " is beyond the int64 range", n);
      return NULL;
    }
    return json_integer((json_int_t)n);
  }
  case 0xd0: case 0xd1: case 0xd2: case 0xd3: {
    size_t w = (size_t)1 << (b - 0xd0);
    if (!mp_size(r, w, &n))
      return NULL;
    /* Sign-extend from w bytes. */
    int64_t v;
    if (w == 8) {
      memcpy(&v, &n, sizeof(v));
    } else {
      uint64_t sign = (uint64_t)1 << (w * 8 - 1);
      v = (int64_t)(n ^ sign) - (int64_t)sign;
    }
    return json_integer((json_int_t)v);
  }
  case 0xd9: case 0xda: case 0xdb:
    if (!mp_size(r, (size_t)1 << (b - 0xd9), &n))
      return NULL;
    return mp_str(r, at, n);
  case 0xdc: case 0xdd:
    if (!mp_size(r, b == 0xdc ? 2 : 4, &n))
      return NULL;
    return mp_array(r, at, n, depth);
  case 0xde: case 0xdf:
    if (!mp_size(r, b == 0xde ? 2 : 4, &n))
      return NULL;
    return mp_map(r, at, n, depth);
  default:
    mp_fail(r, at, "byte 0x%02x is not a msgpack type", b);
    return NULL;
  }
}

/* ---- JSON depth check --------------------------------------------------- */

static bool json_depth_ok(const json_t *v, int depth)
{
  if (depth > PV_DOC_MAX_DEPTH)
    return false;
  if (json_is_object(v)) {
    const char *k;
    const json_t *e;
    json_object_foreach((json_t *)(uintptr_t)v, k, e) {
      if (!json_depth_ok(e, depth + 1))
        return false;
    }
  } else if (json_is_array(v)) {
    size_t i;
    const json_t *e;
    json_array_foreach(v, i, e) {
      if (!json_depth_ok(e, depth + 1))
        return false;
    }
  }
  return true;
}

int pv_doc_decode(const void *data, size_t len, pv_format_t fmt, json_t **out,
                  char *errstr, size_t errstr_size)
{
  *out = NULL;
  if (len > PV_JOB_MAX_BYTES) {
    snprintf(errstr, errstr_size, "record too large (%zu bytes, at most %d)",
             len, PV_JOB_MAX_BYTES);
    return -1;
  }
  if (len == 0) {
    snprintf(errstr, errstr_size, "record is empty");
    return -1;
  }

  if (fmt == PV_FMT_MSGPACK) {
    mp_reader_t r = {.p = data, .len = len, .errstr = errstr,
                     .errsize = errstr_size};
    json_t *doc = mp_value(&r, 0);
    if (!doc) {
      if (!r.failed)
        mp_fail(&r, r.off, "could not decode");
      return -1;
    }
    if (r.off != len) {
      mp_fail(&r, r.off, "%zu trailing bytes after the value", len - r.off);
      json_decref(doc);
      return -1;
    }
    *out = doc;
    return 0;
  }

  json_error_t jerr;
  /* Duplicate keys are refused: {"tenant":"a","tenant":"b"} would mean
   * different things to different readers. \u0000 is let through as
   * msgpack lets NUL through: validation refuses it where it matters. */
  json_t *doc = json_loadb(
      data, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL,
      &jerr);
  if (!doc) {
    snprintf(errstr, errstr_size, "record is not valid JSON at byte %d: %s",
             jerr.position, jerr.text);
    return -1;
  }
  if (!json_depth_ok(doc, 0)) {
    snprintf(errstr, errstr_size, "record is nested deeper than %d levels",
             PV_DOC_MAX_DEPTH);
    json_decref(doc);
    return -1;
  }
  *out = doc;
  return 0;
}

/* ---- encoding ----------------------------------------------------------- */

/* Southbound answers (GenieACS parameter trees) nest deeper than job
 * records may; this only guards against runaway recursion. */
#define ENCODE_MAX_DEPTH 256

static int mp_pack(msgpack_packer *pk, const json_t *v, int depth)
{
  if (depth > ENCODE_MAX_DEPTH)
    return -1;
  switch (json_typeof(v)) {
  case JSON_OBJECT: {
    if (msgpack_pack_map(pk, json_object_size(v)) != 0)
      return -1;
    const char *k;
    const json_t *e;
    json_object_foreach((json_t *)(uintptr_t)v, k, e) {
      size_t kl = strlen(k);
      if (msgpack_pack_str(pk, kl) != 0 || msgpack_pack_str_body(pk, k, kl) != 0)
        return -1;
      if (mp_pack(pk, e, depth + 1) < 0)
        return -1;
    }
    return 0;
  }
  case JSON_ARRAY: {
    if (msgpack_pack_array(pk, json_array_size(v)) != 0)
      return -1;
    size_t i;
    const json_t *e;
    json_array_foreach(v, i, e) {
      if (mp_pack(pk, e, depth + 1) < 0)
        return -1;
    }
    return 0;
  }
  case JSON_STRING: {
    size_t sl = json_string_length(v);
    if (msgpack_pack_str(pk, sl) != 0 ||
        msgpack_pack_str_body(pk, json_string_value(v), sl) != 0)
      return -1;
    return 0;
  }
  case JSON_INTEGER:
    return msgpack_pack_int64(pk, json_integer_value(v)) == 0 ? 0 : -1;
  case JSON_REAL:
    return msgpack_pack_double(pk, json_real_value(v)) == 0 ? 0 : -1;
  case JSON_TRUE:
    return msgpack_pack_true(pk) == 0 ? 0 : -1;
  case JSON_FALSE:
    return msgpack_pack_false(pk) == 0 ? 0 : -1;
  case JSON_NULL:
    return msgpack_pack_nil(pk) == 0 ? 0 : -1;
  }
  return -1;
}

int pv_doc_encode(const json_t *doc, pv_format_t fmt, char **out, size_t *len)
{
  *out = NULL;
  *len = 0;
  if (!doc)
    return -1;

  if (fmt == PV_FMT_JSON) {
    char *s = json_dumps(doc, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!s)
      return -1;
    *len = strlen(s);
    /* json_dumps allocates with jansson's allocator (malloc by default);
     * copy so callers can always free() the result. */
    *out = pv_strndup(s, *len);
    free(s);
    return 0;
  }

  msgpack_sbuffer sbuf;
  msgpack_sbuffer_init(&sbuf);
  msgpack_packer pk;
  msgpack_packer_init(&pk, &sbuf, msgpack_sbuffer_write);
  if (mp_pack(&pk, doc, 0) < 0) {
    msgpack_sbuffer_destroy(&sbuf);
    return -1;
  }
  *len = sbuf.size;
  *out = pv_malloc(sbuf.size ? sbuf.size : 1);
  if (sbuf.size)
    memcpy(*out, sbuf.data, sbuf.size);
  msgpack_sbuffer_destroy(&sbuf);
  return 0;
}
