/*
 * worker_bench: load generator for a provisiond worker on the dev stack
 * (bench/bench_worker.sh runs it; docs/performance.md explains the method).
 *
 *   worker_bench run --target worker|passthrough|direct --jobs N [--rate R]
 *                    [--keys K] [--label TEXT] [--env NAME=VALUE]...
 *                    [--bin PROVISIOND] [--workers W] [--pg-stats]
 *   worker_bench rss --jobs N --running M [--bin PROVISIOND]
 *                    [--env NAME=VALUE]...
 *   worker_bench curl --jobs N [--conc C]    (raw curl multi on the sim)
 *   worker_bench forward BROKERS IN_TOPIC OUT_TOPIC   (the pass-through)
 *
 * `run` creates fresh topics, starts the target (build/provisiond with env
 * overrides, or this binary's `forward` mode: consume the job topic and
 * produce every record to the results topic at once, the same librdkafka
 * settings as kafka/kafka.c), produces N VOLTHA health_check jobs over
 * both tenants and K ordering keys, as fast as possible (R = 0) or at R
 * jobs/s, consumes the replies and prints one `result` line: jobs/s from
 * first to last reply and produce -> reply-consumed latency percentiles.
 * Each job carries its sequence number in the correlation-id header, which
 * the worker (and the forwarder) copy into the reply.
 *
 * `--bin` runs another provisiond (the bench's baseline build of an
 * older commit); `--workers` starts W of them in one consumer group.
 * `--pg-stats` measures the PostgreSQL server over the same window as the
 * target's CPU: the CPU of the postmaster and all its children (backends,
 * WAL writer, checkpointer, autovacuum; /proc), WAL bytes (insert LSN),
 * pg_stat_wal, and pg_stat_statements when the extension is there (one
 * `stmt` line per top statement). The server must run on this machine.
 *
 * `rss` starts the worker, produces N jobs with distinct keys and waits
 * until M of them are claimed and unfinished at once (job_status rows in
 * state running), then reads VmRSS/VmHWM of the worker from /proc.
 *
 * `curl` is the HTTP part of the worker's floor: the raw curl multi loop of
 * bench/rawcurl.c GETs $SIM_VOLTHA_URL/health (the request of the jobs'
 * VOLTHA health_check) N times, C in flight; CPU per request of this
 * process.
 *
 * WB_MEASURE_HOOK=command: run (sh -c) when the measured window starts and
 * ends, with WB_PHASE=start|stop and WB_TARGET_PID in its environment
 * (bench/profile_worker.sh zeroes and dumps callgrind's counters with it).
 *
 * Environment: PROVISIOND_KAFKA_BROKERS, PROVISIOND_PG, PROVISIOND_CONFIG
 * (the stack's env file), PV_BUILD_DIR (where provisiond is; default build).
 */
#include "bench/benchutil.h"
#include "bench/rawcurl.h"
#include "common/alloc.h"
#include "jobs/job.h"
#include "kafka/sync.h"
#include "db/pg.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <curl/curl.h>
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define MAX_JOBS 1000000
#define MAX_ENV 32
#define MAX_WORKERS 8
#define MAX_STMTS 8
#define START_TIMEOUT_MS 30000

typedef struct opts {
  const char *target;
  long jobs;
  long rate;       /* jobs/s; 0: as fast as possible */
  long keys;       /* distinct ordering keys; 0: one per job */
  long running;    /* rss: claimed-and-unfinished jobs to wait for */
  long timeout_s;  /* for all replies */
  const char *label;
  const char *env[MAX_ENV];
  size_t n_env;
  const char *bin; /* provisiond to run; NULL: $PV_BUILD_DIR/provisiond */
  long workers;    /* worker processes in the group */
  long conc;       /* curl: requests in flight */
  bool pg_stats;   /* measure the PostgreSQL server too */
} opts_t;

static const char *brokers, *pg_conninfo, *config_path, *build_dir;
static volatile sig_atomic_t stop_forward;
/* Every consumer of a run (ours, the forwarder's, the worker's through its
 * config) uses this: the mock cluster answers an empty fetch only after
 * fetch.wait.max.ms and does not wake it when data arrives, so librdkafka's
 * default (500 ms) would be added to every hop. A real broker answers as
 * soon as data arrives. WB_FETCH_WAIT_MS overrides it. */
static const char *fetch_wait_ms = "5";

static int64_t now_ns(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static const char *need_env(const char *name)
{
  const char *v = getenv(name);
  if (!v || !*v) {
    fprintf(stderr, "worker_bench: %s is not set (source the stack's env)\n",
            name);
    exit(2);
  }
  return v;
}

static bool parse_long(const char *s, long min, long max, long *out)
{
  char *end = NULL;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || end == s || *end || v < min || v > max)
    return false;
  *out = v;
  return true;
}

/* ---- Kafka helpers ------------------------------------------------------- */

static rd_kafka_conf_t *kconf(const char *const (*props)[2], size_t n)
{
  rd_kafka_conf_t *c = rd_kafka_conf_new();
  char err[256];
  if (rd_kafka_conf_set(c, "bootstrap.servers", brokers, err, sizeof(err)))
    goto fail;
  for (size_t i = 0; i < n; i++)
    if (rd_kafka_conf_set(c, props[i][0], props[i][1], err, sizeof(err)))
      goto fail;
  return c;
fail:
  fprintf(stderr, "worker_bench: kafka config: %s\n", err);
  exit(1);
}

static rd_kafka_t *knew(rd_kafka_type_t type, rd_kafka_conf_t *c)
{
  char err[256];
  rd_kafka_t *rk = rd_kafka_new(type, c, err, sizeof(err));
  if (!rk) {
    fprintf(stderr, "worker_bench: rd_kafka_new: %s\n", err);
    exit(1);
  }
  return rk;
}

/* A group-less consumer reading every partition of topic from the start. */
static rd_kafka_t *consumer_from_start(const char *topic, int partitions,
                                       const char *group)
{
  const char *const props[][2] = {
    {"group.id", group},
    {"enable.auto.commit", "false"},
    {"enable.partition.eof", "false"},
    {"fetch.wait.max.ms", fetch_wait_ms},
  };
  rd_kafka_t *c = knew(RD_KAFKA_CONSUMER,
                       kconf(props, sizeof(props) / sizeof(props[0])));
  rd_kafka_poll_set_consumer(c);
  rd_kafka_topic_partition_list_t *l =
      rd_kafka_topic_partition_list_new(partitions);
  for (int p = 0; p < partitions; p++)
    rd_kafka_topic_partition_list_add(l, topic, p)->offset =
        RD_KAFKA_OFFSET_BEGINNING;
  rd_kafka_resp_err_t err = rd_kafka_assign(c, l);
  rd_kafka_topic_partition_list_destroy(l);
  if (err) {
    fprintf(stderr, "worker_bench: assign %s: %s\n", topic,
            rd_kafka_err2str(err));
    exit(1);
  }
  return c;
}

/* ---- the pass-through baseline ------------------------------------------ */

static void on_forward_signal(int sig)
{
  (void)sig;
  stop_forward = 1;
}

/* Consumes in_topic in a consumer group and produces each record, value
 * and headers, to out_topic at once: the broker path provisiond sits in,
 * with the client settings of kafka/kafka.c, and no work in between. */
static int forward_main(int argc, char **argv)
{
  if (argc != 5) {
    fprintf(stderr, "usage: worker_bench forward BROKERS IN OUT\n");
    return 2;
  }
  brokers = argv[2];
  if (getenv("WB_FETCH_WAIT_MS"))
    fetch_wait_ms = getenv("WB_FETCH_WAIT_MS");
  const char *in = argv[3], *out = argv[4];
  signal(SIGTERM, on_forward_signal);
  signal(SIGINT, on_forward_signal);
  char group[300];
  snprintf(group, sizeof(group), "fwd-%s", in);
  const char *const cprops[][2] = {
    {"group.id", group},
    {"enable.auto.offset.store", "false"},
    {"enable.auto.commit", "true"},
    {"auto.commit.interval.ms", "1000"},
    {"auto.offset.reset", "earliest"},
    {"partition.assignment.strategy", "cooperative-sticky"},
    {"fetch.wait.max.ms", fetch_wait_ms},
  };
  const char *const pprops[][2] = {
    {"enable.idempotence", "true"},
    {"linger.ms", "2"},
    {"queue.buffering.max.messages", "1000000"},
  };
  rd_kafka_t *c = knew(RD_KAFKA_CONSUMER,
                       kconf(cprops, sizeof(cprops) / sizeof(cprops[0])));
  rd_kafka_t *p = knew(RD_KAFKA_PRODUCER,
                       kconf(pprops, sizeof(pprops) / sizeof(pprops[0])));
  rd_kafka_poll_set_consumer(c);
  rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(l, in, RD_KAFKA_PARTITION_UA);
  rd_kafka_resp_err_t err = rd_kafka_subscribe(c, l);
  rd_kafka_topic_partition_list_destroy(l);
  if (err) {
    fprintf(stderr, "forward: subscribe: %s\n", rd_kafka_err2str(err));
    return 1;
  }
  bool announced = false;
  long forwarded = 0;
  while (!stop_forward) {
    rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 50);
    rd_kafka_poll(p, 0);
    if (!announced) {
      rd_kafka_topic_partition_list_t *a = NULL;
      if (!rd_kafka_assignment(c, &a) && a) {
        if (a->cnt > 0) {
          printf("forward: assigned %d partitions\n", a->cnt);
          fflush(stdout);
          announced = true;
        }
        rd_kafka_topic_partition_list_destroy(a);
      }
    }
    if (!m)
      continue;
    if (m->err) {
      rd_kafka_message_destroy(m);
      continue;
    }
    rd_kafka_headers_t *h = NULL, *hc = NULL;
    if (!rd_kafka_message_headers(m, &h))
      hc = rd_kafka_headers_copy(h);
    for (;;) {
      err = rd_kafka_producev(
          p, RD_KAFKA_V_TOPIC(out), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
          RD_KAFKA_V_KEY(m->key, m->key_len),
          RD_KAFKA_V_VALUE(m->payload, m->len), RD_KAFKA_V_HEADERS(hc),
          RD_KAFKA_V_END);
      if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
        break;
      rd_kafka_poll(p, 10);
    }
    if (err) {
      fprintf(stderr, "forward: produce: %s\n", rd_kafka_err2str(err));
      if (hc)
        rd_kafka_headers_destroy(hc);
    } else {
      forwarded++;
    }
    /* store the offset per record, as kafka/kafka.c does when a job is
     * done */
    rd_kafka_topic_partition_list_t *ol = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(ol, rd_kafka_topic_name(m->rkt),
                                      m->partition)->offset = m->offset + 1;
    rd_kafka_offsets_store(c, ol);
    rd_kafka_topic_partition_list_destroy(ol);
    rd_kafka_message_destroy(m);
  }
  rd_kafka_flush(p, 5000);
  rd_kafka_consumer_close(c);
  rd_kafka_destroy(c);
  rd_kafka_destroy(p);
  printf("forward: %ld records forwarded\n", forwarded);
  return 0;
}

/* ---- child processes ---------------------------------------------------- */

static pid_t spawn(const char *const *argv, const char *const *extra_env,
                   size_t n_extra, const char *log_path)
{
  size_t n_env = 0;
  while (environ[n_env])
    n_env++;
  char **envp = pv_calloc(n_env + n_extra + 1, sizeof(char *));
  size_t k = 0;
  for (size_t i = 0; i < n_extra; i++)
    envp[k++] = pv_strdup(extra_env[i]);
  for (size_t i = 0; i < n_env; i++) {
    /* an override replaces the inherited value of the same name */
    const char *eq = strchr(environ[i], '=');
    size_t nl = eq ? (size_t)(eq - environ[i]) : strlen(environ[i]);
    bool overridden = false;
    for (size_t j = 0; j < n_extra && !overridden; j++)
      overridden = !strncmp(extra_env[j], environ[i], nl) &&
                   extra_env[j][nl] == '=';
    if (!overridden)
      envp[k++] = pv_strdup(environ[i]);
  }
  envp[k] = NULL;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, log_path,
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  char **av = pv_calloc(16, sizeof(char *));
  for (size_t i = 0; argv[i] && i < 15; i++)
    av[i] = pv_strdup(argv[i]);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, av[0], &fa, NULL, av, envp);
  posix_spawn_file_actions_destroy(&fa);
  for (size_t i = 0; av[i]; i++)
    free(av[i]);
  free(av);
  for (size_t i = 0; envp[i]; i++)
    free(envp[i]);
  free(envp);
  if (rc) {
    fprintf(stderr, "worker_bench: cannot start %s: %s\n", argv[0],
            strerror(rc));
    return -1;
  }
  return pid;
}

/* Waits for text in the child's log. @returns false on timeout or exit. */
static bool wait_for_text(pid_t pid, const char *path, const char *text,
                          int timeout_ms)
{
  int64_t end = now_ns() + (int64_t)timeout_ms * 1000000;
  while (now_ns() < end) {
    FILE *f = fopen(path, "r");
    if (f) {
      char line[4096];
      while (fgets(line, sizeof(line), f))
        if (strstr(line, text)) {
          fclose(f);
          return true;
        }
      fclose(f);
    }
    int st;
    if (waitpid(pid, &st, WNOHANG) == pid)
      return false;
    usleep(20000);
  }
  return false;
}

static void stop_child(pid_t pid)
{
  if (pid <= 0)
    return;
  kill(pid, SIGTERM);
  for (int i = 0; i < 300; i++) {
    int st;
    if (waitpid(pid, &st, WNOHANG) == pid)
      return;
    usleep(50000);
    if (i == 100)
      kill(pid, SIGTERM); /* a second signal skips the drain */
  }
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
}

/* VmRSS and VmHWM in KiB from /proc/<pid>/status. */
static bool read_rss(pid_t pid, long *rss, long *hwm)
{
  char path[64], line[256];
  snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
  FILE *f = fopen(path, "r");
  if (!f)
    return false;
  *rss = *hwm = -1;
  while (fgets(line, sizeof(line), f)) {
    if (!strncmp(line, "VmRSS:", 6))
      *rss = strtol(line + 6, NULL, 10);
    else if (!strncmp(line, "VmHWM:", 6))
      *hwm = strtol(line + 6, NULL, 10);
  }
  fclose(f);
  return *rss >= 0 && *hwm >= 0;
}

/* CPU seconds (user + system) of the targets so far. */
static double cpu_seconds(const pid_t *pids, int n)
{
  double sum = 0;
  for (int i = 0; i < n; i++) {
    double c = pv_bench_threads_cpu_s(pids[i]);
    if (c < 0)
      return -1;
    sum += c;
  }
  return sum;
}

/* WB_MEASURE_HOOK (see the top of this file). */
static void measure_hook(const char *phase, pid_t pid)
{
  const char *hook = getenv("WB_MEASURE_HOOK");
  if (!hook || !*hook)
    return;
  char v[24];
  snprintf(v, sizeof(v), "%d", (int)pid);
  setenv("WB_PHASE", phase, 1);
  setenv("WB_TARGET_PID", v, 1);
  int rc = system(hook);
  if (rc != 0)
    fprintf(stderr, "worker_bench: WB_MEASURE_HOOK (%s) exited %d\n", phase,
            rc);
}

/* ---- the run ------------------------------------------------------------ */

typedef struct run {
  opts_t o;
  char prefix[96];
  char jobs_topic[160], results_topic[160], dlq_topic[200], group[160];
  int partitions;
  char **values;        /* encoded jobs */
  size_t *lens;
  char (*keys)[48];
  int64_t *sent_ns;     /* written by the producer thread (atomics) */
  int64_t produce_start_ns, produce_end_ns;
  int go;               /* 1: warm-up done, produce; -1: give up */
  long produce_errors;
} run_t;

static void run_names(run_t *r)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  snprintf(r->prefix, sizeof(r->prefix), "wb-%d-%ld%03ld", (int)getpid(),
           (long)ts.tv_sec, ts.tv_nsec / 1000000);
  snprintf(r->jobs_topic, sizeof(r->jobs_topic), "%s.jobs", r->prefix);
  snprintf(r->dlq_topic, sizeof(r->dlq_topic), "%s.jobs.dlq", r->prefix);
  snprintf(r->results_topic, sizeof(r->results_topic), "%s.results",
           r->prefix);
  snprintf(r->group, sizeof(r->group), "%s", r->prefix);
  const char *topics[] = {r->jobs_topic, r->dlq_topic, r->results_topic};
  if (pv_ksync_create_topics(brokers, topics, 3, 4) < 0)
    exit(1);
  r->partitions = pv_ksync_partitions(brokers, r->jobs_topic);
  int rp = pv_ksync_partitions(brokers, r->results_topic);
  if (r->partitions <= 0 || rp != r->partitions) {
    fprintf(stderr, "worker_bench: topics not created (%d/%d partitions)\n",
            r->partitions, rp);
    exit(1);
  }
}

/* Encodes every job before the clock starts: the generator must not be
 * what limits the figure. */
static void run_encode(run_t *r)
{
  long n = r->o.jobs;
  r->values = pv_calloc((size_t)n, sizeof(char *));
  r->lens = pv_calloc((size_t)n, sizeof(size_t));
  r->keys = pv_calloc((size_t)n, sizeof(*r->keys));
  r->sent_ns = pv_calloc((size_t)n, sizeof(int64_t));
  for (long i = 0; i < n; i++) {
    char id[160];
    snprintf(id, sizeof(id), "%s-%ld", r->prefix, i);
    long key = r->o.keys > 0 ? i % r->o.keys : i;
    /* Keys are this run's own (like its job ids): a key that an earlier
     * run left parked or running under a killed worker's lease would
     * rightly hold this run's jobs of that key behind it. */
    snprintf(r->keys[i], sizeof(r->keys[i]), "%.12s-%06ld",
             r->prefix + (strlen(r->prefix) > 12 ? strlen(r->prefix) - 12 : 0),
             key);
    json_t *job = json_pack("{s:i,s:s,s:s,s:s,s:s}", "v", 1, "id", id,
                            "tenant", (key & 1) ? "isp-west" : "isp-east",
                            "service", "voltha", "op", "health_check");
    if (!job || pv_doc_encode(job, PV_FMT_MSGPACK, &r->values[i],
                              &r->lens[i]) < 0) {
      fprintf(stderr, "worker_bench: cannot encode job %ld\n", i);
      exit(1);
    }
    json_decref(job);
  }
}

static void *producer_thread(void *arg)
{
  run_t *r = arg;
  const char *const props[][2] = {
    {"linger.ms", r->o.rate > 0 ? "0" : "5"},
    {"queue.buffering.max.messages", "1000000"},
    {"enable.idempotence", "true"},
  };
  rd_kafka_t *p = knew(RD_KAFKA_PRODUCER,
                       kconf(props, sizeof(props) / sizeof(props[0])));
  /* Warm up before the clock starts: one job through the target. The
   * first produce to a topic waits for the idempotent producer id and the
   * topic's metadata (about a second on the mock cluster). */
  char id[160];
  snprintf(id, sizeof(id), "%s-warmup", r->prefix);
  json_t *job = json_pack("{s:i,s:s,s:s,s:s,s:s}", "v", 1, "id", id, "tenant",
                          "isp-east", "service", "voltha", "op",
                          "health_check");
  char *wbuf = NULL;
  size_t wlen = 0;
  if (!job || pv_doc_encode(job, PV_FMT_MSGPACK, &wbuf, &wlen) < 0 ||
      rd_kafka_producev(p, RD_KAFKA_V_TOPIC(r->jobs_topic),
                        RD_KAFKA_V_KEY("warmup", 6),
                        RD_KAFKA_V_VALUE(wbuf, wlen),
                        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                        RD_KAFKA_V_HEADER("correlation-id", "warmup", -1),
                        RD_KAFKA_V_END) ||
      rd_kafka_flush(p, 10000))
    fprintf(stderr, "worker_bench: warm-up produce failed\n");
  json_decref(job);
  free(wbuf);
  while (!__atomic_load_n(&r->go, __ATOMIC_ACQUIRE))
    usleep(1000);
  if (r->go < 0) {
    rd_kafka_destroy(p);
    return NULL;
  }
  int64_t start = now_ns();
  r->produce_start_ns = start;
  for (long i = 0; i < r->o.jobs; i++) {
    if (r->o.rate > 0) {
      int64_t due = start + (int64_t)((double)i * 1e9 / (double)r->o.rate);
      int64_t now = now_ns();
      if (due - now > 200000) {
        struct timespec ts = {.tv_sec = due / 1000000000,
                              .tv_nsec = due % 1000000000};
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
      }
    }
    char seq[24];
    snprintf(seq, sizeof(seq), "%ld", i);
    rd_kafka_resp_err_t err;
    for (;;) {
      __atomic_store_n(&r->sent_ns[i], now_ns(), __ATOMIC_RELEASE);
      err = rd_kafka_producev(
          p, RD_KAFKA_V_TOPIC(r->jobs_topic),
          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
          RD_KAFKA_V_KEY(r->keys[i], strlen(r->keys[i])),
          RD_KAFKA_V_VALUE(r->values[i], r->lens[i]),
          RD_KAFKA_V_HEADER("correlation-id", seq, -1), RD_KAFKA_V_END);
      if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
        break;
      rd_kafka_poll(p, 10);
    }
    if (err)
      r->produce_errors++;
    rd_kafka_poll(p, 0);
  }
  r->produce_end_ns = now_ns();
  if (rd_kafka_flush(p, 30000))
    fprintf(stderr, "worker_bench: %d jobs not delivered to the broker\n",
            rd_kafka_outq_len(p));
  rd_kafka_destroy(p);
  return NULL;
}

static int cmp_i64(const void *a, const void *b)
{
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}

static double pct_ms(const int64_t *sorted, size_t n, double p)
{
  if (!n)
    return -1;
  size_t i = (size_t)(p / 100.0 * (double)(n - 1) + 0.5);
  return (double)sorted[i < n ? i : n - 1] / 1e6;
}

static bool write_config(const char *path)
{
  FILE *in = fopen(config_path, "r");
  if (!in) {
    fprintf(stderr, "worker_bench: %s: %s\n", config_path, strerror(errno));
    return false;
  }
  FILE *out = fopen(path, "w");
  if (!out) {
    fprintf(stderr, "worker_bench: %s: %s\n", path, strerror(errno));
    fclose(in);
    return false;
  }
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
    fwrite(buf, 1, n, out);
  fclose(in);
  fprintf(out, "\n[kafka]\nfetch.wait.max.ms = %s\n", fetch_wait_ms);
  return fclose(out) == 0;
}

/* Starts worker number `index` of the run (its own worker id and log);
 * does not wait for it. */
static pid_t start_worker(run_t *r, const char *log_path, long index)
{
  pid_t pid;
  char bin[512];
  if (r->o.bin)
    snprintf(bin, sizeof(bin), "%s", r->o.bin);
  else
    snprintf(bin, sizeof(bin), "%s/provisiond", build_dir);
  /* the stack's config plus the consumer's fetch wait (see fetch_wait_ms) */
  char conf[760];
  if (snprintf(conf, sizeof(conf), "%s.conf", log_path) >= (int)sizeof(conf) ||
      !write_config(conf))
    return -1;
  const char *argv[] = {bin, "-c", conf, NULL};
  char *env[MAX_ENV + 8];
  size_t n = 0;
  env[n++] = pv_asprintf("PROVISIOND_KAFKA_TOPICS=%s", r->jobs_topic);
  env[n++] = pv_asprintf("PROVISIOND_KAFKA_RESULTS_TOPIC=%s",
                         r->results_topic);
  env[n++] = pv_asprintf("PROVISIOND_KAFKA_GROUP_ID=%s", r->group);
  env[n++] = index ? pv_asprintf("PROVISIOND_WORKER_ID=%s-w%ld", r->prefix,
                                 index)
                   : pv_asprintf("PROVISIOND_WORKER_ID=%s", r->prefix);
  env[n++] = pv_strdup("PROVISIOND_WORKER_METRICS_LISTEN=");
  for (size_t i = 0; i < r->o.n_env; i++)
    env[n++] = pv_strdup(r->o.env[i]);
  pid = spawn(argv, (const char *const *)env, n, log_path);
  for (size_t i = 0; i < n; i++)
    free(env[i]);
  return pid;
}

/* Starts the run's target processes into pids (the forwarder, or
 * o.workers workers; log_path, then log_path.2, .3 ... for the others).
 * @returns how many, 0 on failure (none left running). */
static int start_target(run_t *r, const char *log_path, pid_t *pids)
{
  pid_t pid;
  if (!strcmp(r->o.target, "worker")) {
    /* All at once: they join the group in its first rebalance (the mock
     * cluster takes minutes to let a late member in). */
    char path[MAX_WORKERS][720];
    long started = 0;
    bool ok = true;
    for (long i = 0; i < r->o.workers && ok; i++, started++) {
      if (i)
        snprintf(path[i], sizeof(path[i]), "%s.%ld", log_path, i + 1);
      else
        snprintf(path[i], sizeof(path[i]), "%s", log_path);
      pids[i] = start_worker(r, path[i], i);
      ok = pids[i] > 0;
    }
    for (long i = 0; i < started && ok; i++) {
      ok = wait_for_text(pids[i], path[i], "kafka.partition_assigned",
                         START_TIMEOUT_MS);
      if (!ok)
        fprintf(stderr, "worker_bench: provisiond got no partition; see %s\n",
                path[i]);
    }
    if (!ok) {
      for (long i = 0; i < started; i++)
        if (pids[i] > 0)
          stop_child(pids[i]);
      return 0;
    }
    /* the assignment of all partitions is logged in one burst */
    usleep(300000);
    return (int)r->o.workers;
  }
  char self[512];
  ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n <= 0)
    return 0;
  self[n] = '\0';
  const char *argv[] = {self, "forward", brokers, r->jobs_topic,
                        r->results_topic, NULL};
  pid = spawn(argv, NULL, 0, log_path);
  if (pid <= 0)
    return 0;
  if (!wait_for_text(pid, log_path, "forward: assigned", START_TIMEOUT_MS)) {
    fprintf(stderr, "worker_bench: forwarder not ready; see %s\n", log_path);
    stop_child(pid);
    return 0;
  }
  pids[0] = pid;
  return 1;
}

static void delete_rows(const run_t *r)
{
  char err[256];
  pv_pg_sync_t *db = pv_pg_sync_connect(pg_conninfo, err, sizeof(err));
  if (!db) {
    fprintf(stderr, "worker_bench: PostgreSQL: %s\n", err);
    return;
  }
  char like[128];
  snprintf(like, sizeof(like), "%s-%%", r->prefix);
  const char *p[] = {like};
  pv_pg_result_t *res = pv_pg_sync_query(
      db, "DELETE FROM job_status WHERE job_id LIKE $1", 1, p);
  if (!pv_pg_result_ok(res))
    fprintf(stderr, "worker_bench: cleanup: %s\n", pv_pg_result_error(res));
  pv_pg_result_free(res);
  /* Every run starts from the same table: without this, the next run
   * meets tens of thousands of dead rows in the key index and autovacuum
   * working on them (a 1 000 jobs/s run right after six backlogs of
   * 40 000 kept up at 290 jobs/s; after four, with the VACUUM, at 983). */
  res = pv_pg_sync_query(db, "VACUUM job_status", 0, NULL);
  if (!pv_pg_result_ok(res))
    fprintf(stderr, "worker_bench: cleanup: %s\n", pv_pg_result_error(res));
  pv_pg_result_free(res);
  pv_pg_sync_close(db);
}

static long running_rows(pv_pg_sync_t *db, const run_t *r)
{
  char like[128];
  snprintf(like, sizeof(like), "%s-%%", r->prefix);
  const char *p[] = {like};
  pv_pg_result_t *res = pv_pg_sync_query(
      db, "SELECT count(*) FROM job_status WHERE job_id LIKE $1"
          " AND state = 'running'", 1, p);
  long v = -1;
  if (pv_pg_result_ok(res) && pv_pg_result_ntuples(res) == 1)
    v = strtol(pv_pg_result_get(res, 0, 0), NULL, 10);
  pv_pg_result_free(res);
  return v;
}

/* ---- the PostgreSQL server over the measured window (--pg-stats) -------- */

typedef struct pg_probe {
  pv_pg_sync_t *db;
  pid_t postmaster;
  bool pgss;             /* pg_stat_statements answers */
  double cpu0, cpu;      /* postmaster + children, seconds */
  long long lsn0, wal_bytes;
  long long wal_records, wal_fpi, wal_syncs;
  double calls, exec_ms; /* sums over the database's statements */
  int n_stmts;
  struct {
    long long calls, rows, wal_bytes;
    double exec_ms;
    char query[200];
  } stmt[MAX_STMTS];
} pg_probe_t;

/* The first value of a one-row query, or NULL (an owned copy). */
static char *probe_value(pg_probe_t *p, const char *sql)
{
  pv_pg_result_t *res = pv_pg_sync_query(p->db, sql, 0, NULL);
  char *v = NULL;
  if (pv_pg_result_ok(res) && pv_pg_result_ntuples(res) >= 1 &&
      pv_pg_result_get(res, 0, 0))
    v = pv_strdup(pv_pg_result_get(res, 0, 0));
  pv_pg_result_free(res);
  return v;
}

static long long probe_ll(pg_probe_t *p, const char *sql)
{
  char *v = probe_value(p, sql);
  long long n = v ? strtoll(v, NULL, 10) : -1;
  free(v);
  return n;
}

/* Connects and finds the postmaster: the parent of our own backend. */
static bool probe_open(pg_probe_t *p)
{
  char err[256];
  memset(p, 0, sizeof(*p));
  p->db = pv_pg_sync_connect(pg_conninfo, err, sizeof(err));
  if (!p->db) {
    fprintf(stderr, "worker_bench: --pg-stats: %s\n", err);
    return false;
  }
  pv_bench_proc_t b;
  long long backend = probe_ll(p, "SELECT pg_backend_pid()");
  if (backend <= 0 || !pv_bench_proc_cpu((pid_t)backend, &b)) {
    fprintf(stderr, "worker_bench: --pg-stats: the server's processes are "
                    "not visible here (not local?)\n");
    pv_pg_sync_close(p->db);
    p->db = NULL;
    return false;
  }
  p->postmaster = b.ppid;
  return true;
}

#define LSN_NOW "SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '0/0')" \
  "::bigint"

static void probe_start(pg_probe_t *p)
{
  char *v = probe_value(p, "SELECT pg_stat_statements_reset()");
  p->pgss = v != NULL;
  free(v);
  free(probe_value(p, "SELECT pg_stat_reset_shared('wal')"));
  p->lsn0 = probe_ll(p, LSN_NOW);
  p->cpu0 = pv_bench_tree_cpu_s(p->postmaster);
}

static void probe_statements(pg_probe_t *p)
{
  /* the probe's own statements (pg_stat_*, pg_wal_lsn_diff) left out */
#define PROBE_STMTS                                                    \
  " FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid"   \
  " WHERE d.datname = current_database()"                             \
  "  AND query !~ '^SELECT (pg_stat_|pg_wal_lsn_diff)'"
  static const char top[] =
    "SELECT calls, rows, round(total_exec_time::numeric, 3), wal_bytes,"
    " left(regexp_replace(query, '\\s+', ' ', 'g'), 150)" PROBE_STMTS
    " ORDER BY total_exec_time DESC LIMIT 8";
  static const char sum[] =
    "SELECT sum(calls), round(sum(total_exec_time)::numeric, 3)" PROBE_STMTS;
#undef PROBE_STMTS
  pv_pg_result_t *res = pv_pg_sync_query(p->db, top, 0, NULL);
  for (int i = 0; pv_pg_result_ok(res) && i < pv_pg_result_ntuples(res) &&
                  i < MAX_STMTS; i++) {
    const char *q = pv_pg_result_get(res, i, 4);
    p->stmt[i].calls = strtoll(pv_pg_result_get(res, i, 0), NULL, 10);
    p->stmt[i].rows = strtoll(pv_pg_result_get(res, i, 1), NULL, 10);
    p->stmt[i].exec_ms = strtod(pv_pg_result_get(res, i, 2), NULL);
    p->stmt[i].wal_bytes = strtoll(pv_pg_result_get(res, i, 3), NULL, 10);
    snprintf(p->stmt[i].query, sizeof(p->stmt[i].query), "%s", q ? q : "");
    p->n_stmts = i + 1;
  }
  pv_pg_result_free(res);
  res = pv_pg_sync_query(p->db, sum, 0, NULL);
  if (pv_pg_result_ok(res) && pv_pg_result_ntuples(res) == 1 &&
      pv_pg_result_get(res, 0, 0)) {
    p->calls = strtod(pv_pg_result_get(res, 0, 0), NULL);
    p->exec_ms = strtod(pv_pg_result_get(res, 0, 1), NULL);
  }
  pv_pg_result_free(res);
}

/* At the end of the window: the server's CPU and WAL position at once,
 * then the statement statistics (updated as each statement ends) and, a
 * moment later, pg_stat_wal (backends publish it within a second). */
static void probe_stop(pg_probe_t *p)
{
  p->cpu = pv_bench_tree_cpu_s(p->postmaster) - p->cpu0;
  p->wal_bytes = probe_ll(p, LSN_NOW) - p->lsn0;
  if (p->pgss)
    probe_statements(p);
  usleep(1200000);
  pv_pg_result_t *res = pv_pg_sync_query(
      p->db, "SELECT wal_records, wal_fpi, wal_sync FROM pg_stat_wal", 0,
      NULL);
  if (pv_pg_result_ok(res) && pv_pg_result_ntuples(res) == 1) {
    p->wal_records = strtoll(pv_pg_result_get(res, 0, 0), NULL, 10);
    p->wal_fpi = strtoll(pv_pg_result_get(res, 0, 1), NULL, 10);
    p->wal_syncs = strtoll(pv_pg_result_get(res, 0, 2), NULL, 10);
  }
  pv_pg_result_free(res);
}

/* Appends the probe's fields to the result line, then one `stmt` line
 * per top statement (the query text last: it holds spaces). */
static void probe_print(const pg_probe_t *p, const char *label, size_t jobs)
{
  double n = jobs ? (double)jobs : 1;
  printf(" pg_cpu_s=%.2f pg_cpu_us_per_job=%.1f wal_bytes_per_job=%.0f"
         " wal_records_per_job=%.2f wal_fpi_per_job=%.3f"
         " wal_syncs_per_job=%.4f pg_calls_per_job=%.2f"
         " pg_exec_us_per_job=%.1f\n",
         p->cpu, p->cpu * 1e6 / n, (double)p->wal_bytes / n,
         (double)p->wal_records / n, (double)p->wal_fpi / n,
         (double)p->wal_syncs / n, p->calls / n, p->exec_ms * 1e3 / n);
  for (int i = 0; i < p->n_stmts; i++)
    printf("stmt label=%s rank=%d calls=%lld rows=%lld exec_ms=%.1f "
           "exec_us_per_call=%.1f wal_bytes_per_call=%.0f query=%s\n",
           label, i + 1, p->stmt[i].calls, p->stmt[i].rows,
           p->stmt[i].exec_ms,
           p->stmt[i].calls ? p->stmt[i].exec_ms * 1e3 / p->stmt[i].calls : 0,
           p->stmt[i].calls ? (double)p->stmt[i].wal_bytes / p->stmt[i].calls
                            : 0,
           p->stmt[i].query);
}

static void log_path_for(const run_t *r, char *out, size_t n)
{
  char dir[512];
  snprintf(dir, sizeof(dir), "%s/bench-logs", build_dir);
  mkdir(dir, 0755);
  snprintf(out, n, "%s/%s-%s.log", dir, r->prefix, r->o.target);
}

/* Waits for the warm-up job (see producer_thread) to come back through
 * the target: the consumers' first assignment and fetch (about a second
 * on the mock cluster) must not be counted. */
static bool wait_warm_up(rd_kafka_t *c)
{
  int64_t end = now_ns() + (int64_t)START_TIMEOUT_MS * 1000000;
  while (now_ns() < end) {
    rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 100);
    if (!m)
      continue;
    rd_kafka_headers_t *h = NULL;
    const void *v = NULL;
    size_t vl = 0;
    bool hit = !m->err && !rd_kafka_message_headers(m, &h) &&
               !rd_kafka_header_get_last(h, "correlation-id", &v, &vl) &&
               vl == 6 && !memcmp(v, "warmup", 6);
    rd_kafka_message_destroy(m);
    if (hit)
      return true;
  }
  fprintf(stderr, "worker_bench: the warm-up job did not come back\n");
  return false;
}

static int run_main(run_t *r)
{
  run_names(r);
  run_encode(r);
  char log_path[700];
  log_path_for(r, log_path, sizeof(log_path));
  bool is_worker = !strcmp(r->o.target, "worker");
  /* target "direct": no process in between, the replies are the jobs
   * themselves (one broker hop: the floor of any end-to-end figure) */
  bool direct = !strcmp(r->o.target, "direct");
  rd_kafka_t *c = consumer_from_start(direct ? r->jobs_topic
                                             : r->results_topic,
                                      r->partitions, r->group);
  pid_t pids[MAX_WORKERS];
  int n_pids = 1;
  pids[0] = getpid();
  if (!direct && !(n_pids = start_target(r, log_path, pids)))
    return 1;
  pid_t pid = pids[0];
  pg_probe_t probe;
  bool probing = r->o.pg_stats && probe_open(&probe);
  pthread_t th;
  if (pthread_create(&th, NULL, producer_thread, r)) {
    for (int i = 0; i < n_pids && !direct; i++)
      stop_child(pids[i]);
    return 1;
  }
  if (!wait_warm_up(c)) {
    __atomic_store_n(&r->go, -1, __ATOMIC_RELEASE);
    pthread_join(th, NULL);
    for (int i = 0; i < n_pids && !direct; i++)
      stop_child(pids[i]);
    return 1;
  }
  if (probing)
    probe_start(&probe);
  measure_hook("start", pid);
  double cpu0 = cpu_seconds(pids, n_pids);
  __atomic_store_n(&r->go, 1, __ATOMIC_RELEASE);
  long n = r->o.jobs;
  uint8_t *seen = pv_calloc((size_t)n, 1);
  int64_t *lat = pv_calloc((size_t)n, sizeof(int64_t));
  int64_t *inworker = pv_calloc((size_t)n, sizeof(int64_t));
  size_t got = 0, n_inworker = 0;
  long succeeded = 0, dups = 0, foreign = 0, peak_rss = 0;
  int64_t first = 0, last = 0, last_progress = now_ns(), last_rss = 0;
  int64_t timeout_ns = (int64_t)r->o.timeout_s * 1000000000;
  /* WB_TRACE=file: one line per reply, "seq sent_ms latency_ms" */
  FILE *trace = getenv("WB_TRACE") ? fopen(getenv("WB_TRACE"), "w") : NULL;
  while ((long)got < n && now_ns() - last_progress < timeout_ns) {
    rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 100);
    if (is_worker && now_ns() - last_rss > 100000000) {
      long rss, hwm;
      last_rss = now_ns();
      if (read_rss(pid, &rss, &hwm) && hwm > peak_rss)
        peak_rss = hwm;
    }
    if (!m)
      continue;
    int64_t t = now_ns();
    if (m->err) {
      rd_kafka_message_destroy(m);
      continue;
    }
    rd_kafka_headers_t *h = NULL;
    const void *v = NULL;
    size_t vl = 0;
    long seq = -1;
    if (!rd_kafka_message_headers(m, &h) &&
        !rd_kafka_header_get_last(h, "correlation-id", &v, &vl) && v &&
        vl < 24) {
      char s[24];
      memcpy(s, v, vl);
      s[vl] = '\0';
      if (!parse_long(s, 0, n - 1, &seq))
        seq = -1;
    }
    if (seq < 0) {
      foreign++;
    } else if (seen[seq]) {
      dups++;
    } else {
      seen[seq] = 1;
      int64_t sent = __atomic_load_n(&r->sent_ns[seq], __ATOMIC_ACQUIRE);
      lat[got++] = t - sent;
      if (trace)
        fprintf(trace, "%ld %.3f %.3f\n", seq,
                (double)(sent - r->produce_start_ns) / 1e6,
                (double)(t - sent) / 1e6);
      if (!first)
        first = t;
      last = t;
      last_progress = t;
      if (is_worker) {
        json_t *doc = NULL;
        char err[64];
        if (pv_doc_decode(m->payload, m->len, PV_FMT_MSGPACK, &doc, err,
                          sizeof(err)) == 0) {
          const char *st = json_string_value(json_object_get(doc, "status"));
          if (st && !strcmp(st, "succeeded"))
            succeeded++;
          json_t *ra = json_object_get(doc, "received_at");
          json_t *fa = json_object_get(doc, "finished_at");
          if (json_is_integer(ra) && json_is_integer(fa))
            inworker[n_inworker++] =
                (json_integer_value(fa) - json_integer_value(ra)) * 1000000;
          json_decref(doc);
        }
      }
    }
    rd_kafka_message_destroy(m);
  }
  double cpu = cpu_seconds(pids, n_pids) - cpu0;
  measure_hook("stop", pid);
  if (probing)
    probe_stop(&probe);
  pthread_join(th, NULL);
  if (trace)
    fclose(trace);
  long rss = 0, hwm = 0;
  if (is_worker)
    read_rss(pid, &rss, &hwm);
  for (int i = 0; i < n_pids && !direct; i++)
    stop_child(pids[i]);
  rd_kafka_consumer_close(c);
  rd_kafka_destroy(c);
  qsort(lat, got, sizeof(int64_t), cmp_i64);
  qsort(inworker, n_inworker, sizeof(int64_t), cmp_i64);
  double span = (double)(last - first) / 1e9;
  double produce_span =
      (double)(r->produce_end_ns - r->produce_start_ns) / 1e9;
  printf("result label=%s target=%s jobs=%ld replies=%zu succeeded=%ld "
         "dups=%ld foreign=%ld produce_errors=%ld rate_asked=%ld "
         "produced_per_s=%.0f replies_per_s=%.0f "
         "e2e_p50_ms=%.2f e2e_p90_ms=%.2f e2e_p99_ms=%.2f e2e_max_ms=%.2f "
         "inworker_p50_ms=%.1f inworker_p99_ms=%.1f "
         "workers=%d cpu_s=%.2f cpu_us_per_job=%.1f rss_kib=%ld hwm_kib=%ld "
         "log=%s",
         r->o.label ? r->o.label : "-", r->o.target, n, got,
         is_worker ? succeeded : (long)got, dups, foreign, r->produce_errors,
         r->o.rate, produce_span > 0 ? (double)n / produce_span : 0,
         span > 0 ? (double)(got - 1) / span : 0, pct_ms(lat, got, 50),
         pct_ms(lat, got, 90), pct_ms(lat, got, 99),
         pct_ms(lat, got, 100), pct_ms(inworker, n_inworker, 50),
         pct_ms(inworker, n_inworker, 99), n_pids, cpu,
         got ? cpu * 1e6 / (double)got : 0, rss, peak_rss > hwm ? peak_rss : hwm,
         log_path);
  if (probing) {
    probe_print(&probe, r->o.label ? r->o.label : "-", got);
    pv_pg_sync_close(probe.db);
  } else {
    printf("\n");
  }
  if (is_worker)
    delete_rows(r);
  free(seen);
  free(lat);
  free(inworker);
  return (long)got == n ? 0 : 1;
}

static int rss_main(run_t *r)
{
  run_names(r);
  run_encode(r);
  char log_path[700];
  log_path_for(r, log_path, sizeof(log_path));
  pid_t pid;
  if (!start_target(r, log_path, &pid))
    return 1;
  long rss0 = 0, hwm0 = 0;
  read_rss(pid, &rss0, &hwm0);
  char err[256];
  pv_pg_sync_t *db = pv_pg_sync_connect(pg_conninfo, err, sizeof(err));
  if (!db) {
    fprintf(stderr, "worker_bench: PostgreSQL: %s\n", err);
    stop_child(pid);
    return 1;
  }
  pthread_t th;
  r->go = 1; /* no warm-up wait: memory, not latency */
  if (pthread_create(&th, NULL, producer_thread, r)) {
    pv_pg_sync_close(db);
    stop_child(pid);
    return 1;
  }
  pthread_join(th, NULL);
  long peak_running = 0, rss = 0, hwm = 0;
  int64_t end = now_ns() + (int64_t)r->o.timeout_s * 1000000000;
  while (now_ns() < end) {
    long running = running_rows(db, r);
    if (running > peak_running)
      peak_running = running;
    if (!read_rss(pid, &rss, &hwm))
      break;
    if (running >= r->o.running)
      break;
    usleep(200000);
  }
  /* memory at the moment the target was reached, then the worker goes */
  read_rss(pid, &rss, &hwm);
  pv_pg_sync_close(db);
  stop_child(pid);
  printf("result label=%s target=rss jobs=%ld running_peak=%ld "
         "running_wanted=%ld idle_rss_kib=%ld rss_kib=%ld hwm_kib=%ld log=%s\n",
         r->o.label ? r->o.label : "-", r->o.jobs, peak_running,
         r->o.running, rss0, rss, hwm, log_path);
  delete_rows(r);
  return peak_running >= r->o.running ? 0 : 1;
}

/* The HTTP part of the floor: the raw curl multi loop on the simulator's
 * VOLTHA /health, after a short warm-up (first connections). */
static int curl_main(const opts_t *o)
{
  const char *sim = need_env("SIM_VOLTHA_URL");
  char url[512];
  snprintf(url, sizeof(url), "%s/health", sim);
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
    return 1;
  pv_bench_sample_t warm, s;
  int rc = pv_bench_raw_curl(url, 2000, (int)o->conc, false, &warm) ||
           pv_bench_raw_curl(url, o->jobs, (int)o->conc, false, &s);
  curl_global_cleanup();
  if (rc) {
    fprintf(stderr, "worker_bench: the curl loop failed\n");
    return 1;
  }
  printf("result label=%s target=curl jobs=%ld replies=%ld errors=%ld "
         "conc=%ld replies_per_s=%.0f cpu_s=%.3f cpu_us_per_job=%.2f\n",
         o->label ? o->label : "-", o->jobs, s.n, s.errors, o->conc,
         s.wall_s > 0 ? (double)s.n / s.wall_s : 0, s.cpu_s,
         s.n ? s.cpu_s * 1e6 / (double)s.n : 0);
  return s.errors ? 1 : 0;
}

static void usage(void)
{
  fprintf(stderr,
          "usage: worker_bench run --target worker|passthrough|direct --jobs N "
          "[--rate R] [--keys K] [--timeout S] [--label L] [--env N=V]...\n"
          "                        [--bin PROVISIOND] [--workers W] "
          "[--pg-stats]\n"
          "       worker_bench rss --jobs N --running M [--timeout S] "
          "[--bin PROVISIOND] [--env N=V]...\n"
          "       worker_bench curl --jobs N [--conc C] [--label L]\n"
          "       worker_bench forward BROKERS IN_TOPIC OUT_TOPIC\n");
}

int main(int argc, char **argv)
{
  if (argc >= 2 && !strcmp(argv[1], "forward"))
    return forward_main(argc, argv);
  if (argc < 2 || (strcmp(argv[1], "run") && strcmp(argv[1], "rss") &&
                    strcmp(argv[1], "curl"))) {
    usage();
    return 2;
  }
  run_t r;
  memset(&r, 0, sizeof(r));
  r.o.target = "worker";
  r.o.keys = 1000;
  r.o.timeout_s = 30;
  r.o.workers = 1;
  r.o.conc = 20;
  for (int i = 2; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--pg-stats")) {
      r.o.pg_stats = true;
      continue;
    }
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    bool ok = v != NULL;
    if (ok && !strcmp(a, "--target"))
      r.o.target = v;
    else if (ok && !strcmp(a, "--jobs"))
      ok = parse_long(v, 1, MAX_JOBS, &r.o.jobs);
    else if (ok && !strcmp(a, "--rate"))
      ok = parse_long(v, 0, 1000000, &r.o.rate);
    else if (ok && !strcmp(a, "--keys"))
      ok = parse_long(v, 0, MAX_JOBS, &r.o.keys);
    else if (ok && !strcmp(a, "--running"))
      ok = parse_long(v, 1, MAX_JOBS, &r.o.running);
    else if (ok && !strcmp(a, "--timeout"))
      ok = parse_long(v, 1, 600, &r.o.timeout_s);
    else if (ok && !strcmp(a, "--label"))
      r.o.label = v;
    else if (ok && !strcmp(a, "--bin"))
      r.o.bin = v;
    else if (ok && !strcmp(a, "--workers"))
      ok = parse_long(v, 1, MAX_WORKERS, &r.o.workers);
    else if (ok && !strcmp(a, "--conc"))
      ok = parse_long(v, 1, 1000, &r.o.conc);
    else if (ok && !strcmp(a, "--env") && r.o.n_env < MAX_ENV && strchr(v, '='))
      r.o.env[r.o.n_env++] = v;
    else
      ok = false;
    if (!ok) {
      fprintf(stderr, "worker_bench: bad argument %s %s\n", a, v ? v : "");
      usage();
      return 2;
    }
    i++;
  }
  if (r.o.jobs && !strcmp(argv[1], "curl"))
    return curl_main(&r.o);
  if (!r.o.jobs || (strcmp(r.o.target, "worker") &&
                    strcmp(r.o.target, "passthrough") &&
                    strcmp(r.o.target, "direct"))) {
    usage();
    return 2;
  }
  brokers = need_env("PROVISIOND_KAFKA_BROKERS");
  pg_conninfo = need_env("PROVISIOND_PG");
  config_path = need_env("PROVISIOND_CONFIG");
  build_dir = getenv("PV_BUILD_DIR") ? getenv("PV_BUILD_DIR") : "build";
  if (getenv("WB_FETCH_WAIT_MS"))
    fetch_wait_ms = getenv("WB_FETCH_WAIT_MS");
  if (!strcmp(argv[1], "rss")) {
    r.o.keys = 0; /* distinct keys: every job can run at once */
    r.o.workers = 1;
    if (!r.o.running)
      r.o.running = r.o.jobs;
    return rss_main(&r);
  }
  return run_main(&r);
}
