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
#include "common/buf.h"
#include "common/bytes.h"
#include "common/clock.h"
#include "jobs/job.h"
#include "kafka/sync.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Job rows read per page by a replay (without their payloads). */
#define PAGE_ROWS 500
#define STR_(x) #x
#define STR(x) STR_(x)
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
  "                        [--keep-deadline] [--by USER] [--yes] [--json]\n"
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
  "  --keep-deadline the job keeps its deadline (by default a replay runs\n"
  "                  under a fresh one: now plus the job's own budget)\n"
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

/* ---- one record at a time ------------------------------------------------ */

/* A replay streams: dead-letter topics are read one record at a time, and
 * job rows page by page by keyset without their payloads (a row's copy of
 * its record is read when it is replayed), so memory stays bounded however
 * large the topic or the backlog. What this run took (replayed, or would
 * have in a dry run) is kept in the session's temporary table
 * replay_taken, on the server: a job is replayed once per run, a dry run
 * lists exactly what a replay would do, and the rows pass does not replay
 * again what the topic pass did. */

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
  bool from_topic;   /* read by --from-topic */
  char *key;
  size_t key_len;
  bool has_key;
  char *value;
  size_t len;
  size_t nh;
  char **hn;
  char **hv;         /* NULL = header without a value */
  size_t *hl;
  char *skip;        /* why it is not replayed */
} cand_t;

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

/* Empties c for the next record. */
static void cand_reset(cand_t *c)
{
  cand_clear_record(c);
  free(c->job_id);
  free(c->tenant);
  free(c->target);
  free(c->src_topic);
  free(c->dlq_topic);
  free(c->skip);
  memset(c, 0, sizeof(*c));
  c->dlq_part = -1;
}

static void cand_skip(cand_t *c, const char *why)
{
  free(c->skip);
  c->skip = pv_strdup(why);
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
  char *value = pv_bytea_decode(payload_hex, &len);
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
    c->key = pv_bytea_decode(key_hex, &c->key_len);
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

static long long header_ll(const pv_ksync_msg_t *m, const char *name,
                           bool *ok)
{
  const char *v = pv_ksync_msg_header(m, name);
  char *end = NULL;
  long long x = v ? strtoll(v, &end, 10) : -1;
  *ok = v && *v && end && !*end;
  return x;
}

/* ---- the run ----------------------------------------------------------- */

/* What a run knows of a named id. */
enum { ID_UNSEEN = 0, ID_MISSING, ID_SEEN };

typedef struct replay_ctx {
  const pv_config_t *conf;
  const filters_t *f;
  pv_pg_sync_t *db;
  pv_ksync_producer_t *prod;
  const char *by;
  bool json;
  bool dry;          /* list, change nothing */
  bool quiet;        /* the counting pass before a confirmation */
  double rate;
  char **ids;        /* named jobs (NULL: --all) */
  int nids;
  int *found;        /* per named id: ID_UNSEEN, ID_MISSING, ID_SEEN */
  char *ids_array;   /* ids as a PostgreSQL array literal, or NULL */
  char start[64];    /* the run's start (database clock): rows that died
                        later are not this run's */
  const char *from_topic;
  uint64_t t0;
  int replayed, skipped, failed, would, not_tried, no_source, no_value;
  bool keep_deadline; /* replays keep the job's deadline */
  bool stopped;      /* a produce failed: the rest is not attempted */
  bool ambiguous;    /* a named id was found under two tenants */
} replay_ctx_t;

static void report(const replay_ctx_t *x, const cand_t *c, const char *action,
                   const char *why)
{
  if (x->quiet)
    return;
  char from[512];
  if (c->dlq_part >= 0)
    snprintf(from, sizeof(from), "%s/%d@%lld", c->dlq_topic, c->dlq_part,
             c->dlq_off);
  else
    snprintf(from, sizeof(from), "job_status");
  if (x->json) {
    json_t *o = json_pack("{s:s?,s:s?,s:s,s:s,s:s?,s:s?}", "job_id", c->job_id,
                          "tenant", c->tenant, "action", action, "from", from,
                          "to", c->target, "reason", why);
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

/* The session's record of what this run took. */
static const char TAKEN_SETUP_SQL[] =
  "CREATE TEMPORARY TABLE IF NOT EXISTS replay_taken (job_id text NOT NULL,"
  " tenant text NOT NULL, PRIMARY KEY (job_id, tenant));"
  " TRUNCATE replay_taken";

static const char TAKE_SQL[] =
  "INSERT INTO pg_temp.replay_taken VALUES ($1::text, coalesce($2::text, ''))"
  " ON CONFLICT DO NOTHING";

static int take(replay_ctx_t *x, const cand_t *c)
{
  if (!c->job_id)
    return 0;
  const char *p[] = {c->job_id, c->tenant};
  pv_pg_result_t *r = pv_pg_sync_query(x->db, TAKE_SQL, 2, p);
  int rc = pv_pg_result_ok(r) ? 0 : -1;
  if (rc < 0)
    pv_cli_err("%s: %s", c->job_id, pv_pg_result_error(r));
  pv_pg_result_free(r);
  return rc;
}

/* ---- replay -------------------------------------------------------------- */

/* One statement, one transaction: the row goes back to 'received' (history
 * kept in errors, runs, attempts) and the replay is recorded, only if the
 * row is still dead (or was left 'received' by a failed produce). Unless
 * the deadline is kept ($8), the job gets a fresh one: now plus its budget
 * (the last fresh replay's, else its deadline less its receipt; the
 * configured default, $9 ms, when it has none), in the row and the replay.
 * Returns the replay's id and the deadline to send (ms, NULL if kept). */
static const char REPLAY_ROW_SQL[] =
  "WITH n AS (SELECT nextval(pg_get_serial_sequence('job_replays', 'id'))"
  "  AS id),"
  " b AS (SELECT coalesce((SELECT r.deadline - r.replayed_at"
  "   FROM job_replays r WHERE r.job_id = $1::text AND r.tenant = $7::text"
  "    AND r.fresh_deadline ORDER BY r.id DESC LIMIT 1),"
  "  (SELECT j.deadline - j.received_at FROM job_status j"
  "   WHERE j.job_id = $1::text AND j.tenant = $7::text)) AS budget),"
  " u AS (UPDATE job_status SET state = 'received', finished_at = NULL,"
  "  lease_until = NULL, next_attempt_at = NULL, retry_reason = NULL,"
  "  replay_count = replay_count + 1, last_replay_id = (SELECT id FROM n),"
  "  last_replayed_at = now(), last_replayed_by = $2::text,"
  "  last_replay_status = 'producing', updated_at = now(),"
  "  deadline = CASE WHEN $8::boolean THEN deadline"
  "   ELSE now() + CASE WHEN (SELECT budget FROM b) > interval '0'"
  "    THEN (SELECT budget FROM b)"
  "    ELSE $9::bigint * interval '1 millisecond' END END"
  "  WHERE job_id = $1::text AND tenant = $7::text"
  "   AND (state = 'dead' OR (state = 'received'"
  "   AND last_replay_status = 'produce_failed'))"
  "  RETURNING job_id, tenant, deadline)"
  " INSERT INTO job_replays (id, job_id, tenant, replayed_by, dlq_topic,"
  "  dlq_partition, dlq_offset, target_topic, had_row, status, deadline,"
  "  fresh_deadline)"
  " SELECT (SELECT id FROM n), job_id, tenant, $2::text, $3::text, $4::int,"
  "  $5::bigint, $6::text, true, 'producing', deadline, NOT $8::boolean"
  "  FROM u RETURNING id::text, CASE WHEN fresh_deadline"
  "   THEN (extract(epoch FROM deadline) * 1000)::bigint::text END";

/* A record without a row: a fresh deadline is the default budget. */
static const char REPLAY_NOROW_SQL[] =
  "INSERT INTO job_replays (job_id, tenant, replayed_by, dlq_topic,"
  " dlq_partition, dlq_offset, target_topic, had_row, status, deadline,"
  " fresh_deadline)"
  " VALUES ($1::text, $7::text, $2::text, $3::text, $4::int, $5::bigint,"
  "  $6::text, false, 'producing', CASE WHEN NOT $8::boolean"
  "  THEN now() + $9::bigint * interval '1 millisecond' END, NOT $8::boolean)"
  " RETURNING id::text, CASE WHEN fresh_deadline"
  "  THEN (extract(epoch FROM deadline) * 1000)::bigint::text END";

static const char REPLAY_DONE_SQL[] =
  "WITH r AS (UPDATE job_replays SET status = $2::text, error = $3::text"
  "  WHERE id = $1::bigint RETURNING job_id, tenant)"
  " UPDATE job_status j SET last_replay_status = $2::text FROM r"
  " WHERE j.job_id = r.job_id AND j.tenant = r.tenant"
  "  AND j.last_replay_id = $1::bigint";

static void sleep_until_mono_ms(uint64_t t)
{
  for (uint64_t now = pv_clock_mono_ms(); now < t; now = pv_clock_mono_ms()) {
    uint64_t d = t - now;
    struct timespec ts = {(time_t)(d / 1000), (long)(d % 1000) * 1000000L};
    nanosleep(&ts, NULL);
  }
}

/* Replays c (its record filled, its skip decided), or reports it. had_row:
 * the job has a row (its replay goes through it). @returns 0, or -1 when
 * the run must stop (printed). */
static int replay_one(replay_ctx_t *x, cand_t *c, bool had_row)
{
  if (c->skip) {
    report(x, c, x->dry ? "skip" : "skipped", c->skip);
    x->skipped++;
    return take(x, c);
  }
  if (x->stopped) {
    /* after a failed produce: listed, not tried */
    fprintf(stderr, "not attempted: %s\n", c->job_id ? c->job_id : "(no id)");
    x->not_tried++;
    return 0;
  }
  if (x->dry) {
    report(x, c, "would-replay", NULL);
    x->would++;
    return take(x, c);
  }
  if (x->rate > 0)
    sleep_until_mono_ms(x->t0 + (uint64_t)((double)x->replayed * 1000.0 /
                                           x->rate));
  char part[16], off[32];
  snprintf(part, sizeof(part), "%d", c->dlq_part);
  snprintf(off, sizeof(off), "%lld", c->dlq_off);
  bool have_pos = c->dlq_part >= 0;
  char budget[32];
  snprintf(budget, sizeof(budget), "%lld", x->conf->default_deadline_ms);
  const char *p[] = {c->job_id, x->by, have_pos ? c->dlq_topic : NULL,
                     have_pos ? part : NULL, have_pos ? off : NULL, c->target,
                     c->tenant, x->keep_deadline ? "true" : "false", budget};
  pv_pg_result_t *r = pv_pg_sync_query(x->db, had_row ? REPLAY_ROW_SQL
                                                      : REPLAY_NOROW_SQL, 9, p);
  if (!pv_pg_result_ok(r)) {
    pv_cli_err("%s: recording the replay failed: %s (not sent)",
               c->job_id ? c->job_id : "(no id)", pv_pg_result_error(r));
    pv_pg_result_free(r);
    x->failed++;
    return -1;
  }
  if (pv_pg_result_ntuples(r) == 0) {
    /* no longer dead: someone else replayed it, or it succeeded */
    pv_pg_result_free(r);
    report(x, c, "skipped", "no longer dead (replayed or finished meanwhile)");
    x->skipped++;
    return take(x, c);
  }
  char *replay_id = pv_strdup(pv_pg_result_get(r, 0, 0));
  const char *dl = pv_pg_result_get(r, 0, 1);
  char *deadline = dl ? pv_strdup(dl) : NULL;
  pv_pg_result_free(r);
  if (take(x, c) < 0) {
    free(replay_id);
    free(deadline);
    x->failed++;
    return -1;
  }

  /* the record as it was, plus where it comes from */
  char of[512];
  if (have_pos)
    snprintf(of, sizeof(of), "%s/%d@%lld", c->dlq_topic, c->dlq_part,
             c->dlq_off);
  else
    snprintf(of, sizeof(of), "job_status:%s", c->job_id);
  size_t nh = c->nh + 3;
  pv_ksync_header_t *h = pv_calloc(nh + 1, sizeof(*h));
  for (size_t i = 0; i < c->nh; i++)
    h[i] = (pv_ksync_header_t){c->hn[i], c->hv[i], c->hl[i]};
  h[c->nh] = (pv_ksync_header_t){"x-replay-of", of, strlen(of)};
  h[c->nh + 1] = (pv_ksync_header_t){"x-replayed-by", x->by, strlen(x->by)};
  h[c->nh + 2] = (pv_ksync_header_t){"x-replay-id", replay_id,
                                     strlen(replay_id)};
  if (deadline) /* the worker runs the replay under it */
    h[nh++] = (pv_ksync_header_t){PV_JOB_REPLAY_DEADLINE_HEADER, deadline,
                                  strlen(deadline)};
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
  free(deadline);
  if (prc < 0) {
    report(x, c, "FAILED", err);
    x->failed++;
    x->stopped = true;
    return 0; /* the rest of the run lists what it did not attempt */
  }
  report(x, c, "replayed", NULL);
  x->replayed++;
  if (!recorded) {
    x->failed++;
    return -1;
  }
  return 0;
}

/* ---- reading a dead-letter topic ----------------------------------------- */

/* Calls fn for every record of topic (as of now), one at a time.
 * @returns 0, or -1 (printed) when the topic cannot be read or fn says
 * stop. */
typedef int (*scan_fn)(replay_ctx_t *x, const pv_ksync_msg_t *m,
                       const char *topic);

static int scan_topic(replay_ctx_t *x, const char *topic, scan_fn fn)
{
  char err[512];
  pv_ksync_consumer_t *c = pv_ksync_consumer_snapshot(x->conf->kafka_brokers,
                                                      topic, err, sizeof(err));
  if (!c) {
    pv_cli_err("cannot read %s on %s: %s", topic, x->conf->kafka_brokers,
               err);
    return -1;
  }
  int rc = 0;
  while (rc == 0 && !pv_ksync_consumer_drained(c)) {
    pv_ksync_msg_t *m = pv_ksync_consume(c, SCAN_IDLE_MS);
    if (!m)
      break;
    rc = fn(x, m, topic);
    pv_ksync_msg_destroy(m);
  }
  pv_ksync_consumer_destroy(c);
  return rc;
}

/* The job a dead letter carries: its id and tenant from the decoded value
 * (NULL where it has none), the decoded document in *doc (may be NULL). */
static void dead_letter_job(const pv_ksync_msg_t *m, json_t **doc,
                            const char **id, const char **tenant)
{
  const char *ct = pv_ksync_msg_header(m, "content-type");
  int fmt = pv_format_from_content_type(ct);
  char derr[64];
  *doc = NULL;
  if (fmt < 0 || !m->value ||
      pv_doc_decode(m->value, m->len, (pv_format_t)fmt, doc, derr,
                    sizeof(derr)) < 0 || !json_is_object(*doc)) {
    json_decref(*doc);
    *doc = NULL;
  }
  *id = json_string_value(json_object_get(*doc, "id"));
  *tenant = json_string_value(json_object_get(*doc, "tenant"));
}

/* Marks a named id found; @returns whether id is wanted at all. */
static bool wanted_id(replay_ctx_t *x, const char *id)
{
  if (!x->nids)
    return true;
  bool hit = false;
  for (int i = 0; id && i < x->nids; i++)
    if (!strcmp(x->ids[i], id)) {
      if (x->found[i] == ID_UNSEEN)
        x->found[i] = ID_SEEN;
      hit = true;
    }
  return hit;
}

/* ---- from job rows ------------------------------------------------------- */

/* The rows a replay without --from-topic selects: replayable ones matching
 * the filters ($1..$5), the named ids ($6, NULL for --all), and finished
 * before the run started ($7: a row that died again since is not this
 * run's). */
#define ROW_SELECTION \
  " (state = 'dead' OR (state = 'received'" \
  "   AND last_replay_status = 'produce_failed'))" \
  " AND ($1::text IS NULL OR tenant = $1) AND ($2::text IS NULL OR service = $2)" \
  " AND ($3::text IS NULL OR op = $3) AND ($4::text IS NULL OR error_class = $4)" \
  " AND ($5::bigint IS NULL OR coalesce(finished_at, updated_at) >=" \
  "      $7::timestamptz - $5::bigint * interval '1 second')" \
  " AND ($6::text[] IS NULL OR job_id = ANY ($6::text[]))" \
  " AND coalesce(finished_at, last_replayed_at, updated_at) <= $7::timestamptz"

#define TAKEN(j) \
  " EXISTS (SELECT 1 FROM pg_temp.replay_taken t WHERE t.job_id = " j \
  ".job_id AND t.tenant = " j ".tenant)"

/* The dead-letter topics the selected rows' records are on. */
static const char ROW_TOPICS_SQL[] =
  "SELECT DISTINCT coalesce(dlq_topic, source_topic || $8::text)"
  " FROM job_status j WHERE" ROW_SELECTION " ORDER BY 1";

/* Is this dead letter the latest one of a selected row not taken yet? */
static const char ROW_OF_DEAD_LETTER_SQL[] =
  "SELECT state, coalesce(error_class, ''), coalesce(last_replay_status, ''),"
  " source_topic = $10::text AND source_partition = $11::int"
  "  AND source_offset = $12::bigint, " TAKEN("j")
  " FROM job_status j WHERE job_id = $8::text AND tenant = $9::text AND"
  ROW_SELECTION;

/* The selected rows not taken yet, a page at a time, by keyset. */
static const char ROW_PAGE_SQL[] =
  "SELECT job_id, tenant, state, coalesce(error_class, ''),"
  " coalesce(last_replay_status, ''), source_topic,"
  " source_partition::text, source_offset::text,"
  " coalesce(dlq_topic, source_topic || $8::text),"
  " coalesce(finished_at, last_replayed_at, updated_at)::text"
  " FROM job_status j WHERE" ROW_SELECTION " AND NOT" TAKEN("j")
  " AND ($9::timestamptz IS NULL OR (coalesce(finished_at, last_replayed_at,"
  "  updated_at), tenant, job_id) > ($9::timestamptz, $10::text, $11::text))"
  " ORDER BY coalesce(finished_at, last_replayed_at, updated_at), tenant,"
  "  job_id LIMIT " STR(PAGE_ROWS);

/* A row's copy of its record, read when it is replayed. */
static const char ROW_RECORD_SQL[] =
  "SELECT ordering_key, payload, headers::text FROM job_status"
  " WHERE job_id = $1 AND tenant = $2";

/* Parameters $1..$7 of the row statements: the selection. */
static void row_params(const replay_ctx_t *x, char *since_s, size_t n,
                       const char **p)
{
  snprintf(since_s, n, "%lld", x->f->since);
  p[0] = x->f->tenant;
  p[1] = x->f->service;
  p[2] = x->f->op;
  p[3] = x->f->error_class;
  p[4] = x->f->since ? since_s : NULL;
  p[5] = x->ids_array;
  p[6] = x->start;
}

/* Rows pass 1: a dead letter on a selected row's topic is replayed when
 * it is that row's latest (its x-dlq-source-* is the row's source
 * position); any other is not this run's business. */
static int rows_topic_record(replay_ctx_t *x, const pv_ksync_msg_t *m,
                             const char *topic)
{
  const char *st = pv_ksync_msg_header(m, "x-dlq-source-topic");
  bool okp, oko;
  long long part = header_ll(m, "x-dlq-source-partition", &okp);
  long long off = header_ll(m, "x-dlq-source-offset", &oko);
  /* A dead letter Kafka refused whole was sent without its value: the
   * row's copy is the record. */
  if (!st || !okp || !oko || pv_ksync_msg_header(m, "x-dlq-value-omitted"))
    return 0;
  json_t *doc;
  const char *id, *tenant;
  dead_letter_job(m, &doc, &id, &tenant);
  if (!id || !tenant || !wanted_id(x, id)) {
    json_decref(doc);
    return 0;
  }
  char since_s[32], ps[16], os[32];
  const char *p[12];
  row_params(x, since_s, sizeof(since_s), p);
  snprintf(ps, sizeof(ps), "%lld", part);
  snprintf(os, sizeof(os), "%lld", off);
  p[7] = id;
  p[8] = tenant;
  p[9] = st;
  p[10] = ps;
  p[11] = os;
  pv_pg_result_t *r = pv_pg_sync_query(x->db, ROW_OF_DEAD_LETTER_SQL, 12, p);
  int rc = 0;
  if (!pv_pg_result_ok(r)) {
    pv_cli_err("%s: %s", id, pv_pg_result_error(r));
    rc = -1;
  } else if (pv_pg_result_ntuples(r) == 1 &&
             !strcmp(pv_pg_result_get(r, 0, 3), "t") &&
             !strcmp(pv_pg_result_get(r, 0, 4), "f")) {
    cand_t c = {.dlq_part = -1};
    c.job_id = pv_strdup(id);
    c.tenant = pv_strdup(tenant);
    c.src_topic = pv_strdup(st);
    c.target = pv_strdup(st);
    c.src_part = (int)part;
    c.src_off = off;
    const char *why = skip_reason(pv_pg_result_get(r, 0, 0),
                                  pv_pg_result_get(r, 0, 1),
                                  pv_pg_result_get(r, 0, 2));
    if (why)
      cand_skip(&c, why);
    else
      cand_from_msg(&c, m, topic);
    rc = replay_one(x, &c, true);
    cand_reset(&c);
  }
  pv_pg_result_free(r);
  json_decref(doc);
  return rc;
}

/* Rows pass 2: one selected row not taken by pass 1 (its dead letter is
 * gone from the topic, or it is to be skipped): replayed from its own
 * copy of the record. */
static int rows_row(replay_ctx_t *x, const pv_pg_result_t *page, int i)
{
  cand_t c = {.dlq_part = -1};
  c.job_id = pv_strdup(pv_pg_result_get(page, i, 0));
  c.tenant = pv_strdup(pv_pg_result_get(page, i, 1));
  c.src_topic = pv_strdup(pv_pg_result_get(page, i, 5));
  c.target = pv_strdup(c.src_topic);
  c.src_part = (int)strtol(pv_pg_result_get(page, i, 6), NULL, 10);
  c.src_off = strtoll(pv_pg_result_get(page, i, 7), NULL, 10);
  c.dlq_topic = pv_strdup(pv_pg_result_get(page, i, 8));
  wanted_id(x, c.job_id);
  const char *why = skip_reason(pv_pg_result_get(page, i, 2),
                                pv_pg_result_get(page, i, 3),
                                pv_pg_result_get(page, i, 4));
  int rc = 0;
  if (why) {
    cand_skip(&c, why);
  } else {
    const char *p[] = {c.job_id, c.tenant};
    pv_pg_result_t *r = pv_pg_sync_query(x->db, ROW_RECORD_SQL, 2, p);
    if (!pv_pg_result_ok(r)) {
      pv_cli_err("%s: %s", c.job_id, pv_pg_result_error(r));
      rc = -1;
    } else if (pv_pg_result_ntuples(r) != 1 ||
               cand_from_row(&c, pv_pg_result_get(r, 0, 0),
                             pv_pg_result_get(r, 0, 1),
                             pv_pg_result_get(r, 0, 2)) < 0) {
      cand_skip(&c, "its row holds no readable copy of the record");
    }
    pv_pg_result_free(r);
  }
  if (rc == 0)
    rc = replay_one(x, &c, true);
  cand_reset(&c);
  return rc;
}

static int rows_pass(replay_ctx_t *x)
{
  char since_s[32];
  const char *p[11] = {NULL};
  row_params(x, since_s, sizeof(since_s), p);
  p[7] = x->conf->kafka_dlq_suffix;
  /* 1: the selected rows' dead letters, topic by topic */
  pv_pg_result_t *topics = pv_pg_sync_query(x->db, ROW_TOPICS_SQL, 8, p);
  if (!pv_pg_result_ok(topics)) {
    pv_cli_err("dlq replay: %s", pv_pg_result_error(topics));
    pv_pg_result_free(topics);
    return -1;
  }
  for (int i = 0; i < pv_pg_result_ntuples(topics); i++) {
    const char *t = pv_pg_result_get(topics, i, 0);
    if (scan_topic(x, t, rows_topic_record) < 0)
      pv_cli_err("%s: replaying from the job rows' copies instead", t);
  }
  pv_pg_result_free(topics);
  /* 2: the rest, from the rows' copies, a page at a time */
  char *last[3] = {NULL, NULL, NULL};
  int rc = 0;
  for (;;) {
    p[8] = last[0];
    p[9] = last[1];
    p[10] = last[2];
    pv_pg_result_t *page = pv_pg_sync_query(x->db, ROW_PAGE_SQL, 11, p);
    if (!pv_pg_result_ok(page)) {
      pv_cli_err("dlq replay: %s", pv_pg_result_error(page));
      pv_pg_result_free(page);
      rc = -1;
      break;
    }
    int n = pv_pg_result_ntuples(page);
    for (int i = 0; i < n && rc == 0; i++)
      rc = rows_row(x, page, i);
    if (n > 0) {
      for (int k = 0; k < 3; k++)
        free(last[k]);
      last[0] = pv_strdup(pv_pg_result_get(page, n - 1, 9));
      last[1] = pv_strdup(pv_pg_result_get(page, n - 1, 1));
      last[2] = pv_strdup(pv_pg_result_get(page, n - 1, 0));
    }
    pv_pg_result_free(page);
    if (rc < 0 || n < PAGE_ROWS)
      break;
  }
  for (int k = 0; k < 3; k++)
    free(last[k]);
  return rc;
}

/* A named id's row, under the filters. */
static const char NAMED_ROW_SQL[] =
  "SELECT state, coalesce(error_class, ''), coalesce(last_replay_status, ''),"
  " tenant, source_topic FROM job_status"
  " WHERE ($1::text IS NULL OR tenant = $1) AND ($2::text IS NULL OR service = $2)"
  "  AND ($3::text IS NULL OR op = $3) AND ($4::text IS NULL OR error_class = $4)"
  "  AND ($5::bigint IS NULL OR coalesce(finished_at, updated_at) >="
  "       now() - $5::bigint * interval '1 second')"
  "  AND job_id = $6 ORDER BY tenant";

/* Named ids, once before anything is done: each must name one job (ids
 * are unique per tenant only) matching the filters. @returns 0, or an exit
 * code; *missing counts the ids with no such job (reported). */
static int check_named_rows(replay_ctx_t *x, int *missing)
{
  char since_s[32];
  snprintf(since_s, sizeof(since_s), "%lld", x->f->since);
  for (int k = 0; k < x->nids; k++) {
    const char *p[] = {x->f->tenant, x->f->service, x->f->op,
                       x->f->error_class, x->f->since ? since_s : NULL,
                       x->ids[k]};
    pv_pg_result_t *r = pv_pg_sync_query(x->db, NAMED_ROW_SQL, 6, p);
    int rc = 0;
    if (!pv_pg_result_ok(r)) {
      pv_cli_err("dlq replay: %s (nothing was replayed)",
                 pv_pg_result_error(r));
      rc = PV_EXIT_UNREACHABLE;
    } else if (pv_pg_result_ntuples(r) > 1) {
      /* never guess whose job is meant */
      pv_cli_err_ambiguous_id(x->ids[k], r, 3);
      pv_cli_err("nothing was replayed");
      rc = PV_EXIT_USAGE;
    } else if (pv_pg_result_ntuples(r) == 0) {
      pv_cli_err("no job \"%s\"%s", x->ids[k],
                 x->f->tenant || x->f->service || x->f->op ||
                 x->f->error_class || x->f->since ? " matching the filters"
                                                  : "");
      (*missing)++;
      x->found[k] = ID_MISSING;
    }
    pv_pg_result_free(r);
    if (rc)
      return rc;
  }
  return 0;
}

/* Named ids whose job cannot be replayed (succeeded, failed, invalid...):
 * reported as skipped at the start of a pass, and taken. */
static int skip_named_rows(replay_ctx_t *x)
{
  char since_s[32];
  snprintf(since_s, sizeof(since_s), "%lld", x->f->since);
  for (int k = 0; k < x->nids; k++) {
    if (x->found[k] == ID_MISSING)
      continue;
    const char *p[] = {x->f->tenant, x->f->service, x->f->op,
                       x->f->error_class, x->f->since ? since_s : NULL,
                       x->ids[k]};
    pv_pg_result_t *r = pv_pg_sync_query(x->db, NAMED_ROW_SQL, 6, p);
    if (!pv_pg_result_ok(r)) {
      pv_cli_err("dlq replay: %s", pv_pg_result_error(r));
      pv_pg_result_free(r);
      return -1;
    }
    const char *why = pv_pg_result_ntuples(r) != 1 ? NULL
        : skip_reason(pv_pg_result_get(r, 0, 0), pv_pg_result_get(r, 0, 1),
                      pv_pg_result_get(r, 0, 2));
    int rc = 0;
    if (why) {
      cand_t c = {.dlq_part = -1};
      c.job_id = pv_strdup(x->ids[k]);
      c.tenant = pv_strdup(pv_pg_result_get(r, 0, 3));
      c.target = pv_strdup(pv_pg_result_get(r, 0, 4));
      cand_skip(&c, why);
      rc = replay_one(x, &c, true);
      cand_reset(&c);
      x->found[k] = ID_SEEN;
    }
    pv_pg_result_free(r);
    if (rc < 0)
      return -1;
  }
  return 0;
}

/* ---- from a dead-letter topic (--from-topic) ------------------------------ */

/* The job's row, if any, and whether this run took the job already. */
static const char TOPIC_ROW_SQL[] =
  "SELECT r.state, r.source_topic, r.source_partition::text,"
  " r.source_offset::text, coalesce(r.error_class, ''),"
  " coalesce(r.last_replay_status, ''),"
  " EXISTS (SELECT 1 FROM pg_temp.replay_taken t WHERE t.job_id = $1::text"
  "  AND t.tenant = coalesce($2::text, '')),"
  " (SELECT string_agg(t.tenant, ', ' ORDER BY t.tenant)"
  "   FROM pg_temp.replay_taken t WHERE t.job_id = $1::text"
  "    AND t.tenant <> coalesce($2::text, ''))"
  " FROM (SELECT 1) one LEFT JOIN job_status r ON r.job_id = $1::text"
  "  AND r.tenant = coalesce($2::text, '')";

/* Every record that passes the filters (tenant, service and op from the
 * decoded record, the error class from x-dlq-error-class). A record whose
 * job has a row goes through that row's rules (and is superseded when the
 * row's source position is another: a later delivery exists); one without
 * a row never reached PostgreSQL and is replayed as it is. */
static int topic_record(replay_ctx_t *x, const pv_ksync_msg_t *m,
                        const char *topic)
{
  const filters_t *f = x->f;
  const char *st = pv_ksync_msg_header(m, "x-dlq-source-topic");
  bool okp, oko;
  long long part = header_ll(m, "x-dlq-source-partition", &okp);
  long long off = header_ll(m, "x-dlq-source-offset", &oko);
  if (!st || !*st || !okp || !oko) {
    x->no_source++;
    return 0;
  }
  if (pv_ksync_msg_header(m, "x-dlq-value-omitted")) {
    x->no_value++;
    return 0;
  }
  const char *cls = pv_ksync_msg_header(m, "x-dlq-error-class");
  if (f->error_class && (!cls || strcmp(cls, f->error_class)))
    return 0;
  json_t *doc;
  const char *id, *tenant;
  dead_letter_job(m, &doc, &id, &tenant);
  struct { const char *want, *field; } fl[] = {
    {f->tenant, "tenant"}, {f->service, "service"}, {f->op, "op"}};
  bool pass = true;
  for (size_t i = 0; pass && i < 3; i++) {
    const char *v = json_string_value(json_object_get(doc, fl[i].field));
    if (fl[i].want && (!v || strcmp(fl[i].want, v)))
      pass = false;
  }
  if (!pass || !wanted_id(x, id)) {
    json_decref(doc);
    return 0;
  }
  cand_t c = {.dlq_part = -1};
  c.job_id = id ? pv_strdup(id) : NULL;
  c.tenant = tenant ? pv_strdup(tenant) : NULL;
  c.target = pv_strdup(st);
  c.src_topic = pv_strdup(st);
  c.src_part = (int)part;
  c.src_off = off;
  c.from_topic = true;
  json_decref(doc);
  cand_from_msg(&c, m, topic);
  if (cls && !strcmp(cls, "invalid_job"))
    cand_skip(&c, "invalid record (it would be refused again; fix the "
                  "producer)");
  bool had_row = false;
  int rc = 0;
  if (c.job_id) {
    const char *q[] = {c.job_id, c.tenant};
    pv_pg_result_t *r = pv_pg_sync_query(x->db, TOPIC_ROW_SQL, 2, q);
    if (!pv_pg_result_ok(r)) {
      pv_cli_err("%s: %s", c.job_id, pv_pg_result_error(r));
      pv_pg_result_free(r);
      cand_reset(&c);
      return -1;
    }
    had_row = pv_pg_result_get(r, 0, 0) != NULL;
    const char *others = pv_pg_result_get(r, 0, 7);
    const char *why = NULL;
    if (x->nids && !f->tenant && others) {
      /* a named id under two tenants: found by the counting pass, which
       * then stops the run before anything is replayed */
      x->ambiguous = true;
      pv_cli_err("job id \"%s\" is on %s for tenants %s and %s: give "
                 "--tenant", c.job_id, topic, others,
                 c.tenant ? c.tenant : "(none)");
      why = "its id is on the topic for several tenants";
    } else if (!strcmp(pv_pg_result_get(r, 0, 6), "t")) {
      why = "another dead letter of this job was taken in this run";
    } else if (had_row) {
      why = skip_reason(pv_pg_result_get(r, 0, 0), pv_pg_result_get(r, 0, 4),
                        pv_pg_result_get(r, 0, 5));
      if (!why && (strcmp(pv_pg_result_get(r, 0, 1), c.src_topic) ||
                   strtol(pv_pg_result_get(r, 0, 2), NULL, 10) != c.src_part ||
                   strtoll(pv_pg_result_get(r, 0, 3), NULL, 10) != c.src_off))
        why = "superseded: the job was delivered again after this dead "
              "letter";
    }
    if (why && !c.skip)
      cand_skip(&c, why);
    pv_pg_result_free(r);
  }
  rc = replay_one(x, &c, had_row);
  cand_reset(&c);
  return rc;
}

/* ---- a run ------------------------------------------------------------- */

/* ids as a PostgreSQL text[] literal: every element quoted, '"' and '\'
 * escaped (ids hold no control characters, but may hold anything else). */
static char *text_array(char **v, int n)
{
  pv_buf_t b;
  pv_buf_init(&b, (size_t)64 << 20);
  pv_buf_append(&b, "{", 1);
  for (int i = 0; i < n; i++) {
    pv_buf_append(&b, i ? ",\"" : "\"", i ? 2 : 1);
    for (const char *s = v[i]; *s; s++) {
      if (*s == '"' || *s == '\\')
        pv_buf_append(&b, "\\", 1);
      pv_buf_append(&b, s, 1);
    }
    pv_buf_append(&b, "\"", 1);
  }
  pv_buf_append(&b, "}", 1);
  return pv_buf_steal(&b, NULL);
}

/* One pass over what the run selects. @returns 0 or -1 (printed). */
static int run_pass(replay_ctx_t *x)
{
  pv_pg_result_t *r = pv_pg_sync_exec(x->db, TAKEN_SETUP_SQL);
  bool ok = pv_pg_result_ok(r);
  if (!ok)
    pv_cli_err("dlq replay: %s", pv_pg_result_error(r));
  pv_pg_result_free(r);
  if (!ok)
    return -1;
  x->t0 = pv_clock_mono_ms();
  if (x->from_topic)
    return scan_topic(x, x->from_topic, topic_record);
  if (skip_named_rows(x) < 0)
    return -1;
  return rows_pass(x);
}

static bool confirm(int n)
{
  if (!isatty(STDIN_FILENO)) {
    pv_cli_err("dlq replay: %d job(s) selected; add --yes to replay them "
               "without a terminal (or --dry-run to see them)", n);
    return false;
  }
  fprintf(stderr, "replay %d job(s)? [y/N] ", n);
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

static int dlq_replay(const pv_config_t *conf, const filters_t *f,
                      char **ids, int nids, bool all, const char *from_topic,
                      bool dry_run, double rate, const char *by, bool yes,
                      bool keep_deadline, bool as_json)
{
  int rc = PV_EXIT_UNREACHABLE, missing = 0;
  replay_ctx_t x = {.conf = conf, .f = f, .by = by, .json = as_json,
                    .rate = rate, .ids = ids, .nids = nids,
                    .from_topic = from_topic, .keep_deadline = keep_deadline};
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
  x.found = pv_calloc((size_t)nids + 1, sizeof(int));
  x.ids_array = nids ? text_array(ids, nids) : NULL;
  x.db = pv_cli_db_connect(conf);
  if (!x.db)
    goto out;
  if (pv_cli_kafka_check(conf) < 0)
    goto out;
  pv_pg_result_t *r = pv_pg_sync_exec(x.db, "SELECT now()::text");
  if (!pv_pg_result_ok(r) || pv_pg_result_ntuples(r) != 1) {
    pv_cli_err("dlq replay: %s", pv_pg_result_error(r));
    pv_pg_result_free(r);
    goto out;
  }
  snprintf(x.start, sizeof(x.start), "%s", pv_pg_result_get(r, 0, 0));
  pv_pg_result_free(r);
  if (!from_topic) {
    int e = check_named_rows(&x, &missing);
    if (e) {
      rc = e;
      goto out;
    }
  }

  /* Without --yes, a quiet dry pass counts what the run would replay, for
   * the question; so does one for ids named without --tenant on a topic,
   * where an id two tenants used stops the run before it replays any. */
  if (!dry_run && (!yes || (from_topic && nids && !f->tenant))) {
    x.dry = x.quiet = true;
    if (run_pass(&x) < 0)
      goto out;
    if (x.ambiguous) {
      pv_cli_err("nothing was replayed");
      rc = PV_EXIT_USAGE;
      goto out;
    }
    if (x.would && !yes && !confirm(x.would)) {
      rc = PV_EXIT_USAGE;
      goto out;
    }
    x.would = x.skipped = x.no_source = x.no_value = 0;
    for (int i = 0; i < nids; i++)
      if (x.found[i] == ID_SEEN)
        x.found[i] = ID_UNSEEN;
  }
  x.dry = dry_run;
  x.quiet = false;
  if (!dry_run) {
    x.prod = pv_ksync_producer_new(conf->kafka_brokers);
    if (!x.prod) {
      pv_cli_err("cannot create a Kafka producer; nothing was replayed");
      goto out;
    }
  }
  if (run_pass(&x) < 0) {
    fprintf(stderr, "replayed %d, skipped %d, failed %d (stopped)\n",
            x.replayed, x.skipped, x.failed);
    goto out;
  }
  if (x.no_source)
    pv_cli_err("%s: %d record(s) without x-dlq-source-* headers ignored",
               from_topic, x.no_source);
  if (x.no_value)
    pv_cli_err("%s: %d dead letter(s) sent without their value "
               "(x-dlq-value-omitted) ignored: replay those jobs by id, "
               "from their rows", from_topic, x.no_value);
  for (int i = 0; i < nids; i++)
    if (x.found[i] == ID_UNSEEN) {
      if (from_topic)
        pv_cli_err("no dead letter for \"%s\" on %s", ids[i], from_topic);
      else
        pv_cli_err("\"%s\": no longer replayable (replayed or finished "
                   "meanwhile)", ids[i]);
      missing++;
    }
  if (dry_run) {
    if (!as_json)
      printf("dry run: %d to replay, %d skipped; nothing changed\n", x.would,
             x.skipped);
    rc = missing ? PV_EXIT_JOB : PV_EXIT_OK;
    goto out;
  }
  fprintf(stderr, "replayed %d, skipped %d, failed %d, not attempted %d%s\n",
          x.replayed, x.skipped, x.failed, x.not_tried,
          missing ? " (some jobs not found)" : "");
  if (x.failed) {
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
  free(x.found);
  free(x.ids_array);
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
    {"keep-deadline", no_argument, NULL, 'K'},
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
  bool keep_deadline = false;
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
    case 'K': keep_deadline = true; break;
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
  if (is_list && (nids || all || from_topic || dry || rate > 0 || by || yes ||
                  keep_deadline)) {
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
                                keep_deadline, as_json);
  pv_config_destroy(conf);
  return rc;
}
