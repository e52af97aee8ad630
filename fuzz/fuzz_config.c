/*
 * Fuzz target: the configuration file (worker/config.c), read from a
 * memory file through its /proc/self/fd path so no disk is touched.
 *
 * The environment is taken out of the way first (every PROVISIOND_*
 * variable is unset: overrides would mask what the file says), and stdin
 * is /dev/null (netbox_token_file may name /dev/stdin).
 *
 * Checks: a refusal says why in a printable message; a loaded
 * configuration holds what config.h promises: tenants with a valid name
 * and at least one http(s) endpoint, a token wherever NetBox is set,
 * weights and caps in range, finite numbers, backoff caps not below their
 * bases; and it can be handed to the transport (pv_config_http).
 */
#include "fuzz/fuzz.h"

#include "common/log.h"
#include "config/config.h"

#include <math.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

extern char **environ;

static int mem_fd = -1;
static char mem_path[64];

static void clear_environment(void)
{
  /* Unsetting shifts environ: start over after each removal. */
  for (bool again = true; again;) {
    again = false;
    for (char **e = environ; e && *e; e++) {
      if (strncmp(*e, "PROVISIOND_", 11) != 0)
        continue;
      char name[256];
      size_t n = strcspn(*e, "=");
      if (n >= sizeof(name))
        continue;
      memcpy(name, *e, n);
      name[n] = '\0';
      unsetenv(name);
      again = true;
      break;
    }
  }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
  (void)argc;
  (void)argv;
  clear_environment();
  if (!freopen("/dev/null", "r", stdin)) {
    perror("fuzz_config: /dev/null");
    abort();
  }
  mem_fd = memfd_create("pv-fuzz-config", 0);
  if (mem_fd < 0) {
    perror("fuzz_config: memfd_create");
    abort();
  }
  snprintf(mem_path, sizeof(mem_path), "/proc/self/fd/%d", mem_fd);
  return 0;
}

static bool http_url(const char *u)
{
  return u && (!strncmp(u, "http://", 7) || !strncmp(u, "https://", 8));
}

static void check_tenant(const pv_tenant_entry_t *t)
{
  size_t n = strlen(t->name);
  PV_FUZZ_CHECK(n >= 1 && n <= 64, "tenant name length %zu", n);
  PV_FUZZ_CHECK(strspn(t->name, "abcdefghijklmnopqrstuvwxyz"
                                "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") == n,
                "tenant name \"%s\"", t->name);
  const char *urls[] = {t->voltha_url, t->genieacs_url, t->netbox_url};
  bool any = false;
  for (int i = 0; i < 3; i++) {
    if (!urls[i] || !*urls[i])
      continue;
    any = true;
    PV_FUZZ_CHECK(http_url(urls[i]), "tenant %s url \"%s\"", t->name,
                  urls[i]);
  }
  PV_FUZZ_CHECK(any, "tenant %s has no endpoint", t->name);
  if (t->netbox_url && *t->netbox_url)
    PV_FUZZ_CHECK(t->netbox_token && *t->netbox_token,
                  "tenant %s: netbox without a token", t->name);
  PV_FUZZ_CHECK(t->weight >= 1 && t->weight <= 1000, "weight %d", t->weight);
  PV_FUZZ_CHECK(t->max_in_flight >= 0 && t->max_in_flight <= 1000000,
                "max_in_flight %d", t->max_in_flight);
}

static void check_config(const pv_config_t *c)
{
  PV_FUZZ_CHECK(c->worker_id && *c->worker_id, "no worker id");
  PV_FUZZ_CHECK(c->log_level && pv_log_level_parse(c->log_level) >= 0,
                "log_level");
  PV_FUZZ_CHECK(c->kafka_brokers && *c->kafka_brokers, "brokers");
  PV_FUZZ_CHECK(c->kafka_topics && *c->kafka_topics, "topics");
  PV_FUZZ_CHECK(c->pg_conninfo && *c->pg_conninfo, "conninfo");
  PV_FUZZ_CHECK(c->max_in_flight >= 1, "max_in_flight %d", c->max_in_flight);
  PV_FUZZ_CHECK(c->max_buffered >= c->max_in_flight, "max_buffered %d",
                c->max_buffered);
  PV_FUZZ_CHECK(c->retry_backoff_cap_ms >= c->retry_backoff_base_ms,
                "backoff cap %d < base %d", c->retry_backoff_cap_ms,
                c->retry_backoff_base_ms);
  PV_FUZZ_CHECK(c->park_backoff_cap_ms >= c->park_backoff_base_ms,
                "park cap %d < base %d", c->park_backoff_cap_ms,
                c->park_backoff_base_ms);
  PV_FUZZ_CHECK(isfinite(c->budget_ratio) && c->budget_ratio >= 0,
                "budget_ratio %g", c->budget_ratio);
  PV_FUZZ_CHECK(isfinite(c->budget_min_per_sec) && c->budget_min_per_sec >= 0,
                "budget_min_per_sec %g", c->budget_min_per_sec);
  PV_FUZZ_CHECK(c->n_tenants <= PV_CONFIG_MAX_TENANTS, "%zu tenants",
                c->n_tenants);
  PV_FUZZ_CHECK(c->n_kafka_props <= PV_CONFIG_MAX_KAFKA_PROPS, "%zu props",
                c->n_kafka_props);
  for (size_t i = 0; i < c->n_kafka_props; i++)
    PV_FUZZ_CHECK(strchr(c->kafka_props[i].name, '.'), "kafka prop \"%s\"",
                  c->kafka_props[i].name);
  for (size_t i = 0; i < c->n_tenants; i++) {
    check_tenant(&c->tenants[i]);
    PV_FUZZ_CHECK(pv_config_tenant(c, c->tenants[i].name) == &c->tenants[i],
                  "tenant %s is there twice", c->tenants[i].name);
  }

  PV_FUZZ_CHECK(c->http_connect_timeout_ms > 0, "connect timeout %d",
                c->http_connect_timeout_ms);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (ftruncate(mem_fd, 0) != 0 ||
      pwrite(mem_fd, data, size, 0) != (ssize_t)size) {
    perror("fuzz_config: memfd");
    abort();
  }
  char err[512];
  pv_config_t *c = pv_config_load(mem_path, err, sizeof(err));
  if (!c) {
    PV_FUZZ_CHECK(err[0] != '\0', "refused without a reason");
    PV_FUZZ_CHECK(memchr(err, '\0', sizeof(err)) != NULL, "unterminated");
    return 0;
  }
  check_config(c);
  pv_config_destroy(c);
  return 0;
}
