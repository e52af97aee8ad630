/*
 * The fuzz entry point of order definitions (a libFuzzer target under
 * fuzz/ wraps it in three lines): whatever the bytes, parsing, the
 * canonical JSON round trip, resolving and evaluating must neither crash
 * nor leak, and a definition that parses must come back equal from its
 * canonical JSON.
 */
#include "jobs/order_def.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A context shaped like the runner's, with values of every kind. */
static json_t *fixed_ctx(void)
{
  return json_pack(
      "{s:{s:s,s:i,s:b,s:[ss]},s:{s:{s:{s:i,s:s,s:[{s:s}]}}},"
      "s:{s:{s:i}},s:{s:s,s:s,s:s}}",
      "input", "subscriber_id", "sub-1", "prefix_id", 7, "flag", 1, "list",
      "a", "b", "steps", "reserve_ip", "result", "id", 42, "address",
      "100.64.0.2/28", "items", "id", "onu-1", "self", "result", "id", 42,
      "order", "id", "ord-1", "tenant", "isp-east", "type", "fuzz");
}

static void exercise(const pv_order_def_t *def, const json_t *ctx)
{
  pv_error_t err;
  for (size_t i = 0; i < pv_order_def_steps(def); i++) {
    const pv_order_step_t *st = pv_order_def_step(def, i);
    json_decref(pv_order_resolve(st->call.args, ctx, &err));
    if (st->compensate.op)
      json_decref(pv_order_resolve(st->compensate.args, ctx, &err));
    pv_order_step_applies(st, ctx, &err);
    if (st->until) {
      json_t *result = json_object_get(
          json_object_get(json_object_get(ctx, "steps"), "reserve_ip"),
          "result");
      pv_order_step_until(st, ctx, result, &err);
    }
    const char *cp;
    pv_order_def_action(def, i, PV_ERR_HTTP_4XX, &cp);
  }
  json_decref(pv_order_resolve(pv_order_def_outputs(def), ctx, &err));
  json_t *input = json_object_get(ctx, "input");
  json_decref(pv_order_input_normalize(def, input, &err));
}

int pv_order_def_fuzz_one(const uint8_t *data, size_t len)
{
  char err[1024];
  json_t *ctx = fixed_ctx();
  pv_order_def_t *def =
      pv_order_def_parse((const char *)data, len, "fuzz", err, sizeof(err));
  if (def) {
    json_t *canon = pv_order_def_json(def);
    char *text = json_dumps(canon, JSON_COMPACT | JSON_SORT_KEYS);
    pv_order_def_t *again =
        text ? pv_order_def_parse(text, strlen(text), "pinned", err,
                                  sizeof(err))
             : NULL;
    json_t *canon2 = again ? pv_order_def_json(again) : NULL;
    if (!again || !json_equal(canon, canon2)) {
      fprintf(stderr, "order definition does not round-trip: %s\n",
              again ? "canonical JSON differs" : err);
      abort();
    }
    exercise(def, ctx);
    json_decref(canon2);
    pv_order_def_destroy(again);
    free(text);
    json_decref(canon);
    pv_order_def_destroy(def);
  }
  /* The same bytes as a template and as a condition. */
  json_t *doc = json_loadb((const char *)data, len,
                           JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL);
  if (doc) {
    pv_error_t e;
    json_decref(pv_order_resolve(doc, ctx, &e));
    pv_order_cond_eval(doc, ctx, &e);
    json_decref(doc);
  }
  json_decref(ctx);
  return 0;
}
