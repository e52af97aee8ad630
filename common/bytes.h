/**
 * @file bytes.h
 * @brief Bytes from outside (Kafka keys, header names and values) where
 * only text fits: hex, and one JSON form for exact bytes (UTF-8 checks:
 * common/utf8.h).
 *
 * PostgreSQL's text and jsonb refuse bytes that are not UTF-8, and jsonb
 * also refuses the NUL character, so a record carrying them must not
 * reach those columns as is. The JSON form keeps readable values readable
 * and every value exact: a string when the bytes are UTF-8 text without a
 * NUL byte, else {"hex": "<lower-case hex>"}.
 */
#ifndef PV_COMMON_BYTES_H
#define PV_COMMON_BYTES_H

#include <jansson.h>
#include "common/utf8.h"

#include <stdbool.h>
#include <stddef.h>

/** @brief Writes p[0..n) as 2n lower-case hex digits and a NUL to dst
 *  (2n + 1 bytes). */
void pv_hex_write(char *dst, const void *p, size_t n);

/**
 * @brief Decodes n hex digits (either case).
 * @returns a malloc'd NUL-terminated buffer of n / 2 bytes (count in
 * *len; free() it), or NULL (*len 0) when n is odd or a character is not a
 * hex digit.
 */
char *pv_hex_decode(const char *hex, size_t n, size_t *len);

/** @brief Decodes PostgreSQL's bytea text form ("\x" and hex), as
 *  pv_hex_decode; NULL when s is NULL or not that form. */
char *pv_bytea_decode(const char *s, size_t *len);

/** @returns p[0..n) in the JSON form above (a new reference). */
json_t *pv_bytes_to_json(const void *p, size_t n);

/**
 * @brief Reads the JSON form back.
 * @returns a malloc'd NUL-terminated copy of the bytes (free() it) with
 * their count in *len, or NULL (and *len 0) when v is neither form.
 */
char *pv_bytes_from_json(const json_t *v, size_t *len);

#endif
