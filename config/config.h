/**
 * @file config.h
 * @brief provisiond's configuration: one INI file (inih), environment
 * overrides, and a table that gives every key its type, bounds, default and
 * description (docs/configuration.md is generated from that table).
 *
 * Sections and keys:
 *   [worker] [http] [postgres] — keys in the table (config.c)
 *   [kafka]   — table keys (brokers, group_id, topics, ...), and every key
 *               that contains a dot (session.timeout.ms, ...) goes straight
 *               to librdkafka, checked by librdkafka at start-up
 *   [tenant.NAME] — one per tenant: endpoints and credentials
 *
 * Environment: PROVISIOND_<SECTION>_<KEY> (upper case, dots and dashes as
 * '_') overrides a table key, e.g. PROVISIOND_KAFKA_BROKERS; the short
 * PROVISIOND_PG means postgres.conninfo.
 *
 * Secrets are never stored inline: netbox_token_env / netbox_token_file
 * name where the token is; it is read once at load time.
 */
#ifndef PV_CONFIG_CONFIG_H
#define PV_CONFIG_CONFIG_H

#include "common/error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define PV_CONFIG_MAX_TENANTS 256
#define PV_CONFIG_MAX_KAFKA_PROPS 128

typedef struct pv_kafka_prop {
  char *name;
  char *value;
  int line;
} pv_kafka_prop_t;

typedef struct pv_tenant_entry {
  char *name;
  char *voltha_url;
  char *genieacs_url;
  char *netbox_url;
  char *netbox_token;      /**< resolved secret, never logged */
  char *netbox_token_env;
  char *netbox_token_file;
  int weight;              /**< fair-share weight, default 1 */
  int max_in_flight;       /**< 0 = the worker default */
  int line;                /**< where the section starts */
} pv_tenant_entry_t;

typedef struct pv_config {
  /* [worker] */
  char *worker_id;
  char *log_level;
  char *metrics_listen;
  int max_in_flight;
  int max_in_flight_per_tenant;
  int max_in_flight_per_topic;
  int max_buffered;
  int drain_timeout_ms;
  int lease_ms;
  long long default_deadline_ms;
  int max_attempts_cap;
  int job_max_attempts;
  int retry_poll_ms;
  int park_backoff_base_ms;
  int park_backoff_cap_ms;
  char *orders_dir;        /**< the order types' folder (never NULL) */
  bool orders_dir_set;     /**< set by the file or the environment; false:
                                the default, which may be absent */
  /* [kafka] */
  char *kafka_brokers;
  char *kafka_group_id;
  char *kafka_topics;      /**< comma-separated */
  char **kafka_topic_list; /**< kafka_topics split: the job topics */
  size_t n_kafka_topics;
  char *kafka_results_topic;
  char *kafka_dlq_suffix;
  int kafka_reply_max_bytes;
  pv_kafka_prop_t kafka_props[PV_CONFIG_MAX_KAFKA_PROPS];
  size_t n_kafka_props;
  /* [postgres] */
  char *pg_conninfo;
  /* [http] */
  int http_connect_timeout_ms;
  bool http_tls_verify;
  char *http_ca_path;
  int http_max_connections;
  int http_max_idle;
  int retry_max_attempts;
  int retry_backoff_base_ms;
  int retry_backoff_cap_ms;
  int retry_after_max_ms;
  double budget_ratio;
  double budget_min_per_sec;
  int breaker_fail_max;
  int breaker_reset_timeout_ms;
  int breaker_half_open_max;
  /* [tenant.*] */
  pv_tenant_entry_t tenants[PV_CONFIG_MAX_TENANTS];
  size_t n_tenants;
  char *path;              /**< the file it was loaded from */
} pv_config_t;

/**
 * @brief Loads path (NULL = defaults only), applies the environment, checks
 * every value and reads the tenants' secrets.
 * @returns a config, or NULL with errstr like
 * "provisiond.conf:12: [kafka] brokers: must not be empty".
 */
pv_config_t *pv_config_load(const char *path, char *errstr, size_t errstr_size);
void pv_config_destroy(pv_config_t *conf);

/**
 * @brief Whether replies must not go to topic: it is one of the job topics
 * this worker consumes ("a job topic"), or the dead-letter topic of one
 * ("the dead-letter topic of provisioning.jobs"): a reply there would come
 * back as a job, or be replayed as one.
 * @returns NULL when replies may go there, else what the topic is, for
 * messages (written to buf, which has room for buflen bytes).
 */
const char *pv_config_fleet_topic(const pv_config_t *conf, const char *topic,
                                  char *buf, size_t buflen);

/**
 * @brief The check a job's reply topic passes at intake (worker and
 * provctl alike): not a topic of pv_config_fleet_topic().
 * @param field what named it, for the message: "field \"reply_to\"" or
 * "header \"reply-to\"".
 * @returns 0, or -1 with err (invalid_job, naming the field and topic).
 */
int pv_config_check_reply_topic(const pv_config_t *conf, const char *field,
                                const char *topic, pv_error_t *err);

/** @returns the tenant entry, or NULL. */
const pv_tenant_entry_t *pv_config_tenant(const pv_config_t *conf,
                                          const char *name);

/** @brief Writes the key table as Markdown (docs/configuration.md). */
void pv_config_dump_markdown(FILE *out);

/**
 * @brief Writes a commented example configuration: every table key with
 * its description and default, commented out, and a commented tenant
 * section. It loads as it is (defaults only, no tenant); the packages
 * install it as /etc/provisiond/provisiond.conf.
 */
void pv_config_dump_example(FILE *out);

#endif
