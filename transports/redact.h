/**
 * @file redact.h
 * @brief Keeps a tenant's credentials out of everything derived from a
 * southbound answer.
 *
 * A server may echo what it was sent: NetBox answers a bad token with
 * 403 {"detail": "Invalid token ..."}, a proxy may put it in its status
 * line, an error page may quote the request. Whatever reaches an error
 * message, a log line, a row, a Kafka header or a reply starts as the
 * reason phrase, a header value or the body of an answer, so the
 * transport rewrites those in place, as soon as an attempt completes,
 * before anything reads them (http.c).
 *
 * The secrets come from the endpoint's auth header lines ("Name: value"):
 *  - the credential after the scheme ("Token <v1>", "Bearer nbt_<key>.
 *    <secret>", "Basic <b64>"), or the whole value when it has no scheme;
 *  - its parts: the pieces between '.' and after a "prefix_" (a NetBox v2
 *    token's key and secret, each alone), when at least
 *    PV_REDACT_PART_MIN bytes long (shorter ones would mask ordinary words);
 *  - for Basic: the decoded "user:password" and the password alone;
 *  - the base64 of the credential and of the whole header value.
 *
 * A secret is found however it is spelt: in any letter case, with any of
 * its characters percent-encoded (%2E), JSON-escaped (\u002e, \/), or a
 * space as '+'; and at the very end of a text, cut short after at least
 * PV_REDACT_PART_MIN of its characters (bounded fields are cut before they
 * are redacted). A match is replaced by "[REDACTED]", or by as many '*' as
 * it had bytes when shorter: the text never grows.
 *
 * @locality any thread (a redactor is read-only once built).
 */
#ifndef PV_TRANSPORTS_REDACT_H
#define PV_TRANSPORTS_REDACT_H

#include <stdbool.h>
#include <stddef.h>

/** Parts of a credential shorter than this are not redacted on their own. */
#define PV_REDACT_PART_MIN 6
/** What a match becomes (when the match is at least this long). */
#define PV_REDACT_MARK "[REDACTED]"

typedef struct pv_redact pv_redact_t;

/** @returns an empty redactor (it redacts nothing). */
pv_redact_t *pv_redact_new(void);
/** @brief Wipes the secrets and frees. NULL is fine. */
void pv_redact_destroy(pv_redact_t *rd);

/** @brief Adds the secrets of one auth header line ("Name: value"). */
void pv_redact_add_header(pv_redact_t *rd, const char *line);
/** @brief Adds one secret as it is (and its base64). Empty ones are
 *  ignored. */
void pv_redact_add_secret(pv_redact_t *rd, const char *secret, size_t len);

/** @returns true if rd has no secret (redacting is then a no-op). */
bool pv_redact_empty(const pv_redact_t *rd);

/**
 * @brief Replaces every secret in text[0..len) in place.
 * @returns the new length (never more than len). A NUL-terminated text
 * stays terminated if the terminator is within len + 1.
 */
size_t pv_redact_apply(const pv_redact_t *rd, char *text, size_t len);

/** @brief pv_redact_apply on a NUL-terminated string. */
void pv_redact_str(const pv_redact_t *rd, char *s);

#endif
