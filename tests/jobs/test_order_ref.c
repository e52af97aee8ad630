/* References (pv_order_resolve) and conditions (pv_order_cond_eval,
 * pv_order_step_until) at run time: typed and interpolated values,
 * escapes, array indexes, filters, the errors that name the reference,
 * every operator and combinator, and type mismatches. */
#include "jobs/order_def.h"
#include "tests/jobs/order_test_util.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

static json_t *ctx;

static void setup(void)
{
  ctx = ot_json(
      "{'input':{'sub':'s-1','prefix_id':7,'on':true,'ratio':0.5,"
      "'site':{'slug':'east'},'tags':['a','b'],'none':null},"
      "'steps':{'reserve_ip':{'result':{'id':42,'address':'100.64.0.2/28',"
      "'family':{'value':4}}},'find':{'result':{'items':[{'id':'onu-1'},"
      "{'id':'onu-2'}],'count':2,'1':'member named 1'}}},"
      "'self':{'result':{'id':42}},"
      "'order':{'id':'ord-1','tenant':'isp-east','type':'activate'}}");
}

static void teardown(void)
{
  json_decref(ctx);
}

TestSuite(order_ref, .init = setup, .fini = teardown);

static json_t *resolve_sq(const char *tmpl_sq, pv_error_t *e)
{
  json_t *t = ot_json(tmpl_sq);
  json_t *v = pv_order_resolve(t, ctx, e);
  json_decref(t);
  return v;
}

/* The template resolves to exactly want (both single-quoted JSON). */
static void resolves(const char *tmpl_sq, const char *want_sq)
{
  pv_error_t e;
  json_t *v = resolve_sq(tmpl_sq, &e);
  cr_assert_not_null(v, "%s: %s", tmpl_sq, e.message);
  json_t *want = ot_json(want_sq);
  char *got = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
  cr_assert(json_equal(v, want), "%s gave %s", tmpl_sq, got);
  free(got);
  json_decref(want);
  json_decref(v);
}

static void refused(const char *tmpl_sq, const char *want)
{
  pv_error_t e;
  json_t *v = resolve_sq(tmpl_sq, &e);
  cr_assert_null(v, "%s resolved", tmpl_sq);
  cr_assert_eq(e.cls, PV_ERR_BAD_ARGS);
  cr_assert_str_eq(e.message, want);
}

Test(order_ref, whole_string_reference_keeps_the_type)
{
  resolves("'${input.prefix_id}'", "7");
  resolves("'${input.on}'", "true");
  resolves("'${input.ratio}'", "0.5");
  resolves("'${input.site}'", "{'slug':'east'}");
  resolves("'${input.tags}'", "['a','b']");
  resolves("'${input.none}'", "null");
  resolves("'${steps.reserve_ip.result}'",
           "{'id':42,'address':'100.64.0.2/28','family':{'value':4}}");
  resolves("'${steps.reserve_ip.result.family.value}'", "4");
  resolves("'${self.result.id}'", "42");
  resolves("'${order.tenant}'", "'isp-east'");
  /* Inside structures, recursively; keys are never templates. */
  resolves("{'prefix_id':'${input.prefix_id}','${x}':['${order.id}',1,"
           "null,false]}",
           "{'prefix_id':7,'${x}':['ord-1',1,null,false]}");
}

Test(order_ref, interpolation_is_text)
{
  resolves("'subscriber ${input.sub}'", "'subscriber s-1'");
  resolves("'${input.prefix_id}'", "7");
  resolves("' ${input.prefix_id}'", "' 7'");
  resolves("'${input.on}/${input.ratio}/${input.prefix_id}'",
           "'true/0.5/7'");
  resolves("'${order.id}:${steps.find.result.items.1.id}'",
           "'ord-1:onu-2'");
  resolves("'no references here'", "'no references here'");
  resolves("''", "''");
  /* A lone $ or { is text. */
  resolves("'costs $5 {a}'", "'costs $5 {a}'");
  refused("'x ${input.site}'",
          "${input.site} is an object: only strings, numbers and booleans "
          "can go inside text");
  refused("'x ${input.none}'",
          "${input.none} is null: only strings, numbers and booleans can go "
          "inside text");
}

Test(order_ref, escapes)
{
  resolves("'$${input.sub}'", "'${input.sub}'");
  resolves("'a $${b} ${input.sub}'", "'a ${b} s-1'");
  resolves("'$$${input.sub}'", "'$${input.sub}'");
  resolves("'$$'", "'$$'");
  /* An escape makes the string text, never a typed reference. */
  resolves("'$${x}${input.prefix_id}'", "'${x}7'");
}

Test(order_ref, escaping_round_trips_through_the_inline_form)
{
  /* Whatever a BSS sends inline comes back unchanged from resolve. */
  static const char *const texts[] = {
    "${a}", "$${a}", "$$${a}", "${", "$", "$$", "x${y}z$${w}", "${}${}",
    "{${a.b}}", "$${", "a$", "${input.sub}", "$$$$${{"};
  for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
    json_t *steps = json_pack("[{s:s,s:s,s:{s:s}}]", "service", "voltha",
                              "op", "get_device", "args", "device_id",
                              texts[i]);
    pv_error_t e;
    pv_order_def_t *def = pv_order_def_inline(steps, &e);
    cr_assert_not_null(def, "%s: %s", texts[i], e.message);
    json_t *args = pv_order_resolve(pv_order_def_step(def, 0)->call.args,
                                    ctx, &e);
    cr_assert_not_null(args, "%s: %s", texts[i], e.message);
    cr_assert_str_eq(json_string_value(json_object_get(args, "device_id")),
                     texts[i]);
    json_decref(args);
    pv_order_def_destroy(def);
    json_decref(steps);
  }
}

Test(order_ref, array_indexes_and_numeric_names)
{
  resolves("'${steps.find.result.items.0.id}'", "'onu-1'");
  resolves("'${steps.find.result.items.1}'", "{'id':'onu-2'}");
  resolves("'${input.tags.1}'", "'b'");
  /* On an object a number is a member name. */
  resolves("'${steps.find.result.1}'", "'member named 1'");
  refused("'${steps.find.result.items.2.id}'",
          "${steps.find.result.items.2.id}: steps.find.result.items has no "
          "item 2 (2 items)");
  refused("'${steps.find.result.items.first}'",
          "${steps.find.result.items.first}: steps.find.result.items is an "
          "array; \"first\" is not an item number");
}

Test(order_ref, missing_members_named)
{
  refused("'${input.wifi_ssid}'", "${input.wifi_ssid}: input \"wifi_ssid\" "
                                  "was not given");
  refused("'${steps.enable_onu.result.device_id}'",
          "${steps.enable_onu.result.device_id}: step enable_onu has no "
          "result (it has not succeeded)");
  refused("'${steps.reserve_ip.result.adress}'",
          "${steps.reserve_ip.result.adress}: steps.reserve_ip.result has no "
          "member \"adress\"");
  refused("'${steps.reserve_ip.result.id.x}'",
          "${steps.reserve_ip.result.id.x}: steps.reserve_ip.result.id is an "
          "integer, not an object");
  /* Where in the template it failed. */
  refused("{'parameter_values':[['p','${input.wifi_ssid}']]}",
          "parameter_values[0][1]: ${input.wifi_ssid}: input \"wifi_ssid\" "
          "was not given");
  refused("{'a':'${input.x'}",
          "a: \"${input.x\": unterminated reference (a literal ${ is written "
          "$${)");
  json_t *empty = json_object();
  pv_error_t e;
  json_t *t = ot_json("'${self.result.id}'");
  cr_assert_null(pv_order_resolve(t, empty, &e));
  cr_assert_str_eq(e.message, "${self.result.id}: \"self\" is not known "
                              "here");
  json_decref(t);
  json_decref(empty);
}

Test(order_ref, ip_filter)
{
  resolves("'${steps.reserve_ip.result.address|ip}'", "'100.64.0.2'");
  resolves("'addr=${steps.reserve_ip.result.address|ip};'",
           "'addr=100.64.0.2;'");
  resolves("'${input.sub|ip}'", "'s-1'");
  refused("'${steps.reserve_ip.result.id|ip}'",
          "${steps.reserve_ip.result.id|ip}: the ip filter needs a string "
          "such as \"10.0.0.2/24\", got integer");
}

Test(order_ref, interpolation_is_capped)
{
  /* 64 KiB of text at most, whatever the inputs hold. */
  char *big = malloc(40000);
  memset(big, 'x', 39999);
  big[39999] = '\0';
  json_t *c = json_pack("{s:{s:s}}", "input", "big", big);
  json_t *t = json_string("${input.big}${input.big}");
  pv_error_t e;
  cr_assert_null(pv_order_resolve(t, c, &e));
  cr_assert_str_eq(e.message, "text longer than 65536 bytes");
  json_decref(t);
  json_decref(c);
  free(big);
}

/* ---- conditions --------------------------------------------------------- */

static json_t *doc;

static void cond_setup(void)
{
  doc = ot_json("{'result':{'oper_status':'ACTIVE','count':3,'ratio':1.5,"
                "'reason':'omci-flows-pushed','ok':true,'gone':null,"
                "'items':[{'id':'a'}],'n2':2}}");
}

static void cond_teardown(void)
{
  json_decref(doc);
}

TestSuite(order_cond, .init = cond_setup, .fini = cond_teardown);

static int eval(const char *cond_sq, pv_error_t *e)
{
  json_t *c = ot_json(cond_sq);
  int r = pv_order_cond_eval(c, doc, e);
  json_decref(c);
  return r;
}

static void holds(const char *cond_sq, int want)
{
  pv_error_t e;
  int r = eval(cond_sq, &e);
  cr_assert_eq(r, want, "%s gave %d (%s)", cond_sq, r,
               r < 0 ? e.message : "");
}

Test(order_cond, comparisons)
{
  holds("{'path':'result.oper_status','eq':'ACTIVE'}", 1);
  holds("{'path':'result.oper_status','eq':'ACTIVATING'}", 0);
  holds("{'path':'result.oper_status','ne':'ACTIVATING'}", 1);
  holds("{'path':'result.oper_status','ne':'ACTIVE'}", 0);
  holds("{'path':'result.reason','in':['initial-mib-downloaded',"
        "'omci-flows-pushed']}", 1);
  holds("{'path':'result.reason','in':['initial-mib-downloaded']}", 0);
  holds("{'path':'result.ok','eq':true}", 1);
  holds("{'path':'result.items.0.id','eq':'a'}", 1);
  holds("{'path':'result.items','eq':[{'id':'a'}]}", 1);
  /* Numbers compare by value. */
  holds("{'path':'result.n2','eq':2.0}", 1);
  holds("{'path':'result.count','gt':2}", 1);
  holds("{'path':'result.count','gt':3}", 0);
  holds("{'path':'result.count','gte':3}", 1);
  holds("{'path':'result.count','lt':3}", 0);
  holds("{'path':'result.count','lte':3}", 1);
  holds("{'path':'result.ratio','gt':1}", 1);
  holds("{'path':'result.ratio','lt':1.25}", 0);
}

Test(order_cond, absent_values)
{
  holds("{'path':'result.oper_status','exists':true}", 1);
  holds("{'path':'result.nothing','exists':true}", 0);
  holds("{'path':'result.nothing','exists':false}", 1);
  /* null counts as absent (NetBox and VOLTHA send null for "none"). */
  holds("{'path':'result.gone','exists':false}", 1);
  /* Absent: not there yet, whatever the comparison. */
  holds("{'path':'result.nothing','eq':'x'}", 0);
  holds("{'path':'result.nothing','ne':'x'}", 0);
  holds("{'path':'result.nothing','in':['x']}", 0);
  holds("{'path':'result.nothing','gt':1}", 0);
  holds("{'path':'result.items.5.id','eq':'a'}", 0);
  holds("{'path':'result.count.x','eq':1}", 0);
}

Test(order_cond, combinators)
{
  holds("{'all':[{'path':'result.oper_status','eq':'ACTIVE'},"
        "{'path':'result.count','gte':1}]}", 1);
  holds("{'all':[{'path':'result.oper_status','eq':'ACTIVE'},"
        "{'path':'result.count','gte':10}]}", 0);
  holds("{'any':[{'path':'result.oper_status','eq':'DOWN'},"
        "{'path':'result.count','gte':1}]}", 1);
  holds("{'any':[{'path':'result.oper_status','eq':'DOWN'},"
        "{'path':'result.count','gte':10}]}", 0);
  holds("{'not':{'path':'result.oper_status','eq':'DOWN'}}", 1);
  holds("{'not':{'all':[{'path':'result.ok','eq':true}]}}", 0);
}

Test(order_cond, type_mismatches_are_errors)
{
  pv_error_t e;
  cr_assert_eq(eval("{'path':'result.oper_status','gt':1}", &e), -1);
  cr_assert_eq(e.cls, PV_ERR_BAD_ARGS);
  cr_assert_str_eq(e.message, "condition result.oper_status: gt compares "
                              "numbers; the value is a string \"ACTIVE\"");
  cr_assert_eq(eval("{'path':'result.count','lt':'3'}", &e), -1);
  cr_assert_str_eq(e.message, "condition result.count: lt needs a number, "
                              "got a string");
  cr_assert_eq(eval("{'path':'result.count','in':3}", &e), -1);
  cr_assert_str_eq(e.message, "condition result.count: in needs an array, "
                              "got integer");
  cr_assert_eq(eval("{'path':'result.count','exists':'yes'}", &e), -1);
  cr_assert_str_eq(e.message, "condition result.count: exists needs true "
                              "or false");
  /* Malformed conditions (never from a checked definition) are errors, not
   * crashes. */
  cr_assert_eq(eval("[]", &e), -1);
  cr_assert_str_eq(e.message, "condition: expected an object, got array");
  cr_assert_eq(eval("{'path':'result.x'}", &e), -1);
  cr_assert_eq(eval("{'path':3,'eq':1}", &e), -1);
  cr_assert_eq(eval("{'all':3}", &e), -1);
  cr_assert_eq(eval("{'path':'a..b','eq':1}", &e), -1);
}

Test(order_cond, until_resolves_references_first)
{
  char err[1024];
  pv_order_def_t *def = ot_parse(
      "{'name':'t','version':1,'input':{'want':{'type':'string'}},"
      "'steps':[{'name':'a','await':{'service':'voltha','op':'get_device',"
      "'args':{'device_id':'d'},'until':{'path':'result.oper_status','eq':"
      "'${input.want}'}}}]}",
      err, sizeof(err));
  cr_assert_not_null(def, "%s", err);
  const pv_order_step_t *st = pv_order_def_step(def, 0);
  json_t *c = ot_json("{'input':{'want':'ACTIVE'}}");
  json_t *result = json_object_get(doc, "result");
  pv_error_t e;
  cr_assert_eq(pv_order_step_until(st, c, result, &e), 1, "%s", e.message);
  json_decref(c);
  c = ot_json("{'input':{'want':'DOWN'}}");
  cr_assert_eq(pv_order_step_until(st, c, result, &e), 0);
  cr_assert_eq(pv_order_step_until(st, c, NULL, &e), 0);
  json_decref(c);
  c = ot_json("{'input':{}}");
  cr_assert_eq(pv_order_step_until(st, c, result, &e), -1);
  cr_assert_str_eq(e.message, "eq: ${input.want}: input \"want\" was not "
                              "given");
  json_decref(c);
  pv_order_def_destroy(def);
}

/* A `when` may compare with a reference, as an await's `until` may: the
 * reference is resolved before the condition is evaluated. */
Test(order_cond, when_resolves_references_first)
{
  char err[1024];
  pv_order_def_t *def = ot_parse(
      "{'name':'t','version':1,'input':{'mode':{'type':'string'},"
      "'want':{'type':'string'}},'steps':[{'name':'a','when':{'path':"
      "'input.mode','eq':'${input.want}'},'call':{'service':'voltha','op':"
      "'health_check'}}]}",
      err, sizeof(err));
  cr_assert_not_null(def, "%s", err);
  const pv_order_step_t *st = pv_order_def_step(def, 0);
  pv_error_t e;
  json_t *c = ot_json("{'input':{'mode':'fast','want':'fast'}}");
  cr_assert_eq(pv_order_step_applies(st, c, &e), 1, "%s", e.message);
  json_decref(c);
  c = ot_json("{'input':{'mode':'fast','want':'slow'}}");
  cr_assert_eq(pv_order_step_applies(st, c, &e), 0);
  json_decref(c);
  c = ot_json("{'input':{'mode':'fast'}}");
  cr_assert_eq(pv_order_step_applies(st, c, &e), -1);
  cr_assert_str_eq(e.message, "when: eq: ${input.want}: input \"want\" was "
                              "not given");
  json_decref(c);
  pv_order_def_destroy(def);
}
