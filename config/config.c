#include "config/config.h"

#include "common/alloc.h"
#include "common/log.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef enum { T_STR, T_INT, T_LL, T_BOOL, T_DBL } ktype_t;

typedef struct key {
  const char *section;
  const char *name;
  ktype_t type;
  size_t offset;
  double min, max; /* numeric bounds; for T_STR min = 1 means non-empty */
  const char *def; /* NULL = no default (unset) */
  const char *doc;
} key_t_;

#define OFF(f) offsetof(pv_config_t, f)

/* The one table of configuration keys. Defaults follow the design
 * (docs/architecture.md); the docs page is generated from it. */
static const key_t_ keys[] = {
  {"worker", "id", T_STR, OFF(worker_id), 0, 0, NULL,
   "Worker identity in logs, job_status.worker_id and breaker history. "
   "Default: hostname-pid."},
  {"worker", "log_level", T_STR, OFF(log_level), 1, 0, "info",
   "debug, info, warn or error."},
  {"worker", "metrics_listen", T_STR, OFF(metrics_listen), 0, 0,
   "127.0.0.1:9464", "host:port of the metrics and health endpoint; empty "
   "disables it."},
  {"worker", "max_in_flight", T_INT, OFF(max_in_flight), 1, 1000000, "1000",
   "Jobs executing at once in this process."},
  {"worker", "max_in_flight_per_tenant", T_INT, OFF(max_in_flight_per_tenant),
   0, 1000000, "0", "Cap per tenant (0 = max_in_flight); a tenant section's "
   "max_in_flight overrides it."},
  {"worker", "max_in_flight_per_topic", T_INT, OFF(max_in_flight_per_topic),
   0, 1000000, "0", "Cap per source topic (0 = none beyond max_in_flight): "
   "keeps room for quick queries while long orders flood another topic."},
  {"worker", "max_buffered", T_INT, OFF(max_buffered), 1, 10000000, "20000",
   "Records held in memory (running + waiting); above it the partitions "
   "are paused until half of it is left."},
  {"worker", "drain_timeout_ms", T_INT, OFF(drain_timeout_ms), 0, 3600000,
   "30000", "On SIGTERM, how long in-flight jobs may finish before the "
   "worker stops anyway (their offsets stay uncommitted)."},
  {"worker", "lease_ms", T_INT, OFF(lease_ms), 1000, 3600000, "30000",
   "A running job's lease in PostgreSQL, renewed every third of it; a "
   "crashed worker's jobs can be taken over when it expires."},
  {"worker", "default_deadline_ms", T_LL, OFF(default_deadline_ms), 1000,
   31536000000.0, "86400000",
   "Deadline of a job that gives none, from when it is received."},
  {"worker", "max_attempts_cap", T_INT, OFF(max_attempts_cap), 1, 1000, "20",
   "Highest max_attempts a job may ask for."},
  {"worker", "job_max_attempts", T_INT, OFF(job_max_attempts), 1, 1000, "5",
   "Runs that reach the service before a job that keeps meeting an "
   "unavailable service is dead-lettered (a job's max_attempts overrides "
   "it). Runs refused by an open breaker or a Retry-After do not count."},
  {"worker", "retry_poll_ms", T_INT, OFF(retry_poll_ms), 50, 600000, "1000",
   "How often the worker looks for parked jobs that are due."},
  {"worker", "park_backoff_base_ms", T_INT, OFF(park_backoff_base_ms), 10,
   86400000, "5000", "First wait of a parked job (doubling per run, full "
   "jitter); a Retry-After or breaker reset later than that wins."},
  {"worker", "park_backoff_cap_ms", T_INT, OFF(park_backoff_cap_ms), 10,
   86400000, "300000", "Longest wait of a parked job between two runs."},
  {"worker", "orders_dir", T_STR, OFF(orders_dir), 0, 0, NULL,
   "Folder of the order type files (one NAME.json per type, "
   "docs/orders.md), loaded and checked at start-up and by "
   "--check-config; provctl orders reads it too. Default: "
   "<datadir>/provisiond/orders of the build's install prefix (prefix "
   "/usr: /usr/share/provisiond/orders), where the shipped types are "
   "installed; the dev stack sets the source tree's jobs/orders. A folder "
   "set here must exist; the default may be absent (no order types). Set "
   "to nothing: the default."},
  {"kafka", "brokers", T_STR, OFF(kafka_brokers), 1, 0, "127.0.0.1:9092",
   "Bootstrap servers (bootstrap.servers)."},
  {"kafka", "group_id", T_STR, OFF(kafka_group_id), 1, 0, "provisiond",
   "Consumer group shared by every worker of the fleet."},
  {"kafka", "topics", T_STR, OFF(kafka_topics), 1, 0,
   "provisioning.jobs,provisioning.queries", "Comma-separated job topics."},
  {"kafka", "results_topic", T_STR, OFF(kafka_results_topic), 1, 0,
   "provisioning.results", "Reply topic for jobs that name none (never a "
   "job topic or a dead-letter topic: refused at start-up)."},
  {"kafka", "dlq_suffix", T_STR, OFF(kafka_dlq_suffix), 1, 0, ".dlq",
   "Dead letters of topic T go to T followed by this."},
  {"kafka", "reply_max_bytes", T_INT, OFF(kafka_reply_max_bytes), 4096,
   100000000, "900000", "Largest encoded reply. A larger one is cut: list "
   "items are kept while they fit (the result says truncated), other "
   "results are left out; the reply says \"truncated\": true and its full "
   "size. The whole result stays in job_status.result. Keep it below the "
   "producer's message.max.bytes (librdkafka: 1000000) and the reply "
   "topics' max.message.bytes."},
  {"postgres", "conninfo", T_STR, OFF(pg_conninfo), 1, 0,
   "host=127.0.0.1 dbname=provisiond",
   "libpq connection string (PROVISIOND_PG overrides it)."},
  {"http", "connect_timeout_ms", T_INT, OFF(http_connect_timeout_ms), 100,
   600000, "5000", "TCP+TLS connect timeout of every southbound request."},
  {"http", "tls_verify", T_BOOL, OFF(http_tls_verify), 0, 0, "true",
   "Verify the peer certificate and host name."},
  {"http", "ca_path", T_STR, OFF(http_ca_path), 0, 0, NULL,
   "CA bundle file; default: the system's."},
  {"http", "max_connections", T_INT, OFF(http_max_connections), 1, 10000,
   "20", "Connections per (service, tenant, endpoint)."},
  {"http", "max_idle", T_INT, OFF(http_max_idle), 0, 10000, "10",
   "Idle keep-alive connections kept per endpoint."},
  {"http", "retry_max_attempts", T_INT, OFF(retry_max_attempts), 1, 100, "3",
   "HTTP attempts per request (1 = no retry)."},
  {"http", "backoff_base_ms", T_INT, OFF(retry_backoff_base_ms), 1, 600000,
   "1000", "First backoff step (full jitter)."},
  {"http", "backoff_cap_ms", T_INT, OFF(retry_backoff_cap_ms), 1, 3600000,
   "10000", "Longest backoff step."},
  {"http", "retry_after_max_ms", T_INT, OFF(retry_after_max_ms), 0, 3600000,
   "30000", "Longest Retry-After waited in process; longer ones park the "
   "job."},
  {"http", "budget_ratio", T_DBL, OFF(budget_ratio), 0, 10, "0.2",
   "Retries allowed per recent request, per (service, tenant)."},
  {"http", "budget_min_per_sec", T_DBL, OFF(budget_min_per_sec), 0, 100000,
   "3", "Retries per second always allowed."},
  {"http", "breaker_fail_max", T_INT, OFF(breaker_fail_max), 1, 100000, "5",
   "Consecutive counted failures that open a breaker."},
  {"http", "breaker_reset_timeout_ms", T_INT, OFF(breaker_reset_timeout_ms),
   10, 86400000, "60000", "Open breaker waits this long before a probe."},
  {"http", "breaker_half_open_max", T_INT, OFF(breaker_half_open_max), 1, 1000,
   "1", "Probes admitted while half-open."},
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

typedef struct load_ctx {
  pv_config_t *conf;
  char *err;
  size_t errsize;
  const char *path;
  bool failed;
  bool seen[NKEYS];
  FILE *file;
  int line;       /* the line inih is handling (it does not say itself) */
  int section_line; /* where the current [section] started */
} load_ctx_t;

static void fail(load_ctx_t *ctx, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail(load_ctx_t *ctx, int line, const char *fmt, ...)
{
  if (ctx->failed)
    return; /* the first error is the one worth reading */
  ctx->failed = true;
  int n = 0;
  if (line > 0)
    n = snprintf(ctx->err, ctx->errsize, "%s:%d: ", ctx->path, line);
  else if (line == 0 && ctx->path)
    n = snprintf(ctx->err, ctx->errsize, "%s: ", ctx->path);
  if (n < 0 || (size_t)n >= ctx->errsize)
    return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(ctx->err + n, ctx->errsize - (size_t)n, fmt, ap);
  va_end(ap);
}

static char *trim_dup(const char *s)
{
  while (isspace((unsigned char)*s))
    s++;
  size_t n = strlen(s);
  while (n && isspace((unsigned char)s[n - 1]))
    n--;
  return pv_strndup(s, n);
}

/* Sets a table key from its text. where: "line N" or "environment VAR". */
static int set_key(load_ctx_t *ctx, const key_t_ *k, const char *value,
                   int line, const char *env)
{
  char *base = (char *)ctx->conf;
  char where[96] = "";
  if (env)
    snprintf(where, sizeof(where), " (from %s)", env);
  switch (k->type) {
  case T_STR: {
    char **dst = (char **)(void *)(base + k->offset);
    char *v = trim_dup(value);
    if (k->min >= 1 && !*v) {
      free(v);
      fail(ctx, line, "[%s] %s%s: must not be empty", k->section, k->name,
           where);
      return -1;
    }
    free(*dst);
    /* An optional key set to nothing is unset, as if absent: never an
     * empty string handed on (curl takes ca_path "" as a CA file named
     * "" and every TLS handshake fails). */
    if (!*v) {
      free(v);
      v = NULL;
    }
    *dst = v;
    return 0;
  }
  case T_BOOL: {
    bool *dst = (bool *)(void *)(base + k->offset);
    char *v = trim_dup(value);
    int rc = 0;
    if (!strcasecmp(v, "true") || !strcasecmp(v, "yes") || !strcmp(v, "1") ||
        !strcasecmp(v, "on"))
      *dst = true;
    else if (!strcasecmp(v, "false") || !strcasecmp(v, "no") ||
             !strcmp(v, "0") || !strcasecmp(v, "off"))
      *dst = false;
    else {
      fail(ctx, line, "[%s] %s%s: \"%s\" is not a boolean (true/false)",
           k->section, k->name, where, v);
      rc = -1;
    }
    free(v);
    return rc;
  }
  case T_INT:
  case T_LL:
  case T_DBL: {
    char *v = trim_dup(value);
    char *end = NULL;
    errno = 0;
    double d = k->type == T_DBL ? strtod(v, &end) : (double)strtoll(v, &end, 10);
    int rc = 0;
    /* strtod takes "nan", which every range check lets through. */
    if (!*v || errno || (end && *end) || d != d) {
      fail(ctx, line, "[%s] %s%s: \"%s\" is not %s", k->section, k->name,
           where, v, k->type == T_DBL ? "a number" : "an integer");
      rc = -1;
    } else if (d < k->min || d > k->max) {
      fail(ctx, line, "[%s] %s%s: %s is out of range [%g, %g]", k->section,
           k->name, where, v, k->min, k->max);
      rc = -1;
    } else if (k->type == T_INT) {
      *(int *)(void *)(base + k->offset) = (int)d;
    } else if (k->type == T_LL) {
      *(long long *)(void *)(base + k->offset) = strtoll(v, NULL, 10);
    } else {
      *(double *)(void *)(base + k->offset) = d;
    }
    free(v);
    return rc;
  }
  }
  return -1;
}

static const key_t_ *find_key(const char *section, const char *name)
{
  for (size_t i = 0; i < NKEYS; i++)
    if (!strcmp(keys[i].section, section) && !strcmp(keys[i].name, name))
      return &keys[i];
  return NULL;
}

static bool valid_tenant_name(const char *s)
{
  size_t n = strlen(s);
  if (n == 0 || n > 64)
    return false;
  for (; *s; s++)
    if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' && *s != '.')
      return false;
  return true;
}

static pv_tenant_entry_t *tenant_get(load_ctx_t *ctx, const char *name,
                                     int line)
{
  pv_config_t *c = ctx->conf;
  for (size_t i = 0; i < c->n_tenants; i++)
    if (!strcmp(c->tenants[i].name, name))
      return &c->tenants[i];
  if (c->n_tenants == PV_CONFIG_MAX_TENANTS) {
    fail(ctx, line, "too many tenants (at most %d)", PV_CONFIG_MAX_TENANTS);
    return NULL;
  }
  pv_tenant_entry_t *t = &c->tenants[c->n_tenants++];
  memset(t, 0, sizeof(*t));
  t->name = pv_strdup(name);
  t->weight = 1;
  t->line = line;
  return t;
}

static int tenant_key(load_ctx_t *ctx, pv_tenant_entry_t *t, const char *name,
                      const char *value, int line)
{
  char **dst = NULL;
  if (!strcmp(name, "voltha_url"))
    dst = &t->voltha_url;
  else if (!strcmp(name, "genieacs_url"))
    dst = &t->genieacs_url;
  else if (!strcmp(name, "netbox_url"))
    dst = &t->netbox_url;
  else if (!strcmp(name, "netbox_token_env"))
    dst = &t->netbox_token_env;
  else if (!strcmp(name, "netbox_token_file"))
    dst = &t->netbox_token_file;
  else if (!strcmp(name, "netbox_token")) {
    fail(ctx, line, "[tenant.%s] netbox_token: secrets are not written in "
         "the config file; use netbox_token_env or netbox_token_file",
         t->name);
    return -1;
  } else if (!strcmp(name, "weight") || !strcmp(name, "max_in_flight")) {
    char *end = NULL;
    errno = 0;
    long v = strtol(value, &end, 10);
    long max = !strcmp(name, "weight") ? 1000 : 1000000;
    long min = !strcmp(name, "weight") ? 1 : 0;
    if (!*value || errno || *end || v < min || v > max) {
      fail(ctx, line, "[tenant.%s] %s: \"%s\" must be an integer in "
           "[%ld, %ld]", t->name, name, value, min, max);
      return -1;
    }
    if (!strcmp(name, "weight"))
      t->weight = (int)v;
    else
      t->max_in_flight = (int)v;
    return 0;
  } else {
    fail(ctx, line, "[tenant.%s] %s: unknown key (known: voltha_url, "
         "genieacs_url, netbox_url, netbox_token_env, netbox_token_file, "
         "weight, max_in_flight)", t->name, name);
    return -1;
  }
  free(*dst);
  *dst = trim_dup(value);
  return 0;
}

static int on_ini(void *user, const char *section, const char *name,
                  const char *value)
{
  load_ctx_t *ctx = user;
  int line = ctx->line;
  if (ctx->failed)
    return 0;
  if (!name) /* a section start (INI_CALL_HANDLER_ON_NEW_SECTION) */
    return 1;
  if (!strncmp(section, "tenant.", 7)) {
    const char *tname = section + 7;
    if (!valid_tenant_name(tname)) {
      fail(ctx, ctx->section_line, "[%s]: tenant name \"%s\" must be "
           "1-64 characters of letters, digits, '-', '_' or '.'", section,
           tname);
      return 0;
    }
    pv_tenant_entry_t *t = tenant_get(ctx, tname, ctx->section_line);
    if (!t || tenant_key(ctx, t, name, value, line) < 0)
      return 0;
    return 1;
  }
  if (!strcmp(section, "kafka") && strchr(name, '.')) {
    pv_config_t *c = ctx->conf;
    if (c->n_kafka_props == PV_CONFIG_MAX_KAFKA_PROPS) {
      fail(ctx, line, "[kafka]: too many librdkafka properties (at most %d)",
           PV_CONFIG_MAX_KAFKA_PROPS);
      return 0;
    }
    pv_kafka_prop_t *p = &c->kafka_props[c->n_kafka_props++];
    p->name = pv_strdup(name);
    p->value = trim_dup(value);
    p->line = line;
    return 1;
  }
  const key_t_ *k = find_key(section, name);
  if (!k) {
    bool known_section = false;
    for (size_t i = 0; i < NKEYS; i++)
      known_section |= !strcmp(keys[i].section, section);
    if (known_section)
      fail(ctx, line, "[%s] %s: unknown key", section, name);
    else
      fail(ctx, line, "[%s]: unknown section (known: worker, kafka, "
           "postgres, http, tenant.NAME)", section);
    return 0;
  }
  ctx->seen[k - keys] = true;
  return set_key(ctx, k, value, line, NULL) == 0;
}

/* PROVISIOND_KAFKA_BROKERS for kafka.brokers, and so on. */
static void env_name(const key_t_ *k, char *buf, size_t size)
{
  snprintf(buf, size, "PROVISIOND_%s_%s", k->section, k->name);
  for (char *p = buf; *p; p++)
    *p = *p == '.' || *p == '-' ? '_' : (char)toupper((unsigned char)*p);
}

static void apply_env(load_ctx_t *ctx)
{
  char name[96];
  for (size_t i = 0; i < NKEYS && !ctx->failed; i++) {
    env_name(&keys[i], name, sizeof(name));
    const char *v = getenv(name);
    if (v)
      set_key(ctx, &keys[i], v, -1, name);
  }
  const char *pg = getenv("PROVISIOND_PG");
  if (pg && !ctx->failed)
    set_key(ctx, find_key("postgres", "conninfo"), pg, -1, "PROVISIOND_PG");
}

/* Reads a secret from a file: first line, trailing newline stripped. The
 * file must not be readable by others (like ssh keys), since it holds a
 * credential. */
static char *read_secret_file(load_ctx_t *ctx, const pv_tenant_entry_t *t)
{
  const char *path = t->netbox_token_file;
  FILE *f = fopen(path, "r");
  if (!f) {
    fail(ctx, t->line, "[tenant.%s] netbox_token_file: cannot open \"%s\": %s",
         t->name, path, strerror(errno));
    return NULL;
  }
  struct stat st;
  if (fstat(fileno(f), &st) == 0 && (st.st_mode & 0007)) {
    fclose(f);
    fail(ctx, t->line, "[tenant.%s] netbox_token_file: \"%s\" is readable by "
         "other users; chmod 600 it", t->name, path);
    return NULL;
  }
  char buf[1024];
  size_t n = fread(buf, 1, sizeof(buf) - 1, f);
  fclose(f);
  buf[n] = '\0';
  buf[strcspn(buf, "\r\n")] = '\0';
  if (!buf[0]) {
    fail(ctx, t->line, "[tenant.%s] netbox_token_file: \"%s\" is empty",
         t->name, path);
    return NULL;
  }
  char *s = pv_strdup(buf);
  memset(buf, 0, sizeof(buf));
  return s;
}

/* kafka.topics, split on commas and blanks. */
static void split_topics(pv_config_t *c)
{
  char *copy = pv_strdup(c->kafka_topics);
  char *save = NULL;
  for (char *tok = strtok_r(copy, ", \t", &save); tok;
       tok = strtok_r(NULL, ", \t", &save)) {
    c->kafka_topic_list = pv_realloc(c->kafka_topic_list,
                                     (c->n_kafka_topics + 1) * sizeof(char *));
    c->kafka_topic_list[c->n_kafka_topics++] = pv_strdup(tok);
  }
  free(copy);
}

const char *pv_config_fleet_topic(const pv_config_t *c, const char *topic,
                                  char *buf, size_t buflen)
{
  size_t sl = strlen(c->kafka_dlq_suffix);
  for (size_t i = 0; i < c->n_kafka_topics; i++) {
    const char *jt = c->kafka_topic_list[i];
    size_t jl = strlen(jt);
    if (!strcmp(topic, jt)) {
      snprintf(buf, buflen, "a job topic");
      return buf;
    }
    if (!strncmp(topic, jt, jl) && !strcmp(topic + jl, c->kafka_dlq_suffix) &&
        strlen(topic) == jl + sl) {
      snprintf(buf, buflen, "the dead-letter topic of %s", jt);
      return buf;
    }
  }
  return NULL;
}

int pv_config_check_reply_topic(const pv_config_t *c, const char *field,
                                const char *topic, pv_error_t *err)
{
  char what[320];
  if (!pv_config_fleet_topic(c, topic, what, sizeof(what)))
    return 0;
  pv_error_set(err, PV_ERR_INVALID_JOB, 0, "%s: \"%.64s\" is %s: a reply "
               "there would come back as a job", field, topic, what);
  return -1;
}

static bool valid_url(const char *u)
{
  return !strncmp(u, "http://", 7) || !strncmp(u, "https://", 8);
}

static void finalize(load_ctx_t *ctx)
{
  pv_config_t *c = ctx->conf;
  if (!c->worker_id || !*c->worker_id) {
    char host[128] = "localhost";
    gethostname(host, sizeof(host) - 1);
    host[sizeof(host) - 1] = '\0';
    free(c->worker_id);
    c->worker_id = pv_asprintf("%s-%ld", host, (long)getpid());
  }
  /* Unset, or set to nothing as an optional key may be: the folder the
   * install rules put the shipped types in (config/CMakeLists.txt). */
  if (c->orders_dir && !*c->orders_dir) {
    free(c->orders_dir);
    c->orders_dir = NULL;
  }
  c->orders_dir_set = c->orders_dir != NULL;
  if (!c->orders_dir)
    c->orders_dir = pv_strdup(PV_ORDERS_DIR_DEFAULT);
  if (pv_log_level_parse(c->log_level) < 0) {
    fail(ctx, 0, "[worker] log_level: \"%s\" is not one of debug, info, "
         "warn, error", c->log_level);
    return;
  }
  if (c->retry_backoff_cap_ms < c->retry_backoff_base_ms) {
    fail(ctx, 0, "[http] backoff_cap_ms (%d) is below backoff_base_ms (%d)",
         c->retry_backoff_cap_ms, c->retry_backoff_base_ms);
    return;
  }
  if (c->park_backoff_cap_ms < c->park_backoff_base_ms) {
    fail(ctx, 0, "[worker] park_backoff_cap_ms (%d) is below "
         "park_backoff_base_ms (%d)", c->park_backoff_cap_ms,
         c->park_backoff_base_ms);
    return;
  }
  split_topics(c);
  if (c->n_kafka_topics == 0) {
    fail(ctx, 0, "[kafka] topics: no topic named");
    return;
  }
  char what[320];
  if (pv_config_fleet_topic(c, c->kafka_results_topic, what, sizeof(what))) {
    fail(ctx, 0, "[kafka] results_topic: \"%s\" is %s: replies there would "
         "come back as jobs", c->kafka_results_topic, what);
    return;
  }
  if (c->max_buffered < c->max_in_flight) {
    fail(ctx, 0, "[worker] max_buffered (%d) must be at least max_in_flight "
         "(%d)", c->max_buffered, c->max_in_flight);
    return;
  }
  for (size_t i = 0; i < c->n_tenants; i++) {
    pv_tenant_entry_t *t = &c->tenants[i];
    const char *urls[] = {t->voltha_url, t->genieacs_url, t->netbox_url};
    const char *names[] = {"voltha_url", "genieacs_url", "netbox_url"};
    bool any = false;
    for (int u = 0; u < 3; u++) {
      if (!urls[u] || !*urls[u])
        continue;
      any = true;
      if (!valid_url(urls[u])) {
        fail(ctx, t->line, "[tenant.%s] %s: \"%s\" must start with http:// "
             "or https://", t->name, names[u], urls[u]);
        return;
      }
    }
    if (!any) {
      fail(ctx, t->line, "[tenant.%s]: no endpoint configured (voltha_url, "
           "genieacs_url or netbox_url)", t->name);
      return;
    }
    if (t->netbox_token_env && t->netbox_token_file) {
      fail(ctx, t->line, "[tenant.%s]: set netbox_token_env or "
           "netbox_token_file, not both", t->name);
      return;
    }
    if (t->netbox_token_env) {
      const char *v = getenv(t->netbox_token_env);
      if (!v || !*v) {
        fail(ctx, t->line, "[tenant.%s] netbox_token_env: environment "
             "variable %s is not set", t->name, t->netbox_token_env);
        return;
      }
      t->netbox_token = pv_strdup(v);
    } else if (t->netbox_token_file) {
      t->netbox_token = read_secret_file(ctx, t);
      if (!t->netbox_token)
        return;
    } else if (t->netbox_url && *t->netbox_url) {
      fail(ctx, t->line, "[tenant.%s]: netbox_url needs netbox_token_env or "
           "netbox_token_file", t->name);
      return;
    }
  }
}

/* inih's reader: counts lines for error messages, and refuses a line
 * longer than inih's buffer instead of letting it be split in two. */
static char *read_line(char *str, int num, void *stream)
{
  load_ctx_t *ctx = stream;
  char buf[8192];
  if (!fgets(buf, sizeof(buf), ctx->file))
    return NULL;
  ctx->line++;
  size_t len = strlen(buf);
  if (len >= (size_t)num || (len == sizeof(buf) - 1 && buf[len - 1] != '\n')) {
    fail(ctx, ctx->line, "line is longer than %d characters", num - 2);
    snprintf(str, (size_t)num, "\n");
    return str;
  }
  memcpy(str, buf, len + 1);
  /* A tenant's whole-section errors (no endpoint, token file) point at
   * its [tenant.NAME] line, as pv_tenant_entry_t.line promises. */
  size_t lead = strspn(buf, " \t");
  if (buf[lead] == '[')
    ctx->section_line = ctx->line;
  return str;
}

pv_config_t *pv_config_load(const char *path, char *errstr, size_t errstr_size)
{
  pv_config_t *conf = pv_calloc(1, sizeof(*conf));
  load_ctx_t ctx = {.conf = conf, .err = errstr, .errsize = errstr_size,
                    .path = path};
  errstr[0] = '\0';
  for (size_t i = 0; i < NKEYS; i++)
    if (keys[i].def)
      set_key(&ctx, &keys[i], keys[i].def, -1, NULL);
  if (path) {
    conf->path = pv_strdup(path);
    FILE *f = fopen(path, "r");
    if (!f) {
      snprintf(errstr, errstr_size, "%s: cannot open: %s", path,
               strerror(errno));
      pv_config_destroy(conf);
      return NULL;
    }
    ctx.file = f;
    int rc = ini_parse_stream(read_line, &ctx, on_ini, &ctx);
    fclose(f);
    if (rc > 0 && !ctx.failed)
      fail(&ctx, rc, "syntax error (expected \"key = value\" or "
           "\"[section]\")");
  }
  if (!ctx.failed)
    apply_env(&ctx);
  if (!ctx.failed)
    finalize(&ctx);
  if (ctx.failed) {
    pv_config_destroy(conf);
    return NULL;
  }
  return conf;
}

void pv_config_destroy(pv_config_t *conf)
{
  if (!conf)
    return;
  for (size_t i = 0; i < NKEYS; i++)
    if (keys[i].type == T_STR)
      free(*(char **)(void *)((char *)conf + keys[i].offset));
  for (size_t i = 0; i < conf->n_kafka_topics; i++)
    free(conf->kafka_topic_list[i]);
  free(conf->kafka_topic_list);
  for (size_t i = 0; i < conf->n_kafka_props; i++) {
    free(conf->kafka_props[i].name);
    free(conf->kafka_props[i].value);
  }
  for (size_t i = 0; i < conf->n_tenants; i++) {
    pv_tenant_entry_t *t = &conf->tenants[i];
    free(t->name);
    free(t->voltha_url);
    free(t->genieacs_url);
    free(t->netbox_url);
    if (t->netbox_token) {
      memset(t->netbox_token, 0, strlen(t->netbox_token));
      free(t->netbox_token);
    }
    free(t->netbox_token_env);
    free(t->netbox_token_file);
  }
  free(conf->path);
  free(conf);
}

const pv_tenant_entry_t *pv_config_tenant(const pv_config_t *conf,
                                          const char *name)
{
  for (size_t i = 0; i < conf->n_tenants; i++)
    if (!strcmp(conf->tenants[i].name, name))
      return &conf->tenants[i];
  return NULL;
}


void pv_config_dump_markdown(FILE *out)
{
  char env[96];
  fprintf(out, "| section | key | type | default | environment | meaning |\n"
               "| --- | --- | --- | --- | --- | --- |\n");
  static const char *const tnames[] = {"string", "integer", "integer",
                                       "boolean", "number"};
  for (size_t i = 0; i < NKEYS; i++) {
    const key_t_ *k = &keys[i];
    env_name(k, env, sizeof(env));
    fprintf(out, "| `[%s]` | `%s` | %s | %s%s%s | `%s` | %s |\n", k->section,
            k->name, tnames[k->type], k->def ? "`" : "",
            k->def ? k->def : "(none)", k->def ? "`" : "", env, k->doc);
  }
}

/* Writes text as "# " comment lines of at most 76 columns, breaking at
 * spaces (a word longer than a line stays whole). */
static void comment_wrapped(FILE *out, const char *text)
{
  const size_t width = 74;
  const char *p = text;
  while (*p) {
    size_t len = strlen(p);
    size_t cut = len;
    if (len > width) {
      cut = width;
      while (cut > 0 && p[cut] != ' ')
        cut--;
      if (cut == 0)
        cut = strcspn(p, " ");
    }
    fprintf(out, "# %.*s\n", (int)cut, p);
    p += cut;
    while (*p == ' ')
      p++;
  }
}

void pv_config_dump_example(FILE *out)
{
  fprintf(out,
          "# provisiond configuration (INI), written by `provisiond "
          "--config-example`\n"
          "# from the key table the daemon itself reads: every key is shown "
          "with its\n"
          "# default, commented out. Uncomment and change what differs; "
          "check with\n"
          "#   provisiond -c FILE --check-config\n"
          "# Reference: man provisiond, docs/configuration.md.\n"
          "#\n"
          "# Environment: PROVISIOND_<SECTION>_<KEY> overrides a key "
          "(PROVISIOND_PG is\n"
          "# postgres.conninfo). Secrets never sit in this file: give the "
          "PostgreSQL\n"
          "# password through PROVISIOND_PG or ~/.pgpass, NetBox tokens "
          "through\n"
          "# netbox_token_file or netbox_token_env.\n");
  const char *section = "";
  for (size_t i = 0; i < NKEYS; i++) {
    const key_t_ *k = &keys[i];
    if (strcmp(section, k->section)) {
      section = k->section;
      fprintf(out, "\n[%s]\n", section);
      if (!strcmp(section, "kafka"))
        fprintf(out, "# A key with a dot in it goes to librdkafka unchanged, "
                     "e.g.\n# session.timeout.ms = 45000\n");
    }
    fprintf(out, "\n");
    comment_wrapped(out, k->doc);
    fprintf(out, "# %s =%s%s\n", k->name, k->def ? " " : "",
            k->def ? k->def : "");
  }
  /* Tenant keys are parsed by tenant_key(), not the table; the test of the
   * example uncomments this block and loads it, so a renamed key fails. */
  fprintf(out, "\n");
  comment_wrapped(out, "One section per tenant (name: 1-64 letters, digits, "
                  "'-', '_', '.'), with at least one endpoint. netbox_url "
                  "needs exactly one of netbox_token_file (a file not "
                  "readable by others; its first line is the token) or "
                  "netbox_token_env (an environment variable). weight: the "
                  "tenant's share under weighted round robin (1-1000). "
                  "max_in_flight: its cap (0 = [worker] "
                  "max_in_flight_per_tenant).");
  fprintf(out, "#\n"
               "#[tenant.isp-east]\n"
               "#voltha_url = https://voltha.isp-east.example:8181\n"
               "#genieacs_url = https://acs.isp-east.example:7557\n"
               "#netbox_url = https://netbox.isp-east.example\n"
               "#netbox_token_file = /etc/provisiond/secrets/netbox-isp-east\n"
               "#weight = 1\n"
               "#max_in_flight = 0\n");
}
