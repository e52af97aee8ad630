/**
 * @file pg.h
 * @brief Asynchronous PostgreSQL on the worker's libuv loop (libpq pipeline
 * mode), plus a small blocking API for the CLI and startup.
 *
 * The only module that includes libpq-fe.h; no libpq type crosses this
 * header.
 *
 * ## How queries travel
 *
 * pv_pg_query() copies the SQL and parameters into a queue and returns. Once
 * per loop iteration (a uv_idle handle, at the start of the next iteration) the
 * queue is sent as *batches*: up to max_batch statements followed by one
 * Sync. Several batches may be in flight at once (pipelining). Every
 * statement text is prepared once per connection (a cache keyed by the SQL
 * text, capped; past the cap statements run unnamed).
 *
 * A batch is one implicit transaction (the server commits at the Sync), so:
 *  - callbacks of a batch run when its Sync arrives, i.e. when the writes
 *    are committed, in submission order;
 *  - if one statement fails, the server rolls back the others of its batch
 *    (those before it) and skips those after it. The failing statement's
 *    callback gets its error; every other statement of the batch is
 *    re-sent automatically, each alone in its own batch, and its callback
 *    runs with that outcome. A failure therefore never fails a neighbour;
 *    the only visible effect is that the retried neighbours' callbacks run
 *    after later batches' callbacks.
 *  - A statement that fails with SQLSTATE class 40 (deadlock detected,
 *    serialization failure: transient, and likelier with bigger
 *    transactions) is re-sent alone up to PV_PG_MAX_TRANSIENT_RETRIES times
 *    before its error is reported.
 *  - Do not send transaction control (BEGIN/COMMIT), COPY, or statements
 *    that cannot run in a transaction block (CREATE DATABASE, VACUUM)
 *    through pv_pg_query. One logical operation = one statement (use a CTE
 *    for several writes that must be atomic).
 *
 * ## Connection loss and the idempotency contract
 *
 * The connection is made without blocking (PQconnectStart/PQconnectPoll)
 * and remade after any loss with exponential backoff (100 ms doubling to
 * 5 s, with jitter). While disconnected, queries queue (bounded by
 * max_queue) and are sent after the reconnect, in order.
 *
 * When the connection drops, each in-flight query is settled this way:
 *  - its batch already had a statement error: nothing of that batch can
 *    have committed, so the failing statement gets its error and the
 *    others are re-sent after the reconnect (they never ran);
 *  - otherwise the batch may have committed or not: the callback runs with
 *    pv_pg_result_connection_lost() true and the caller decides - unless
 *    the query was sent with PV_PG_RETRY, in which case it is re-sent after
 *    the reconnect (at most PV_PG_MAX_RESENDS times, then reported lost).
 *
 * CONTRACT for callers: every write sent through this module must be safe
 * to run twice (an idempotent upsert keyed by job id or the breaker key, or
 * an UPDATE that sets absolute values), because a write whose outcome was
 * unknown is re-run (by PV_PG_RETRY or by the caller). Non-idempotent
 * statements (counters, claims) must not use PV_PG_RETRY and must reconcile
 * a connection_lost outcome themselves.
 *
 * ## NOTIFY
 *
 * pv_pg_listen() registers a channel; LISTEN is sent now (when connected)
 * and again after every reconnect. Notifications sent while disconnected are
 * lost (PostgreSQL does not keep them): treat NOTIFY as a wake-up, keep the
 * truth in a table and re-read it when the state callback reports a
 * reconnect.
 *
 * ## Lifetime
 *
 * Every callback runs on the loop thread, from a libuv callback (never from
 * inside pv_pg_query). A callback may call pv_pg_query and even
 * pv_pg_destroy. After pv_pg_destroy the loop must run once more so libuv
 * can release the handles (as for any libuv handle).
 *
 * Known limit: a host *name* in the conninfo is resolved synchronously by
 * libpq inside PQconnectPoll; give hostaddr= (or an IP) where a stalled DNS
 * must not stall the loop.
 *
 * @locality the loop thread of the uv_loop_t given to pv_pg_new (all
 * pv_pg_* except pv_pg_sync_* and the result accessors, which any thread
 * may use on its own objects).
 */
#ifndef PV_DB_PG_H
#define PV_DB_PG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <uv.h>

typedef struct pv_pg_s pv_pg_t;

/* ------------------------------------------------------------------ */
/* Results                                                             */
/* ------------------------------------------------------------------ */

/** Opaque; in a pv_pg_cb valid only during the callback. */
typedef struct pv_pg_result pv_pg_result_t;

/** @returns 1 if the statement succeeded (command or tuples ok), else 0. */
int pv_pg_result_ok(const pv_pg_result_t *r);
/** @returns the number of rows (0 for commands and errors). */
int pv_pg_result_ntuples(const pv_pg_result_t *r);
int pv_pg_result_nfields(const pv_pg_result_t *r);
/** @returns the value as text, or NULL for SQL NULL or a row/col out of
 *  range (use pv_pg_result_ntuples/nfields to tell them apart). */
const char *pv_pg_result_get(const pv_pg_result_t *r, int row, int col);
/** @brief Like pv_pg_result_get, by column name (PQfnumber rules: lower
 *  case unless double-quoted). NULL if there is no such column. */
const char *pv_pg_result_field(const pv_pg_result_t *r, const char *name,
                               int row);
/** @returns rows affected by an INSERT/UPDATE/DELETE (and rows of a
 *  SELECT), or -1 when not applicable. */
long pv_pg_result_affected(const pv_pg_result_t *r);
/** @returns the SQLSTATE ("23505"), "08006" for a lost connection, "" when
 *  ok or for local errors (shutting down). Never NULL. */
const char *pv_pg_result_sqlstate(const pv_pg_result_t *r);
/** @returns a one-line error message ("" when ok): PostgreSQL's primary
 *  message, or the libpq connection error. Never holds conninfo or
 *  password. Never NULL. */
const char *pv_pg_result_error(const pv_pg_result_t *r);
/** @returns the 1-based character position of a statement error in the
 *  SQL text, or 0 when the server gave none. */
int pv_pg_result_error_position(const pv_pg_result_t *r);
/** @returns true if the connection was lost while the query was in
 *  flight: it may or may not have been committed. */
bool pv_pg_result_connection_lost(const pv_pg_result_t *r);

/** @returns true if pv_pg_destroy settled the query: it was dropped
 *  before it was sent, or cut off in flight (then connection_lost is true
 *  too). Sending it again is pointless: the handle is gone. */
bool pv_pg_result_closed(const pv_pg_result_t *r);

/** @brief Frees a result returned by pv_pg_sync_*. NULL is fine. Results
 *  passed to a pv_pg_cb are owned by the module: never free those. */
void pv_pg_result_free(pv_pg_result_t *r);

/* ------------------------------------------------------------------ */
/* Asynchronous connection                                             */
/* ------------------------------------------------------------------ */

/** Runs exactly once per accepted query, on the loop thread. */
typedef void (*pv_pg_cb)(const pv_pg_result_t *res, void *arg);

/** Defaults (change with the setters below). */
#define PV_PG_DEFAULT_MAX_QUEUE 100000
#define PV_PG_DEFAULT_MAX_BATCH 256
#define PV_PG_DEFAULT_MAX_INFLIGHT 4096
#define PV_PG_STMT_CACHE_MAX 1024
#define PV_PG_MAX_PARAMS 1024
/** Re-sends of one PV_PG_RETRY query across connection losses. */
#define PV_PG_MAX_RESENDS 3
/** Re-sends of a statement that failed with SQLSTATE class 40 (deadlock,
 *  serialization failure) before its error is reported. */
#define PV_PG_MAX_TRANSIENT_RETRIES 3

/** pv_pg_query return codes (the callback is never called on these). */
enum {
  PV_PG_OK = 0,
  PV_PG_EFULL = -1,   /**< max_queue queries outstanding: back off */
  PV_PG_EINVAL = -2,  /**< bad argument (NULL sql, nparams out of range) */
  PV_PG_ECLOSED = -3, /**< pv_pg_destroy was called */
};

/** pv_pg_query_ex flags. */
#define PV_PG_RETRY 0x1u /**< idempotent: re-send if lost in flight */

/**
 * @brief Creates the handle and starts connecting (asynchronously).
 * @param conninfo libpq connection string or URI; copied. Never logged:
 *        logs name host, port, dbname and user only.
 * @returns NULL with a message in errstr if conninfo does not parse or the
 *          loop refuses a handle. A server that is down is not an error
 *          here: queries queue until it is up.
 */
pv_pg_t *pv_pg_new(uv_loop_t *loop, const char *conninfo, char *errstr,
                   size_t errstr_size);

/**
 * @brief Closes the connection. Callbacks of queries not yet sent run now
 * with "shutting down" (connection_lost false); queries in flight run with
 * connection_lost true. To finish writes first, run the loop until
 * pv_pg_queue_depth() is 0. NULL is fine; safe inside a callback.
 */
void pv_pg_destroy(pv_pg_t *pg);

/**
 * @brief Queues one statement. Copies sql and params (text format; a NULL
 * param is SQL NULL; at most PV_PG_MAX_PARAMS). Parameter sizes are the
 * caller's to cap.
 * @param cb may be NULL for fire-and-forget writes: a failure is then
 *        logged as postgres.query_failed (SQLSTATE and message only).
 * @returns PV_PG_OK, and cb will run exactly once, later, on the loop; or a
 *          negative PV_PG_E* code and cb will never run.
 */
int pv_pg_query(pv_pg_t *pg, const char *sql, int nparams,
                const char *const *params, pv_pg_cb cb, void *arg);
/** @brief pv_pg_query with flags (PV_PG_RETRY). */
int pv_pg_query_ex(pv_pg_t *pg, const char *sql, int nparams,
                   const char *const *params, unsigned flags, pv_pg_cb cb,
                   void *arg);

bool pv_pg_connected(const pv_pg_t *pg);
/** @returns queries queued + in flight (for metrics and backpressure). */
size_t pv_pg_queue_depth(const pv_pg_t *pg);

/** @brief Caps queued + in-flight queries (default 100000, minimum 1). */
void pv_pg_set_max_queue(pv_pg_t *pg, size_t max_queue);
/** @brief Statements per Sync (default 256). 1 = one transaction per
 *  statement (isolated, but one commit - and WAL flush - each). */
void pv_pg_set_max_batch(pv_pg_t *pg, size_t max_batch);

/** Called on every change: connected (true, "connected") and lost (false,
 *  reason). why is valid only during the call. */
typedef void (*pv_pg_state_cb)(bool connected, const char *why, void *arg);
void pv_pg_set_state_cb(pv_pg_t *pg, pv_pg_state_cb cb, void *arg);

typedef void (*pv_pg_notify_cb)(const char *channel, const char *payload,
                                void *arg);
/**
 * @brief LISTENs on channel now and after every reconnect; cb gets each
 * notification. The channel is quoted, so it matches pg_notify('name')
 * exactly (case-sensitive). Channel: 1-63 characters of [A-Za-z0-9_].
 * @returns 0, PV_PG_EINVAL for a bad name or more than 64 listeners.
 */
int pv_pg_listen(pv_pg_t *pg, const char *channel, pv_pg_notify_cb cb,
                 void *arg);

/**
 * @brief Removes the listener (channel, cb, arg) registered by
 * pv_pg_listen: cb is never called with arg again, not even for a
 * notification that had already arrived. Call it before freeing arg.
 * NULL pg is fine.
 */
void pv_pg_unlisten(pv_pg_t *pg, const char *channel, pv_pg_notify_cb cb,
                    void *arg);

/** Counters since pv_pg_new (for metrics). */
typedef struct pv_pg_stats {
  uint64_t queries_ok;        /**< callbacks with a successful result */
  uint64_t queries_failed;    /**< callbacks with a statement error */
  uint64_t queries_lost;      /**< callbacks with connection_lost */
  uint64_t queries_resent;    /**< automatic re-sends (batch neighbours of
                                   a failure, PV_PG_RETRY after a loss) */
  uint64_t connects;          /**< successful connects, the first included */
  uint64_t reconnects;        /**< successful connects after a loss */
  uint64_t connect_failures;  /**< attempts that failed */
  uint64_t batches;           /**< Syncs sent */
  uint64_t batch_statements;  /**< statements sent (sum of batch sizes) */
  uint64_t batch_max;         /**< largest batch sent */
  uint64_t write_stalls;      /**< times the socket was full (PQflush 1) */
  uint64_t latency_us_sum;    /**< pv_pg_query -> callback, microseconds */
  uint64_t latency_count;
  size_t queue_depth;         /**< as pv_pg_queue_depth() */
  bool connected;
  int backend_pid;            /**< 0 when disconnected */
} pv_pg_stats_t;

void pv_pg_stats(const pv_pg_t *pg, pv_pg_stats_t *out);

/* ------------------------------------------------------------------ */
/* Blocking API (CLI, migrations, startup checks; never on the loop)   */
/* ------------------------------------------------------------------ */

typedef struct pv_pg_sync_s pv_pg_sync_t;

/** @returns a connection, or NULL with the reason in errstr. */
pv_pg_sync_t *pv_pg_sync_connect(const char *conninfo, char *errstr,
                                 size_t errstr_size);
/**
 * @brief Runs one statement (extended protocol, text params).
 * @returns an owned result, never NULL: check pv_pg_result_ok(), free with
 *          pv_pg_result_free().
 */
pv_pg_result_t *pv_pg_sync_query(pv_pg_sync_t *db, const char *sql,
                                 int nparams, const char *const *params);
/**
 * @brief Runs a script of several statements (simple protocol, no
 * params). The result is that of the last statement, or of the first that
 * failed; its error position counts from the start of the script.
 */
pv_pg_result_t *pv_pg_sync_exec(pv_pg_sync_t *db, const char *script);
/** @returns the server backend's pid, 0 if not connected. */
int pv_pg_sync_backend_pid(const pv_pg_sync_t *db);
void pv_pg_sync_close(pv_pg_sync_t *db);

/**
 * @brief Writes a loggable description of conninfo ("host=... port=...
 * dbname=... user=...", never the password) into buf.
 * @returns 0, or -1 (with buf holding the parse error) if it does not parse.
 */
int pv_pg_conninfo_describe(const char *conninfo, char *buf, size_t size);

#endif
