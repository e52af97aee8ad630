#include "common/log.h"

#include "common/clock.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

volatile int pv_log_min_level = PV_LOG_INFO;

static pv_log_sink_fn sink_fn;
static void *sink_arg;
static char static_key[32];
static char static_val[128];

static const char *const level_names[] = {"debug", "info", "warn", "error",
                                          "off"};

int pv_log_level_parse(const char *name)
{
  for (int i = 0; i <= PV_LOG_OFF; i++)
    if (strcasecmp(name, level_names[i]) == 0)
      return i;
  if (strcasecmp(name, "warning") == 0)
    return PV_LOG_WARN;
  return -1;
}

const char *pv_log_level_name(pv_log_level_t level)
{
  if ((unsigned)level > PV_LOG_OFF)
    return "info";
  return level_names[level];
}

void pv_log_set_level(pv_log_level_t level)
{
  pv_log_min_level = (int)level;
}

void pv_log_set_sink(pv_log_sink_fn fn, void *arg)
{
  sink_fn = fn;
  sink_arg = arg;
}

void pv_log_set_static_field(const char *key, const char *value)
{
  if (!key || !value) {
    static_key[0] = '\0';
    return;
  }
  snprintf(static_key, sizeof(static_key), "%s", key);
  snprintf(static_val, sizeof(static_val), "%s", value);
}

bool pv_log_key_is_secret(const char *key)
{
  static const char *const exact[] = {"authorization", "token", "password",
                                      "secret", "cookie", "api_key", NULL};
  static const char *const suffixes[] = {"_token", "_password", "_secret",
                                         NULL};
  for (int i = 0; exact[i]; i++)
    if (strcasecmp(key, exact[i]) == 0)
      return true;
  size_t klen = strlen(key);
  for (int i = 0; suffixes[i]; i++) {
    size_t slen = strlen(suffixes[i]);
    if (klen >= slen && strcasecmp(key + klen - slen, suffixes[i]) == 0)
      return true;
  }
  return false;
}

/* A bounded line builder: appends stop silently at the end and mark the
 * line truncated, so a huge field cannot make a log line unbounded. */
typedef struct line {
  char buf[PV_LOG_LINE_MAX];
  size_t len;
  bool truncated;
} line_t;

static void put(line_t *l, const char *s, size_t n)
{
  /* keep room for the closing: ,"truncated":true}\n */
  const size_t reserve = 24;
  if (l->truncated || l->len + n + reserve > sizeof(l->buf)) {
    /* all or nothing, so an escape sequence is never cut in half */
    l->truncated = true;
    return;
  }
  memcpy(l->buf + l->len, s, n);
  l->len += n;
}

static void puts_(line_t *l, const char *s)
{
  put(l, s, strlen(s));
}

/* A single value longer than this is cut, so one huge field cannot push
 * every other field off the line. */
#define VALUE_MAX 1024

static void put_json_string(line_t *l, const char *s)
{
  static const char hex[] = "0123456789abcdef";
  size_t count = 0;
  put(l, "\"", 1);
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    /* cut only before a UTF-8 lead byte, so the line stays valid UTF-8 */
    if (++count > VALUE_MAX && (*p & 0xC0) != 0x80) {
      put(l, "...", 3);
      break;
    }
    char esc[7];
    switch (*p) {
    case '"': put(l, "\\\"", 2); break;
    case '\\': put(l, "\\\\", 2); break;
    case '\n': put(l, "\\n", 2); break;
    case '\r': put(l, "\\r", 2); break;
    case '\t': put(l, "\\t", 2); break;
    default:
      if (*p < 0x20 || *p == 0x7f) {
        esc[0] = '\\'; esc[1] = 'u'; esc[2] = '0'; esc[3] = '0';
        esc[4] = hex[*p >> 4]; esc[5] = hex[*p & 0xf];
        put(l, esc, 6);
      } else {
        put(l, (const char *)p, 1);
      }
    }
    if (l->truncated)
      break;
  }
  put(l, "\"", 1);
}

static void put_key(line_t *l, const char *key)
{
  put(l, ",", 1);
  put_json_string(l, key);
  put(l, ":", 1);
}

void pv_log_kv(pv_log_level_t level, const char *event, const pv_kv_t *kv,
               size_t n)
{
  line_t l;
  char num[64];
  l.len = 0;
  l.truncated = false;

  puts_(&l, "{\"ts\":\"");
  pv_clock_fmt_rfc3339(pv_clock_wall_ms(), num, sizeof(num));
  puts_(&l, num);
  puts_(&l, "\",\"level\":\"");
  puts_(&l, pv_log_level_name(level));
  puts_(&l, "\",\"event\":");
  put_json_string(&l, event);
  if (static_key[0]) {
    put_key(&l, static_key);
    put_json_string(&l, static_val);
  }
  for (size_t i = 0; i < n; i++) {
    size_t field_start = l.len;
    put_key(&l, kv[i].key);
    if (pv_log_key_is_secret(kv[i].key)) {
      puts_(&l, "\"[redacted]\"");
      if (l.truncated) {
        l.len = field_start;
        break;
      }
      continue;
    }
    switch (kv[i].type) {
    case PV_KV_STR:
      if (kv[i].v.s)
        put_json_string(&l, kv[i].v.s);
      else
        puts_(&l, "null");
      break;
    case PV_KV_INT:
      snprintf(num, sizeof(num), "%lld", (long long)kv[i].v.i);
      puts_(&l, num);
      break;
    case PV_KV_DBL:
      snprintf(num, sizeof(num), "%.6g", kv[i].v.d);
      puts_(&l, num);
      break;
    case PV_KV_BOOL:
      puts_(&l, kv[i].v.b ? "true" : "false");
      break;
    }
    if (l.truncated) {
      l.len = field_start; /* drop the field that did not fit, whole */
      break;
    }
  }
  if (l.truncated) {
    /* put() kept room for this */
    memcpy(l.buf + l.len, ",\"truncated\":true", 17);
    l.len += 17;
  }
  l.buf[l.len++] = '}';
  if (sink_fn) {
    sink_fn(l.buf, l.len, sink_arg);
    return;
  }
  l.buf[l.len++] = '\n';
  (void)!write(STDERR_FILENO, l.buf, l.len);
}
