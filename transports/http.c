/*
 * The robust HTTP transport: one curl multi handle driven by libuv through
 * the multi socket API, endpoints with an admission queue, retries with
 * backoff / Retry-After / budget, and a circuit breaker (see http.h).
 *
 * Life of a request (req_t):
 *
 *   pv_http_send -> begin_attempt: deadline? breaker open? slot free?
 *        -> start_attempt (admitted: easy handle added to the multi)
 *        or queued on the endpoint until a slot frees (pump)
 *   curl done -> attempt_done: classify, breaker, then either finish()
 *        or a backoff timer -> begin_attempt again
 *
 * An attempt's CURLOPT_TIMEOUT_MS starts when it is added to the multi,
 * i.e. once admitted: curl never queues our transfers itself (we do not set
 * CURLMOPT_MAX_HOST_CONNECTIONS), so queue time is never charged to an
 * attempt.
 *
 * Results produced inside pv_http_send (breaker open, deadline passed) go
 * through a zero-delay timer so the callback never runs inside the call.
 */
#include "transports/http.h"

#include "common/alloc.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/backoff.h"
#include "common/utf8.h"
#include "transports/breaker.h"
#include "transports/budget.h"
#include "transports/classify.h"
#include "transports/http_int.h"
#include "transports/redact.h"
#include "transports/retry_after.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Caps on what callers hand us: config and job args end up here. */
#define PATH_MAX_LEN 4096
#define BASE_URL_MAX_LEN 1024
#define NAME_MAX_LEN 256
#define HEADERS_MAX 64
#define HEADER_LINE_MAX 8192
#define REQUEST_BODY_MAX (16u << 20)
#define TIMEOUT_MAX_MS (24L * 3600 * 1000)
#define ATTEMPTS_MAX 10
#define DEFAULT_TIMEOUT_MS 30000
/* Easy handles kept for reuse; beyond this they are cleaned up. */
#define FREE_EASY_MAX 1024
/* How much of an error body goes into an error message. */
#define BODY_SNIPPET 200

typedef enum rq_state {
  RQ_NEW,     /* between attempts, not in any list but the engine's */
  RQ_QUEUED,  /* waiting for an admission slot */
  RQ_ACTIVE,  /* its easy handle is in the multi */
  RQ_BACKOFF, /* waiting for its retry timer */
  RQ_DONE     /* on the deferred-completion list */
} rq_state_t;

typedef struct req req_t;
typedef struct sock sock_t;

struct req {
  pv_http_t *http;
  pv_endpoint_t *ep;
  req_t *prev, *next; /* the engine's list of live requests */
  req_t *qnext;       /* admission queue or deferred-completion list */
  rq_state_t state;
  const char *method; /* static string from the method table */
  const char *url;    /* in strs */
  const char *path;   /* points into url, after the base */
  const char *job_id; /* in strs */
  const char *op;     /* in strs */
  const char *traceparent; /* in strs; logged with every line */
  char *body;
  size_t body_len;
  struct curl_slist *hdrs; /* ours, chained onto ep->base_hdrs */
  struct curl_slist *hdr_block; /* what to free */
  long timeout_ms;
  int64_t deadline_ms;
  int max_attempts;
  bool idempotent;
  bool capped;    /* this attempt's timeout was cut to the deadline */
  bool too_large; /* the body passed max_response_bytes */
  bool timer_init;
  pv_breaker_admit_t admitted;
  uint32_t gen;
  pv_errclass_t last_cls; /* class of the last failed attempt */
  CURL *easy;
  uint64_t start_us, attempt_us;
  pv_http_done_cb cb;
  void *arg;
  uv_timer_t timer;
  pv_buf_t body_buf;
  char retry_after[PV_HTTP_RETRY_AFTER_MAX];
  pv_http_response_t resp;
  char strs[]; /* url, job_id, op */
};

struct sock {
  uv_poll_t poll;
  pv_http_t *http;
  sock_t *prev, *next;
  curl_socket_t fd;
};

struct pv_endpoint_s {
  pv_http_t *http;
  pv_endpoint_t *next;
  char *service, *tenant, *base_url;
  pv_endpoint_conf_t conf; /* strings point at the copies above */
  struct curl_slist *base_hdrs;
  pv_redact_t *redact;     /* the secrets of its auth headers */
  req_t *qhead, *qtail;
  int in_flight;
  int queued;
  pv_budget_t budget;
  pv_breaker_t breaker;
  pv_endpoint_stats_t stats;
};

struct pv_http_s {
  uv_loop_t *loop;
  CURLM *multi;
  CURLSH *share;
  uv_timer_t timer; /* curl's timeout */
  uv_timer_t defer; /* deferred completions */
  pv_http_conf_t conf;
  char *ca_path;
  pv_endpoint_t *eps;
  req_t *reqs;
  req_t *done_head, *done_tail;
  sock_t *socks;
  CURL **free_easy;
  int n_free;
  long conn_cap;      /* sum over endpoints of max(in_flight, max_idle) */
  long conn_cap_set;  /* what CURLMOPT_MAXCONNECTS was last set to */
  pv_breaker_change_cb bcb;
  void *barg;
  pv_http_attempt_cb acb;
  void *aarg;
  uint64_t rng;
  int depth;          /* >0 while we run inside one of our callbacks */
  bool doomed;        /* pv_http_destroy was called */
  bool destroying;
  int open_handles;   /* our own uv handles not yet closed */
};

static const char *const methods[] = {"GET", "POST", "PUT", "PATCH",
                                      "DELETE", "HEAD", NULL};

static void begin_attempt(req_t *r);
static void start_attempt(req_t *r);
static void finish(req_t *r);
static void really_destroy(pv_http_t *http);

/* ---- small helpers ------------------------------------------------------ */

static void copy_clean(char *dst, size_t size, const char *src, size_t len)
{
  /* Header values and reason phrases come from the server: keep them
   * printable and bounded so they are safe in logs and messages, and
   * valid UTF-8 (HTTP allows any byte above 0x7f there), since they end
   * up in JSON replies: a byte that starts no well-formed sequence becomes
   * '?', and a cut never splits a character. */
  const unsigned char *s = (const unsigned char *)src;
  size_t n = 0;
  while (len > 0 && (s[len - 1] == '\r' || s[len - 1] == '\n' ||
                     s[len - 1] == ' ' || s[len - 1] == '\t'))
    len--;
  while (len > 0 && (*s == ' ' || *s == '\t')) {
    s++;
    len--;
  }
  for (size_t i = 0; i < len;) {
    size_t k = pv_utf8_seq(s + i, len - i);
    if (k == 0) {
      if (n + 1 >= size)
        break;
      dst[n++] = '?';
      i++;
      continue;
    }
    if (n + k >= size)
      break;
    if (k == 1) {
      dst[n++] = s[i] < 0x20 || s[i] == 0x7f ? ' ' : (char)s[i];
    } else {
      memcpy(dst + n, s + i, k);
      n += k;
    }
    i += k;
  }
  dst[n] = '\0';
}

static bool has_ctl(const char *s, bool space_ok)
{
  for (const unsigned char *p = (const unsigned char *)s; *p; p++)
    if (*p < 0x20 || *p == 0x7f || (!space_ok && *p == ' '))
      return true;
  return false;
}

/* The sub-millisecond part is rounded away; logs and deadlines are in ms. */
static uint64_t mono_ms(void)
{
  return pv_clock_mono_ms();
}

static void enter(pv_http_t *http)
{
  http->depth++;
}

/* Leaves one of our callbacks; a destroy asked for inside it runs now,
 * when nothing of ours is on the stack any more. */
static void leave(pv_http_t *http)
{
  if (--http->depth == 0 && http->doomed && !http->destroying)
    really_destroy(http);
}

static void update_conn_cap(pv_http_t *http, pv_endpoint_t *ep, int delta)
{
  /* CURLMOPT_MAXCONNECTS bounds curl's whole connection cache (in use and
   * idle) and trims the oldest idle connection when a transfer returns one
   * beyond it. Keeping it at sum(max(in_flight, max_idle)) never churns
   * busy connections and lets each endpoint keep max_idle warm when load
   * drops. */
  long before = ep->in_flight > ep->conf.max_idle ? ep->in_flight
                                                  : ep->conf.max_idle;
  ep->in_flight += delta;
  long after = ep->in_flight > ep->conf.max_idle ? ep->in_flight
                                                 : ep->conf.max_idle;
  http->conn_cap += after - before;
  long cap = http->conn_cap > 0 ? http->conn_cap : 1;
  if (cap != http->conn_cap_set &&
      curl_multi_setopt(http->multi, CURLMOPT_MAXCONNECTS, cap) == CURLM_OK)
    http->conn_cap_set = cap;
}

/* ---- logging ------------------------------------------------------------ */

static long attempt_ms(const req_t *r)
{
  return (long)((pv_clock_mono_us() - r->attempt_us) / 1000u);
}

#define REQ_FIELDS(r)                                                       \
  PV_S("service", (r)->ep->service), PV_S("tenant_id", (r)->ep->tenant),    \
      PV_S("job_id", (r)->job_id), PV_S("op", (r)->op),                     \
      PV_S("method", (r)->method), PV_S("path", (r)->path),                 \
      PV_I("attempt", (r)->resp.attempts),                                \
      PV_S("traceparent", (r)->traceparent)

/* until_wall: the wall time to report for OPEN when the caller gave one
 * (a peer's value is echoed exactly, not re-derived from our clocks). */
static void notify_breaker(pv_endpoint_t *ep, const pv_breaker_transition_t *tr,
                           bool local, int64_t until_wall)
{
  pv_http_t *http = ep->http;
  int64_t until = until_wall;
  if (!until && tr->open_until_ms) {
    uint64_t now = mono_ms();
    int64_t left = tr->open_until_ms > now ? (int64_t)(tr->open_until_ms - now)
                                           : 0;
    until = pv_clock_wall_ms() + left;
  }
  char until_s[32] = "";
  if (until)
    pv_clock_fmt_rfc3339(until, until_s, sizeof(until_s));
  pv_log(tr->to == PV_BREAKER_CLOSED ? PV_LOG_INFO : PV_LOG_WARN,
         "circuit_breaker.state_change", PV_S("service", ep->service),
         PV_S("tenant_id", ep->tenant), PV_S("base_url", ep->base_url),
         PV_S("from", pv_breaker_state_name(tr->from)),
         PV_S("to", pv_breaker_state_name(tr->to)), PV_S("reason", tr->reason),
         PV_S("open_until", until ? until_s : NULL), PV_B("local", local));
  if (http->bcb) {
    pv_breaker_change_t chg = {
      .service = ep->service,
      .tenant = ep->tenant,
      .base_url = ep->base_url,
      .from = tr->from,
      .to = tr->to,
      .reason = tr->reason,
      .open_until_ms = until,
      .local = local,
    };
    http->bcb(&chg, http->barg);
  }
}

/* ---- completion --------------------------------------------------------- */

static void free_req(req_t *r)
{
  pv_buf_free(&r->body_buf);
  free(r->hdr_block);
  free(r->body);
  free(r);
}

static void on_req_timer_closed(uv_handle_t *h)
{
  free_req(h->data);
}

static void unlink_req(req_t *r)
{
  if (r->prev)
    r->prev->next = r->next;
  else
    r->http->reqs = r->next;
  if (r->next)
    r->next->prev = r->prev;
  r->prev = r->next = NULL;
}

/* Runs the callback and frees the request. r->resp.err is set. */
static void finish(req_t *r)
{
  pv_http_t *http = r->http;
  r->resp.duration_ms = (long)((pv_clock_mono_us() - r->start_us) / 1000u);
  r->resp.body = r->body_buf.data ? r->body_buf.data : (char *)"";
  r->resp.body_len = r->body_buf.data ? r->body_buf.len : 0;
  unlink_req(r);
  if (r->resp.err.cls == PV_ERR_NONE)
    pv_log(PV_LOG_DEBUG, "http_request.succeeded", REQ_FIELDS(r),
           PV_I("status", r->resp.status),
           PV_I("duration_ms", r->resp.duration_ms));
  enter(http);
  r->cb(&r->resp, r->arg);
  if (r->timer_init)
    uv_close((uv_handle_t *)&r->timer, on_req_timer_closed);
  else
    free_req(r);
  leave(http);
}

static void on_defer(uv_timer_t *t)
{
  pv_http_t *http = t->data;
  enter(http);
  /* Take the whole list first: callbacks may queue more. */
  req_t *r = http->done_head;
  http->done_head = http->done_tail = NULL;
  while (r) {
    req_t *next = r->qnext;
    r->qnext = NULL;
    finish(r);
    r = next;
  }
  leave(http);
}

/* Ends a request from a context where its caller may be on the stack. */
static void finish_later(req_t *r)
{
  pv_http_t *http = r->http;
  r->state = RQ_DONE;
  r->qnext = NULL;
  if (http->done_tail)
    http->done_tail->qnext = r;
  else
    http->done_head = r;
  http->done_tail = r;
  if (!uv_is_active((uv_handle_t *)&http->defer))
    uv_timer_start(&http->defer, on_defer, 0, 0);
}

static void fail_fast(req_t *r, pv_errclass_t cls, int64_t retry_at,
                      const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Fails a request before (another) attempt went out. */
static void fail_fast(req_t *r, pv_errclass_t cls, int64_t retry_at,
                      const char *fmt, ...)
{
  char msg[PV_ERROR_MSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  pv_error_set(&r->resp.err, cls, 0, "%s", msg);
  r->resp.retry_at_ms = retry_at;
  pv_log(PV_LOG_INFO, "http_request.rejected", REQ_FIELDS(r),
         PV_S("error", pv_errclass_name(cls)), PV_S("message", msg));
  finish_later(r);
}

/* ---- admission ---------------------------------------------------------- */

static void pump(pv_endpoint_t *ep)
{
  while (ep->qhead && ep->in_flight < ep->conf.max_connections) {
    req_t *r = ep->qhead;
    ep->qhead = r->qnext;
    if (!ep->qhead)
      ep->qtail = NULL;
    r->qnext = NULL;
    ep->queued--;
    start_attempt(r);
  }
}

static int64_t breaker_retry_at_wall(pv_endpoint_t *ep, uint64_t now)
{
  uint64_t at = pv_breaker_retry_at(&ep->breaker, now);
  if (!at)
    return 0;
  return pv_clock_wall_ms() + (int64_t)(at > now ? at - now : 0);
}

static void begin_attempt(req_t *r)
{
  pv_endpoint_t *ep = r->ep;
  uint64_t now = mono_ms();

  r->state = RQ_NEW;
  if (r->deadline_ms && pv_clock_wall_ms() >= r->deadline_ms) {
    fail_fast(r, PV_ERR_DEADLINE_EXCEEDED, 0,
              "%s: deadline passed before attempt %d", r->path,
              r->resp.attempts + 1);
    return;
  }
  if (pv_breaker_would_reject(&ep->breaker, now)) {
    ep->stats.breaker_rejected++;
    fail_fast(r, PV_ERR_CIRCUIT_OPEN, breaker_retry_at_wall(ep, now),
              "circuit breaker %s for this endpoint; no request sent "
              "(attempts so far: %d)",
              pv_breaker_state_name(ep->breaker.state), r->resp.attempts);
    return;
  }
  if (ep->in_flight < ep->conf.max_connections && !ep->qhead) {
    start_attempt(r);
    return;
  }
  r->state = RQ_QUEUED;
  r->qnext = NULL;
  if (ep->qtail)
    ep->qtail->qnext = r;
  else
    ep->qhead = r;
  ep->qtail = r;
  ep->queued++;
}

/* ---- curl callbacks ----------------------------------------------------- */

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
  req_t *r = ud;
  size_t len = size * nmemb;
  if (pv_buf_append(&r->body_buf, ptr, len) != 0) {
    r->too_large = true;
    return 0; /* curl stops with CURLE_WRITE_ERROR */
  }
  return len;
}

void pv_http_header_reset(pv_http_response_t *resp, char *retry_after)
{
  resp->reason[0] = '\0';
  resp->content_type[0] = '\0';
  resp->total = -1;
  resp->grpc_status = -1;
  resp->grpc_message[0] = '\0';
  resp->etag[0] = '\0';
  retry_after[0] = '\0';
}

static void reset_capture(req_t *r)
{
  pv_http_header_reset(&r->resp, r->retry_after);
}

static bool header_is(const char *line, size_t len, const char *name,
                      const char **val, size_t *vlen)
{
  size_t n = strlen(name);
  if (len <= n || line[n] != ':' || strncasecmp(line, name, n) != 0)
    return false;
  *val = line + n + 1;
  *vlen = len - n - 1;
  return true;
}

/* A bounded decimal parse of a header value; false if it is not one. */
static bool parse_ll(const char *v, size_t len, long long max, long long *out)
{
  char tmp[32];
  copy_clean(tmp, sizeof(tmp), v, len);
  char *end = NULL;
  if (!tmp[0] || !((tmp[0] >= '0' && tmp[0] <= '9') || tmp[0] == '-'))
    return false;
  long long x = strtoll(tmp, &end, 10);
  if (*end || x < -max || x > max)
    return false;
  *out = x;
  return true;
}

void pv_http_header_line(pv_http_response_t *resp, char *retry_after,
                         const char *line, size_t len)
{
  const char *v;
  size_t vlen;
  long long x;

  if (len > 5 && memcmp(line, "HTTP/", 5) == 0) {
    /* A new response (after 1xx): forget headers of the previous one.
     * "HTTP/1.1 503 Service Unavailable" -> reason after the code. */
    pv_http_header_reset(resp, retry_after);
    const char *sp = memchr(line, ' ', len);
    if (sp) {
      size_t rest = len - (size_t)(sp + 1 - line);
      const char *sp2 = memchr(sp + 1, ' ', rest);
      if (sp2)
        copy_clean(resp->reason, sizeof(resp->reason), sp2 + 1,
                   len - (size_t)(sp2 + 1 - line));
    }
  } else if (header_is(line, len, "content-type", &v, &vlen)) {
    copy_clean(resp->content_type, sizeof(resp->content_type), v, vlen);
  } else if (header_is(line, len, "total", &v, &vlen)) {
    if (parse_ll(v, vlen, 1000000000000000LL, &x) && x >= 0)
      resp->total = x;
  } else if (header_is(line, len, "grpc-status", &v, &vlen)) {
    if (parse_ll(v, vlen, 1000, &x) && x >= 0)
      resp->grpc_status = (int)x;
  } else if (header_is(line, len, "grpc-message", &v, &vlen)) {
    copy_clean(resp->grpc_message, sizeof(resp->grpc_message), v, vlen);
  } else if (header_is(line, len, "etag", &v, &vlen)) {
    copy_clean(resp->etag, sizeof(resp->etag), v, vlen);
  } else if (header_is(line, len, "retry-after", &v, &vlen)) {
    copy_clean(retry_after, PV_HTTP_RETRY_AFTER_MAX, v, vlen);
  }
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *ud)
{
  req_t *r = ud;
  size_t len = size * nmemb;
  pv_http_header_line(&r->resp, r->retry_after, ptr, len);
  return len;
}

/* ---- attempts ----------------------------------------------------------- */

static CURL *get_easy(pv_http_t *http)
{
  if (http->n_free > 0) {
    CURL *e = http->free_easy[--http->n_free];
    /* Reset keeps the handle's caches but drops every option, so nothing
     * of the previous request (headers, body, method) leaks into this one. */
    curl_easy_reset(e);
    return e;
  }
  return curl_easy_init();
}

static void put_easy(pv_http_t *http, CURL *e)
{
  if (http->n_free < FREE_EASY_MAX)
    http->free_easy[http->n_free++] = e;
  else
    curl_easy_cleanup(e);
}

static CURLcode setup_easy(req_t *r, CURL *e, long timeout_ms)
{
  pv_http_t *http = r->http;
  CURLcode rc = CURLE_OK;
  long connect_ms = http->conf.connect_timeout_ms < timeout_ms
                        ? http->conf.connect_timeout_ms
                        : timeout_ms;

  /* A local macro: stops at the first failing option, keeps its code. */
#define SET(opt, val)                                                       \
  do {                                                                      \
    if (rc == CURLE_OK)                                                     \
      rc = curl_easy_setopt(e, opt, val);                                   \
  } while (0)
  SET(CURLOPT_URL, r->url);
  SET(CURLOPT_PRIVATE, r);
  SET(CURLOPT_NOSIGNAL, 1L);
  SET(CURLOPT_PROTOCOLS_STR, "http,https");
  SET(CURLOPT_HTTPHEADER, r->hdrs);
  SET(CURLOPT_WRITEFUNCTION, on_body);
  SET(CURLOPT_WRITEDATA, r);
  SET(CURLOPT_HEADERFUNCTION, on_header);
  SET(CURLOPT_HEADERDATA, r);
  SET(CURLOPT_TIMEOUT_MS, timeout_ms);
  SET(CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
  SET(CURLOPT_SSL_VERIFYPEER, http->conf.tls_verify ? 1L : 0L);
  SET(CURLOPT_SSL_VERIFYHOST, http->conf.tls_verify ? 2L : 0L);
  if (http->ca_path)
    SET(CURLOPT_CAINFO, http->ca_path);
  if (http->share)
    SET(CURLOPT_SHARE, http->share);
  /* libcurl silently sends a request again when a reused connection dies
   * before any answer. For a request that may not be repeated that second
   * send could take effect twice, out of our sight; on a fresh connection
   * libcurl never re-sends, and the loss is ours to classify. */
  if (!r->idempotent)
    SET(CURLOPT_FRESH_CONNECT, 1L);
  if (strcmp(r->method, "GET") == 0) {
    SET(CURLOPT_HTTPGET, 1L);
  } else if (strcmp(r->method, "HEAD") == 0) {
    SET(CURLOPT_NOBODY, 1L);
  } else {
    if (strcmp(r->method, "POST") != 0)
      SET(CURLOPT_CUSTOMREQUEST, r->method);
    /* DELETE without a body sends none; the others send Content-Length
     * (0 when empty), which some servers require for PUT/POST. */
    if (r->body || strcmp(r->method, "DELETE") != 0) {
      SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
      SET(CURLOPT_POSTFIELDS, r->body ? r->body : "");
    }
  }
#undef SET
  return rc;
}

static void start_attempt(req_t *r)
{
  pv_http_t *http = r->http;
  pv_endpoint_t *ep = r->ep;
  uint64_t now = mono_ms();
  pv_breaker_transition_t tr;
  bool changed;

  /* Queued time may have used up the deadline. */
  long timeout = pv_attempt_timeout(r->timeout_ms, r->deadline_ms,
                                    pv_clock_wall_ms(), &r->capped);
  if (timeout == 0) {
    fail_fast(r, PV_ERR_DEADLINE_EXCEEDED, 0,
              "%s: deadline passed before attempt %d", r->path,
              r->resp.attempts + 1);
    return;
  }

  r->admitted = pv_breaker_admit(&ep->breaker, now, &r->gen, &tr, &changed);
  if (changed)
    notify_breaker(ep, &tr, true, 0);
  if (r->admitted == PV_BRK_REJECT) {
    ep->stats.breaker_rejected++;
    fail_fast(r, PV_ERR_CIRCUIT_OPEN, breaker_retry_at_wall(ep, now),
              "circuit breaker %s for this endpoint; no request sent "
              "(attempts so far: %d)",
              pv_breaker_state_name(ep->breaker.state), r->resp.attempts);
    return;
  }

  CURL *e = get_easy(http);
  if (!e) {
    pv_breaker_record(&ep->breaker, now, r->admitted, r->gen,
                      PV_BRK_CANCELLED, &tr);
    fail_fast(r, PV_ERR_INTERNAL, 0, "%s: curl_easy_init failed", r->path);
    return;
  }
  CURLcode rc = setup_easy(r, e, timeout);
  CURLMcode mrc = CURLM_OK;
  if (rc == CURLE_OK)
    mrc = curl_multi_add_handle(http->multi, e);
  if (rc != CURLE_OK || mrc != CURLM_OK) {
    const char *why = rc != CURLE_OK ? curl_easy_strerror(rc)
                                     : curl_multi_strerror(mrc);
    curl_easy_cleanup(e);
    pv_breaker_record(&ep->breaker, now, r->admitted, r->gen,
                      PV_BRK_CANCELLED, &tr);
    fail_fast(r, PV_ERR_INTERNAL, 0, "cannot start request: %s", why);
    return;
  }
  r->easy = e;
  r->state = RQ_ACTIVE;
  r->too_large = false;
  pv_buf_reset(&r->body_buf);
  reset_capture(r);
  r->resp.status = 0;
  r->resp.attempts++;
  r->attempt_us = pv_clock_mono_us();
  ep->stats.requests++;
  update_conn_cap(http, ep, +1);
  pv_log(PV_LOG_DEBUG, "http_request.started", REQ_FIELDS(r),
         PV_I("timeout_ms", timeout));
}

static void on_retry_timer(uv_timer_t *t)
{
  req_t *r = t->data;
  pv_http_t *http = r->http;
  enter(http);
  begin_attempt(r);
  leave(http);
}

/* The first bytes of an error body, as one line of text. */
static void body_snippet(const req_t *r, char *out, size_t size)
{
  size_t n = r->body_buf.data ? r->body_buf.len : 0;
  if (n > BODY_SNIPPET)
    n = BODY_SNIPPET;
  copy_clean(out, size, r->body_buf.data ? r->body_buf.data : "", n);
}

/* The final error for a failed attempt that gets no further attempt. */
static void set_final_error(req_t *r, pv_errclass_t cls, CURLcode code,
                            pv_attempt_kind_t kind, const char *why)
{
  pv_http_response_t *rs = &r->resp;
  char snip[BODY_SNIPPET + 1];
  long st = rs->status;

  switch (cls) {
  case PV_ERR_HTTP_4XX:
  case PV_ERR_HTTP_5XX:
  case PV_ERR_RATE_LIMITED:
    if (kind == PV_ATT_TOO_LARGE) {
      pv_error_set(&rs->err, cls, (int)st,
                   "HTTP %ld, response body over %zu bytes (%s)", st,
                   r->http->conf.max_response_bytes, why);
      break;
    }
    if (kind != PV_ATT_HTTP) {
      /* e.g. retries of a 503 ended in a connect error: say both */
      pv_error_set(&rs->err, cls, (int)st, "%s %s: %s (%s)", r->method,
                   r->path, curl_easy_strerror(code), why);
      break;
    }
    body_snippet(r, snip, sizeof(snip));
    pv_error_set(&rs->err, cls, (int)st, "HTTP %ld%s%s (%s)%s%s", st,
                 rs->reason[0] ? " " : "", rs->reason, why,
                 snip[0] ? ": " : "", snip);
    break;
  case PV_ERR_OUTCOME_UNKNOWN:
    pv_error_set(&rs->err, cls, 0,
                 "%s %s: %s after the request was sent; it may have been "
                 "applied (%s)",
                 r->method, r->path,
                 kind == PV_ATT_TIMEOUT ? "timed out" : "connection broke",
                 why);
    break;
  case PV_ERR_TIMEOUT:
  case PV_ERR_DEADLINE_EXCEEDED:
    pv_error_set(&rs->err, cls, 0, "%s %s: no answer within the %s (%s)",
                 r->method, r->path,
                 r->capped ? "deadline" : "attempt timeout", why);
    break;
  case PV_ERR_CONNECT:
    pv_error_set(&rs->err, cls, 0, "%s %s: %s (%s)", r->method, r->ep->base_url,
                 curl_easy_strerror(code), why);
    break;
  default:
    if (kind == PV_ATT_TOO_LARGE)
      pv_error_set(&rs->err, cls, (int)st,
                   "HTTP %ld, response body over %zu bytes (%s)", st,
                   r->http->conf.max_response_bytes, why);
    else
      pv_error_set(&rs->err, cls, (int)st, "%s %s: %s (%s)", r->method,
                   r->path, curl_easy_strerror(code), why);
    break;
  }
}

/* One line per failed attempt; final_msg is set when no retry follows
 * (failures are rare next to successes, so warn is affordable). */
static void log_attempt_error(const req_t *r, const pv_attempt_result_t *ar,
                              CURLcode code, const pv_verdict_t *v, long dur,
                              const char *final_msg)
{
  if (ar->kind == PV_ATT_HTTP || ar->kind == PV_ATT_TOO_LARGE)
    pv_log(PV_LOG_WARN, "http_request.http_error", REQ_FIELDS(r),
           PV_I("status", ar->status), PV_I("duration_ms", dur),
           PV_S("reason", r->resp.reason),
           PV_S("error", pv_errclass_name(v->cls)),
           PV_B("will_retry", final_msg == NULL),
           PV_S("message", final_msg));
  else
    pv_log(PV_LOG_WARN, "http_request.network_error", REQ_FIELDS(r),
           PV_I("status", ar->status), PV_I("duration_ms", dur),
           PV_S("curl_error", curl_easy_strerror(code)), PV_B("sent", ar->sent),
           PV_S("error", pv_errclass_name(v->cls)),
           PV_B("will_retry", final_msg == NULL),
           PV_S("message", final_msg));
}

/* One observer call per attempt that went on the network (metrics). */
static void observe_attempt(const req_t *r, long status, pv_errclass_t cls,
                            long dur, bool will_retry, bool budget_refused)
{
  pv_http_t *http = r->http;
  if (!http->acb)
    return;
  pv_http_attempt_t a = {
    .service = r->ep->service,
    .tenant = r->ep->tenant,
    .op = r->op,
    .method = r->method,
    .status = status,
    .cls = cls,
    .duration_ms = dur,
    .attempt = r->resp.attempts,
    .will_retry = will_retry,
    .budget_refused = budget_refused,
  };
  http->acb(&a, http->aarg);
}

/* The one place a tenant's credentials are taken out of an answer: its
 * reason phrase, the header values we keep and its body are rewritten
 * before anything reads them (classification, logs, error messages, the
 * clients' details and results), so nothing derived from them can carry
 * a secret. Every endpoint of the tenant counts: a credential is the
 * tenant's, whichever of its systems echoes it. */
static void redact_answer(req_t *r)
{
  pv_http_response_t *rs = &r->resp;
  for (pv_endpoint_t *ep = r->http->eps; ep; ep = ep->next) {
    if (pv_redact_empty(ep->redact) || strcmp(ep->tenant, r->ep->tenant) != 0)
      continue;
    pv_redact_str(ep->redact, rs->reason);
    pv_redact_str(ep->redact, rs->grpc_message);
    pv_redact_str(ep->redact, rs->content_type);
    pv_redact_str(ep->redact, rs->etag);
    pv_redact_str(ep->redact, r->retry_after);
    if (r->body_buf.data)
      r->body_buf.len = pv_redact_apply(ep->redact, r->body_buf.data,
                                        r->body_buf.len);
  }
}

static void attempt_done(req_t *r, CURLcode code)
{
  pv_http_t *http = r->http;
  pv_endpoint_t *ep = r->ep;
  CURL *e = r->easy;
  long status = 0, reqsize = 0;
  pv_breaker_transition_t tr;
  char why[96];

  if (curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK)
    status = 0;
  if (curl_easy_getinfo(e, CURLINFO_REQUEST_SIZE, &reqsize) != CURLE_OK)
    reqsize = 1; /* unknown: assume it may have been sent */
  if (curl_multi_remove_handle(http->multi, e) == CURLM_OK)
    put_easy(http, e);
  else
    curl_easy_cleanup(e);
  r->easy = NULL;
  r->state = RQ_NEW;
  update_conn_cap(http, ep, -1);
  redact_answer(r);

  pv_attempt_result_t ar = {
    .kind = pv_classify_curl(code, reqsize > 0),
    .status = status,
    .sent = reqsize > 0,
  };
  if (ar.kind == PV_ATT_TOO_LARGE && !r->too_large)
    ar.kind = PV_ATT_LOCAL;
  r->resp.status = status;
  pv_verdict_t v = pv_classify(&ar, r->idempotent);
  /* A timeout that was only the deadline's cut is the deadline's fault;
   * for a non-idempotent request the unknown outcome matters more. */
  if (ar.kind == PV_ATT_TIMEOUT && r->capped && v.cls == PV_ERR_TIMEOUT) {
    v.cls = PV_ERR_DEADLINE_EXCEEDED;
    v.retry = false;
  }
  uint64_t now = mono_ms();
  if (pv_breaker_record(&ep->breaker, now, r->admitted, r->gen, v.breaker,
                        &tr))
    notify_breaker(ep, &tr, true, 0);
  pump(ep); /* a slot is free: admit the next one before callbacks run */

  long dur = attempt_ms(r);
  bool refused = false;
  if (v.cls == PV_ERR_NONE) {
    pv_error_clear(&r->resp.err);
    r->resp.retry_at_ms = 0;
    observe_attempt(r, status, PV_ERR_NONE, dur, false, false);
    finish(r);
    return;
  }
  r->last_cls = v.cls;
  int64_t now_wall = pv_clock_wall_ms();
  int64_t ra_ms = -1;
  if (v.honour_retry_after && r->retry_after[0] &&
      pv_retry_after_parse(r->retry_after, strlen(r->retry_after), now_wall,
                           &ra_ms) != 0)
    ra_ms = -1;
  int64_t wait = ra_ms >= 0 ? ra_ms
                            : pv_backoff_full_jitter(
                                  r->resp.attempts, ep->conf.retry.backoff_base_ms,
                                  ep->conf.retry.backoff_cap_ms,
                                  pv_backoff_rand(&http->rng));
  /* For 429/503, say when a later try makes sense even if we stop now. */
  r->resp.retry_at_ms = v.honour_retry_after ? now_wall + wait : 0;

  if (!v.retry) {
    snprintf(why, sizeof(why), "attempt %d, not retryable", r->resp.attempts);
    goto fail;
  }
  if (r->resp.attempts >= r->max_attempts) {
    snprintf(why, sizeof(why), "after %d attempts", r->resp.attempts);
    goto fail;
  }
  if (ra_ms > ep->conf.retry.retry_after_max_ms) {
    snprintf(why, sizeof(why), "Retry-After %lld ms exceeds %d ms, attempt %d",
             (long long)ra_ms, ep->conf.retry.retry_after_max_ms,
             r->resp.attempts);
    goto fail;
  }
  if (r->deadline_ms && now_wall + wait >= r->deadline_ms) {
    snprintf(why, sizeof(why), "next try in %lld ms would pass the deadline, "
             "attempt %d", (long long)wait, r->resp.attempts);
    goto fail;
  }
  if (!pv_budget_try_retry(&ep->budget, now)) {
    ep->stats.budget_refused++;
    refused = true;
    snprintf(why, sizeof(why), "retry budget exhausted, attempt %d",
             r->resp.attempts);
    goto fail;
  }

  ep->stats.retries++;
  observe_attempt(r, status, v.cls, dur, true, false);
  log_attempt_error(r, &ar, code, &v, dur, NULL);
  pv_log(PV_LOG_INFO, "http_request.retry", REQ_FIELDS(r),
         PV_I("status", status), PV_I("duration_ms", dur),
         PV_I("wait_ms", wait), PV_B("retry_after", ra_ms >= 0),
         PV_S("error", pv_errclass_name(v.cls)));
  if (!r->timer_init) {
    if (uv_timer_init(http->loop, &r->timer) != 0) {
      snprintf(why, sizeof(why), "cannot start a retry timer");
      goto fail;
    }
    r->timer.data = r;
    r->timer_init = true;
  }
  r->state = RQ_BACKOFF;
  /* The loop's cached time may be stale after a long callback; refresh it
   * so the wait is never shorter than asked (Retry-After is a minimum). */
  uv_update_time(http->loop);
  /* uv_timer_start fails only for a closing handle or NULL callback. */
  if (uv_timer_start(&r->timer, on_retry_timer, (uint64_t)wait, 0) != 0) {
    snprintf(why, sizeof(why), "cannot start a retry timer");
    goto fail;
  }
  return;

fail:
  set_final_error(r, v.cls, code, ar.kind, why);
  observe_attempt(r, status, v.cls, dur, false, refused);
  log_attempt_error(r, &ar, code, &v, dur, r->resp.err.message);
  finish(r);
}

static void check_multi_info(pv_http_t *http)
{
  CURLMsg *msg;
  int pending;
  while (!http->doomed && (msg = curl_multi_info_read(http->multi, &pending))) {
    if (msg->msg != CURLMSG_DONE)
      continue;
    char *priv = NULL;
    CURLcode code = msg->data.result;
    if (curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv) !=
            CURLE_OK ||
        !priv)
      continue;
    attempt_done((req_t *)(void *)priv, code);
  }
}

/* ---- libuv <-> curl multi ----------------------------------------------- */

static void on_poll(uv_poll_t *h, int status, int events)
{
  sock_t *s = h->data;
  pv_http_t *http = s->http;
  int flags = 0, running;
  if (status < 0)
    flags = CURL_CSELECT_ERR;
  if (events & UV_READABLE)
    flags |= CURL_CSELECT_IN;
  if (events & UV_WRITABLE)
    flags |= CURL_CSELECT_OUT;
  enter(http);
  curl_multi_socket_action(http->multi, s->fd, flags, &running);
  check_multi_info(http);
  leave(http);
}

static void on_timeout(uv_timer_t *t)
{
  pv_http_t *http = t->data;
  int running;
  enter(http);
  curl_multi_socket_action(http->multi, CURL_SOCKET_TIMEOUT, 0, &running);
  check_multi_info(http);
  leave(http);
}

static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
  pv_http_t *http = userp;
  (void)multi;
  if (timeout_ms < 0)
    uv_timer_stop(&http->timer);
  else
    uv_timer_start(&http->timer, on_timeout, (uint64_t)timeout_ms, 0);
  return 0;
}

static void on_sock_closed(uv_handle_t *h)
{
  free(h->data);
}

static void sock_close(sock_t *s)
{
  pv_http_t *http = s->http;
  if (s->prev)
    s->prev->next = s->next;
  else
    http->socks = s->next;
  if (s->next)
    s->next->prev = s->prev;
  uv_close((uv_handle_t *)&s->poll, on_sock_closed);
}

static int on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *userp,
                          void *socketp)
{
  pv_http_t *http = userp;
  sock_t *s = socketp;
  (void)easy;

  if (what == CURL_POLL_REMOVE) {
    if (s) {
      uv_poll_stop(&s->poll);
      sock_close(s);
    }
    return 0;
  }
  if (!s) {
    s = pv_calloc(1, sizeof(*s));
    s->http = http;
    s->fd = fd;
    if (uv_poll_init_socket(http->loop, &s->poll, fd) != 0) {
      free(s);
      return -1; /* curl fails the transfer with CURLE_ABORTED_BY_CALLBACK */
    }
    s->poll.data = s;
    s->next = http->socks;
    if (s->next)
      s->next->prev = s;
    http->socks = s;
    curl_multi_assign(http->multi, fd, s);
  }
  int events = 0;
  if (what & CURL_POLL_IN)
    events |= UV_READABLE;
  if (what & CURL_POLL_OUT)
    events |= UV_WRITABLE;
  if (uv_poll_start(&s->poll, events, on_poll) != 0)
    return -1;
  return 0;
}

/* ---- engine ------------------------------------------------------------- */

void pv_http_conf_defaults(pv_http_conf_t *conf)
{
  *conf = (pv_http_conf_t){
    .connect_timeout_ms = 5000,
    .tls_verify = true,
    .ca_path = NULL,
    .max_response_bytes = 8u << 20,
  };
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init(void)
{
  curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void on_engine_handle_closed(uv_handle_t *h)
{
  pv_http_t *http = h->data;
  if (--http->open_handles == 0) {
    free(http->free_easy);
    free(http->ca_path);
    free(http);
  }
}

pv_http_t *pv_http_new(uv_loop_t *loop, const pv_http_conf_t *conf,
                       char *errstr, size_t errstr_size)
{
  pv_http_t *http = NULL;
  pv_http_conf_t defaults;

  if (!loop) {
    snprintf(errstr, errstr_size, "pv_http_new: loop is NULL");
    return NULL;
  }
  if (!conf) {
    pv_http_conf_defaults(&defaults);
    conf = &defaults;
  }
  if (conf->ca_path && (strlen(conf->ca_path) > 4096 || !conf->ca_path[0])) {
    snprintf(errstr, errstr_size, "ca_path: empty or longer than 4096 bytes");
    return NULL;
  }
  if (pthread_once(&curl_once, curl_init) != 0 || curl_init_rc != CURLE_OK) {
    snprintf(errstr, errstr_size, "curl_global_init failed");
    return NULL;
  }
  http = pv_calloc(1, sizeof(*http));
  http->loop = loop;
  http->conf = *conf;
  if (http->conf.connect_timeout_ms <= 0)
    http->conf.connect_timeout_ms = 5000;
  if (http->conf.max_response_bytes == 0)
    http->conf.max_response_bytes = 8u << 20;
  http->ca_path = conf->ca_path ? pv_strdup(conf->ca_path) : NULL;
  http->conf.ca_path = http->ca_path;
  http->free_easy = pv_calloc(FREE_EASY_MAX, sizeof(CURL *));
  http->rng = pv_clock_mono_us() ^ ((uint64_t)(uintptr_t)http << 16);

  http->multi = curl_multi_init();
  if (!http->multi) {
    snprintf(errstr, errstr_size, "curl_multi_init failed");
    goto fail;
  }
  if (curl_multi_setopt(http->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket) ||
      curl_multi_setopt(http->multi, CURLMOPT_SOCKETDATA, http) ||
      curl_multi_setopt(http->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer) ||
      curl_multi_setopt(http->multi, CURLMOPT_TIMERDATA, http) ||
      curl_multi_setopt(http->multi, CURLMOPT_MAXCONNECTS, 1L)) {
    snprintf(errstr, errstr_size, "curl_multi_setopt failed");
    goto fail;
  }
  http->conn_cap_set = 1;
  /* TLS sessions and DNS shared by all easy handles of this engine (one
   * thread: no lock callbacks needed). Optional: failure only costs
   * handshakes. */
  http->share = curl_share_init();
  if (http->share &&
      (curl_share_setopt(http->share, CURLSHOPT_SHARE,
                         CURL_LOCK_DATA_SSL_SESSION) != CURLSHE_OK ||
       curl_share_setopt(http->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS) !=
           CURLSHE_OK)) {
    curl_share_cleanup(http->share);
    http->share = NULL;
  }
  if (uv_timer_init(loop, &http->timer) != 0 ||
      uv_timer_init(loop, &http->defer) != 0) {
    /* uv_timer_init cannot fail on unix; if it ever does, nothing was
     * registered with the loop that would need closing. */
    snprintf(errstr, errstr_size, "uv_timer_init failed");
    goto fail;
  }
  http->timer.data = http;
  http->defer.data = http;
  http->open_handles = 2;
  return http;

fail:
  if (http->share)
    curl_share_cleanup(http->share);
  if (http->multi)
    curl_multi_cleanup(http->multi);
  free(http->free_easy);
  free(http->ca_path);
  free(http);
  return NULL;
}

void pv_http_set_breaker_cb(pv_http_t *http, pv_breaker_change_cb cb,
                            void *arg)
{
  http->bcb = cb;
  http->barg = arg;
}

static void endpoint_free(pv_endpoint_t *ep)
{
  curl_slist_free_all(ep->base_hdrs);
  pv_redact_destroy(ep->redact);
  free(ep->service);
  free(ep->tenant);
  free(ep->base_url);
  free(ep);
}

static void really_destroy(pv_http_t *http)
{
  http->destroying = true;
  http->doomed = true;
  enter(http);

  /* Cancel every live request; callbacks may not start new ones (doomed). */
  while (http->reqs) {
    req_t *r = http->reqs;
    pv_endpoint_t *ep = r->ep;
    pv_breaker_transition_t tr;
    if (r->state == RQ_ACTIVE && r->easy) {
      curl_multi_remove_handle(http->multi, r->easy);
      curl_easy_cleanup(r->easy);
      r->easy = NULL;
      ep->in_flight--;
      pv_breaker_record(&ep->breaker, mono_ms(), r->admitted, r->gen,
                        PV_BRK_CANCELLED, &tr);
    }
    if (r->timer_init)
      uv_timer_stop(&r->timer);
    r->qnext = NULL;
    pv_error_set(&r->resp.err, PV_ERR_INTERNAL, 0, "shutting down");
    r->resp.retry_at_ms = 0;
    finish(r);
  }
  http->done_head = http->done_tail = NULL;

  while (http->eps) {
    pv_endpoint_t *ep = http->eps;
    http->eps = ep->next;
    endpoint_free(ep);
  }
  for (int i = 0; i < http->n_free; i++)
    curl_easy_cleanup(http->free_easy[i]);
  http->n_free = 0;
  curl_multi_cleanup(http->multi);
  http->multi = NULL;
  if (http->share)
    curl_share_cleanup(http->share);
  http->share = NULL;
  while (http->socks) {
    uv_poll_stop(&http->socks->poll);
    sock_close(http->socks);
  }
  uv_timer_stop(&http->timer);
  uv_timer_stop(&http->defer);
  http->depth--; /* no leave(): we are the destroy */
  uv_close((uv_handle_t *)&http->timer, on_engine_handle_closed);
  uv_close((uv_handle_t *)&http->defer, on_engine_handle_closed);
}

void pv_http_destroy(pv_http_t *http)
{
  if (!http || http->doomed)
    return;
  http->doomed = true;
  if (http->depth > 0)
    return; /* inside one of our callbacks: leave() finishes the job */
  really_destroy(http);
}

/* ---- endpoints ---------------------------------------------------------- */

void pv_endpoint_conf_defaults(pv_endpoint_conf_t *conf)
{
  *conf = (pv_endpoint_conf_t){
    .service = NULL,
    .tenant = NULL,
    .base_url = NULL,
    .auth_headers = NULL,
    .max_connections = 20,
    .max_idle = 10,
    .retry = {.max_attempts = 3, .backoff_base_ms = 1000,
              .backoff_cap_ms = 10000, .retry_after_max_ms = 30000},
    .budget = {.ratio = 0.2, .min_per_sec = 3, .window_ms = 10000},
    .breaker = {.fail_max = 5, .reset_timeout_ms = 60000, .half_open_max = 1,
                .failure_rate = 0, .rate_window_ms = 30000,
                .rate_min_calls = 20},
    .max_queued = 10000,
  };
}

static int clamp_int(int v, int dflt, int lo, int hi)
{
  if (v == 0)
    return dflt;
  return v < lo ? lo : v > hi ? hi : v;
}

static double default_rate(double v, double dflt)
{
  if (v == 0)
    return dflt;
  return v < 0 ? 0 : v;
}

static bool valid_header_line(const char *h)
{
  size_t n = strnlen(h, HEADER_LINE_MAX + 1);
  const char *colon = strchr(h, ':');
  return n > 0 && n <= HEADER_LINE_MAX && colon && colon != h &&
         !has_ctl(h, true);
}

/* http(s)://host[:port][/prefix]: no userinfo, no spaces, no trailing '/'. */
static const char *check_base_url(const char *u)
{
  size_t n = strnlen(u, BASE_URL_MAX_LEN + 1);
  const char *rest;
  if (n == 0 || n > BASE_URL_MAX_LEN)
    return "empty or longer than 1024 bytes";
  if (strncmp(u, "http://", 7) == 0)
    rest = u + 7;
  else if (strncmp(u, "https://", 8) == 0)
    rest = u + 8;
  else
    return "must start with http:// or https://";
  if (!*rest || *rest == '/')
    return "has no host";
  if (has_ctl(u, false))
    return "contains spaces or control characters";
  size_t auth_len = strcspn(rest, "/?#");
  if (memchr(rest, '@', auth_len))
    return "contains userinfo; put credentials in auth_headers";
  if (u[n - 1] == '/')
    return "ends with '/'";
  if (strpbrk(rest, "?#"))
    return "contains a query or fragment";
  return NULL;
}

pv_endpoint_t *pv_http_endpoint_find(pv_http_t *http, const char *service,
                                     const char *tenant, const char *base_url)
{
  if (!http || !service || !tenant || !base_url)
    return NULL;
  for (pv_endpoint_t *ep = http->eps; ep; ep = ep->next)
    if (strcmp(ep->service, service) == 0 && strcmp(ep->tenant, tenant) == 0 &&
        strcmp(ep->base_url, base_url) == 0)
      return ep;
  return NULL;
}

pv_endpoint_t *pv_http_endpoint(pv_http_t *http, const pv_endpoint_conf_t *conf,
                                char *errstr, size_t errstr_size)
{
  pv_endpoint_t *ep = NULL;
  const char *bad;
  size_t n_auth = 0;

  if (!http || !conf) {
    snprintf(errstr, errstr_size, "pv_http_endpoint: http or conf is NULL");
    return NULL;
  }
  if (http->doomed) {
    snprintf(errstr, errstr_size, "engine is shutting down");
    return NULL;
  }
  if (!conf->service || !conf->service[0] ||
      strnlen(conf->service, NAME_MAX_LEN + 1) > NAME_MAX_LEN ||
      has_ctl(conf->service, false)) {
    snprintf(errstr, errstr_size,
             "service: missing, longer than %d bytes or not printable",
             NAME_MAX_LEN);
    return NULL;
  }
  if (!conf->tenant || !conf->tenant[0] ||
      strnlen(conf->tenant, NAME_MAX_LEN + 1) > NAME_MAX_LEN ||
      has_ctl(conf->tenant, false)) {
    snprintf(errstr, errstr_size,
             "tenant: missing, longer than %d bytes or not printable",
             NAME_MAX_LEN);
    return NULL;
  }
  if (!conf->base_url) {
    snprintf(errstr, errstr_size, "base_url: missing");
    return NULL;
  }
  bad = check_base_url(conf->base_url);
  if (bad) {
    /* the URL is not echoed: a rejected URL may hold credentials */
    snprintf(errstr, errstr_size, "base_url for %s/%s: %s", conf->service,
             conf->tenant, bad);
    return NULL;
  }
  for (; conf->auth_headers && conf->auth_headers[n_auth]; n_auth++) {
    if (n_auth >= HEADERS_MAX || !valid_header_line(conf->auth_headers[n_auth])) {
      /* never echo the header: it is a secret */
      snprintf(errstr, errstr_size,
               "auth_headers[%zu] for %s/%s: not a \"Name: value\" line "
               "(or over %d lines / %d bytes, or has control characters)",
               n_auth, conf->service, conf->tenant, HEADERS_MAX,
               HEADER_LINE_MAX);
      return NULL;
    }
  }

  ep = pv_http_endpoint_find(http, conf->service, conf->tenant,
                             conf->base_url);
  if (ep)
    return ep;

  ep = pv_calloc(1, sizeof(*ep));
  ep->http = http;
  ep->service = pv_strdup(conf->service);
  ep->tenant = pv_strdup(conf->tenant);
  ep->base_url = pv_strdup(conf->base_url);
  ep->conf = *conf;
  ep->conf.service = ep->service;
  ep->conf.tenant = ep->tenant;
  ep->conf.base_url = ep->base_url;
  ep->conf.auth_headers = NULL;

  pv_endpoint_conf_t *c = &ep->conf;
  c->max_connections = clamp_int(c->max_connections, 20, 1, 10000);
  c->max_idle = clamp_int(c->max_idle, 10, 0, c->max_connections);
  c->max_queued = clamp_int(c->max_queued, 10000, 1, 10000000);
  c->retry.max_attempts = clamp_int(c->retry.max_attempts, 3, 1, ATTEMPTS_MAX);
  c->retry.backoff_base_ms = clamp_int(c->retry.backoff_base_ms, 1000, 0,
                                       3600000);
  c->retry.backoff_cap_ms = clamp_int(c->retry.backoff_cap_ms, 10000, 0,
                                      3600000);
  c->retry.retry_after_max_ms = clamp_int(c->retry.retry_after_max_ms, 30000,
                                          0, 24 * 3600000);
  c->budget.ratio = default_rate(c->budget.ratio, 0.2);
  c->budget.min_per_sec = default_rate(c->budget.min_per_sec, 3);
  c->budget.window_ms = clamp_int(c->budget.window_ms, 10000, 1, 3600000);
  pv_budget_init(&ep->budget, &c->budget);
  pv_breaker_init(&ep->breaker, &c->breaker);
  c->breaker = ep->breaker.conf;

  /* Headers every request of this endpoint carries. "Expect:" stops curl
   * from waiting for 100-continue on large bodies. */
  struct curl_slist *l = curl_slist_append(NULL, "Expect:");
  for (size_t i = 0; l && i < n_auth; i++) {
    struct curl_slist *nl = curl_slist_append(l, conf->auth_headers[i]);
    if (!nl) {
      curl_slist_free_all(l);
      l = NULL;
    }
    l = nl;
  }
  if (!l) {
    snprintf(errstr, errstr_size, "out of memory building headers");
    endpoint_free(ep);
    return NULL;
  }
  ep->base_hdrs = l;
  ep->redact = pv_redact_new();
  for (size_t i = 0; i < n_auth; i++)
    pv_redact_add_header(ep->redact, conf->auth_headers[i]);

  ep->next = http->eps;
  http->eps = ep;
  http->conn_cap += c->max_idle;
  return ep;
}

pv_breaker_state_t pv_endpoint_breaker_state(const pv_endpoint_t *ep)
{
  return ep->breaker.state;
}

const char *pv_endpoint_base_url(const pv_endpoint_t *ep)
{
  return ep->base_url;
}

void pv_endpoint_set_breaker(pv_endpoint_t *ep, pv_breaker_state_t state,
                             int64_t open_until_ms, const char *reason)
{
  pv_breaker_transition_t tr;
  uint64_t now = mono_ms();
  uint64_t until = 0;
  if ((unsigned)state > PV_BREAKER_DISABLED)
    return;
  if (state == PV_BREAKER_OPEN && open_until_ms > 0) {
    int64_t left = open_until_ms - pv_clock_wall_ms();
    until = now + (uint64_t)(left > 0 ? left : 0);
    if (until == 0)
      until = 1;
  }
  if (pv_breaker_set(&ep->breaker, now, state, until,
                     reason ? reason : "set externally", &tr))
    notify_breaker(ep, &tr, false,
                   state == PV_BREAKER_OPEN && open_until_ms > 0 ? open_until_ms
                                                                 : 0);
}

void pv_endpoint_stats(const pv_endpoint_t *ep, pv_endpoint_stats_t *out)
{
  *out = ep->stats;
  out->in_flight = ep->in_flight;
  out->queued = ep->queued;
}

void pv_http_set_attempt_cb(pv_http_t *http, pv_http_attempt_cb cb, void *arg)
{
  http->acb = cb;
  http->aarg = arg;
}

void pv_http_each_endpoint(pv_http_t *http, pv_http_endpoint_fn fn, void *arg)
{
  for (pv_endpoint_t *ep = http->eps; ep; ep = ep->next) {
    pv_endpoint_info_t info = {
      .service = ep->service,
      .tenant = ep->tenant,
      .base_url = ep->base_url,
      .max_connections = ep->conf.max_connections,
      .breaker = ep->breaker.state,
    };
    pv_endpoint_stats(ep, &info.stats);
    fn(&info, arg);
  }
}

/* ---- requests ----------------------------------------------------------- */

static const char *find_method(const char *m)
{
  for (int i = 0; m && methods[i]; i++)
    if (strcmp(m, methods[i]) == 0)
      return methods[i];
  return NULL;
}

static size_t bounded_len(const char *s, size_t max)
{
  return s ? strnlen(s, max) : 0;
}

int pv_http_send(pv_endpoint_t *ep, const pv_http_request_t *req,
                 pv_http_done_cb cb, void *arg, pv_error_t *err)
{
  pv_error_t dummy;
  if (!err)
    err = &dummy;
  if (!ep || !req || !cb) {
    pv_error_set(err, PV_ERR_INTERNAL, 0, "pv_http_send: NULL argument");
    return -1;
  }
  pv_http_t *http = ep->http;
  if (http->doomed) {
    pv_error_set(err, PV_ERR_INTERNAL, 0, "shutting down");
    return -1;
  }
  const char *method = find_method(req->method);
  if (!method) {
    pv_error_set(err, PV_ERR_BAD_ARGS, 0,
                 "method: must be GET, POST, PUT, PATCH, DELETE or HEAD");
    return -1;
  }
  size_t path_len = bounded_len(req->path, PATH_MAX_LEN + 1);
  if (!req->path || req->path[0] != '/' || path_len > PATH_MAX_LEN ||
      has_ctl(req->path, false)) {
    pv_error_set(err, PV_ERR_BAD_ARGS, 0,
                 "path: must start with '/', be at most %d bytes and have no "
                 "spaces or control characters",
                 PATH_MAX_LEN);
    return -1;
  }
  size_t n_hdr = 0, hdr_bytes = 0;
  bool caller_ctype = false;
  for (; req->headers && req->headers[n_hdr]; n_hdr++) {
    if (n_hdr >= HEADERS_MAX || !valid_header_line(req->headers[n_hdr])) {
      pv_error_set(err, PV_ERR_BAD_ARGS, 0,
                   "headers[%zu]: not a \"Name: value\" line (or over %d "
                   "lines / %d bytes, or has control characters)",
                   n_hdr, HEADERS_MAX, HEADER_LINE_MAX);
      return -1;
    }
    hdr_bytes += strlen(req->headers[n_hdr]) + 1;
    if (strncasecmp(req->headers[n_hdr], "content-type:", 13) == 0)
      caller_ctype = true;
  }
  if (req->body_len > REQUEST_BODY_MAX || (!req->body && req->body_len)) {
    pv_error_set(err, PV_ERR_BAD_ARGS, 0,
                 "body: %zu bytes (max %u, and body_len needs a body)",
                 req->body_len, REQUEST_BODY_MAX);
    return -1;
  }
  const char *ctype = req->content_type ? req->content_type : "application/json";
  if (strnlen(ctype, 257) > 256 || has_ctl(ctype, true)) {
    pv_error_set(err, PV_ERR_BAD_ARGS, 0,
                 "content_type: over 256 bytes or has control characters");
    return -1;
  }
  if (req->traceparent && (strnlen(req->traceparent, 257) > 256 ||
                           has_ctl(req->traceparent, false))) {
    pv_error_set(err, PV_ERR_BAD_ARGS, 0,
                 "traceparent: over 256 bytes or not printable");
    return -1;
  }
  if (req->timeout_ms < 0 || req->timeout_ms > TIMEOUT_MAX_MS ||
      req->max_attempts < 0 || req->max_attempts > ATTEMPTS_MAX ||
      req->deadline_ms < 0) {
    pv_error_set(err, PV_ERR_BAD_ARGS, 0,
                 "timeout_ms %ld (0..%ld), max_attempts %d (0..%d) or "
                 "deadline_ms out of range",
                 req->timeout_ms, TIMEOUT_MAX_MS, req->max_attempts,
                 ATTEMPTS_MAX);
    return -1;
  }
  if (ep->queued >= ep->conf.max_queued) {
    pv_error_set(err, PV_ERR_INTERNAL, 0,
                 "admission queue of %s/%s full (%d waiting)", ep->service,
                 ep->tenant, ep->queued);
    return -1;
  }

  /* Log context is cut, not refused: it only labels log lines. */
  size_t base_len = strlen(ep->base_url);
  size_t job_len = bounded_len(req->job_id, NAME_MAX_LEN);
  size_t op_len = bounded_len(req->op, NAME_MAX_LEN);
  size_t tp_len = bounded_len(req->traceparent, 256);
  size_t strs = base_len + path_len + 1 + job_len + 1 + op_len + 1 +
                tp_len + 1;
  req_t *r = pv_calloc(1, sizeof(*r) + strs);
  char *p = r->strs;
  memcpy(p, ep->base_url, base_len);
  memcpy(p + base_len, req->path, path_len + 1);
  r->url = p;
  r->path = p + base_len;
  p += base_len + path_len + 1;
  if (req->job_id) {
    memcpy(p, req->job_id, job_len);
    p[job_len] = '\0';
    r->job_id = p;
    p += job_len + 1;
  }
  if (req->op) {
    memcpy(p, req->op, op_len);
    p[op_len] = '\0';
    r->op = p;
    p += op_len + 1;
  }
  if (req->traceparent) {
    memcpy(p, req->traceparent, tp_len);
    p[tp_len] = '\0';
    r->traceparent = p;
  }

  /* Per-request header nodes, in one block, chained onto the endpoint's
   * shared list (curl only reads the list). */
  bool has_ctype = !caller_ctype &&
                   (req->body != NULL || strcmp(method, "POST") == 0 ||
                    strcmp(method, "PUT") == 0 || strcmp(method, "PATCH") == 0);
  size_t n_nodes = n_hdr + (has_ctype ? 1 : 0) + (req->traceparent ? 1 : 0);
  r->hdrs = ep->base_hdrs;
  if (n_nodes) {
    size_t extra = hdr_bytes + (has_ctype ? strlen(ctype) + 16 : 0) +
                   (req->traceparent ? strlen(req->traceparent) + 16 : 0);
    struct curl_slist *nodes =
        pv_malloc(n_nodes * sizeof(struct curl_slist) + extra);
    char *sp = (char *)(nodes + n_nodes);
    size_t k = 0;
    for (size_t i = 0; i < n_hdr; i++, k++) {
      size_t l = strlen(req->headers[i]);
      memcpy(sp, req->headers[i], l + 1);
      nodes[k].data = sp;
      sp += l + 1;
    }
    if (has_ctype) {
      int l = snprintf(sp, strlen(ctype) + 16, "Content-Type: %s", ctype);
      nodes[k++].data = sp;
      sp += l + 1;
    }
    if (req->traceparent) {
      int l = snprintf(sp, strlen(req->traceparent) + 16, "traceparent: %s",
                       req->traceparent);
      nodes[k++].data = sp;
      sp += l + 1;
    }
    for (size_t i = 0; i < n_nodes; i++)
      nodes[i].next = i + 1 < n_nodes ? &nodes[i + 1] : ep->base_hdrs;
    r->hdrs = nodes;
    r->hdr_block = nodes;
  }
  if (req->body) {
    r->body = pv_malloc(req->body_len + 1);
    memcpy(r->body, req->body, req->body_len);
    r->body[req->body_len] = '\0';
    r->body_len = req->body_len;
  }

  r->http = http;
  r->ep = ep;
  r->method = method;
  r->timeout_ms = req->timeout_ms ? req->timeout_ms : DEFAULT_TIMEOUT_MS;
  r->deadline_ms = req->deadline_ms;
  r->idempotent = req->idempotent;
  r->max_attempts = req->max_attempts ? req->max_attempts
                                      : ep->conf.retry.max_attempts;
  r->cb = cb;
  r->arg = arg;
  r->start_us = pv_clock_mono_us();
  r->last_cls = PV_ERR_NONE;
  pv_buf_init(&r->body_buf, http->conf.max_response_bytes);
  reset_capture(r);
  pv_error_clear(&r->resp.err);

  r->next = http->reqs;
  if (r->next)
    r->next->prev = r;
  http->reqs = r;

  pv_budget_on_request(&ep->budget, mono_ms());
  /* Inside pv_http_send the caller is on the stack: anything that ends the
   * request now goes through finish_later (begin_attempt never finishes
   * directly), and a destroy from a callback waits for us. */
  enter(http);
  begin_attempt(r);
  leave(http);
  pv_error_clear(err);
  return 0;
}

/* ---- blocking wrapper --------------------------------------------------- */

typedef struct sync_ctx {
  bool done;
  pv_http_response_t *out;
  char **body;
} sync_ctx_t;

static void on_sync_done(const pv_http_response_t *resp, void *arg)
{
  sync_ctx_t *sc = arg;
  *sc->out = *resp;
  sc->out->body = NULL;
  if (sc->body) {
    *sc->body = pv_malloc(resp->body_len + 1);
    memcpy(*sc->body, resp->body, resp->body_len);
    (*sc->body)[resp->body_len] = '\0';
    sc->out->body = *sc->body;
  }
  sc->done = true;
}

int pv_http_send_sync(const pv_http_conf_t *hconf,
                      const pv_endpoint_conf_t *econf,
                      const pv_http_request_t *req, pv_http_response_t *out,
                      char **body)
{
  uv_loop_t loop;
  pv_http_t *http = NULL;
  char errstr[256];
  int rc = -1;
  sync_ctx_t sc = {false, out, body};

  memset(out, 0, sizeof(*out));
  out->total = -1;
  out->grpc_status = -1;
  if (body)
    *body = NULL;
  if (uv_loop_init(&loop) != 0) {
    pv_error_set(&out->err, PV_ERR_INTERNAL, 0, "uv_loop_init failed");
    return -1;
  }
  http = pv_http_new(&loop, hconf, errstr, sizeof(errstr));
  if (!http) {
    pv_error_set(&out->err, PV_ERR_INTERNAL, 0, "%s", errstr);
    goto out;
  }
  pv_endpoint_t *ep = pv_http_endpoint(http, econf, errstr, sizeof(errstr));
  if (!ep) {
    pv_error_set(&out->err, PV_ERR_BAD_ARGS, 0, "%s", errstr);
    goto out;
  }
  if (pv_http_send(ep, req, on_sync_done, &sc, &out->err) != 0)
    goto out;
  while (!sc.done)
    uv_run(&loop, UV_RUN_ONCE);
  rc = out->err.cls == PV_ERR_NONE ? 0 : -1;

out:
  pv_http_destroy(http);
  uv_run(&loop, UV_RUN_DEFAULT);
  if (uv_loop_close(&loop) != 0)
    pv_log(PV_LOG_WARN, "http.sync_loop_busy",
           PV_S("msg", "private loop still had handles at close"));
  return rc;
}
