/**
 * @file simhttp.h
 * @brief Synchronous HTTP for the simulator tests: one libcurl easy call,
 * with the status, reason phrase, headers and body captured.
 */
#ifndef PV_TESTS_SIM_SIMHTTP_H
#define PV_TESTS_SIM_SIMHTTP_H

#include <curl/curl.h>
#include <jansson.h>

typedef struct th_resp {
  CURLcode rc;       /**< CURLE_OK, or why no response came */
  long status;
  char reason[160];  /**< reason phrase of the last status line */
  char *headers;     /**< raw header block */
  char *body;
  size_t body_len;
  json_t *json;      /**< the body parsed, or NULL */
} th_resp_t;

/**
 * @brief Sends one request. hdrs is NULL-terminated (may be NULL); body may
 * be NULL. timeout_ms 0 means 10 s. Never follows redirects.
 */
th_resp_t *th_request(const char *method, const char *url,
                      const char *const *hdrs, const char *body,
                      long timeout_ms);
/** @brief GET with no extra headers. */
th_resp_t *th_get(const char *url);
/** @returns a response header's value (copied into buf), or NULL. */
const char *th_header(const th_resp_t *r, const char *name, char *buf,
                      size_t size);
void th_free(th_resp_t *r);

/** The default NetBox token header. */
#define TH_NB_AUTH "Authorization: Token 0123456789abcdef0123456789abcdef01234567"

#endif
