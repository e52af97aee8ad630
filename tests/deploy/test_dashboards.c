/*
 * The Grafana dashboards and the retention function against the real
 * schema: every rawSql of the PostgreSQL dashboard (and its variable
 * query) runs on the migrated database, every panel's SQL is documented
 * verbatim in docs/dashboards.md, every metric the Prometheus dashboard
 * queries is one provisiond exports, and provisiond_prune() deletes only
 * finished rows past the cutoff, one bounded batch per call.
 */
#include "tests/support/testenv.h"
#include "db/migrate.h"
#include "db/pg.h"

#include <criterion/criterion.h>
#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *slurp(const char *rel)
{
  char path[1024];
  snprintf(path, sizeof(path), "%s/%s", pv_test_source_dir(), rel);
  FILE *f = fopen(path, "rb");
  cr_assert_not_null(f, "cannot open %s", path);
  char *buf = NULL;
  size_t len = 0, cap = 0;
  for (;;) {
    if (len + 4096 + 1 > cap) {
      cap = cap ? cap * 2 : 65536;
      cr_assert_lt(cap, (size_t)16 << 20, "%s is too big", path);
      buf = realloc(buf, cap);
      cr_assert_not_null(buf);
    }
    size_t n = fread(buf + len, 1, 4096, f);
    len += n;
    if (n < 4096)
      break;
  }
  fclose(f);
  buf[len] = '\0';
  return buf;
}

static json_t *load_json(const char *rel)
{
  char *text = slurp(rel);
  json_error_t e;
  json_t *doc = json_loads(text, 0, &e);
  cr_assert_not_null(doc, "%s:%d: %s", rel, e.line, e.text);
  free(text);
  return doc;
}

/* Collects every string value under a key named key. */
static void collect(json_t *node, const char *key, json_t *out)
{
  if (json_is_object(node)) {
    const char *k;
    json_t *v;
    json_object_foreach(node, k, v) {
      if (!strcmp(k, key) && json_is_string(v))
        json_array_append(out, v);
      else
        collect(v, key, out);
    }
  } else if (json_is_array(node)) {
    size_t i;
    json_t *v;
    json_array_foreach(node, i, v) collect(v, key, out);
  }
}

/* Grafana's macros, expanded the way its PostgreSQL plugin does for a
 * 6-hour range, and the $tenant variable with two values. */
static char *expand(const char *sql)
{
  size_t cap = strlen(sql) * 4 + 256;
  char *out = malloc(cap);
  cr_assert_not_null(out);
  size_t o = 0;
  const char *p = sql;
  static const char tf[] = "$__timeFilter(";
  static const char tv[] = "$tenant";
  while (*p) {
    cr_assert_lt(o + 128, cap);
    if (!strncmp(p, tf, sizeof(tf) - 1)) {
      const char *col = p + sizeof(tf) - 1;
      const char *close = strchr(col, ')');
      cr_assert_not_null(close, "unclosed $__timeFilter in %s", sql);
      int n = snprintf(out + o, cap - o,
                       "%.*s BETWEEN now() - interval '6 hours' AND now()",
                       (int)(close - col), col);
      o += (size_t)n;
      p = close + 1;
    } else if (!strncmp(p, tv, sizeof(tv) - 1)) {
      int n = snprintf(out + o, cap - o, "'isp-east','isp-west'");
      o += (size_t)n;
      p += sizeof(tv) - 1;
    } else {
      cr_assert_neq(*p == '$', 1, "unexpected macro or variable in: %s", p);
      out[o++] = *p++;
    }
  }
  out[o] = '\0';
  return out;
}

static pv_pg_sync_t *connect_db(void)
{
  char err[512];
  const char *conninfo = pv_test_require_env("PROVISIOND_PG");
  /* The test stack has every migration applied; apply ours if a newer
   * file was added since (idempotent, takes the advisory lock). */
  cr_assert_geq(pv_migrate_run(conninfo, false, NULL, err, sizeof(err)), 0,
                "migrate: %s", err);
  pv_pg_sync_t *db = pv_pg_sync_connect(conninfo, err, sizeof(err));
  cr_assert_not_null(db, "connect: %s", err);
  return db;
}

static pv_pg_result_t *must(pv_pg_sync_t *db, const char *sql, int n,
                            const char *const *params)
{
  pv_pg_result_t *r = pv_pg_sync_query(db, sql, n, params);
  cr_assert(pv_pg_result_ok(r), "%s\n-> %s", sql, pv_pg_result_error(r));
  return r;
}

TestSuite(deploy_dashboards, .timeout = 120);

Test(deploy_dashboards, postgres_panels_run_on_the_real_schema)
{
  json_t *dash = load_json("deploy/grafana/provisiond-jobs-postgres.json");
  json_t *sqls = json_array();
  collect(json_object_get(dash, "panels"), "rawSql", sqls);
  size_t npanels = json_array_size(json_object_get(dash, "panels"));
  cr_assert_geq(npanels, 6, "the dashboard has its panels");
  cr_assert_eq(json_array_size(sqls), npanels, "one query per panel");
  /* the tenant variable's query, too */
  collect(json_object_get(dash, "templating"), "query", sqls);
  cr_assert_eq(json_array_size(sqls), npanels + 1);

  pv_pg_sync_t *db = connect_db();
  /* A finished job of a test tenant, so the panels have a row to show. */
  char id[96];
  snprintf(id, sizeof(id), "dash-%d", (int)getpid());
  const char *ins[] = {id};
  pv_pg_result_free(must(
      db,
      "INSERT INTO job_status (job_id, tenant, service, op, state, "
      "source_topic, source_partition, source_offset, payload, received_at, "
      "finished_at, error_class) VALUES ($1::text, 'isp-east', 'voltha', "
      "'health_check', 'dead', 't', 0, 0, '\\x00', now() - interval '2 "
      "minutes', now() - interval '1 minute', 'http_5xx') "
      "ON CONFLICT (job_id, tenant) DO NOTHING",
      1, ins));

  char *docs = slurp("docs/dashboards.md");
  size_t i;
  json_t *v;
  json_array_foreach(sqls, i, v) {
    const char *raw = json_string_value(v);
    if (i < npanels)
      cr_assert_not_null(strstr(docs, raw),
                         "docs/dashboards.md lacks the SQL of panel %zu:\n%s",
                         i + 1, raw);
    char *sql = expand(raw);
    pv_pg_result_t *r = must(db, sql, 0, NULL);
    if (strstr(raw, "FROM job_counts") || strstr(raw, "state = 'dead'"))
      cr_assert_gt(pv_pg_result_ntuples(r), 0, "no row from: %s", sql);
    pv_pg_result_free(r);
    free(sql);
  }
  pv_pg_result_free(must(db, "DELETE FROM job_status WHERE job_id = $1", 1,
                         ins));
  pv_pg_sync_close(db);
  free(docs);
  json_decref(sqls);
  json_decref(dash);
}

Test(deploy_dashboards, prometheus_panels_use_exported_metrics)
{
  json_t *dash = load_json("deploy/grafana/provisiond-workers-prometheus.json");
  json_t *exprs = json_array();
  collect(json_object_get(dash, "panels"), "expr", exprs);
  cr_assert_geq(json_array_size(exprs), 10);
  char *src = slurp("worker/metrics.c");
  char *docs = slurp("docs/dashboards.md");
  size_t i, checked = 0;
  json_t *v;
  json_array_foreach(exprs, i, v) {
    const char *e = json_string_value(v);
    for (const char *p = strstr(e, "provisiond_"); p;
         p = strstr(p + 1, "provisiond_")) {
      char name[128];
      size_t n = 0;
      while ((isalnum((unsigned char)p[n]) || p[n] == '_') &&
             n < sizeof(name) - 1) {
        name[n] = p[n];
        n++;
      }
      name[n] = '\0';
      static const char *const sfx[] = {"_bucket", "_sum", "_count"};
      for (size_t s = 0; s < 3; s++) {
        size_t sl = strlen(sfx[s]);
        if (n > sl && !strcmp(name + n - sl, sfx[s])) {
          name[n - sl] = '\0';
          break;
        }
      }
      char quoted[140];
      snprintf(quoted, sizeof(quoted), "\"%s", name);
      cr_assert_not_null(strstr(src, quoted),
                         "panel %zu queries %s, which provisiond does not "
                         "export", i + 1, name);
      checked++;
    }
    cr_assert_not_null(strstr(docs, e), "docs/dashboards.md lacks: %s", e);
  }
  cr_assert_gt(checked, 0);
  free(src);
  free(docs);
  json_decref(exprs);
  json_decref(dash);
}

static int remaining(pv_pg_sync_t *db, const char *prefix)
{
  const char *p[] = {prefix};
  pv_pg_result_t *r = must(db, "SELECT count(*) FROM job_status WHERE "
                               "job_id LIKE $1 || '%'", 1, p);
  int n = (int)strtol(pv_pg_result_get(r, 0, 0), NULL, 10);
  pv_pg_result_free(r);
  return n;
}

static bool exists(pv_pg_sync_t *db, const char *prefix, const char *suffix)
{
  char id[128];
  snprintf(id, sizeof(id), "%s%s", prefix, suffix);
  const char *p[] = {id};
  pv_pg_result_t *r = must(db, "SELECT 1 FROM job_status WHERE job_id = $1",
                           1, p);
  bool yes = pv_pg_result_ntuples(r) == 1;
  pv_pg_result_free(r);
  return yes;
}

Test(deploy_dashboards, prune_deletes_finished_rows_in_batches)
{
  pv_pg_sync_t *db = connect_db();
  char prefix[64];
  snprintf(prefix, sizeof(prefix), "prune-%d-", (int)getpid());
  const char *p[] = {prefix};
  /* old: 3 succeeded, 1 failed, 1 dead, 1 still running; recent: 1 */
  pv_pg_result_free(must(
      db,
      "INSERT INTO job_status (job_id, tenant, service, op, state, "
      "source_topic, source_partition, source_offset, payload, received_at, "
      "finished_at) SELECT $1::text || s.n, 'isp-east', 'voltha', "
      "'health_check', s.state, 't', 0, 0, '\\x00', "
      "now() - interval '10 days', s.fin FROM (VALUES "
      "('s1', 'succeeded', now() - interval '9 days'), "
      "('s2', 'succeeded', now() - interval '9 days'), "
      "('s3', 'succeeded', now() - interval '8 days'), "
      "('f1', 'failed', now() - interval '8 days'), "
      "('d1', 'dead', now() - interval '8 days'), "
      "('r1', 'running', NULL), "
      "('new', 'succeeded', now() - interval '1 hour')) AS s(n, state, fin)",
      1, p));
  cr_assert_eq(remaining(db, prefix), 7);

  /* Refusals name the argument. */
  pv_pg_result_t *r = pv_pg_sync_query(
      db, "SELECT provisiond_prune(interval '5 minutes', 10)", 0, NULL);
  cr_assert_not(pv_pg_result_ok(r));
  cr_assert_not_null(strstr(pv_pg_result_error(r), "older_than"));
  pv_pg_result_free(r);
  r = pv_pg_sync_query(db, "SELECT provisiond_prune(interval '2 days', 0)", 0,
                       NULL);
  cr_assert_not(pv_pg_result_ok(r));
  cr_assert_not_null(strstr(pv_pg_result_error(r), "batch"));
  pv_pg_result_free(r);

  /* Batches of 2 until nothing is left: no call deletes more than 2. */
  int calls = 0;
  for (;;) {
    r = must(db, "SELECT provisiond_prune(interval '2 days', 2)", 0, NULL);
    long n = strtol(pv_pg_result_get(r, 0, 0), NULL, 10);
    pv_pg_result_free(r);
    cr_assert_leq(n, 2, "a batch deleted %ld rows", n);
    calls++;
    cr_assert_lt(calls, 10000, "prune never reached 0");
    if (n == 0)
      break;
  }
  cr_assert_geq(calls, 3, "4 rows in batches of 2 need at least 3 calls");
  cr_assert_not(exists(db, prefix, "s1"));
  cr_assert_not(exists(db, prefix, "s3"));
  cr_assert_not(exists(db, prefix, "f1"));
  cr_assert(exists(db, prefix, "d1"), "dead rows wait for an operator");
  cr_assert(exists(db, prefix, "r1"), "unfinished rows are never pruned");
  cr_assert(exists(db, prefix, "new"), "recent rows are kept");

  r = must(db, "SELECT provisiond_prune(interval '2 days', 100, true)", 0,
           NULL);
  cr_assert_geq(strtol(pv_pg_result_get(r, 0, 0), NULL, 10), 1);
  pv_pg_result_free(r);
  cr_assert_not(exists(db, prefix, "d1"), "include_dead prunes dead rows");
  cr_assert_eq(remaining(db, prefix), 2);

  pv_pg_result_free(must(db, "DELETE FROM job_status WHERE job_id LIKE $1 "
                             "|| '%'", 1, p));
  pv_pg_sync_close(db);
}
