/* Helpers of the order definition tests: JSON written with single quotes
 * (readable in C), parse results and refusals. */
#ifndef PV_TESTS_JOBS_ORDER_TEST_UTIL_H
#define PV_TESTS_JOBS_ORDER_TEST_UTIL_H

#include "jobs/order_def.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

/* The text with every ' turned into " (no test string needs a real '). */
static inline char *ot_q(const char *s)
{
  char *t = strdup(s);
  for (char *p = t; *p; p++)
    if (*p == '\'')
      *p = '"';
  return t;
}

/* Parses single-quoted JSON as the file "t.json". */
static inline pv_order_def_t *ot_parse(const char *sq, char *err,
                                       size_t errsz)
{
  char *text = ot_q(sq);
  pv_order_def_t *def = pv_order_def_parse(text, strlen(text), "t.json", err,
                                           errsz);
  free(text);
  return def;
}

static inline pv_order_def_t *ot_must_parse(const char *sq)
{
  char err[1024];
  pv_order_def_t *def = ot_parse(sq, err, sizeof(err));
  cr_assert_not_null(def, "refused: %s", err);
  return def;
}

/* The definition is refused with exactly this message. */
#define ot_refused(sq, want)                                                  \
  do {                                                                        \
    char err_[1024];                                                          \
    pv_order_def_t *d_ = ot_parse((sq), err_, sizeof(err_));                  \
    cr_assert_null(d_, "accepted, expected: %s", (want));                     \
    cr_assert_str_eq(err_, (want));                                           \
  } while (0)

static inline json_t *ot_json(const char *sq)
{
  char *text = ot_q(sq);
  json_error_t je;
  json_t *v = json_loads(text, JSON_DECODE_ANY, &je);
  cr_assert_not_null(v, "bad test JSON %s: %s", text, je.text);
  free(text);
  return v;
}

#endif
