/**
 * @file engine.h
 * @brief The worker engine: drives every consumed record to exactly one
 * durable outcome, a reply and (when it cannot succeed) a dead letter,
 * and only then lets its offset be committed.
 *
 * Per record: decode and validate (jobs/) -> wait in its key's lane (jobs
 * with the same Kafka key run one at a time, in offset order) -> wait for a
 * fair share of the in-flight capacity (weighted round robin across
 * tenants, per-tenant caps) -> claim the job row in PostgreSQL (a job that
 * already finished is not run again: its stored reply is published again)
 * -> execute through the clients -> record the outcome -> publish the reply
 * and, for dead jobs, the dead letter -> report the offset done.
 *
 * @locality the loop thread.
 */
#ifndef PV_WORKER_ENGINE_H
#define PV_WORKER_ENGINE_H

#include "transports/clients.h"
#include "config/config.h"
#include "kafka/kafka.h"
#include "db/store.h"

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

typedef struct pv_engine_s pv_engine_t;

/**
 * @brief Creates the engine and its Kafka clients and joins the group.
 * conf, store and clients are borrowed and must outlive the engine.
 */
pv_engine_t *pv_engine_new(uv_loop_t *loop, const pv_config_t *conf,
                           pv_store_t *store, pv_clients_t *clients,
                           char *errstr, size_t errstr_size);

typedef void (*pv_engine_drained_cb)(bool complete, void *arg);

/**
 * @brief Stops taking new jobs and lets running ones finish, up to
 * conf->drain_timeout_ms. cb(complete) runs once: complete is false when
 * the timeout cut running jobs short (their offsets stay uncommitted, so
 * they run again elsewhere).
 */
void pv_engine_drain(pv_engine_t *eng, pv_engine_drained_cb cb, void *arg);

/**
 * @brief From now on, callbacks that still arrive (from the transport or
 * the store being destroyed) only release their jobs, without recording
 * or publishing anything: those jobs' offsets stay uncommitted. Call it
 * after draining and before destroying the clients and the store.
 */
void pv_engine_shutdown(pv_engine_t *eng);

/** @brief Commits, leaves the group, frees. Run the loop afterwards. */
void pv_engine_destroy(pv_engine_t *eng);

typedef struct pv_engine_stats {
  uint64_t received;
  uint64_t succeeded, failed, dead, republished, parked;
  uint64_t already_published; /**< redelivered records whose reply is known
                                   to be on Kafka: not published again */
  uint64_t reply_stubs;       /**< replies Kafka refused for good, replaced
                                   by a stub */
  uint64_t dead_letter_stubs; /**< dead letters refused for good, sent
                                   without their value */
  uint64_t undeliverable;     /**< replies or dead letters nothing could be
                                   sent for (the row keeps them) */
  uint64_t lease_lost;        /**< runs whose job another worker took over
                                   meanwhile: their outcome not written,
                                   nothing published */
  uint64_t due_claimed;  /**< parked jobs taken from PostgreSQL to run */
  uint64_t invalid;
  int in_flight;       /**< claimed and not yet done */
  int buffered;        /**< every record held, running or waiting */
  bool draining;
  bool fatal;          /**< Kafka reported a fatal error */
} pv_engine_stats_t;

void pv_engine_stats(const pv_engine_t *eng, pv_engine_stats_t *out);

/** What happened to a job, for metrics (one event per transition). */
typedef enum pv_job_event_kind {
  PV_JOB_EV_RECEIVED = 0,  /**< a record was taken from Kafka */
  PV_JOB_EV_STARTED,       /**< a run began (the claim succeeded) */
  PV_JOB_EV_FINISHED,      /**< a final outcome was recorded and published */
  PV_JOB_EV_REJECTED,      /**< the record never became a runnable job */
  PV_JOB_EV_REPUBLISHED,   /**< a finished job's reply was sent again */
  PV_JOB_EV_PARKED         /**< parked in retry_wait for a later attempt */
} pv_job_event_kind_t;

typedef struct pv_job_event {
  pv_job_event_kind_t kind;
  const char *tenant;      /**< NULL when the record did not say */
  const char *service;
  const char *op;
  const char *state;       /**< FINISHED: succeeded, failed or dead */
  const char *error_class; /**< NULL when none */
  int attempts;            /**< FINISHED: HTTP attempts of the run */
  int64_t duration_ms;     /**< FINISHED: received -> finished */
  int64_t queued_ms;       /**< STARTED: received -> started */
} pv_job_event_t;

typedef void (*pv_job_observer_cb)(const pv_job_event_t *ev, void *arg);

/** @brief Sets the one observer of job events (metrics); NULL removes it.
 *  Called on the loop thread; it must not call back into the engine. */
void pv_engine_set_observer(pv_engine_t *eng, pv_job_observer_cb cb,
                            void *arg);
pv_kafka_t *pv_engine_kafka(pv_engine_t *eng);

#endif
