#include "common/utf8.h"

#include "common/alloc.h"

#include <string.h>

size_t pv_utf8_seq(const unsigned char *s, size_t left)
{
  unsigned char c = s[0], lo = 0x80, hi = 0xBF;
  size_t n;
  if (c < 0x80)
    return 1;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    lo = c == 0xE0 ? 0xA0 : 0x80; /* overlong */
    hi = c == 0xED ? 0x9F : 0xBF; /* surrogates */
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    lo = c == 0xF0 ? 0x90 : 0x80; /* overlong */
    hi = c == 0xF4 ? 0x8F : 0xBF; /* past U+10FFFF */
  } else {
    return 0;
  }
  if (left < n || s[1] < lo || s[1] > hi)
    return 0;
  for (size_t i = 2; i < n; i++)
    if ((s[i] & 0xC0) != 0x80)
      return 0;
  return n;
}

size_t pv_utf8_cut(const char *s, size_t len)
{
  const unsigned char *u = (const unsigned char *)s;
  size_t i = len;
  /* Back over continuation bytes (at most three) to the lead byte. */
  while (i > 0 && len - i < 3 && (u[i - 1] & 0xC0) == 0x80)
    i--;
  if (i == 0 || u[i - 1] < 0xC0)
    return len;
  size_t need = u[i - 1] >= 0xF0 ? 4 : u[i - 1] >= 0xE0 ? 3 : 2;
  return len - (i - 1) < need ? i - 1 : len;
}

bool pv_utf8_text(const void *p, size_t n)
{
  const unsigned char *s = p;
  for (size_t i = 0; i < n;) {
    if (s[i] == '\0')
      return false;
    size_t k = pv_utf8_seq(s + i, n - i);
    if (!k)
      return false;
    i += k;
  }
  return true;
}

char *pv_utf8_scrub(const char *s)
{
  size_t n = strlen(s);
  char *out = pv_malloc(n + 1);
  const unsigned char *p = (const unsigned char *)s;
  for (size_t i = 0; i < n;) {
    size_t k = pv_utf8_seq(p + i, n - i);
    if (!k) {
      out[i++] = '?';
      continue;
    }
    memcpy(out + i, p + i, k);
    i += k;
  }
  out[n] = '\0';
  return out;
}
