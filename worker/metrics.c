#include "worker/metrics.h"

#include "common/alloc.h"
#include "common/error.h"
#include "common/log.h"
#include "common/clock.h"
#include "common/map.h"
#include "jobs/catalog.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#ifndef PV_VERSION
#define PV_VERSION "unknown"
#endif

#define MAX_LABELS 6
#define LABEL_MAX 128              /* longer label values are cut */
#define RENDER_MAX (16u << 20)     /* a scrape never grows past 16 MiB */
#define SERIES_MAX 20000           /* per family: a runaway guard */
#define UNKNOWN "unknown"

typedef enum kind { K_COUNTER, K_GAUGE, K_HIST } kind_t;

typedef struct series {
  char *values[MAX_LABELS];
  double value;
  uint64_t *buckets; /* K_HIST: cumulative at render, per-bucket here */
  double sum;
  uint64_t count;
} series_t;

typedef struct family {
  const char *name;
  const char *help;
  kind_t kind;
  int nlabels;
  const char *labels[MAX_LABELS];
  const double *bounds;
  size_t nbounds;
  pv_map_t *series;
  uint64_t dropped; /* series refused by SERIES_MAX */
} family_t;

static const double job_bounds[] = {0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
                                    2.5,  5,     10,   30,  60,   120, 300};
static const double http_bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025,
                                     0.05,  0.1,    0.25,  0.5,  1,
                                     2.5,   5,      10,    30};

enum {
  F_RECEIVED,
  F_STARTED,
  F_FINISHED,
  F_ERRORS,
  F_REJECTED,
  F_REPUBLISHED,
  F_PARKED,
  F_JOB_DURATION,
  F_JOB_QUEUED,
  F_HTTP_ATTEMPTS,
  F_HTTP_DURATION,
  F_HTTP_RETRIES,
  F_HTTP_BUDGET,
  F_BREAKER_TRANSITIONS,
  F__COUNT
};

#define TSO "tenant", "service", "op"
static const family_t family_defs[F__COUNT] = {
  [F_RECEIVED] = {"provisiond_jobs_received_total",
                  "Records taken from Kafka, by the job's tenant, service and op.",
                  K_COUNTER, 3, {TSO}, NULL, 0, NULL, 0},
  [F_STARTED] = {"provisiond_jobs_started_total",
                 "Job runs begun (the claim succeeded).", K_COUNTER, 3, {TSO},
                 NULL, 0, NULL, 0},
  [F_FINISHED] = {"provisiond_jobs_finished_total",
                  "Jobs with a final outcome recorded and published, by state "
                  "(succeeded, failed, dead).",
                  K_COUNTER, 4, {TSO, "state"}, NULL, 0, NULL, 0},
  [F_ERRORS] = {"provisiond_job_errors_total",
                "Finished or rejected jobs by wire error class.", K_COUNTER, 4,
                {TSO, "error_class"}, NULL, 0, NULL, 0},
  [F_REJECTED] = {"provisiond_jobs_rejected_total",
                  "Records that never became a runnable job (dead-lettered).",
                  K_COUNTER, 4, {TSO, "error_class"}, NULL, 0, NULL, 0},
  [F_REPUBLISHED] = {"provisiond_jobs_republished_total",
                     "Finished jobs answered again from the job table.",
                     K_COUNTER, 3, {TSO}, NULL, 0, NULL, 0},
  [F_PARKED] = {"provisiond_jobs_parked_total",
                "Jobs parked in retry_wait for a later attempt.", K_COUNTER, 3,
                {TSO}, NULL, 0, NULL, 0},
  [F_JOB_DURATION] = {"provisiond_job_duration_seconds",
                      "Received to finished, by service and op.", K_HIST, 2,
                      {"service", "op"}, job_bounds,
                      sizeof(job_bounds) / sizeof(job_bounds[0]), NULL, 0},
  [F_JOB_QUEUED] = {"provisiond_job_queued_seconds",
                    "Received to started (lane, fair share, claim).", K_HIST, 2,
                    {"service", "op"}, job_bounds,
                    sizeof(job_bounds) / sizeof(job_bounds[0]), NULL, 0},
  [F_HTTP_ATTEMPTS] = {"provisiond_http_attempts_total",
                       "Southbound HTTP attempts, by status class and outcome "
                       "(ok or the wire error class).",
                       K_COUNTER, 6,
                       {"service", "tenant", "op", "method", "code", "outcome"},
                       NULL, 0, NULL, 0},
  [F_HTTP_DURATION] = {"provisiond_http_attempt_duration_seconds",
                       "Duration of one southbound attempt.", K_HIST, 2,
                       {"service", "op"}, http_bounds,
                       sizeof(http_bounds) / sizeof(http_bounds[0]), NULL, 0},
  [F_HTTP_RETRIES] = {"provisiond_http_retries_total",
                      "Attempts that were followed by a retry.", K_COUNTER, 3,
                      {"service", "tenant", "op"}, NULL, 0, NULL, 0},
  [F_HTTP_BUDGET] = {"provisiond_http_retry_budget_refused_total",
                     "Retries refused by the endpoint's retry budget.",
                     K_COUNTER, 3, {"service", "tenant", "op"}, NULL, 0, NULL,
                     0},
  [F_BREAKER_TRANSITIONS] = {"provisiond_breaker_transitions_total",
                             "Circuit breaker transitions (local or applied "
                             "from another worker / an operator).",
                             K_COUNTER, 4, {"service", "tenant", "from", "to"},
                             NULL, 0, NULL, 0},
};

struct pv_metrics_s {
  family_t fam[F__COUNT];
  char **tenants;
  size_t n_tenants;
  pv_engine_t *engine;
  pv_http_t *http;
  pv_pg_t *pg;
  uv_loop_t *loop;
  struct MHD_Daemon *mhd;
  uv_poll_t poll;
  uv_timer_t timer;
  bool poll_init, timer_init;
  int port;
  int64_t started_wall_ms;
  /* The fleet's unfinished jobs, read from job_status (backlog_refresh). */
  struct backlog_row *backlog;
  size_t n_backlog;
  bool backlog_valid, backlog_busy;
  uint64_t backlog_asked_ms;
};

/* ---- label bounding ------------------------------------------------------ */

static const char *bound_tenant(const pv_metrics_t *m, const char *t)
{
  for (size_t i = 0; t && i < m->n_tenants; i++)
    if (!strcmp(m->tenants[i], t))
      return m->tenants[i];
  return UNKNOWN;
}

static const char *bound_service(const char *s)
{
  return s && pv_catalog_has_service(s) ? s : UNKNOWN;
}

static const char *bound_op(const char *service, const char *op)
{
  return service && op && pv_catalog_find(service, op) ? op : UNKNOWN;
}

static const char *bound_class(const char *cls)
{
  return cls && pv_errclass_parse(cls) >= 0 ? cls : UNKNOWN;
}

/* v as the set's own string when it is one of the n values, else
 * "unknown": a label value never comes from outside unbounded. */
static const char *bound_to(const char *const *set, size_t n, const char *v)
{
  for (size_t i = 0; v && i < n; i++)
    if (!strcmp(set[i], v))
      return set[i];
  return UNKNOWN;
}

static const char *bound_state(const char *st)
{
  static const char *const states[] = {"succeeded", "failed", "dead"};
  return bound_to(states, 3, st);
}

static const char *bound_method(const char *mth)
{
  static const char *const methods[] = {"GET",   "POST",   "PUT",
                                        "PATCH", "DELETE", "HEAD"};
  return bound_to(methods, 6, mth);
}

/* ---- registry ------------------------------------------------------------ */

static series_t *series_get(family_t *f, const char *const *values)
{
  char key[MAX_LABELS * (LABEL_MAX + 1) + 1];
  size_t off = 0;
  for (int i = 0; i < f->nlabels; i++) {
    const char *v = values[i] ? values[i] : "";
    size_t l = strnlen(v, LABEL_MAX);
    memcpy(key + off, v, l);
    off += l;
    key[off++] = '\x1f'; /* unit separator: cannot clash inside a value */
  }
  key[off] = '\0';
  series_t *s = pv_map_get(f->series, key);
  if (s)
    return s;
  if (pv_map_size(f->series) >= SERIES_MAX) {
    f->dropped++;
    return NULL;
  }
  s = pv_calloc(1, sizeof(*s));
  for (int i = 0; i < f->nlabels; i++) {
    const char *v = values[i] ? values[i] : "";
    size_t l = strnlen(v, LABEL_MAX);
    s->values[i] = pv_malloc(l + 1);
    memcpy(s->values[i], v, l);
    s->values[i][l] = '\0';
  }
  if (f->kind == K_HIST)
    s->buckets = pv_calloc(f->nbounds + 1, sizeof(uint64_t));
  pv_map_put(f->series, key, s);
  return s;
}

static void series_free(const char *key, void *value, void *arg)
{
  (void)key;
  (void)arg;
  series_t *s = value;
  for (int i = 0; i < MAX_LABELS; i++)
    free(s->values[i]);
  free(s->buckets);
  free(s);
}

static void family_init(family_t *f, const family_t *def)
{
  *f = *def;
  f->series = pv_map_new();
}

static void family_clear(family_t *f)
{
  if (!f->series)
    return;
  pv_map_each(f->series, series_free, NULL);
  pv_map_destroy(f->series);
  f->series = NULL;
}

static void add(family_t *f, const char *const *values, double v)
{
  series_t *s = series_get(f, values);
  if (s)
    s->value += v;
}

static void observe(family_t *f, const char *const *values, double v)
{
  series_t *s = series_get(f, values);
  if (!s)
    return;
  if (!(v >= 0)) /* NaN or a clock step: count it in the first bucket */
    v = 0;
  size_t i = 0;
  while (i < f->nbounds && v > f->bounds[i])
    i++;
  s->buckets[i]++;
  s->sum += v;
  s->count++;
}

pv_metrics_t *pv_metrics_new(const char *const *tenants, size_t n)
{
  pv_metrics_t *m = pv_calloc(1, sizeof(*m));
  for (int i = 0; i < F__COUNT; i++)
    family_init(&m->fam[i], &family_defs[i]);
  m->tenants = pv_calloc(n ? n : 1, sizeof(char *));
  for (size_t i = 0; i < n; i++)
    if (tenants[i])
      m->tenants[m->n_tenants++] = pv_strdup(tenants[i]);
  m->started_wall_ms = pv_clock_wall_ms();
  return m;
}

void pv_metrics_set_sources(pv_metrics_t *m, pv_engine_t *engine,
                            pv_http_t *http, pv_pg_t *pg)
{
  m->engine = engine;
  m->http = http;
  m->pg = pg;
}

/* ---- observers ----------------------------------------------------------- */

void pv_metrics_on_job(const pv_job_event_t *ev, void *arg)
{
  pv_metrics_t *m = arg;
  const char *svc = bound_service(ev->service);
  const char *op = bound_op(ev->service, ev->op);
  const char *v[MAX_LABELS] = {bound_tenant(m, ev->tenant), svc, op};
  switch (ev->kind) {
  case PV_JOB_EV_RECEIVED:
    add(&m->fam[F_RECEIVED], v, 1);
    break;
  case PV_JOB_EV_STARTED: {
    add(&m->fam[F_STARTED], v, 1);
    const char *so[] = {svc, op};
    observe(&m->fam[F_JOB_QUEUED], so, (double)ev->queued_ms / 1000.0);
    break;
  }
  case PV_JOB_EV_FINISHED: {
    v[3] = bound_state(ev->state);
    add(&m->fam[F_FINISHED], v, 1);
    if (ev->error_class) {
      v[3] = bound_class(ev->error_class);
      add(&m->fam[F_ERRORS], v, 1);
    }
    const char *so[] = {svc, op};
    observe(&m->fam[F_JOB_DURATION], so, (double)ev->duration_ms / 1000.0);
    break;
  }
  case PV_JOB_EV_REJECTED:
    v[3] = bound_class(ev->error_class);
    add(&m->fam[F_REJECTED], v, 1);
    add(&m->fam[F_ERRORS], v, 1);
    break;
  case PV_JOB_EV_REPUBLISHED:
    add(&m->fam[F_REPUBLISHED], v, 1);
    break;
  case PV_JOB_EV_PARKED:
    add(&m->fam[F_PARKED], v, 1);
    break;
  }
}

void pv_metrics_on_attempt(const pv_http_attempt_t *a, void *arg)
{
  pv_metrics_t *m = arg;
  const char *svc = bound_service(a->service);
  const char *op = bound_op(a->service, a->op);
  const char *tenant = bound_tenant(m, a->tenant);
  static const char *const codes[] = {"none", "1xx", "2xx", "3xx", "4xx",
                                      "5xx"};
  long c = a->status / 100;
  const char *code = c >= 1 && c <= 5 ? codes[c] : codes[0];
  const char *outcome = a->cls == PV_ERR_NONE ? "ok" : pv_errclass_name(a->cls);
  const char *v[] = {svc, tenant, op, bound_method(a->method), code, outcome};
  add(&m->fam[F_HTTP_ATTEMPTS], v, 1);
  const char *so[] = {svc, op};
  observe(&m->fam[F_HTTP_DURATION], so, (double)a->duration_ms / 1000.0);
  const char *sto[] = {svc, tenant, op};
  if (a->will_retry)
    add(&m->fam[F_HTTP_RETRIES], sto, 1);
  if (a->budget_refused)
    add(&m->fam[F_HTTP_BUDGET], sto, 1);
}

void pv_metrics_on_breaker(pv_metrics_t *m, const pv_breaker_change_t *chg)
{
  if (!m)
    return;
  const char *v[] = {bound_service(chg->service), bound_tenant(m, chg->tenant),
                     pv_breaker_state_name(chg->from),
                     pv_breaker_state_name(chg->to)};
  add(&m->fam[F_BREAKER_TRANSITIONS], v, 1);
}

/* ---- fleet backlog (from PostgreSQL) -------------------------------------- */

/* How many jobs are unfinished, and since when the oldest waits, per
 * tenant, service and state: what the "jobs parked too long" and "oldest
 * job over the SLA" alerts need. Only PostgreSQL knows the parked jobs of
 * the whole fleet, so a scrape reads the answer of the previous query and
 * asks again (at most every BACKLOG_REFRESH_MS, one query in flight): no
 * query runs while nobody scrapes, and the values are at most one scrape
 * interval old. The query reads the unfinished rows only (state index). */
#define BACKLOG_REFRESH_MS 10000
#define BACKLOG_ROWS_MAX 4096 /* tenants x services x 3 states, and more */
#define BACKLOG_STR_(x) #x
#define BACKLOG_STR(x) BACKLOG_STR_(x)

typedef struct backlog_row {
  char *tenant, *service, *state;
  double jobs, oldest_s;
} backlog_row_t;

static const char backlog_sql[] =
    "SELECT tenant, service, state, count(*), "
    "extract(epoch FROM now() - min(received_at)) FROM job_status "
    "WHERE state IN ('received', 'running', 'retry_wait') "
    "GROUP BY tenant, service, state LIMIT " BACKLOG_STR(BACKLOG_ROWS_MAX);

static void backlog_clear(pv_metrics_t *m)
{
  for (size_t i = 0; i < m->n_backlog; i++) {
    free(m->backlog[i].tenant);
    free(m->backlog[i].service);
    free(m->backlog[i].state);
  }
  free(m->backlog);
  m->backlog = NULL;
  m->n_backlog = 0;
  m->backlog_valid = false;
}

static void on_backlog(const pv_pg_result_t *res, void *arg)
{
  pv_metrics_t *m = arg;
  m->backlog_busy = false;
  backlog_clear(m);
  if (!pv_pg_result_ok(res)) {
    /* The series disappear rather than show a stale backlog; the PG
     * alerts say why. */
    pv_log(PV_LOG_DEBUG, "metrics.backlog_failed",
           PV_S("error", pv_pg_result_error(res)));
    return;
  }
  int n = pv_pg_result_ntuples(res);
  if (n > BACKLOG_ROWS_MAX)
    n = BACKLOG_ROWS_MAX;
  m->backlog = pv_calloc(n > 0 ? (size_t)n : 1, sizeof(*m->backlog));
  for (int r = 0; r < n; r++) {
    const char *t = pv_pg_result_get(res, r, 0);
    const char *sv = pv_pg_result_get(res, r, 1);
    const char *st = pv_pg_result_get(res, r, 2);
    const char *cnt = pv_pg_result_get(res, r, 3);
    const char *age = pv_pg_result_get(res, r, 4);
    if (!t || !sv || !st || !cnt || !age)
      continue;
    backlog_row_t *b = &m->backlog[m->n_backlog++];
    b->tenant = pv_strdup(t);
    b->service = pv_strdup(sv);
    b->state = pv_strdup(st);
    b->jobs = strtod(cnt, NULL);
    b->oldest_s = strtod(age, NULL);
    if (!(b->oldest_s >= 0)) /* clock skew between hosts */
      b->oldest_s = 0;
  }
  m->backlog_valid = true;
}

static void backlog_refresh(pv_metrics_t *m)
{
  if (!m->pg || m->backlog_busy || !pv_pg_connected(m->pg))
    return;
  uint64_t now = pv_clock_mono_ms();
  if (m->backlog_asked_ms && now - m->backlog_asked_ms < BACKLOG_REFRESH_MS)
    return;
  m->backlog_asked_ms = now;
  if (pv_pg_query(m->pg, backlog_sql, 0, NULL, on_backlog, m) == PV_PG_OK)
    m->backlog_busy = true;
}

static const char *bound_unfinished(const char *st)
{
  static const char *const states[] = {"received", "running", "retry_wait"};
  return bound_to(states, 3, st);
}

/* ---- rendering ----------------------------------------------------------- */

int pv_metrics_escape_label(pv_buf_t *out, const char *s)
{
  int rc = 0;
  for (const char *p = s ? s : ""; *p && rc == 0; p++) {
    if (*p == '\\')
      rc = pv_buf_append(out, "\\\\", 2);
    else if (*p == '"')
      rc = pv_buf_append(out, "\\\"", 2);
    else if (*p == '\n')
      rc = pv_buf_append(out, "\\n", 2);
    else
      rc = pv_buf_append(out, p, 1);
  }
  return rc;
}

static int fmt_num(pv_buf_t *out, double v)
{
  if (isnan(v))
    return pv_buf_append(out, "NaN", 3);
  if (isinf(v))
    return v > 0 ? pv_buf_append(out, "+Inf", 4) : pv_buf_append(out, "-Inf", 4);
  if (v == floor(v) && fabs(v) < 1e15)
    return pv_buf_appendf(out, "%.0f", v);
  return pv_buf_appendf(out, "%.9g", v);
}

/* name{l1="v1",...[,extra_name="extra_value"]} */
static int write_labels(pv_buf_t *out, const family_t *f, const series_t *s,
                        const char *extra_name, const char *extra_value)
{
  int n = f->nlabels + (extra_name ? 1 : 0);
  if (n == 0)
    return 0;
  int rc = pv_buf_append(out, "{", 1);
  for (int i = 0; i < n && rc == 0; i++) {
    const char *name = i < f->nlabels ? f->labels[i] : extra_name;
    const char *val = i < f->nlabels ? s->values[i] : extra_value;
    rc = pv_buf_appendf(out, "%s%s=\"", i ? "," : "", name);
    if (rc == 0)
      rc = pv_metrics_escape_label(out, val);
    if (rc == 0)
      rc = pv_buf_append(out, "\"", 1);
  }
  if (rc == 0)
    rc = pv_buf_append(out, "}", 1);
  return rc;
}

typedef struct collect {
  const char **keys;
  series_t **vals;
  size_t n;
} collect_t;

static void collect_one(const char *key, void *value, void *arg)
{
  collect_t *c = arg;
  c->keys[c->n] = key;
  c->vals[c->n] = value;
  c->n++;
}

static int cmp_idx_keys(const void *a, const void *b, void *keys)
{
  const char *const *k = keys;
  return strcmp(k[*(const size_t *)a], k[*(const size_t *)b]);
}

static int render_family(pv_buf_t *out, const family_t *f)
{
  static const char *const kinds[] = {"counter", "gauge", "histogram"};
  int rc = pv_buf_appendf(out, "# HELP %s %s\n# TYPE %s %s\n", f->name,
                          f->help, f->name, kinds[f->kind]);
  size_t n = pv_map_size(f->series);
  if (rc || n == 0)
    return rc;
  collect_t c = {pv_calloc(n, sizeof(char *)), pv_calloc(n, sizeof(series_t *)),
                 0};
  size_t *idx = pv_calloc(n, sizeof(size_t));
  pv_map_each(f->series, collect_one, &c);
  for (size_t i = 0; i < c.n; i++)
    idx[i] = i;
  /* Sorted: the same scrape twice reads the same, diffs stay small. */
  qsort_r(idx, c.n, sizeof(size_t), cmp_idx_keys, c.keys);
  for (size_t j = 0; j < c.n && rc == 0; j++) {
    const series_t *s = c.vals[idx[j]];
    if (f->kind != K_HIST) {
      rc = pv_buf_appendf(out, "%s", f->name);
      if (rc == 0)
        rc = write_labels(out, f, s, NULL, NULL);
      if (rc == 0)
        rc = pv_buf_append(out, " ", 1);
      if (rc == 0)
        rc = fmt_num(out, s->value);
      if (rc == 0)
        rc = pv_buf_append(out, "\n", 1);
      continue;
    }
    uint64_t cum = 0;
    for (size_t b = 0; b <= f->nbounds && rc == 0; b++) {
      char le[32];
      cum += s->buckets[b];
      if (b < f->nbounds)
        snprintf(le, sizeof(le), "%g", f->bounds[b]);
      else
        snprintf(le, sizeof(le), "+Inf");
      rc = pv_buf_appendf(out, "%s_bucket", f->name);
      if (rc == 0)
        rc = write_labels(out, f, s, "le", le);
      if (rc == 0)
        rc = pv_buf_appendf(out, " %" PRIu64 "\n", cum);
    }
    if (rc == 0)
      rc = pv_buf_appendf(out, "%s_sum", f->name);
    if (rc == 0)
      rc = write_labels(out, f, s, NULL, NULL);
    if (rc == 0)
      rc = pv_buf_append(out, " ", 1);
    if (rc == 0)
      rc = fmt_num(out, s->sum);
    if (rc == 0)
      rc = pv_buf_appendf(out, "\n%s_count", f->name);
    if (rc == 0)
      rc = write_labels(out, f, s, NULL, NULL);
    if (rc == 0)
      rc = pv_buf_appendf(out, " %" PRIu64 "\n", s->count);
  }
  free(idx);
  free(c.keys);
  free(c.vals);
  return rc;
}

/* A gauge family built for one scrape, rendered and freed. */
typedef struct scrape_fam {
  family_t f;
} scrape_fam_t;

static void sf_init(scrape_fam_t *sf, const char *name, const char *help,
                    kind_t kind, int nlabels, const char *l0, const char *l1,
                    const char *l2)
{
  memset(sf, 0, sizeof(*sf));
  sf->f.name = name;
  sf->f.help = help;
  sf->f.kind = kind;
  sf->f.nlabels = nlabels;
  sf->f.labels[0] = l0;
  sf->f.labels[1] = l1;
  sf->f.labels[2] = l2;
  sf->f.series = pv_map_new();
}

static int sf_done(pv_buf_t *out, scrape_fam_t *sf, int rc)
{
  if (rc == 0)
    rc = render_family(out, &sf->f);
  family_clear(&sf->f);
  return rc;
}

enum {
  G_BREAKER_STATE,
  G_BREAKER_REJECTED,
  G_POOL_IN_FLIGHT,
  G_POOL_QUEUED,
  G_POOL_SIZE,
  G__EP_COUNT
};

typedef struct ep_ctx {
  pv_metrics_t *m;
  scrape_fam_t *g;
} ep_ctx_t;

static void on_endpoint(const pv_endpoint_info_t *info, void *arg)
{
  ep_ctx_t *c = arg;
  const char *svc = bound_service(info->service);
  const char *tenant = bound_tenant(c->m, info->tenant);
  const char *st[] = {svc, tenant, NULL};
  static const pv_breaker_state_t states[] = {
    PV_BREAKER_CLOSED, PV_BREAKER_OPEN, PV_BREAKER_HALF_OPEN,
    PV_BREAKER_FORCED_OPEN, PV_BREAKER_DISABLED};
  for (size_t i = 0; i < 5; i++) {
    st[2] = pv_breaker_state_name(states[i]);
    /* Every state is written (0 or 1), so "state changed" is a value
     * change rather than a series appearing. */
    add(&c->g[G_BREAKER_STATE].f, st, info->breaker == states[i] ? 1 : 0);
  }
  add(&c->g[G_BREAKER_REJECTED].f, st, (double)info->stats.breaker_rejected);
  add(&c->g[G_POOL_IN_FLIGHT].f, st, info->stats.in_flight);
  add(&c->g[G_POOL_QUEUED].f, st, info->stats.queued);
  add(&c->g[G_POOL_SIZE].f, st, info->max_connections);
}

typedef struct part_ctx {
  scrape_fam_t *lag, *paused, *pending;
} part_ctx_t;

static void on_partition(const pv_kafka_partition_t *p, void *arg)
{
  part_ctx_t *c = arg;
  char part[16];
  snprintf(part, sizeof(part), "%d", (int)p->partition);
  const char *v[] = {p->topic, part};
  if (p->lag >= 0)
    add(&c->lag->f, v, (double)p->lag);
  add(&c->paused->f, v, p->paused ? 1 : 0);
  add(&c->pending->f, v, (double)p->pending);
}

static int one_value(pv_buf_t *out, const char *name, const char *help,
                     kind_t kind, double value)
{
  scrape_fam_t sf;
  sf_init(&sf, name, help, kind, 0, NULL, NULL, NULL);
  add(&sf.f, NULL, value);
  return sf_done(out, &sf, 0);
}

int pv_metrics_render(pv_metrics_t *m, pv_buf_t *out)
{
  int rc = 0;
  for (int i = 0; i < F__COUNT && rc == 0; i++)
    rc = render_family(out, &m->fam[i]);

  if (rc == 0 && m->http) {
    scrape_fam_t g[G__EP_COUNT];
    sf_init(&g[G_BREAKER_STATE], "provisiond_breaker_state",
            "Endpoints of (service, tenant) in each breaker state.", K_GAUGE, 3,
            "service", "tenant", "state");
    sf_init(&g[G_BREAKER_REJECTED], "provisiond_breaker_rejected_total",
            "Calls failed fast by an open breaker.", K_COUNTER, 2, "service",
            "tenant", NULL);
    sf_init(&g[G_POOL_IN_FLIGHT], "provisiond_http_pool_in_flight",
            "Admitted southbound attempts (connections in use).", K_GAUGE, 2,
            "service", "tenant", NULL);
    sf_init(&g[G_POOL_QUEUED], "provisiond_http_pool_queued",
            "Calls waiting for admission to the endpoint's pool.", K_GAUGE, 2,
            "service", "tenant", NULL);
    sf_init(&g[G_POOL_SIZE], "provisiond_http_pool_size",
            "Admission cap (max_connections) of the endpoint's pool.", K_GAUGE,
            2, "service", "tenant", NULL);
    ep_ctx_t c = {m, g};
    pv_http_each_endpoint(m->http, on_endpoint, &c);
    for (int i = 0; i < G__EP_COUNT; i++)
      rc = sf_done(out, &g[i], rc);
  }

  if (rc == 0 && m->engine) {
    pv_engine_stats_t es;
    pv_engine_stats(m->engine, &es);
    rc = one_value(out, "provisiond_jobs_in_flight",
                   "Jobs claimed and not yet done.", K_GAUGE, es.in_flight);
    if (rc == 0)
      rc = one_value(out, "provisiond_jobs_buffered",
                     "Records held in memory, running or waiting.", K_GAUGE,
                     es.buffered);
    if (rc == 0)
      rc = one_value(out, "provisiond_draining", "1 while shutting down.",
                     K_GAUGE, es.draining ? 1 : 0);
    if (rc == 0)
      rc = one_value(out, "provisiond_jobs_already_published_total",
                     "Redelivered records whose reply was known to be on "
                     "Kafka: done without publishing again.", K_COUNTER,
                     (double)es.already_published);
    if (rc == 0)
      rc = one_value(out, "provisiond_kafka_reply_stubs_total",
                     "Replies Kafka refused for good (unknown topic, too "
                     "large), replaced by a reply_undeliverable stub.",
                     K_COUNTER, (double)es.reply_stubs);
    if (rc == 0)
      rc = one_value(out, "provisiond_kafka_dead_letter_stubs_total",
                     "Dead letters Kafka refused as too large, sent without "
                     "their value.", K_COUNTER, (double)es.dead_letter_stubs);
    if (rc == 0)
      rc = one_value(out, "provisiond_kafka_undeliverable_total",
                     "Replies or dead letters for which nothing could be "
                     "sent (the job row keeps them).", K_COUNTER,
                     (double)es.undeliverable);
    if (rc == 0)
      rc = one_value(out, "provisiond_jobs_lease_lost_total",
                     "Runs whose job another worker took over while this "
                     "one was cut off from PostgreSQL past its lease: their "
                     "outcome not written, nothing published.", K_COUNTER,
                     (double)es.lease_lost);
    pv_kafka_t *k = pv_engine_kafka(m->engine);
    if (rc == 0 && k) {
      pv_kafka_stats_t ks;
      pv_kafka_get_stats(k, &ks);
      scrape_fam_t lag, paused, pending;
      sf_init(&lag, "provisiond_kafka_consumer_lag",
              "High watermark minus where this worker would resume.", K_GAUGE,
              2, "topic", "partition", NULL);
      sf_init(&paused, "provisiond_kafka_partition_paused",
              "1 when intake of the partition is paused (back-pressure).",
              K_GAUGE, 2, "topic", "partition", NULL);
      sf_init(&pending, "provisiond_kafka_partition_pending",
              "Records handed out whose offset is not stored yet.", K_GAUGE, 2,
              "topic", "partition", NULL);
      part_ctx_t pc = {&lag, &paused, &pending};
      pv_kafka_each_partition(k, on_partition, &pc);
      rc = sf_done(out, &lag, rc);
      rc = sf_done(out, &paused, rc);
      rc = sf_done(out, &pending, rc);
      if (rc == 0)
        rc = one_value(out, "provisiond_kafka_assigned_partitions",
                       "Partitions assigned to this worker.", K_GAUGE,
                       ks.assigned_partitions);
      if (rc == 0)
        rc = one_value(out, "provisiond_kafka_brokers_down",
                       "1 when librdkafka reported all brokers down.", K_GAUGE,
                       ks.brokers_down ? 1 : 0);
      if (rc == 0)
        rc = one_value(out, "provisiond_kafka_produced_total",
                       "Replies and dead letters acknowledged.", K_COUNTER,
                       (double)ks.produced);
      if (rc == 0)
        rc = one_value(out, "provisiond_kafka_produce_errors_total",
                       "Replies and dead letters librdkafka gave up on.",
                       K_COUNTER, (double)ks.produce_errors);
      if (rc == 0)
        rc = one_value(out, "provisiond_kafka_pending_produce",
                       "Produced records not yet acknowledged.", K_GAUGE,
                       (double)ks.pending_produce);
    }
  }

  if (rc == 0 && m->pg) {
    pv_pg_stats_t ps;
    pv_pg_stats(m->pg, &ps);
    rc = one_value(out, "provisiond_pg_connected",
                   "1 when the PostgreSQL connection is up.", K_GAUGE,
                   ps.connected ? 1 : 0);
    if (rc == 0)
      rc = one_value(out, "provisiond_pg_queue_depth",
                     "Statements queued or in flight on the connection.",
                     K_GAUGE, (double)ps.queue_depth);
    if (rc == 0)
      rc = pv_buf_appendf(
          out,
          "# HELP provisiond_pg_query_seconds Statement latency, queued to "
          "result.\n# TYPE provisiond_pg_query_seconds summary\n"
          "provisiond_pg_query_seconds_sum %.6f\n"
          "provisiond_pg_query_seconds_count %" PRIu64 "\n",
          (double)ps.latency_us_sum / 1e6, ps.latency_count);
    if (rc == 0)
      rc = pv_buf_appendf(
          out,
          "# HELP provisiond_pg_queries_total Statement results by outcome.\n"
          "# TYPE provisiond_pg_queries_total counter\n"
          "provisiond_pg_queries_total{result=\"ok\"} %" PRIu64 "\n"
          "provisiond_pg_queries_total{result=\"failed\"} %" PRIu64 "\n"
          "provisiond_pg_queries_total{result=\"lost\"} %" PRIu64 "\n",
          ps.queries_ok, ps.queries_failed, ps.queries_lost);
    if (rc == 0)
      rc = one_value(out, "provisiond_pg_reconnects_total",
                     "Connections made again after a loss.", K_COUNTER,
                     (double)ps.reconnects);
    if (rc == 0)
      rc = one_value(out, "provisiond_pg_batch_max",
                     "Largest pipelined batch sent.", K_GAUGE,
                     (double)ps.batch_max);
  }

  if (rc == 0 && m->pg) {
    backlog_refresh(m);
    scrape_fam_t jobs, oldest;
    sf_init(&jobs, "provisiond_jobs_unfinished",
            "Jobs of the whole fleet not finished (job_status), as of the "
            "previous scrape.", K_GAUGE, 3, "tenant", "service", "state");
    sf_init(&oldest, "provisiond_jobs_unfinished_oldest_seconds",
            "Age (since received) of the fleet's oldest unfinished job, as "
            "of the previous scrape.", K_GAUGE, 3, "tenant", "service",
            "state");
    for (size_t i = 0; m->backlog_valid && i < m->n_backlog; i++) {
      const backlog_row_t *b = &m->backlog[i];
      const char *v[] = {bound_tenant(m, b->tenant),
                         bound_service(b->service),
                         bound_unfinished(b->state)};
      add(&jobs.f, v, b->jobs);
      /* rows folded into "unknown" keep the oldest of their ages */
      series_t *o = series_get(&oldest.f, v);
      if (o && b->oldest_s > o->value)
        o->value = b->oldest_s;
    }
    rc = sf_done(out, &jobs, rc);
    rc = sf_done(out, &oldest, rc);
  }

  if (rc == 0) {
    bool ready;
    pv_buf_t body;
    pv_buf_init(&body, 4096);
    ready = pv_metrics_ready(m, &body); /* the same verdict as /readyz */
    pv_buf_free(&body);
    rc = one_value(out, "provisiond_ready",
                   "1 when /readyz answers 200 (ready), 0 otherwise.", K_GAUGE,
                   ready ? 1 : 0);
  }

  if (rc == 0) {
    uint64_t dropped = 0;
    for (int i = 0; i < F__COUNT; i++)
      dropped += m->fam[i].dropped;
    rc = one_value(out, "provisiond_metrics_series_dropped_total",
                   "Observations lost to the per-family series cap.",
                   K_COUNTER, (double)dropped);
  }
  if (rc == 0)
    rc = pv_buf_appendf(out,
                        "# HELP provisiond_build_info Version of this build.\n"
                        "# TYPE provisiond_build_info gauge\n"
                        "provisiond_build_info{version=\"%s\"} 1\n"
                        "# HELP provisiond_start_time_seconds Process start, "
                        "Unix time.\n"
                        "# TYPE provisiond_start_time_seconds gauge\n"
                        "provisiond_start_time_seconds %.3f\n",
                        PV_VERSION, (double)m->started_wall_ms / 1000.0);
  return rc;
}

/* ---- readiness ----------------------------------------------------------- */

static void problem(pv_buf_t *out, int *n, const char *what)
{
  /* The problem texts are fixed strings of ours: no escaping needed. */
  pv_buf_appendf(out, "%s\"%s\"", *n ? "," : "", what);
  (*n)++;
}

bool pv_metrics_ready(pv_metrics_t *m, pv_buf_t *out)
{
  pv_engine_stats_t es = {0};
  pv_kafka_stats_t ks = {0};
  pv_pg_stats_t ps = {0};
  pv_kafka_t *k = m->engine ? pv_engine_kafka(m->engine) : NULL;
  if (m->engine)
    pv_engine_stats(m->engine, &es);
  if (k)
    pv_kafka_get_stats(k, &ks);
  if (m->pg)
    pv_pg_stats(m->pg, &ps);
  pv_buf_t probs;
  pv_buf_init(&probs, 4096);
  int n = 0;
  if (!m->engine)
    problem(&probs, &n, "engine: not started");
  if (es.draining)
    problem(&probs, &n, "worker: draining");
  if (es.fatal)
    problem(&probs, &n, "kafka: fatal error");
  if (m->engine && (!k || ks.assigned_partitions == 0))
    problem(&probs, &n, "kafka: no partitions assigned");
  if (k && ks.brokers_down)
    problem(&probs, &n, "kafka: all brokers down");
  if (!m->pg || !ps.connected)
    problem(&probs, &n, "postgres: not connected");
  bool ready = n == 0;
  pv_buf_appendf(out,
                 "{\"ready\":%s,\"problems\":[%s],\"draining\":%s,"
                 "\"kafka\":{\"assigned_partitions\":%d,\"brokers_down\":%s,"
                 "\"paused\":%s},\"postgres\":{\"connected\":%s,"
                 "\"queue_depth\":%zu},\"jobs_in_flight\":%d}\n",
                 ready ? "true" : "false", probs.data ? probs.data : "",
                 es.draining ? "true" : "false", ks.assigned_partitions,
                 ks.brokers_down ? "true" : "false",
                 ks.paused ? "true" : "false", ps.connected ? "true" : "false",
                 ps.queue_depth, es.in_flight);
  pv_buf_free(&probs);
  return ready;
}

/* ---- HTTP server --------------------------------------------------------- */

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned int status,
                             const char *ctype, pv_buf_t *body)
{
  size_t len = 0;
  char *data = pv_buf_steal(body, &len);
  struct MHD_Response *r = MHD_create_response_from_buffer(
      len, data ? data : (char *)"", data ? MHD_RESPMEM_MUST_FREE
                                          : MHD_RESPMEM_PERSISTENT);
  if (!r) {
    free(data);
    return MHD_NO;
  }
  MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
  MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
  enum MHD_Result rc = MHD_queue_response(conn, status, r);
  MHD_destroy_response(r);
  return rc;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
                                  const char *url, const char *method,
                                  const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
  pv_metrics_t *m = cls;
  (void)version;
  (void)upload;
  (void)con_cls;
  pv_buf_t body;
  pv_buf_init(&body, RENDER_MAX);
  if (*upload_size) {
    *upload_size = 0; /* a GET has no body; ignore what was sent */
    return MHD_YES;
  }
  if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
    pv_buf_appendf(&body, "only GET and HEAD\n");
    return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain", &body);
  }
  if (!strcmp(url, "/metrics")) {
    if (pv_metrics_render(m, &body) != 0)
      pv_log(PV_LOG_WARN, "metrics.render_truncated",
             PV_I("cap_bytes", RENDER_MAX));
    return reply(conn, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8",
                 &body);
  }
  if (!strcmp(url, "/healthz")) {
    pv_buf_appendf(&body, "{\"alive\":true,\"version\":\"%s\"}\n", PV_VERSION);
    return reply(conn, MHD_HTTP_OK, "application/json", &body);
  }
  if (!strcmp(url, "/readyz")) {
    bool ok = pv_metrics_ready(m, &body);
    return reply(conn, ok ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE,
                 "application/json", &body);
  }
  pv_buf_appendf(&body, "not found: try /metrics, /healthz or /readyz\n");
  return reply(conn, MHD_HTTP_NOT_FOUND, "text/plain", &body);
}

static void schedule(pv_metrics_t *m);

static void drive(pv_metrics_t *m)
{
  if (!m->mhd)
    return;
  if (MHD_run(m->mhd) != MHD_YES)
    pv_log(PV_LOG_DEBUG, "metrics.run_failed");
  schedule(m);
}

static void on_poll(uv_poll_t *p, int status, int events)
{
  (void)status;
  (void)events;
  drive(p->data);
}

static void on_timer(uv_timer_t *t)
{
  drive(t->data);
}

/* MHD says when it needs to run again without new socket events (0 when
 * connections are ready to proceed now, or for its connection timeouts). */
static void schedule(pv_metrics_t *m)
{
  MHD_UNSIGNED_LONG_LONG t = 1000;
  if (MHD_get_timeout(m->mhd, &t) != MHD_YES || t > 1000)
    t = 1000;
  uv_timer_start(&m->timer, on_timer, (uint64_t)t, 0);
}

static int parse_listen(const char *listen, struct sockaddr_in *sa,
                        char *errstr, size_t n)
{
  const char *colon = strrchr(listen, ':');
  char host[64];
  if (!colon || (size_t)(colon - listen) >= sizeof(host) || colon == listen) {
    snprintf(errstr, n, "worker.metrics_listen \"%.80s\": want host:port, e.g. "
             "127.0.0.1:9464", listen);
    return -1;
  }
  memcpy(host, listen, (size_t)(colon - listen));
  host[colon - listen] = '\0';
  char *end = NULL;
  errno = 0;
  long port = strtol(colon + 1, &end, 10);
  memset(sa, 0, sizeof(*sa));
  sa->sin_family = AF_INET;
  if (errno || !end || *end || end == colon + 1 || port < 0 || port > 65535) {
    snprintf(errstr, n, "worker.metrics_listen \"%.80s\": port must be "
             "0..65535", listen);
    return -1;
  }
  sa->sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, host, &sa->sin_addr) != 1) {
    snprintf(errstr, n, "worker.metrics_listen \"%.80s\": host must be an "
             "IPv4 address (127.0.0.1 for loopback, 0.0.0.0 for all)", listen);
    return -1;
  }
  return 0;
}

static void on_handle_closed(uv_handle_t *h)
{
  (void)h;
}

int pv_metrics_listen(pv_metrics_t *m, uv_loop_t *loop, const char *listen,
                      char *errstr, size_t n)
{
  struct sockaddr_in sa;
  if (m->mhd) {
    snprintf(errstr, n, "metrics: already listening");
    return -1;
  }
  if (!listen || parse_listen(listen, &sa, errstr, n) != 0)
    return -1;
  m->mhd = MHD_start_daemon(
      MHD_USE_EPOLL, ntohs(sa.sin_port), NULL, NULL, on_request, m,
      MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
      MHD_OPTION_CONNECTION_LIMIT, (unsigned int)64,
      MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)10,
      MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024),
      MHD_OPTION_END);
  if (!m->mhd) {
    snprintf(errstr, n, "worker.metrics_listen %s: cannot listen (port in use "
             "or not permitted)", listen);
    return -1;
  }
  const union MHD_DaemonInfo *fd_info =
      MHD_get_daemon_info(m->mhd, MHD_DAEMON_INFO_EPOLL_FD);
  const union MHD_DaemonInfo *port_info =
      MHD_get_daemon_info(m->mhd, MHD_DAEMON_INFO_BIND_PORT);
  m->port = port_info ? (int)port_info->port : (int)ntohs(sa.sin_port);
  m->loop = loop;
  if (!fd_info || uv_poll_init(loop, &m->poll, fd_info->epoll_fd) != 0) {
    snprintf(errstr, n, "metrics: cannot watch the server's epoll descriptor");
    MHD_stop_daemon(m->mhd);
    m->mhd = NULL;
    return -1;
  }
  m->poll.data = m;
  m->poll_init = true;
  uv_timer_init(loop, &m->timer);
  m->timer.data = m;
  m->timer_init = true;
  uv_poll_start(&m->poll, UV_READABLE, on_poll);
  /* Neither handle keeps the loop alive: the daemon's own work does. */
  uv_unref((uv_handle_t *)&m->poll);
  uv_unref((uv_handle_t *)&m->timer);
  schedule(m);
  pv_log(PV_LOG_INFO, "metrics.listening", PV_S("listen", listen),
         PV_I("port", m->port));
  return 0;
}

int pv_metrics_port(const pv_metrics_t *m)
{
  return m && m->mhd ? m->port : 0;
}

void pv_metrics_stop(pv_metrics_t *m)
{
  if (!m)
    return;
  if (m->poll_init) {
    uv_poll_stop(&m->poll);
    uv_close((uv_handle_t *)&m->poll, on_handle_closed);
    m->poll_init = false;
  }
  if (m->timer_init) {
    uv_timer_stop(&m->timer);
    uv_close((uv_handle_t *)&m->timer, on_handle_closed);
    m->timer_init = false;
  }
  if (m->mhd) {
    MHD_stop_daemon(m->mhd);
    m->mhd = NULL;
  }
  m->port = 0;
}

void pv_metrics_destroy(pv_metrics_t *m)
{
  if (!m)
    return;
  /* Handles must be closed by the caller's loop before m is freed; if
   * they are still open here the caller forgot pv_metrics_stop. */
  if (m->poll_init || m->timer_init || m->mhd)
    pv_metrics_stop(m);
  for (int i = 0; i < F__COUNT; i++)
    family_clear(&m->fam[i]);
  backlog_clear(m);
  for (size_t i = 0; i < m->n_tenants; i++)
    free(m->tenants[i]);
  free(m->tenants);
  free(m);
}
