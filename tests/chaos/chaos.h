/**
 * @file chaos.h
 * @brief The chaos suite and the soak (tests/chaos/): one driver that runs
 * a seeded workload of mixed jobs through a fleet of provisiond workers
 * while it injects seeded faults, then checks invariants rather than a
 * script. docs/reliability.md describes what it proves.
 *
 * The pieces, each in its own file:
 *  - chaos_work.c: the workload (a table of job kinds) and the producer;
 *  - chaos_fault.c: the fault schedule and its injection (workers, the
 *    stack's PostgreSQL and broker, the simulator);
 *  - chaos_check.c: what is observed (the simulator's request log, job
 *    rows, replies, dead letters, process figures) and the invariants;
 *  - chaos.c: the run itself (Criterion test, modes chaos and soak).
 *
 * @locality test only: runs on the dev stack of tests/run.sh.
 */
#ifndef PV_TESTS_CHAOS_H
#define PV_TESTS_CHAOS_H

#include "common/map.h"
#include "tests/e2e/worker_harness.h"
#include "tests/support/simproc.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define CH_MAX_WORKERS 4
#define CH_TENANTS 3
#define CH_LISTENERS 3 /* VOLTHA, GenieACS, NetBox */
#define CH_MAX_EVENTS 4096
/** http.max_idle of the workers' config (few idle connections, so a
 *  descriptor leak stands out). */
#define CH_MAX_IDLE 2

/** What a fault event last did to the run (first fault after a job). */
#define CH_NO_FAULT (-1)

typedef struct ch_run ch_run_t;

/* ---- the workload --------------------------------------------------- */

typedef struct ch_job {
  int kind;             /**< index in the kind table */
  int tenant;           /**< index in ch_tenant_names */
  int key;              /**< the Kafka key is "k<key>" */
  bool json;            /**< JSON record (else msgpack) */
  bool alt_reply;       /**< reply_to = the second reply topic */
  bool produced;
  int produce_tries;
  int64_t produced_ms;  /**< driver's monotonic clock at the ack */
  int first_fault;      /**< first fault event started after the ack */

  /* job_status, read at the end */
  int rows;
  char state[16];
  char error_class[24];
  int runs, attempts;

  /* replies and dead letters */
  int replies, dead_letters;
  char reply_status[16]; /**< of the first reply */

  /* the simulator's request log */
  int requests;
  int mutations;        /**< mutating requests the model handled, most
                             of any one (method, path) */
  int listener;         /**< of the first request */
  long long first_seq, last_seq;
  long long first_mono, last_mono;
} ch_job_t;

/** A job kind: one row of the workload table. Orders join as one more. */
typedef struct ch_kind {
  const char *name;     /**< for reports: "voltha.reboot_device" */
  const char *service;
  const char *op;
  int weight;
  bool poison;          /**< only with PV_CHAOS_POISON=1 */
  /** @returns the job's args (new reference), or NULL for none; draws
   *  devices from the run's PRNG. */
  json_t *(*args)(ch_run_t *run, const ch_job_t *job, int index);
  /** Expected final state, or NULL when any outcome is fine. */
  const char *expect_state;
  /** Expected error class of that state, or NULL. */
  const char *expect_class;
} ch_kind_t;

/* ---- faults --------------------------------------------------------- */

typedef enum ch_fault_kind {
  CH_F_KILL = 0,       /**< kill -9 of a worker, restarted after the hold */
  CH_F_TERM,           /**< SIGTERM of a worker, restarted once it left */
  CH_F_PG_STOP,        /**< PostgreSQL stopped for the hold */
  CH_F_PG_TERMINATE,   /**< pg_terminate_backend of the workers' sessions */
  CH_F_BROKER_STOP,    /**< Apache Kafka stopped for the hold */
  CH_F_SIM_RESET,      /**< connections reset before handling */
  CH_F_SIM_RESET_AFTER,/**< handled, then reset: the answer is lost */
  CH_F_SIM_HANG,       /**< a few requests never answered */
  CH_F_SIM_5XX,        /**< 500/502/503 answers */
  CH_F_SIM_429,        /**< 429 with Retry-After */
  CH_F_SIM_LATENCY,    /**< slow answers */
  CH_F__COUNT
} ch_fault_kind_t;

typedef struct ch_event {
  ch_fault_kind_t kind;
  int64_t at_ms;        /**< planned start, from the run's start */
  int hold_ms;          /**< how long the fault lasts */
  int target;           /**< worker slot or listener */
  int param;            /**< kind-specific: HTTP status, latency */
  int64_t started_ms;   /**< actual start (0: not yet) */
  int64_t ended_ms;     /**< actual end (0: not yet) */
} ch_event_t;

typedef struct ch_worker {
  pid_t pid;            /**< 0 while stopped */
  int generation;
  char log[512];
  long base_rss_kb, base_fds;  /**< after the warm-up */
  long end_rss_kb, end_fds;
  bool restarted;       /**< a later process than the baseline's */
  int unclean_exits;    /**< SIGTERM not answered by exit status 0 */
} ch_worker_t;

/* ---- the run -------------------------------------------------------- */

struct ch_run {
  pv_e2e_t e;
  pv_sim_t sim;
  bool soak;
  uint64_t seed;
  uint64_t rng;          /**< the workload's and the schedule's PRNG */
  char tag[17];          /**< 16 hex: trace ids of this run start with it */
  int seconds;           /**< of load */
  int rate;              /**< jobs per second */
  int keys;
  int nworkers;
  bool poison;
  bool apache;           /**< broker faults possible */
  char alt_topic[160];   /**< the second reply topic */
  char poison_topic[160];/**< a reply topic that does not exist */
  char token_file[512];  /**< isp-east's NetBox token, for the extra tenant */

  /* the simulator's inventory, discovered at the start */
  json_t *olts, *onus, *logical, *cpes; /**< arrays of id strings */

  ch_job_t *jobs;
  int njobs, cap_jobs;

  ch_event_t events[CH_MAX_EVENTS];
  int nevents;
  int next_event;        /**< the next to start */
  int active_event;      /**< running now, or -1 */
  bool pg_down, broker_down;
  bool sim_dead;         /**< the simulator exited under us */

  ch_worker_t workers[CH_MAX_WORKERS];
  int64_t t0;            /**< monotonic ms at the start of the load */

  long long sim_since[CH_LISTENERS]; /**< request log cursor */
  long long foreign_requests;        /**< requests of no job of ours */
  pv_map_t *mutations;               /**< "job method path" -> count */
  char failures[8192];   /**< the invariants broken, one line each */
  size_t failures_len;
  int violations;
};

extern const char *const ch_tenant_names[CH_TENANTS];
extern const char *const ch_fault_names[CH_F__COUNT];

/* chaos.c */
int64_t ch_now(const ch_run_t *r); /**< ms since the load started */
uint64_t ch_rand(ch_run_t *r);
int ch_rand_range(ch_run_t *r, int lo, int hi); /**< lo..hi inclusive */
/** @brief Records a broken invariant (the first lines are kept). */
void ch_violation(ch_run_t *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* chaos_work.c */
const ch_kind_t *ch_kind(int i);
int ch_kind_count(void);
/** @brief Finds the simulator's devices the job kinds act on. */
void ch_work_discover(ch_run_t *r);
/** @brief Draws job n's kind, tenant, key, format and reply topic. */
void ch_work_plan(ch_run_t *r, int n);
/** @brief Produces job n; waits for the broker's acknowledgement (retries
 *  while the broker is away). @returns 0, or -1 after 60 s. */
int ch_work_produce(ch_run_t *r, int n);
/** @returns job n's id. */
void ch_job_id(const ch_run_t *r, int n, char *buf, size_t len);
/** @returns the job index named by a traceparent of this run, or -1. */
int ch_job_of_traceparent(const ch_run_t *r, const char *tp);

/* chaos_fault.c */
/** @brief Plans the fault events of [from_ms, until_ms) from the seed. */
void ch_fault_plan(ch_run_t *r, int64_t from_ms, int64_t until_ms,
                   int mean_gap_ms);
/** @brief Starts and ends events that are due; restarts workers. */
void ch_fault_tick(ch_run_t *r);
/** @brief Ends the active event at once and makes every part whole. */
void ch_fault_settle(ch_run_t *r);
/** @brief Starts worker slot i (a new generation). */
void ch_worker_start(ch_run_t *r, int i);
/** @brief Runs `dev/stack.sh ACTION WHAT` (stop|start postgres|kafka);
 *  a failure is an infrastructure violation. */
void ch_stack(ch_run_t *r, const char *action, const char *what);
/** @brief Counts events by kind (started ones). */
void ch_fault_counts(const ch_run_t *r, int out[CH_F__COUNT]);

/* chaos_check.c */
/** @brief Reads the simulator's request log up to entries older than
 *  settle_ms (all of it with settle_ms 0). @returns false when it could
 *  not be read (a slow answer; sim_dead when the simulator is gone). */
bool ch_check_poll_sim(ch_run_t *r, long long settle_ms);
/** @returns VmRSS of pid in KiB, or -1. */
long ch_proc_rss_kb(pid_t pid);
/** @returns the open file descriptors of pid, or -1. */
long ch_proc_fds(pid_t pid);
/** @returns how many produced jobs are final (-1: PostgreSQL away). */
long long ch_check_final(ch_run_t *r);
/** @brief Reads rows, replies and dead letters, checks every invariant
 *  and prints the report. */
void ch_check_all(ch_run_t *r, long long drain_ms);

#endif
