/* Unit tests of the transport's pure rules, driven by a fake clock. */
#include "common/backoff.h"
#include "transports/breaker.h"
#include "transports/budget.h"
#include "transports/classify.h"
#include "transports/retry_after.h"

#include <criterion/criterion.h>
#include <string.h>

/* ---- backoff ------------------------------------------------------------ */

Test(backoff, ceiling_doubles_then_caps)
{
  cr_assert_eq(pv_backoff_ceiling(1, 1000, 10000), 1000);
  cr_assert_eq(pv_backoff_ceiling(2, 1000, 10000), 2000);
  cr_assert_eq(pv_backoff_ceiling(4, 1000, 10000), 8000);
  cr_assert_eq(pv_backoff_ceiling(5, 1000, 10000), 10000);
  /* huge retry numbers must not overflow the shift */
  cr_assert_eq(pv_backoff_ceiling(1000, 1000, 10000), 10000);
  cr_assert_eq(pv_backoff_ceiling(0, 1000, 10000), 1000);
  cr_assert_eq(pv_backoff_ceiling(3, -5, 10000), 0);
}

Test(backoff, full_jitter_stays_in_window_and_spreads)
{
  uint64_t seed = 42;
  int64_t lo = INT64_MAX, hi = -1;
  for (int i = 0; i < 20000; i++) {
    int64_t d = pv_backoff_full_jitter(3, 1000, 10000, pv_backoff_rand(&seed));
    cr_assert(d >= 0 && d <= 4000, "delay %lld outside [0, 4000]", (long long)d);
    if (d < lo)
      lo = d;
    if (d > hi)
      hi = d;
  }
  /* full jitter: uses (nearly) the whole window, not a fixed delay */
  cr_assert_lt(lo, 100);
  cr_assert_gt(hi, 3900);
  cr_assert_eq(pv_backoff_full_jitter(3, 1000, 10000, 0), 0);
  cr_assert_eq(pv_backoff_full_jitter(3, 1000, 10000, 4000), 4000);
  cr_assert_eq(pv_backoff_full_jitter(3, 1000, 10000, UINT64_MAX),
               (int64_t)(UINT64_MAX % 4001));
}

/* ---- Retry-After -------------------------------------------------------- */

/* 1994-11-06T08:49:37Z */
#define T0 784111777LL

static int64_t ra(const char *v, int64_t now_ms)
{
  int64_t d = -7;
  int rc = pv_retry_after_parse(v, strlen(v), now_ms, &d);
  return rc == 0 ? d : -1;
}

Test(retry_after, delta_seconds)
{
  cr_assert_eq(ra("2", 0), 2000);
  cr_assert_eq(ra("  120 \r\n", 0), 120000);
  cr_assert_eq(ra("0", 0), 0);
  /* huge values saturate at 2^31 s instead of overflowing */
  cr_assert_eq(ra("99999999999999999999999999", 0),
               PV_RETRY_AFTER_MAX_S * 1000);
  cr_assert_eq(ra("-5", 0), -1);
  cr_assert_eq(ra("1.5", 0), -1);
  cr_assert_eq(ra("", 0), -1);
  cr_assert_eq(ra("5s", 0), -1);
}

Test(retry_after, three_date_forms)
{
  int64_t now = (T0 - 10) * 1000;
  cr_assert_eq(ra("Sun, 06 Nov 1994 08:49:37 GMT", now), 10000);
  cr_assert_eq(ra("Sunday, 06-Nov-94 08:49:37 GMT", now), 10000);
  cr_assert_eq(ra("Sun Nov  6 08:49:37 1994", now), 10000);
  cr_assert_eq(ra("Sun Nov 16 08:49:37 1994", now), 10000 + 10 * 86400000LL);
  int64_t s;
  cr_assert_eq(pv_http_date_parse("Thu, 01 Jan 1970 00:00:00 GMT", 29, &s), 0);
  cr_assert_eq(s, 0);
  cr_assert_eq(pv_http_date_parse("Tue, 29 Feb 2000 23:59:59 GMT", 29, &s), 0);
  cr_assert_eq(s, 951868799);
}

Test(retry_after, past_dates_clamp_to_zero)
{
  /* curl 7.88's CURLINFO_RETRY_AFTER would be negative here */
  cr_assert_eq(ra("Sun, 06 Nov 1994 08:49:37 GMT", (T0 + 3600) * 1000), 0);
}

Test(retry_after, malformed_dates_rejected)
{
  cr_assert_eq(ra("Sun, 06 Nov 1994 08:49:37 UTC", 0), -1);
  cr_assert_eq(ra("Sun, 31 Feb 1994 08:49:37 GMT", 0), -1);
  cr_assert_eq(ra("Sun, 06 Nov 1994 24:49:37 GMT", 0), -1);
  cr_assert_eq(ra("sun, 06 nov 1994 08:49:37 GMT", 0), -1);
  cr_assert_eq(ra("Sun, 06 Nov 1994 08:49:37 GMT trailing", 0), -1);
  cr_assert_eq(ra("Sun, 6 Nov 1994 08:49:37 GMT", 0), -1);
  cr_assert_eq(ra("tomorrow", 0), -1);
}

/* ---- budget ------------------------------------------------------------- */

static pv_budget_t mk_budget(double ratio, double floor, int window)
{
  pv_budget_t b;
  pv_budget_conf_t c = {ratio, floor, window};
  pv_budget_init(&b, &c);
  return b;
}

Test(budget, floor_only_then_exhausted)
{
  pv_budget_t b = mk_budget(0.2, 1, 10000); /* floor: 10 per window */
  uint64_t now = 1000000;
  int ok = 0;
  for (int i = 0; i < 50; i++)
    ok += pv_budget_try_retry(&b, now);
  cr_assert_eq(ok, 10);
}

Test(budget, ratio_of_requests)
{
  pv_budget_t b = mk_budget(0.2, 0, 10000);
  uint64_t now = 5000000;
  for (int i = 0; i < 100; i++)
    pv_budget_on_request(&b, now);
  int ok = 0;
  for (int i = 0; i < 100; i++)
    ok += pv_budget_try_retry(&b, now);
  cr_assert_eq(ok, 20, "20%% of 100 requests, got %d", ok);
  uint64_t req, ret;
  pv_budget_counts(&b, now, &req, &ret);
  cr_assert_eq(req, 100);
  cr_assert_eq(ret, 20);
}

Test(budget, refills_as_the_window_slides)
{
  pv_budget_t b = mk_budget(0, 1, 10000);
  uint64_t now = 7000000;
  for (int i = 0; i < 10; i++)
    cr_assert(pv_budget_try_retry(&b, now));
  cr_assert_not(pv_budget_try_retry(&b, now));
  /* still inside the window */
  cr_assert_not(pv_budget_try_retry(&b, now + 9000));
  /* the slot holding those retries has aged out */
  cr_assert(pv_budget_try_retry(&b, now + 10000));
}

/* ---- breaker ------------------------------------------------------------ */

static pv_breaker_t mk_breaker(int fail_max, int reset_ms, int probes)
{
  pv_breaker_t b;
  pv_breaker_conf_t c = {fail_max, reset_ms, probes, 0, 0, 0};
  pv_breaker_init(&b, &c);
  return b;
}

/* Admit + record one call; returns whether the state changed. */
static bool call(pv_breaker_t *b, uint64_t now, pv_breaker_outcome_t o,
                 pv_breaker_transition_t *tr)
{
  uint32_t gen;
  bool ch;
  pv_breaker_admit_t a = pv_breaker_admit(b, now, &gen, tr, &ch);
  cr_assert_neq(a, PV_BRK_REJECT);
  return pv_breaker_record(b, now, a, gen, o, tr);
}

Test(breaker, opens_after_fail_max_consecutive)
{
  pv_breaker_t b = mk_breaker(5, 300, 1);
  pv_breaker_transition_t tr;
  for (int i = 0; i < 4; i++)
    cr_assert_not(call(&b, 100, PV_BRK_FAILURE, &tr));
  cr_assert(call(&b, 100, PV_BRK_FAILURE, &tr));
  cr_assert_eq(tr.from, PV_BREAKER_CLOSED);
  cr_assert_eq(tr.to, PV_BREAKER_OPEN);
  cr_assert_eq(tr.open_until_ms, 400);
  cr_assert_str_eq(tr.reason, "5 consecutive failures");
  cr_assert(pv_breaker_would_reject(&b, 399));
  cr_assert_eq(pv_breaker_retry_at(&b, 100), 400);
}

Test(breaker, success_resets_count_but_4xx_and_429_do_not_count)
{
  pv_breaker_t b = mk_breaker(3, 300, 1);
  pv_breaker_transition_t tr;
  call(&b, 1, PV_BRK_FAILURE, &tr);
  call(&b, 1, PV_BRK_FAILURE, &tr);
  call(&b, 1, PV_BRK_SUCCESS, &tr);
  call(&b, 1, PV_BRK_FAILURE, &tr);
  call(&b, 1, PV_BRK_FAILURE, &tr);
  for (int i = 0; i < 10; i++)
    cr_assert_not(call(&b, 1, PV_BRK_NEUTRAL, &tr));
  cr_assert_eq(b.state, PV_BREAKER_CLOSED);
  cr_assert(call(&b, 1, PV_BRK_FAILURE, &tr));
  cr_assert_eq(b.state, PV_BREAKER_OPEN);
}

Test(breaker, half_open_admits_limited_probes_then_closes)
{
  pv_breaker_t b = mk_breaker(1, 300, 2);
  pv_breaker_transition_t tr;
  uint32_t g1, g2, g3;
  bool ch;
  call(&b, 0, PV_BRK_FAILURE, &tr);
  cr_assert_eq(pv_breaker_admit(&b, 299, &g1, &tr, &ch), PV_BRK_REJECT);
  cr_assert_not(ch);
  cr_assert_eq(pv_breaker_admit(&b, 300, &g1, &tr, &ch), PV_BRK_PROBE);
  cr_assert(ch);
  cr_assert_eq(tr.from, PV_BREAKER_OPEN);
  cr_assert_eq(tr.to, PV_BREAKER_HALF_OPEN);
  cr_assert_eq(pv_breaker_admit(&b, 301, &g2, &tr, &ch), PV_BRK_PROBE);
  cr_assert_eq(pv_breaker_admit(&b, 302, &g3, &tr, &ch), PV_BRK_REJECT);
  cr_assert(pv_breaker_would_reject(&b, 302));
  /* a cancelled probe frees its slot without deciding anything */
  cr_assert_not(pv_breaker_record(&b, 303, PV_BRK_PROBE, g2, PV_BRK_CANCELLED, &tr));
  cr_assert_eq(pv_breaker_admit(&b, 304, &g3, &tr, &ch), PV_BRK_PROBE);
  cr_assert(pv_breaker_record(&b, 305, PV_BRK_PROBE, g1, PV_BRK_SUCCESS, &tr));
  cr_assert_eq(tr.to, PV_BREAKER_CLOSED);
  cr_assert_str_eq(tr.reason, "probe succeeded");
  /* the other probe's late answer belongs to a finished period */
  cr_assert_not(pv_breaker_record(&b, 306, PV_BRK_PROBE, g3, PV_BRK_FAILURE, &tr));
  cr_assert_eq(b.state, PV_BREAKER_CLOSED);
}

Test(breaker, probe_failure_reopens)
{
  pv_breaker_t b = mk_breaker(1, 300, 1);
  pv_breaker_transition_t tr;
  uint32_t g;
  bool ch;
  call(&b, 0, PV_BRK_FAILURE, &tr);
  cr_assert_eq(pv_breaker_admit(&b, 1000, &g, &tr, &ch), PV_BRK_PROBE);
  cr_assert(pv_breaker_record(&b, 1010, PV_BRK_PROBE, g, PV_BRK_FAILURE, &tr));
  cr_assert_eq(tr.from, PV_BREAKER_HALF_OPEN);
  cr_assert_eq(tr.to, PV_BREAKER_OPEN);
  cr_assert_eq(tr.open_until_ms, 1310);
  cr_assert(pv_breaker_would_reject(&b, 1309));
}

Test(breaker, neutral_probe_closes_server_is_up)
{
  pv_breaker_t b = mk_breaker(1, 10, 1);
  pv_breaker_transition_t tr;
  uint32_t g;
  bool ch;
  call(&b, 0, PV_BRK_FAILURE, &tr);
  cr_assert_eq(pv_breaker_admit(&b, 10, &g, &tr, &ch), PV_BRK_PROBE);
  cr_assert(pv_breaker_record(&b, 11, PV_BRK_PROBE, g, PV_BRK_NEUTRAL, &tr));
  cr_assert_eq(b.state, PV_BREAKER_CLOSED);
}

Test(breaker, late_failures_do_not_extend_open)
{
  pv_breaker_t b = mk_breaker(1, 300, 1);
  pv_breaker_transition_t tr;
  uint32_t g;
  bool ch;
  pv_breaker_admit_t a = pv_breaker_admit(&b, 0, &g, &tr, &ch);
  call(&b, 0, PV_BRK_FAILURE, &tr);
  cr_assert_not(pv_breaker_record(&b, 200, a, g, PV_BRK_FAILURE, &tr));
  cr_assert_eq(b.open_until_ms, 300);
}

Test(breaker, operator_states)
{
  pv_breaker_t b = mk_breaker(1, 300, 1);
  pv_breaker_transition_t tr;
  uint32_t g;
  bool ch;
  cr_assert(pv_breaker_set(&b, 0, PV_BREAKER_FORCED_OPEN, 0, "op", &tr));
  cr_assert_eq(tr.to, PV_BREAKER_FORCED_OPEN);
  /* forced open never goes half-open by itself */
  cr_assert_eq(pv_breaker_admit(&b, 1000000, &g, &tr, &ch), PV_BRK_REJECT);
  cr_assert_eq(pv_breaker_retry_at(&b, 5), 0);
  cr_assert(pv_breaker_set(&b, 0, PV_BREAKER_DISABLED, 0, "op", &tr));
  for (int i = 0; i < 50; i++)
    cr_assert_not(call(&b, 10, PV_BRK_FAILURE, &tr));
  cr_assert_eq(b.state, PV_BREAKER_DISABLED);
  cr_assert_not(pv_breaker_set(&b, 0, PV_BREAKER_DISABLED, 0, "op", &tr));
  cr_assert(pv_breaker_set(&b, 50, PV_BREAKER_OPEN, 5000, "peer", &tr));
  cr_assert_eq(tr.open_until_ms, 5000);
  cr_assert(pv_breaker_would_reject(&b, 4999));
  cr_assert_eq(pv_breaker_admit(&b, 5000, &g, &tr, &ch), PV_BRK_PROBE);
  cr_assert(pv_breaker_set(&b, 5001, PV_BREAKER_CLOSED, 0, "op", &tr));
  cr_assert_eq(pv_breaker_admit(&b, 5002, &g, &tr, &ch), PV_BRK_PASS);
  cr_assert_str_eq(pv_breaker_state_name(PV_BREAKER_HALF_OPEN), "half_open");
  cr_assert_eq(pv_breaker_state_parse("forced_open"), PV_BREAKER_FORCED_OPEN);
  cr_assert_eq(pv_breaker_state_parse("nope"), -1);
}

Test(breaker, failure_rate_opens_when_enabled)
{
  pv_breaker_t b;
  pv_breaker_conf_t c = {100, 300, 1, 0.5, 10000, 10};
  pv_breaker_init(&b, &c);
  pv_breaker_transition_t tr;
  bool changed = false;
  /* alternate success/failure: never 100 in a row, but 50 % */
  for (int i = 0; i < 10 && !changed; i++)
    changed = call(&b, 1000 + (uint64_t)i,
                   i % 2 ? PV_BRK_FAILURE : PV_BRK_SUCCESS, &tr);
  cr_assert(changed);
  cr_assert_eq(tr.to, PV_BREAKER_OPEN);
  cr_assert(strstr(tr.reason, "failure rate") != NULL);
}

Test(breaker, failure_rate_needs_min_calls)
{
  pv_breaker_t b;
  pv_breaker_conf_t c = {100, 300, 1, 0.5, 10000, 10};
  pv_breaker_init(&b, &c);
  pv_breaker_transition_t tr;
  for (int i = 0; i < 9; i++)
    cr_assert_not(call(&b, 1000, PV_BRK_FAILURE, &tr));
}

/* ---- classification ----------------------------------------------------- */

typedef struct row {
  pv_attempt_kind_t kind;
  long status;
  bool sent, idem;
  bool retry;
  pv_breaker_outcome_t brk;
  pv_errclass_t cls;
} row_t;

Test(classify, table)
{
  static const row_t rows[] = {
    {PV_ATT_HTTP, 200, true, false, false, PV_BRK_SUCCESS, PV_ERR_NONE},
    {PV_ATT_HTTP, 204, true, true, false, PV_BRK_SUCCESS, PV_ERR_NONE},
    {PV_ATT_HTTP, 302, true, true, false, PV_BRK_SUCCESS, PV_ERR_NONE},
    {PV_ATT_HTTP, 400, true, true, false, PV_BRK_NEUTRAL, PV_ERR_HTTP_4XX},
    {PV_ATT_HTTP, 404, true, true, false, PV_BRK_NEUTRAL, PV_ERR_HTTP_4XX},
    {PV_ATT_HTTP, 409, true, false, false, PV_BRK_NEUTRAL, PV_ERR_HTTP_4XX},
    {PV_ATT_HTTP, 429, true, false, true, PV_BRK_NEUTRAL, PV_ERR_RATE_LIMITED},
    {PV_ATT_HTTP, 500, true, true, false, PV_BRK_FAILURE, PV_ERR_HTTP_5XX},
    {PV_ATT_HTTP, 502, true, true, true, PV_BRK_FAILURE, PV_ERR_HTTP_5XX},
    {PV_ATT_HTTP, 502, true, false, false, PV_BRK_FAILURE, PV_ERR_HTTP_5XX},
    {PV_ATT_HTTP, 503, true, false, true, PV_BRK_FAILURE, PV_ERR_HTTP_5XX},
    {PV_ATT_HTTP, 504, true, true, true, PV_BRK_FAILURE, PV_ERR_HTTP_5XX},
    {PV_ATT_HTTP, 504, true, false, false, PV_BRK_FAILURE, PV_ERR_HTTP_5XX},
    {PV_ATT_CONNECT, 0, false, false, true, PV_BRK_FAILURE, PV_ERR_CONNECT},
    {PV_ATT_TLS_VERIFY, 0, false, true, false, PV_BRK_FAILURE, PV_ERR_CONNECT},
    {PV_ATT_TIMEOUT, 0, true, true, true, PV_BRK_FAILURE, PV_ERR_TIMEOUT},
    {PV_ATT_TIMEOUT, 0, true, false, false, PV_BRK_FAILURE, PV_ERR_OUTCOME_UNKNOWN},
    {PV_ATT_RESET, 0, true, true, true, PV_BRK_FAILURE, PV_ERR_CONNECT},
    {PV_ATT_RESET, 0, true, false, false, PV_BRK_FAILURE, PV_ERR_OUTCOME_UNKNOWN},
    {PV_ATT_RESET, 0, false, false, true, PV_BRK_FAILURE, PV_ERR_CONNECT},
    {PV_ATT_TOO_LARGE, 200, true, true, false, PV_BRK_NEUTRAL, PV_ERR_INTERNAL},
    {PV_ATT_TOO_LARGE, 503, true, true, false, PV_BRK_NEUTRAL, PV_ERR_HTTP_5XX},
    {PV_ATT_LOCAL, 0, false, true, false, PV_BRK_NEUTRAL, PV_ERR_INTERNAL},
  };
  for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
    const row_t *w = &rows[i];
    pv_attempt_result_t r = {w->kind, w->status, w->sent};
    pv_verdict_t v = pv_classify(&r, w->idem);
    cr_assert_eq(v.retry, w->retry, "row %zu (status %ld): retry", i, w->status);
    cr_assert_eq(v.breaker, w->brk, "row %zu (status %ld): breaker", i, w->status);
    cr_assert_eq(v.cls, w->cls, "row %zu (status %ld): class %s", i, w->status,
                 pv_errclass_name(v.cls));
  }
}

Test(classify, curl_codes)
{
  cr_assert_eq(pv_classify_curl(CURLE_COULDNT_CONNECT, false), PV_ATT_CONNECT);
  cr_assert_eq(pv_classify_curl(CURLE_COULDNT_RESOLVE_HOST, false), PV_ATT_CONNECT);
  cr_assert_eq(pv_classify_curl(CURLE_OPERATION_TIMEDOUT, false), PV_ATT_CONNECT);
  cr_assert_eq(pv_classify_curl(CURLE_OPERATION_TIMEDOUT, true), PV_ATT_TIMEOUT);
  cr_assert_eq(pv_classify_curl(CURLE_RECV_ERROR, true), PV_ATT_RESET);
  cr_assert_eq(pv_classify_curl(CURLE_GOT_NOTHING, true), PV_ATT_RESET);
  cr_assert_eq(pv_classify_curl(CURLE_PEER_FAILED_VERIFICATION, false),
               PV_ATT_TLS_VERIFY);
  cr_assert_eq(pv_classify_curl(CURLE_WRITE_ERROR, true), PV_ATT_TOO_LARGE);
  cr_assert_eq(pv_classify_curl(CURLE_URL_MALFORMAT, false), PV_ATT_LOCAL);
  cr_assert_eq(pv_classify_curl(CURLE_OK, true), PV_ATT_HTTP);
}

Test(classify, attempt_timeout_is_capped_by_the_deadline)
{
  bool capped;
  cr_assert_eq(pv_attempt_timeout(10000, 0, 5000, &capped), 10000);
  cr_assert_not(capped);
  cr_assert_eq(pv_attempt_timeout(10000, 5400, 5000, &capped), 400);
  cr_assert(capped);
  cr_assert_eq(pv_attempt_timeout(300, 60000, 5000, &capped), 300);
  cr_assert_not(capped);
  /* passed or reached: no attempt at all */
  cr_assert_eq(pv_attempt_timeout(300, 5000, 5000, &capped), 0);
  cr_assert_eq(pv_attempt_timeout(300, 4000, 5000, &capped), 0);
}
