/* Fault injection for the chaos suite: a schedule drawn from the seed,
 * one event at a time, each started and ended by the driver's loop. */
#include "tests/chaos/chaos.h"

#include "common/alloc.h"
#include "db/pg.h"
#include "tests/support/proc.h"
#include "tests/support/testenv.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

const char *const ch_fault_names[CH_F__COUNT] = {
  "kill -9", "SIGTERM", "pg stop", "pg terminate", "broker stop",
  "sim reset", "sim reset_after", "sim hang", "sim 5xx", "sim 429",
  "sim latency",
};

/* Weight and hold range (ms) of each kind: the one table of the mix. */
static const struct {
  int weight;
  int hold_min, hold_max;
} MIX[CH_F__COUNT] = {
  [CH_F_KILL] = {3, 0, 3000},
  [CH_F_TERM] = {2, 0, 2000},
  [CH_F_PG_STOP] = {2, 2000, 8000},
  [CH_F_PG_TERMINATE] = {2, 0, 0},
  [CH_F_BROKER_STOP] = {2, 2000, 8000},
  [CH_F_SIM_RESET] = {2, 3000, 8000},
  [CH_F_SIM_RESET_AFTER] = {2, 3000, 8000},
  [CH_F_SIM_HANG] = {1, 3000, 6000},
  [CH_F_SIM_5XX] = {2, 3000, 8000},
  [CH_F_SIM_429] = {2, 3000, 8000},
  [CH_F_SIM_LATENCY] = {2, 3000, 8000},
};

/* The workers' PostgreSQL sessions carry this name, so a fault can end
 * them and nobody else's (the driver's own, provctl's). */
#define WORKER_APP "pv-chaos-worker"
/* SIGTERM waits out drain_timeout_ms (the run's config) plus this. */
#define TERM_GRACE_MS 20000

static bool possible(const ch_run_t *r, ch_fault_kind_t k)
{
  if (k == CH_F_BROKER_STOP)
    return r->apache;
  if (k == CH_F_KILL || k == CH_F_TERM)
    return r->nworkers > 1; /* slot 0 is never stopped: the leak witness */
  return true;
}

static ch_fault_kind_t draw_kind(ch_run_t *r)
{
  int total = 0;
  for (int k = 0; k < CH_F__COUNT; k++)
    if (possible(r, (ch_fault_kind_t)k))
      total += MIX[k].weight;
  int x = (int)(ch_rand(r) % (uint64_t)total);
  for (int k = 0; k < CH_F__COUNT; k++) {
    if (!possible(r, (ch_fault_kind_t)k))
      continue;
    if (x < MIX[k].weight)
      return (ch_fault_kind_t)k;
    x -= MIX[k].weight;
  }
  return CH_F_SIM_LATENCY;
}

void ch_fault_plan(ch_run_t *r, int64_t from_ms, int64_t until_ms,
                   int mean_gap_ms)
{
  int64_t at = from_ms;
  r->nevents = 0;
  r->next_event = 0;
  r->active_event = -1;
  while (r->nevents < CH_MAX_EVENTS) {
    ch_event_t *ev = &r->events[r->nevents];
    memset(ev, 0, sizeof(*ev));
    ev->kind = draw_kind(r);
    ev->hold_ms = ch_rand_range(r, MIX[ev->kind].hold_min,
                                MIX[ev->kind].hold_max);
    if (at + ev->hold_ms >= until_ms)
      break;
    ev->at_ms = at;
    if (ev->kind == CH_F_KILL || ev->kind == CH_F_TERM)
      ev->target = ch_rand_range(r, 1, r->nworkers - 1);
    else
      ev->target = ch_rand_range(r, 0, CH_LISTENERS - 1);
    static const int statuses[] = {500, 502, 503};
    if (ev->kind == CH_F_SIM_5XX)
      ev->param = statuses[ch_rand(r) % 3];
    else if (ev->kind == CH_F_SIM_LATENCY)
      ev->param = ch_rand_range(r, 200, 1500);
    else if (ev->kind == CH_F_SIM_HANG)
      ev->param = ch_rand_range(r, 1, 4);
    r->nevents++;
    /* gaps of 0.5x..1.5x the mean after the fault ends */
    at += ev->hold_ms + ch_rand_range(r, mean_gap_ms / 2,
                                      mean_gap_ms * 3 / 2);
  }
}

void ch_fault_counts(const ch_run_t *r, int out[CH_F__COUNT])
{
  memset(out, 0, sizeof(int) * CH_F__COUNT);
  for (int i = 0; i < r->nevents; i++)
    if (r->events[i].started_ms)
      out[r->events[i].kind]++;
}

/* ---- workers --------------------------------------------------------- */

void ch_worker_start(ch_run_t *r, int i)
{
  ch_worker_t *w = &r->workers[i];
  char id[64];
  snprintf(id, sizeof(id), "chaos-w%d-g%d", i, w->generation);
  if (w->generation > 0)
    w->restarted = true;
  w->generation++;
  char *pg = pv_asprintf("PROVISIOND_PG=%s application_name=" WORKER_APP,
                         r->e.pg);
  const char *env[] = {pg, NULL};
  w->pid = pv_e2e_spawn_worker(&r->e, id, env, w->log, sizeof(w->log));
  free(pg);
}

static void worker_kill(ch_run_t *r, int i)
{
  ch_worker_t *w = &r->workers[i];
  if (w->pid > 0)
    pv_proc_stop(w->pid, SIGKILL, 10000);
  w->pid = 0;
}

/* SIGTERM: the worker drains and exits 0 (anything else is a finding). */
static void worker_term(ch_run_t *r, int i)
{
  ch_worker_t *w = &r->workers[i];
  if (w->pid <= 0)
    return;
  int st = pv_proc_stop(w->pid, SIGTERM, TERM_GRACE_MS);
  if (!(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
    w->unclean_exits++;
    ch_violation(r, "worker %d (%s) did not exit 0 on SIGTERM (status "
                 "0x%x); see %s", i, ch_fault_names[CH_F_TERM], st, w->log);
  }
  w->pid = 0;
}

/* ---- the stack ------------------------------------------------------- */

void ch_stack(ch_run_t *r, const char *action, const char *what)
{
  char *cmd = pv_asprintf("'%s/dev/stack.sh' %s %s >>'%s/tests/logs/"
                          "chaos-%s-stack.log' 2>&1",
                          pv_test_source_dir(), action, what,
                          pv_test_build_dir(), r->e.suffix);
  int rc = system(cmd);
  if (rc != 0)
    ch_violation(r, "infrastructure: '%s' failed (%d)", cmd, rc);
  free(cmd);
}

static void pg_terminate_workers(ch_run_t *r)
{
  char err[256];
  pv_pg_sync_t *db = pv_pg_sync_connect(r->e.pg, err, sizeof(err));
  if (!db) {
    ch_violation(r, "infrastructure: PostgreSQL: %s", err);
    return;
  }
  pv_pg_result_t *res = pv_pg_sync_query(
      db, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
          " WHERE application_name = '" WORKER_APP "'", 0, NULL);
  if (!pv_pg_result_ok(res))
    ch_violation(r, "infrastructure: pg_terminate_backend: %s",
                 pv_pg_result_error(res));
  pv_pg_result_free(res);
  pv_pg_sync_close(db);
}

/* ---- the simulator --------------------------------------------------- */

static const char *listener_url(const ch_run_t *r, int l)
{
  return l == 0 ? r->sim.voltha_url
                : l == 1 ? r->sim.genieacs_url : r->sim.netbox_url;
}

static void sim_fault(ch_run_t *r, const ch_event_t *ev)
{
  char body[256];
  switch (ev->kind) {
  case CH_F_SIM_RESET:
    snprintf(body, sizeof(body), "{\"mode\":\"reset\",\"rate\":0.3}");
    break;
  case CH_F_SIM_RESET_AFTER:
    snprintf(body, sizeof(body), "{\"mode\":\"reset_after\",\"rate\":0.3}");
    break;
  case CH_F_SIM_HANG:
    snprintf(body, sizeof(body), "{\"mode\":\"hang\",\"count\":%d}",
             ev->param);
    break;
  case CH_F_SIM_5XX:
    snprintf(body, sizeof(body),
             "{\"mode\":\"error\",\"status\":%d,\"rate\":0.5}", ev->param);
    break;
  case CH_F_SIM_429:
    snprintf(body, sizeof(body),
             "{\"mode\":\"ratelimit\",\"retry_after\":1,\"rate\":0.5}");
    break;
  case CH_F_SIM_LATENCY:
    snprintf(body, sizeof(body),
             "{\"mode\":\"latency\",\"latency_ms\":%d}", ev->param);
    break;
  default:
    return;
  }
  long st = pv_sim_set_fault(listener_url(r, ev->target), body);
  if (st != 200)
    ch_violation(r, "infrastructure: PUT /_sim/faults %s: HTTP %ld", body, st);
}

static void sim_clear(ch_run_t *r, int l)
{
  long st = pv_sim_clear_faults(listener_url(r, l));
  if (st != 200)
    ch_violation(r, "infrastructure: DELETE /_sim/faults: HTTP %ld", st);
}

/* ---- events ---------------------------------------------------------- */

static void event_start(ch_run_t *r, ch_event_t *ev)
{
  ev->started_ms = ch_now(r);
  fprintf(stderr, "chaos: %7.1f s  %-15s target %d hold %d ms\n",
          (double)ev->started_ms / 1000.0, ch_fault_names[ev->kind],
          ev->target, ev->hold_ms);
  switch (ev->kind) {
  case CH_F_KILL:
    worker_kill(r, ev->target);
    break;
  case CH_F_TERM:
    worker_term(r, ev->target);
    break;
  case CH_F_PG_STOP:
    r->pg_down = true;
    ch_stack(r, "stop", "postgres");
    break;
  case CH_F_PG_TERMINATE:
    pg_terminate_workers(r);
    break;
  case CH_F_BROKER_STOP:
    r->broker_down = true;
    ch_stack(r, "stop", "kafka");
    break;
  default:
    sim_fault(r, ev);
    break;
  }
}

static void event_end(ch_run_t *r, ch_event_t *ev)
{
  switch (ev->kind) {
  case CH_F_KILL:
  case CH_F_TERM:
    ch_worker_start(r, ev->target);
    break;
  case CH_F_PG_STOP:
    ch_stack(r, "start", "postgres");
    r->pg_down = false;
    break;
  case CH_F_BROKER_STOP:
    ch_stack(r, "start", "kafka");
    r->broker_down = false;
    break;
  case CH_F_PG_TERMINATE:
    break;
  default:
    sim_clear(r, ev->target);
    break;
  }
  ev->ended_ms = ch_now(r);
}

void ch_fault_tick(ch_run_t *r)
{
  int64_t now = ch_now(r);
  if (r->active_event >= 0) {
    ch_event_t *ev = &r->events[r->active_event];
    if (now < ev->started_ms + ev->hold_ms)
      return;
    event_end(r, ev);
    r->active_event = -1;
  }
  if (r->next_event < r->nevents && now >= r->events[r->next_event].at_ms) {
    r->active_event = r->next_event++;
    event_start(r, &r->events[r->active_event]);
  }
}

void ch_fault_settle(ch_run_t *r)
{
  if (r->active_event >= 0) {
    event_end(r, &r->events[r->active_event]);
    r->active_event = -1;
  }
  r->next_event = r->nevents; /* nothing more starts */
  for (int l = 0; l < CH_LISTENERS; l++)
    sim_clear(r, l);
}
