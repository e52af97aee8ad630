/*
 * Bytes from outside where only text fits (common/bytes.c): the UTF-8
 * check PostgreSQL's text and jsonb columns need, the scrub for messages,
 * and the exact JSON form of keys and headers.
 */
#include "common/bytes.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

Test(bytes, utf8_text_accepts_text_refuses_what_postgres_refuses)
{
  cr_assert(pv_utf8_text("", 0));
  cr_assert(pv_utf8_text("ONU-12", 6));
  cr_assert(pv_utf8_text("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14));
  cr_assert_not(pv_utf8_text("a\0b", 3), "NUL: jsonb refuses it");
  cr_assert_not(pv_utf8_text("\xff", 1));
  cr_assert_not(pv_utf8_text("\xc3", 1), "cut sequence");
  cr_assert_not(pv_utf8_text("\xc0\xaf", 2), "overlong");
  cr_assert_not(pv_utf8_text("\xed\xa0\x80", 3), "surrogate");
  cr_assert_not(pv_utf8_text("\xf4\x90\x80\x80", 4), "past U+10FFFF");
}

Test(bytes, scrub_replaces_each_bad_byte_keeps_the_rest)
{
  char *s = pv_utf8_scrub("ok \xff\xfe caf\xc3\xa9 \xc3");
  cr_assert_str_eq(s, "ok ?? caf\xc3\xa9 ?");
  free(s);
}

static void round_trip(const void *p, size_t n, const char *want_json)
{
  json_t *v = pv_bytes_to_json(p, n);
  char *dump = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
  cr_assert_str_eq(dump, want_json);
  free(dump);
  size_t len = 99;
  char *back = pv_bytes_from_json(v, &len);
  cr_assert_not_null(back);
  cr_assert_eq(len, n);
  cr_assert_eq(memcmp(back, p, n), 0);
  cr_assert_eq(back[n], '\0');
  free(back);
  json_decref(v);
}

Test(bytes, json_form_is_text_when_it_can_be_exact_always)
{
  round_trip("serial-1", 8, "\"serial-1\"");
  round_trip("a\0b", 3, "{\"hex\":\"610062\"}");
  round_trip("\xff\x01", 2, "{\"hex\":\"ff01\"}");
  round_trip("", 0, "\"\"");
  size_t len = 7;
  json_t *bad = json_pack("{s:s}", "hex", "abc");
  cr_assert_null(pv_bytes_from_json(bad, &len), "odd hex");
  cr_assert_eq(len, 0);
  json_decref(bad);
  bad = json_integer(3);
  cr_assert_null(pv_bytes_from_json(bad, &len));
  json_decref(bad);
}

Test(bytes, hex_and_bytea_forms)
{
  char hex[9];
  pv_hex_write(hex, "\x00\xab\x10\xff", 4);
  cr_assert_str_eq(hex, "00ab10ff");
  size_t len = 9;
  char *b = pv_hex_decode("00AB10ff", 8, &len);
  cr_assert_not_null(b);
  cr_assert_eq(len, 4);
  cr_assert_eq(memcmp(b, "\x00\xab\x10\xff", 4), 0);
  free(b);
  cr_assert_null(pv_hex_decode("0g", 2, &len), "not a hex digit");
  cr_assert_null(pv_hex_decode("abc", 3, &len), "odd");
  b = pv_bytea_decode("\\x6b6b", &len);
  cr_assert_str_eq(b, "kk");
  cr_assert_eq(len, 2);
  free(b);
  b = pv_bytea_decode("\\x", &len);
  cr_assert_not_null(b, "empty bytea");
  cr_assert_eq(len, 0);
  free(b);
  cr_assert_null(pv_bytea_decode("6b6b", &len), "no \\x");
  cr_assert_null(pv_bytea_decode(NULL, &len));
}
