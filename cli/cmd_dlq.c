/* provctl dlq list / provctl dlq replay: dead letters and their safe
 * replay.
 *
 * A replay re-injects the exact original record (key, value and headers,
 * less the x-dlq-* ones, plus lineage headers) into its source topic. The
 * worker's claim treats a final row (succeeded/failed/dead) as finished and
 * answers from the stored reply, so before producing, one statement moves
 * the row from 'dead' back to 'received' and records the replay; it
 * changes nothing when the row is no longer dead (a concurrent replay or a
 * success wins, once). Only after that commit is the record produced. */
#include "cli/cli.h"

#include "common/alloc.h"
#include "common/bytes.h"
#include "common/clock.h"
#include "jobs/job.h"
#include "worker/kafka_sync.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Records scanned on a dead-letter topic per run: a bound on memory and
 * time for topics nobody trimmed. */
#define SCAN_MAX_RECORDS 1000000
/* A scan stops once nothing arrived for this long (end offsets can sit
 * past the last record, e.g. after transaction markers). */
#define SCAN_IDLE_MS 5000
/* How long one produce may wait for the broker's acknowledgement. */
#define PRODUCE_TIMEOUT_MS 30000
#define MAX_RATE 100000.0

static const char DLQ_USAGE[] =
  "usage: provctl dlq list [--tenant T] [--service S] [--op OP]\n"
  "                        [--error-class C] [--since D] [--limit N] [--json]\n"
  "       provctl dlq replay (JOB_ID... | --all) [--tenant T] [--service S]\n"
  "                        [--op OP] [--error-class C] [--since D]\n"
  "                        [--from-topic DLQ_TOPIC] [--dry-run] [--rate N/s]\n"
  "                        [--by USER] [--yes] [--json]\n"
  "\n"
  "list: dead jobs and replayed ones, with their replay count and the\n"
  "      last replay's outcome (pending, succeeded, failed, dead_again,\n"
  "      produce_failed).\n"
  "replay: re-injects each dead job's original record into its source\n"
  "      topic, after moving its row from dead back to received. Jobs\n"
  "      no longer dead (e.g. succeeded since) are skipped.\n"
  "  --from-topic T  read the records from dead-letter topic T, also\n"
  "                  those that never reached PostgreSQL\n"
  "  --dry-run       list exactly what would be replayed; change nothing\n"
  "  --rate N/s      at most N records per second (e.g. 10/s or 0.5)\n"
  "  --by USER       recorded as the replayer (default: the OS user)\n"
  "  --yes           do not ask for confirmation (needed without a\n"
  "                  terminal)\n";

typedef struct filters {
  const char *tenant, *service, *op, *error_class;
  long long since;
} filters_t;

/* ---- list ---------------------------------------------------------------- */

static const char LIST_SQL[] =
  "SELECT job_id, tenant, service, op, error_class, state,"
  " to_char(coalesce(finished_at, updated_at) AT TIME ZONE 'UTC',"
  "  'YYYY-MM-DD HH24:MI:SS'), replay_count::text, outcome, error_message,"
  " jsonb_build_object('job_id', job_id, 'tenant', tenant, 'service', service,"
  "  'op', op, 'state', state, 'error_class', error_class, 'error_message',"
  "  error_message, 'finished_at', finished_at, 'source', source_topic || '/'"
  "  || source_partition || '@' || source_offset, 'dlq_topic', dlq_topic,"
  "  'replay_count', replay_count, 'last_replayed_at', last_replayed_at,"
  "  'last_replayed_by', last_replayed_by, 'last_replay_outcome',"
  "  outcome)::text"
  " FROM (SELECT *, CASE WHEN replay_count = 0 THEN NULL"
  "  WHEN last_replay_status = 'produce_failed' THEN 'produce_failed'"
  "  WHEN state = 'dead' THEN 'dead_again'"
  "  WHEN state IN ('succeeded', 'failed') THEN state"
  "  ELSE 'pending' END AS outcome FROM job_status"
  "  WHERE (state = 'dead' OR replay_count > 0)"
  "   AND ($1::text IS NULL OR tenant = $1) AND ($2::text IS NULL OR service = $2)"
  "   AND ($3::text IS NULL OR op = $3)"
  "   AND ($4::text IS NULL OR error_class = $4)"
  "   AND ($5::bigint IS NULL OR coalesce(finished_at, updated_at) >="
  "        now() - $5::bigint * interval '1 second')) j"
  " ORDER BY coalesce(finished_at, updated_at) DESC, job_id LIMIT $6::int";

static int dlq_list(const pv_config_t *conf, const filters_t *f,
                    long long limit, bool as_json)
{
  int rc = PV_EXIT_UNREACHABLE;
  pv_pg_result_t *r = NULL;
  pv_pg_sync_t *db = pv_cli_db_connect(conf);
  if (!db)
    return rc;
  char since_s[32], limit_s[32];
  snprintf(since_s, sizeof(since_s), "%lld", f->since);
  snprintf(limit_s, sizeof(limit_s), "%lld", limit);
  const char *params[] = {f->tenant, f->service, f->op, f->error_class,
                          f->since ? since_s : NULL, limit_s};
  r = pv_pg_sync_query(db, LIST_SQL, 6, params);
  if (!pv_pg_result_ok(r)) {
    pv_cli_err("dlq list: %s", pv_pg_result_error(r));
    goto out;
  }
  int n = pv_pg_result_ntuples(r);
  if (as_json) {
    for (int i = 0; i < n; i++)
      printf("%s\n", pv_pg_result_get(r, i, 10));
  } else {
    static const char *const hdr[] = {"JOB_ID", "TENANT", "SERVICE", "OP",
                                      "CLASS", "STATE", "AT (UTC)",
                                      "REPLAYS", "LAST_REPLAY", "ERROR"};
    const char **cells = pv_calloc((size_t)n * 10 + 1, sizeof(char *));
    for (int i = 0; i < n; i++)
      for (int col = 0; col < 10; col++)
        cells[i * 10 + col] = pv_pg_result_get(r, i, col);
    pv_cli_table(stdout, hdr, 10, cells, (size_t)n, 40);
    free(cells);
  }
  rc = PV_EXIT_OK;
out:
  pv_pg_result_free(r);
  pv_pg_sync_close(db);
  return rc;
}

/* ---- candidates ------------------------------------------------------------ */

typedef struct cand {
  char *job_id;      /* NULL: a record without a usable id (--from-topic) */
  char *tenant;      /* the job's (ids are unique per tenant); may be NULL
                        for a record without one (--from-topic) */
  char *target;      /* the source topic to re-inject into */
  char *src_topic;   /* the row's (or dead letter's) source position */
  int src_part;
  long long src_off;
  char *dlq_topic;
  int dlq_part;      /* -1: not found on the topic, taken from the row */
  long long dlq_off;
  bool have_record;  /* key/value/headers filled */
  bool from_topic;   /* found by scanning --from-topic */
  char *key;
  size_t key_len;
  bool has_key;
  char *value;
  size_t len;
  size_t nh;
  char **hn;
  char **hv;         /* NULL = header without a value */
  size_t *hl;
  char *skip;        /* why it is not replayed (decided before replaying) */
} cand_t;

typedef struct cands {
  cand_t *v;
  size_t n, cap;
} cands_t;

static cand_t *cand_add(cands_t *cs)
{
  if (cs->n == cs->cap) {
    cs->cap = cs->cap ? cs->cap * 2 : 16;
    cs->v = pv_realloc(cs->v, cs->cap * sizeof(cand_t));
  }
  cand_t *c = &cs->v[cs->n++];
  memset(c, 0, sizeof(*c));
  c->dlq_part = -1;
  return c;
}

static void cand_clear_record(cand_t *c)
{
  for (size_t i = 0; i < c->nh; i++) {
    free(c->hn[i]);
    free(c->hv[i]);
  }
  free(c->hn);
  free(c->hv);
  free(c->hl);
  free(c->key);
  free(c->value);
  c->hn = NULL;
  c->hv = NULL;
  c->hl = NULL;
  c->key = c->value = NULL;
  c->nh = 0;
  c->have_record = false;
}

static void cands_free(cands_t *cs)
{
  for (size_t i = 0; i < cs->n; i++) {
    cand_t *c = &cs->v[i];
    cand_clear_record(c);
    free(c->job_id);
    free(c->tenant);
    free(c->target);
    free(c->src_topic);
    free(c->dlq_topic);
    free(c->skip);
  }
  free(cs->v);
}

static void cand_header(cand_t *c, const char *name, const void *val,
                        size_t len)
{
  c->hn = pv_realloc(c->hn, (c->nh + 1) * sizeof(char *));
  c->hv = pv_realloc(c->hv, (c->nh + 1) * sizeof(char *));
  c->hl = pv_realloc(c->hl, (c->nh + 1) * sizeof(size_t));
  c->hn[c->nh] = pv_strdup(name);
  c->hv[c->nh] = NULL;
  c->hl[c->nh] = 0;
  if (val) {
    c->hv[c->nh] = pv_malloc(len + 1);
    memcpy(c->hv[c->nh], val, len);
    c->hv[c->nh][len] = '\0';
    c->hl[c->nh] = len;
  }
  c->nh++;
}

/* Lineage headers of an earlier replay and the dead-letter headers are
 * replaced, never accumulated. */
static bool dropped_header(const char *name)
{
  return !strncmp(name, "x-dlq-", 6) || !strncmp(name, "x-replay", 8);
}

static void cand_from_msg(cand_t *c, const pv_ksync_msg_t *m,
                          const char *dlq_topic)
{
  cand_clear_record(c);
  if (m->key) {
    c->key = pv_malloc(m->key_len + 1);
    memcpy(c->key, m->key, m->key_len);
    c->key[m->key_len] = '\0';
    c->key_len = m->key_len;
    c->has_key = true;
  }
  c->value = pv_malloc(m->len + 1);
  if (m->value)
    memcpy(c->value, m->value, m->len);
  c->value[m->len] = '\0';
  c->len = m->len;
  for (size_t i = 0; i < m->n_headers; i++)
    if (!dropped_header(m->hnames[i]))
      cand_header(c, m->hnames[i], m->hvalues[i], m->hlens[i]);
  free(c->dlq_topic);
  c->dlq_topic = pv_strdup(dlq_topic);
  c->dlq_part = m->partition;
  c->dlq_off = m->offset;
  c->have_record = true;
}

/* The row's copy of the record: used when its dead letter is gone from
 * the topic (retention) — the payload column holds the same bytes, the
 * ordering_key column the key's, the headers column every header
 * (common/bytes.h's JSON form). */
static int cand_from_row(cand_t *c, const char *key_hex,
                         const char *payload_hex, const char *headers_json)
{
  size_t len = 0;
  char *value = pv_cli_unhex(payload_hex, &len);
  json_t *hj = json_loads(headers_json ? headers_json : "[]", 0, NULL);
  if (!value || !json_is_array(hj)) {
    free(value);
    json_decref(hj);
    return -1;
  }
  cand_clear_record(c);
  c->value = value;
  c->len = len;
  if (key_hex) {
    c->key = pv_cli_unhex(key_hex, &c->key_len);
    c->has_key = c->key != NULL;
  }
  size_t i;
  json_t *h;
  json_array_foreach(hj, i, h) {
    size_t nlen, vlen;
    char *name = pv_bytes_from_json(json_array_get(h, 0), &nlen);
    char *val = pv_bytes_from_json(json_array_get(h, 1), &vlen);
    if (name && !dropped_header(name))
      cand_header(c, name, val, vlen); /* val NULL: a header without one */
    free(name);
    free(val);
  }
  json_decref(hj);
  c->have_record = true;
  return 0;
}

/* ---- selection from job_status -------------------------------------------- */

#define SELECT_COLS \
  "job_id, state, source_topic, source_partition::text," \
  " source_offset::text, coalesce(dlq_topic, source_topic || $7::text)," \
  " ordering_key, payload, headers::text, coalesce(error_class, '')," \
  " coalesce(last_replay_status, ''), tenant"

/* replayable: dead, or left 'received' by a replay whose produce failed */
static const char SELECT_ALL_SQL[] =
  "SELECT " SELECT_COLS " FROM job_status"
  " WHERE (state = 'dead' OR (state = 'received'"
  "        AND last_replay_status = 'produce_failed'))"
  "  AND ($1::text IS NULL OR tenant = $1) AND ($2::text IS NULL OR service = $2)"
  "  AND ($3::text IS NULL OR op = $3) AND ($4::text IS NULL OR error_class = $4)"
  "  AND ($5::bigint IS NULL OR coalesce(finished_at, updated_at) >="
  "       now() - $5::bigint * interval '1 second')"
  "  AND ($6::text IS NULL OR job_id = $6)"
  " ORDER BY finished_at, job_id, tenant LIMIT 100000";

static const char SELECT_ONE_SQL[] =
  "SELECT " SELECT_COLS " FROM job_status"
  " WHERE ($1::text IS NULL OR tenant = $1) AND ($2::text IS NULL OR service = $2)"
  "  AND ($3::text IS NULL OR op = $3) AND ($4::text IS NULL OR error_class = $4)"
  "  AND ($5::bigint IS NULL OR coalesce(finished_at, updated_at) >="
  "       now() - $5::bigint * interval '1 second')"
  "  AND job_id = $6 ORDER BY tenant";

static const char *skip_reason(const char *state, const char *cls,
                               const char *replay_status)
{
  if (!strcmp(state, "succeeded"))
    return "already succeeded";
  if (!strcmp(state, "failed"))
    return "finished as failed (a definite refusal: replaying cannot help)";
  if (!strcmp(state, "received") && !strcmp(replay_status, "produce_failed"))
    return NULL;
  if (strcmp(state, "dead"))
    return "not dead (running, waiting or already replayed)";
  if (!strcmp(cls, "invalid_job"))
    return "invalid record (it would be refused again; fix the producer)";
  return NULL;
}

static void cand_from_select(cand_t *c, const pv_pg_result_t *r, int i)
{
  c->job_id = pv_strdup(pv_pg_result_get(r, i, 0));
  c->tenant = pv_strdup(pv_pg_result_get(r, i, 11));
  c->src_topic = pv_strdup(pv_pg_result_get(r, i, 2));
  c->target = pv_strdup(c->src_topic);
  c->src_part = (int)strtol(pv_pg_result_get(r, i, 3), NULL, 10);
  c->src_off = strtoll(pv_pg_result_get(r, i, 4), NULL, 10);
  c->dlq_topic = pv_strdup(pv_pg_result_get(r, i, 5));
  const char *why = skip_reason(pv_pg_result_get(r, i, 1),
                                pv_pg_result_get(r, i, 9),
                                pv_pg_result_get(r, i, 10));
  if (why) {
    c->skip = pv_strdup(why);
    return;
  }
  if (cand_from_row(c, pv_pg_result_get(r, i, 6), pv_pg_result_get(r, i, 7),
                    pv_pg_result_get(r, i, 8)) < 0)
    c->skip = pv_strdup("its row holds no readable copy of the record");
}

/* @returns 0, or an exit code. Adds a candidate per selected job; a job id
 * not found (or outside the filters) counts in *missing. */
static int select_rows(pv_pg_sync_t *db, const pv_config_t *conf,
                       const filters_t *f, char **ids, int nids, cands_t *cs,
                       int *missing)
{
  char since_s[32];
  snprintf(since_s, sizeof(since_s), "%lld", f->since);
  const char *params[] = {f->tenant, f->service, f->op, f->error_class,
                          f->since ? since_s : NULL, NULL,
                          conf->kafka_dlq_suffix};
  for (int k = 0; k < (nids ? nids : 1); k++) {
    params[5] = nids ? ids[k] : NULL;
    pv_pg_result_t *r = pv_pg_sync_query(db, nids ? SELECT_ONE_SQL
                                                  : SELECT_ALL_SQL, 7, params);
    if (!pv_pg_result_ok(r)) {
      pv_cli_err("dlq replay: %s (nothing was replayed)",
                 pv_pg_result_error(r));
      pv_pg_result_free(r);
      return PV_EXIT_UNREACHABLE;
    }
    if (nids && pv_pg_result_ntuples(r) > 1) {
      /* ids are unique per tenant only: never guess whose job is meant */
      pv_cli_err_ambiguous_id(ids[k], r, 11);
      pv_cli_err("nothing was replayed");
      pv_pg_result_free(r);
      return PV_EXIT_USAGE;
    }
    if (nids && pv_pg_result_ntuples(r) == 0) {
      pv_cli_err("no job \"%s\"%s", ids[k],
                 f->tenant || f->service || f->op || f->error_class ||
                 f->since ? " matching the filters" : "");
      (*missing)++;
    }
    for (int i = 0; i < pv_pg_result_ntuples(r); i++)
      cand_from_select(cand_add(cs), r, i);
    pv_pg_result_free(r);
  }
  return 0;
}

/* ---- dead-letter topics ----------------------------------------------------- */

static long long header_ll(const pv_ksync_msg_t *m, const char *name,
                           bool *ok)
{
  const char *v = pv_ksync_msg_header(m, name);
  char *end = NULL;
  long long x = v ? strtoll(v, &end, 10) : -1;
  *ok = v && *v && end && !*end;
  return x;
}

/* Calls fn for every record of topic (as of now). @returns 0, or -1
 * (printed). */
typedef void (*scan_fn)(const pv_ksync_msg_t *m, const char *topic,
                        void *arg);

static int scan_topic(const pv_config_t *conf, const char *topic_in,
                      scan_fn fn, void *arg)
{
  char err[512];
  /* our own copy: topic_in may be a candidate's, which fn replaces */
  char *topic = pv_strdup(topic_in);
  pv_ksync_consumer_t *c =
      pv_ksync_consumer_snapshot(conf->kafka_brokers, topic, err, sizeof(err));
  if (!c) {
    pv_cli_err("cannot read %s on %s: %s", topic, conf->kafka_brokers, err);
    free(topic);
    return -1;
  }
  long n = 0;
  while (!pv_ksync_consumer_drained(c) && n < SCAN_MAX_RECORDS) {
    pv_ksync_msg_t *m = pv_ksync_consume(c, SCAN_IDLE_MS);
    if (!m)
      break;
    n++;
    fn(m, topic, arg);
    pv_ksync_msg_destroy(m);
  }
  if (n >= SCAN_MAX_RECORDS)
    pv_cli_err("warning: %s: stopped after %d records", topic,
               SCAN_MAX_RECORDS);
  pv_ksync_consumer_destroy(c);
  free(topic);
  return 0;
}

/* DB mode: the dead letter whose x-dlq-source-* is the row's source
 * position is the job's latest one. */
static void match_row(const pv_ksync_msg_t *m, const char *topic, void *arg)
{
  cands_t *cs = arg;
  const char *st = pv_ksync_msg_header(m, "x-dlq-source-topic");
  bool okp, oko;
  long long part = header_ll(m, "x-dlq-source-partition", &okp);
  long long off = header_ll(m, "x-dlq-source-offset", &oko);
  if (!st || !okp || !oko)
    return;
  for (size_t i = 0; i < cs->n; i++) {
    cand_t *c = &cs->v[i];
    if (!c->skip && c->src_part == part && c->src_off == off &&
        !strcmp(c->src_topic, st) && !strcmp(c->dlq_topic, topic))
      cand_from_msg(c, m, topic);
  }
}

typedef struct topic_scan {
  cands_t *cs;
  const filters_t *f;
  char **ids;
  int nids;
  int no_source;
} topic_scan_t;

static bool wanted_id(const topic_scan_t *ts, const char *id)
{
  if (!ts->nids)
    return true;
  for (int i = 0; i < ts->nids; i++)
    if (id && !strcmp(ts->ids[i], id))
      return true;
  return false;
}

/* --from-topic: every record that passes the filters; the last dead
 * letter of a job id wins. */
static void take_record(const pv_ksync_msg_t *m, const char *topic, void *arg)
{
  topic_scan_t *ts = arg;
  const filters_t *f = ts->f;
  const char *st = pv_ksync_msg_header(m, "x-dlq-source-topic");
  bool okp, oko;
  long long part = header_ll(m, "x-dlq-source-partition", &okp);
  long long off = header_ll(m, "x-dlq-source-offset", &oko);
  if (!st || !*st || !okp || !oko) {
    ts->no_source++;
    return;
  }
  const char *cls = pv_ksync_msg_header(m, "x-dlq-error-class");
  if (f->error_class && (!cls || strcmp(cls, f->error_class)))
    return;
  const char *ct = pv_ksync_msg_header(m, "content-type");
  int fmt = pv_format_from_content_type(ct);
  json_t *doc = NULL;
  char derr[64];
  if (fmt < 0 || !m->value ||
      pv_doc_decode(m->value, m->len, (pv_format_t)fmt, &doc, derr,
                    sizeof(derr)) < 0 || !json_is_object(doc)) {
    json_decref(doc);
    doc = NULL;
  }
  const char *id = json_string_value(json_object_get(doc, "id"));
  const char *tenant = json_string_value(json_object_get(doc, "tenant"));
  struct { const char *want, *field; } fl[] = {
    {f->tenant, "tenant"}, {f->service, "service"}, {f->op, "op"}};
  bool pass = wanted_id(ts, id);
  for (size_t i = 0; pass && i < 3; i++)
    if (fl[i].want &&
        (!json_string_value(json_object_get(doc, fl[i].field)) ||
         strcmp(fl[i].want, json_string_value(json_object_get(doc,
                                                              fl[i].field)))))
      pass = false;
  if (pass) {
    cand_t *c = NULL;
    for (size_t i = 0; id && i < ts->cs->n; i++)
      if (ts->cs->v[i].job_id && !strcmp(ts->cs->v[i].job_id, id) &&
          !strcmp(ts->cs->v[i].tenant ? ts->cs->v[i].tenant : "",
                  tenant ? tenant : ""))
        c = &ts->cs->v[i];
    if (!c) {
      c = cand_add(ts->cs);
      c->job_id = id ? pv_strdup(id) : NULL;
      c->tenant = tenant ? pv_strdup(tenant) : NULL;
    }
    free(c->target);
    free(c->src_topic);
    c->target = pv_strdup(st);
    c->src_topic = pv_strdup(st);
    c->src_part = (int)part;
    c->src_off = off;
    c->from_topic = true;
    if (cls && !strcmp(cls, "invalid_job")) {
      free(c->skip);
      c->skip = pv_strdup("invalid record (it would be refused again; fix "
                          "the producer)");
    }
    cand_from_msg(c, m, topic);
  }
  json_decref(doc);
}

/* --from-topic: a record whose job has a row is replayed only through
 * that row (same rules); one without a row never reached PostgreSQL. */
static const char ROW_SQL[] =
  "SELECT state, source_topic, source_partition, source_offset,"
  " coalesce(error_class, ''), coalesce(last_replay_status, '')"
  " FROM job_status WHERE job_id = $1 AND tenant = coalesce($2, '')";

/* ---- replay -------------------------------------------------------------- */

/* One statement, one transaction: the row goes back to 'received' (history
 * kept in errors, runs, attempts) and the replay is recorded, only if the
 * row is still dead (or was left 'received' by a failed produce). */
static const char REPLAY_ROW_SQL[] =
  "WITH n AS (SELECT nextval(pg_get_serial_sequence('job_replays', 'id'))"
  "  AS id),"
  " u AS (UPDATE job_status SET state = 'received', finished_at = NULL,"
  "  lease_until = NULL, next_attempt_at = NULL, retry_reason = NULL,"
  "  replay_count = replay_count + 1, last_replay_id = (SELECT id FROM n),"
  "  last_replayed_at = now(), last_replayed_by = $2::text,"
  "  last_replay_status = 'producing', updated_at = now()"
  "  WHERE job_id = $1::text AND tenant = $7::text"
  "   AND (state = 'dead' OR (state = 'received'"
  "   AND last_replay_status = 'produce_failed'))"
  "  RETURNING job_id, tenant)"
  " INSERT INTO job_replays (id, job_id, tenant, replayed_by, dlq_topic,"
  "  dlq_partition, dlq_offset, target_topic, had_row, status)"
  " SELECT (SELECT id FROM n), job_id, tenant, $2::text, $3::text, $4::int,"
  "  $5::bigint, $6::text, true, 'producing' FROM u RETURNING id::text";

static const char REPLAY_NOROW_SQL[] =
  "INSERT INTO job_replays (job_id, tenant, replayed_by, dlq_topic,"
  " dlq_partition, dlq_offset, target_topic, had_row, status)"
  " VALUES ($1::text, $7::text, $2::text, $3::text, $4::int, $5::bigint,"
  "  $6::text, false, 'producing') RETURNING id::text";

static const char REPLAY_DONE_SQL[] =
  "WITH r AS (UPDATE job_replays SET status = $2::text, error = $3::text"
  "  WHERE id = $1::bigint RETURNING job_id, tenant)"
  " UPDATE job_status j SET last_replay_status = $2::text FROM r"
  " WHERE j.job_id = r.job_id AND j.tenant = r.tenant"
  "  AND j.last_replay_id = $1::bigint";

typedef struct replay_ctx {
  const pv_config_t *conf;
  pv_pg_sync_t *db;
  pv_ksync_producer_t *prod;
  const char *by;
  bool json;
  int replayed, skipped, failed;
} replay_ctx_t;

static void report(const replay_ctx_t *x, const cand_t *c, const char *action,
                   const char *why)
{
  char from[512];
  if (c->dlq_part >= 0)
    snprintf(from, sizeof(from), "%s/%d@%lld", c->dlq_topic, c->dlq_part,
             c->dlq_off);
  else
    snprintf(from, sizeof(from), "job_status");
  if (x->json) {
    json_t *o = json_pack("{s:s?,s:s,s:s,s:s?,s:s?}", "job_id", c->job_id,
                          "action", action, "from", from, "to", c->target,
                          "reason", why);
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    printf("%s\n", s ? s : "{}");
    free(s);
    json_decref(o);
  } else if (why) {
    printf("%-12s %s: %s\n", action, c->job_id ? c->job_id : "(no id)", why);
  } else {
    printf("%-12s %s from %s to %s\n", action,
           c->job_id ? c->job_id : "(no id)", from, c->target);
  }
  fflush(stdout);
}

/* --from-topic: a record whose job has a row goes through that row's
 * rules. @returns 0 (replay; *had_row says whether a row exists), 1 (skip,
 * c->skip set) or -1 (printed). */
static int topic_row_check(pv_pg_sync_t *db, cand_t *c, bool *had_row)
{
  const char *q[] = {c->job_id, c->tenant};
  pv_pg_result_t *r = pv_pg_sync_query(db, ROW_SQL, 2, q);
  if (!pv_pg_result_ok(r)) {
    pv_cli_err("%s: %s", c->job_id, pv_pg_result_error(r));
    pv_pg_result_free(r);
    return -1;
  }
  *had_row = pv_pg_result_ntuples(r) > 0;
  const char *why = NULL;
  if (*had_row) {
    why = skip_reason(pv_pg_result_get(r, 0, 0), pv_pg_result_get(r, 0, 4),
                      pv_pg_result_get(r, 0, 5));
    if (!why && (strcmp(pv_pg_result_get(r, 0, 1), c->src_topic) ||
                 strtol(pv_pg_result_get(r, 0, 2), NULL, 10) != c->src_part ||
                 strtoll(pv_pg_result_get(r, 0, 3), NULL, 10) != c->src_off))
      why = "superseded: the job was delivered again after this dead letter";
  }
  pv_pg_result_free(r);
  if (!why)
    return 0;
  free(c->skip);
  c->skip = pv_strdup(why);
  return 1;
}

/* @returns 0 replayed, 1 skipped, -1 failed (stop). */
static int replay_one(replay_ctx_t *x, cand_t *c)
{
  char part[16], off[32];
  snprintf(part, sizeof(part), "%d", c->dlq_part);
  snprintf(off, sizeof(off), "%lld", c->dlq_off);
  bool have_pos = c->dlq_part >= 0;
  const char *p[] = {c->job_id, x->by, have_pos ? c->dlq_topic : NULL,
                     have_pos ? part : NULL, have_pos ? off : NULL, c->target,
                     c->tenant};
  bool had_row = c->job_id != NULL;
  if (c->from_topic && c->job_id) {
    int k = topic_row_check(x->db, c, &had_row);
    if (k < 0)
      return -1;
    if (k > 0) {
      report(x, c, "skipped", c->skip);
      return 1;
    }
  }
  pv_pg_result_t *r = pv_pg_sync_query(x->db, had_row ? REPLAY_ROW_SQL
                                                      : REPLAY_NOROW_SQL, 7, p);
  if (!pv_pg_result_ok(r)) {
    pv_cli_err("%s: recording the replay failed: %s (not sent)",
               c->job_id ? c->job_id : "(no id)", pv_pg_result_error(r));
    pv_pg_result_free(r);
    return -1;
  }
  if (pv_pg_result_ntuples(r) == 0) {
    /* no longer dead: someone else replayed it, or it succeeded */
    pv_pg_result_free(r);
    report(x, c, "skipped", "no longer dead (replayed or finished meanwhile)");
    return 1;
  }
  char *replay_id = pv_strdup(pv_pg_result_get(r, 0, 0));
  pv_pg_result_free(r);

  /* the record as it was, plus where it comes from */
  char of[512];
  if (have_pos)
    snprintf(of, sizeof(of), "%s/%d@%lld", c->dlq_topic, c->dlq_part,
             c->dlq_off);
  else
    snprintf(of, sizeof(of), "job_status:%s", c->job_id);
  size_t nh = c->nh + 3;
  pv_ksync_header_t *h = pv_calloc(nh, sizeof(*h));
  for (size_t i = 0; i < c->nh; i++)
    h[i] = (pv_ksync_header_t){c->hn[i], c->hv[i], c->hl[i]};
  h[c->nh] = (pv_ksync_header_t){"x-replay-of", of, strlen(of)};
  h[c->nh + 1] = (pv_ksync_header_t){"x-replayed-by", x->by, strlen(x->by)};
  h[c->nh + 2] = (pv_ksync_header_t){"x-replay-id", replay_id,
                                     strlen(replay_id)};
  char err[512];
  int prc = pv_ksync_produce_raw(x->prod, c->target,
                                 c->has_key ? c->key : NULL, c->key_len,
                                 c->value, c->len, h, nh, PRODUCE_TIMEOUT_MS,
                                 err, sizeof(err));
  free(h);
  const char *dp[] = {replay_id, prc == 0 ? "produced" : "produce_failed",
                      prc == 0 ? NULL : err};
  r = pv_pg_sync_query(x->db, REPLAY_DONE_SQL, 3, dp);
  bool recorded = pv_pg_result_ok(r);
  if (!recorded)
    pv_cli_err("%s: the replay's outcome could not be recorded: %s",
               c->job_id ? c->job_id : "(no id)", pv_pg_result_error(r));
  pv_pg_result_free(r);
  free(replay_id);
  if (prc < 0) {
    report(x, c, "FAILED", err);
    return -1;
  }
  report(x, c, "replayed", NULL);
  return recorded ? 0 : -1;
}

static bool confirm(size_t n)
{
  if (!isatty(STDIN_FILENO)) {
    pv_cli_err("dlq replay: %zu job(s) selected; add --yes to replay them "
               "without a terminal (or --dry-run to see them)", n);
    return false;
  }
  fprintf(stderr, "replay %zu job(s)? [y/N] ", n);
  char ans[16];
  if (!fgets(ans, sizeof(ans), stdin))
    return false;
  return ans[0] == 'y' || ans[0] == 'Y';
}

static int parse_rate(const char *text, double *rate)
{
  char *end = NULL;
  double v = strtod(text, &end);
  if (end == text || (*end && strcmp(end, "/s")) || !(v > 0) ||
      v > MAX_RATE) {
    pv_cli_err("--rate \"%s\": expected records per second such as 10/s or "
               "0.5 (up to %.0f)", text, MAX_RATE);
    return -1;
  }
  *rate = v;
  return 0;
}

static void sleep_until_mono_ms(uint64_t t)
{
  for (uint64_t now = pv_clock_mono_ms(); now < t; now = pv_clock_mono_ms()) {
    uint64_t d = t - now;
    struct timespec ts = {(time_t)(d / 1000), (long)(d % 1000) * 1000000L};
    nanosleep(&ts, NULL);
  }
}

static int dlq_replay(const pv_config_t *conf, const filters_t *f,
                      char **ids, int nids, bool all, const char *from_topic,
                      bool dry_run, double rate, const char *by, bool yes,
                      bool as_json)
{
  cands_t cs = {0};
  int rc = PV_EXIT_UNREACHABLE, missing = 0;
  replay_ctx_t x = {.conf = conf, .by = by, .json = as_json};
  if (!nids && !all) {
    pv_cli_err("dlq replay: name the jobs (JOB_ID...) or give --all");
    return PV_EXIT_USAGE;
  }
  if (nids && all) {
    pv_cli_err("dlq replay: give job ids or --all, not both");
    return PV_EXIT_USAGE;
  }
  if (from_topic && f->since) {
    pv_cli_err("dlq replay: --since applies to job rows, not with "
               "--from-topic");
    return PV_EXIT_USAGE;
  }
  x.db = pv_cli_db_connect(conf);
  if (!x.db)
    goto out;
  if (pv_cli_kafka_check(conf) < 0)
    goto out;
  if (from_topic) {
    topic_scan_t ts = {.cs = &cs, .f = f, .ids = ids, .nids = nids};
    if (scan_topic(conf, from_topic, take_record, &ts) < 0)
      goto out;
    if (ts.no_source)
      pv_cli_err("%s: %d record(s) without x-dlq-source-* headers ignored",
                 from_topic, ts.no_source);
    for (int i = 0; i < nids; i++) {
      bool found = false;
      for (size_t k = 0; k < cs.n && !found; k++)
        found = cs.v[k].job_id && !strcmp(cs.v[k].job_id, ids[i]);
      if (!found) {
        pv_cli_err("no dead letter for \"%s\" on %s", ids[i], from_topic);
        missing++;
      }
    }
  } else {
    int e = select_rows(x.db, conf, f, ids, nids, &cs, &missing);
    if (e) {
      rc = e;
      goto out;
    }
    /* the exact dead letters, one scan per dead-letter topic */
    for (size_t i = 0; i < cs.n; i++) {
      if (cs.v[i].skip)
        continue;
      bool seen = false;
      for (size_t k = 0; k < i && !seen; k++)
        seen = !cs.v[k].skip && !strcmp(cs.v[k].dlq_topic, cs.v[i].dlq_topic);
      if (!seen && scan_topic(conf, cs.v[i].dlq_topic, match_row, &cs) < 0)
        pv_cli_err("%s: replaying from the job rows' copies instead",
                   cs.v[i].dlq_topic);
    }
  }
  size_t to_replay = 0;
  for (size_t i = 0; i < cs.n; i++)
    to_replay += cs.v[i].skip ? 0 : 1;
  if (dry_run) {
    for (size_t i = 0; i < cs.n; i++) {
      bool had_row;
      if (cs.v[i].from_topic && cs.v[i].job_id && !cs.v[i].skip &&
          topic_row_check(x.db, &cs.v[i], &had_row) < 0)
        goto out;
    }
    to_replay = 0;
    for (size_t i = 0; i < cs.n; i++)
      to_replay += cs.v[i].skip ? 0 : 1;
    for (size_t i = 0; i < cs.n; i++)
      report(&x, &cs.v[i], cs.v[i].skip ? "skip" : "would-replay",
             cs.v[i].skip);
    if (!as_json)
      printf("dry run: %zu to replay, %zu skipped; nothing changed\n", to_replay,
             cs.n - to_replay);
    rc = missing ? PV_EXIT_JOB : PV_EXIT_OK;
    goto out;
  }
  if (to_replay && !yes && !confirm(to_replay)) {
    rc = PV_EXIT_USAGE;
    goto out;
  }
  x.prod = pv_ksync_producer_new(conf->kafka_brokers);
  if (!x.prod) {
    pv_cli_err("cannot create a Kafka producer; nothing was replayed");
    goto out;
  }
  uint64_t start = pv_clock_mono_ms();
  size_t sent_n = 0, stop_at = cs.n;
  for (size_t i = 0; i < cs.n; i++) {
    cand_t *c = &cs.v[i];
    if (c->skip) {
      report(&x, c, "skipped", c->skip);
      x.skipped++;
      continue;
    }
    if (rate > 0)
      sleep_until_mono_ms(start + (uint64_t)((double)sent_n * 1000.0 / rate));
    int r = replay_one(&x, c);
    if (r == 0) {
      x.replayed++;
      sent_n++;
    } else if (r > 0) {
      x.skipped++;
    } else {
      x.failed++;
      stop_at = i + 1;
      break;
    }
  }
  size_t not_tried = 0;
  for (size_t i = stop_at; i < cs.n; i++)
    if (!cs.v[i].skip)
      not_tried++;
  fprintf(stderr, "replayed %d, skipped %d, failed %d, not attempted %zu%s\n",
          x.replayed, x.skipped, x.failed, not_tried,
          missing ? " (some jobs not found)" : "");
  if (x.failed) {
    for (size_t i = stop_at; i < cs.n; i++)
      if (!cs.v[i].skip)
        fprintf(stderr, "not attempted: %s\n",
                cs.v[i].job_id ? cs.v[i].job_id : "(no id)");
    fprintf(stderr, "provctl: a job reported FAILED is left 'received' with "
                    "last replay status produce_failed: run the same replay "
                    "again once Kafka is back\n");
    rc = PV_EXIT_UNREACHABLE;
  } else {
    rc = missing ? PV_EXIT_JOB : PV_EXIT_OK;
  }
out:
  pv_ksync_producer_destroy(x.prod);
  pv_pg_sync_close(x.db);
  cands_free(&cs);
  return rc;
}

/* ---- entry --------------------------------------------------------------- */

int pv_cmd_dlq(int argc, char **argv)
{
  static const struct option opts[] = {
    {"tenant", required_argument, NULL, 't'},
    {"service", required_argument, NULL, 's'},
    {"op", required_argument, NULL, 'o'},
    {"error-class", required_argument, NULL, 'c'},
    {"since", required_argument, NULL, 'n'},
    {"limit", required_argument, NULL, 'l'},
    {"all", no_argument, NULL, 'a'},
    {"from-topic", required_argument, NULL, 'F'},
    {"dry-run", no_argument, NULL, 'd'},
    {"rate", required_argument, NULL, 'r'},
    {"by", required_argument, NULL, 'b'},
    {"yes", no_argument, NULL, 'y'},
    {"json", no_argument, NULL, 'j'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
  };
  if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
    fputs(DLQ_USAGE, argc < 2 ? stderr : stdout);
    return argc < 2 ? PV_EXIT_USAGE : PV_EXIT_OK;
  }
  const char *sub = argv[1];
  bool is_list = !strcmp(sub, "list"), is_replay = !strcmp(sub, "replay");
  if (!is_list && !is_replay) {
    pv_cli_err("dlq: unknown subcommand \"%s\" (list, replay)", sub);
    return PV_EXIT_USAGE;
  }
  filters_t f = {0};
  long long limit = 100;
  bool all = false, dry = false, yes = false, as_json = false;
  const char *from_topic = NULL, *by = NULL;
  double rate = 0;
  int c;
  optind = 1;
  /* permute: job ids and options in any order */
  while ((c = getopt_long(argc - 1, argv + 1, "", opts, NULL)) != -1) {
    switch (c) {
    case 't': f.tenant = optarg; break;
    case 's': f.service = optarg; break;
    case 'o': f.op = optarg; break;
    case 'c': f.error_class = optarg; break;
    case 'a': all = true; break;
    case 'F': from_topic = optarg; break;
    case 'd': dry = true; break;
    case 'b': by = optarg; break;
    case 'y': yes = true; break;
    case 'j': as_json = true; break;
    case 'n':
      if (pv_cli_parse_duration("--since", optarg, &f.since) < 0)
        return PV_EXIT_USAGE;
      break;
    case 'l':
      if (pv_cli_parse_ll("--limit", optarg, 1, PV_CLI_MAX_ROWS, &limit) < 0)
        return PV_EXIT_USAGE;
      break;
    case 'r':
      if (parse_rate(optarg, &rate) < 0)
        return PV_EXIT_USAGE;
      break;
    case 'h':
      fputs(DLQ_USAGE, stdout);
      return PV_EXIT_OK;
    default:
      fputs(DLQ_USAGE, stderr);
      return PV_EXIT_USAGE;
    }
  }
  char **ids = argv + 1 + optind;
  int nids = argc - 1 - optind;
  if (f.error_class && pv_errclass_parse(f.error_class) < 0) {
    pv_cli_err("--error-class \"%s\": not an error class (see docs/"
               "messages.md)", f.error_class);
    return PV_EXIT_USAGE;
  }
  if (is_list && (nids || all || from_topic || dry || rate > 0 || by || yes)) {
    pv_cli_err("dlq list takes only --tenant, --service, --op, "
               "--error-class, --since, --limit and --json");
    return PV_EXIT_USAGE;
  }
  if (by && (!*by || strlen(by) > 64)) {
    pv_cli_err("--by: 1..64 characters");
    return PV_EXIT_USAGE;
  }
  pv_config_t *conf = pv_cli_load_config();
  if (!conf)
    return PV_EXIT_USAGE;
  int rc = is_list ? dlq_list(conf, &f, limit, as_json)
                   : dlq_replay(conf, &f, ids, nids, all, from_topic, dry,
                                rate, by ? by : pv_cli_os_user(), yes,
                                as_json);
  pv_config_destroy(conf);
  return rc;
}
