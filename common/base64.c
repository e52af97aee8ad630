/*
 * Base64 on libsodium's codec (constant-time, checks the bits after the
 * last symbol). Decoding is strict: a job carries a file's bytes as text,
 * and a lax decoder (skipping unknown bytes, tolerating missing padding)
 * would turn a truncated or mangled argument into a different file without
 * a word.
 */
#include "common/base64.h"

#include "common/alloc.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* sodium_init() picks libsodium's implementations; safe to call often. */
static void sodium_ready(void)
{
  if (sodium_init() < 0) {
    fprintf(stderr, "provisiond: libsodium cannot initialise\n");
    abort();
  }
}

size_t pv_base64_decoded_max(size_t len)
{
  return len / 4 * 3;
}

long pv_base64_decode(const char *in, size_t len, unsigned char *out)
{
  /* Strict RFC 4648: whole quanta only (padding required). */
  if (len % 4 != 0)
    return -1;
  sodium_ready();
  size_t max = pv_base64_decoded_max(len);
  unsigned char *buf = out ? out : pv_malloc(max ? max : 1);
  size_t n = 0;
  const char *end = NULL;
  int rc = sodium_base642bin(buf, max, in, len, NULL, &n, &end,
                             sodium_base64_VARIANT_ORIGINAL);
  if (!out)
    free(buf);
  /* A byte outside the alphabet stops the decoder early: refuse it. */
  if (rc != 0 || end != in + len)
    return -1;
  return (long)n;
}

char *pv_base64_encode(const void *data, size_t len, pv_base64_variant_t v)
{
  static const int variants[] = {
    [PV_B64_STANDARD] = sodium_base64_VARIANT_ORIGINAL,
    [PV_B64_STANDARD_NOPAD] = sodium_base64_VARIANT_ORIGINAL_NO_PADDING,
    [PV_B64_URLSAFE_NOPAD] = sodium_base64_VARIANT_URLSAFE_NO_PADDING,
  };
  sodium_ready();
  size_t n = sodium_base64_ENCODED_LEN(len, variants[v]);
  char *s = pv_malloc(n);
  sodium_bin2base64(s, n, data, len, variants[v]);
  return s;
}
