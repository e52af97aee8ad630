/**
 * @file log.h
 * @brief Structured logging: one JSON object per line.
 *
 *   pv_log(PV_LOG_INFO, "http_request.succeeded",
 *          PV_S("service", "voltha"), PV_S("tenant_id", t), PV_I("status", 200));
 *
 * The level is checked before any field is evaluated or formatted. Every
 * line carries "ts", "level" and "event" first. Keys that name secrets
 * ("authorization", "token", "password", "secret", "cookie", any key ending
 * in "_token" or "_password") are written as "[redacted]" whatever the
 * caller passed: the last line of defence, not the first (callers never pass
 * secrets). Lines are written with one write(2), so lines from several
 * threads do not interleave. Lines longer than PV_LOG_LINE_MAX are cut and
 * marked "truncated":true.
 *
 * @locality any thread.
 */
#ifndef PV_COMMON_LOG_H
#define PV_COMMON_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum pv_log_level {
  PV_LOG_DEBUG = 0,
  PV_LOG_INFO,
  PV_LOG_WARN,
  PV_LOG_ERROR,
  PV_LOG_OFF
} pv_log_level_t;

#define PV_LOG_LINE_MAX 4096

typedef enum { PV_KV_STR, PV_KV_INT, PV_KV_DBL, PV_KV_BOOL } pv_kv_type_t;

typedef struct pv_kv {
  const char *key;
  pv_kv_type_t type;
  union {
    const char *s; /* NULL is written as JSON null */
    int64_t i;
    double d;
    bool b;
  } v;
} pv_kv_t;

#define PV_S(k, val) ((pv_kv_t){.key = (k), .type = PV_KV_STR, .v.s = (val)})
#define PV_I(k, val) ((pv_kv_t){.key = (k), .type = PV_KV_INT, .v.i = (int64_t)(val)})
#define PV_D(k, val) ((pv_kv_t){.key = (k), .type = PV_KV_DBL, .v.d = (double)(val)})
#define PV_B(k, val) ((pv_kv_t){.key = (k), .type = PV_KV_BOOL, .v.b = (bool)(val)})

extern volatile int pv_log_min_level;

static inline bool pv_log_enabled(pv_log_level_t level)
{
  return (int)level >= pv_log_min_level;
}

#define pv_log(level, event, ...)                                          \
  do {                                                                     \
    if (pv_log_enabled(level)) {                                           \
      const pv_kv_t pv_kv_[] = {__VA_ARGS__};                              \
      pv_log_kv((level), (event), pv_kv_, sizeof(pv_kv_) / sizeof(pv_kv_[0])); \
    }                                                                      \
  } while (0)

/** @brief Logs an event with no fields beyond a message. */
#define pv_log_msg(level, event, msg) pv_log(level, event, PV_S("msg", msg))

void pv_log_kv(pv_log_level_t level, const char *event, const pv_kv_t *kv,
               size_t n);

/** @brief Parses "debug", "info", "warn", "error", "off". @returns -1 if unknown. */
int pv_log_level_parse(const char *name);
const char *pv_log_level_name(pv_log_level_t level);
void pv_log_set_level(pv_log_level_t level);

/**
 * @brief Where finished lines go (default: stderr). A sink receives the
 * line without its trailing newline. Passing NULL restores stderr.
 * Used by tests to capture lines; set it before other threads log.
 */
typedef void (*pv_log_sink_fn)(const char *line, size_t len, void *arg);
void pv_log_set_sink(pv_log_sink_fn fn, void *arg);

/** @brief Sets a field written on every line (e.g. "worker"), or NULL. */
void pv_log_set_static_field(const char *key, const char *value);

/** @returns true if key names a secret and its value must be redacted. */
bool pv_log_key_is_secret(const char *key);

#endif
