#include "transports/retry_after.h"

#include <stdbool.h>
#include <string.h>

static const char *const months[12] = {"Jan", "Feb", "Mar", "Apr",
                                       "May", "Jun", "Jul", "Aug",
                                       "Sep", "Oct", "Nov", "Dec"};
static const char *const wdays_short[7] = {"Mon", "Tue", "Wed", "Thu",
                                           "Fri", "Sat", "Sun"};
static const char *const wdays_long[7] = {"Monday", "Tuesday", "Wednesday",
                                          "Thursday", "Friday", "Saturday",
                                          "Sunday"};

/* A cursor over the bytes being parsed; every reader checks the end. */
typedef struct cur {
  const char *p, *end;
} cur_t;

static bool lit(cur_t *c, const char *s)
{
  size_t n = strlen(s);
  if ((size_t)(c->end - c->p) < n || memcmp(c->p, s, n) != 0)
    return false;
  c->p += n;
  return true;
}

/* Exactly `width` digits (width 0: one or two digits, for asctime's day). */
static bool digits(cur_t *c, int width, int *out)
{
  int v = 0, n = 0;
  int maxw = width ? width : 2;
  while (n < maxw && c->p < c->end && *c->p >= '0' && *c->p <= '9') {
    v = v * 10 + (*c->p - '0');
    c->p++;
    n++;
  }
  if (n == 0 || (width && n != width))
    return false;
  *out = v;
  return true;
}

static bool month(cur_t *c, int *mon)
{
  if (c->end - c->p < 3)
    return false;
  for (int i = 0; i < 12; i++) {
    /* HTTP-date names are case-sensitive (RFC 9110 §5.6.7). */
    if (memcmp(c->p, months[i], 3) == 0) {
      c->p += 3;
      *mon = i + 1;
      return true;
    }
  }
  return false;
}

static bool wday(cur_t *c, const char *const *names)
{
  for (int i = 0; i < 7; i++)
    if (lit(c, names[i]))
      return true;
  return false;
}

static bool hms(cur_t *c, int *h, int *m, int *s)
{
  return digits(c, 2, h) && lit(c, ":") && digits(c, 2, m) && lit(c, ":") &&
         digits(c, 2, s);
}

/* Days since 1970-01-01 for a proleptic Gregorian date (the usual
 * era-based civil calendar computation). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

static int days_in_month(int y, int m)
{
  static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : dim[m - 1];
}

int pv_http_date_parse(const char *s, size_t len, int64_t *epoch_s)
{
  cur_t c = {s, s + len};
  int y = 0, mon = 0, d = 0, h = 0, mi = 0, sec = 0;

  if (wday(&c, wdays_short) && lit(&c, ", ")) {
    /* IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT */
    if (!(digits(&c, 2, &d) && lit(&c, " ") && month(&c, &mon) &&
          lit(&c, " ") && digits(&c, 4, &y) && lit(&c, " ") &&
          hms(&c, &h, &mi, &sec) && lit(&c, " GMT")))
      return -1;
  } else if ((c.p = s, wday(&c, wdays_long)) && lit(&c, ", ")) {
    /* RFC 850: Sunday, 06-Nov-94 08:49:37 GMT. Two-digit years: 70-99 are
     * 19xx, 00-69 are 20xx (a fixed pivot keeps this pure; the form has
     * been obsolete since 1996). */
    if (!(digits(&c, 2, &d) && lit(&c, "-") && month(&c, &mon) &&
          lit(&c, "-") && digits(&c, 2, &y) && lit(&c, " ") &&
          hms(&c, &h, &mi, &sec) && lit(&c, " GMT")))
      return -1;
    y += y >= 70 ? 1900 : 2000;
  } else {
    /* asctime: Sun Nov  6 08:49:37 1994 */
    c.p = s;
    if (!(wday(&c, wdays_short) && lit(&c, " ") && month(&c, &mon) &&
          lit(&c, " ")))
      return -1;
    if (c.p < c.end && *c.p == ' ')
      c.p++;
    if (!(digits(&c, 0, &d) && lit(&c, " ") && hms(&c, &h, &mi, &sec) &&
          lit(&c, " ") && digits(&c, 4, &y)))
      return -1;
  }
  if (c.p != c.end)
    return -1;
  /* 60 seconds allows a leap second; it is folded into the next minute. */
  if (d < 1 || d > days_in_month(y, mon) || h > 23 || mi > 59 || sec > 60)
    return -1;
  *epoch_s = days_from_civil(y, mon, d) * 86400 + h * 3600 + mi * 60 + sec;
  return 0;
}

static bool is_ws(char ch)
{
  return ch == ' ' || ch == '\t';
}

int pv_retry_after_parse(const char *value, size_t len, int64_t now_wall_ms,
                         int64_t *delay_ms)
{
  const char *p = value, *end = value + len;
  while (p < end && is_ws(*p))
    p++;
  while (end > p && (is_ws(end[-1]) || end[-1] == '\r' || end[-1] == '\n'))
    end--;
  if (p == end)
    return -1;

  if (*p >= '0' && *p <= '9') {
    int64_t secs = 0;
    for (; p < end; p++) {
      if (*p < '0' || *p > '9')
        return -1;
      /* saturate instead of overflowing on absurd values */
      if (secs < PV_RETRY_AFTER_MAX_S)
        secs = secs * 10 + (*p - '0');
    }
    if (secs > PV_RETRY_AFTER_MAX_S)
      secs = PV_RETRY_AFTER_MAX_S;
    *delay_ms = secs * 1000;
    return 0;
  }

  int64_t when_s;
  if (pv_http_date_parse(p, (size_t)(end - p), &when_s) != 0)
    return -1;
  int64_t delay = when_s * 1000 - now_wall_ms;
  if (delay < 0)
    delay = 0; /* a date in the past means "now" */
  if (delay > PV_RETRY_AFTER_MAX_S * 1000)
    delay = PV_RETRY_AFTER_MAX_S * 1000;
  *delay_ms = delay;
  return 0;
}
