/* The HTTP side of the simulator: one libmicrohttpd daemon per emulated
 * service, each with its own epoll thread, plus one timer thread per daemon
 * that resumes connections suspended for latency or hang faults. Handlers
 * never sleep: a delayed response is a suspended connection and an entry in
 * the timer list. */
#include "dev/sim/sim.h"

#include "common/alloc.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Bounded request log: enough for any test, small enough to keep. */
#define RING_CAP 100000u
/* Distinct "METHOD path" keys kept in the stats; the rest are "(other)". */
#define PATHS_MAX 10000u
#define FAULTS_MAX 16u
#define PATH_KEY_MAX 256u
#define QUERY_LOG_MAX 512u
/* A W3C traceparent is 55 bytes; longer values are cut in the log. */
#define TRACEPARENT_LOG_MAX 64u
/* How often a hung connection is checked for a client that gave up. */
#define HANG_POLL_MS 200u

typedef enum fault_mode {
  FM_NONE = 0,
  FM_ERROR,
  FM_LATENCY,
  FM_RESET,
  FM_HANG,
  FM_RATELIMIT,
  FM_RESET_AFTER
} fault_mode_t;

static const char *const fault_mode_names[] = {"none",  "error",     "latency",
                                               "reset", "hang",      "ratelimit",
                                               "reset_after"};

typedef struct fault {
  fault_mode_t mode;
  unsigned status;
  double rate;
  unsigned latency_ms;
  unsigned retry_after;
  long long count; /* -1: unlimited */
  char *path_prefix;
  char *method;
} fault_t;

typedef struct logent {
  uint64_t seq;
  int64_t ts_ms;
  uint64_t mono_ms;
  char method[12];
  char *path;
  char *query;
  char traceparent[TRACEPARENT_LOG_MAX + 1]; /* "" when absent */
  bool handled; /* the service's model saw it (not faulted away) */
} logent_t;

typedef struct waiter {
  struct MHD_Connection *conn;
  uint64_t due_ms;
  int fd;
  bool hang;
} waiter_t;

struct sim_server_s {
  const sim_svc_ops_t *ops;
  void *state;
  pthread_mutex_t model_mu; /* serialises the service's handlers */
  struct MHD_Daemon *mhd;
  int lfd;
  uint16_t port;
  char bind[64];
  unsigned latency_ms;

  /* Faults, counters and the request log. @locks mu */
  pthread_mutex_t mu;
  fault_t faults[FAULTS_MAX];
  size_t nfaults;
  uint64_t rng;
  uint64_t requests, conns_accepted, conns_open, faults_injected;
  uint64_t responses[600];
  json_t *paths;
  uint64_t paths_other;
  logent_t *ring;
  uint64_t next_seq;  /* the seq the next request gets */
  uint64_t first_seq; /* the oldest seq still in the ring */

  /* Suspended connections. @locks tmu */
  pthread_mutex_t tmu;
  pthread_cond_t tcv;
  pthread_t tthread;
  bool tthread_started;
  waiter_t *waits;
  size_t nwaits, wcap;
  atomic_int stopping; /* read by handlers without tmu */
};

typedef struct req_ctx {
  pv_buf_t body;
  bool too_large;
  bool admin;
  bool decided;
  bool suspended;
  bool hung;
  unsigned fault_status; /* error/ratelimit to send after a delay */
  unsigned retry_after;
  bool reset_after; /* handle the request, then reset instead of answering */
  uint64_t seq;     /* in the request log (API requests only) */
} req_ctx_t;

/* ---- response and request helpers ---- */

void sim_resp_clear(sim_resp_t *resp)
{
  free(resp->body);
  free(resp->reason);
  for (size_t i = 0; i < resp->nhdrs; i++) {
    free(resp->hdrs[i].name);
    free(resp->hdrs[i].value);
  }
  memset(resp, 0, sizeof(*resp));
}

static void resp_reset_body(sim_resp_t *resp)
{
  free(resp->body);
  resp->body = NULL;
  resp->body_len = 0;
}

void sim_resp_text(sim_resp_t *resp, unsigned status, const char *fmt, ...)
{
  va_list ap;
  resp_reset_body(resp);
  va_start(ap, fmt);
  int n = vasprintf(&resp->body, fmt, ap);
  va_end(ap);
  if (n < 0) {
    resp->body = NULL;
    n = 0;
  }
  resp->body_len = (size_t)n;
  resp->status = status;
  resp->content_type = "text/plain; charset=utf-8";
}

void sim_resp_json(sim_resp_t *resp, unsigned status, json_t *json)
{
  resp_reset_body(resp);
  resp->body = json_dumps(json, JSON_COMPACT | JSON_ENCODE_ANY);
  resp->body_len = resp->body ? strlen(resp->body) : 0;
  json_decref(json);
  resp->status = status;
  resp->content_type = "application/json";
}

void sim_resp_admin_error(sim_resp_t *resp, unsigned status, const char *fmt,
                          ...)
{
  char msg[320];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  sim_resp_json(resp, status, json_pack("{s:s}", "error", msg));
}

json_t *sim_admin_body(const sim_req_t *req, sim_resp_t *resp)
{
  json_error_t jerr;
  json_t *body = json_loadb(req->body, req->body_len, 0, &jerr);
  if (json_is_object(body))
    return body;
  sim_resp_admin_error(resp, 400, "the body must be a JSON object%s%.100s",
                       body ? "" : ": ", body ? "" : jerr.text);
  json_decref(body);
  return NULL;
}

void sim_resp_header(sim_resp_t *resp, const char *name, const char *fmt, ...)
{
  if (resp->nhdrs == SIM_HDRS_MAX)
    return;
  va_list ap;
  char *value = NULL;
  va_start(ap, fmt);
  int n = vasprintf(&value, fmt, ap);
  va_end(ap);
  if (n < 0)
    return;
  resp->hdrs[resp->nhdrs].name = pv_strdup(name);
  resp->hdrs[resp->nhdrs].value = value;
  resp->nhdrs++;
}

void sim_resp_reason(sim_resp_t *resp, const char *reason)
{
  free(resp->reason);
  resp->reason = reason ? pv_strdup(reason) : NULL;
}

const char *sim_req_arg(const sim_req_t *req, const char *key)
{
  for (size_t i = 0; i < req->nargs; i++)
    if (strcmp(req->args[i].key, key) == 0)
      return req->args[i].value ? req->args[i].value : "";
  return NULL;
}

bool sim_req_has_arg(const sim_req_t *req, const char *key)
{
  return sim_req_arg(req, key) != NULL;
}

const char *sim_req_header(const sim_req_t *req, const char *name)
{
  return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

/* ---- stats and the request log ---- */

static enum MHD_Result collect_raw_query(void *cls, enum MHD_ValueKind kind,
                                         const char *key, const char *value)
{
  pv_buf_t *q = cls;
  if (q->len)
    (void)pv_buf_append(q, "&", 1);
  if (value)
    (void)pv_buf_appendf(q, "%s=%s", key, value);
  else
    (void)pv_buf_appendf(q, "%s", key);
  return q->data ? MHD_YES : MHD_NO;
}

/* @returns the request's log seq, for log_handled. */
static uint64_t log_request(sim_server_t *srv, struct MHD_Connection *conn,
                            const char *method, const char *url)
{
  char key[PATH_KEY_MAX];
  pv_buf_t q;
  pv_buf_init(&q, QUERY_LOG_MAX);
  MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect_raw_query,
                            &q);
  snprintf(key, sizeof(key), "%s %s", method, url);

  pthread_mutex_lock(&srv->mu);
  srv->requests++;
  uint64_t seq = srv->next_seq++;
  logent_t *e = &srv->ring[seq % RING_CAP];
  free(e->path);
  free(e->query);
  e->seq = seq;
  e->ts_ms = pv_clock_wall_ms();
  e->mono_ms = sim_clock_ms();
  snprintf(e->method, sizeof(e->method), "%s", method);
  e->path = pv_strdup(url);
  e->query = q.data ? pv_strdup(q.data) : pv_strdup("");
  const char *tp =
      MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "traceparent");
  snprintf(e->traceparent, sizeof(e->traceparent), "%s", tp ? tp : "");
  for (char *c = e->traceparent; *c; c++) /* the log is JSON: ASCII only */
    if (*c < 0x20 || *c > 0x7e)
      *c = '?';
  e->handled = false;
  if (seq - srv->first_seq >= RING_CAP)
    srv->first_seq = seq - RING_CAP + 1;

  json_t *n = json_object_get(srv->paths, key);
  if (n)
    json_integer_set(n, json_integer_value(n) + 1);
  else if (json_object_size(srv->paths) < PATHS_MAX)
    json_object_set_new(srv->paths, key, json_integer(1));
  else
    srv->paths_other++;
  pthread_mutex_unlock(&srv->mu);
  pv_buf_free(&q);
  return seq;
}

/* Marks logged request seq as seen by the service's model: its effect (if
 * it has one) took place, whatever the client then receives. */
static void log_handled(sim_server_t *srv, uint64_t seq)
{
  pthread_mutex_lock(&srv->mu);
  logent_t *e = &srv->ring[seq % RING_CAP];
  if (e->seq == seq) /* not yet overwritten by a newer request */
    e->handled = true;
  pthread_mutex_unlock(&srv->mu);
}

static void count_response(sim_server_t *srv, unsigned status)
{
  pthread_mutex_lock(&srv->mu);
  if (status < 600)
    srv->responses[status]++;
  pthread_mutex_unlock(&srv->mu);
}

/* ---- faults ---- */

static void fault_free(fault_t *f)
{
  free(f->path_prefix);
  free(f->method);
  memset(f, 0, sizeof(*f));
}

static void faults_clear_locked(sim_server_t *srv)
{
  for (size_t i = 0; i < srv->nfaults; i++)
    fault_free(&srv->faults[i]);
  srv->nfaults = 0;
}

/* Parses one fault object; unknown keys are refused so a typo in a test
 * does not silently inject nothing. */
static int fault_parse(const json_t *obj, fault_t *f, char *err, size_t errlen)
{
  static const char *const known[] = {"mode",        "status",     "rate",
                                      "latency_ms",  "retry_after", "count",
                                      "path_prefix", "method"};
  memset(f, 0, sizeof(*f));
  if (!json_is_object(obj)) {
    snprintf(err, errlen, "a fault must be a JSON object");
    return -1;
  }
  if (sim_json_known_keys(obj, known, sizeof(known) / sizeof(known[0]),
                          "fault", err, errlen) < 0)
    return -1;
  const char *mode = json_string_value(json_object_get(obj, "mode"));
  if (!mode) {
    snprintf(err, errlen, "\"mode\" is required: one of none, error, "
                          "latency, reset, hang, ratelimit, reset_after");
    return -1;
  }
  f->mode = FM_NONE;
  bool found = false;
  for (int i = 0; i <= FM_RESET_AFTER; i++)
    if (strcmp(mode, fault_mode_names[i]) == 0) {
      f->mode = (fault_mode_t)i;
      found = true;
    }
  if (!found) {
    snprintf(err, errlen, "unknown mode \"%.32s\": use none, error, latency, "
                          "reset, hang, ratelimit or reset_after", mode);
    return -1;
  }
  long long status = 503, latency = 1000, retry_after = 1, count = -1;
  if (sim_json_int(obj, "status", 100, 599, &status, err, errlen) < 0 ||
      sim_json_int(obj, "latency_ms", 0, 3600000, &latency, err, errlen) <
          0 ||
      sim_json_int(obj, "retry_after", 0, 86400, &retry_after, err,
                   errlen) < 0 ||
      sim_json_int(obj, "count", -1, LLONG_MAX, &count, err, errlen) < 0)
    return -1;
  f->rate = 1.0;
  json_t *rate = json_object_get(obj, "rate");
  if (rate && !json_is_null(rate)) {
    if (!json_is_number(rate) || json_number_value(rate) < 0 ||
        json_number_value(rate) > 1) {
      snprintf(err, errlen, "\"rate\" must be a number in [0, 1]");
      return -1;
    }
    f->rate = json_number_value(rate);
  }
  json_t *pp = json_object_get(obj, "path_prefix");
  if (pp && !json_is_null(pp)) {
    if (!json_is_string(pp) || json_string_length(pp) > 512) {
      snprintf(err, errlen, "\"path_prefix\" must be a string (<= 512)");
      return -1;
    }
    f->path_prefix = pv_strdup(json_string_value(pp));
  }
  json_t *m = json_object_get(obj, "method");
  if (m && !json_is_null(m)) {
    if (!json_is_string(m) || json_string_length(m) > 16) {
      free(f->path_prefix);
      f->path_prefix = NULL;
      snprintf(err, errlen, "\"method\" must be an HTTP method");
      return -1;
    }
    f->method = pv_strdup(json_string_value(m));
  }
  f->status = f->mode == FM_RATELIMIT ? 429 : (unsigned)status;
  f->latency_ms = (unsigned)latency;
  f->retry_after = (unsigned)retry_after;
  f->count = count;
  return 0;
}

static json_t *fault_json(const fault_t *f)
{
  json_t *o = json_object();
  json_object_set_new(o, "mode", json_string(fault_mode_names[f->mode]));
  json_object_set_new(o, "status", json_integer(f->status));
  json_object_set_new(o, "rate", json_real(f->rate));
  json_object_set_new(o, "latency_ms", json_integer(f->latency_ms));
  json_object_set_new(o, "retry_after", json_integer(f->retry_after));
  json_object_set_new(o, "count", f->count < 0 ? json_null()
                                               : json_integer(f->count));
  json_object_set_new(o, "path_prefix", f->path_prefix
                                            ? json_string(f->path_prefix)
                                            : json_null());
  json_object_set_new(o, "method",
                      f->method ? json_string(f->method) : json_null());
  return o;
}

/* Decides whether this request is faulted; copies the fault's parameters
 * (without its strings) into *out. */
static bool pick_fault(sim_server_t *srv, const char *url, const char *method,
                       fault_t *out)
{
  bool hit = false;
  pthread_mutex_lock(&srv->mu);
  for (size_t i = 0; i < srv->nfaults && !hit; i++) {
    fault_t *f = &srv->faults[i];
    if (f->mode == FM_NONE || f->count == 0)
      continue;
    if (f->path_prefix &&
        strncmp(url, f->path_prefix, strlen(f->path_prefix)) != 0)
      continue;
    if (f->method && strcasecmp(method, f->method) != 0)
      continue;
    if (f->rate < 1.0) {
      double r = (double)(sim_rng_next(&srv->rng) >> 11) * 0x1.0p-53;
      if (r >= f->rate)
        continue;
    }
    if (f->count > 0)
      f->count--;
    srv->faults_injected++;
    *out = *f;
    out->path_prefix = NULL;
    out->method = NULL;
    hit = true;
  }
  pthread_mutex_unlock(&srv->mu);
  return hit;
}

/* ---- timers: suspended connections ---- */

static bool client_gone(int fd)
{
  char c;
  ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n == 0)
    return true;
  return n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
}

static void *timer_main(void *arg)
{
  sim_server_t *srv = arg;
  struct MHD_Connection **ready = NULL;
  size_t ready_cap = 0;
  pthread_mutex_lock(&srv->tmu);
  while (!srv->stopping) {
    uint64_t now = pv_clock_mono_ms();
    uint64_t next = now + 60000;
    size_t nready = 0;
    for (size_t i = 0; i < srv->nwaits;) {
      waiter_t *w = &srv->waits[i];
      bool fire = w->hang ? client_gone(w->fd) : w->due_ms <= now;
      if (fire) {
        if (nready == ready_cap) {
          ready_cap = ready_cap ? ready_cap * 2 : 64;
          ready = pv_realloc(ready, ready_cap * sizeof(*ready));
        }
        ready[nready++] = w->conn;
        srv->waits[i] = srv->waits[--srv->nwaits];
        continue;
      }
      uint64_t due = w->hang ? now + HANG_POLL_MS : w->due_ms;
      if (due < next)
        next = due;
      i++;
    }
    if (nready) {
      /* Resume outside our lock: MHD takes its own mutex inside. A
       * suspended connection cannot be freed until it is resumed, so the
       * pointers stay valid. */
      pthread_mutex_unlock(&srv->tmu);
      for (size_t i = 0; i < nready; i++)
        MHD_resume_connection(ready[i]);
      pthread_mutex_lock(&srv->tmu);
      continue;
    }
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t wait = next > now ? next - now : 0;
    ts.tv_sec += (time_t)(wait / 1000);
    ts.tv_nsec += (long)(wait % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
      ts.tv_sec++;
      ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&srv->tcv, &srv->tmu, &ts);
  }
  pthread_mutex_unlock(&srv->tmu);
  free(ready);
  return NULL;
}

static int conn_fd(struct MHD_Connection *conn)
{
  const union MHD_ConnectionInfo *ci =
      MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
  return ci ? ci->connect_fd : -1;
}

/* Suspends conn until delay_ms passed (or, for a hang, until the client
 * goes away or the server stops). Suspend first, then register, so the
 * timer can never resume a connection that is not suspended yet. */
static void suspend_for(sim_server_t *srv, req_ctx_t *ctx,
                        struct MHD_Connection *conn, unsigned delay_ms,
                        bool hang)
{
  MHD_suspend_connection(conn);
  ctx->suspended = true;
  pthread_mutex_lock(&srv->tmu);
  if (srv->nwaits == srv->wcap) {
    srv->wcap = srv->wcap ? srv->wcap * 2 : 64;
    srv->waits = pv_realloc(srv->waits, srv->wcap * sizeof(*srv->waits));
  }
  srv->waits[srv->nwaits++] = (waiter_t){
      .conn = conn,
      .due_ms = pv_clock_mono_ms() + delay_ms,
      .fd = conn_fd(conn),
      .hang = hang,
  };
  pthread_cond_signal(&srv->tcv);
  pthread_mutex_unlock(&srv->tmu);
}

/* Aborts the TCP connection with a RST. SO_LINGER 0 alone is not enough:
 * MHD shuts the write side down before closing, which sends a FIN first.
 * connect(AF_UNSPEC) disconnects a Linux TCP socket at once and resets an
 * established connection; MHD's later shutdown/close then do nothing on
 * the wire. */
static void reset_connection(struct MHD_Connection *conn)
{
  int fd = conn_fd(conn);
  if (fd < 0)
    return;
  struct linger lg = {.l_onoff = 1, .l_linger = 0};
  (void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
  struct sockaddr sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_family = AF_UNSPEC;
  (void)connect(fd, &sa, sizeof(sa));
}

/* ---- sending ---- */

/* libmicrohttpd 0.9.75 always writes the standard reason phrase for a
 * status. GenieACS reports why a task was not executed in the reason
 * phrase, so such responses are written to the socket by hand (status line,
 * headers, body, Connection: close) and the connection is then closed by
 * returning MHD_NO. The response is small, so it fits the socket buffer;
 * the loop only guards against a full one. */
static enum MHD_Result send_raw(struct MHD_Connection *conn,
                                const sim_resp_t *resp)
{
  int fd = conn_fd(conn);
  pv_buf_t b;
  pv_buf_init(&b, SIM_BODY_MAX + 16384);
  char date[64];
  time_t now = time(NULL);
  struct tm tm;
  gmtime_r(&now, &tm);
  strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  (void)pv_buf_appendf(&b, "HTTP/1.1 %u %s\r\nDate: %s\r\n", resp->status,
                       resp->reason, date);
  (void)pv_buf_appendf(&b, "Content-Type: %s\r\nContent-Length: %zu\r\n"
                           "Connection: close\r\n",
                       resp->content_type ? resp->content_type : "text/plain",
                       resp->body_len);
  for (size_t i = 0; i < resp->nhdrs; i++)
    (void)pv_buf_appendf(&b, "%s: %s\r\n", resp->hdrs[i].name,
                         resp->hdrs[i].value);
  (void)pv_buf_append(&b, "\r\n", 2);
  if (resp->body_len)
    (void)pv_buf_append(&b, resp->body, resp->body_len);
  if (fd < 0 || !b.data)
    goto out;
  size_t off = 0;
  int stalls = 0;
  while (off < b.len && stalls < 20) {
    ssize_t n = send(fd, b.data + off, b.len - off, MSG_NOSIGNAL);
    if (n > 0) {
      off += (size_t)n;
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      struct pollfd p = {.fd = fd, .events = POLLOUT};
      (void)poll(&p, 1, 100);
      stalls++;
      continue;
    }
    break;
  }
out:
  pv_buf_free(&b);
  return MHD_NO;
}

static enum MHD_Result send_resp(sim_server_t *srv,
                                 struct MHD_Connection *conn, sim_resp_t *resp,
                                 bool count)
{
  if (count)
    count_response(srv, resp->close ? 0 : resp->status);
  if (resp->close)
    return MHD_NO;
  if (resp->status == 0)
    resp->status = 500;
  if (resp->reason)
    return send_raw(conn, resp);
  struct MHD_Response *r;
  if (resp->body_len) {
    r = MHD_create_response_from_buffer(resp->body_len, resp->body,
                                        MHD_RESPMEM_MUST_FREE);
    if (r)
      resp->body = NULL; /* now owned, and freed, by the MHD response */
  } else {
    r = MHD_create_response_from_buffer(0, (void *)(uintptr_t) "",
                                        MHD_RESPMEM_PERSISTENT);
  }
  if (!r)
    return MHD_NO;
  if (resp->content_type)
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                            resp->content_type);
  for (size_t i = 0; i < resp->nhdrs; i++)
    MHD_add_response_header(r, resp->hdrs[i].name, resp->hdrs[i].value);
  enum MHD_Result ret = MHD_queue_response(conn, resp->status, r);
  MHD_destroy_response(r);
  return ret;
}

/* ---- the admin API ---- */

static json_t *stats_json(sim_server_t *srv)
{
  json_t *o = json_object();
  pthread_mutex_lock(&srv->mu);
  json_object_set_new(o, "service", json_string(srv->ops->name));
  json_object_set_new(o, "requests", json_integer((json_int_t)srv->requests));
  json_object_set_new(o, "connections_accepted",
                      json_integer((json_int_t)srv->conns_accepted));
  json_object_set_new(o, "connections_open",
                      json_integer((json_int_t)srv->conns_open));
  json_object_set_new(o, "faults_injected",
                      json_integer((json_int_t)srv->faults_injected));
  json_t *codes = json_object();
  for (unsigned s = 0; s < 600; s++) {
    if (!srv->responses[s])
      continue;
    char k[8];
    snprintf(k, sizeof(k), "%u", s);
    json_object_set_new(codes, s ? k : "closed",
                        json_integer((json_int_t)srv->responses[s]));
  }
  json_object_set_new(o, "responses", codes);
  json_object_set_new(o, "paths", json_deep_copy(srv->paths));
  json_object_set_new(o, "paths_other",
                      json_integer((json_int_t)srv->paths_other));
  json_object_set_new(o, "last_seq",
                      json_integer((json_int_t)srv->next_seq - 1));
  pthread_mutex_unlock(&srv->mu);
  pthread_mutex_lock(&srv->tmu);
  json_object_set_new(o, "suspended", json_integer((json_int_t)srv->nwaits));
  pthread_mutex_unlock(&srv->tmu);
  return o;
}

static void admin_requests(sim_server_t *srv, const sim_req_t *req,
                           sim_resp_t *resp)
{
  long long since = 0, limit = RING_CAP;
  const char *s = sim_req_arg(req, "since");
  const char *l = sim_req_arg(req, "limit");
  if ((s && sim_parse_ll(s, 0, LLONG_MAX, &since) < 0) ||
      (l && sim_parse_ll(l, 1, RING_CAP, &limit) < 0)) {
    sim_resp_admin_error(resp, 400, "since must be an integer >= 0 and "
                                    "limit in [1, 100000]");
    return;
  }
  json_t *list = json_array();
  pthread_mutex_lock(&srv->mu);
  uint64_t from = (uint64_t)since + 1;
  if (from < srv->first_seq)
    from = srv->first_seq;
  for (uint64_t q = from; q < srv->next_seq && (long long)json_array_size(list) < limit; q++) {
    const logent_t *e = &srv->ring[q % RING_CAP];
    json_array_append_new(
        list, json_pack("{s:I,s:s,s:s,s:s,s:I,s:I,s:s,s:b}", "seq",
                        (json_int_t)e->seq, "method", e->method, "path",
                        e->path, "query", e->query, "ts_ms",
                        (json_int_t)e->ts_ms, "mono_ms",
                        (json_int_t)e->mono_ms, "traceparent",
                        e->traceparent, "handled", e->handled));
  }
  pthread_mutex_unlock(&srv->mu);
  sim_resp_json(resp, 200, list);
}

static void admin_faults_put(sim_server_t *srv, const sim_req_t *req,
                             sim_resp_t *resp)
{
  char err[160];
  json_error_t jerr;
  fault_t parsed[FAULTS_MAX];
  size_t n = 0;
  json_t *body = json_loadb(req->body, req->body_len, 0, &jerr);
  if (!body) {
    snprintf(err, sizeof(err), "body is not JSON: %.100s", jerr.text);
    goto bad;
  }
  if (json_is_array(body)) {
    if (json_array_size(body) > FAULTS_MAX) {
      snprintf(err, sizeof(err), "at most %u faults at once", FAULTS_MAX);
      goto bad;
    }
    for (size_t i = 0; i < json_array_size(body); i++) {
      if (fault_parse(json_array_get(body, i), &parsed[n], err, sizeof(err)) <
          0)
        goto bad;
      n++;
    }
  } else {
    if (fault_parse(body, &parsed[0], err, sizeof(err)) < 0)
      goto bad;
    n = 1;
  }
  json_t *out = json_array();
  pthread_mutex_lock(&srv->mu);
  faults_clear_locked(srv);
  for (size_t i = 0; i < n; i++) {
    if (parsed[i].mode == FM_NONE) {
      fault_free(&parsed[i]);
      continue;
    }
    json_array_append_new(out, fault_json(&parsed[i]));
    srv->faults[srv->nfaults++] = parsed[i];
  }
  pthread_mutex_unlock(&srv->mu);
  json_decref(body);
  pv_log(PV_LOG_INFO, "sim.faults_set", PV_S("service", srv->ops->name),
         PV_I("faults", json_array_size(out)));
  sim_resp_json(resp, 200, json_pack("{s:o}", "faults", out));
  return;
bad:
  for (size_t i = 0; i < n; i++)
    fault_free(&parsed[i]);
  json_decref(body);
  sim_resp_admin_error(resp, 400, "%s", err);
}

/* GET /_sim/clock, POST /_sim/clock/advance {"ms":N}: the simulator's
 * clock is one per process, so every listener serves it. Advancing is for
 * tests: it makes everything scheduled within N ms happen at the next
 * request, as if that time had passed. */
static void admin_clock(const sim_req_t *req, bool advance, sim_resp_t *resp)
{
  if (advance) {
    json_error_t jerr;
    json_t *body = json_loadb(req->body, req->body_len, 0, &jerr);
    json_t *ms = json_object_get(body, "ms");
    if (!json_is_object(body) || json_object_size(body) != 1 ||
        !json_is_integer(ms) || json_integer_value(ms) < 0 ||
        json_integer_value(ms) > SIM_CLOCK_ADVANCE_MAX) {
      json_decref(body);
      sim_resp_admin_error(resp, 400, "want {\"ms\":N} with N an integer "
                                      "in [0, %lld] (30 days)",
                           SIM_CLOCK_ADVANCE_MAX);
      return;
    }
    sim_clock_advance((uint64_t)json_integer_value(ms));
    json_decref(body);
  }
  sim_resp_json(resp, 200,
                json_pack("{s:I,s:I}", "now_ms", (json_int_t)sim_clock_ms(),
                          "advanced_ms",
                          (json_int_t)sim_clock_offset_ms()));
}

static void admin(sim_server_t *srv, const sim_req_t *req, sim_resp_t *resp)
{
  const char *p = req->path + strlen("/_sim/");
  const char *m = req->method;
  if (strcmp(p, "faults") == 0) {
    if (strcmp(m, "PUT") == 0 || strcmp(m, "POST") == 0) {
      admin_faults_put(srv, req, resp);
    } else if (strcmp(m, "DELETE") == 0) {
      pthread_mutex_lock(&srv->mu);
      faults_clear_locked(srv);
      pthread_mutex_unlock(&srv->mu);
      sim_resp_json(resp, 200, json_pack("{s:[]}", "faults"));
    } else if (strcmp(m, "GET") == 0) {
      json_t *out = json_array();
      pthread_mutex_lock(&srv->mu);
      for (size_t i = 0; i < srv->nfaults; i++)
        json_array_append_new(out, fault_json(&srv->faults[i]));
      pthread_mutex_unlock(&srv->mu);
      sim_resp_json(resp, 200, json_pack("{s:o}", "faults", out));
    } else {
      goto not_allowed;
    }
    return;
  }
  if (strcmp(p, "stats") == 0) {
    if (strcmp(m, "GET") != 0)
      goto not_allowed;
    sim_resp_json(resp, 200, stats_json(srv));
    return;
  }
  if (strcmp(p, "reset-stats") == 0) {
    if (strcmp(m, "POST") != 0)
      goto not_allowed;
    pthread_mutex_lock(&srv->mu);
    srv->requests = srv->conns_accepted = srv->faults_injected = 0;
    srv->paths_other = 0;
    memset(srv->responses, 0, sizeof(srv->responses));
    json_object_clear(srv->paths);
    /* seq keeps counting so a test's "since" stays meaningful. */
    srv->first_seq = srv->next_seq;
    pthread_mutex_unlock(&srv->mu);
    sim_resp_json(resp, 200, json_pack("{s:b}", "ok", 1));
    return;
  }
  if (strcmp(p, "requests") == 0) {
    if (strcmp(m, "GET") != 0)
      goto not_allowed;
    admin_requests(srv, req, resp);
    return;
  }
  if (strcmp(p, "clock") == 0 || strcmp(p, "clock/advance") == 0) {
    bool advance = p[5] != '\0';
    if (strcmp(m, advance ? "POST" : "GET") != 0)
      goto not_allowed;
    admin_clock(req, advance, resp);
    return;
  }
  pthread_mutex_lock(&srv->model_mu);
  bool done = srv->ops->admin && srv->ops->admin(srv->state, req, resp);
  pthread_mutex_unlock(&srv->model_mu);
  if (!done)
    sim_resp_admin_error(resp, 404, "unknown admin path; see "
                                    "docs/simulator.md");
  return;
not_allowed:
  sim_resp_admin_error(resp, 405, "method not allowed");
}

/* ---- the MHD callbacks ---- */

static enum MHD_Result collect_args(void *cls, enum MHD_ValueKind kind,
                                    const char *key, const char *value)
{
  sim_req_t *req = cls;
  if (req->nargs == SIM_ARGS_MAX)
    return MHD_NO;
  char *k = sim_pct_decode(key, strlen(key));
  if (!k)
    k = pv_strdup(key);
  char *v = NULL;
  if (value) {
    v = sim_pct_decode(value, strlen(value));
    if (!v)
      v = pv_strdup(value);
  }
  req->args[req->nargs].key = k;
  req->args[req->nargs].value = v;
  req->nargs++;
  return MHD_YES;
}

/* The Host header comes from the client: only a plain host[:port] is used
 * to build absolute URLs, anything else falls back to the bound address. */
static bool host_ok(const char *h)
{
  size_t n = strlen(h);
  if (n == 0 || n > 255)
    return false;
  for (size_t i = 0; i < n; i++) {
    char c = h[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9') || c == '.' || c == '-' || c == ':' ||
          c == '[' || c == ']'))
      return false;
  }
  return true;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
                                  const char *url, const char *method,
                                  const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
  sim_server_t *srv = cls;
  req_ctx_t *ctx = *con_cls;
  enum MHD_Result ret;
  char base[320];
  sim_req_t req;
  sim_resp_t resp;

  if (!ctx) {
    ctx = pv_calloc(1, sizeof(*ctx));
    pv_buf_init(&ctx->body, SIM_BODY_MAX);
    ctx->admin = strncmp(url, "/_sim/", 6) == 0;
    *con_cls = ctx;
    const char *cl = MHD_lookup_connection_value(
        conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    long long len;
    if (cl && sim_parse_ll(cl, 0, LLONG_MAX, &len) == 0 &&
        len > (long long)SIM_BODY_MAX)
      ctx->too_large = true;
    if (!ctx->admin)
      ctx->seq = log_request(srv, conn, method, url);
    return MHD_YES;
  }
  if (*upload_size) {
    if (!ctx->too_large &&
        pv_buf_append(&ctx->body, upload, *upload_size) < 0)
      ctx->too_large = true; /* the buffer freed itself; keep draining */
    *upload_size = 0;
    return MHD_YES;
  }

  if (ctx->suspended) {
    /* Resumed by the timer: a hang ends only when the client left or the
     * server stops, and then there is nobody to answer. */
    ctx->suspended = false;
    if (ctx->hung || srv->stopping)
      return MHD_NO;
  } else if (!ctx->admin && !ctx->decided) {
    ctx->decided = true;
    fault_t f;
    unsigned delay = srv->latency_ms;
    if (pick_fault(srv, url, method, &f)) {
      switch (f.mode) {
      case FM_RESET:
        reset_connection(conn);
        count_response(srv, 0);
        return MHD_NO;
      case FM_RESET_AFTER:
        ctx->reset_after = true;
        break;
      case FM_HANG:
        ctx->hung = true;
        suspend_for(srv, ctx, conn, 0, true);
        return MHD_YES;
      case FM_ERROR:
      case FM_RATELIMIT:
        ctx->fault_status = f.status;
        ctx->retry_after = f.retry_after;
        break;
      case FM_LATENCY:
        delay += f.latency_ms;
        break;
      case FM_NONE:
        break;
      }
    }
    if (delay) {
      suspend_for(srv, ctx, conn, delay, false);
      return MHD_YES;
    }
  }

  memset(&req, 0, sizeof(req));
  memset(&resp, 0, sizeof(resp));
  req.method = method;
  req.path = url;
  req.body = ctx->body.data ? ctx->body.data : "";
  req.body_len = ctx->body.data ? ctx->body.len : 0;
  req.conn = conn;
  MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect_args, &req);
  const char *host = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_HOST);
  if (host && host_ok(host))
    snprintf(base, sizeof(base), "http://%s", host);
  else
    snprintf(base, sizeof(base), "http://%s:%u", srv->bind, srv->port);
  req.base_url = base;

  if (ctx->admin) {
    admin(srv, &req, &resp);
  } else if (ctx->fault_status) {
    srv->ops->error(srv->state, &req, ctx->fault_status, &resp);
    if (ctx->fault_status == 429)
      sim_resp_header(&resp, "Retry-After", "%u", ctx->retry_after);
  } else if (ctx->too_large) {
    srv->ops->error(srv->state, &req, 413, &resp);
  } else {
    pthread_mutex_lock(&srv->model_mu);
    srv->ops->handle(srv->state, &req, &resp);
    pthread_mutex_unlock(&srv->model_mu);
    log_handled(srv, ctx->seq);
  }
  if (ctx->reset_after) {
    /* The request took effect; its answer is lost on the way back. */
    reset_connection(conn);
    count_response(srv, 0);
    ret = MHD_NO;
  } else {
    ret = send_resp(srv, conn, &resp, !ctx->admin);
  }
  sim_resp_clear(&resp);
  for (size_t i = 0; i < req.nargs; i++) {
    free(req.args[i].key);
    free(req.args[i].value);
  }
  return ret;
}

static void on_completed(void *cls, struct MHD_Connection *conn,
                         void **con_cls, enum MHD_RequestTerminationCode toe)
{
  req_ctx_t *ctx = *con_cls;
  if (!ctx)
    return;
  pv_buf_free(&ctx->body);
  free(ctx);
  *con_cls = NULL;
}

static void on_connection(void *cls, struct MHD_Connection *conn,
                          void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
  sim_server_t *srv = cls;
  pthread_mutex_lock(&srv->mu);
  if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
    srv->conns_accepted++;
    srv->conns_open++;
  } else if (srv->conns_open) {
    srv->conns_open--;
  }
  pthread_mutex_unlock(&srv->mu);
}

/* The path and arguments reach the handler undecoded: routes match the raw
 * URL the way GenieACS and Django do, and each service decodes segments
 * itself exactly once. */
static size_t no_unescape(void *cls, struct MHD_Connection *c, char *s)
{
  return strlen(s);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
  char line[512];
  vsnprintf(line, sizeof(line), fmt, ap);
  size_t n = strlen(line);
  while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
    line[--n] = '\0';
  pv_log(PV_LOG_DEBUG, "sim.mhd", PV_S("msg", line));
}

/* ---- lifecycle ---- */

static int open_listener(const char *bind_addr, uint16_t port, char *err,
                         size_t errlen, bool *in_use, uint16_t *bound)
{
  struct sockaddr_storage ss;
  socklen_t sl;
  memset(&ss, 0, sizeof(ss));
  struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
  struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
  if (inet_pton(AF_INET, bind_addr, &s4->sin_addr) == 1) {
    s4->sin_family = AF_INET;
    s4->sin_port = htons(port);
    sl = sizeof(*s4);
  } else if (inet_pton(AF_INET6, bind_addr, &s6->sin6_addr) == 1) {
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons(port);
    sl = sizeof(*s6);
  } else {
    snprintf(err, errlen, "--bind %s is not an IP address", bind_addr);
    return -1;
  }
  int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    snprintf(err, errlen, "socket: %s", strerror(errno));
    return -1;
  }
  int one = 1;
  (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(fd, (struct sockaddr *)&ss, sl) < 0) {
    int e = errno;
    *in_use = e == EADDRINUSE;
    if (e == EADDRINUSE)
      snprintf(err, errlen, "port %u on %s is already in use: stop whatever "
                            "listens there (ss -ltnp 'sport = :%u') or pick "
                            "another port (0 = any free port)",
               port, bind_addr, port);
    else
      snprintf(err, errlen, "bind %s:%u: %s", bind_addr, port, strerror(e));
    close(fd);
    return -1;
  }
  if (listen(fd, 4096) < 0) {
    snprintf(err, errlen, "listen %s:%u: %s", bind_addr, port,
             strerror(errno));
    close(fd);
    return -1;
  }
  sl = sizeof(ss);
  if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) {
    snprintf(err, errlen, "getsockname: %s", strerror(errno));
    close(fd);
    return -1;
  }
  *bound = ntohs(ss.ss_family == AF_INET ? s4->sin_port : s6->sin6_port);
  return fd;
}

sim_server_t *sim_server_start(const sim_svc_ops_t *ops, void *state,
                               const sim_server_opts_t *opts, char *err,
                               size_t errlen, bool *in_use)
{
  sim_server_t *srv = pv_calloc(1, sizeof(*srv));
  pthread_condattr_t ca;
  srv->ops = ops;
  srv->state = state;
  srv->lfd = -1;
  srv->latency_ms = opts->latency_ms;
  srv->rng = opts->seed ^ 0x5bd1e995u;
  srv->next_seq = 1;
  srv->first_seq = 1;
  srv->paths = json_object();
  srv->ring = pv_calloc(RING_CAP, sizeof(*srv->ring));
  snprintf(srv->bind, sizeof(srv->bind), "%s", opts->bind);
  pthread_mutex_init(&srv->model_mu, NULL);
  pthread_mutex_init(&srv->mu, NULL);
  pthread_mutex_init(&srv->tmu, NULL);
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&srv->tcv, &ca);
  pthread_condattr_destroy(&ca);
  *in_use = false;

  srv->lfd = open_listener(opts->bind, opts->port, err, errlen, in_use,
                           &srv->port);
  if (srv->lfd < 0)
    goto fail;
  if (pthread_create(&srv->tthread, NULL, timer_main, srv) != 0) {
    snprintf(err, errlen, "cannot start the timer thread");
    goto fail;
  }
  srv->tthread_started = true;

  struct rlimit rl;
  unsigned limit = 10000;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur > 200)
    limit = (unsigned)(rl.rlim_cur > 1000000 ? 1000000 : rl.rlim_cur - 100);
  srv->mhd = MHD_start_daemon(
      MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
          MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG,
      0, NULL, NULL, on_request, srv, MHD_OPTION_LISTEN_SOCKET, srv->lfd,
      MHD_OPTION_CONNECTION_LIMIT, limit, MHD_OPTION_CONNECTION_TIMEOUT,
      (unsigned)600, MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
      MHD_OPTION_NOTIFY_CONNECTION, on_connection, srv,
      MHD_OPTION_UNESCAPE_CALLBACK, no_unescape, srv,
      MHD_OPTION_EXTERNAL_LOGGER, mhd_log, srv, MHD_OPTION_END);
  if (!srv->mhd) {
    snprintf(err, errlen, "libmicrohttpd could not start on %s:%u",
             opts->bind, srv->port);
    goto fail;
  }
  /* MHD_stop_daemon closes the listen socket it was given. */
  srv->lfd = -1;
  return srv;
fail:
  sim_server_stop(srv);
  return NULL;
}

uint16_t sim_server_port(const sim_server_t *srv)
{
  return srv->port;
}

void sim_server_stop(sim_server_t *srv)
{
  if (!srv)
    return;
  pthread_mutex_lock(&srv->tmu);
  srv->stopping = 1;
  size_t n = srv->nwaits;
  waiter_t *w = srv->waits;
  srv->waits = NULL;
  srv->nwaits = srv->wcap = 0;
  pthread_cond_signal(&srv->tcv);
  pthread_mutex_unlock(&srv->tmu);
  if (srv->tthread_started)
    pthread_join(srv->tthread, NULL);
  /* Every suspended connection must be resumed before the daemon stops;
   * their handlers see `stopping` and close. */
  for (size_t i = 0; i < n; i++)
    MHD_resume_connection(w[i].conn);
  free(w);
  if (srv->mhd)
    MHD_stop_daemon(srv->mhd);
  if (srv->lfd >= 0)
    close(srv->lfd);
  if (srv->ops && srv->ops->destroy)
    srv->ops->destroy(srv->state);
  faults_clear_locked(srv);
  for (size_t i = 0; i < RING_CAP; i++) {
    free(srv->ring[i].path);
    free(srv->ring[i].query);
  }
  free(srv->ring);
  json_decref(srv->paths);
  pthread_cond_destroy(&srv->tcv);
  pthread_mutex_destroy(&srv->tmu);
  pthread_mutex_destroy(&srv->mu);
  pthread_mutex_destroy(&srv->model_mu);
  free(srv);
}
