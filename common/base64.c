/*
 * Strict base64: a job carries a file's bytes as text, and a lax decoder
 * (skipping unknown bytes, tolerating missing padding) would turn a
 * truncated or mangled argument into a different file without a word.
 */
#include "common/base64.h"

#include <stdbool.h>
#include <stdint.h>

static int sextet(unsigned char c)
{
  if (c >= 'A' && c <= 'Z')
    return c - 'A';
  if (c >= 'a' && c <= 'z')
    return c - 'a' + 26;
  if (c >= '0' && c <= '9')
    return c - '0' + 52;
  if (c == '+')
    return 62;
  if (c == '/')
    return 63;
  return -1;
}

size_t pv_base64_decoded_max(size_t len)
{
  return len / 4 * 3;
}

long pv_base64_decode(const char *in, size_t len, unsigned char *out)
{
  if (len % 4 != 0)
    return -1;
  size_t n = 0;
  for (size_t i = 0; i < len; i += 4) {
    const unsigned char *q = (const unsigned char *)in + i;
    bool last = i + 4 == len;
    int pad = last ? (q[3] == '=') + (q[2] == '=' && q[3] == '=') : 0;
    int v[4];
    for (int k = 0; k < 4 - pad; k++) {
      v[k] = sextet(q[k]);
      if (v[k] < 0)
        return -1;
    }
    uint32_t bits = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12;
    if (pad < 2)
      bits |= (uint32_t)v[2] << 6;
    if (pad < 1)
      bits |= (uint32_t)v[3];
    /* The bits after the last symbol must be zero (RFC 4648 §3.5): else
     * two different texts would decode to the same bytes. */
    if ((pad == 2 && (bits & 0xffff)) || (pad == 1 && (bits & 0xff)))
      return -1;
    int bytes = 3 - pad;
    if (out)
      for (int k = 0; k < bytes; k++)
        out[n + (size_t)k] = (unsigned char)(bits >> (16 - 8 * k));
    n += (size_t)bytes;
  }
  return (long)n;
}
