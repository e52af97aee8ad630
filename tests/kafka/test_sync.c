/**
 * @file test_sync.c
 * @brief kafka/sync.c (the blocking client of provctl and the tests)
 * against an in-process librdkafka mock cluster with injected broker
 * errors: what a real broker answers while a new topic's partitions get
 * their leaders.
 */
#include <criterion/criterion.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "kafka/sync.h"

#include <string.h>

/* Kafka protocol request type ListOffsets (the watermark query). */
#define API_LIST_OFFSETS 2

static rd_kafka_t *g_rk;
static rd_kafka_mock_cluster_t *g_mc;

static void mock_up(void)
{
  char err[256];
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "log_level", "0", err, sizeof(err));
  g_rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
  cr_assert_not_null(g_rk, "%s", err);
  g_mc = rd_kafka_mock_cluster_new(g_rk, 1);
  cr_assert_not_null(g_mc);
  cr_assert_eq(rd_kafka_mock_topic_create(g_mc, "t.snap", 2, 1), 0);
}

static void mock_down(void)
{
  rd_kafka_mock_cluster_destroy(g_mc);
  rd_kafka_destroy(g_rk);
}

TestSuite(ksync, .init = mock_up, .fini = mock_down, .timeout = 60);

/* Apache Kafka answers "not leader" for a moment after CreateTopics; a
 * snapshot taken then must wait for the leader, not fail (test_provctl
 * failed on it: "topic ... partition 1: Broker: Not leader for
 * partition"). */
Test(ksync, snapshot_waits_out_leader_election)
{
  const char *brokers = rd_kafka_mock_cluster_bootstraps(g_mc);
  pv_ksync_producer_t *p = pv_ksync_producer_new(brokers);
  cr_assert_not_null(p);
  cr_assert_eq(pv_ksync_produce(p, "t.snap", "k", "v1", 2, NULL), 0);
  pv_ksync_producer_destroy(p);

  rd_kafka_mock_push_request_errors(
      g_mc, API_LIST_OFFSETS, 3, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
      RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE,
      RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION);
  char err[256] = "";
  pv_ksync_consumer_t *c =
      pv_ksync_consumer_snapshot(brokers, "t.snap", err, sizeof(err));
  cr_assert_not_null(c, "snapshot failed: %s", err);
  int n = 0;
  while (!pv_ksync_consumer_drained(c)) {
    pv_ksync_msg_t *m = pv_ksync_consume(c, 5000);
    cr_assert_not_null(m, "record not read");
    n++;
    pv_ksync_msg_destroy(m);
  }
  cr_assert_eq(n, 1);
  pv_ksync_consumer_destroy(c);
}

/* An error that is not about leadership still fails at once, with the
 * broker's words. */
Test(ksync, snapshot_fails_on_a_lasting_error)
{
  const char *brokers = rd_kafka_mock_cluster_bootstraps(g_mc);
  /* Lasting: librdkafka may ask again by itself, so every answer for a
   * while is the refusal. */
  rd_kafka_resp_err_t errs[50];
  for (size_t i = 0; i < 50; i++)
    errs[i] = RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED;
  rd_kafka_mock_push_request_errors_array(g_mc, API_LIST_OFFSETS, 50, errs);
  char err[256] = "";
  pv_ksync_consumer_t *c =
      pv_ksync_consumer_snapshot(brokers, "t.snap", err, sizeof(err));
  cr_assert_null(c);
  cr_assert(strstr(err, "uthoriz"), "error: %s", err);
}
