/**
 * @file store.h
 * @brief The job table and breaker tables as the worker writes them: the
 * domain SQL on top of the asynchronous PostgreSQL layer (pg.h).
 *
 * Every write is an idempotent statement keyed by (job id, tenant) or by
 * (service, tenant, endpoint): when the connection drops with a write in
 * flight, or PostgreSQL answers with a transient error, the store sends it
 * again (full-jitter backoff, 50 ms doubling to 5 s), and running it twice
 * changes nothing. Callers therefore see a write succeed, or fail only for
 * a permanent statement error or because the store or the pg layer is
 * closing.
 *
 * Every write's callback runs exactly once, later, on the loop thread -
 * except when the pg layer was already destroyed: then it runs at once,
 * with failure.
 *
 * @locality the loop thread.
 */
#ifndef PV_DB_STORE_H
#define PV_DB_STORE_H

#include "common/error.h"
#include "db/pg.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct pv_store_s pv_store_t;

/** @brief pg is borrowed: it must outlive the store (see pv_store_close). */
pv_store_t *pv_store_new(uv_loop_t *loop, pv_pg_t *pg, const char *worker_id);

/**
 * @brief Closes the store: writes waiting for their next try fail now
 * (their callbacks run inside this call, with failure); writes already in
 * the pg layer keep their course and fail at the latest when it is
 * destroyed. The store frees itself once the last of them has had its
 * callback, so the callers of those writes must still be alive then:
 * close the store, then destroy the pg layer, then free the callers. The
 * store must not be used after this call (a write would fail at once).
 * NULL is fine.
 */
void pv_store_close(pv_store_t *store);

/** What a job is, for the claim: the row's identity and provenance. The
 *  Kafka key and the correlation id are bytes (stored as bytea). */
typedef struct pv_store_job {
  const char *job_id, *tenant, *service, *op;
  const void *ordering_key;   /**< the Kafka key, NULL if none */
  size_t ordering_key_len;
  const char *source_topic;
  int32_t source_partition;
  int64_t source_offset;
  const char *reply_topic, *content_type;
  const void *correlation_id; /**< the header's bytes, NULL if none */
  size_t correlation_id_len;
  const void *payload;
  size_t payload_len;
  const char *headers_json;   /**< [[name, value|null], ...], names and
                                   values in common/bytes.h's JSON form */
  int64_t received_at_ms, deadline_ms;
  int lease_ms;
} pv_store_job_t;

typedef enum pv_claim_status {
  PV_CLAIM_OK = 0,     /**< ours to run */
  PV_CLAIM_FINAL,      /**< already finished: republish its reply */
  PV_CLAIM_BUSY,       /**< running elsewhere under a live lease */
  PV_CLAIM_PARKED,     /**< parked (behind an earlier job of its key, or
                            already waiting for its next attempt) */
  PV_CLAIM_REUSED,     /**< the tenant's id names another job (service, op
                            or payload differ): refuse this record */
  PV_CLAIM_ERROR       /**< the store is shutting down */
} pv_claim_status_t;

typedef struct pv_claim {
  pv_claim_status_t status;
  int runs;             /**< executions started, this one included */
  int reached;          /**< earlier runs that sent a request */
  /** OK: an earlier run was cut off (the row was running when its lease
   *  ran out): it may have sent its request. */
  bool interrupted;
  /* For PV_CLAIM_FINAL: */
  const char *state;    /**< "succeeded", "failed" or "dead" */
  const void *reply;    /**< the encoded reply stored with the outcome */
  size_t reply_len;
  const char *reply_topic;
  const char *dlq_topic; /**< set when the job was dead-lettered */
  const char *error_class;   /**< last error, NULL if none */
  const char *error_message;
  int attempts;
  bool published;       /**< its reply and dead letter are known to be on
                             Kafka, and the outcome came from this very
                             record (same source position): nothing to
                             publish again */
  /* For PV_CLAIM_REUSED: the job the id names (with state above). */
  const char *service, *op;
  /* For PV_CLAIM_BUSY: */
  int64_t lease_left_ms;
  const char *worker_id;    /**< BUSY: who runs it; PARKED: "behind <id>" */
} pv_claim_t;

typedef void (*pv_claim_cb)(const pv_claim_t *claim, void *arg);

/** @brief Inserts the job as running, or reports why it must not run.
 *  Rows are keyed by (job_id, tenant): job ids are unique per tenant. */
void pv_store_claim(pv_store_t *store, const pv_store_job_t *job,
                    pv_claim_cb cb, void *arg);

/** A run's outcome. */
typedef struct pv_store_outcome {
  const char *job_id, *tenant;
  const char *state;        /**< succeeded, failed, dead or retry_wait */
  int attempts;             /**< HTTP attempts of this run */
  const char *result_json;  /**< may be NULL */
  const pv_error_t *err;    /**< NULL or cls NONE when succeeded */
  const void *reply;        /**< encoded reply (republished on redelivery) */
  size_t reply_len;
  const char *reply_topic;
  const char *dlq_topic;    /**< NULL unless dead-lettered */
  int64_t next_attempt_ms;  /**< retry_wait only */
  const char *retry_reason; /**< retry_wait only */
  const char *breaker_state;/**< breaker seen at decision time, or NULL */
  int run;                  /**< the row's runs when this run began (the
                                 claim's or the due scan's), so the write
                                 is fenced; 0: not fenced */
} pv_store_outcome_t;

typedef void (*pv_store_done_cb)(bool ok, void *arg);

typedef enum pv_store_finish {
  PV_FINISH_OK = 0,  /**< the row holds this run's outcome */
  PV_FINISH_FAILED,  /**< refused for good, or the store is closing */
  PV_FINISH_LOST     /**< the row is no longer this run's: another worker
                          took the job over (this run was cut off from
                          PostgreSQL past its lease); its outcome stands,
                          and this run must publish nothing */
} pv_store_finish_t;

typedef void (*pv_store_finish_cb)(pv_store_finish_t st, void *arg);

/** @brief Records a run's outcome, if the row is still that run's (see
 *  pv_store_outcome_t.run); a no-op if the row is already final. */
void pv_store_finish(pv_store_t *store, const pv_store_outcome_t *out,
                     pv_store_finish_cb cb, void *arg);

/**
 * @brief Records a record that never became a runnable job (undecodable,
 * invalid, unknown tenant/op): a 'dead' row, so dashboards count it. job
 * fields may be NULL where the record did not carry them; a record
 * without a usable id is stored as "invalid:<topic>:<partition>:<offset>",
 * and so is one whose id the tenant already uses for another job.
 */
void pv_store_record_invalid(pv_store_t *store, const pv_store_job_t *job,
                             const pv_error_t *err, const char *dlq_topic,
                             pv_store_done_cb cb, void *arg);

/** A parked job (or one whose worker's lease ran out) claimed to run now,
 * with everything needed to run it without its Kafka record. */
typedef struct pv_due_job {
  const char *job_id, *tenant;
  const void *ordering_key;  /**< the Kafka key's bytes, NULL if none */
  size_t ordering_key_len;
  const char *source_topic;
  int32_t source_partition;
  int64_t source_offset;
  const char *reply_topic, *content_type;
  const void *payload;      /**< the original record value */
  size_t payload_len;
  const char *headers_json; /**< as stored: [[name, value|null], ...] */
  int64_t received_at_ms, deadline_ms;
  int runs, reached, attempts;
  bool interrupted; /**< taken over from a run whose lease ran out */
} pv_due_job_t;

/** Called once per claimed job, then once with job NULL (end of batch). */
typedef void (*pv_due_cb)(const pv_due_job_t *job, void *arg);

/**
 * @brief Claims up to max due jobs: parked ones whose next attempt has
 * come, and running ones whose lease expired (their worker died), never
 * one with an earlier unfinished job of the same key, and only jobs that
 * came from topics (a PostgreSQL array literal, "{a,b}"): the topics this
 * worker consumes, so fleets for different topics can share one database.
 * Each is marked
 * running under this worker's lease. The caller must run every job it is
 * handed (or park it again).
 */
void pv_store_claim_due(pv_store_t *store, int max, int lease_ms,
                        const char *topics, pv_due_cb cb, void *arg);

/** A job whose reply (and dead letter) the broker acknowledged. */
typedef struct pv_store_published {
  const char *job_id, *tenant;
  int runs;              /**< the row's runs when the outcome was made */
} pv_store_published_t;

/**
 * @brief Records that the broker acknowledged the replies and dead letters
 * of these jobs' current outcomes (job_status.published_at), in one
 * statement; a later outcome of the same row (another run) is not
 * marked. Best effort: a lost write only means those replies are
 * published again if their records are redelivered.
 */
void pv_store_mark_published(pv_store_t *store,
                             const pv_store_published_t *jobs, size_t n);

/** @brief Extends the lease of every job this worker is running. */
void pv_store_renew_leases(pv_store_t *store, int lease_ms);

/** @returns the claim statement's text (for the test that checks its
 *  plan on a loaded table: it runs for every job). */
const char *pv_store_claim_sql(void);
/** @returns the due-job scan's text (for the same test). */
const char *pv_store_due_sql(void);

/** The NOTIFY channel breaker changes are announced on (payload: JSON
 * {"service","tenant","endpoint"}; endpoint null or "*" = all of them). */
#define PV_STORE_BREAKER_CHANNEL "provisiond_breaker"

/** @brief Persists a breaker transition (state row + history row) and
 *  announces it to the fleet. */
void pv_store_breaker_change(pv_store_t *store, const char *service,
                             const char *tenant, const char *endpoint,
                             const char *from, const char *to,
                             const char *reason, int64_t open_until_ms);

#endif
