/* Strict base64: what a binary job argument must look like. */
#include "common/base64.h"

#include <criterion/criterion.h>
#include <string.h>

static long dec(const char *in, unsigned char *out)
{
  return pv_base64_decode(in, strlen(in), out);
}

Test(base64, rfc4648_vectors)
{
  static const char *const vec[][2] = {
    {"", ""},          {"Zg==", "f"},         {"Zm8=", "fo"},
    {"Zm9v", "foo"},   {"Zm9vYg==", "foob"},  {"Zm9vYmE=", "fooba"},
    {"Zm9vYmFy", "foobar"},
  };
  for (size_t i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
    unsigned char out[16] = {0};
    long n = dec(vec[i][0], out);
    cr_assert_eq(n, (long)strlen(vec[i][1]), "%s", vec[i][0]);
    cr_assert_eq(memcmp(out, vec[i][1], (size_t)n), 0, "%s", vec[i][0]);
    cr_assert_eq(dec(vec[i][0], NULL), n, "check-only gives the length");
  }
  unsigned char out[4];
  cr_assert_eq(dec("//8=", out), 2);
  cr_assert_eq(out[0], 0xff);
  cr_assert_eq(out[1], 0xff);
  cr_assert_leq((size_t)6, pv_base64_decoded_max(8));
}

Test(base64, lax_forms_are_refused)
{
  static const char *const bad[] = {
    "Zg",       /* no padding */
    "Zg=",      /* short */
    "Zh==",     /* bits after the last symbol */
    "Zm9=",     /* same, one pad */
    "Z===",     /* too much padding */
    "Zg==Zg==", /* padding in the middle */
    "Zm9v\n",   /* line break */
    "Zm 9",     /* blank */
    "Zm9-",     /* URL-safe alphabet */
    "=Zm9",     /* padding first */
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    cr_assert_eq(dec(bad[i], NULL), -1, "accepted \"%s\"", bad[i]);
}
