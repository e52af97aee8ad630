/* Document codecs: round trips, caps and error messages that name the byte. */
#include "jobs/job.h"

#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static json_t *roundtrip(const json_t *doc, pv_format_t fmt)
{
  char *bytes;
  size_t len;
  cr_assert_eq(pv_doc_encode(doc, fmt, &bytes, &len), 0);
  json_t *back = NULL;
  char errstr[256] = "";
  int rc = pv_doc_decode(bytes, len, fmt, &back, errstr, sizeof(errstr));
  free(bytes);
  cr_assert_eq(rc, 0, "decode failed: %s", errstr);
  return back;
}

static json_t *sample(void)
{
  return json_pack(
      "{s:i,s:s,s:I,s:I,s:f,s:b,s:n,s:[i,s,{s:[]}],s:{},s:s#}", "v", 1,
      "name", "ONU \xc3\xa9t\xc3\xa9", "big", (json_int_t)INT64_MAX, "small",
      (json_int_t)INT64_MIN, "ratio", 0.25, "flag", 1, "nothing", "list", -33,
      "x", "k", "empty", "nul", "a\0b", (int)3);
}

Test(codec, msgpack_roundtrip_keeps_every_type)
{
  json_t *doc = sample();
  json_t *back = roundtrip(doc, PV_FMT_MSGPACK);
  cr_assert(json_equal(doc, back));
  cr_assert(json_is_real(json_object_get(back, "ratio")), "floats stay floats");
  cr_assert_eq(json_integer_value(json_object_get(back, "big")), INT64_MAX);
  cr_assert_eq(json_string_length(json_object_get(back, "nul")), 3);
  json_decref(doc);
  json_decref(back);
}

Test(codec, json_roundtrip_keeps_every_type)
{
  json_t *doc = sample();
  json_t *back = roundtrip(doc, PV_FMT_JSON);
  cr_assert(json_equal(doc, back));
  json_decref(doc);
  json_decref(back);
}

Test(codec, msgpack_integer_widths)
{
  const json_int_t values[] = {0, 127, 128, 255, 256, 65535, 65536,
                               4294967295LL, 4294967296LL, -1, -32, -33,
                               -128, -129, -32768, -32769, -2147483648LL,
                               -2147483649LL};
  for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
    json_t *doc = json_integer(values[i]);
    json_t *back = roundtrip(doc, PV_FMT_MSGPACK);
    cr_assert_eq(json_integer_value(back), values[i], "value %lld",
                 (long long)values[i]);
    json_decref(doc);
    json_decref(back);
  }
}

static void expect_fail(const void *data, size_t len, pv_format_t fmt,
                        const char *needle)
{
  json_t *out = NULL;
  char errstr[256] = "";
  cr_assert_eq(pv_doc_decode(data, len, fmt, &out, errstr, sizeof(errstr)), -1,
               "decoding should fail (%s)", needle);
  cr_assert_null(out);
  cr_assert(strstr(errstr, needle), "error \"%s\" lacks \"%s\"", errstr, needle);
}

Test(codec, msgpack_uint64_beyond_int64_refused)
{
  const uint8_t b[] = {0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  expect_fail(b, sizeof(b), PV_FMT_MSGPACK, "beyond the int64 range");
  const uint8_t ok[] = {0xcf, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  json_t *out;
  char errstr[256];
  cr_assert_eq(pv_doc_decode(ok, sizeof(ok), PV_FMT_MSGPACK, &out, errstr,
                             sizeof(errstr)), 0);
  cr_assert_eq(json_integer_value(out), INT64_MAX);
  json_decref(out);
}

Test(codec, json_integer_beyond_int64_refused)
{
  const char *s = "{\"n\":9223372036854775808}";
  expect_fail(s, strlen(s), PV_FMT_JSON, "not valid JSON");
}

Test(codec, msgpack_bin_and_ext_refused)
{
  const uint8_t bin[] = {0x81, 0xa1, 'b', 0xc4, 0x02, 0x01, 0x02};
  expect_fail(bin, sizeof(bin), PV_FMT_MSGPACK, "at byte 3: binary data (bin)");
  const uint8_t ext[] = {0x91, 0xd4, 0x01, 0x00};
  expect_fail(ext, sizeof(ext), PV_FMT_MSGPACK, "at byte 1: extension types");
}

Test(codec, msgpack_non_string_key_refused)
{
  const uint8_t b[] = {0x81, 0x01, 0x02};
  expect_fail(b, sizeof(b), PV_FMT_MSGPACK, "at byte 1: map key is not a string");
}

Test(codec, msgpack_truncated_names_byte)
{
  /* fixmap 1, key "id", str8 claiming 16 bytes with 2 present. */
  const uint8_t b[] = {0x81, 0xa2, 'i', 'd', 0xd9, 0x10, 'a', 'b'};
  expect_fail(b, sizeof(b), PV_FMT_MSGPACK, "record is not valid msgpack at byte 6");
}

Test(codec, msgpack_never_used_byte)
{
  const uint8_t b[] = {0x92, 0x01, 0xc1};
  expect_fail(b, sizeof(b), PV_FMT_MSGPACK, "at byte 2: byte 0xc1");
}

Test(codec, msgpack_count_lies_refused_before_allocating)
{
  const uint8_t arr[] = {0xdd, 0xff, 0xff, 0xff, 0xff, 0x01};
  expect_fail(arr, sizeof(arr), PV_FMT_MSGPACK, "array of 4294967295 items");
  const uint8_t map[] = {0xdf, 0x7f, 0xff, 0xff, 0xff, 0x01};
  expect_fail(map, sizeof(map), PV_FMT_MSGPACK, "map of 2147483647 entries");
}

Test(codec, msgpack_trailing_bytes_and_duplicates)
{
  const uint8_t trail[] = {0x01, 0x02};
  expect_fail(trail, sizeof(trail), PV_FMT_MSGPACK, "1 trailing bytes");
  const uint8_t dup[] = {0x82, 0xa1, 'a', 0x01, 0xa1, 'a', 0x02};
  expect_fail(dup, sizeof(dup), PV_FMT_MSGPACK, "duplicate map key \"a\"");
  const char *jdup = "{\"a\":1,\"a\":2}";
  expect_fail(jdup, strlen(jdup), PV_FMT_JSON, "duplicate");
}

Test(codec, msgpack_invalid_utf8_refused)
{
  const uint8_t b[] = {0xa2, 0xc3, 0x28};
  expect_fail(b, sizeof(b), PV_FMT_MSGPACK, "not valid UTF-8");
}

Test(codec, non_finite_float_refused)
{
  const uint8_t nan[] = {0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0};
  expect_fail(nan, sizeof(nan), PV_FMT_MSGPACK, "not finite");
}

static void nested(uint8_t *buf, size_t depth, size_t *len)
{
  for (size_t i = 0; i < depth; i++)
    buf[i] = 0x91; /* fixarray of 1 */
  buf[depth] = 0x01;
  *len = depth + 1;
}

Test(codec, depth_cap)
{
  uint8_t buf[64];
  size_t len;
  json_t *out;
  char errstr[256];
  nested(buf, PV_DOC_MAX_DEPTH, &len);
  cr_assert_eq(pv_doc_decode(buf, len, PV_FMT_MSGPACK, &out, errstr,
                             sizeof(errstr)), 0, "%s", errstr);
  json_decref(out);
  nested(buf, PV_DOC_MAX_DEPTH + 1, &len);
  expect_fail(buf, len, PV_FMT_MSGPACK, "nested deeper than 32 levels");

  char js[128];
  size_t n = 0;
  for (int i = 0; i <= PV_DOC_MAX_DEPTH; i++)
    js[n++] = '[';
  js[n++] = '1';
  for (int i = 0; i <= PV_DOC_MAX_DEPTH; i++)
    js[n++] = ']';
  expect_fail(js, n, PV_FMT_JSON, "nested deeper than 32 levels");
}

Test(codec, size_cap)
{
  size_t len = PV_JOB_MAX_BYTES + 1;
  char *big = malloc(len);
  memset(big, ' ', len);
  big[0] = '1';
  expect_fail(big, len, PV_FMT_JSON, "record too large (1048577 bytes");
  expect_fail(big, len, PV_FMT_MSGPACK, "record too large");
  free(big);
  expect_fail("", 0, PV_FMT_JSON, "record is empty");
}

Test(codec, json_error_names_byte)
{
  const char *s = "{\"v\":1,\"id\":}";
  expect_fail(s, strlen(s), PV_FMT_JSON, "record is not valid JSON at byte 13");
}

Test(codec, content_types)
{
  cr_assert_eq(pv_format_from_content_type(NULL), PV_FMT_MSGPACK);
  cr_assert_eq(pv_format_from_content_type(""), PV_FMT_MSGPACK);
  cr_assert_eq(pv_format_from_content_type("application/msgpack"), PV_FMT_MSGPACK);
  cr_assert_eq(pv_format_from_content_type("application/x-msgpack"), PV_FMT_MSGPACK);
  cr_assert_eq(pv_format_from_content_type("Application/JSON; charset=utf-8"),
               PV_FMT_JSON);
  cr_assert_eq(pv_format_from_content_type("text/plain"), -1);
  cr_assert_eq(pv_format_from_content_type("application/jsonx"), -1);
  cr_assert_str_eq(pv_format_content_type(PV_FMT_JSON), "application/json");
  cr_assert_str_eq(pv_format_content_type(PV_FMT_MSGPACK), "application/msgpack");
}
