/**
 * @file budget.h
 * @brief Retry budget of one endpoint (the Finagle/Envoy idea): retries are
 * allowed while, over the last window_ms,
 *
 *     retries + 1 <= ratio * requests + min_per_sec * window_ms / 1000
 *
 * so a failing dependency sees at most ~ratio extra load from retries, and
 * a quiet endpoint can still retry a few times per second.
 * "requests" counts calls (first attempts), not retries.
 *
 * The window is a ring of PV_BUDGET_SLOTS time slots, so old traffic ages
 * out slot by slot. Pure: every call takes the monotonic `now` in ms.
 *
 * @locality the owner's thread.
 */
#ifndef PV_TRANSPORTS_BUDGET_H
#define PV_TRANSPORTS_BUDGET_H

#include "transports/http.h"

#include <stdbool.h>
#include <stdint.h>

#define PV_BUDGET_SLOTS 10

typedef struct pv_budget {
  double ratio;
  double min_per_sec;
  int64_t window_ms;
  int64_t slot_ms;
  struct {
    int64_t epoch;      /* now / slot_ms when the slot was last reset */
    uint32_t requests;
    uint32_t retries;
  } slot[PV_BUDGET_SLOTS];
} pv_budget_t;

/** @brief Negative ratio/min_per_sec mean 0; window_ms <= 0 means 10 s. */
void pv_budget_init(pv_budget_t *b, const pv_budget_conf_t *conf);
/** @brief Counts one call (first attempt). */
void pv_budget_on_request(pv_budget_t *b, uint64_t now_ms);
/** @brief Takes one retry from the budget. @returns false if exhausted. */
bool pv_budget_try_retry(pv_budget_t *b, uint64_t now_ms);
/** @brief Calls and retries counted in the window ending at now. */
void pv_budget_counts(pv_budget_t *b, uint64_t now_ms, uint64_t *requests,
                      uint64_t *retries);

#endif
