/**
 * @file breaker.h
 * @brief The circuit breaker state machine of one endpoint, without I/O.
 *
 *   CLOSED --fail_max consecutive failures, or failure_rate over the
 *            window--> OPEN
 *   OPEN --reset_timeout elapsed, on the next admit--> HALF_OPEN
 *   HALF_OPEN: half_open_max probes admitted, others rejected;
 *            a probe success closes, a probe failure re-opens.
 *   FORCED_OPEN / DISABLED: operator states, left only by pv_breaker_set.
 *
 * Outcomes: SUCCESS (a 2xx/3xx answer), FAILURE (connect error, timeout,
 * 5xx), NEUTRAL (4xx and 429: the server answered, so it is up; a neutral
 * result neither counts nor resets the consecutive count while closed, and
 * closes the breaker when it answers a probe), CANCELLED (the attempt never
 * finished: releases a probe slot, changes nothing else).
 *
 * Every transition is reported through a pv_breaker_transition_t so the
 * caller can log it and run callbacks; this module only keeps state.
 * Times are monotonic milliseconds passed in by the caller.
 *
 * @locality the owner's thread.
 */
#ifndef PV_TRANSPORTS_BREAKER_H
#define PV_TRANSPORTS_BREAKER_H

#include "transports/http.h"

#include <stdbool.h>
#include <stdint.h>

#define PV_BREAKER_RATE_SLOTS 10

typedef enum pv_breaker_outcome {
  PV_BRK_SUCCESS,
  PV_BRK_FAILURE,
  PV_BRK_NEUTRAL,
  PV_BRK_CANCELLED
} pv_breaker_outcome_t;

typedef enum pv_breaker_admit {
  PV_BRK_REJECT = 0, /**< fail fast, no network I/O */
  PV_BRK_PASS,       /**< normal call */
  PV_BRK_PROBE       /**< a half-open probe: report its outcome with probe */
} pv_breaker_admit_t;

typedef struct pv_breaker_transition {
  pv_breaker_state_t from, to;
  char reason[96];
  uint64_t open_until_ms; /**< monotonic; 0 unless to == OPEN */
} pv_breaker_transition_t;

typedef struct pv_breaker {
  pv_breaker_conf_t conf;
  pv_breaker_state_t state;
  int consecutive;        /* counted failures in a row while closed */
  uint64_t open_until_ms; /* monotonic; when OPEN may go half-open */
  int probes;             /* probes in flight while half-open */
  uint32_t gen;           /* bumped on every transition */
  struct {
    int64_t epoch;
    uint32_t calls, failures;
  } rate[PV_BREAKER_RATE_SLOTS];
  int64_t rate_slot_ms;
} pv_breaker_t;

/** @brief Starts CLOSED. conf values <= 0 take the defaults of http.h. */
void pv_breaker_init(pv_breaker_t *b, const pv_breaker_conf_t *conf);

/**
 * @brief Decides whether a call may go out now. May move OPEN to HALF_OPEN
 * (then returns true in *changed with tr filled).
 * @param gen out: pass it back to pv_breaker_record.
 */
pv_breaker_admit_t pv_breaker_admit(pv_breaker_t *b, uint64_t now_ms,
                                    uint32_t *gen, pv_breaker_transition_t *tr,
                                    bool *changed);

/** @returns true if pv_breaker_admit would reject now (no state change). */
bool pv_breaker_would_reject(const pv_breaker_t *b, uint64_t now_ms);

/**
 * @brief Reports the outcome of an admitted call.
 * @param admitted what pv_breaker_admit returned for it; gen likewise.
 * A probe outcome from an earlier half-open period is ignored.
 * @returns true if the state changed (tr filled).
 */
bool pv_breaker_record(pv_breaker_t *b, uint64_t now_ms,
                       pv_breaker_admit_t admitted, uint32_t gen,
                       pv_breaker_outcome_t outcome,
                       pv_breaker_transition_t *tr);

/**
 * @brief Applies a state decided elsewhere (operator, another worker).
 * For OPEN, open_until_ms (monotonic) says when half-open may be tried;
 * 0 means now + reset_timeout. @returns true if anything changed.
 */
bool pv_breaker_set(pv_breaker_t *b, uint64_t now_ms, pv_breaker_state_t state,
                    uint64_t open_until_ms, const char *reason,
                    pv_breaker_transition_t *tr);

/**
 * @returns the monotonic ms when a rejected call may be tried again:
 * open_until for OPEN, now for HALF_OPEN (a probe slot frees soon),
 * 0 for FORCED_OPEN (unknown: an operator decides).
 */
uint64_t pv_breaker_retry_at(const pv_breaker_t *b, uint64_t now_ms);

#endif
