/**
 * @file base64.h
 * @brief Base64 (libsodium's codec). Decoding is strict RFC 4648 (standard
 * alphabet, '=' padding required, no line breaks or blanks): what the
 * catalog accepts for binary arguments and what the clients decode before
 * sending. Encoding serves the redaction of credentials in their base64
 * spellings.
 *
 * @locality any thread (pure).
 */
#ifndef PV_COMMON_BASE64_H
#define PV_COMMON_BASE64_H

#include <stddef.h>

/**
 * @brief Decodes in[0..len) into out (at least pv_base64_decoded_max(len)
 * bytes), or only checks it when out is NULL.
 * @returns the decoded length, or -1 if in is not strict base64 (a length
 * that is not a multiple of 4, a byte outside the alphabet, padding
 * anywhere but at the end, or non-zero bits after the last symbol).
 */
long pv_base64_decode(const char *in, size_t len, unsigned char *out);

/** @returns an upper bound of the decoded size of len base64 bytes. */
size_t pv_base64_decoded_max(size_t len);

typedef enum pv_base64_variant {
  PV_B64_STANDARD = 0,   /**< RFC 4648 §4, with '=' padding */
  PV_B64_STANDARD_NOPAD, /**< §4 alphabet, no padding */
  PV_B64_URLSAFE_NOPAD   /**< §5 ('-' and '_'), no padding */
} pv_base64_variant_t;

/** @returns the NUL-terminated encoding of data (free() it). */
char *pv_base64_encode(const void *data, size_t len, pv_base64_variant_t v);

#endif
