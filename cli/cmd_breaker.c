/* provctl breakers / provctl breaker open|close|disable|auto: the
 * fleet-wide circuit-breaker table and operator overrides.
 *
 * Protocol with the workers (they LISTEN on provisiond_breaker): upsert
 * breaker_state, insert a breaker_events row, NOTIFY with
 * {"service","tenant","endpoint"|null}. All three in one statement, so the
 * notification is delivered only once the rows are committed. */
#include "cli/cli.h"

#include "common/alloc.h"
#include "jobs/catalog.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

/* Longest operator reason kept. */
#define REASON_MAX 500

static const char BREAKERS_USAGE[] =
  "usage: provctl breakers [--tenant T] [--json]\n"
  "\n"
  "Circuit breakers per service, tenant and endpoint (table breaker_state)\n"
  "with their last change, who made it and why.\n";

static const char BREAKER_USAGE[] =
  "usage: provctl breaker open|close|disable|auto SERVICE TENANT\n"
  "                       [--endpoint URL] --reason TEXT [--by USER]\n"
  "\n"
  "Operator override, applied by every worker through PostgreSQL:\n"
  "  open     forced_open: jobs fail fast with circuit_open, no request\n"
  "  close    closed (and kept closed by the operator's word)\n"
  "  disable  no breaker: requests always go out\n"
  "  auto     back to automatic (closed; the workers' own counting)\n"
  "Without --endpoint every known endpoint of SERVICE/TENANT changes (or\n"
  "'*', which the workers apply to all of them, when none is known yet).\n";

static const char BREAKERS_SQL[] =
  "SELECT service, tenant, endpoint, state,"
  " to_char(changed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'),"
  " changed_by, reason,"
  " to_char(open_until AT TIME ZONE 'UTC', 'HH24:MI:SS'),"
  " jsonb_build_object('service', service, 'tenant', tenant, 'endpoint',"
  "  endpoint, 'state', state, 'open_until', open_until, 'changed_at',"
  "  changed_at, 'changed_by', changed_by, 'reason', reason)::text"
  " FROM breaker_state WHERE ($1::text IS NULL OR tenant = $1)"
  " ORDER BY tenant, service, endpoint";

int pv_cmd_breakers(int argc, char **argv)
{
  static const struct option opts[] = {
    {"tenant", required_argument, NULL, 't'},
    {"json", no_argument, NULL, 'j'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
  };
  const char *tenant = NULL;
  bool as_json = false;
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
    switch (c) {
    case 't': tenant = optarg; break;
    case 'j': as_json = true; break;
    case 'h':
      fputs(BREAKERS_USAGE, stdout);
      return PV_EXIT_OK;
    default:
      fputs(BREAKERS_USAGE, stderr);
      return PV_EXIT_USAGE;
    }
  }
  if (optind < argc) {
    pv_cli_err("breakers: unexpected argument \"%s\"", argv[optind]);
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
  const char *params[] = {tenant};
  r = pv_pg_sync_query(db, BREAKERS_SQL, 1, params);
  if (!pv_pg_result_ok(r)) {
    pv_cli_err("breakers: %s", pv_pg_result_error(r));
    goto out;
  }
  int n = pv_pg_result_ntuples(r);
  if (as_json) {
    for (int i = 0; i < n; i++)
      printf("%s\n", pv_pg_result_get(r, i, 8));
  } else {
    static const char *const hdr[] = {"SERVICE", "TENANT", "ENDPOINT",
                                      "STATE", "CHANGED (UTC)", "BY",
                                      "REASON", "OPEN_UNTIL"};
    const char **cells = pv_calloc((size_t)n * 8 + 1, sizeof(char *));
    for (int i = 0; i < n; i++)
      for (int col = 0; col < 8; col++)
        cells[i * 8 + col] = pv_pg_result_get(r, i, col);
    pv_cli_table(stdout, hdr, 8, cells, (size_t)n, 40);
    free(cells);
  }
  rc = PV_EXIT_OK;
out:
  pv_pg_result_free(r);
  pv_pg_sync_close(db);
  pv_config_destroy(conf);
  return rc;
}

/* $1 service, $2 tenant, $3 endpoint or NULL (all known, else '*'),
 * $4 new state, $5 reason, $6 changed_by, $7 notification payload.
 * The FOR UPDATE keeps two operators' changes from interleaving. */
static const char BREAKER_SET_SQL[] =
  "WITH old AS (SELECT endpoint, state FROM breaker_state"
  "  WHERE service = $1::text AND tenant = $2::text"
  "   AND ($3::text IS NULL OR endpoint = $3::text) FOR UPDATE),"
  " targets AS (SELECT endpoint, state AS from_state FROM old"
  "  UNION ALL SELECT coalesce($3::text, '*'), 'closed'"
  "  WHERE NOT EXISTS (SELECT 1 FROM old)),"
  " up AS (INSERT INTO breaker_state (service, tenant, endpoint, state,"
  "   open_until, reason, changed_by, changed_at)"
  "  SELECT $1::text, $2::text, endpoint, $4::text, NULL, $5::text,"
  "   $6::text, now() FROM targets"
  "  ON CONFLICT (service, tenant, endpoint) DO UPDATE SET"
  "   state = EXCLUDED.state, open_until = NULL, reason = EXCLUDED.reason,"
  "   changed_by = EXCLUDED.changed_by, changed_at = now()"
  "  RETURNING endpoint),"
  " ev AS (INSERT INTO breaker_events (service, tenant, endpoint,"
  "   from_state, to_state, reason, changed_by)"
  "  SELECT $1::text, $2::text, endpoint, from_state, $4::text, $5::text,"
  "   $6::text FROM targets RETURNING endpoint, from_state)"
  " SELECT ev.endpoint, ev.from_state,"
  "  pg_notify('provisiond_breaker', $7::text)"
  " FROM ev JOIN up USING (endpoint) ORDER BY 1";

int pv_cmd_breaker(int argc, char **argv)
{
  static const struct option opts[] = {
    {"endpoint", required_argument, NULL, 'e'},
    {"reason", required_argument, NULL, 'r'},
    {"by", required_argument, NULL, 'b'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
  };
  const char *endpoint = NULL, *reason = NULL, *by = NULL;
  int c;
  optind = 1;
  /* options may follow the positional words: permute */
  while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (c) {
    case 'e': endpoint = optarg; break;
    case 'r': reason = optarg; break;
    case 'b': by = optarg; break;
    case 'h':
      fputs(BREAKER_USAGE, stdout);
      return PV_EXIT_OK;
    default:
      fputs(BREAKER_USAGE, stderr);
      return PV_EXIT_USAGE;
    }
  }
  if (argc - optind != 3) {
    fputs(BREAKER_USAGE, stderr);
    return PV_EXIT_USAGE;
  }
  const char *action = argv[optind], *service = argv[optind + 1];
  const char *tenant = argv[optind + 2];
  const char *state = !strcmp(action, "open")      ? "forced_open"
                      : !strcmp(action, "close")   ? "closed"
                      : !strcmp(action, "disable") ? "disabled"
                      : !strcmp(action, "auto")    ? "closed"
                                                   : NULL;
  if (!state) {
    pv_cli_err("breaker: unknown action \"%s\" (open, close, disable, auto)",
               action);
    return PV_EXIT_USAGE;
  }
  if (!pv_catalog_has_service(service)) {
    pv_cli_err("breaker: unknown service \"%s\" (voltha, genieacs, netbox)",
               service);
    return PV_EXIT_USAGE;
  }
  if (!reason || !*reason) {
    pv_cli_err("breaker: --reason TEXT is required (it is shown to the "
               "next operator)");
    return PV_EXIT_USAGE;
  }
  if (strlen(reason) > REASON_MAX) {
    pv_cli_err("breaker: --reason is %zu bytes, at most %d", strlen(reason),
               REASON_MAX);
    return PV_EXIT_USAGE;
  }
  if (endpoint && (strlen(endpoint) > 1024 || !*endpoint)) {
    pv_cli_err("breaker: --endpoint must be 1..1024 bytes");
    return PV_EXIT_USAGE;
  }
  pv_config_t *conf = pv_cli_load_config();
  if (!conf)
    return PV_EXIT_USAGE;
  int rc = PV_EXIT_USAGE;
  pv_pg_result_t *r = NULL;
  pv_pg_sync_t *db = NULL;
  char *changed_by = NULL, *full_reason = NULL, *payload = NULL;
  if (!pv_config_tenant(conf, tenant)) {
    pv_cli_err("breaker: unknown tenant \"%s\" (not in %s)", tenant,
               conf->path ? conf->path : "the configuration");
    goto out;
  }
  rc = PV_EXIT_UNREACHABLE;
  db = pv_cli_db_connect(conf);
  if (!db)
    goto out;
  changed_by = pv_asprintf("operator:%s", by ? by : pv_cli_os_user());
  /* auto and close both store 'closed': the reason tells them apart */
  full_reason = !strcmp(action, "auto") ? pv_asprintf("auto: %s", reason)
                                        : pv_strdup(reason);
  json_t *pj = json_pack("{s:s,s:s,s:o}", "service", service, "tenant",
                         tenant, "endpoint",
                         endpoint ? json_string(endpoint) : json_null());
  payload = pj ? json_dumps(pj, JSON_COMPACT) : NULL;
  json_decref(pj);
  if (!payload) {
    pv_cli_err("breaker: arguments are not valid UTF-8");
    rc = PV_EXIT_USAGE;
    goto out;
  }
  const char *params[] = {service, tenant, endpoint, state, full_reason,
                          changed_by, payload};
  r = pv_pg_sync_query(db, BREAKER_SET_SQL, 7, params);
  if (!pv_pg_result_ok(r)) {
    pv_cli_err("breaker: %s (nothing changed)", pv_pg_result_error(r));
    goto out;
  }
  for (int i = 0; i < pv_pg_result_ntuples(r); i++)
    printf("%s %s %s: %s -> %s (%s)\n", service, tenant,
           pv_pg_result_get(r, i, 0), pv_pg_result_get(r, i, 1), state,
           changed_by);
  rc = PV_EXIT_OK;
out:
  free(changed_by);
  free(full_reason);
  free(payload);
  pv_pg_result_free(r);
  pv_pg_sync_close(db);
  pv_config_destroy(conf);
  return rc;
}
