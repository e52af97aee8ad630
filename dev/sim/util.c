/* Small helpers of the simulator: PRNG, percent coding, paths, numbers,
 * time formatting and IPv4/IPv6 prefix arithmetic. */
#include "dev/sim/sim.h"

#include "common/alloc.h"
#include "common/clock.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint64_t sim_rng_next(uint64_t *state)
{
  uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static int hexval(int c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

char *sim_pct_decode(const char *s, size_t n)
{
  char *out = pv_malloc(n + 1);
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] != '%') {
      out[o++] = s[i];
      continue;
    }
    int hi = i + 1 < n ? hexval((unsigned char)s[i + 1]) : -1;
    int lo = i + 2 < n ? hexval((unsigned char)s[i + 2]) : -1;
    if (hi < 0 || lo < 0) {
      free(out);
      return NULL;
    }
    out[o++] = (char)(hi * 16 + lo);
    i += 2;
  }
  out[o] = '\0';
  return out;
}

char *sim_pct_encode(const char *s)
{
  static const char hex[] = "0123456789ABCDEF";
  size_t n = strlen(s);
  char *out = pv_malloc(n * 3 + 1);
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out[o++] = (char)c;
    } else {
      out[o++] = '%';
      out[o++] = hex[c >> 4];
      out[o++] = hex[c & 15];
    }
  }
  out[o] = '\0';
  return out;
}

/* Only ever grows, so the simulator's clock stays monotonic. */
static _Atomic uint64_t clock_offset_ms;

uint64_t sim_clock_ms(void)
{
  return pv_clock_mono_ms() + atomic_load(&clock_offset_ms);
}

uint64_t sim_clock_offset_ms(void)
{
  return atomic_load(&clock_offset_ms);
}

void sim_clock_advance(uint64_t ms)
{
  atomic_fetch_add(&clock_offset_ms, ms);
}

int64_t sim_clock_wall_at(uint64_t at_ms)
{
  uint64_t now = sim_clock_ms();
  int64_t wall = pv_clock_wall_ms();
  return at_ms < now ? wall - (int64_t)(now - at_ms) : wall;
}

int sim_json_known_keys(const json_t *obj, const char *const *known,
                        size_t nknown, const char *what, char *err,
                        size_t errlen)
{
  const char *key;
  json_t *val;
  json_object_foreach((json_t *)(uintptr_t)obj, key, val)
  {
    bool ok = false;
    for (size_t i = 0; i < nknown && !ok; i++)
      ok = strcmp(key, known[i]) == 0;
    if (!ok) {
      snprintf(err, errlen, "unknown %s field \"%.64s\"", what, key);
      return -1;
    }
  }
  return 0;
}

int sim_json_int(const json_t *obj, const char *name, long long min,
                 long long max, long long *out, char *err, size_t errlen)
{
  json_t *v = json_object_get(obj, name);
  if (!v || json_is_null(v))
    return 0;
  if (!json_is_integer(v) || json_integer_value(v) < min ||
      json_integer_value(v) > max) {
    snprintf(err, errlen, "\"%s\" must be an integer in [%lld, %lld]", name,
             min, max);
    return -1;
  }
  *out = json_integer_value(v);
  return 1;
}

const char *sim_iso(int64_t wall_ms, char *buf, size_t size)
{
  return pv_clock_fmt_rfc3339(wall_ms, buf, size);
}

int sim_split_path(const char *path, char **segs, int max, char **storage)
{
  char *copy = pv_strdup(path[0] == '/' ? path + 1 : path);
  int n = 0;
  char *p = copy;
  *storage = copy;
  for (;;) {
    if (n == max)
      return -1;
    segs[n++] = p;
    char *slash = strchr(p, '/');
    if (!slash)
      break;
    *slash = '\0';
    p = slash + 1;
  }
  return n;
}

int sim_parse_ll(const char *s, long long min, long long max, long long *out)
{
  if (!s || !*s)
    return -1;
  errno = 0;
  char *end = NULL;
  long long v = strtoll(s, &end, 10);
  if (errno || *end || v < min || v > max)
    return -1;
  *out = v;
  return 0;
}

json_t *sim_jsonf(const char *fmt, ...)
{
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  return json_string(buf);
}

/* ---- IP arithmetic ---- */

int sim_ip_parse(const char *s, bool need_mask, sim_ip_t *ip)
{
  char host[64];
  const char *slash = strchr(s, '/');
  size_t hl = slash ? (size_t)(slash - s) : strlen(s);
  if (hl == 0 || hl >= sizeof(host) || (need_mask && !slash))
    return -1;
  memcpy(host, s, hl);
  host[hl] = '\0';
  memset(ip, 0, sizeof(*ip));
  unsigned char bytes[16];
  int maxlen;
  if (inet_pton(AF_INET, host, bytes) == 1) {
    ip->family = 4;
    maxlen = 32;
    for (int i = 0; i < 4; i++)
      ip->addr = (ip->addr << 8) | bytes[i];
  } else if (inet_pton(AF_INET6, host, bytes) == 1) {
    ip->family = 6;
    maxlen = 128;
    for (int i = 0; i < 16; i++)
      ip->addr = (ip->addr << 8) | bytes[i];
  } else {
    return -1;
  }
  ip->plen = maxlen;
  if (slash) {
    long long plen;
    if (sim_parse_ll(slash + 1, 0, maxlen, &plen) < 0)
      return -1;
    ip->plen = (int)plen;
  }
  return 0;
}

const char *sim_ip_fmt(const sim_ip_t *ip, bool with_mask, char *buf,
                       size_t size)
{
  unsigned char bytes[16];
  char host[INET6_ADDRSTRLEN];
  sim_u128_t a = ip->addr;
  if (ip->family == 4) {
    for (int i = 3; i >= 0; i--) {
      bytes[i] = (unsigned char)(a & 0xff);
      a >>= 8;
    }
    inet_ntop(AF_INET, bytes, host, sizeof(host));
  } else {
    for (int i = 15; i >= 0; i--) {
      bytes[i] = (unsigned char)(a & 0xff);
      a >>= 8;
    }
    inet_ntop(AF_INET6, bytes, host, sizeof(host));
  }
  if (with_mask)
    snprintf(buf, size, "%s/%d", host, ip->plen);
  else
    snprintf(buf, size, "%s", host);
  return buf;
}

static sim_u128_t hostmask(const sim_ip_t *ip)
{
  int bits = (ip->family == 4 ? 32 : 128) - ip->plen;
  if (bits <= 0)
    return 0;
  if (bits >= 128)
    return ~(sim_u128_t)0;
  return (((sim_u128_t)1) << bits) - 1;
}

sim_u128_t sim_ip_network(const sim_ip_t *ip)
{
  return ip->addr & ~hostmask(ip);
}

sim_u128_t sim_ip_last(const sim_ip_t *ip)
{
  return sim_ip_network(ip) | hostmask(ip);
}

bool sim_ip_contains(const sim_ip_t *net, const sim_ip_t *host)
{
  if (net->family != host->family)
    return false;
  return host->addr >= sim_ip_network(net) && host->addr <= sim_ip_last(net);
}
