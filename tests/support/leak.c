#include "tests/support/leak.h"

#include "common/alloc.h"

#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct parts {
  char a[1024], c[1024], k[1024], s[1024];
  char b64a[2048], b64c[2048];
} parts_t;

static void b64(const char *in, char *out, size_t size)
{
  if (sodium_init() < 0)
    abort();
  sodium_bin2base64(out, size, (const unsigned char *)in, strlen(in),
                    sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
}

static void split(const char *auth, parts_t *p)
{
  memset(p, 0, sizeof(*p));
  snprintf(p->a, sizeof(p->a), "%s", auth);
  const char *sp = strchr(auth, ' ');
  snprintf(p->c, sizeof(p->c), "%s", sp ? sp + 1 : auth);
  snprintf(p->k, sizeof(p->k), "%s", p->c);
  snprintf(p->s, sizeof(p->s), "%s", p->c);
  const char *dot = strchr(p->c, '.');
  if (strncmp(p->c, "nbt_", 4) == 0 && dot) {
    snprintf(p->k, sizeof(p->k), "%.*s", (int)(dot - p->c - 4), p->c + 4);
    snprintf(p->s, sizeof(p->s), "%s", dot + 1);
  } else if (sp && strncasecmp(auth, "Basic ", 6) == 0) {
    unsigned char bin[1024];
    size_t n = 0;
    if (sodium_base642bin(bin, sizeof(bin) - 1, p->c, strlen(p->c), NULL, &n,
                          NULL, sodium_base64_VARIANT_ORIGINAL) == 0) {
      bin[n] = '\0';
      snprintf(p->k, sizeof(p->k), "%s", (char *)bin);
      const char *colon = strchr((char *)bin, ':');
      snprintf(p->s, sizeof(p->s), "%s", colon ? colon + 1 : (char *)bin);
    }
  }
  b64(p->a, p->b64a, sizeof(p->b64a));
  b64(p->c, p->b64c, sizeof(p->b64c));
}

static const char *reason_of(int st)
{
  switch (st) {
  case 200: return "OK";
  case 400: return "Bad Request";
  case 401: return "Unauthorized";
  case 403: return "Forbidden";
  case 409: return "Conflict";
  case 500: return "Internal Server Error";
  default: return "Bad Gateway";
  }
}

void pv_leak_answer(const char *method, const char *path, const char *auth,
                    pv_buf_t *out, void *arg)
{
  (void)method;
  (void)arg;
  parts_t p;
  split(auth, &p);
  /* the pattern: the last number of the path */
  int n = 0;
  for (const char *q = path; *q; q++)
    if (isdigit((unsigned char)*q) && (q == path || !isdigit((unsigned char)q[-1])))
      n = atoi(q);
  int pat = n % PV_LEAK_PATTERNS;
  int st = 403;
  char reason[1200];
  const char *ctype = "application/json";
  pv_buf_t body;
  pv_buf_init(&body, 1u << 16);
  reason[0] = '\0';
  switch (pat) {
  case 0: pv_buf_appendf(&body, "{\"detail\":\"Invalid token %s\"}", p.a); break;
  case 1: pv_buf_appendf(&body, "{\"detail\":\"Invalid token %s\"}", p.c); break;
  case 2:
    pv_buf_appendf(&body, "{\"error\":\"token %s rejected\",\"message\":\"%s\"}",
                   p.c, p.c);
    break;
  case 3:
    st = 400;
    pv_buf_appendf(&body, "{\"token\":[\"%s is not a valid token\"]}", p.c);
    break;
  case 4:
    /* As a 502, a longer phrase: the transport keeps 127 bytes of it, so
     * the token is cut in the middle before it is redacted. */
    snprintf(reason, sizeof(reason), "Invalid token %s%s",
             (n / PV_LEAK_PATTERNS) % 2 ? "(the client at 10.1.2.3 sent it; "
             "see the audit log, request 0123456789abcdef, for more) " : "",
             p.a);
    pv_buf_appendf(&body, "{\"detail\":\"see the status line\"}");
    break;
  case 5:
    ctype = "text/plain";
    pv_buf_appendf(&body, "Invalid token: %s\n", p.a);
    break;
  case 6:
    st = 401;
    pv_buf_appendf(&body, "{\"detail\":\"unknown key %s\"}", p.k);
    break;
  case 7:
    st = 401;
    pv_buf_appendf(&body, "{\"detail\":\"bad secret %s\"}", p.s);
    break;
  case 8:
    pv_buf_appendf(&body, "{\"detail\":\"token ");
    for (const char *q = p.a; *q; q++)
      pv_buf_appendf(&body, "%%%02X", (unsigned char)*q);
    pv_buf_appendf(&body, "\"}");
    break;
  case 9:
    pv_buf_appendf(&body, "{\"detail\":\"token ");
    for (const char *q = p.c; *q; q++)
      pv_buf_appendf(&body, "\\u%04x", (unsigned char)*q);
    pv_buf_appendf(&body, "\"}");
    break;
  case 10: pv_buf_appendf(&body, "{\"detail\":\"token %s\"}", p.b64a); break;
  case 11:
    pv_buf_appendf(&body, "{\"detail\":\"token ");
    for (const char *q = p.c; *q; q++) {
      char u = (char)toupper((unsigned char)*q);
      pv_buf_append(&body, &u, 1);
    }
    pv_buf_appendf(&body, "\"}");
    break;
  case 12:
    st = 500;
    pv_buf_appendf(&body, "{\"detail\":\"upstream said %s\"}", p.a);
    break;
  case 13:
    st = 200;
    pv_buf_appendf(&body, "{\"id\":%d,\"name\":\"%s\",\"comments\":\"seen %s\"}",
                   n, p.c, p.a);
    break;
  default:
    st = 409;
    pv_buf_appendf(&body, "[{\"token\":[\"%s\"]}]", p.a);
    break;
  }
  if ((n / PV_LEAK_PATTERNS) % 2 == 1)
    st = 502;
  pv_buf_appendf(out,
                 "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                 "Connection: close\r\n\r\n",
                 st, reason[0] ? reason : reason_of(st), ctype, body.len);
  pv_buf_append(out, body.data ? body.data : "", body.len);
  pv_buf_free(&body);
}

/* Lower case, %XX and \uXXXX decoded, "\/" as "/". */
static char *normalise(const char *text)
{
  size_t n = strlen(text);
  char *out = pv_malloc(n + 1);
  size_t w = 0;
  for (size_t i = 0; i < n;) {
    unsigned v;
    if (text[i] == '%' && i + 2 < n && isxdigit((unsigned char)text[i + 1]) &&
        isxdigit((unsigned char)text[i + 2]) &&
        sscanf(text + i + 1, "%2x", &v) == 1) {
      out[w++] = (char)tolower((int)v);
      i += 3;
    } else if (text[i] == '\\' && i + 5 < n && text[i + 1] == 'u' &&
               sscanf(text + i + 2, "%4x", &v) == 1 && v < 0x100) {
      out[w++] = (char)tolower((int)v);
      i += 6;
    } else if (text[i] == '\\' && i + 1 < n && text[i + 1] == '/') {
      out[w++] = '/';
      i += 2;
    } else {
      out[w++] = (char)tolower((unsigned char)text[i]);
      i++;
    }
  }
  out[w] = '\0';
  return out;
}

/* Any 10 consecutive characters of needle (all of it when shorter): a
 * secret cut short leaks as much as a whole one. */
#define LEAK_WINDOW 10

static bool has(const char *hay, const char *needle)
{
  char low[2048];
  size_t n = strlen(needle);
  if (n == 0 || n >= sizeof(low))
    return false;
  for (size_t i = 0; i <= n; i++)
    low[i] = (char)tolower((unsigned char)needle[i]);
  size_t w = n < LEAK_WINDOW ? n : LEAK_WINDOW;
  for (size_t at = 0; at + w <= n; at++) {
    char win[LEAK_WINDOW + 1];
    memcpy(win, low + at, w);
    win[w] = '\0';
    if (strstr(hay, win))
      return true;
  }
  return false;
}

bool pv_leak_found(const char *text, const char *auth, const char **which)
{
  parts_t p;
  split(auth, &p);
  char *t = normalise(text ? text : "");
  const struct { const char *name, *v; } s[] = {
    {"the credential", p.c}, {"the key half", p.k},
    {"the secret half", p.s}, {"the base64 of the header value", p.b64a},
    {"the base64 of the credential", p.b64c},
  };
  bool found = false;
  for (size_t i = 0; i < sizeof(s) / sizeof(s[0]) && !found; i++) {
    if (has(t, s[i].v)) {
      found = true;
      if (which)
        *which = s[i].name;
    }
  }
  free(t);
  return found;
}
