/*
 * Fuzz target: a Retry-After value (transports/retry_after.c), as the
 * transport hands it over: any bytes, not NUL-terminated.
 *
 * Checks: the delay is never negative and never above the cap, for a
 * clock at the epoch, today and far ahead; a date form gives the same
 * delay as its HTTP-date parse; a parsed HTTP-date lies in years
 * 0000..9999 and, printed back as IMF-fixdate, parses to the same second.
 */
#include "fuzz/fuzz.h"

#include "transports/retry_after.h"

#include <string.h>
#include <time.h>

/* 0000-01-01T00:00:00Z and 9999-12-31T23:59:60Z (a leap second is folded
 * into the next minute), in seconds since the epoch. */
#define YEAR0_S (-62167219200LL)
#define YEAR10000_S 253402300800LL

static const int64_t nows[] = {0, 1767225600000LL, 32503680000000LL};

static void check_printed_back(int64_t when)
{
  time_t t = (time_t)when;
  struct tm tm;
  char text[64];
  if (!gmtime_r(&t, &tm) || tm.tm_year + 1900 < 1000 ||
      tm.tm_year + 1900 > 9999)
    return; /* IMF-fixdate has exactly four digits of year */
  size_t n = strftime(text, sizeof(text), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  PV_FUZZ_CHECK(n > 0, "strftime");
  int64_t again = 0;
  PV_FUZZ_CHECK(pv_http_date_parse(text, n, &again) == 0,
                "\"%s\" does not parse", text);
  PV_FUZZ_CHECK(again == when, "\"%s\": %lld, first %lld", text,
                (long long)again, (long long)when);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
  (void)argc;
  (void)argv;
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  const char *s = (const char *)data;
  int64_t when = 0;
  int date_ok = pv_http_date_parse(s, size, &when) == 0;
  if (date_ok) {
    PV_FUZZ_CHECK(when >= YEAR0_S && when <= YEAR10000_S, "date %lld",
                  (long long)when);
    check_printed_back(when);
  }

  for (size_t i = 0; i < sizeof(nows) / sizeof(nows[0]); i++) {
    int64_t delay = -1;
    if (pv_retry_after_parse(s, size, nows[i], &delay) != 0)
      continue;
    PV_FUZZ_CHECK(delay >= 0 && delay <= PV_RETRY_AFTER_MAX_S * 1000,
                  "delay %lld ms", (long long)delay);
    if (date_ok) {
      /* A bare date (no surrounding blanks) is the date form. */
      int64_t want = when * 1000 - nows[i];
      if (want < 0)
        want = 0;
      if (want > PV_RETRY_AFTER_MAX_S * 1000)
        want = PV_RETRY_AFTER_MAX_S * 1000;
      PV_FUZZ_CHECK(delay == want, "delay %lld, date says %lld",
                    (long long)delay, (long long)want);
    }
  }
  return 0;
}
