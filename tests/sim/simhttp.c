#include "tests/sim/simhttp.h"

#include "common/alloc.h"
#include "common/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define TH_BODY_MAX (64u * 1024u * 1024u)

typedef struct th_ctx {
  pv_buf_t body;
  pv_buf_t hdrs;
  th_resp_t *r;
} th_ctx_t;

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
  th_ctx_t *c = arg;
  return pv_buf_append(&c->body, data, size * n) == 0 ? size * n : 0;
}

static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
  th_ctx_t *c = arg;
  size_t len = size * n;
  /* A new status line (after 100 Continue or a redirect) starts over. */
  if (len > 5 && strncmp(data, "HTTP/", 5) == 0) {
    pv_buf_reset(&c->hdrs);
    const char *sp = memchr(data, ' ', len);
    const char *sp2 = sp ? memchr(sp + 1, ' ', len - (size_t)(sp + 1 - data))
                         : NULL;
    c->r->reason[0] = '\0';
    if (sp2) {
      const char *start = sp2 + 1;
      size_t rl = len - (size_t)(start - data);
      while (rl && (start[rl - 1] == '\r' || start[rl - 1] == '\n'))
        rl--;
      snprintf(c->r->reason, sizeof(c->r->reason), "%.*s", (int)rl, start);
    }
  }
  return pv_buf_append(&c->hdrs, data, len) == 0 ? len : 0;
}

th_resp_t *th_request(const char *method, const char *url,
                      const char *const *hdrs, const char *body,
                      long timeout_ms)
{
  th_resp_t *r = pv_calloc(1, sizeof(*r));
  th_ctx_t c = {.r = r};
  struct curl_slist *list = NULL;
  pv_buf_init(&c.body, TH_BODY_MAX);
  pv_buf_init(&c.hdrs, 1024 * 1024);
  CURL *h = curl_easy_init();
  if (!h) {
    r->rc = CURLE_FAILED_INIT;
    goto out;
  }
  for (size_t i = 0; hdrs && hdrs[i]; i++)
    list = curl_slist_append(list, hdrs[i]);
  /* curl would send "Expect: 100-continue" for larger bodies. */
  list = curl_slist_append(list, "Expect:");
  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
  if (strcmp(method, "HEAD") == 0)
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms ? timeout_ms : 10000L);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &c);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &c);
  if (body) {
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
  }
  r->rc = curl_easy_perform(h);
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
out:
  r->body = pv_buf_steal(&c.body, &r->body_len);
  r->headers = pv_buf_steal(&c.hdrs, NULL);
  if (r->body_len)
    r->json = json_loadb(r->body, r->body_len, JSON_DECODE_ANY, NULL);
  curl_slist_free_all(list);
  if (h)
    curl_easy_cleanup(h);
  return r;
}

th_resp_t *th_get(const char *url)
{
  return th_request("GET", url, NULL, NULL, 0);
}

const char *th_header(const th_resp_t *r, const char *name, char *buf,
                      size_t size)
{
  size_t nl = strlen(name);
  for (const char *p = r->headers; p && *p;) {
    const char *eol = strchr(p, '\n');
    size_t len = eol ? (size_t)(eol - p) : strlen(p);
    if (len > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
      const char *v = p + nl + 1;
      while (*v == ' ')
        v++;
      size_t vl = len - (size_t)(v - p);
      while (vl && (v[vl - 1] == '\r' || v[vl - 1] == ' '))
        vl--;
      snprintf(buf, size, "%.*s", (int)vl, v);
      return buf;
    }
    p = eol ? eol + 1 : NULL;
  }
  return NULL;
}

void th_free(th_resp_t *r)
{
  if (!r)
    return;
  free(r->body);
  free(r->headers);
  json_decref(r->json);
  free(r);
}
