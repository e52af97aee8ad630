/**
 * @file backoff.h
 * @brief Exponential backoff with full jitter (the AWS "full jitter"
 * scheme): the wait before retry n is uniform in [0, min(cap, base * 2^(n-1))].
 *
 * Pure: the random value is an argument, so tests can pin it; the engine
 * draws it from pv_backoff_rand() seeded per engine.
 *
 * @locality any thread (no shared state).
 */
#ifndef PV_COMMON_BACKOFF_H
#define PV_COMMON_BACKOFF_H

#include <stdint.h>

/** @brief splitmix64: advances *state and returns 64 uniform bits. */
uint64_t pv_backoff_rand(uint64_t *state);

/**
 * @brief The ceiling of the jitter window for a retry: min(cap, base << (retry-1)).
 * @param retry 1 for the first retry (the second attempt). Values < 1 act as 1.
 * Negative base/cap act as 0. Never overflows.
 */
int64_t pv_backoff_ceiling(int retry, int base_ms, int cap_ms);

/**
 * @brief A full-jitter delay in [0, pv_backoff_ceiling(retry, base, cap)] ms,
 * chosen by rnd (any 64-bit value, uniform for uniform rnd).
 */
int64_t pv_backoff_full_jitter(int retry, int base_ms, int cap_ms, uint64_t rnd);

#endif
