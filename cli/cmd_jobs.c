/* provctl status JOB_ID and provctl jobs [filters]. */
#include "cli/cli.h"

#include "common/alloc.h"
#include "common/bytes.h"
#include "jobs/job.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static const char STATUS_USAGE[] =
  "usage: provctl status JOB_ID [--tenant T]\n"
  "\n"
  "The job's row: state, attempts and every failed run's error, the\n"
  "breaker state seen, its replays, and the reply it was given.\n"
  "Job ids are unique per tenant: an id that several tenants use needs\n"
  "--tenant. Exit 1 if there is no such job.\n";

static const char STATUS_SQL[] =
  "SELECT jsonb_build_object('job_id', job_id, 'tenant', tenant, 'service',"
  " service, 'op', op, 'state', state, 'attempts', attempts, 'runs', runs,"
  " 'error_class', error_class, 'error_message', error_message,"
  " 'http_status', http_status, 'errors', errors, 'retry_reason',"
  " retry_reason, 'breaker_state', breaker_state, 'ordering_key',"
  " provisiond_bytes_text(ordering_key), 'source', source_topic || '/' ||"
  " source_partition || '@' || source_offset, 'reply_topic', reply_topic,"
  " 'dlq_topic', dlq_topic, 'correlation_id',"
  " provisiond_bytes_text(correlation_id), 'received_at', received_at,"
  " 'started_at', started_at, 'finished_at', finished_at,"
  " 'next_attempt_at', next_attempt_at, 'deadline', deadline, 'worker_id',"
  " worker_id, 'result', result, 'replay_count', replay_count,"
  " 'replays', (SELECT coalesce(jsonb_agg(jsonb_build_object('at',"
  "  r.replayed_at, 'by', r.replayed_by, 'from', r.dlq_topic || '/' ||"
  "  r.dlq_partition || '@' || r.dlq_offset, 'to', r.target_topic,"
  "  'status', r.status, 'error', r.error) ORDER BY r.id), '[]'::jsonb)"
  "  FROM job_replays r WHERE r.job_id = j.job_id"
  "   AND r.tenant = j.tenant))::text,"
  " reply, content_type, tenant"
  " FROM job_status j WHERE job_id = $1 AND ($2::text IS NULL OR tenant = $2)"
  " ORDER BY tenant";

int pv_cmd_status(int argc, char **argv)
{
  static const struct option opts[] = {
    {"tenant", required_argument, NULL, 't'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
  };
  const char *tenant = NULL;
  int opt;
  optind = 1;
  /* permute: the job id and options in any order */
  while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (opt) {
    case 't': tenant = optarg; break;
    case 'h':
      fputs(STATUS_USAGE, stdout);
      return PV_EXIT_OK;
    default:
      fputs(STATUS_USAGE, stderr);
      return PV_EXIT_USAGE;
    }
  }
  if (optind != argc - 1) {
    fputs(STATUS_USAGE, stderr);
    return PV_EXIT_USAGE;
  }
  const char *id = argv[optind];
  pv_config_t *conf = pv_cli_load_config();
  if (!conf)
    return PV_EXIT_USAGE;
  int rc = PV_EXIT_UNREACHABLE;
  pv_pg_result_t *r = NULL;
  json_t *doc = NULL;
  pv_pg_sync_t *db = pv_cli_db_connect(conf);
  if (!db)
    goto out;
  const char *params[] = {id, tenant};
  r = pv_pg_sync_query(db, STATUS_SQL, 2, params);
  if (!pv_pg_result_ok(r)) {
    pv_cli_err("status: %s", pv_pg_result_error(r));
    goto out;
  }
  if (pv_pg_result_ntuples(r) == 0) {
    pv_cli_err("no job \"%s\"%s%s", id, tenant ? " of tenant " : "",
               tenant ? tenant : "");
    rc = PV_EXIT_JOB;
    goto out;
  }
  if (pv_pg_result_ntuples(r) > 1) {
    pv_cli_err_ambiguous_id(id, r, 3);
    rc = PV_EXIT_USAGE;
    goto out;
  }
  doc = json_loads(pv_pg_result_get(r, 0, 0), 0, NULL);
  if (!doc) {
    pv_cli_err("status: the row could not be read back as JSON");
    goto out;
  }
  /* the reply as the BSS got it, decoded */
  size_t len = 0;
  char *reply = pv_bytea_decode(pv_pg_result_get(r, 0, 1), &len);
  if (reply) {
    const char *ct = pv_pg_result_get(r, 0, 2);
    int fmt = pv_format_from_content_type(ct);
    json_t *rd = NULL;
    char derr[128];
    if (pv_doc_decode(reply, len, fmt < 0 ? PV_FMT_MSGPACK : (pv_format_t)fmt,
                      &rd, derr, sizeof(derr)) == 0)
      json_object_set_new(doc, "reply", rd);
    else
      json_object_set_new(doc, "reply", json_sprintf("(undecodable: %s)",
                                                     derr));
    free(reply);
  }
  char *s = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
  printf("%s\n", s ? s : "{}");
  free(s);
  rc = PV_EXIT_OK;
out:
  json_decref(doc);
  pv_pg_result_free(r);
  pv_pg_sync_close(db);
  pv_config_destroy(conf);
  return rc;
}

/* ---- jobs ---------------------------------------------------------------- */

static const char JOBS_USAGE[] =
  "usage: provctl jobs [--state S] [--tenant T] [--service S] [--op OP]\n"
  "                    [--since DURATION] [--limit N] [--json]\n"
  "\n"
  "Jobs from job_status, newest first (default --limit 50).\n"
  "  --state S       received, running, retry_wait, succeeded, failed, dead\n"
  "  --since D       received within D (90s, 15m, 1h, 2d)\n"
  "  --json          one JSON object per line instead of a table\n";

/* Every filter is a parameter that may be NULL: one static statement. */
static const char JOBS_SQL[] =
  "SELECT job_id, state, tenant, service, op, attempts::text,"
  " to_char(received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'),"
  " error_class, error_message,"
  " jsonb_build_object('job_id', job_id, 'state', state, 'tenant', tenant,"
  "  'service', service, 'op', op, 'attempts', attempts, 'runs', runs,"
  "  'error_class', error_class, 'error_message', error_message,"
  "  'http_status', http_status, 'received_at', received_at,"
  "  'finished_at', finished_at, 'replay_count', replay_count)::text"
  " FROM job_status"
  " WHERE ($1::text IS NULL OR state = $1) AND ($2::text IS NULL OR tenant = $2)"
  "  AND ($3::text IS NULL OR service = $3) AND ($4::text IS NULL OR op = $4)"
  "  AND ($5::bigint IS NULL OR received_at >= now() - $5::bigint *"
  "       interval '1 second')"
  " ORDER BY received_at DESC, job_id LIMIT $6::int";

static bool valid_state(const char *s)
{
  static const char *const states[] = {"received", "running", "retry_wait",
                                       "succeeded", "failed", "dead", NULL};
  for (int i = 0; states[i]; i++)
    if (!strcmp(s, states[i]))
      return true;
  return false;
}

int pv_cmd_jobs(int argc, char **argv)
{
  static const struct option opts[] = {
    {"state", required_argument, NULL, 'S'},
    {"tenant", required_argument, NULL, 't'},
    {"service", required_argument, NULL, 's'},
    {"op", required_argument, NULL, 'o'},
    {"since", required_argument, NULL, 'n'},
    {"limit", required_argument, NULL, 'l'},
    {"json", no_argument, NULL, 'j'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
  };
  const char *state = NULL, *tenant = NULL, *service = NULL, *op = NULL;
  long long since = 0, limit = 50;
  bool as_json = false;
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
    switch (c) {
    case 'S': state = optarg; break;
    case 't': tenant = optarg; break;
    case 's': service = optarg; break;
    case 'o': op = optarg; break;
    case 'j': as_json = true; break;
    case 'n':
      if (pv_cli_parse_duration("--since", optarg, &since) < 0)
        return PV_EXIT_USAGE;
      break;
    case 'l':
      if (pv_cli_parse_ll("--limit", optarg, 1, PV_CLI_MAX_ROWS, &limit) < 0)
        return PV_EXIT_USAGE;
      break;
    case 'h':
      fputs(JOBS_USAGE, stdout);
      return PV_EXIT_OK;
    default:
      fputs(JOBS_USAGE, stderr);
      return PV_EXIT_USAGE;
    }
  }
  if (optind < argc) {
    pv_cli_err("jobs: unexpected argument \"%s\"", argv[optind]);
    return PV_EXIT_USAGE;
  }
  if (state && !valid_state(state)) {
    pv_cli_err("--state \"%s\": expected received, running, retry_wait, "
               "succeeded, failed or dead", state);
    return PV_EXIT_USAGE;
  }
  pv_config_t *conf = pv_cli_load_config();
  if (!conf)
    return PV_EXIT_USAGE;
  int rc = PV_EXIT_UNREACHABLE;
  pv_pg_result_t *r = NULL;
  pv_pg_sync_t *db = pv_cli_db_connect(conf);
  if (!db)
    goto out;
  char since_s[32], limit_s[32];
  snprintf(since_s, sizeof(since_s), "%lld", since);
  snprintf(limit_s, sizeof(limit_s), "%lld", limit);
  const char *params[] = {state, tenant, service, op, since ? since_s : NULL,
                          limit_s};
  r = pv_pg_sync_query(db, JOBS_SQL, 6, params);
  if (!pv_pg_result_ok(r)) {
    pv_cli_err("jobs: %s", pv_pg_result_error(r));
    goto out;
  }
  int n = pv_pg_result_ntuples(r);
  if (as_json) {
    for (int i = 0; i < n; i++)
      printf("%s\n", pv_pg_result_get(r, i, 9));
  } else {
    static const char *const hdr[] = {"JOB_ID", "STATE", "TENANT", "SERVICE",
                                      "OP", "ATT", "RECEIVED (UTC)",
                                      "ERROR"};
    const char **cells = pv_calloc((size_t)n * 8 + 1, sizeof(char *));
    char **errs = pv_calloc((size_t)n + 1, sizeof(char *));
    for (int i = 0; i < n; i++) {
      for (int col = 0; col < 7; col++)
        cells[i * 8 + col] = pv_pg_result_get(r, i, col);
      const char *cls = pv_pg_result_get(r, i, 7);
      const char *msg = pv_pg_result_get(r, i, 8);
      if (cls)
        errs[i] = pv_asprintf("%s: %s", cls, msg ? msg : "");
      cells[i * 8 + 7] = errs[i];
    }
    pv_cli_table(stdout, hdr, 8, cells, (size_t)n, 48);
    for (int i = 0; i < n; i++)
      free(errs[i]);
    free(errs);
    free(cells);
  }
  rc = PV_EXIT_OK;
out:
  pv_pg_result_free(r);
  pv_pg_sync_close(db);
  pv_config_destroy(conf);
  return rc;
}
