#include "jobs/trace.h"

#include <string.h>

/* Length of the fields every version shares: "vv-" + 32 + "-" + 16 + "-ff". */
#define V0_LEN 55

static bool lower_hex(const char *s, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
      return false;
  return true;
}

static bool all_zero(const char *s, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (s[i] != '0')
      return false;
  return true;
}

bool pv_traceparent_valid(const char *s, size_t len, const char **why)
{
  const char *reason = NULL;
  if (!s || len < V0_LEN)
    reason = "shorter than 55 bytes";
  else if (len > PV_TRACEPARENT_MAX)
    reason = "longer than 256 bytes";
  else if (s[2] != '-' || s[35] != '-' || s[52] != '-')
    reason = "fields not separated by '-'";
  else if (!lower_hex(s, 2) || !memcmp(s, "ff", 2))
    reason = "version is not two lowercase hex digits other than ff";
  else if (!lower_hex(s + 3, 32) || all_zero(s + 3, 32))
    reason = "trace-id is not 32 lowercase hex digits, not all zero";
  else if (!lower_hex(s + 36, 16) || all_zero(s + 36, 16))
    reason = "parent-id is not 16 lowercase hex digits, not all zero";
  else if (!lower_hex(s + 53, 2))
    reason = "trace-flags is not two lowercase hex digits";
  else if (!memcmp(s, "00", 2) && len != V0_LEN)
    reason = "version 00 is exactly 55 bytes";
  else if (len > V0_LEN && s[V0_LEN] != '-')
    reason = "a later version's fields do not continue with '-'";
  else
    for (size_t i = V0_LEN; i < len && !reason; i++)
      if (s[i] <= ' ' || s[i] > '~')
        reason = "not visible ASCII";
  if (why)
    *why = reason;
  return reason == NULL;
}
