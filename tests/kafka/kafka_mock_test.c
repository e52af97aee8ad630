/**
 * @file kafka_mock_test.c
 * @brief build/kafka-mock serves real Kafka clients: metadata, an idempotent
 * producer, a consumer group that commits offsets, a second group member
 * that sees those commits; bad options and clean shutdown.
 *
 * Each test starts its own kafka-mock process on ephemeral loopback ports,
 * so the suite needs no dev stack and never touches one.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "tests/support/testenv.h"

#define KMT_START_TIMEOUT_MS 15000
#define KMT_MSG_CNT 40
#define KMT_TOPIC "provisioning.jobs"
#define KMT_PARTITIONS 3

typedef struct kmt_proc {
  pid_t pid;
  int out_fd;           /* read end of the child's stdout */
  char brokers[600];    /* from the KAFKA_BROKERS= line */
  char dir[64];         /* private temp dir for the bootstrap file */
  char boot_file[128];
} kmt_proc_t;

static kmt_proc_t g_proc = {.pid = -1, .out_fd = -1};

static long long now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/**
 * @brief Reads one '\n'-terminated line from fd into buf within deadline.
 * @returns line length, or -1 on EOF/timeout/overflow.
 */
static int read_line(int fd, char *buf, size_t size, long long deadline)
{
  size_t len = 0;

  while (len + 1 < size) {
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    long long left = deadline - now_ms();
    char c;
    ssize_t n;

    if (left <= 0)
      return -1;
    if (poll(&pfd, 1, (int)left) <= 0)
      continue;
    n = read(fd, &c, 1);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return -1;
    if (c == '\n') {
      buf[len] = '\0';
      return (int)len;
    }
    buf[len++] = c;
  }
  return -1;
}

/**
 * @brief Spawns kafka-mock with args (NULL-terminated) and the bootstrap
 * file in a fresh temp dir. With wait_ready, reads KAFKA_BROKERS= and READY.
 * @returns 0, or -1.
 */
static int kmt_start(kmt_proc_t *p, const char *const *args, int wait_ready)
{
  char exe[1024];
  const char *argv[32];
  size_t argc = 0;
  int pipefd[2];
  char line[600];
  long long deadline;
  int rc = -1;

  snprintf(p->dir, sizeof(p->dir), "/tmp/pv-kmt-XXXXXX");
  if (!mkdtemp(p->dir))
    return -1;
  snprintf(p->boot_file, sizeof(p->boot_file), "%s/bootstrap", p->dir);
  snprintf(exe, sizeof(exe), "%s/kafka-mock", pv_test_build_dir());

  argv[argc++] = exe;
  argv[argc++] = "--bootstrap-file";
  argv[argc++] = p->boot_file;
  argv[argc++] = "--log-level";
  argv[argc++] = "warn";
  for (; args && *args && argc < 30; args++)
    argv[argc++] = *args;
  argv[argc] = NULL;

  if (pipe2(pipefd, O_CLOEXEC) != 0)
    return -1;
  p->pid = fork();
  if (p->pid < 0) {
    close(pipefd[0]);
    close(pipefd[1]);
    return -1;
  }
  if (p->pid == 0) {
    dup2(pipefd[1], STDOUT_FILENO);
    execv(exe, (char *const *)(uintptr_t)argv);
    _exit(127);
  }
  close(pipefd[1]);
  p->out_fd = pipefd[0];
  if (!wait_ready)
    return 0;

  deadline = now_ms() + KMT_START_TIMEOUT_MS;
  if (read_line(p->out_fd, line, sizeof(line), deadline) < 0 ||
      strncmp(line, "KAFKA_BROKERS=", 14) != 0)
    goto out;
  snprintf(p->brokers, sizeof(p->brokers), "%s", line + 14);
  if (read_line(p->out_fd, line, sizeof(line), deadline) < 0 ||
      strcmp(line, "READY") != 0)
    goto out;
  rc = 0;
out:
  return rc;
}

/** @returns the child's exit status as from waitpid, or -1 on timeout. */
static int kmt_wait(kmt_proc_t *p, int timeout_ms)
{
  long long deadline = now_ms() + timeout_ms;
  int status = 0;

  while (now_ms() < deadline) {
    pid_t r = waitpid(p->pid, &status, WNOHANG);
    if (r == p->pid) {
      p->pid = -1;
      return status;
    }
    usleep(20 * 1000);
  }
  return -1;
}

static void kmt_stop(kmt_proc_t *p)
{
  if (p->pid > 0) {
    kill(p->pid, SIGTERM);
    if (kmt_wait(p, 5000) == -1) {
      kill(p->pid, SIGKILL);
      waitpid(p->pid, NULL, 0);
      p->pid = -1;
    }
  }
  if (p->out_fd >= 0)
    close(p->out_fd);
  p->out_fd = -1;
  if (p->dir[0]) {
    unlink(p->boot_file);
    rmdir(p->dir);
    p->dir[0] = '\0';
  }
}

static void teardown(void)
{
  kmt_stop(&g_proc);
}

static rd_kafka_conf_t *base_conf(const char *brokers)
{
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  char errstr[256];

  cr_assert_eq(rd_kafka_conf_set(conf, "bootstrap.servers", brokers, errstr,
                                 sizeof(errstr)),
               RD_KAFKA_CONF_OK, "%s", errstr);
  /* Keep failures fast: the mock is on loopback. */
  cr_assert_eq(rd_kafka_conf_set(conf, "socket.timeout.ms", "10000", errstr,
                                 sizeof(errstr)),
               RD_KAFKA_CONF_OK, "%s", errstr);
  return conf;
}

static void set(rd_kafka_conf_t *conf, const char *k, const char *v)
{
  char errstr[256];
  cr_assert_eq(rd_kafka_conf_set(conf, k, v, errstr, sizeof(errstr)),
               RD_KAFKA_CONF_OK, "%s=%s: %s", k, v, errstr);
}

static int g_dr_ok;
static int g_dr_failed;

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
  if (m->err)
    g_dr_failed++;
  else
    g_dr_ok++;
}

/** Produces KMT_MSG_CNT keyed messages with an idempotent producer. */
static void produce_all(const char *brokers)
{
  rd_kafka_conf_t *conf = base_conf(brokers);
  rd_kafka_t *rk;
  char errstr[256];
  int i;

  set(conf, "enable.idempotence", "true");
  set(conf, "linger.ms", "5");
  rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
  rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
  cr_assert_not_null(rk, "producer: %s", errstr);

  g_dr_ok = g_dr_failed = 0;
  for (i = 0; i < KMT_MSG_CNT; i++) {
    char key[32];
    char val[32];
    rd_kafka_resp_err_t err;

    snprintf(key, sizeof(key), "onu-%d", i % 7);
    snprintf(val, sizeof(val), "job-%d", i);
    err = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(KMT_TOPIC),
                            RD_KAFKA_V_KEY(key, strlen(key)),
                            RD_KAFKA_V_VALUE(val, strlen(val)),
                            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                            RD_KAFKA_V_END);
    cr_assert_eq(err, RD_KAFKA_RESP_ERR_NO_ERROR, "produce: %s",
                 rd_kafka_err2str(err));
  }
  cr_assert_eq(rd_kafka_flush(rk, 15000), RD_KAFKA_RESP_ERR_NO_ERROR,
               "flush timed out");
  cr_assert_eq(g_dr_failed, 0);
  cr_assert_eq(g_dr_ok, KMT_MSG_CNT);
  rd_kafka_destroy(rk);
}

static rd_kafka_t *new_consumer(const char *brokers, const char *group)
{
  rd_kafka_conf_t *conf = base_conf(brokers);
  rd_kafka_t *rk;
  char errstr[256];

  set(conf, "group.id", group);
  set(conf, "auto.offset.reset", "earliest");
  set(conf, "enable.auto.commit", "false");
  set(conf, "enable.auto.offset.store", "false");
  /*
   * The mock holds a rejoin for about the old members' session timeout;
   * a short one keeps the suite fast (docs/dev-stack.md, limits).
   */
  set(conf, "session.timeout.ms", "6000");
  set(conf, "heartbeat.interval.ms", "500");
  rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
  cr_assert_not_null(rk, "consumer: %s", errstr);
  rd_kafka_poll_set_consumer(rk);
  return rk;
}

/** @returns committed offsets of KMT_TOPIC's partitions summed, as seen by rk. */
static int64_t committed_sum(rd_kafka_t *rk)
{
  rd_kafka_topic_partition_list_t *parts =
    rd_kafka_topic_partition_list_new(KMT_PARTITIONS);
  rd_kafka_resp_err_t err;
  int64_t sum = 0;
  int i;

  for (i = 0; i < KMT_PARTITIONS; i++)
    rd_kafka_topic_partition_list_add(parts, KMT_TOPIC, i);
  err = rd_kafka_committed(rk, parts, 10000);
  cr_assert_eq(err, RD_KAFKA_RESP_ERR_NO_ERROR, "committed: %s",
               rd_kafka_err2str(err));
  for (i = 0; i < parts->cnt; i++) {
    cr_assert_eq(parts->elems[i].err, RD_KAFKA_RESP_ERR_NO_ERROR);
    if (parts->elems[i].offset > 0)
      sum += parts->elems[i].offset;
  }
  rd_kafka_topic_partition_list_destroy(parts);
  return sum;
}

TestSuite(kafka_mock, .fini = teardown, .timeout = 30);

Test(kafka_mock, metadata_lists_brokers_and_topics)
{
  const char *args[] = {"--brokers", "3", "--partitions", "2", "--topic",
                        "extra.topic:5", NULL};
  rd_kafka_t *rk;
  const rd_kafka_metadata_t *md = NULL;
  char errstr[256];
  int seen = 0;
  int i;
  FILE *f;
  char filebuf[512] = "";

  cr_assert_eq(kmt_start(&g_proc, args, 1), 0, "kafka-mock did not start");
  /* Three loopback brokers, and the same list in the bootstrap file. */
  cr_assert_eq(strncmp(g_proc.brokers, "127.0.0.1:", 10), 0, "%s",
               g_proc.brokers);
  f = fopen(g_proc.boot_file, "r");
  cr_assert_not_null(f, "bootstrap file missing");
  cr_assert_not_null(fgets(filebuf, sizeof(filebuf), f));
  fclose(f);
  filebuf[strcspn(filebuf, "\n")] = '\0';
  cr_assert_str_eq(filebuf, g_proc.brokers);

  rk = rd_kafka_new(RD_KAFKA_PRODUCER, base_conf(g_proc.brokers), errstr,
                    sizeof(errstr));
  cr_assert_not_null(rk, "%s", errstr);
  cr_assert_eq(rd_kafka_metadata(rk, 1, NULL, &md, 10000),
               RD_KAFKA_RESP_ERR_NO_ERROR);
  cr_assert_eq(md->broker_cnt, 3);
  for (i = 0; i < md->topic_cnt; i++) {
    const rd_kafka_metadata_topic_t *t = &md->topics[i];
    if (strcmp(t->topic, "provisioning.jobs") == 0 ||
        strcmp(t->topic, "provisioning.queries") == 0 ||
        strcmp(t->topic, "provisioning.results") == 0 ||
        strcmp(t->topic, "provisioning.jobs.dlq") == 0 ||
        strcmp(t->topic, "provisioning.queries.dlq") == 0) {
      cr_expect_eq(t->partition_cnt, 2, "%s has %d partitions", t->topic,
                   t->partition_cnt);
      seen++;
    } else if (strcmp(t->topic, "extra.topic") == 0) {
      cr_expect_eq(t->partition_cnt, 5);
      seen++;
    }
  }
  cr_assert_eq(seen, 6, "expected the 5 provisioning topics and extra.topic");
  rd_kafka_metadata_destroy(md);
  rd_kafka_destroy(rk);
}

Test(kafka_mock, consumer_group_consumes_and_commits)
{
  const char *args[] = {"--partitions", "3", NULL};
  rd_kafka_t *c;
  rd_kafka_t *c2;
  rd_kafka_topic_partition_list_t *sub;
  int got = 0;
  int seen[KMT_MSG_CNT] = {0};
  int64_t high_sum = 0;
  long long deadline;
  int i;

  cr_assert_eq(kmt_start(&g_proc, args, 1), 0, "kafka-mock did not start");
  produce_all(g_proc.brokers);

  c = new_consumer(g_proc.brokers, "kmt-group");
  sub = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(sub, KMT_TOPIC, RD_KAFKA_PARTITION_UA);
  cr_assert_eq(rd_kafka_subscribe(c, sub), RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_topic_partition_list_destroy(sub);

  /* Bounded: the mock's first rebalance takes about 3 s. */
  deadline = now_ms() + 20000;
  while (got < KMT_MSG_CNT && now_ms() < deadline) {
    rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 200);
    rd_kafka_topic_partition_list_t *st;
    rd_kafka_resp_err_t serr;
    int n = -1;
    if (!m)
      continue;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR && m->len < 16) {
      char val[16];
      memcpy(val, m->payload, m->len);
      val[m->len] = '\0';
      if (sscanf(val, "job-%d", &n) == 1 && n >= 0 && n < KMT_MSG_CNT &&
          !seen[n]) {
        seen[n] = 1;
        got++;
      }
      /* As provisiond does: store explicitly, commit later. */
      st = rd_kafka_topic_partition_list_new(1);
      rd_kafka_topic_partition_list_add(st, KMT_TOPIC, m->partition)->offset =
        m->offset + 1;
      serr = rd_kafka_offsets_store(c, st);
      rd_kafka_topic_partition_list_destroy(st);
      cr_assert_eq(serr, RD_KAFKA_RESP_ERR_NO_ERROR, "offsets_store: %s",
                   rd_kafka_err2str(serr));
    }
    rd_kafka_message_destroy(m);
  }
  cr_assert_eq(got, KMT_MSG_CNT, "consumed %d of %d distinct messages", got,
               KMT_MSG_CNT);

  /* Synchronous commit of the stored offsets, then read them back. */
  cr_assert_eq(rd_kafka_commit(c, NULL, 0), RD_KAFKA_RESP_ERR_NO_ERROR);
  for (i = 0; i < KMT_PARTITIONS; i++) {
    int64_t lo = 0;
    int64_t hi = 0;
    cr_assert_eq(rd_kafka_query_watermark_offsets(c, KMT_TOPIC, i, &lo, &hi,
                                                  10000),
                 RD_KAFKA_RESP_ERR_NO_ERROR);
    high_sum += hi;
  }
  cr_assert_eq(high_sum, KMT_MSG_CNT, "high watermarks sum to %lld",
               (long long)high_sum);
  cr_assert_eq(committed_sum(c), high_sum);
  rd_kafka_consumer_close(c);
  rd_kafka_destroy(c);

  /*
   * A new member of the same group (no subscribe: the committed offsets
   * are fetched from the group coordinator) sees them: they live in the
   * broker, not in the first client.
   */
  c2 = new_consumer(g_proc.brokers, "kmt-group");
  cr_assert_eq(committed_sum(c2), KMT_MSG_CNT);
  rd_kafka_destroy(c2);

  /* Another group has committed nothing. */
  c2 = new_consumer(g_proc.brokers, "kmt-other-group");
  cr_assert_eq(committed_sum(c2), 0);
  rd_kafka_destroy(c2);
}

Test(kafka_mock, sigterm_exits_cleanly_and_removes_bootstrap_file)
{
  struct stat st;
  int status;

  cr_assert_eq(kmt_start(&g_proc, NULL, 1), 0, "kafka-mock did not start");
  cr_assert_eq(stat(g_proc.boot_file, &st), 0);
  cr_assert_eq(kill(g_proc.pid, SIGTERM), 0);
  status = kmt_wait(&g_proc, 10000);
  cr_assert_neq(status, -1, "kafka-mock did not exit on SIGTERM");
  cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
            "exit status %d", status);
  cr_assert_eq(stat(g_proc.boot_file, &st), -1,
               "bootstrap file left behind after a clean stop");
}

static void expect_usage_error(const char *opt, const char *val)
{
  const char *args[] = {opt, val, NULL};
  kmt_proc_t p = {.pid = -1, .out_fd = -1};
  int status;

  cr_assert_eq(kmt_start(&p, args, 0), 0);
  status = kmt_wait(&p, 10000);
  cr_assert_neq(status, -1, "kafka-mock %s %s did not exit", opt, val);
  cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 2,
            "kafka-mock %s %s: status %d, want exit 2", opt, val, status);
  kmt_stop(&p);
}

Test(kafka_mock, rejects_bad_options)
{
  expect_usage_error("--brokers", "9");
  expect_usage_error("--brokers", "2x");
  expect_usage_error("--partitions", "0");
  expect_usage_error("--topic", "bad/topic");
  expect_usage_error("--topic", "ok:0");
  expect_usage_error("--log-level", "loud");
}
