/**
 * @file kafka_mock.c
 * @brief build/kafka-mock: a Kafka-protocol broker for the dev stack and the
 * kafka-labelled tests, built on librdkafka's mock cluster
 * (rdkafka_mock.h, shipped in Debian's librdkafka-dev 2.0.2).
 *
 *   kafka-mock [--brokers N] [--partitions N] [--topic NAME[:PARTITIONS]]...
 *              [--bootstrap-file PATH] [--log-level LEVEL]
 *
 * It starts 1-3 mock brokers on ephemeral 127.0.0.1 ports, creates the
 * provisioning topics, prints
 *
 *   KAFKA_BROKERS=127.0.0.1:P1,127.0.0.1:P2
 *   READY
 *
 * on stdout (the only two lines it ever writes there, so a parent can read
 * them with a plain line reader), optionally writes the bootstrap list to a
 * file, and serves until SIGTERM or SIGINT. Logs are JSON lines on stderr.
 *
 * Everything lives in memory: a restart loses every message and committed
 * offset, which is what a dev/test broker should do.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "common/alloc.h"
#include "common/log.h"

#define KM_MAX_BROKERS 3
#define KM_MAX_PARTITIONS 256
#define KM_MAX_TOPICS 64
/* Kafka's own limit on a topic name (Topic.MAX_NAME_LENGTH). */
#define KM_TOPIC_NAME_MAX 249
#define KM_PATH_MAX 4096

/* The topics provisiond reads and writes (docs/dev-stack.md, MESSAGES.md). */
static const char *const default_topics[] = {
  "provisioning.jobs",        "provisioning.queries",
  "provisioning.results",     "provisioning.jobs.dlq",
  "provisioning.queries.dlq",
};

typedef struct km_topic {
  char name[KM_TOPIC_NAME_MAX + 1];
  int partitions; /* 0: use the --partitions default */
} km_topic_t;

typedef struct km_opts {
  int brokers;
  int partitions;
  const char *bootstrap_file;
  km_topic_t extra[KM_MAX_TOPICS];
  size_t extra_cnt;
} km_opts_t;

/* Set by the signal handler only; read by main between sigsuspend() calls. */
static volatile sig_atomic_t g_stop_signal;

static void on_stop_signal(int sig)
{
  g_stop_signal = sig;
}

static void usage(FILE *out)
{
  fprintf(out,
    "usage: kafka-mock [options]\n"
    "  -b, --brokers N              mock brokers, 1..%d (default 1)\n"
    "  -p, --partitions N           partitions per topic, 1..%d (default 4)\n"
    "  -t, --topic NAME[:PARTS]     create an extra topic (repeatable, max %d)\n"
    "  -f, --bootstrap-file PATH    also write the bootstrap list to PATH\n"
    "  -l, --log-level LEVEL        debug|info|warn|error (default info)\n"
    "  -h, --help                   this text\n"
    "Prints KAFKA_BROKERS=<list> and READY on stdout, then serves on\n"
    "127.0.0.1 until SIGTERM/SIGINT. State is in memory only.\n",
    KM_MAX_BROKERS, KM_MAX_PARTITIONS, KM_MAX_TOPICS);
}

/**
 * @brief Parses a decimal int in [min, max]; the whole string must be a
 * number. @returns 0, or -1 with a message naming the option.
 */
static int parse_int(const char *opt, const char *s, int min, int max,
                     int *out)
{
  char *end = NULL;
  long v;

  errno = 0;
  v = strtol(s, &end, 10);
  if (errno || end == s || *end != '\0' || v < min || v > max) {
    fprintf(stderr, "kafka-mock: %s: '%s' is not a number in %d..%d\n", opt,
            s, min, max);
    return -1;
  }
  *out = (int)v;
  return 0;
}

/* Kafka accepts [a-zA-Z0-9._-] and rejects "." and "..". */
static int topic_name_valid(const char *name, size_t len)
{
  size_t i;

  if (len == 0 || len > KM_TOPIC_NAME_MAX)
    return 0;
  if ((len == 1 && name[0] == '.') ||
      (len == 2 && name[0] == '.' && name[1] == '.'))
    return 0;
  for (i = 0; i < len; i++) {
    char c = name[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
      return 0;
  }
  return 1;
}

static int parse_topic(km_opts_t *o, const char *arg)
{
  const char *colon = strchr(arg, ':');
  size_t len = colon ? (size_t)(colon - arg) : strlen(arg);
  km_topic_t *t;

  if (o->extra_cnt >= KM_MAX_TOPICS) {
    fprintf(stderr, "kafka-mock: --topic: at most %d extra topics\n",
            KM_MAX_TOPICS);
    return -1;
  }
  if (!topic_name_valid(arg, len)) {
    fprintf(stderr,
            "kafka-mock: --topic: '%.*s' is not a valid topic name "
            "(1..%d of [a-zA-Z0-9._-])\n",
            (int)(len > 300 ? 300 : len), arg, KM_TOPIC_NAME_MAX);
    return -1;
  }
  t = &o->extra[o->extra_cnt];
  memcpy(t->name, arg, len);
  t->name[len] = '\0';
  t->partitions = 0;
  if (colon &&
      parse_int("--topic partitions", colon + 1, 1, KM_MAX_PARTITIONS,
                &t->partitions) != 0)
    return -1;
  o->extra_cnt++;
  return 0;
}

/** @returns 0 to run, 1 to exit successfully (--help), -1 on bad usage. */
static int parse_args(int argc, char **argv, km_opts_t *o)
{
  static const struct option longopts[] = {
    {"brokers", required_argument, NULL, 'b'},
    {"partitions", required_argument, NULL, 'p'},
    {"topic", required_argument, NULL, 't'},
    {"bootstrap-file", required_argument, NULL, 'f'},
    {"log-level", required_argument, NULL, 'l'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
  };
  int c;
  int level;

  o->brokers = 1;
  o->partitions = 4;
  while ((c = getopt_long(argc, argv, "b:p:t:f:l:h", longopts, NULL)) != -1) {
    switch (c) {
    case 'b':
      if (parse_int("--brokers", optarg, 1, KM_MAX_BROKERS, &o->brokers))
        return -1;
      break;
    case 'p':
      if (parse_int("--partitions", optarg, 1, KM_MAX_PARTITIONS,
                    &o->partitions))
        return -1;
      break;
    case 't':
      if (parse_topic(o, optarg))
        return -1;
      break;
    case 'f':
      if (strlen(optarg) == 0 || strlen(optarg) >= KM_PATH_MAX) {
        fprintf(stderr, "kafka-mock: --bootstrap-file: empty or too long\n");
        return -1;
      }
      o->bootstrap_file = optarg;
      break;
    case 'l':
      level = pv_log_level_parse(optarg);
      if (level < 0) {
        fprintf(stderr,
                "kafka-mock: --log-level: '%s' is not debug|info|warn|error\n",
                optarg);
        return -1;
      }
      pv_log_set_level((pv_log_level_t)level);
      break;
    case 'h':
      usage(stdout);
      return 1;
    default:
      usage(stderr);
      return -1;
    }
  }
  if (optind < argc) {
    fprintf(stderr, "kafka-mock: unexpected argument '%s'\n", argv[optind]);
    usage(stderr);
    return -1;
  }
  return 0;
}

/*
 * librdkafka calls this from its own threads; pv_log writes each line with
 * one write(2), so concurrent lines do not interleave.
 */
static void rk_log_cb(const rd_kafka_t *rk, int level, const char *fac,
                      const char *buf)
{
  pv_log_level_t pl = level <= 3 ? PV_LOG_ERROR
                    : level <= 5 ? PV_LOG_WARN
                    : level == 6 ? PV_LOG_INFO
                                 : PV_LOG_DEBUG;

  /*
   * The book-keeping handle has no bootstrap.servers on purpose, and
   * librdkafka warns about it; that warning would only mislead a reader.
   */
  if (strcmp(fac, "CONFWARN") == 0 && strstr(buf, "bootstrap.servers"))
    pl = PV_LOG_DEBUG;

  pv_log(pl, "kafka_mock.librdkafka", PV_S("facility", fac),
         PV_S("msg", buf));
}

/**
 * @brief Writes the bootstrap list to path through a temporary file and
 * rename(2), so a reader never sees a half-written address.
 * @returns 0, or -1 (logged).
 */
static int write_bootstrap_file(const char *path, const char *bootstraps)
{
  char *tmp = pv_asprintf("%s.tmp.%ld", path, (long)getpid());
  size_t len = strlen(bootstraps);
  int fd = -1;
  int rc = -1;
  FILE *f = NULL;

  fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    pv_log(PV_LOG_ERROR, "kafka_mock.bootstrap_file_failed",
           PV_S("path", tmp), PV_S("error", strerror(errno)));
    goto out;
  }
  f = fdopen(fd, "w");
  if (!f) {
    pv_log(PV_LOG_ERROR, "kafka_mock.bootstrap_file_failed",
           PV_S("path", tmp), PV_S("error", strerror(errno)));
    goto out;
  }
  fd = -1; /* now owned by f */
  if (fwrite(bootstraps, 1, len, f) != len || fputc('\n', f) == EOF) {
    pv_log(PV_LOG_ERROR, "kafka_mock.bootstrap_file_failed",
           PV_S("path", tmp), PV_S("error", strerror(errno)));
    goto out;
  }
  if (fclose(f) != 0) {
    f = NULL;
    pv_log(PV_LOG_ERROR, "kafka_mock.bootstrap_file_failed",
           PV_S("path", tmp), PV_S("error", strerror(errno)));
    goto out;
  }
  f = NULL;
  if (rename(tmp, path) != 0) {
    pv_log(PV_LOG_ERROR, "kafka_mock.bootstrap_file_failed",
           PV_S("path", path), PV_S("error", strerror(errno)));
    goto out;
  }
  rc = 0;
out:
  if (f)
    fclose(f);
  if (fd >= 0)
    close(fd);
  if (rc != 0)
    unlink(tmp);
  free(tmp);
  return rc;
}

static int create_topic(rd_kafka_mock_cluster_t *mcluster, const char *name,
                        int partitions, int replication)
{
  rd_kafka_resp_err_t err =
    rd_kafka_mock_topic_create(mcluster, name, partitions, replication);

  if (err) {
    pv_log(PV_LOG_ERROR, "kafka_mock.topic_create_failed",
           PV_S("topic", name), PV_S("error", rd_kafka_err2str(err)));
    return -1;
  }
  pv_log(PV_LOG_INFO, "kafka_mock.topic_created", PV_S("topic", name),
         PV_I("partitions", partitions), PV_I("replication", replication));
  return 0;
}

int main(int argc, char **argv)
{
  km_opts_t opts;
  rd_kafka_conf_t *conf = NULL;
  rd_kafka_t *rk = NULL;
  rd_kafka_mock_cluster_t *mcluster = NULL;
  const char *bootstraps;
  char errstr[512];
  sigset_t sigs;
  sigset_t waitmask;
  struct sigaction sa;
  int sig = 0;
  int wrote_file = 0;
  int rc = 1;
  int prc;
  size_t i;

  memset(&opts, 0, sizeof(opts));
  prc = parse_args(argc, argv, &opts);
  if (prc != 0)
    return prc > 0 ? 0 : 2;

  /*
   * Block the stop signals before librdkafka starts its threads, so every
   * thread inherits the mask and only the main thread, inside sigsuspend(),
   * ever takes them. The handler only records the signal. SIGPIPE is
   * ignored: a client that goes away mid-write must not kill the broker;
   * SIGHUP too, so a closed terminal does not either.
   */
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  if (pthread_sigmask(SIG_BLOCK, &sigs, &waitmask) != 0) {
    pv_log(PV_LOG_ERROR, "kafka_mock.start_failed",
           PV_S("error", "pthread_sigmask failed"));
    goto out;
  }
  sigdelset(&waitmask, SIGTERM);
  sigdelset(&waitmask, SIGINT);
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  if (sigaction(SIGTERM, &sa, NULL) != 0 || sigaction(SIGINT, &sa, NULL) != 0) {
    pv_log(PV_LOG_ERROR, "kafka_mock.start_failed",
           PV_S("error", strerror(errno)));
    goto out;
  }
  sa.sa_handler = SIG_IGN;
  if (sigaction(SIGPIPE, &sa, NULL) != 0 || sigaction(SIGHUP, &sa, NULL) != 0) {
    pv_log(PV_LOG_ERROR, "kafka_mock.start_failed",
           PV_S("error", strerror(errno)));
    goto out;
  }

  /*
   * The mock cluster needs an rd_kafka_t for book keeping only; a producer
   * that never produces is the cheapest one.
   */
  conf = rd_kafka_conf_new();
  rd_kafka_conf_set_log_cb(conf, rk_log_cb);
  if (rd_kafka_conf_set(conf, "client.id", "kafka-mock", errstr,
                        sizeof(errstr)) != RD_KAFKA_CONF_OK) {
    pv_log(PV_LOG_ERROR, "kafka_mock.start_failed", PV_S("error", errstr));
    goto out;
  }
  rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
  if (!rk) {
    pv_log(PV_LOG_ERROR, "kafka_mock.start_failed", PV_S("error", errstr));
    goto out;
  }
  conf = NULL; /* owned, and freed, by rk */

  mcluster = rd_kafka_mock_cluster_new(rk, opts.brokers);
  if (!mcluster) {
    pv_log(PV_LOG_ERROR, "kafka_mock.start_failed",
           PV_S("error", "rd_kafka_mock_cluster_new failed (no free "
                         "loopback port or out of file descriptors?)"));
    goto out;
  }

  /*
   * Replication factor = broker count, so with --brokers 3 partition
   * leaders and followers are spread like on a real cluster.
   */
  for (i = 0; i < sizeof(default_topics) / sizeof(default_topics[0]); i++) {
    if (create_topic(mcluster, default_topics[i], opts.partitions,
                     opts.brokers))
      goto out;
  }
  for (i = 0; i < opts.extra_cnt; i++) {
    const km_topic_t *t = &opts.extra[i];
    if (create_topic(mcluster, t->name,
                     t->partitions ? t->partitions : opts.partitions,
                     opts.brokers))
      goto out;
  }

  bootstraps = rd_kafka_mock_cluster_bootstraps(mcluster);
  if (!bootstraps || !*bootstraps) {
    pv_log(PV_LOG_ERROR, "kafka_mock.start_failed",
           PV_S("error", "mock cluster reported no bootstrap address"));
    goto out;
  }
  if (opts.bootstrap_file &&
      write_bootstrap_file(opts.bootstrap_file, bootstraps))
    goto out;
  wrote_file = opts.bootstrap_file != NULL;

  pv_log(PV_LOG_INFO, "kafka_mock.ready", PV_S("bootstraps", bootstraps),
         PV_I("brokers", opts.brokers), PV_I("partitions", opts.partitions));
  if (printf("KAFKA_BROKERS=%s\nREADY\n", bootstraps) < 0 ||
      fflush(stdout) != 0) {
    /* A parent that closed our stdout is not a reason to stop serving. */
    pv_log(PV_LOG_WARN, "kafka_mock.stdout_failed",
           PV_S("error", strerror(errno)));
  }

  /*
   * sigsuspend() atomically unblocks the stop signals and sleeps, so a
   * signal that arrived before this point is not lost.
   */
  while (!g_stop_signal)
    sigsuspend(&waitmask);
  sig = (int)g_stop_signal;
  pv_log(PV_LOG_INFO, "kafka_mock.stopping", PV_S("signal", strsignal(sig)));
  rc = 0;

out:
  if (mcluster)
    rd_kafka_mock_cluster_destroy(mcluster);
  if (rk)
    rd_kafka_destroy(rk);
  if (conf)
    rd_kafka_conf_destroy(conf);
  /* A stale address in the file would point clients at a dead port. */
  if (wrote_file)
    unlink(opts.bootstrap_file);
  return rc;
}
