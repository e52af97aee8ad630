#include "transports/breaker.h"

#include <stdio.h>
#include <string.h>

static const char *const state_names[] = {
  [PV_BREAKER_CLOSED] = "closed",
  [PV_BREAKER_OPEN] = "open",
  [PV_BREAKER_HALF_OPEN] = "half_open",
  [PV_BREAKER_FORCED_OPEN] = "forced_open",
  [PV_BREAKER_DISABLED] = "disabled",
};

const char *pv_breaker_state_name(pv_breaker_state_t s)
{
  if ((unsigned)s > PV_BREAKER_DISABLED)
    return "unknown";
  return state_names[s];
}

int pv_breaker_state_parse(const char *name)
{
  if (!name)
    return -1;
  for (int i = 0; i <= PV_BREAKER_DISABLED; i++)
    if (strcmp(name, state_names[i]) == 0)
      return i;
  return -1;
}

/* While half-open and all probe slots are taken, rejected callers are told
 * to come back after this long: the probe answers within its timeout. */
#define HALF_OPEN_RETRY_MS 1000

void pv_breaker_init(pv_breaker_t *b, const pv_breaker_conf_t *conf)
{
  *b = (pv_breaker_t){0};
  b->conf = *conf;
  if (b->conf.fail_max <= 0)
    b->conf.fail_max = 5;
  if (b->conf.reset_timeout_ms <= 0)
    b->conf.reset_timeout_ms = 60000;
  if (b->conf.half_open_max <= 0)
    b->conf.half_open_max = 1;
  if (b->conf.failure_rate < 0 || b->conf.failure_rate > 1)
    b->conf.failure_rate = 0;
  if (b->conf.rate_window_ms <= 0)
    b->conf.rate_window_ms = 30000;
  if (b->conf.rate_min_calls <= 0)
    b->conf.rate_min_calls = 20;
  b->state = PV_BREAKER_CLOSED;
  b->rate_slot_ms = b->conf.rate_window_ms / PV_BREAKER_RATE_SLOTS;
  if (b->rate_slot_ms < 1)
    b->rate_slot_ms = 1;
  for (int i = 0; i < PV_BREAKER_RATE_SLOTS; i++)
    b->rate[i].epoch = -PV_BREAKER_RATE_SLOTS - 1;
}

static void rate_reset(pv_breaker_t *b)
{
  for (int i = 0; i < PV_BREAKER_RATE_SLOTS; i++) {
    b->rate[i].epoch = -PV_BREAKER_RATE_SLOTS - 1;
    b->rate[i].calls = 0;
    b->rate[i].failures = 0;
  }
}

/* Counts one finished call in the failure-rate window and returns the
 * window's totals. */
static void rate_add(pv_breaker_t *b, uint64_t now_ms, bool failed,
                     uint32_t *calls, uint32_t *failures)
{
  int64_t epoch = (int64_t)(now_ms / (uint64_t)b->rate_slot_ms);
  int i = (int)(epoch % PV_BREAKER_RATE_SLOTS);
  if (b->rate[i].epoch != epoch) {
    b->rate[i].epoch = epoch;
    b->rate[i].calls = 0;
    b->rate[i].failures = 0;
  }
  b->rate[i].calls++;
  if (failed)
    b->rate[i].failures++;
  *calls = 0;
  *failures = 0;
  for (int j = 0; j < PV_BREAKER_RATE_SLOTS; j++) {
    if (b->rate[j].epoch > epoch - PV_BREAKER_RATE_SLOTS &&
        b->rate[j].epoch <= epoch) {
      *calls += b->rate[j].calls;
      *failures += b->rate[j].failures;
    }
  }
}

/* The one place state changes: fills tr and resets per-state counters. */
static void transition(pv_breaker_t *b, uint64_t now_ms, pv_breaker_state_t to,
                       uint64_t open_until_ms, const char *reason,
                       pv_breaker_transition_t *tr)
{
  tr->from = b->state;
  tr->to = to;
  snprintf(tr->reason, sizeof(tr->reason), "%s", reason ? reason : "");
  b->state = to;
  b->gen++;
  b->probes = 0;
  b->consecutive = 0;
  b->open_until_ms = 0;
  if (to == PV_BREAKER_OPEN)
    b->open_until_ms =
        open_until_ms ? open_until_ms : now_ms + (uint64_t)b->conf.reset_timeout_ms;
  if (to == PV_BREAKER_CLOSED)
    rate_reset(b);
  tr->open_until_ms = b->open_until_ms;
}

bool pv_breaker_would_reject(const pv_breaker_t *b, uint64_t now_ms)
{
  switch (b->state) {
  case PV_BREAKER_CLOSED:
  case PV_BREAKER_DISABLED:
    return false;
  case PV_BREAKER_OPEN:
    return now_ms < b->open_until_ms;
  case PV_BREAKER_HALF_OPEN:
    return b->probes >= b->conf.half_open_max;
  case PV_BREAKER_FORCED_OPEN:
  default:
    return true;
  }
}

pv_breaker_admit_t pv_breaker_admit(pv_breaker_t *b, uint64_t now_ms,
                                    uint32_t *gen, pv_breaker_transition_t *tr,
                                    bool *changed)
{
  *changed = false;
  if (b->state == PV_BREAKER_OPEN && now_ms >= b->open_until_ms) {
    transition(b, now_ms, PV_BREAKER_HALF_OPEN, 0, "reset timeout elapsed", tr);
    *changed = true;
  }
  *gen = b->gen;
  switch (b->state) {
  case PV_BREAKER_CLOSED:
  case PV_BREAKER_DISABLED:
    return PV_BRK_PASS;
  case PV_BREAKER_HALF_OPEN:
    if (b->probes >= b->conf.half_open_max)
      return PV_BRK_REJECT;
    b->probes++;
    return PV_BRK_PROBE;
  case PV_BREAKER_OPEN:
  case PV_BREAKER_FORCED_OPEN:
  default:
    return PV_BRK_REJECT;
  }
}

bool pv_breaker_record(pv_breaker_t *b, uint64_t now_ms,
                       pv_breaker_admit_t admitted, uint32_t gen,
                       pv_breaker_outcome_t outcome,
                       pv_breaker_transition_t *tr)
{
  char why[96];

  if (admitted == PV_BRK_PROBE) {
    /* A probe only speaks for the half-open period that admitted it. */
    if (gen != b->gen || b->state != PV_BREAKER_HALF_OPEN)
      return false;
    if (b->probes > 0)
      b->probes--;
    switch (outcome) {
    case PV_BRK_FAILURE:
      transition(b, now_ms, PV_BREAKER_OPEN, 0, "probe failed", tr);
      return true;
    case PV_BRK_SUCCESS:
    case PV_BRK_NEUTRAL:
      transition(b, now_ms, PV_BREAKER_CLOSED, 0, "probe succeeded", tr);
      return true;
    case PV_BRK_CANCELLED:
    default:
      return false;
    }
  }

  /* Results of calls admitted while closed only move a closed breaker;
   * late answers arriving after it opened change nothing. */
  if (b->state != PV_BREAKER_CLOSED || outcome == PV_BRK_CANCELLED ||
      outcome == PV_BRK_NEUTRAL)
    return false;

  bool failed = outcome == PV_BRK_FAILURE;
  uint32_t calls, failures;
  rate_add(b, now_ms, failed, &calls, &failures);
  if (!failed) {
    b->consecutive = 0;
  } else if (++b->consecutive >= b->conf.fail_max) {
    snprintf(why, sizeof(why), "%d consecutive failures", b->consecutive);
    transition(b, now_ms, PV_BREAKER_OPEN, 0, why, tr);
    return true;
  }
  if (b->conf.failure_rate > 0 && calls >= (uint32_t)b->conf.rate_min_calls &&
      (double)failures >= b->conf.failure_rate * (double)calls) {
    snprintf(why, sizeof(why), "failure rate %u/%u over %d ms", failures,
             calls, b->conf.rate_window_ms);
    transition(b, now_ms, PV_BREAKER_OPEN, 0, why, tr);
    return true;
  }
  return false;
}

bool pv_breaker_set(pv_breaker_t *b, uint64_t now_ms, pv_breaker_state_t state,
                    uint64_t open_until_ms, const char *reason,
                    pv_breaker_transition_t *tr)
{
  if ((unsigned)state > PV_BREAKER_DISABLED)
    return false;
  if (state == b->state && state != PV_BREAKER_OPEN)
    return false;
  if (state == PV_BREAKER_OPEN && b->state == PV_BREAKER_OPEN &&
      (open_until_ms ? open_until_ms
                     : now_ms + (uint64_t)b->conf.reset_timeout_ms) ==
          b->open_until_ms)
    return false;
  transition(b, now_ms, state, open_until_ms, reason, tr);
  return true;
}

uint64_t pv_breaker_retry_at(const pv_breaker_t *b, uint64_t now_ms)
{
  switch (b->state) {
  case PV_BREAKER_OPEN:
    return b->open_until_ms > now_ms ? b->open_until_ms : now_ms;
  case PV_BREAKER_HALF_OPEN:
    return now_ms + HALF_OPEN_RETRY_MS;
  case PV_BREAKER_FORCED_OPEN:
    return 0;
  default:
    return now_ms;
  }
}
