#include "common/bytes.h"

#include "common/alloc.h"
#include "common/utf8.h"

#include <stdint.h>
#include <string.h>

void pv_hex_write(char *dst, const void *p, size_t n)
{
  static const char digits[] = "0123456789abcdef";
  const unsigned char *b = p;
  for (size_t i = 0; i < n; i++) {
    dst[2 * i] = digits[b[i] >> 4];
    dst[2 * i + 1] = digits[b[i] & 15];
  }
  dst[2 * n] = '\0';
}

json_t *pv_bytes_to_json(const void *p, size_t n)
{
  if (pv_utf8_text(p, n))
    return json_stringn(p, n);
  char *hex = pv_malloc(2 * n + 1);
  pv_hex_write(hex, p, n);
  json_t *v = json_pack("{s:s}", "hex", hex);
  free(hex);
  return v;
}

static int nibble(char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

char *pv_hex_decode(const char *hex, size_t n, size_t *len)
{
  *len = 0;
  if (n % 2)
    return NULL;
  char *out = pv_malloc(n / 2 + 1);
  for (size_t i = 0; i < n / 2; i++) {
    int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      free(out);
      return NULL;
    }
    out[i] = (char)(hi << 4 | lo);
  }
  out[n / 2] = '\0';
  *len = n / 2;
  return out;
}

char *pv_bytea_decode(const char *s, size_t *len)
{
  *len = 0;
  if (!s || s[0] != '\\' || s[1] != 'x')
    return NULL;
  return pv_hex_decode(s + 2, strlen(s + 2), len);
}

char *pv_bytes_from_json(const json_t *v, size_t *len)
{
  *len = 0;
  if (json_is_string(v)) {
    size_t n = json_string_length(v);
    char *out = pv_malloc(n + 1);
    memcpy(out, json_string_value(v), n + 1);
    *len = n;
    return out;
  }
  const char *hex = json_string_value(json_object_get(v, "hex"));
  return hex ? pv_hex_decode(hex, strlen(hex), len) : NULL;
}
