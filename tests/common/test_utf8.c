/* common/utf8.c and the UTF-8-safe cut of pv_error_set(). */
#include "common/error.h"
#include "common/utf8.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <string.h>

static size_t seq(const char *s)
{
  return pv_utf8_seq((const unsigned char *)s, strlen(s));
}

Test(utf8, sequences_are_well_formed_or_refused)
{
  cr_assert_eq(seq("a"), 1);
  cr_assert_eq(seq("\xc3\xa9"), 2);
  cr_assert_eq(seq("\xe2\x82\xac"), 3);
  cr_assert_eq(seq("\xf0\x9f\x98\x80"), 4);
  cr_assert_eq(seq("\xc3"), 0, "truncated");
  cr_assert_eq(seq("\xc0\xaf"), 0, "overlong");
  cr_assert_eq(seq("\xe0\x80\xaf"), 0, "overlong");
  cr_assert_eq(seq("\xed\xa0\x80"), 0, "surrogate");
  cr_assert_eq(seq("\xf4\x90\x80\x80"), 0, "past U+10FFFF");
  cr_assert_eq(seq("\x95"), 0, "continuation byte alone");
  cr_assert_eq(seq("\xff"), 0);
}

Test(utf8, cut_never_splits_a_character)
{
  const char *s = "ab\xe2\x82\xac"; /* "ab€" */
  cr_assert_eq(pv_utf8_cut(s, 5), 5);
  cr_assert_eq(pv_utf8_cut(s, 4), 2);
  cr_assert_eq(pv_utf8_cut(s, 3), 2);
  cr_assert_eq(pv_utf8_cut(s, 2), 2);
  cr_assert_eq(pv_utf8_cut("\xf0\x9f\x98\x80", 3), 0);
  cr_assert_eq(pv_utf8_cut("\x95\x95\x95\x95", 4), 4,
               "not UTF-8 to begin with: left alone");
}

Test(utf8, a_cut_error_message_stays_utf8)
{
  char text[400];
  size_t n = 0;
  while (n + 2 < sizeof(text)) {
    text[n++] = '\xc3';
    text[n++] = '\xa9';
  }
  text[n] = '\0';
  /* 255 bytes fit: an odd count, so a plain cut would split an é. */
  for (int lead = 0; lead < 2; lead++) {
    pv_error_t err;
    pv_error_set(&err, PV_ERR_HTTP_4XX, 404, "%s%s", lead ? "x" : "", text);
    size_t len = strlen(err.message);
    cr_assert(len >= sizeof(err.message) - 4 && len < sizeof(err.message));
    json_t *j = json_string(err.message);
    cr_assert_not_null(j, "message is not UTF-8 after the cut");
    json_decref(j);
  }
}

Test(utf8, an_error_message_is_one_printable_line)
{
  pv_error_t err;
  pv_error_set(&err, PV_ERR_BAD_ARGS, 0, "unknown argument \"%s\"",
               "a\nb\x7f\x01" "c\xff" "d\xc3");
  cr_assert_str_eq(err.message, "unknown argument \"a b  c?d?\"");
  /* "%.2s" splits the é: the half left becomes '?'. */
  pv_error_set(&err, PV_ERR_BAD_ARGS, 0, "%.2s|", "x\xc3\xa9");
  cr_assert_str_eq(err.message, "x?|");
}
