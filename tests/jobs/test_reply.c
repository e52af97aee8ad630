/* jobs/reply.c: replies capped to fit a Kafka record, and the stub that
 * replaces a reply Kafka refused. */
#include "jobs/reply.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

/* A list reply of n devices of about 100 bytes each. */
static json_t *list_reply(int n)
{
  json_t *items = json_array();
  for (int i = 0; i < n; i++)
    json_array_append_new(items, json_pack("{s:i,s:s,s:s}", "id", i, "name",
                                           "device-with-a-long-enough-name",
                                           "serial", "SN-0123456789abcdef"
                                           "0123456789abcdef0123456789"));
  return json_pack("{s:i,s:s,s:s,s:s,s:s,s:s,s:{s:o,s:i,s:i,s:b},s:n}", "v", 1,
                   "id", "j-1", "tenant", "isp-east", "service", "netbox",
                   "op", "list_devices", "status", "succeeded", "result",
                   "items", items, "count", n, "total", n, "truncated", 0,
                   "error");
}

static json_t *decoded(const char *buf, size_t len, pv_format_t fmt)
{
  json_t *doc = NULL;
  char err[128];
  cr_assert_eq(pv_doc_decode(buf, len, fmt, &doc, err, sizeof(err)), 0, "%s",
               err);
  return doc;
}

Test(reply, a_reply_within_the_cap_is_unchanged)
{
  json_t *doc = list_reply(3);
  char *buf = NULL;
  size_t len = 0, full = 1;
  cr_assert_eq(pv_reply_encode_capped(doc, PV_FMT_MSGPACK, 100000, &buf, &len,
                                      &full), 0);
  cr_assert_eq(full, 0);
  json_t *back = decoded(buf, len, PV_FMT_MSGPACK);
  cr_assert(json_equal(back, doc));
  json_decref(back);
  json_decref(doc);
  free(buf);
}

Test(reply, a_list_is_cut_to_the_items_that_fit_and_says_so)
{
  pv_format_t fmts[] = {PV_FMT_MSGPACK, PV_FMT_JSON};
  for (int f = 0; f < 2; f++) {
    json_t *doc = list_reply(20000);
    char *whole = NULL;
    size_t whole_len = 0;
    cr_assert_eq(pv_doc_encode(doc, fmts[f], &whole, &whole_len), 0);
    free(whole);
    cr_assert_gt(whole_len, 1000000);
    char *buf = NULL;
    size_t len = 0, full = 0;
    cr_assert_eq(pv_reply_encode_capped(doc, fmts[f], 50000, &buf, &len,
                                        &full), 0);
    cr_assert_leq(len, 50000);
    cr_assert_eq(full, whole_len);
    json_t *back = decoded(buf, len, fmts[f]);
    json_t *r = json_object_get(back, "result");
    size_t kept = json_array_size(json_object_get(r, "items"));
    cr_assert_gt(kept, 300, "only %zu items kept in 50000 bytes", kept);
    cr_assert_eq(json_integer_value(json_object_get(r, "count")), (int)kept);
    cr_assert_eq(json_integer_value(json_object_get(r, "total")), 20000);
    cr_assert(json_is_true(json_object_get(r, "truncated")));
    cr_assert(json_is_true(json_object_get(back, "truncated")));
    cr_assert_eq(json_integer_value(json_object_get(back, "reply_bytes")),
                 (json_int_t)whole_len);
    cr_assert_str_eq(json_string_value(json_object_get(back, "status")),
                     "succeeded");
    /* the caller's document (and the result it shares) is untouched */
    cr_assert_eq(json_array_size(json_object_get(json_object_get(doc,
                                                                 "result"),
                                                 "items")), 20000);
    cr_assert_null(json_object_get(doc, "truncated"));
    json_decref(back);
    json_decref(doc);
    free(buf);
  }
}

Test(reply, another_result_too_large_is_left_out)
{
  json_t *doc = list_reply(1);
  char *big = malloc(200001);
  memset(big, 'x', 200000);
  big[200000] = '\0';
  json_object_set_new(doc, "result", json_pack("{s:s}", "config", big));
  free(big);
  char *buf = NULL;
  size_t len = 0, full = 0;
  cr_assert_eq(pv_reply_encode_capped(doc, PV_FMT_JSON, 8192, &buf, &len,
                                      &full), 0);
  cr_assert_leq(len, 8192);
  cr_assert_gt(full, 200000);
  json_t *back = decoded(buf, len, PV_FMT_JSON);
  cr_assert(json_is_null(json_object_get(back, "result")));
  cr_assert(json_is_true(json_object_get(back, "truncated")));
  cr_assert_str_eq(json_string_value(json_object_get(back, "id")), "j-1");
  json_decref(back);
  json_decref(doc);
  free(buf);
}

Test(reply, the_stub_keeps_the_envelope_and_says_why)
{
  json_t *doc = list_reply(50);
  json_object_set_new(doc, "status", json_string("failed"));
  json_object_set_new(doc, "error",
                      json_pack("{s:s,s:s,s:i}", "class", "http_4xx",
                                "message", "netbox answered 404", "http_status",
                                404));
  char *reply = NULL, *stub = NULL;
  size_t reply_len = 0, stub_len = 0;
  cr_assert_eq(pv_doc_encode(doc, PV_FMT_MSGPACK, &reply, &reply_len), 0);
  cr_assert_eq(pv_reply_stub(reply, reply_len, PV_FMT_MSGPACK, "j-1",
                             "bss.replies", "refused: Message size too large",
                             &stub, &stub_len), 0);
  cr_assert_lt(stub_len, 512);
  json_t *s = decoded(stub, stub_len, PV_FMT_MSGPACK);
  cr_assert_str_eq(json_string_value(json_object_get(s, "id")), "j-1");
  cr_assert_str_eq(json_string_value(json_object_get(s, "status")), "failed");
  cr_assert_str_eq(json_string_value(json_object_get(s, "op")), "list_devices");
  cr_assert(json_is_null(json_object_get(s, "result")));
  json_t *e = json_object_get(s, "error");
  cr_assert_str_eq(json_string_value(json_object_get(e, "class")),
                   "reply_undeliverable");
  cr_assert_str_eq(json_string_value(json_object_get(e, "message")),
                   "refused: Message size too large");
  cr_assert_str_eq(json_string_value(json_object_get(json_object_get(s,
                                                                     "job_error"),
                                                     "class")),
                   "http_4xx");
  cr_assert_str_eq(json_string_value(json_object_get(s, "reply_topic")),
                   "bss.replies");
  cr_assert_eq(json_integer_value(json_object_get(s, "reply_bytes")),
               (json_int_t)reply_len);
  json_decref(s);
  free(stub);
  /* a reply that does not decode: the id is still there */
  cr_assert_eq(pv_reply_stub("\xc1", 1, PV_FMT_MSGPACK, "j-2", "t", "why",
                             &stub, &stub_len), 0);
  s = decoded(stub, stub_len, PV_FMT_MSGPACK);
  cr_assert_str_eq(json_string_value(json_object_get(s, "id")), "j-2");
  cr_assert(json_is_null(json_object_get(s, "job_error")));
  json_decref(s);
  free(stub);
  free(reply);
  json_decref(doc);
}
