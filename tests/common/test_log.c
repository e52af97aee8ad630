#include "common/buf.h"
#include "common/error.h"
#include "common/log.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <string.h>

static char captured[PV_LOG_LINE_MAX + 1];
static size_t captured_len;
static int captured_count;

static void capture(const char *line, size_t len, void *arg)
{
  (void)arg;
  memcpy(captured, line, len);
  captured[len] = '\0';
  captured_len = len;
  captured_count++;
}

static void setup(void)
{
  captured_count = 0;
  pv_log_set_sink(capture, NULL);
  pv_log_set_level(PV_LOG_INFO);
}

static json_t *parse_line(void)
{
  json_error_t jerr;
  json_t *doc = json_loadb(captured, captured_len, 0, &jerr);
  cr_assert_not_null(doc, "log line is not JSON: %s (%s)", captured, jerr.text);
  return doc;
}

TestSuite(log, .init = setup);

Test(log, line_is_json_with_fields_in_order)
{
  pv_log(PV_LOG_INFO, "http_request.succeeded", PV_S("service", "voltha"),
         PV_I("status", 200), PV_B("retry", false), PV_S("path", NULL));
  cr_assert_eq(captured_count, 1);
  cr_assert(strncmp(captured, "{\"ts\":\"", 7) == 0);
  json_t *doc = parse_line();
  cr_assert_str_eq(json_string_value(json_object_get(doc, "event")),
                   "http_request.succeeded");
  cr_assert_str_eq(json_string_value(json_object_get(doc, "level")), "info");
  cr_assert_eq(json_integer_value(json_object_get(doc, "status")), 200);
  cr_assert(json_is_false(json_object_get(doc, "retry")));
  cr_assert(json_is_null(json_object_get(doc, "path")));
  json_decref(doc);
}

Test(log, level_filter_skips_evaluation)
{
  int evaluated = 0;
  pv_log(PV_LOG_DEBUG, "noise", PV_I("n", ++evaluated));
  cr_assert_eq(captured_count, 0);
  cr_assert_eq(evaluated, 0, "fields of a filtered line must not be evaluated");
}

Test(log, secrets_are_redacted_whatever_the_caller_passes)
{
  pv_log(PV_LOG_WARN, "oops", PV_S("authorization", "Token abc123"),
         PV_S("netbox_token", "nbt_xyz.secret"), PV_S("Password", "hunter2"));
  cr_assert_null(strstr(captured, "abc123"));
  cr_assert_null(strstr(captured, "nbt_xyz"));
  cr_assert_null(strstr(captured, "hunter2"));
  json_t *doc = parse_line();
  cr_assert_str_eq(json_string_value(json_object_get(doc, "authorization")),
                   "[redacted]");
  json_decref(doc);
}

Test(log, control_characters_and_quotes_escaped)
{
  pv_log(PV_LOG_ERROR, "e", PV_S("msg", "a\"b\\c\nd\x01"));
  json_t *doc = parse_line();
  cr_assert_str_eq(json_string_value(json_object_get(doc, "msg")),
                   "a\"b\\c\nd\x01");
  json_decref(doc);
}

Test(log, oversize_line_stays_valid_json_and_is_marked)
{
  static char big[3000];
  memset(big, 'x', sizeof(big) - 1);
  pv_log(PV_LOG_INFO, "big", PV_S("a", big), PV_S("b", big), PV_S("c", big),
         PV_S("d", big), PV_S("e", big));
  cr_assert_leq(captured_len, PV_LOG_LINE_MAX);
  json_t *doc = parse_line();
  cr_assert(json_is_true(json_object_get(doc, "truncated")));
  /* a single long value is cut, not dropped */
  const char *a = json_string_value(json_object_get(doc, "a"));
  cr_assert_not_null(a);
  cr_assert_lt(strlen(a), sizeof(big));
  json_decref(doc);
}

Test(error, names_round_trip)
{
  for (int c = 0; c < PV_ERR__COUNT; c++)
    cr_assert_eq(pv_errclass_parse(pv_errclass_name((pv_errclass_t)c)), c);
  cr_assert_eq(pv_errclass_parse("nope"), -1);
  cr_assert(!pv_errclass_is_dead(PV_ERR_HTTP_4XX));
  cr_assert(pv_errclass_is_dead(PV_ERR_OUTCOME_UNKNOWN));
}

Test(buf, cap_is_enforced_and_frees)
{
  pv_buf_t b;
  pv_buf_init(&b, 10);
  cr_assert_eq(pv_buf_append(&b, "hello", 5), 0);
  cr_assert_eq(pv_buf_appendf(&b, "%d", 12345), 0);
  cr_assert_str_eq(b.data, "hello12345");
  cr_assert_eq(pv_buf_append(&b, "!", 1), -1);
  cr_assert_null(b.data);
  cr_assert_eq(b.len, 0);
  pv_buf_free(&b);
}

#include "common/map.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

Test(map, put_get_remove_and_grow)
{
  pv_map_t *m = pv_map_new();
  static int vals[1000];
  char key[32];
  for (int i = 0; i < 1000; i++) {
    snprintf(key, sizeof(key), "key-%d", i);
    cr_assert_null(pv_map_put(m, key, &vals[i]));
  }
  cr_assert_eq(pv_map_size(m), 1000);
  for (int i = 0; i < 1000; i++) {
    snprintf(key, sizeof(key), "key-%d", i);
    cr_assert_eq(pv_map_get(m, key), &vals[i]);
  }
  cr_assert_eq(pv_map_put(m, "key-5", &vals[6]), &vals[5], "put replaces");
  cr_assert_eq(pv_map_remove(m, "key-5"), &vals[6]);
  cr_assert_null(pv_map_get(m, "key-5"));
  cr_assert_null(pv_map_remove(m, "absent"));
  cr_assert_eq(pv_map_size(m), 999);
  pv_map_destroy(m);
}

/* ---- adversarial keys ----------------------------------------------------
 * FNV-1a's low k bits after a byte depend only on the low k bits before it
 * (xor, then a product mod 2^64), so anyone can build keys that share their
 * low bits, hence their bucket: find two short blocks that take one
 * low state to the same next low state, repeat m times, and the 2^m keys
 * made by choosing either block at each step all collide. The map must not
 * care. */

#define ADV_LOW_BITS 16
#define ADV_STEPS 15 /* 32768 keys: the map then has 32768 buckets (2^15) */

static uint64_t fnv1a_step(uint64_t h, const char *s, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    h ^= (unsigned char)s[i];
    h *= 1099511628211ull;
  }
  return h;
}

static const char adv_alpha[] =
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/* blocks[step][0..1]: two 3-character blocks that collide in the low bits
 * from the state reached so far (two characters are not enough: the
 * product is a bijection of the low bits, so only a third byte's xor can
 * cancel a difference left by the first two). */
static void adversarial_blocks(char blocks[ADV_STEPS][2][4])
{
  const uint64_t mask = (1u << ADV_LOW_BITS) - 1;
  uint64_t state = 1469598103934665603ull; /* FNV offset basis */
  static int seen[1u << ADV_LOW_BITS];
  for (int step = 0; step < ADV_STEPS; step++) {
    memset(seen, 0, sizeof(seen));
    bool found = false;
    for (int i = 0; i < 62 * 62 * 62 && !found; i++) {
      char blk[4] = {adv_alpha[i / 3844], adv_alpha[i / 62 % 62],
                     adv_alpha[i % 62], '\0'};
      uint64_t h = fnv1a_step(state, blk, 3);
      int *slot = &seen[h & mask];
      if (!*slot) {
        *slot = i + 1;
        continue;
      }
      int p = *slot - 1;
      char prev[4] = {adv_alpha[p / 3844], adv_alpha[p / 62 % 62],
                      adv_alpha[p % 62], '\0'};
      memcpy(blocks[step][0], prev, 4);
      memcpy(blocks[step][1], blk, 4);
      state = h; /* same low bits as the other block's */
      found = true;
    }
    cr_assert(found, "no FNV-1a block collision at step %d", step);
  }
}

Test(map, producer_chosen_colliding_keys_do_not_share_a_bucket)
{
  static char blocks[ADV_STEPS][2][4];
  adversarial_blocks(blocks);
  const size_t n = (size_t)1 << ADV_STEPS;
  pv_map_t *m = pv_map_new();
  static int val;
  uint64_t low = 0;
  char key[3 * ADV_STEPS + 1];
  for (size_t i = 0; i < n; i++) {
    for (int s = 0; s < ADV_STEPS; s++)
      memcpy(key + 3 * s, blocks[s][(i >> s) & 1], 3);
    key[3 * ADV_STEPS] = '\0';
    /* the keys really are adversarial for FNV-1a */
    uint64_t h = fnv1a_step(1469598103934665603ull, key, 3 * ADV_STEPS) &
                 ((1u << ADV_LOW_BITS) - 1);
    if (i == 0)
      low = h;
    cr_assert_eq(h, low, "key %zu does not collide under FNV-1a", i);
    cr_assert_null(pv_map_put(m, key, &val), "key %zu is new", i);
  }
  cr_assert_eq(pv_map_size(m), n);
  /* With a random hash and load <= 1 the longest chain of 32768 keys is
   * about 8; with FNV-1a every one of these keys is in one chain. */
  size_t longest = pv_map_longest_chain(m);
  cr_assert_lt(longest, 24, "longest chain %zu of %zu keys: the bucket of a "
               "key must not be predictable", longest, n);
  for (size_t i = 0; i < n; i++) {
    for (int s = 0; s < ADV_STEPS; s++)
      memcpy(key + 3 * s, blocks[s][(i >> s) & 1], 3);
    cr_assert_eq(pv_map_get(m, key), &val);
  }
  pv_map_destroy(m);
}
