#include "common/error.h"

#include "common/utf8.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const names[PV_ERR__COUNT] = {
  [PV_ERR_NONE] = "none",
  [PV_ERR_INVALID_JOB] = "invalid_job",
  [PV_ERR_UNKNOWN_TENANT] = "unknown_tenant",
  [PV_ERR_UNKNOWN_OP] = "unknown_op",
  [PV_ERR_BAD_ARGS] = "bad_args",
  [PV_ERR_HTTP_4XX] = "http_4xx",
  [PV_ERR_HTTP_5XX] = "http_5xx",
  [PV_ERR_TIMEOUT] = "timeout",
  [PV_ERR_CONNECT] = "connect",
  [PV_ERR_CIRCUIT_OPEN] = "circuit_open",
  [PV_ERR_RATE_LIMITED] = "rate_limited",
  [PV_ERR_DEADLINE_EXCEEDED] = "deadline_exceeded",
  [PV_ERR_OUTCOME_UNKNOWN] = "outcome_unknown",
  [PV_ERR_INTERNAL] = "internal",
  [PV_ERR_REPLY_UNDELIVERABLE] = "reply_undeliverable",
};

const char *pv_errclass_name(pv_errclass_t cls)
{
  if ((unsigned)cls >= PV_ERR__COUNT)
    return "internal";
  return names[cls];
}

int pv_errclass_parse(const char *name)
{
  for (int i = 0; i < PV_ERR__COUNT; i++)
    if (strcmp(names[i], name) == 0)
      return i;
  return -1;
}

void pv_error_set(pv_error_t *err, pv_errclass_t cls, int http_status,
                  const char *fmt, ...)
{
  va_list ap;
  err->cls = cls;
  err->http_status = http_status;
  va_start(ap, fmt);
  int n = vsnprintf(err->message, sizeof(err->message), fmt, ap);
  va_end(ap);
  /* The message goes into log lines and JSON replies, and carries text
   * from outside (job arguments, southbound answers): it is made one
   * printable line of UTF-8 (jansson refuses anything else). A cut to fit
   * goes between characters; a "%.64s" may still have split one, and any
   * byte that starts no character becomes '?'. */
  if (n >= (int)sizeof(err->message))
    err->message[pv_utf8_cut(err->message, sizeof(err->message) - 1)] = '\0';
  unsigned char *m = (unsigned char *)err->message;
  size_t len = strlen(err->message);
  for (size_t i = 0; i < len;) {
    size_t k = pv_utf8_seq(m + i, len - i);
    if (k == 0)
      m[i] = '?';
    else if (k == 1 && (m[i] < 0x20 || m[i] == 0x7f))
      m[i] = ' ';
    i += k ? k : 1;
  }
}

void pv_error_clear(pv_error_t *err)
{
  err->cls = PV_ERR_NONE;
  err->http_status = 0;
  err->message[0] = '\0';
}

bool pv_errclass_is_dead(pv_errclass_t cls)
{
  switch (cls) {
  case PV_ERR_NONE:
  case PV_ERR_HTTP_4XX:
    return false;
  default:
    /* Everything else means "could not be carried out": invalid input
     * that an operator must fix, or a system that stayed unavailable. */
    return true;
  }
}

bool pv_errclass_is_transient(pv_errclass_t cls)
{
  switch (cls) {
  case PV_ERR_CIRCUIT_OPEN:
  case PV_ERR_RATE_LIMITED:
  case PV_ERR_CONNECT:
  case PV_ERR_TIMEOUT:
  case PV_ERR_HTTP_5XX:
    return true;
  default:
    return false;
  }
}
