/*
 * Credential redaction (see redact.h). Pure: no I/O, unit-tested without a
 * network.
 */
#include "transports/redact.h"

#include "common/alloc.h"
#include "common/base64.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Secrets longer than this are not expected (a header line is capped at
 * 8 KiB by the transport); it bounds the base64 work. */
#define SECRET_MAX 8192

typedef struct secret {
  char *s;
  size_t len;
  bool tail;   /* also matches cut short at the end of a text */
} secret_t;

struct pv_redact {
  secret_t *v;          /* longest first, so the longest match wins */
  size_t n, cap;
  bool start[256];      /* bytes a match may begin with */
};

pv_redact_t *pv_redact_new(void)
{
  return pv_calloc(1, sizeof(pv_redact_t));
}

void pv_redact_destroy(pv_redact_t *rd)
{
  if (!rd)
    return;
  for (size_t i = 0; i < rd->n; i++) {
    explicit_bzero(rd->v[i].s, rd->v[i].len);
    free(rd->v[i].s);
  }
  free(rd->v);
  free(rd);
}

bool pv_redact_empty(const pv_redact_t *rd)
{
  return !rd || rd->n == 0;
}

static unsigned char lower(unsigned char c)
{
  return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

static void add_secret(pv_redact_t *rd, const char *s, size_t len, bool tail)
{
  if (len == 0 || len > SECRET_MAX)
    return;
  for (size_t i = 0; i < rd->n; i++)
    if (rd->v[i].len == len && memcmp(rd->v[i].s, s, len) == 0)
      return;
  if (rd->n == rd->cap) {
    rd->cap = rd->cap ? rd->cap * 2 : 8;
    rd->v = pv_realloc(rd->v, rd->cap * sizeof(*rd->v));
  }
  size_t at = 0;
  while (at < rd->n && rd->v[at].len >= len)
    at++;
  memmove(&rd->v[at + 1], &rd->v[at], (rd->n - at) * sizeof(*rd->v));
  char *copy = pv_malloc(len + 1);
  memcpy(copy, s, len);
  copy[len] = '\0';
  rd->v[at] = (secret_t){copy, len, tail};
  rd->n++;
  unsigned char c = (unsigned char)s[0];
  rd->start[c] = true;
  rd->start[lower(c)] = true;
  if (c >= 'a' && c <= 'z')
    rd->start[c - 32] = true;
  rd->start['%'] = true;  /* percent-encoded */
  rd->start['\\'] = true; /* JSON-escaped */
  if (c == ' ')
    rd->start['+'] = true;
}

/* The base64 spellings of s, unpadded (a padded one starts with it). */
static void add_raw(pv_redact_t *rd, const char *s, size_t len)
{
  add_secret(rd, s, len, true);
}

static void add_base64(pv_redact_t *rd, const char *s, size_t len)
{
  static const pv_base64_variant_t variants[] = {PV_B64_STANDARD_NOPAD,
                                                 PV_B64_URLSAFE_NOPAD};
  if (len == 0 || len > SECRET_MAX)
    return;
  for (size_t i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
    char *b64 = pv_base64_encode(s, len, variants[i]);
    size_t n = strlen(b64);
    add_raw(rd, b64, n);
    explicit_bzero(b64, n);
    free(b64);
  }
}

void pv_redact_add_secret(pv_redact_t *rd, const char *secret, size_t len)
{
  add_raw(rd, secret, len);
  add_base64(rd, secret, len);
}

/* "nbt_<key>.<secret>": the pieces between dots, and each piece without a
 * "prefix_", when long enough to be a secret of their own. */
static void add_parts(pv_redact_t *rd, const char *cred, size_t len)
{
  if (!memchr(cred, '.', len) && !memchr(cred, '_', len))
    return;
  size_t i = 0;
  while (i < len) {
    size_t j = i;
    while (j < len && cred[j] != '.')
      j++;
    const char *p = cred + i;
    size_t n = j - i;
    if (n >= PV_REDACT_PART_MIN && n < len)
      add_raw(rd, p, n);
    const char *us = memchr(p, '_', n);
    if (us && (size_t)(p + n - (us + 1)) >= PV_REDACT_PART_MIN)
      add_raw(rd, us + 1, (size_t)(p + n - (us + 1)));
    i = j + 1;
  }
}

/* Basic <base64(user:password)>: the decoded pair and the password. */
static void add_basic(pv_redact_t *rd, const char *cred, size_t len)
{
  unsigned char bin[SECRET_MAX];
  if (pv_base64_decoded_max(len) > sizeof(bin))
    return;
  long n = pv_base64_decode(cred, len, bin);
  if (n < 0)
    return;
  size_t bin_len = (size_t)n;
  /* Not cut short: its start is the user name, no secret; a pair cut in
   * the password is caught by the password's own entry. */
  add_secret(rd, (const char *)bin, bin_len, false);
  const unsigned char *colon = memchr(bin, ':', bin_len);
  if (colon)
    add_raw(rd, (const char *)colon + 1, bin_len - (size_t)(colon + 1 - bin));
  explicit_bzero(bin, bin_len);
}

void pv_redact_add_header(pv_redact_t *rd, const char *line)
{
  const char *colon = strchr(line, ':');
  if (!colon)
    return;
  const char *v = colon + 1;
  while (*v == ' ' || *v == '\t')
    v++;
  size_t vlen = strlen(v);
  while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
    vlen--;
  if (vlen == 0)
    return;
  const char *cred = v;
  size_t clen = vlen;
  const char *sp = memchr(v, ' ', vlen);
  if (sp) {
    cred = sp + 1;
    while (cred < v + vlen && *cred == ' ')
      cred++;
    clen = (size_t)(v + vlen - cred);
    if (clen > 0 && (size_t)(sp - v) == 5 && strncasecmp(v, "Basic", 5) == 0)
      add_basic(rd, cred, clen);
    add_base64(rd, v, vlen); /* the whole value, scheme included */
  }
  pv_redact_add_secret(rd, cred, clen);
  add_parts(rd, cred, clen);
}

/* ---- matching ----------------------------------------------------------- */

static int hexval(unsigned char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  c = lower(c);
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1;
}

/* @returns the length of the spelling of sec at text[i], or 0. A text
 * that ends inside the secret after at least PV_REDACT_PART_MIN of its
 * characters matches too: bounded fields (a reason phrase, a header value,
 * a capped body) may have been cut in the middle of it. */
static size_t match_at(const char *text, size_t len, size_t i,
                       const secret_t *sec)
{
  const unsigned char *t = (const unsigned char *)text;
  size_t j = i;
  for (size_t k = 0; k < sec->len; k++) {
    unsigned char c = lower((unsigned char)sec->s[k]);
    if (j >= len)
      return sec->tail && k >= PV_REDACT_PART_MIN ? j - i : 0;
    unsigned char x = t[j];
    if (lower(x) == c) {
      j++;
      continue;
    }
    if (x == '%' && j + 3 <= len) {
      int hi = hexval(t[j + 1]), lo = hexval(t[j + 2]);
      if (hi >= 0 && lo >= 0 && lower((unsigned char)(hi << 4 | lo)) == c) {
        j += 3;
        continue;
      }
    }
    if (x == '\\' && j + 2 <= len && (c == '/' || c == '\\' || c == '"') &&
        t[j + 1] == c) {
      j += 2;
      continue;
    }
    if (x == '\\' && j + 6 <= len && lower(t[j + 1]) == 'u') {
      int a = hexval(t[j + 2]), b = hexval(t[j + 3]), d = hexval(t[j + 4]),
          e = hexval(t[j + 5]);
      if (a == 0 && b == 0 && d >= 0 && e >= 0 &&
          lower((unsigned char)(d << 4 | e)) == c) {
        j += 6;
        continue;
      }
    }
    if (c == ' ' && x == '+') {
      j++;
      continue;
    }
    return 0;
  }
  return j - i;
}

size_t pv_redact_apply(const pv_redact_t *rd, char *text, size_t len)
{
  if (pv_redact_empty(rd) || !text)
    return len;
  static const char mark[] = PV_REDACT_MARK;
  const size_t mark_len = sizeof(mark) - 1;
  size_t r = 0, w = 0;
  while (r < len) {
    size_t m = 0;
    if (rd->start[(unsigned char)text[r]]) {
      for (size_t i = 0; i < rd->n && !m; i++)
        m = match_at(text, len, r, &rd->v[i]);
    }
    if (!m) {
      text[w++] = text[r++];
      continue;
    }
    /* w <= r, and the m bytes at r are consumed: writing at most m bytes
     * at w never overwrites what is still to be read. */
    if (m >= mark_len) {
      memcpy(text + w, mark, mark_len);
      w += mark_len;
    } else {
      memset(text + w, '*', m);
      w += m;
    }
    r += m;
  }
  if (w < len)
    text[w] = '\0';
  return w;
}

void pv_redact_str(const pv_redact_t *rd, char *s)
{
  if (s)
    pv_redact_apply(rd, s, strlen(s));
}
