/**
 * @file retry_after.h
 * @brief Parsing of the HTTP Retry-After header (RFC 9110 §10.2.3): either
 * delta-seconds or an HTTP-date in any of the three forms a recipient must
 * accept (IMF-fixdate, obsolete RFC 850, asctime).
 *
 * We parse the header ourselves rather than trust CURLINFO_RETRY_AFTER:
 * libcurl 7.88 returns a negative value for dates in the past.
 *
 * @locality any thread (pure).
 */
#ifndef PV_TRANSPORTS_RETRY_AFTER_H
#define PV_TRANSPORTS_RETRY_AFTER_H

#include <stddef.h>
#include <stdint.h>

/** delta-seconds beyond this are treated as this (RFC 9111 §1.2.2: 2^31). */
#define PV_RETRY_AFTER_MAX_S 2147483648LL

/**
 * @brief Parses an HTTP-date into seconds since the epoch (UTC).
 * @returns 0, or -1 if s[0..len) is not one of the three forms.
 */
int pv_http_date_parse(const char *s, size_t len, int64_t *epoch_s);

/**
 * @brief Parses a Retry-After value (surrounding whitespace allowed).
 * @param now_wall_ms wall clock now, to turn a date into a delay.
 * @param delay_ms out: the wait in ms, never negative (a date in the past
 *        gives 0) and at most PV_RETRY_AFTER_MAX_S * 1000.
 * @returns 0, or -1 if the value is neither form (the caller then ignores
 * the header and uses its own backoff).
 */
int pv_retry_after_parse(const char *value, size_t len, int64_t now_wall_ms,
                         int64_t *delay_ms);

#endif
