/**
 * @file utf8.h
 * @brief UTF-8 well-formedness (RFC 3629), for text that comes from
 * outside and ends up in JSON: replies, rows, log lines. jansson refuses
 * a string that is not UTF-8, so such text is cleaned where it is taken
 * in, and cut only between characters.
 *
 * @locality any thread (pure).
 */
#ifndef PV_COMMON_UTF8_H
#define PV_COMMON_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/**
 * @returns the length (1 to 4) of the well-formed sequence at s, which has
 * left bytes (at least 1): no overlong form, no surrogate, nothing past
 * U+10FFFF; 0 if s starts none.
 */
size_t pv_utf8_seq(const unsigned char *s, size_t left);

/**
 * @returns the largest n <= len such that s[0..n) does not end inside a
 * multi-byte sequence: where to cut text that was valid UTF-8 so that it
 * stays valid.
 */
size_t pv_utf8_cut(const char *s, size_t len);

/** @returns true if p[0..n) is valid UTF-8 (shortest forms, no surrogates,
 *  at most U+10FFFF) with no NUL byte. */
bool pv_utf8_text(const void *p, size_t n);

/** @returns a copy of the NUL-terminated s in which every byte that is not
 *  part of valid UTF-8 is replaced by '?' (free() it): for text columns
 *  and documents fed from outside. */
char *pv_utf8_scrub(const char *s);

#endif
