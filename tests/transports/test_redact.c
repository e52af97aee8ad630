/*
 * A tenant's credentials never leave in anything derived from a southbound
 * answer: the redactor alone (pure), then the transport against a server
 * that echoes the Authorization header in every way of tests/support/leak.h,
 * for a NetBox v1 token, a v2 token and a Basic credential.
 */
#include "common/log.h"
#include "tests/support/echosrv.h"
#include "tests/support/leak.h"
#include "transports/clients.h"
#include "transports/http.h"
#include "transports/redact.h"

#include <criterion/criterion.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *redacted(const pv_redact_t *rd, const char *text)
{
  char *s = strdup(text);
  cr_assert_not_null(s);
  size_t n = pv_redact_apply(rd, s, strlen(s));
  cr_assert_leq(n, strlen(text), "redacting never grows the text");
  cr_assert_eq(s[n], '\0');
  return s;
}

static void expect(const pv_redact_t *rd, const char *text, const char *want)
{
  char *s = redacted(rd, text);
  cr_assert_str_eq(s, want, "redacting \"%s\"", text);
  free(s);
}

Test(redact, v1_token_in_every_spelling)
{
  pv_redact_t *rd = pv_redact_new();
  pv_redact_add_header(rd, "Authorization: Token " PV_LEAK_TOKEN_V1);
  expect(rd, "Invalid token Token " PV_LEAK_TOKEN_V1 ".",
         "Invalid token Token [REDACTED].");
  expect(rd, "TOKEN 7A3F9C2E41D85B60E1F2A3B4C5D6E7F8091A2B3C!",
         "TOKEN [REDACTED]!");
  /* percent-encoded, wholly or in part, and JSON-escaped */
  expect(rd, "t=%37%61%33f9c2e41d85b60e1f2a3b4c5d6e7f8091a2b3c",
         "t=[REDACTED]");
  expect(rd, "\"\\u0037\\u0061\\u0033f9c2e41d85b60e1f2a3b4c5d6e7f8091a2b3c\"",
         "\"[REDACTED]\"");
  /* the base64 of the credential and of the whole header value */
  char b64[512];
  const char *hv = "Token " PV_LEAK_TOKEN_V1;
  cr_assert_eq(sodium_init() < 0, 0);
  sodium_bin2base64(b64, sizeof(b64), (const unsigned char *)hv, strlen(hv),
                    sodium_base64_VARIANT_ORIGINAL);
  char text[600];
  snprintf(text, sizeof(text), "echo %s end", b64);
  char *s = redacted(rd, text);
  cr_assert_null(strstr(s, b64), "%s", s);
  cr_assert(strstr(s, "[REDACTED]"), "%s", s);
  free(s);
  /* a bounded field cut in the middle of the token */
  expect(rd, "Invalid token Token 7a3f9c2e41d8", "Invalid token Token [REDACTED]");
  expect(rd, "ends with 7a3f9", "ends with 7a3f9");
  /* text without it is untouched */
  expect(rd, "device 7a3f not found", "device 7a3f not found");
  pv_redact_destroy(rd);
}

Test(redact, v2_token_and_its_halves)
{
  pv_redact_t *rd = pv_redact_new();
  pv_redact_add_header(rd, "Authorization: Bearer " PV_LEAK_TOKEN_V2);
  expect(rd, "bad " PV_LEAK_TOKEN_V2, "bad [REDACTED]");
  expect(rd, "unknown key Kq7Zr2Lm9Xw4", "unknown key [REDACTED]");
  expect(rd, "key nbt_Kq7Zr2Lm9Xw4 only", "key [REDACTED] only");
  expect(rd, "secret Sx8Pt3Vn6Qa1Bc5De7Fg9Hj2Kl4Mn6Pq8Rs0Tu3Vw5Y",
         "secret [REDACTED]");
  expect(rd, "nbt_Kq7Zr2Lm9Xw4%2ESx8Pt3Vn6Qa1Bc5De7Fg9Hj2Kl4Mn6Pq8Rs0Tu3Vw5Y",
         "[REDACTED]");
  pv_redact_destroy(rd);
}

/* "Authorization: Basic <base64(user:password)>" and the base64 alone. */
static void basic_header(char *hdr, size_t hsize, char *b64, size_t bsize)
{
  const char *pair = PV_LEAK_BASIC_USER ":" PV_LEAK_BASIC_PASS;
  cr_assert_eq(sodium_init() < 0, 0);
  sodium_bin2base64(b64, bsize, (const unsigned char *)pair, strlen(pair),
                    sodium_base64_VARIANT_ORIGINAL);
  snprintf(hdr, hsize, "Authorization: Basic %s", b64);
}

Test(redact, basic_credential_pair_password_and_escapes)
{
  char hdr[320], b64[256];
  basic_header(hdr, sizeof(hdr), b64, sizeof(b64));
  pv_redact_t *rd = pv_redact_new();
  pv_redact_add_header(rd, hdr);
  char text[512];
  snprintf(text, sizeof(text), "got %s", b64);
  expect(rd, text, "got [REDACTED]");
  expect(rd, "user " PV_LEAK_BASIC_USER ":" PV_LEAK_BASIC_PASS,
         "user [REDACTED]");
  expect(rd, "password s3cr3t-P4ss/word+x rejected", "password [REDACTED] rejected");
  /* JSON writers that escape '/' */
  expect(rd, "\"s3cr3t-P4ss\\/word+x\"", "\"[REDACTED]\"");
  /* the user name alone is not a secret */
  expect(rd, "user " PV_LEAK_BASIC_USER, "user " PV_LEAK_BASIC_USER);
  pv_redact_destroy(rd);
}

Test(redact, short_matches_never_grow_the_text)
{
  pv_redact_t *rd = pv_redact_new();
  pv_redact_add_secret(rd, "pw1", 3);
  expect(rd, "a pw1 b PW1", "a *** b ***");
  cr_assert(!pv_redact_empty(rd));
  pv_redact_destroy(rd);
  pv_redact_t *none = pv_redact_new();
  cr_assert(pv_redact_empty(none));
  expect(none, "nothing to hide", "nothing to hide");
  pv_redact_destroy(none);
}

/* ---- the transport against an echoing server ---------------------------- */

static pv_echo_t *echo;

static void stop_echo(void)
{
  pv_echo_stop(echo);
  echo = NULL;
}

TestSuite(redact_http, .fini = stop_echo, .timeout = 120);

static void check_all_patterns(const char *auth_header)
{
  pv_log_set_level(PV_LOG_ERROR); /* each refusal is logged: expected */
  const char *auth = strchr(auth_header, ':') + 2;
  echo = pv_echo_start(pv_leak_answer, NULL);
  char base[64];
  snprintf(base, sizeof(base), "http://127.0.0.1:%d", pv_echo_port(echo));
  const char *hdrs[] = {auth_header, NULL};
  pv_endpoint_conf_t ec;
  pv_endpoint_conf_defaults(&ec);
  ec.service = "netbox";
  ec.tenant = "isp-leak";
  ec.base_url = base;
  ec.auth_headers = hdrs;
  ec.retry.max_attempts = 1;
  for (int n = 0; n < 2 * PV_LEAK_PATTERNS; n++) {
    char path[64];
    snprintf(path, sizeof(path), "/api/dcim/devices/%d/", n);
    pv_http_request_t req = {.method = "GET", .path = path,
                             .timeout_ms = 5000, .idempotent = true};
    pv_http_response_t out;
    char *body = NULL;
    pv_http_send_sync(NULL, &ec, &req, &out, &body);
    cr_assert_gt(out.status, 0, "pattern %d: no answer (%s)", n,
                 out.err.message);
    const char *which = NULL;
    cr_assert(!pv_leak_found(out.reason, auth, &which),
              "pattern %d: %s in the reason phrase \"%s\"", n, which,
              out.reason);
    cr_assert(!pv_leak_found(out.err.message, auth, &which),
              "pattern %d: %s in the error \"%s\"", n, which,
              out.err.message);
    cr_assert(!pv_leak_found(body, auth, &which),
              "pattern %d: %s in the body \"%s\"", n, which, body);
    free(body);
  }
  cr_assert_eq(pv_echo_requests(echo), 2 * PV_LEAK_PATTERNS);
}

Test(redact_http, v1_token_echoed_every_way_never_comes_back)
{
  check_all_patterns("Authorization: Token " PV_LEAK_TOKEN_V1);
}

Test(redact_http, v2_token_echoed_every_way_never_comes_back)
{
  check_all_patterns("Authorization: Bearer " PV_LEAK_TOKEN_V2);
}

Test(redact_http, basic_credential_echoed_every_way_never_comes_back)
{
  char hdr[320], b64[256];
  basic_header(hdr, sizeof(hdr), b64, sizeof(b64));
  check_all_patterns(hdr);
}
