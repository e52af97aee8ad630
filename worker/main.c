/**
 * @file main.c
 * @brief provisiond: the worker daemon. Thin: reads the configuration,
 * builds the modules, runs the loop, and shuts down in the right order.
 */
#include "common/log.h"
#include "transports/clients.h"
#include "transports/http.h"
#include "config/config.h"
#include "jobs/order_def.h"
#include "worker/engine.h"
#include "worker/fleet.h"
#include "worker/metrics.h"
#include "db/migrate.h"
#include "db/pg.h"
#include "db/store.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

typedef struct daemon {
  uv_loop_t *loop;
  pv_config_t *conf;
  pv_order_types_t *orders; /* the order types, loaded before start-up */
  pv_pg_t *pg;
  pv_store_t *store;
  pv_http_t *http;
  pv_clients_t *clients;
  pv_engine_t *engine;
  pv_fleet_t *fleet;
  pv_metrics_t *metrics;
  uv_signal_t sigterm, sigint;
  uv_timer_t watch;
  uv_timer_t finisher; /* runs finish() with nothing else on the stack */
  bool stopping;
  bool finished;
  int exit_code;
} daemon_t;

static void usage(FILE *out)
{
  fprintf(out,
          "usage: provisiond -c FILE [--migrate] [--check-config]\n"
          "       provisiond --config-docs | --config-example | --version | "
          "--help\n"
          "\n"
          "  -c, --config FILE   configuration file (INI; see "
          "docs/configuration.md)\n"
          "      --migrate       apply pending schema migrations and exit\n"
          "      --check-config  load and check the configuration and the order\n"
          "                      types ([worker] orders_dir), then exit\n"
          "      --config-docs   print the configuration keys as Markdown\n"
          "      --config-example\n"
          "                      print a commented example configuration\n"
          "\n"
          "Environment: PROVISIOND_<SECTION>_<KEY> overrides a key, e.g.\n"
          "PROVISIOND_KAFKA_BROKERS; PROVISIOND_PG is postgres.conninfo.\n");
}

/* The transport's and clients' settings from the configuration. tenants
 * has room for c->n_tenants; the result borrows strings from c. */
static void http_conf_of(const pv_config_t *c, pv_http_conf_t *hconf,
                         pv_tenant_conf_t *tenants)
{
  pv_http_conf_defaults(hconf);
  hconf->connect_timeout_ms = c->http_connect_timeout_ms;
  hconf->tls_verify = c->http_tls_verify;
  hconf->ca_path = c->http_ca_path;
  for (size_t i = 0; i < c->n_tenants; i++) {
    const pv_tenant_entry_t *t = &c->tenants[i];
    pv_tenant_conf_t *tc = &tenants[i];
    memset(tc, 0, sizeof(*tc));
    tc->name = t->name;
    tc->voltha_url = t->voltha_url;
    tc->genieacs_url = t->genieacs_url;
    tc->netbox_url = t->netbox_url;
    tc->netbox_token = t->netbox_token;
    pv_endpoint_conf_defaults(&tc->endpoint);
    tc->endpoint.max_connections = c->http_max_connections;
    tc->endpoint.max_idle = c->http_max_idle;
    tc->endpoint.retry.max_attempts = c->retry_max_attempts;
    tc->endpoint.retry.backoff_base_ms = c->retry_backoff_base_ms;
    tc->endpoint.retry.backoff_cap_ms = c->retry_backoff_cap_ms;
    tc->endpoint.retry.retry_after_max_ms = c->retry_after_max_ms;
    tc->endpoint.budget.ratio = c->budget_ratio;
    tc->endpoint.budget.min_per_sec = c->budget_min_per_sec;
    tc->endpoint.breaker.fail_max = c->breaker_fail_max;
    tc->endpoint.breaker.reset_timeout_ms = c->breaker_reset_timeout_ms;
    tc->endpoint.breaker.half_open_max = c->breaker_half_open_max;
  }
}

static void on_breaker_change(const pv_breaker_change_t *chg, void *arg)
{
  daemon_t *d = arg;
  pv_metrics_on_breaker(d->metrics, chg);
  /* Changes applied from outside are already in PostgreSQL. */
  if (!chg->local || !d->store)
    return;
  pv_store_breaker_change(d->store, chg->service, chg->tenant, chg->base_url,
                          pv_breaker_state_name(chg->from),
                          pv_breaker_state_name(chg->to), chg->reason,
                          chg->open_until_ms);
}

static void on_pg_state(bool connected, const char *why, void *arg)
{
  daemon_t *d = arg;
  pv_log(connected ? PV_LOG_INFO : PV_LOG_WARN,
         connected ? "worker.postgres_up" : "worker.postgres_down",
         PV_S("reason", why));
  /* Breaker changes announced while we were away are in the table only. */
  if (connected)
    pv_fleet_resync(d->fleet);
}

static void on_handle_closed(uv_handle_t *h)
{
  (void)h;
}

static void finish(daemon_t *d)
{
  /* A second signal may arrive while the loop winds down. */
  if (d->finished)
    return;
  d->finished = true;
  /* Order: metrics stop first (a scrape must not read modules being
   * freed). The engine stops starting work; from now on late callbacks
   * only release their jobs (their offsets stay uncommitted). The fleet
   * stops listening. The transport cancels what it still has: its
   * callbacks reach the engine, alive. The store fails the writes waiting
   * for a retry. PostgreSQL goes next: destroying it runs the callback of
   * every query it still holds, and those reach the store and the engine,
   * both still alive (the store frees itself with the last one). Only then
   * is the engine destroyed: Kafka commits what is stored and leaves the
   * group. */
  pv_metrics_stop(d->metrics);
  pv_metrics_set_sources(d->metrics, NULL, NULL, NULL);
  pv_engine_shutdown(d->engine);
  pv_fleet_destroy(d->fleet);
  d->fleet = NULL;
  pv_http_destroy(d->http);
  d->http = NULL;
  pv_clients_destroy(d->clients);
  d->clients = NULL;
  pv_store_close(d->store);
  d->store = NULL;
  pv_pg_destroy(d->pg);
  d->pg = NULL;
  pv_engine_destroy(d->engine);
  d->engine = NULL;
  uv_close((uv_handle_t *)&d->sigterm, on_handle_closed);
  uv_close((uv_handle_t *)&d->sigint, on_handle_closed);
  uv_close((uv_handle_t *)&d->watch, on_handle_closed);
  uv_close((uv_handle_t *)&d->finisher, on_handle_closed);
}

static void on_finisher(uv_timer_t *t)
{
  finish(t->data);
}

static void on_drained(bool complete, void *arg)
{
  daemon_t *d = arg;
  pv_log(PV_LOG_INFO, "worker.drained", PV_B("complete", complete));
  /* The drain may end inside a callback of the store (a pg callback) or
   * of Kafka; finishing there would destroy the pg layer and the engine
   * under their own feet, and the callbacks still queued behind this one
   * would reach a destroyed engine. Finish on the next turn of the loop. */
  uv_timer_start(&d->finisher, on_finisher, 0, 0);
}

static void stop(daemon_t *d, const char *why)
{
  if (d->stopping)
    return;
  d->stopping = true;
  pv_log(PV_LOG_INFO, "worker.stopping", PV_S("reason", why));
  pv_engine_drain(d->engine, on_drained, d);
}

static void on_signal(uv_signal_t *s, int signum)
{
  daemon_t *d = s->data;
  if (d->stopping) {
    pv_log(PV_LOG_WARN, "worker.second_signal",
           PV_S("msg", "stopping now without waiting for running jobs"));
    uv_timer_stop(&d->watch);
    finish(d);
    return;
  }
  stop(d, signum == SIGTERM ? "SIGTERM" : "SIGINT");
}

static void on_watch(uv_timer_t *t)
{
  daemon_t *d = t->data;
  pv_engine_stats_t st;
  pv_engine_stats(d->engine, &st);
  if (st.fatal && !d->stopping) {
    d->exit_code = 1;
    stop(d, "fatal Kafka error");
  }
}

static int run(daemon_t *d)
{
  char err[1024];
  const pv_config_t *conf = d->conf;
  size_t nt = conf->n_tenants;
  pv_tenant_conf_t *tenants = calloc(nt ? nt : 1, sizeof(*tenants));
  pv_http_conf_t hconf;
  if (!tenants)
    return 1;
  http_conf_of(conf, &hconf, tenants);

  d->loop = uv_default_loop();
  const char **tnames = calloc(nt ? nt : 1, sizeof(*tnames));
  if (!tnames) {
    free(tenants);
    return 1;
  }
  for (size_t i = 0; i < nt; i++)
    tnames[i] = conf->tenants[i].name;
  d->metrics = pv_metrics_new(tnames, nt);
  free(tnames);
  d->pg = pv_pg_new(d->loop, conf->pg_conninfo, err, sizeof(err));
  if (!d->pg) {
    pv_log(PV_LOG_ERROR, "worker.start_failed", PV_S("error", err));
    free(tenants);
    pv_metrics_destroy(d->metrics);
    return 1;
  }
  pv_pg_set_state_cb(d->pg, on_pg_state, d);
  d->store = pv_store_new(d->loop, d->pg, conf->worker_id);
  d->http = pv_http_new(d->loop, &hconf, err, sizeof(err));
  if (d->http) {
    pv_http_set_breaker_cb(d->http, on_breaker_change, d);
    pv_http_set_attempt_cb(d->http, pv_metrics_on_attempt, d->metrics);
    d->clients = pv_clients_new(d->http, tenants, nt, err, sizeof(err));
  }
  free(tenants);
  if (d->clients)
    d->engine = pv_engine_new(d->loop, conf, d->store, d->clients, err,
                              sizeof(err));
  if (!d->engine) {
    pv_log(PV_LOG_ERROR, "worker.start_failed", PV_S("error", err));
    pv_http_destroy(d->http);
    pv_clients_destroy(d->clients);
    pv_store_close(d->store);
    pv_pg_destroy(d->pg);
    uv_run(d->loop, UV_RUN_NOWAIT);
    pv_metrics_destroy(d->metrics);
    return 1;
  }
  pv_engine_set_observer(d->engine, pv_metrics_on_job, d->metrics);
  pv_metrics_set_sources(d->metrics, d->engine, d->http, d->pg);
  if (conf->metrics_listen && conf->metrics_listen[0] &&
      pv_metrics_listen(d->metrics, d->loop, conf->metrics_listen, err,
                        sizeof(err)) != 0) {
    /* Not fatal: the worker still does its job; the orchestrator sees no
     * health endpoint and says so. */
    pv_log(PV_LOG_ERROR, "worker.metrics_failed", PV_S("error", err));
  }
  d->fleet = pv_fleet_new(d->pg, d->clients, conf->worker_id,
                          conf->breaker_reset_timeout_ms);
  uv_signal_init(d->loop, &d->sigterm);
  uv_signal_init(d->loop, &d->sigint);
  d->sigterm.data = d->sigint.data = d;
  uv_signal_start(&d->sigterm, on_signal, SIGTERM);
  uv_signal_start(&d->sigint, on_signal, SIGINT);
  uv_timer_init(d->loop, &d->watch);
  d->watch.data = d;
  uv_timer_init(d->loop, &d->finisher);
  d->finisher.data = d;
  uv_timer_start(&d->watch, on_watch, 1000, 1000);
  pv_log(PV_LOG_INFO, "worker.started", PV_S("version", PV_VERSION),
         PV_S("topics", conf->kafka_topics), PV_S("group", conf->kafka_group_id),
         PV_I("tenants", (int64_t)nt), PV_I("max_in_flight", conf->max_in_flight));
  uv_run(d->loop, UV_RUN_DEFAULT);
  uv_loop_close(d->loop);
  pv_metrics_destroy(d->metrics);
  d->metrics = NULL;
  pv_log(PV_LOG_INFO, "worker.stopped", PV_I("exit_code", d->exit_code));
  return d->exit_code;
}

int main(int argc, char **argv)
{
  static const struct option opts[] = {
    {"config", required_argument, NULL, 'c'},
    {"migrate", no_argument, NULL, 'm'},
    {"check-config", no_argument, NULL, 'k'},
    {"config-docs", no_argument, NULL, 'd'},
    {"config-example", no_argument, NULL, 'e'},
    {"version", no_argument, NULL, 'V'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
  };
  const char *path = NULL;
  bool migrate = false, check = false;
  int c;
  while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
    switch (c) {
    case 'c': path = optarg; break;
    case 'm': migrate = true; break;
    case 'k': check = true; break;
    case 'd': pv_config_dump_markdown(stdout); return 0;
    case 'e': pv_config_dump_example(stdout); return 0;
    case 'V': printf("provisiond %s\n", PV_VERSION); return 0;
    case 'h': usage(stdout); return 0;
    default: usage(stderr); return 2;
    }
  }
  if (optind < argc) {
    fprintf(stderr, "provisiond: unexpected argument \"%s\"\n", argv[optind]);
    usage(stderr);
    return 2;
  }
  if (!path && !getenv("PROVISIOND_CONFIG")) {
    fprintf(stderr, "provisiond: no configuration: give -c FILE (or set "
                    "PROVISIOND_CONFIG)\n");
    return 2;
  }
  if (!path)
    path = getenv("PROVISIOND_CONFIG");
  char err[1024];
  pv_config_t *conf = pv_config_load(path, err, sizeof(err));
  if (!conf) {
    fprintf(stderr, "provisiond: %s\n", err);
    return 2;
  }
  pv_log_set_level((pv_log_level_t)pv_log_level_parse(conf->log_level));
  pv_log_set_static_field("worker", conf->worker_id);
  /* Order types are configuration: a bad file stops the start like a bad
   * key, with the file and the field on stderr. */
  pv_order_types_t *orders = NULL;
  if (check || !migrate)
    orders = pv_order_types_load(conf->orders_dir, conf->orders_dir_set, err,
                                 sizeof(err));
  if (!orders && (check || !migrate)) {
    fprintf(stderr, "provisiond: %s\n", err);
    pv_config_destroy(conf);
    return 2;
  }
  if (check) {
    /* The line scripts compare (packaging checks): provctl orders lists
     * what was loaded. */
    printf("%s: ok (%zu tenants)\n", path, conf->n_tenants);
    pv_order_types_destroy(orders);
    pv_config_destroy(conf);
    return 0;
  }
  if (migrate) {
    int rc = pv_migrate_run(conf->pg_conninfo, false, stdout, err, sizeof(err));
    if (rc < 0)
      fprintf(stderr, "provisiond: migrate: %s\n", err);
    pv_config_destroy(conf);
    return rc < 0 ? 1 : 0;
  }
  pv_log(pv_order_types_count(orders) ? PV_LOG_INFO : PV_LOG_WARN,
         "worker.order_types", PV_S("dir", conf->orders_dir),
         PV_I("count", (int64_t)pv_order_types_count(orders)));
  signal(SIGPIPE, SIG_IGN);
  daemon_t d = {.conf = conf, .orders = orders};
  int rc = run(&d);
  pv_order_types_destroy(orders);
  pv_config_destroy(conf);
  return rc;
}
