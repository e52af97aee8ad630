/* jobs/trace.c: the traceparent check of W3C Trace Context level 1. */
#include "jobs/trace.h"

#include <criterion/criterion.h>
#include <string.h>

static bool ok(const char *s)
{
  return pv_traceparent_valid(s, strlen(s), NULL);
}

Test(trace, accepts_valid_traceparents)
{
  cr_assert(ok("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
  cr_assert(ok("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"));
  /* a later version may add fields after a '-' */
  cr_assert(ok("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
  cr_assert(ok("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-09-xyz"));
}

Test(trace, refuses_what_the_spec_refuses_and_says_why)
{
  const char *bad[] = {
    "",
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0",   /* 54 */
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0 ",  /* space */
    "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",  /* upper */
    "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
    "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
    "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",  /* 00: 55 */
    "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",
    "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-\x1b[31m",
    "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-zz",
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    const char *why = NULL;
    cr_assert(!pv_traceparent_valid(bad[i], strlen(bad[i]), &why),
              "accepted \"%s\"", bad[i]);
    cr_assert_not_null(why, "no reason for \"%s\"", bad[i]);
  }
  /* a NUL inside the 55 bytes */
  char nul[] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  nul[10] = '\0';
  cr_assert(!pv_traceparent_valid(nul, 55, NULL));
  /* over the forwarding cap */
  char longer[300];
  memset(longer, 'a', sizeof(longer));
  memcpy(longer, "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-", 56);
  cr_assert(!pv_traceparent_valid(longer, sizeof(longer), NULL));
  cr_assert(pv_traceparent_valid(longer, 256, NULL));
}
