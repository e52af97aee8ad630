#include "worker/fleet.h"

#include "common/alloc.h"
#include "common/clock.h"
#include "common/log.h"
#include "db/store.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

struct pv_fleet_s {
  pv_pg_t *pg;
  pv_clients_t *clients;
  char *worker_id;
  int reset_timeout_ms;
  int pending;     /* reads in flight (they reference the fleet) */
  bool closing;
};

static const char SELECT_SQL[] =
  "SELECT service, tenant, endpoint, state,"
  " (extract(epoch FROM open_until) * 1000)::bigint, changed_by, reason"
  " FROM breaker_state"
  " WHERE ($1::text IS NULL OR service = $1::text)"
  "  AND ($2::text IS NULL OR tenant = $2::text)"
  "  AND ($3::text IS NULL OR endpoint = $3::text OR endpoint = '*')";

static void apply_row(pv_fleet_t *f, const char *service, const char *tenant,
                      const char *endpoint, const char *state,
                      int64_t open_until, const char *by, const char *reason)
{
  if (by && !strcmp(by, f->worker_id))
    return; /* our own transition, already applied here */
  int st = pv_breaker_state_parse(state);
  if (st < 0 || st == PV_BREAKER_HALF_OPEN)
    return;
  pv_endpoint_t *ep = pv_clients_endpoint(f->clients, tenant, service);
  if (!ep)
    return; /* a tenant or service this worker does not serve */
  /* One endpoint per (tenant, service) here; a row for another base URL
   * (an old configuration, another site) does not apply to it. */
  if (endpoint && strcmp(endpoint, "*") &&
      strcmp(endpoint, pv_endpoint_base_url(ep)))
    return;
  pv_breaker_state_t cur = pv_endpoint_breaker_state(ep);
  if (st == PV_BREAKER_OPEN) {
    if (cur == PV_BREAKER_FORCED_OPEN || cur == PV_BREAKER_DISABLED)
      return; /* an operator's word wins over a peer's */
    int64_t until = (open_until ? open_until : pv_clock_wall_ms()) +
                    f->reset_timeout_ms;
    if (until <= pv_clock_wall_ms())
      return; /* stale (its worker is gone): our own calls will tell */
    pv_endpoint_set_breaker(ep, PV_BREAKER_OPEN, until, reason);
  } else if ((int)cur != st) {
    pv_endpoint_set_breaker(ep, (pv_breaker_state_t)st, 0, reason);
  } else {
    return;
  }
  pv_log(PV_LOG_INFO, "fleet.breaker_applied", PV_S("service", service),
         PV_S("tenant_id", tenant), PV_S("state", state), PV_S("by", by));
}

static void on_rows(const pv_pg_result_t *res, void *arg)
{
  pv_fleet_t *f = arg;
  f->pending--;
  if (f->closing) {
    if (f->pending == 0)
      free(f);
    return;
  }
  if (!pv_pg_result_ok(res)) {
    pv_log(PV_LOG_WARN, "fleet.read_failed",
           PV_S("error", pv_pg_result_error(res)));
    return;
  }
  for (int i = 0; i < pv_pg_result_ntuples(res); i++) {
    const char *ou = pv_pg_result_get(res, i, 4);
    apply_row(f, pv_pg_result_get(res, i, 0), pv_pg_result_get(res, i, 1),
              pv_pg_result_get(res, i, 2), pv_pg_result_get(res, i, 3),
              ou ? strtoll(ou, NULL, 10) : 0, pv_pg_result_get(res, i, 5),
              pv_pg_result_get(res, i, 6));
  }
}

static void read_rows(pv_fleet_t *f, const char *service, const char *tenant,
                      const char *endpoint)
{
  const char *params[] = {service, tenant,
                          endpoint && strcmp(endpoint, "*") ? endpoint : NULL};
  if (pv_pg_query(f->pg, SELECT_SQL, 3, params, on_rows, f) == 0)
    f->pending++;
}

static void on_notify(const char *channel, const char *payload, void *arg)
{
  pv_fleet_t *f = arg;
  json_t *doc = payload ? json_loads(payload, 0, NULL) : NULL;
  const char *service = json_string_value(json_object_get(doc, "service"));
  const char *tenant = json_string_value(json_object_get(doc, "tenant"));
  if (service && tenant)
    read_rows(f, service, tenant,
              json_string_value(json_object_get(doc, "endpoint")));
  else
    read_rows(f, NULL, NULL, NULL); /* unreadable: re-read everything */
  json_decref(doc);
}

pv_fleet_t *pv_fleet_new(pv_pg_t *pg, pv_clients_t *clients,
                         const char *worker_id, int reset_timeout_ms)
{
  pv_fleet_t *f = pv_calloc(1, sizeof(*f));
  f->pg = pg;
  f->clients = clients;
  f->worker_id = pv_strdup(worker_id);
  f->reset_timeout_ms = reset_timeout_ms;
  if (pv_pg_listen(pg, PV_STORE_BREAKER_CHANNEL, on_notify, f) != 0)
    pv_log(PV_LOG_WARN, "fleet.listen_failed",
           PV_S("channel", PV_STORE_BREAKER_CHANNEL));
  read_rows(f, NULL, NULL, NULL);
  return f;
}

void pv_fleet_resync(pv_fleet_t *f)
{
  if (f && !f->closing)
    read_rows(f, NULL, NULL, NULL);
}

void pv_fleet_destroy(pv_fleet_t *f)
{
  if (!f)
    return;
  /* A notification after this must not find the freed fleet. */
  pv_pg_unlisten(f->pg, PV_STORE_BREAKER_CHANNEL, on_notify, f);
  f->closing = true;
  free(f->worker_id);
  f->worker_id = NULL;
  if (f->pending == 0)
    free(f);
  /* else freed by the last read's callback (pv_pg_destroy runs them) */
}
