/**
 * @file clock.h
 * @brief Time sources. Timeouts, backoff and breaker timers use the
 * monotonic clock; deadlines on the wire and rows in PostgreSQL use wall
 * clock milliseconds since the epoch. Pure logic takes `now` as an argument
 * so tests drive it with a fake clock.
 */
#ifndef PV_COMMON_CLOCK_H
#define PV_COMMON_CLOCK_H

#include <stdint.h>
#include <stddef.h>

/** @brief Monotonic milliseconds (arbitrary origin). */
uint64_t pv_clock_mono_ms(void);
/** @brief Monotonic microseconds (arbitrary origin). */
uint64_t pv_clock_mono_us(void);
/** @brief Wall clock milliseconds since the Unix epoch. */
int64_t pv_clock_wall_ms(void);
/** @brief Formats wall ms as RFC 3339 UTC with milliseconds into buf
 *  (at least 25 bytes). @returns buf */
char *pv_clock_fmt_rfc3339(int64_t wall_ms, char *buf, size_t size);

#endif
