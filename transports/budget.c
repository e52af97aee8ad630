#include "transports/budget.h"

void pv_budget_init(pv_budget_t *b, const pv_budget_conf_t *conf)
{
  *b = (pv_budget_t){0};
  /* Defaults for zero fields are applied by the endpoint; here a negative
   * ratio or floor simply means "none". */
  b->ratio = conf->ratio > 0 ? conf->ratio : 0;
  b->min_per_sec = conf->min_per_sec > 0 ? conf->min_per_sec : 0;
  b->window_ms = conf->window_ms > 0 ? conf->window_ms : 10000;
  b->slot_ms = b->window_ms / PV_BUDGET_SLOTS;
  if (b->slot_ms < 1)
    b->slot_ms = 1;
  /* Slot epochs start "long ago" so an all-zero ring counts as empty. */
  for (int i = 0; i < PV_BUDGET_SLOTS; i++)
    b->slot[i].epoch = -PV_BUDGET_SLOTS - 1;
}

/* The slot for now, emptied first if it last held an older period. */
static int slot_for(pv_budget_t *b, uint64_t now_ms)
{
  int64_t epoch = (int64_t)(now_ms / (uint64_t)b->slot_ms);
  int i = (int)(epoch % PV_BUDGET_SLOTS);
  if (b->slot[i].epoch != epoch) {
    b->slot[i].epoch = epoch;
    b->slot[i].requests = 0;
    b->slot[i].retries = 0;
  }
  return i;
}

void pv_budget_counts(pv_budget_t *b, uint64_t now_ms, uint64_t *requests,
                      uint64_t *retries)
{
  int64_t epoch = (int64_t)(now_ms / (uint64_t)b->slot_ms);
  uint64_t req = 0, ret = 0;
  for (int i = 0; i < PV_BUDGET_SLOTS; i++) {
    if (b->slot[i].epoch > epoch - PV_BUDGET_SLOTS &&
        b->slot[i].epoch <= epoch) {
      req += b->slot[i].requests;
      ret += b->slot[i].retries;
    }
  }
  *requests = req;
  *retries = ret;
}

void pv_budget_on_request(pv_budget_t *b, uint64_t now_ms)
{
  int i = slot_for(b, now_ms);
  if (b->slot[i].requests < UINT32_MAX)
    b->slot[i].requests++;
}

bool pv_budget_try_retry(pv_budget_t *b, uint64_t now_ms)
{
  uint64_t req, ret;
  int i = slot_for(b, now_ms);
  pv_budget_counts(b, now_ms, &req, &ret);
  double allowed = b->ratio * (double)req +
                   b->min_per_sec * (double)b->window_ms / 1000.0;
  if ((double)(ret + 1) > allowed)
    return false;
  if (b->slot[i].retries < UINT32_MAX)
    b->slot[i].retries++;
  return true;
}
