/*
 * Fuzz target: the answers of VOLTHA, GenieACS and NetBox as the clients
 * read them (transports/{voltha,genieacs,netbox}.c, client_util.c), with
 * the real clients driven through pv_clients_execute(), as the engine does.
 *
 * The transport is replaced at link time (-Wl,--wrap=pv_http_send): every
 * request a client sends is held, then answered from the input. Each
 * answer goes through the transport's own pieces: header lines through
 * pv_http_header_line(), the attempt through pv_classify() (error class),
 * Retry-After through pv_retry_after_parse(). Nothing touches a network.
 *
 * Input (text; see fuzz/corpus/southbound/):
 *
 *   <service> <op> <args as one line of JSON>
 *   === [a<attempts> ]HTTP/1.1 200 OK
 *   Header: value
 *
 *   <body>
 *   === [a<attempts> ]timeout | reset | connect | tls | too_large | local
 *
 * Answers are used in order; a request beyond the last gets `connect`.
 * The first line is at most 511 bytes; args the catalog refuses end the
 * input early (job_json covers validation).
 *
 * Checks: the op ends exactly once, and sends nothing after it ended;
 * every request path is printable ASCII without blanks (ids are
 * percent-encoded); at most one non-idempotent request per op (per step
 * of an order): a mutating call is never sent twice; a success is a JSON
 * object (docs/messages.md: the answer normalised to a map) that encodes
 * in both formats; a failure has a class and a single-line UTF-8 message
 * (it goes into the reply as JSON); the NetBox token never shows in a
 * result, an error or a log line; every log line is one line.
 */
#include "fuzz/fuzz.h"

#include "common/log.h"
#include "jobs/catalog.h"
#include "jobs/job.h"
#include "transports/classify.h"
#include "transports/clients.h"
#include "transports/http_int.h"
#include "transports/retry_after.h"

#include <string.h>

#define TOKEN "fuzz-secret-token-7f3a"
/* Requests one input may see answered before the op must have ended:
 * NetBox lists stop at PV_NETBOX_MAX_PAGES, everything else far sooner. */
#define MAX_REQUESTS 1000

int __wrap_pv_http_send(pv_endpoint_t *ep, const pv_http_request_t *req,
                        pv_http_done_cb cb, void *arg, pv_error_t *err);

static uv_loop_t loop;
static pv_http_t *http;
static pv_clients_t *clients;

/* The request a client is waiting on (a call has one at a time). */
static struct {
  bool held;
  bool idempotent;
  pv_http_done_cb cb;
  void *arg;
} pending;

static int mutating_sends;
static bool verbose;
static bool token_in_input;

int __wrap_pv_http_send(pv_endpoint_t *ep, const pv_http_request_t *req,
                        pv_http_done_cb cb, void *arg, pv_error_t *err)
{
  (void)ep;
  (void)err;
  PV_FUZZ_CHECK(!pending.held, "a second request while one is in flight");
  const char *p = req->path;
  PV_FUZZ_CHECK(p && p[0] == '/', "path \"%s\"", p ? p : "(null)");
  for (; *p; p++)
    PV_FUZZ_CHECK(*p > 0x20 && *p < 0x7f && *p != '#',
                  "path byte 0x%02x in \"%s\"", (unsigned char)*p, req->path);
  if (req->body) {
    json_t *b = json_loadb(req->body, req->body_len, 0, NULL);
    PV_FUZZ_CHECK(b != NULL, "request body is not JSON");
    json_decref(b);
  }
  if (!req->idempotent)
    mutating_sends++;
  pending.held = true;
  pending.idempotent = req->idempotent;
  pending.cb = cb;
  pending.arg = arg;
  return 0;
}

static void log_sink(const char *line, size_t len, void *arg)
{
  (void)arg;
  PV_FUZZ_CHECK(memchr(line, '\n', len) == NULL, "log line has a newline");
  if (!token_in_input)
    PV_FUZZ_CHECK(memmem(line, len, TOKEN, strlen(TOKEN)) == NULL,
                  "token in a log line");
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
  (void)argc;
  (void)argv;
  char errstr[256];
  verbose = getenv("PV_FUZZ_VERBOSE") != NULL;
  pv_log_set_sink(log_sink, NULL);
  pv_log_set_level(PV_LOG_DEBUG); /* the log lines are checked too */
  if (uv_loop_init(&loop) != 0)
    abort();
  http = pv_http_new(&loop, NULL, errstr, sizeof(errstr));
  PV_FUZZ_CHECK(http != NULL, "%s", errstr);
  pv_tenant_conf_t t;
  memset(&t, 0, sizeof(t));
  t.name = "t1";
  t.voltha_url = "http://127.0.0.1:9/voltha";
  t.genieacs_url = "http://127.0.0.1:9/acs";
  t.netbox_url = "http://127.0.0.1:9/netbox";
  t.netbox_token = TOKEN;
  clients = pv_clients_new(http, &t, 1, errstr, sizeof(errstr));
  PV_FUZZ_CHECK(clients != NULL, "%s", errstr);
  return 0;
}

/* ---- answers ------------------------------------------------------------ */

typedef struct answer {
  const char *p; /* after "=== " */
  size_t len;
} answer_t;

static const struct {
  const char *name;
  pv_attempt_kind_t kind;
} failures[] = {
  {"connect", PV_ATT_CONNECT}, {"tls", PV_ATT_TLS_VERIFY},
  {"timeout", PV_ATT_TIMEOUT}, {"reset", PV_ATT_RESET},
  {"too_large", PV_ATT_TOO_LARGE}, {"local", PV_ATT_LOCAL},
};

static size_t line_len(const char *p, size_t left)
{
  const char *nl = memchr(p, '\n', left);
  return nl ? (size_t)(nl + 1 - p) : left;
}

/* "HTTP/1.1 503 ..." -> 503, or 0 when curl would not have taken it. */
static long status_of(const char *line, size_t len)
{
  const char *sp = memchr(line, ' ', len);
  if (!sp || (size_t)(line + len - sp) < 4)
    return 0;
  long st = 0;
  for (int i = 1; i <= 3; i++) {
    if (sp[i] < '0' || sp[i] > '9')
      return 0;
    st = st * 10 + (sp[i] - '0');
  }
  return st;
}

/* Builds resp from one answer; *body is what resp->body points to. */
static void make_response(const answer_t *a, bool idempotent,
                          pv_http_response_t *resp, char **body)
{
  char retry_after[PV_HTTP_RETRY_AFTER_MAX];
  const char *p = a->p, *end = a->p + a->len;
  pv_attempt_result_t ar = {PV_ATT_CONNECT, 0, true};
  const char *what = "connect";

  memset(resp, 0, sizeof(*resp));
  pv_http_header_reset(resp, retry_after);
  resp->attempts = 1;
  if (end - p >= 3 && p[0] == 'a' && p[1] >= '1' && p[1] <= '9' &&
      p[2] == ' ') {
    resp->attempts = p[1] - '0';
    p += 3;
  }
  *body = NULL;
  if (end - p >= 5 && memcmp(p, "HTTP/", 5) == 0) {
    ar.kind = PV_ATT_HTTP;
    while (p < end) {
      size_t n = line_len(p, (size_t)(end - p));
      if ((n == 1 && p[0] == '\n') || (n == 2 && p[0] == '\r')) {
        p += n;
        break;
      }
      if (n > 5 && memcmp(p, "HTTP/", 5) == 0)
        ar.status = status_of(p, n);
      pv_http_header_line(resp, retry_after, p, n);
      p += n;
    }
    if (ar.status < 100 || ar.status > 999) {
      ar.kind = PV_ATT_RESET; /* curl: weird server reply */
      ar.status = 0;
    }
    size_t blen = (size_t)(end - p);
    *body = malloc(blen + 1);
    PV_FUZZ_CHECK(*body != NULL, "out of memory");
    memcpy(*body, p, blen);
    (*body)[blen] = '\0';
    resp->body = *body;
    resp->body_len = blen;
  } else {
    for (size_t i = 0; i < sizeof(failures) / sizeof(failures[0]); i++) {
      size_t n = strlen(failures[i].name);
      if ((size_t)(end - p) >= n && memcmp(p, failures[i].name, n) == 0) {
        ar.kind = failures[i].kind;
        what = failures[i].name;
      }
    }
  }
  resp->status = ar.status;
  pv_verdict_t v = pv_classify(&ar, idempotent);
  if (v.cls == PV_ERR_NONE) {
    pv_error_clear(&resp->err);
  } else {
    if (ar.kind == PV_ATT_HTTP)
      pv_error_set(&resp->err, v.cls, (int)ar.status,
                   "HTTP %ld after %d attempts (fuzzed answer)", ar.status,
                   resp->attempts);
    else
      pv_error_set(&resp->err, v.cls, 0, "%s after %d attempts (fuzzed "
                   "answer)", what, resp->attempts);
  }
  int64_t delay;
  if (v.honour_retry_after && retry_after[0] &&
      pv_retry_after_parse(retry_after, strlen(retry_after), 1767225600000LL,
                           &delay) == 0)
    resp->retry_at_ms = 1767225600000LL + delay;
}

/* ---- one op ------------------------------------------------------------- */

typedef struct outcome {
  int calls;
  json_t *result;
  pv_error_t err;
} outcome_t;

static void on_done(const pv_exec_result_t *res, void *arg)
{
  outcome_t *o = arg;
  o->calls++;
  o->err = res->err;
  if (res->result)
    o->result = json_incref(res->result);
}

static bool has_token(const char *s, size_t len)
{
  return !token_in_input && memmem(s, len, TOKEN, strlen(TOKEN)) != NULL;
}

static void check_outcome(const outcome_t *o, const pv_job_t *job,
                          int steps)
{
  PV_FUZZ_CHECK(o->calls == 1, "callback ran %d times", o->calls);
  PV_FUZZ_CHECK(!pending.held, "a request was sent after the op ended");
  PV_FUZZ_CHECK(mutating_sends <= steps,
                "%d non-idempotent requests for %d step(s) of %s.%s",
                mutating_sends, steps, job->service, job->op);
  if (o->err.cls == PV_ERR_NONE) {
    PV_FUZZ_CHECK(json_is_object(o->result), "%s.%s result is %s",
                  job->service, job->op, pv_doc_kind(o->result));
  } else {
    PV_FUZZ_CHECK(pv_fuzz_printable(o->err.message, sizeof(o->err.message)),
                  "message \"%s\"", o->err.message);
    json_t *m = json_string(o->err.message); /* NULL if not UTF-8 */
    PV_FUZZ_CHECK(m != NULL, "message is not UTF-8: \"%s\"", o->err.message);
    json_decref(m);
    PV_FUZZ_CHECK(!has_token(o->err.message, strlen(o->err.message)),
                  "token in the error");
  }
  if (o->result) {
    char *enc;
    size_t len;
    PV_FUZZ_CHECK(pv_doc_encode(o->result, PV_FMT_MSGPACK, &enc, &len) == 0,
                  "result does not encode as msgpack");
    free(enc);
    PV_FUZZ_CHECK(pv_doc_encode(o->result, PV_FMT_JSON, &enc, &len) == 0,
                  "result does not encode as JSON");
    PV_FUZZ_CHECK(!has_token(enc, len), "token in the result");
    free(enc);
  }
}

static size_t split_answers(const char *p, const char *end, answer_t *out,
                            size_t max)
{
  size_t n = 0;
  if (end - p < 4 || memcmp(p, "=== ", 4) != 0)
    return 0;
  p += 4;
  while (n < max) {
    const char *next = memmem(p, (size_t)(end - p), "\n=== ", 5);
    out[n].p = p;
    out[n].len = next ? (size_t)(next - p) : (size_t)(end - p);
    n++;
    if (!next)
      break;
    p = next + 5;
  }
  return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  const char *in = (const char *)data, *end = in + size;
  size_t first = line_len(in, size);
  char head[512];
  if (first >= sizeof(head))
    return 0;
  memcpy(head, in, first);
  head[first] = '\0';

  /* "<service> <op> <args>" */
  char *svc = head, *op = strchr(head, ' ');
  if (!op)
    return 0;
  *op++ = '\0';
  char *argtext = strchr(op, ' ');
  if (!argtext)
    return 0;
  *argtext++ = '\0';
  json_t *args = json_loads(argtext, 0, NULL);
  if (!json_is_object(args)) {
    json_decref(args);
    return 0;
  }
  pv_job_t job = {.v = 1, .id = "fuzz-job-1", .tenant = "t1", .service = svc,
                  .op = op, .args = args, .format = PV_FMT_JSON};
  pv_error_t err;
  if (pv_job_validate(&job, &err) != 0) {
    if (verbose)
      fprintf(stderr, "  args refused: %s\n", err.message);
    json_decref(args); /* the job target covers validation */
    return 0;
  }
  const json_t *steps = json_object_get(args, "steps");
  int n_steps = strcmp(op, PV_OP_ORDER) == 0 ? (int)json_array_size(steps)
                                             : 1;

  static answer_t answers[MAX_REQUESTS];
  size_t n_answers = split_answers(in + first, end, answers, MAX_REQUESTS);
  token_in_input = memmem(data, size, TOKEN, strlen(TOKEN)) != NULL;
  mutating_sends = 0;
  memset(&pending, 0, sizeof(pending));

  outcome_t o = {0};
  pv_exec_ctx_t ctx = {.traceparent = NULL, .deadline_ms = 0};
  if (pv_clients_execute(clients, &job, &ctx, on_done, &o, &err) != 0) {
    PV_FUZZ_CHECK(o.calls == 0, "callback ran after a refusal");
    PV_FUZZ_CHECK(err.cls != PV_ERR_NONE, "refused without a class");
    json_decref(args);
    return 0;
  }
  PV_FUZZ_CHECK(o.calls == 0, "callback ran inside pv_clients_execute");
  for (size_t i = 0; o.calls == 0; i++) {
    PV_FUZZ_CHECK(pending.held,
                  "the op neither ended nor sent a request (is "
                  "pv_http_send wrapped?)");
    PV_FUZZ_CHECK(i < MAX_REQUESTS, "the op does not end");
    static const answer_t none = {"connect", 7};
    pv_http_response_t resp;
    char *body;
    make_response(i < n_answers ? &answers[i] : &none, pending.idempotent,
                  &resp, &body);
    pv_http_done_cb cb = pending.cb;
    void *arg = pending.arg;
    pending.held = false;
    cb(&resp, arg);
    free(body);
  }
  check_outcome(&o, &job, n_steps);
  if (verbose) {
    char *r = o.result ? json_dumps(o.result, JSON_COMPACT) : NULL;
    fprintf(stderr, "  %s.%s: %s %s%s\n", svc, op,
            pv_errclass_name(o.err.cls), o.err.message, r ? r : "");
    free(r);
  }
  json_decref(o.result);
  json_decref(args);
  return 0;
}
