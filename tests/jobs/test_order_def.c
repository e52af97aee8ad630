/* Order type files (jobs/order_def.c and helpers): every refusal with its
 * exact message, policies, input checks, the canonical JSON round trip,
 * the inline form, the folder loader and the shipped types. */
#include "jobs/order_def.h"
#include "tests/jobs/order_test_util.h"
#include "tests/support/testenv.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A step that reads: the smallest valid definition is built around it. */
#define READ_STEP                                                             \
  "{'name':'a','call':{'service':'voltha','op':'get_device',"                 \
  "'args':{'device_id':'d'}}}"
#define DEF(steps) "{'name':'t','version':1,'steps':[" steps "]}"
#define DEF_IN(input, steps)                                                  \
  "{'name':'t','version':1,'input':{" input "},'steps':[" steps "]}"
#define PREFIX_IN "'prefix_id':{'type':'integer','required':true}"

/* ---- the document ------------------------------------------------------- */

Test(order_def, smallest_definition_parses)
{
  pv_order_def_t *def = ot_must_parse(DEF(READ_STEP));
  cr_assert_str_eq(pv_order_def_name(def), "t");
  cr_assert_eq(pv_order_def_version(def), 1);
  cr_assert_eq(pv_order_def_steps(def), 1);
  const pv_order_step_t *st = pv_order_def_step(def, 0);
  cr_assert_str_eq(st->name, "a");
  cr_assert_eq(st->kind, PV_STEP_CALL);
  cr_assert_str_eq(st->call.op->name, "get_device");
  cr_assert_null(st->compensate.op);
  cr_assert_not(st->compensate_declared);
  cr_assert_null(st->when);
  cr_assert_null(pv_order_def_step(def, 1));
  cr_assert_eq(pv_order_def_step_index(def, "a"), 0);
  cr_assert_eq(pv_order_def_step_index(def, "b"), -1);
  cr_assert_eq(pv_order_def_deadline_ms(def), 0);
  cr_assert_eq(json_object_size(pv_order_def_outputs(def)), 0);
  cr_assert_str_eq(pv_order_def_description(def), "");
  cr_assert_not(pv_order_def_is_inline(def));
  pv_order_def_destroy(def);
}

Test(order_def, document_refusals)
{
  char err[1024];
  cr_assert_null(pv_order_def_parse("{\"name\":", 8, "t.json", err,
                                    sizeof(err)));
  cr_assert(strncmp(err, "t.json: invalid JSON at line 1, column ", 39) == 0,
            "%s", err);
  /* A second member of the same name would silently win: refused. */
  ot_refused("{'name':'t','name':'u','version':1,'steps':[" READ_STEP "]}",
             "t.json: invalid JSON at line 1, column 18: duplicate object "
             "key near '\"name\"'");
  ot_refused("[1]", "t.json: expected an order type object, got array");
  ot_refused("{'nme':'t'}",
             "t.json: nme: unknown member (known: name, version, "
             "description, deadline_ms, inline, input, on_error, steps, "
             "outputs)");
  ot_refused("{'version':1}", "t.json: name: missing");
  ot_refused("{'name':'Bad-Name','version':1}",
             "t.json: name: \"Bad-Name\": type names are 1-64 of a-z, 0-9 "
             "and '_'");
  ot_refused("{'name':'order','version':1}",
             "t.json: name: \"order\" is reserved for the inline form (op "
             "\"order\" with args.steps)");
  ot_refused("{'name':'t'}", "t.json: version: missing");
  ot_refused("{'name':'t','version':0}",
             "t.json: version: 0 out of range [1, 2147483647]");
  ot_refused("{'name':'t','version':'1'}",
             "t.json: version: \"1\": expected an integer, got string");
  ot_refused("{'name':'t','version':1,'deadline_ms':10}",
             "t.json: deadline_ms: 10 out of range [1000, 31622400000]");
  ot_refused("{'name':'t','version':1,'description':7}",
             "t.json: description: expected a string, got integer");
  ot_refused("{'name':'t','version':1,'inline':'yes'}",
             "t.json: inline: expected true or false, got string");
  ot_refused("{'name':'t','version':1,'inline':true}",
             "t.json: name: \"t\": an inline definition is named \"order\"");
  ot_refused("{'name':'t','version':1}", "t.json: steps: missing");
  ot_refused("{'name':'t','version':1,'steps':{}}",
             "t.json: steps: expected an array of steps, got object");
  ot_refused("{'name':'t','version':1,'steps':[]}",
             "t.json: steps: 0 steps, expected 1 to 32");
}

Test(order_def, too_many_steps)
{
  char *text = malloc(64 * 1024);
  size_t n = (size_t)sprintf(text, "{'name':'t','version':1,'steps':[");
  for (int i = 0; i < 33; i++)
    n += (size_t)sprintf(text + n, "%s{'name':'s%d','call':{'service':"
                         "'voltha','op':'health_check'}}", i ? "," : "", i);
  sprintf(text + n, "]}");
  ot_refused(text, "t.json: steps: 33 steps, expected 1 to 32");
  free(text);
}

/* ---- inputs ------------------------------------------------------------- */

Test(order_def, input_refusals)
{
  ot_refused(DEF_IN("'x':{'type':'float'}", READ_STEP),
             "t.json: input.x.type: \"float\" is not a type (string, "
             "integer, boolean, object, string_list or array)");
  ot_refused(DEF_IN("'x':{}", READ_STEP),
             "t.json: input.x.type: missing (string, integer, boolean, "
             "object, string_list or array)");
  ot_refused(DEF_IN("'x':'string'", READ_STEP),
             "t.json: input.x: expected an object {type, required, min, "
             "max, default, desc}, got string");
  ot_refused(DEF_IN("'X':{'type':'string'}", READ_STEP),
             "t.json: input.X: input names are 1-64 of a-z, 0-9 and '_'");
  ot_refused(DEF_IN("'progress':{'type':'boolean'}", READ_STEP),
             "t.json: input.progress: \"progress\" is reserved (a job asks "
             "for progress events with it)");
  ot_refused(DEF_IN("'x':{'type':'string','mx':3}", READ_STEP),
             "t.json: input.x.mx: unknown member (known: type, required, "
             "min, max, default, desc)");
  ot_refused(DEF_IN("'x':{'type':'string','min':5,'max':3}", READ_STEP),
             "t.json: input.x.min: 5 is above max (3)");
  ot_refused(DEF_IN("'x':{'type':'boolean','max':3}", READ_STEP),
             "t.json: input.x.max: a boolean input has no bounds");
  ot_refused(DEF_IN("'x':{'type':'string','required':'yes'}", READ_STEP),
             "t.json: input.x.required: expected true or false, got string");
  ot_refused(DEF_IN("'x':{'type':'string','required':true,'default':'a'}",
                    READ_STEP),
             "t.json: input.x.default: a required input has no default");
  ot_refused(DEF_IN("'x':{'type':'integer','max':9,'default':10}",
                    READ_STEP),
             "t.json: input.x.default: 10 out of range [-9223372036854775808, "
             "9]");
  ot_refused(DEF_IN("'x':{'type':'string','default':3}", READ_STEP),
             "t.json: input.x.default: expected string, got integer");
  ot_refused(DEF_IN("'x':{'type':'string','default':null}", READ_STEP),
             "t.json: input.x.default: null is not a value (leave the "
             "default out)");
}

Test(order_def, input_check_uses_the_catalog_schema_language)
{
  pv_order_def_t *def = ot_must_parse(DEF_IN(
      "'sub':{'type':'string','required':true,'min':2,'max':5},"
      "'n':{'type':'integer','min':1,'max':9,'default':3},"
      "'tags':{'type':'string_list','max':2},"
      "'on':{'type':'boolean','default':false},"
      "'q':{'type':'object'},'any':{'type':'array','min':1}",
      READ_STEP));
  pv_error_t e;
  json_t *in = ot_json("{'sub':'ab','tags':['x'],'q':{},'any':[1]}");
  cr_assert_eq(pv_order_input_check(def, in, &e), 0, "%s", e.message);
  json_decref(in);

  struct {
    const char *input, *want;
  } bad[] = {
    {"{}", "argument \"sub\": missing"},
    {"{'sub':'a'}", "argument \"sub\": too short (1 bytes, at least 2)"},
    {"{'sub':'abcdef'}", "argument \"sub\": too long (6 bytes, at most 5)"},
    {"{'sub':'ab','n':10}", "argument \"n\": 10 out of range [1, 9]"},
    {"{'sub':'ab','n':'3'}", "argument \"n\": expected integer, got string"},
    {"{'sub':'ab','tags':['a','b','c']}",
     "argument \"tags\": 3 items, expected 0 to 2"},
    {"{'sub':'ab','on':1}", "argument \"on\": expected boolean, got integer"},
    {"{'sub':'ab','q':[]}", "argument \"q\": expected object, got array"},
    {"{'sub':'ab','any':[]}", "argument \"any\": 0 items, expected 1 to 1000"},
    {"{'sub':'ab','typo':1}", "unknown argument \"typo\" for order.t"},
    {"{'sub':'ab','progress':'yes'}",
     "argument \"progress\": expected boolean, got string"},
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    in = ot_json(bad[i].input);
    cr_assert_eq(pv_order_input_check(def, in, &e), -1, "%s", bad[i].input);
    cr_assert_eq(e.cls, PV_ERR_BAD_ARGS);
    cr_assert_str_eq(e.message, bad[i].want);
    json_decref(in);
  }
  in = ot_json("[]");
  cr_assert_eq(pv_order_input_check(def, in, &e), -1);
  cr_assert_str_eq(e.message, "args: expected object, got array");
  json_decref(in);

  /* normalize: defaults in, the reserved "progress" out. */
  in = ot_json("{'sub':'ab','progress':true,'n':5}");
  json_t *norm = pv_order_input_normalize(def, in, &e);
  cr_assert_not_null(norm, "%s", e.message);
  json_t *want = ot_json("{'sub':'ab','n':5,'on':false}");
  cr_assert(json_equal(norm, want));
  json_decref(want);
  json_decref(norm);
  json_decref(in);
  in = ot_json("{'sub':'ab'}");
  norm = pv_order_input_normalize(def, in, &e);
  want = ot_json("{'sub':'ab','n':3,'on':false}");
  cr_assert(json_equal(norm, want));
  json_decref(want);
  json_decref(norm);
  json_decref(in);
  in = ot_json("{'sub':1}");
  cr_assert_null(pv_order_input_normalize(def, in, &e));
  cr_assert_str_eq(e.message, "argument \"sub\": expected string, got "
                              "integer");
  json_decref(in);
  pv_order_def_destroy(def);
}

/* ---- steps -------------------------------------------------------------- */

Test(order_def, step_refusals)
{
  ot_refused(DEF("7"), "t.json: steps[0]: expected a step object, got "
                       "integer");
  ot_refused(DEF("{'call':{}}"), "t.json: steps[0].name: missing");
  ot_refused(DEF("{'name':'A b','call':{}}"),
             "t.json: steps[0].name: \"A b\": step names are 1-64 of a-z, "
             "0-9 and '_'");
  ot_refused(DEF(READ_STEP "," READ_STEP),
             "t.json: steps[1].name: \"a\" is also the name of steps[0]");
  ot_refused(DEF("{'name':'a'}"),
             "t.json: steps[0]: needs \"call\" or \"await\"");
  ot_refused(DEF("{'name':'a','call':{},'await':{}}"),
             "t.json: steps[0]: has both \"call\" and \"await\": a step is "
             "one or the other");
  ot_refused(DEF("{'name':'a','cal':{}}"),
             "t.json: steps[0].cal: unknown member (known: name, "
             "description, call, await, when, compensate, on_error)");
  ot_refused(DEF("{'name':'a','call':[]}"),
             "t.json: steps[0].call: expected an object {service, op, "
             "args}, got array");
  ot_refused(DEF("{'name':'a','call':{'op':'get_device'}}"),
             "t.json: steps[0].call.service: missing");
  ot_refused(DEF("{'name':'a','call':{'service':'voltah','op':'x'}}"),
             "t.json: steps[0].call.service: \"voltah\" is not a service "
             "(voltha, genieacs, netbox)");
  ot_refused(DEF("{'name':'a','call':{'service':'voltha'}}"),
             "t.json: steps[0].call.op: missing");
  ot_refused(DEF("{'name':'a','call':{'service':'voltha','op':'get_ip'}}"),
             "t.json: steps[0].call.op: \"get_ip\" is not an op of voltha "
             "(provctl ops voltha)");
  ot_refused(DEF("{'name':'a','call':{'service':'voltha','op':'order'}}"),
             "t.json: steps[0].call.op: a step cannot run an order");
  ot_refused(DEF("{'name':'a','call':{'service':'voltha','op':'get_device',"
                 "'args':{'device_id':'d'},'until':{}}}"),
             "t.json: steps[0].call.until: unknown member (known: service, "
             "op, args)");
}

Test(order_def, argument_refusals)
{
  ot_refused(DEF("{'name':'a','call':{'service':'voltha','op':'get_device',"
                 "'args':[]}}"),
             "t.json: steps[0].args: expected an object, got array");
  ot_refused(DEF("{'name':'a','call':{'service':'voltha','op':'get_device',"
                 "'args':{'devce_id':'d'}}}"),
             "t.json: steps[0].args.devce_id: unknown argument for "
             "voltha.get_device (known: device_id)");
  ot_refused(DEF("{'name':'a','call':{'service':'voltha','op':'get_device'}}"),
             "t.json: steps[0].args.device_id: missing (voltha.get_device "
             "requires it)");
  ot_refused(DEF("{'name':'a','call':{'service':'netbox','op':'allocate_ip',"
                 "'args':{'prefix_id':'abc'}},'compensate':null}"),
             "t.json: steps[0].args.prefix_id: expected integer, got string "
             "(value \"abc\")");
  ot_refused(DEF("{'name':'a','call':{'service':'netbox','op':'allocate_ip',"
                 "'args':{'prefix_id':0}},'compensate':null}"),
             "t.json: steps[0].args.prefix_id: 0 out of range [1, "
             "2147483647] (value 0)");
  ot_refused(DEF("{'name':'a','call':{'service':'voltha','op':'get_device',"
                 "'args':{'device_id':null}}}"),
             "t.json: steps[0].args.device_id: null is not a value (leave "
             "the argument out)");
  /* Rules between arguments come from the catalog's own check. */
  ot_refused(DEF("{'name':'a','call':{'service':'voltha','op':"
                 "'preprovision_olt','args':{'type':'openolt'}},"
                 "'compensate':null}"),
             "t.json: steps[0].args: exactly one of the arguments "
             "host_and_port|ipv4_address|mac_address is required (got "
             "none)");
  ot_refused(DEF("{'name':'a','call':{'service':'netbox','op':"
                 "'update_device','args':{'id':1}},'compensate':null}"),
             "t.json: steps[0].args: no field to change: give at least one "
             "argument besides \"id\"");
  /* Inside a structure: the catalog's item checks, path to the item. */
  ot_refused(DEF("{'name':'a','call':{'service':'genieacs','op':"
                 "'set_parameter_values','args':{'device_id':'d',"
                 "'parameter_values':[['p',{}]]}},'compensate':null}"),
             "t.json: steps[0].args.parameter_values: item 0 value: "
             "expected string, number or boolean, got object");
  /* The same argument through a reference is accepted at load. */
  pv_order_def_t *def = ot_must_parse(DEF_IN(
      PREFIX_IN, "{'name':'a','call':{'service':'voltha','op':"
                 "'preprovision_olt','args':{'type':'openolt',"
                 "'ipv4_address':'${input.prefix_id}x'}},'compensate':null}"));
  pv_order_def_destroy(def);
}

Test(order_def, reference_refusals)
{
#define ALLOC(arg)                                                            \
  "{'name':'a','call':{'service':'netbox','op':'allocate_ip','args':{"       \
  "'prefix_id':" arg "}},'compensate':null}"
  ot_refused(DEF_IN(PREFIX_IN, ALLOC("'${input.prefx}'")),
             "t.json: steps[0].args.prefix_id: ${input.prefx} names no input "
             "(declared: prefix_id)");
  ot_refused(DEF(ALLOC("'${input.prefix_id}'")),
             "t.json: steps[0].args.prefix_id: ${input.prefix_id} names no "
             "input (declared: none)");
  ot_refused(DEF(ALLOC("'${steps.b.result.id}'") ","
                 "{'name':'b','call':{'service':'netbox','op':"
                 "'get_ip_address','args':{'id':1}}}"),
             "t.json: steps[0].args.prefix_id: ${steps.b.result.id} names "
             "step b, which runs later");
  ot_refused(DEF(ALLOC("'${steps.a.result.id}'")),
             "t.json: steps[0].args.prefix_id: ${steps.a.result.id} names "
             "its own step: a step reads only steps before it");
  ot_refused(DEF(ALLOC("'${steps.zz.result.id}'")),
             "t.json: steps[0].args.prefix_id: ${steps.zz.result.id} names "
             "no step");
  ot_refused(DEF(ALLOC("'${steps.a.id}'")),
             "t.json: steps[0].args.prefix_id: ${steps.a.id}: a step's value "
             "is its result (${steps.NAME.result...})");
  ot_refused(DEF(ALLOC("'${self.result.id}'")),
             "t.json: steps[0].args.prefix_id: ${self.result.id}: self is "
             "only known in a compensation");
  ot_refused(DEF(ALLOC("'${self.id}'")),
             "t.json: steps[0].args.prefix_id: ${self.id}: the step's own "
             "value is its result (${self.result...})");
  ot_refused(DEF(ALLOC("'${env.HOME}'")),
             "t.json: steps[0].args.prefix_id: ${env.HOME}: unknown root "
             "\"env\" (input, steps, self, order)");
  ot_refused(DEF(ALLOC("'${order.owner}'")),
             "t.json: steps[0].args.prefix_id: ${order.owner}: the order "
             "gives ${order.id}, ${order.tenant} and ${order.type}");
  ot_refused(DEF(ALLOC("'${input}'")),
             "t.json: steps[0].args.prefix_id: ${input}: name the input "
             "(${input.NAME})");
  ot_refused(DEF(ALLOC("'${}'")),
             "t.json: steps[0].args.prefix_id: ${}: empty reference");
  ot_refused(DEF(ALLOC("'${input..x}'")),
             "t.json: steps[0].args.prefix_id: ${input..x}: empty name "
             "between dots");
  ot_refused(DEF(ALLOC("'${input.a b}'")),
             "t.json: steps[0].args.prefix_id: ${input.a b}: ' ' is not "
             "allowed in a reference (names are letters, digits, '_' and "
             "'-')");
  ot_refused(DEF(ALLOC("'${input.x|upper}'")),
             "t.json: steps[0].args.prefix_id: ${input.x|upper}: unknown "
             "filter \"upper\" (known: ip)");
  ot_refused(DEF(ALLOC("'${input.x'")),
             "t.json: steps[0].args.prefix_id: \"${input.x\": unterminated "
             "reference (a literal ${ is written $${)");
#undef ALLOC
}

Test(order_def, reference_types_checked_where_known)
{
  /* A whole-string reference to an input keeps the input's type. */
  ot_refused(DEF_IN("'prefix_id':{'type':'string'}",
                    "{'name':'a','call':{'service':'netbox','op':"
                    "'allocate_ip','args':{'prefix_id':'${input.prefix_id}'}},"
                    "'compensate':null}"),
             "t.json: steps[0].args.prefix_id: ${input.prefix_id} is a "
             "string input; argument \"prefix_id\" of netbox.allocate_ip is "
             "of type integer");
  ot_refused(DEF_IN("'on':{'type':'boolean'}",
                    "{'name':'a','call':{'service':'voltha','op':"
                    "'get_device','args':{'device_id':'${input.on}'}}}"),
             "t.json: steps[0].args.device_id: ${input.on} is a boolean "
             "input; argument \"device_id\" of voltha.get_device is of type "
             "string");
  ot_refused(DEF("{'name':'a','call':{'service':'netbox','op':"
                 "'get_ip_address','args':{'id':'${order.id}'}}}"),
             "t.json: steps[0].args.id: ${order.id} is a string; argument "
             "\"id\" of netbox.get_ip_address is of type integer");
  /* Text with a reference inside is a string. */
  ot_refused(DEF_IN(PREFIX_IN,
                    "{'name':'a','call':{'service':'netbox','op':"
                    "'allocate_ip','args':{'prefix_id':'1${input.prefix_id}'}"
                    "},'compensate':null}"),
             "t.json: steps[0].args.prefix_id: \"1${input.prefix_id}\": text "
             "with references is a string; argument \"prefix_id\" of "
             "netbox.allocate_ip is integer");
  /* The literal text alone is already too long for the argument. */
  ot_refused(DEF_IN(PREFIX_IN,
                    "{'name':'a','call':{'service':'netbox','op':"
                    "'allocate_ip','args':{'prefix_id':1,'description':"
                    "'a description that is far too long for NetBox ${input."
                    "prefix_id} and it goes on here'}},'compensate':null}"),
             "t.json: steps[0].args.description: \"a description that is "
             "far too long for NetBox ${input.prefi...: the text around the "
             "references is already 66 bytes; argument "
             "\"description\" of netbox.allocate_ip takes at most 60");
  /* Compatible: integer input into an integer, an id-or-object argument;
   * a string list into an array; results of steps are not known. */
  pv_order_def_t *def = ot_must_parse(DEF_IN(
      PREFIX_IN ",'site':{'type':'object'},'l':{'type':'string_list'}",
      "{'name':'a','call':{'service':'netbox','op':'allocate_ip','args':{"
      "'prefix_id':'${input.prefix_id}','tenant':'${input.site}',"
      "'tags':'${input.l}'}},'compensate':null},"
      "{'name':'b','call':{'service':'netbox','op':'get_ip_address',"
      "'args':{'id':'${steps.a.result.id}'}}}"));
  pv_order_def_destroy(def);
}

Test(order_def, compensation_rules)
{
  /* A step that changes something says what undoes it. */
  ot_refused(DEF("{'name':'a','call':{'service':'netbox','op':'allocate_ip',"
                 "'args':{'prefix_id':1}}}"),
             "t.json: steps[0].compensate: missing: netbox.allocate_ip "
             "changes state; declare its undo ({service, op, args}), or null "
             "when there is nothing to undo");
  ot_refused(DEF("{'name':'a','call':{'service':'genieacs','op':'add_tag',"
                 "'args':{'device_id':'d','tag':'t'}}}"),
             "t.json: steps[0].compensate: missing: genieacs.add_tag changes "
             "state; declare its undo ({service, op, args}), or null when "
             "there is nothing to undo");
  /* A compensation may run again after a crash. */
  ot_refused(DEF("{'name':'a','call':{'service':'voltha','op':"
                 "'enable_device','args':{'device_id':'d'}},'compensate':{"
                 "'service':'voltha','op':'reboot_device','args':{"
                 "'device_id':'d'}}}"),
             "t.json: steps[0].compensate.op: voltha.reboot_device is not "
             "idempotent; a compensation may run again after a crash");
  ot_refused(DEF("{'name':'a','call':{'service':'netbox','op':'allocate_ip',"
                 "'args':{'prefix_id':1}},'compensate':{'service':'netbox',"
                 "'op':'release_ip','args':{'id':'${self.result.id'}}}"),
             "t.json: steps[0].compensate.args.id: \"${self.result.id\": "
             "unterminated reference (a literal ${ is written $${)");
  ot_refused(DEF("{'name':'a','call':{'service':'netbox','op':'allocate_ip',"
                 "'args':{'prefix_id':1}},'compensate':{'service':'netbox',"
                 "'op':'release_ip','args':{'id':'${steps.a.result.id}'}}}"),
             "t.json: steps[0].compensate.args.id: ${steps.a.result.id} "
             "names the step this compensation undoes: use "
             "${self.result...}");
  ot_refused(DEF("{'name':'a','call':{'service':'netbox','op':'allocate_ip',"
                 "'args':{'prefix_id':1}},'compensate':{'service':'netbox',"
                 "'op':'release_ip'}}"),
             "t.json: steps[0].compensate.args.id: missing "
             "(netbox.release_ip requires it)");

  pv_order_def_t *def = ot_must_parse(DEF(
      "{'name':'a','call':{'service':'netbox','op':'allocate_ip','args':{"
      "'prefix_id':1}},'compensate':{'service':'netbox','op':'release_ip',"
      "'args':{'id':'${self.result.id}'}}},"
      "{'name':'b','call':{'service':'genieacs','op':'factory_reset',"
      "'args':{'device_id':'d'}},'compensate':null},"
      "{'name':'c','call':{'service':'genieacs','op':'add_tag','args':{"
      "'device_id':'d','tag':'t'}},'compensate':{'service':'genieacs',"
      "'op':'remove_tag','args':{'device_id':'d','tag':"
      "'${steps.a.result.address}'}}}"));
  const pv_order_step_t *a = pv_order_def_step(def, 0);
  cr_assert_str_eq(a->compensate.op->name, "release_ip");
  cr_assert(a->compensate_declared);
  json_t *want = ot_json("{'id':'${self.result.id}'}");
  cr_assert(json_equal(a->compensate.args, want));
  json_decref(want);
  const pv_order_step_t *b = pv_order_def_step(def, 1);
  cr_assert(b->compensate_declared);
  cr_assert_null(b->compensate.op);
  pv_order_def_destroy(def);
}

Test(order_def, await_refusals)
{
#define AWAIT(extra)                                                          \
  DEF("{'name':'a','await':{'service':'voltha','op':'get_device','args':{"   \
      "'device_id':'d'}" extra "}}")
  ot_refused(AWAIT(""),
             "t.json: steps[0].await.until: missing (the condition the await "
             "waits for)");
  ot_refused(DEF("{'name':'a','await':{'service':'voltha','op':"
                 "'enable_device','args':{'device_id':'d'},'until':{'path':"
                 "'result.x','exists':true}}}"),
             "t.json: steps[0].await.op: voltha.enable_device changes state; "
             "an await polls its op, so it must only read");
  ot_refused(AWAIT(",'until':{'path':'result.x','exists':true},"
                   "'poll_ms':50"),
             "t.json: steps[0].await.poll_ms: 50 out of range [100, "
             "3600000]");
  ot_refused(AWAIT(",'until':{'path':'result.x','exists':true},"
                   "'poll_ms':5000,'deadline_ms':2000"),
             "t.json: steps[0].await.deadline_ms: 2000 is shorter than "
             "poll_ms (5000)");
  ot_refused(AWAIT(",'until':[]"),
             "t.json: steps[0].await.until: expected a condition object, got "
             "array");
  ot_refused(AWAIT(",'until':{'path':'result.x','is':1}"),
             "t.json: steps[0].await.until: unknown member \"is\" (a "
             "condition is {\"path\", OP} with OP one of eq, ne, in, exists, "
             "gt, gte, lt, lte; or all, any, not)");
  ot_refused(AWAIT(",'until':{'path':'result.x','eq':1,'ne':2}"),
             "t.json: steps[0].await.until: \"eq\" and \"ne\": one operator "
             "per condition (combine with \"all\")");
  ot_refused(AWAIT(",'until':{'eq':1}"),
             "t.json: steps[0].await.until: missing \"path\"");
  ot_refused(AWAIT(",'until':{'path':'result.x'}"),
             "t.json: steps[0].await.until: missing an operator (eq, ne, in, "
             "exists, gt, gte, lt, lte)");
  ot_refused(AWAIT(",'until':{'path':'input.x','eq':1}"),
             "t.json: steps[0].await.until: path: \"input.x\" starts with "
             "\"input\"; here a path starts with result");
  ot_refused(AWAIT(",'until':{'path':'result..x','eq':1}"),
             "t.json: steps[0].await.until: path: \"result..x\" is not a "
             "path (names of letters, digits, '_' and '-' joined by dots)");
  ot_refused(AWAIT(",'until':{'path':'result.x','gt':'a'}"),
             "t.json: steps[0].await.until.gt: expected a number, got string "
             "\"a\"");
  ot_refused(AWAIT(",'until':{'path':'result.x','in':'a'}"),
             "t.json: steps[0].await.until.in: expected an array of values, "
             "got string \"a\"");
  ot_refused(AWAIT(",'until':{'path':'result.x','exists':1}"),
             "t.json: steps[0].await.until.exists: expected true or false, "
             "got integer 1");
  ot_refused(AWAIT(",'until':{'all':[]}"),
             "t.json: steps[0].await.until.all: expected a non-empty array "
             "of conditions");
  ot_refused(AWAIT(",'until':{'all':[{'path':'result.x','eq':1}],'any':[]}"),
             "t.json: steps[0].await.until: \"all\" must be the only member "
             "of its object");
  ot_refused(AWAIT(",'until':{'any':[{'path':'result.x','eq':1},"
                   "{'not':{'path':'result.y','eq':'${input.z}'}}]}"),
             "t.json: steps[0].await.until.any[1].not.eq: ${input.z} names no "
             "input (declared: none)");
  ot_refused(AWAIT(",'until':{'not':{'not':{'not':{'not':{'not':{'not':{"
                   "'not':{'not':{'not':{'path':'result.x','eq':1}}}}}}}}}}"),
             "t.json: steps[0].await.until.not.not.not.not.not.not.not.not."
             "not: conditions nested deeper than 8");
#undef AWAIT
  /* Defaults and the canonical form of an await. */
  pv_order_def_t *def = ot_must_parse(DEF(
      "{'name':'a','await':{'service':'voltha','op':'get_device','args':{"
      "'device_id':'d'},'until':{'path':'result.oper_status','eq':"
      "'ACTIVE'}}}"));
  const pv_order_step_t *st = pv_order_def_step(def, 0);
  cr_assert_eq(st->kind, PV_STEP_AWAIT);
  cr_assert_eq(st->poll_ms, 2000);
  cr_assert_eq(st->deadline_ms, 600000);
  cr_assert_not_null(st->until);
  pv_order_def_destroy(def);
}

Test(order_def, when_conditions)
{
  ot_refused(DEF(READ_STEP ",{'name':'b','when':{'path':'steps.c.result.x',"
                 "'exists':true},'call':{'service':'voltha','op':"
                 "'health_check'}},{'name':'c','call':{'service':'voltha',"
                 "'op':'health_check'}}"),
             "t.json: steps[1].when: path: ${steps.c.result.x} names step c, "
             "which runs later");
  ot_refused(DEF("{'name':'b','when':{'path':'result.x','exists':true},"
                 "'call':{'service':'voltha','op':'health_check'}}"),
             "t.json: steps[0].when: path: \"result.x\" starts with "
             "\"result\"; here a path starts with input, steps, order");
  /* A skippable step's result cannot be read by a later step... */
  ot_refused(DEF_IN("'x':{'type':'string'}",
                    "{'name':'a','when':{'path':'input.x','exists':true},"
                    "'call':{'service':'voltha','op':'get_device','args':{"
                    "'device_id':'${input.x}'}}},{'name':'b','call':{"
                    "'service':'voltha','op':'get_device','args':{'device_id':"
                    "'${steps.a.result.id}'}}}"),
             "t.json: steps[1].args.device_id: ${steps.a.result.id} names "
             "step a, which may be skipped (it has a \"when\"): its result "
             "may not exist");
  /* ...nor a condition's value, which is resolved before it is compared... */
  ot_refused(DEF_IN("'x':{'type':'string'}",
                    "{'name':'a','when':{'path':'input.x','exists':true},"
                    "'call':{'service':'voltha','op':'get_device','args':{"
                    "'device_id':'${input.x}'}}},{'name':'b','when':{'path':"
                    "'input.x','eq':'${steps.a.result.id}'},'call':{"
                    "'service':'voltha','op':'health_check'}}"),
             "t.json: steps[1].when.eq: ${steps.a.result.id} names step a, "
             "which may be skipped (it has a \"when\"): its result may not "
             "exist");
  /* ...but a later condition's path may ask whether it exists. */
  pv_order_def_t *def = ot_must_parse(DEF_IN(
      "'x':{'type':'string'}",
      "{'name':'a','when':{'path':'input.x','exists':true},"
      "'call':{'service':'voltha','op':'get_device','args':{"
      "'device_id':'${input.x}'}}},{'name':'b','when':{'path':"
      "'steps.a.result.id','exists':false},'call':{'service':'voltha',"
      "'op':'health_check'}}"));
  const pv_order_step_t *a = pv_order_def_step(def, 0);
  cr_assert_not_null(a->when);
  pv_error_t e;
  json_t *ctx = ot_json("{'input':{},'steps':{}}");
  cr_assert_eq(pv_order_step_applies(a, ctx, &e), 0);
  json_decref(ctx);
  ctx = ot_json("{'input':{'x':'dev'},'steps':{}}");
  cr_assert_eq(pv_order_step_applies(a, ctx, &e), 1);
  cr_assert_eq(pv_order_step_applies(pv_order_def_step(def, 1), ctx, &e), 1);
  json_decref(ctx);
  pv_order_def_destroy(def);
}

Test(order_def, outputs)
{
  ot_refused("{'name':'t','version':1,'steps':[" READ_STEP "],'outputs':{"
             "'x':'${steps.b.result}'}}",
             "t.json: outputs.x: ${steps.b.result} names no step");
  ot_refused("{'name':'t','version':1,'steps':[" READ_STEP "],'outputs':{"
             "'x':{'y':['${self.result}']}}}",
             "t.json: outputs.x.y[0]: ${self.result}: self is only known in "
             "a compensation");
  ot_refused("{'name':'t','version':1,'steps':[" READ_STEP "],'outputs':[]}",
             "t.json: outputs: expected an object {NAME: template}, got "
             "array");
  pv_order_def_t *def = ot_must_parse(
      "{'name':'t','version':1,'steps':[" READ_STEP "],'outputs':{"
      "'state':'${steps.a.result.oper_status}'}}");
  json_t *ctx = ot_json("{'steps':{'a':{'result':{'oper_status':'ACTIVE'}}}}");
  pv_error_t e;
  json_t *out = pv_order_resolve(pv_order_def_outputs(def), ctx, &e);
  json_t *want = ot_json("{'state':'ACTIVE'}");
  cr_assert(json_equal(out, want));
  json_decref(want);
  json_decref(out);
  json_decref(ctx);
  pv_order_def_destroy(def);
}

/* ---- policies ----------------------------------------------------------- */

Test(order_def, on_error_refusals)
{
#define POL(pol) "{'name':'t','version':1,'on_error':" pol ",'steps':[" \
                 READ_STEP "]}"
  ot_refused(POL("{'http_5xx':'hold'}"),
             "t.json: on_error.http_5xx: http_5xx is transient: "
             "circuit_open, rate_limited, connect, timeout and http_5xx "
             "always park and run again, a policy cannot name them");
  ot_refused(POL("{'circuit_open':'compensate'}"),
             "t.json: on_error.circuit_open: circuit_open is transient: "
             "circuit_open, rate_limited, connect, timeout and http_5xx "
             "always park and run again, a policy cannot name them");
  ot_refused(POL("{'http_4x':'hold'}"),
             "t.json: on_error.http_4x: \"http_4x\" is not an error class "
             "(unknown_tenant, unknown_op, bad_args, http_4xx, "
             "deadline_exceeded, outcome_unknown, internal, \"*\")");
  ot_refused(POL("{'*':'retry'}"),
             "t.json: on_error.*: \"retry\" is not an action (compensate, "
             "compensate_to:STEP, hold, abort)");
  ot_refused(POL("{'*':1}"),
             "t.json: on_error.*: expected an action (compensate, "
             "compensate_to:STEP, hold, abort), got integer");
  ot_refused(POL("{'*':'compensate_to:zz'}"),
             "t.json: on_error.*: \"compensate_to:zz\": no step is named "
             "\"zz\"");
  ot_refused(POL("[]"), "t.json: on_error: expected an object "
                        "{\"ERROR_CLASS\": ACTION}, got array");
#undef POL
  ot_refused(DEF(READ_STEP ",{'name':'b','call':{'service':'voltha','op':"
                 "'health_check'},'on_error':{'*':'compensate_to:b'}}"),
             "t.json: steps[1].on_error.*: \"compensate_to:b\": the "
             "checkpoint must be a step before this one");
}

Test(order_def, action_lookup_order)
{
  pv_order_def_t *def = ot_must_parse(
      "{'name':'t','version':1,'on_error':{'http_4xx':'abort',"
      "'bad_args':'compensate_to:b','*':'hold'},'steps':[" READ_STEP ","
      "{'name':'b','call':{'service':'voltha','op':'health_check'}},"
      "{'name':'c','call':{'service':'voltha','op':'health_check'},"
      "'on_error':{'outcome_unknown':'compensate_to:a','*':'compensate'}},"
      "{'name':'d','call':{'service':'voltha','op':'health_check'}}]}");
  const char *cp = "unset";
  /* step c: its own exact class, then its own "*". */
  cr_assert_eq(pv_order_def_action(def, 2, PV_ERR_OUTCOME_UNKNOWN, &cp),
               PV_ACT_COMPENSATE_TO);
  cr_assert_str_eq(cp, "a");
  cr_assert_eq(pv_order_def_action(def, 2, PV_ERR_HTTP_4XX, &cp),
               PV_ACT_COMPENSATE);
  cr_assert_null(cp);
  /* step d: the type's exact class, then the type's "*". */
  cr_assert_eq(pv_order_def_action(def, 3, PV_ERR_HTTP_4XX, &cp),
               PV_ACT_ABORT);
  cr_assert_eq(pv_order_def_action(def, 3, PV_ERR_DEADLINE_EXCEEDED, &cp),
               PV_ACT_HOLD);
  cr_assert_eq(pv_order_def_action(def, 3, PV_ERR_BAD_ARGS, &cp),
               PV_ACT_COMPENSATE_TO);
  cr_assert_str_eq(cp, "b");
  /* compensate_to a checkpoint at or after the failing step: nothing after
   * the checkpoint was done, so it holds. */
  cr_assert_eq(pv_order_def_action(def, 1, PV_ERR_BAD_ARGS, &cp),
               PV_ACT_HOLD);
  cr_assert_null(cp);
  cr_assert_eq(pv_order_def_action(def, 0, PV_ERR_BAD_ARGS, &cp),
               PV_ACT_HOLD);
  pv_order_def_destroy(def);

  /* No policy at all: compensate. */
  def = ot_must_parse(DEF(READ_STEP));
  cr_assert_eq(pv_order_def_action(def, 0, PV_ERR_HTTP_4XX, NULL),
               PV_ACT_COMPENSATE);
  pv_order_def_destroy(def);
}

Test(order_def, transient_classes_are_the_parking_ones)
{
  for (int c = 0; c < PV_ERR__COUNT; c++) {
    bool want = c == PV_ERR_CIRCUIT_OPEN || c == PV_ERR_RATE_LIMITED ||
                c == PV_ERR_CONNECT || c == PV_ERR_TIMEOUT ||
                c == PV_ERR_HTTP_5XX;
    cr_assert_eq(pv_errclass_is_transient((pv_errclass_t)c), want, "%s",
                 pv_errclass_name((pv_errclass_t)c));
  }
}

/* ---- canonical JSON ----------------------------------------------------- */

static char *canon_text(const pv_order_def_t *def)
{
  json_t *j = pv_order_def_json(def);
  char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
  json_decref(j);
  return s;
}

/* parse(json(def)) is the same definition, byte for byte in its canonical
 * text, and every accessor agrees. */
static void assert_round_trip(const pv_order_def_t *def)
{
  char *t1 = canon_text(def);
  char err[1024];
  pv_order_def_t *again = pv_order_def_parse(t1, strlen(t1), "pinned", err,
                                             sizeof(err));
  cr_assert_not_null(again, "%s: %s", pv_order_def_name(def), err);
  char *t2 = canon_text(again);
  cr_assert_str_eq(t1, t2);
  cr_assert_str_eq(pv_order_def_name(again), pv_order_def_name(def));
  cr_assert_eq(pv_order_def_version(again), pv_order_def_version(def));
  cr_assert_eq(pv_order_def_steps(again), pv_order_def_steps(def));
  cr_assert_eq(pv_order_def_deadline_ms(again), pv_order_def_deadline_ms(def));
  for (size_t i = 0; i < pv_order_def_steps(def); i++) {
    const pv_order_step_t *a = pv_order_def_step(def, i);
    const pv_order_step_t *b = pv_order_def_step(again, i);
    cr_assert_str_eq(a->name, b->name);
    cr_assert_eq(a->kind, b->kind);
    cr_assert_eq(a->call.op, b->call.op);
    cr_assert(json_equal(a->call.args, b->call.args));
    cr_assert_eq(a->compensate.op, b->compensate.op);
    cr_assert_eq(a->compensate_declared, b->compensate_declared);
    cr_assert_eq(a->poll_ms, b->poll_ms);
    cr_assert_eq(a->deadline_ms, b->deadline_ms);
    cr_assert_eq(!a->when, !b->when);
    for (int c = 0; c < PV_ERR__COUNT; c++) {
      const char *ca, *cb;
      cr_assert_eq(pv_order_def_action(def, i, (pv_errclass_t)c, &ca),
                   pv_order_def_action(again, i, (pv_errclass_t)c, &cb));
      cr_assert((!ca && !cb) || (ca && cb && !strcmp(ca, cb)));
    }
  }
  pv_order_def_destroy(again);
  free(t1);
  free(t2);
}

Test(order_def, canonical_json_is_complete_and_stable)
{
  pv_order_def_t *def = ot_must_parse(
      "{'name':'t','version':3,'description':'d','deadline_ms':60000,"
      "'input':{'x':{'type':'string','max':9,'desc':'an x'},"
      "'n':{'type':'integer','default':4}},"
      "'on_error':{'http_4xx':'hold'},'steps':["
      "{'name':'a','description':'reads','await':{'service':'voltha','op':"
      "'get_device','args':{'device_id':'${input.x}'},'until':{'path':"
      "'result.oper_status','in':['ACTIVE']}}},"
      "{'name':'b','when':{'path':'input.n','gt':2},'call':{'service':"
      "'netbox','op':'allocate_ip','args':{'prefix_id':'${input.n}',"
      "'description':'lit $${x}'}},'compensate':{'service':'netbox','op':"
      "'release_ip','args':{'id':'${self.result.id}'}},'on_error':{'*':"
      "'compensate_to:a'}}],'outputs':{'id':'${steps.a.result.id}'}}");
  json_t *j = pv_order_def_json(def);
  /* Defaults are written out, so a pinned copy never depends on them. */
  json_t *aw = json_object_get(json_object_get(
      json_array_get(json_object_get(j, "steps"), 0), "await"), "poll_ms");
  cr_assert_eq(json_integer_value(aw), 2000);
  cr_assert(json_is_false(json_object_get(
      json_object_get(json_object_get(j, "input"), "x"), "required")));
  json_decref(j);
  assert_round_trip(def);
  pv_order_def_destroy(def);
}

/* ---- the inline form ---------------------------------------------------- */

Test(order_def, inline_form)
{
  json_t *steps = ot_json(
      "[{'service':'voltha','op':'get_device','args':{'device_id':"
      "'dev ${not a ref} $${x}'}},{'service':'netbox','op':'allocate_ip',"
      "'args':{'prefix_id':3}},{'service':'genieacs','op':'health_check'}]");
  pv_error_t e;
  pv_order_def_t *def = pv_order_def_inline(steps, &e);
  cr_assert_not_null(def, "%s", e.message);
  cr_assert_str_eq(pv_order_def_name(def), "order");
  cr_assert(pv_order_def_is_inline(def));
  cr_assert_eq(pv_order_def_steps(def), 3);
  cr_assert_str_eq(pv_order_def_step(def, 0)->name, "step1");
  cr_assert_str_eq(pv_order_def_step(def, 2)->name, "step3");
  /* A write without a declared undo is allowed inline, and nothing is
   * undone: the policy is abort. */
  const pv_order_step_t *alloc = pv_order_def_step(def, 1);
  cr_assert_not(alloc->compensate_declared);
  cr_assert_eq(pv_order_def_action(def, 1, PV_ERR_HTTP_4XX, NULL),
               PV_ACT_ABORT);
  /* `${` in an inline step is data, not a reference. */
  json_t *ctx = ot_json("{}");
  json_t *args = pv_order_resolve(pv_order_def_step(def, 0)->call.args, ctx,
                                  &e);
  cr_assert_not_null(args, "%s", e.message);
  cr_assert(json_equal(args, json_object_get(json_array_get(steps, 0),
                                             "args")));
  json_decref(args);
  json_decref(ctx);
  /* The job's args are its input. */
  json_t *in = json_pack("{s:O}", "steps", steps);
  cr_assert_eq(pv_order_input_check(def, in, &e), 0, "%s", e.message);
  json_decref(in);
  assert_round_trip(def);
  pv_order_def_destroy(def);
  json_decref(steps);

  /* Invalid steps: the catalog's message naming the step. */
  steps = ot_json("[{'service':'voltha','op':'health_check'},"
                  "{'service':'voltha','op':'get_device'}]");
  cr_assert_null(pv_order_def_inline(steps, &e));
  cr_assert_eq(e.cls, PV_ERR_BAD_ARGS);
  cr_assert_str_eq(e.message, "step 2 (voltha.get_device): argument "
                              "\"device_id\": missing");
  json_decref(steps);
  steps = ot_json("[{'service':'voltha','op':'nope'}]");
  cr_assert_null(pv_order_def_inline(steps, &e));
  cr_assert_eq(e.cls, PV_ERR_UNKNOWN_OP);
  json_decref(steps);
  steps = ot_json("[]");
  cr_assert_null(pv_order_def_inline(steps, &e));
  cr_assert_str_eq(e.message, "argument \"steps\": 0 items, expected 1 to 16");
  json_decref(steps);
}

/* ---- the folder --------------------------------------------------------- */

static char tmpdir[256];

static void mkfolder(void)
{
  snprintf(tmpdir, sizeof(tmpdir), "/tmp/pv-orders-XXXXXX");
  cr_assert_not_null(mkdtemp(tmpdir));
}

static void put(const char *name, const char *sq)
{
  char path[512];
  snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
  FILE *f = fopen(path, "w");
  cr_assert_not_null(f);
  char *text = ot_q(sq);
  fputs(text, f);
  free(text);
  fclose(f);
}

static void rmfolder(void)
{
  char cmd[300];
  snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
  cr_assert_eq(system(cmd), 0);
}

static void load_refused(const char *want_suffix)
{
  char err[1024];
  cr_assert_null(pv_order_types_load(tmpdir, true, err, sizeof(err)));
  char want[1024];
  snprintf(want, sizeof(want), "%s/%s", tmpdir, want_suffix);
  cr_assert_str_eq(err, want);
}

Test(order_types, folder_rules, .init = mkfolder, .fini = rmfolder)
{
  char err[1024];
  pv_order_types_t *t = pv_order_types_load(tmpdir, true, err, sizeof(err));
  cr_assert_not_null(t, "%s", err);
  cr_assert_eq(pv_order_types_count(t), 0);
  pv_order_types_destroy(t);

  put("b.json", "{'name':'b','version':2,'steps':[" READ_STEP "]}");
  put("a.json", "{'name':'a','version':1,'steps':[" READ_STEP "]}");
  put("README.md", "not a type");
  put(".hidden.json", "not json");
  t = pv_order_types_load(tmpdir, true, err, sizeof(err));
  cr_assert_not_null(t, "%s", err);
  cr_assert_eq(pv_order_types_count(t), 2);
  cr_assert_str_eq(pv_order_def_name(pv_order_types_at(t, 0)), "a");
  cr_assert_str_eq(pv_order_def_name(pv_order_types_at(t, 1)), "b");
  cr_assert_null(pv_order_types_at(t, 2));
  cr_assert_eq(pv_order_def_version(pv_order_types_find(t, "b")), 2);
  cr_assert_null(pv_order_types_find(t, "c"));
  pv_order_types_destroy(t);

  put("c.json", "{'name':'x','version':1,'steps':[" READ_STEP "]}");
  load_refused("c.json: name: \"x\" does not match the file name (x.json)");
  put("c.json", "{'name':'c','version':1,'steps':[{'name':'s','call':{"
                "'service':'netbox','op':'allocate_ip','args':{'prefix_id':"
                "'${input.prefx}'}},'compensate':null}]}");
  load_refused("c.json: steps[0].args.prefix_id: ${input.prefx} names no "
               "input (declared: none)");
  put("c.json", "{'name':'order','version':1,'inline':true,'input':{'steps':"
                "{'type':'array'}},'steps':[" READ_STEP "]}");
  load_refused("c.json: inline: only the inline form (op \"order\" with "
               "args.steps) is inline");
  unlink(strcat(strcpy(err, tmpdir), "/c.json"));

  /* Size cap. */
  char *big = malloc(PV_ORDER_FILE_MAX_BYTES + 10);
  memset(big, ' ', PV_ORDER_FILE_MAX_BYTES + 9);
  big[PV_ORDER_FILE_MAX_BYTES + 9] = '\0';
  put("d.json", big);
  free(big);
  char want[128];
  snprintf(want, sizeof(want), "d.json: %d bytes, at most %d",
           PV_ORDER_FILE_MAX_BYTES + 9, PV_ORDER_FILE_MAX_BYTES);
  load_refused(want);
}

Test(order_types, count_cap, .init = mkfolder, .fini = rmfolder)
{
  for (int i = 0; i <= PV_ORDER_MAX_TYPES; i++) {
    char name[32];
    snprintf(name, sizeof(name), "t%03d.json", i);
    put(name, "{}");
  }
  char err[1024];
  cr_assert_null(pv_order_types_load(tmpdir, true, err, sizeof(err)));
  char want[512];
  snprintf(want, sizeof(want), "%s: more than %d order type files", tmpdir,
           PV_ORDER_MAX_TYPES);
  cr_assert_str_eq(err, want);
}

Test(order_types, absent_folder)
{
  char err[1024];
  pv_order_types_t *t = pv_order_types_load("/nonexistent/orders", false, err,
                                            sizeof(err));
  cr_assert_not_null(t);
  cr_assert_eq(pv_order_types_count(t), 0);
  pv_order_types_destroy(t);
  cr_assert_null(pv_order_types_load("/nonexistent/orders", true, err,
                                     sizeof(err)));
  cr_assert_str_eq(err, "/nonexistent/orders: cannot open the order types "
                        "folder: No such file or directory");
}

/* ---- the shipped types -------------------------------------------------- */

static pv_order_types_t *shipped(void)
{
  char dir[512], err[1024];
  snprintf(dir, sizeof(dir), "%s/jobs/orders", pv_test_source_dir());
  pv_order_types_t *t = pv_order_types_load(dir, true, err, sizeof(err));
  cr_assert_not_null(t, "%s", err);
  return t;
}

Test(order_shipped, every_type_loads_and_round_trips)
{
  pv_order_types_t *t = shipped();
  static const char *const names[] = {
    "activate_subscriber", "allocate_dual_stack", "deactivate_subscriber",
    "resume_subscriber", "suspend_subscriber"};
  cr_assert_eq(pv_order_types_count(t), 5);
  for (size_t i = 0; i < 5; i++) {
    const pv_order_def_t *def = pv_order_types_at(t, i);
    cr_assert_str_eq(pv_order_def_name(def), names[i]);
    cr_assert_neq(pv_order_def_description(def)[0], '\0');
    assert_round_trip(def);
    /* Every step that changes something says what undoes it. */
    for (size_t s = 0; s < pv_order_def_steps(def); s++) {
      const pv_order_step_t *st = pv_order_def_step(def, s);
      if (st->kind == PV_STEP_CALL && pv_op_writes(st->call.op))
        cr_assert(st->compensate_declared, "%s.%s", names[i], st->name);
    }
  }
  pv_order_types_destroy(t);
}

static const char *step_names(const pv_order_def_t *def, char *buf,
                              size_t size)
{
  size_t used = 0;
  buf[0] = '\0';
  for (size_t i = 0; i < pv_order_def_steps(def); i++)
    used += (size_t)snprintf(buf + used, size - used, "%s%s", i ? " " : "",
                             pv_order_def_step(def, i)->name);
  return buf;
}

Test(order_shipped, activate_subscriber)
{
  pv_order_types_t *t = shipped();
  const pv_order_def_t *def = pv_order_types_find(t, "activate_subscriber");
  char buf[512];
  cr_assert_str_eq(step_names(def, buf, sizeof(buf)),
                   "reserve_ip wait_onu enable_onu wait_active configure_wan "
                   "configure_wifi verify_wan verify_wifi");
  /* A permanent failure or an await's deadline undoes every completed
   * step; an unknown outcome waits for a person. */
  for (size_t i = 0; i < pv_order_def_steps(def); i++) {
    cr_assert_eq(pv_order_def_action(def, i, PV_ERR_HTTP_4XX, NULL),
                 PV_ACT_COMPENSATE);
    cr_assert_eq(pv_order_def_action(def, i, PV_ERR_DEADLINE_EXCEEDED, NULL),
                 PV_ACT_COMPENSATE);
    cr_assert_eq(pv_order_def_action(def, i, PV_ERR_OUTCOME_UNKNOWN, NULL),
                 PV_ACT_HOLD);
  }
  const pv_order_step_t *reserve = pv_order_def_step(def, 0);
  cr_assert_str_eq(reserve->call.op->name, "allocate_ip");
  cr_assert_str_eq(reserve->compensate.op->name, "release_ip");
  const pv_order_step_t *wait_onu = pv_order_def_step(def, 1);
  cr_assert_eq(wait_onu->kind, PV_STEP_AWAIT);
  const pv_order_step_t *enable = pv_order_def_step(def, 2);
  cr_assert_str_eq(enable->compensate.op->name, "disable_onu");

  /* Input: the issue's names, wifi_ssid optional. */
  pv_error_t e;
  json_t *in = ot_json("{'subscriber_id':'s-1','olt_id':'olt','serial_number':"
                       "'ALCL00010002','prefix_id':1,'cpe_device_id':'cpe'}");
  cr_assert_eq(pv_order_input_check(def, in, &e), 0, "%s", e.message);

  /* The steps' args resolve against a context shaped like the runner's,
   * and the resolved args pass the catalog (what the runner checks). */
  json_t *ctx = json_pack(
      "{s:O,s:{s:{s:{s:i,s:s}},s:{s:{s:s}}},s:{s:s,s:s,s:s}}", "input", in,
      "steps", "reserve_ip", "result", "id", 17, "address", "100.64.0.2/28",
      "enable_onu", "result", "device_id", "0123456789ab", "order", "id",
      "ord-1", "tenant", "isp-east", "type", "activate_subscriber");
  for (size_t i = 0; i < pv_order_def_steps(def); i++) {
    const pv_order_step_t *st = pv_order_def_step(def, i);
    if (pv_order_step_applies(st, ctx, &e) == 0)
      continue;
    json_t *args = pv_order_resolve(st->call.args, ctx, &e);
    cr_assert_not_null(args, "%s: %s", st->name, e.message);
    cr_assert_eq(pv_catalog_check_args(st->call.op, args, &e), 0, "%s: %s",
                 st->name, e.message);
    json_decref(args);
  }
  /* configure_wan sets the bare address. */
  json_t *wan = pv_order_resolve(pv_order_def_step(def, 4)->call.args, ctx,
                                 &e);
  cr_assert_str_eq(json_string_value(json_array_get(json_array_get(
                       json_object_get(wan, "parameter_values"), 0), 1)),
                   "100.64.0.2");
  json_decref(wan);
  /* Without wifi_ssid the Wi-Fi steps are skipped. */
  cr_assert_eq(pv_order_step_applies(pv_order_def_step(def, 5), ctx, &e), 0);
  cr_assert_eq(pv_order_step_applies(pv_order_def_step(def, 7), ctx, &e), 0);
  /* wait_active waits for the flows. */
  const pv_order_step_t *wa = pv_order_def_step(def, 3);
  json_t *dev = ot_json("{'admin_state':'ENABLED','oper_status':'ACTIVE',"
                        "'connect_status':'REACHABLE','reason':"
                        "'initial-mib-downloaded'}");
  cr_assert_eq(pv_order_step_until(wa, ctx, dev, &e), 0);
  json_object_set_new(dev, "reason", json_string("omci-flows-pushed"));
  cr_assert_eq(pv_order_step_until(wa, ctx, dev, &e), 1);
  json_decref(dev);
  /* verify_wan compares with the address reserved two steps before. */
  const pv_order_step_t *vw = pv_order_def_step(def, 6);
  json_t *cpe = ot_json(
      "{'InternetGatewayDevice':{'WANDevice':{'1':{'WANConnectionDevice':{"
      "'1':{'WANIPConnection':{'1':{'ExternalIPAddress':{'_value':"
      "'100.64.0.2'},'Enable':{'_value':true}}}}}}}}}");
  cr_assert_eq(pv_order_step_until(vw, ctx, cpe, &e), 1, "%s", e.message);
  json_decref(cpe);
  json_decref(ctx);
  json_decref(in);
  pv_order_types_destroy(t);
}

Test(order_shipped, policies_of_the_other_types)
{
  pv_order_types_t *t = shipped();
  struct {
    const char *type;
    pv_order_action_t on_4xx;
  } want[] = {
    {"suspend_subscriber", PV_ACT_HOLD},
    {"resume_subscriber", PV_ACT_COMPENSATE},
    {"deactivate_subscriber", PV_ACT_HOLD},
    {"allocate_dual_stack", PV_ACT_COMPENSATE},
  };
  for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
    const pv_order_def_t *def = pv_order_types_find(t, want[i].type);
    cr_assert_not_null(def, "%s", want[i].type);
    for (size_t s = 0; s < pv_order_def_steps(def); s++)
      cr_assert_eq(pv_order_def_action(def, s, PV_ERR_HTTP_4XX, NULL),
                   want[i].on_4xx, "%s step %zu", want[i].type, s);
  }
  /* allocate_dual_stack: IPv4, then IPv6, each released on failure. */
  const pv_order_def_t *ds = pv_order_types_find(t, "allocate_dual_stack");
  char buf[256];
  cr_assert_str_eq(step_names(ds, buf, sizeof(buf)),
                   "allocate_ipv4 allocate_ipv6");
  cr_assert_str_eq(pv_order_def_step(ds, 1)->compensate.op->name,
                   "release_ip");
  /* deactivate: disable ONU, reset CPE, release IP. */
  const pv_order_def_t *de = pv_order_types_find(t, "deactivate_subscriber");
  cr_assert_str_eq(step_names(de, buf, sizeof(buf)),
                   "disable_onu reset_cpe release_ip");
  pv_order_types_destroy(t);
}

Test(order_shipped, test_type_for_compensate_to_hold)
{
  char dir[512], err[1024];
  snprintf(dir, sizeof(dir), "%s/tests/orders", pv_test_source_dir());
  pv_order_types_t *t = pv_order_types_load(dir, true, err, sizeof(err));
  cr_assert_not_null(t, "%s", err);
  const pv_order_def_t *def = pv_order_types_find(t,
                                                  "test_compensate_to_hold");
  cr_assert_not_null(def);
  const char *cp;
  cr_assert_eq(pv_order_def_action(def, 1, PV_ERR_HTTP_4XX, &cp),
               PV_ACT_COMPENSATE_TO);
  cr_assert_str_eq(cp, "reserve_ip");
  cr_assert_eq(pv_order_def_action(def, 2, PV_ERR_HTTP_4XX, &cp),
               PV_ACT_COMPENSATE);
  assert_round_trip(def);
  pv_order_types_destroy(t);
}

/* ---- the fuzz entry point ----------------------------------------------- */

Test(order_def, fuzz_entry_survives_its_seeds)
{
  pv_order_types_t *t = shipped();
  for (size_t i = 0; i < pv_order_types_count(t); i++) {
    json_t *j = pv_order_def_json(pv_order_types_at(t, i));
    char *s = json_dumps(j, JSON_COMPACT);
    cr_assert_eq(pv_order_def_fuzz_one((const uint8_t *)s, strlen(s)), 0);
    /* Every prefix of it: truncated documents of every shape. */
    for (size_t n = 0; n < strlen(s); n += 97)
      pv_order_def_fuzz_one((const uint8_t *)s, n);
    free(s);
    json_decref(j);
  }
  pv_order_types_destroy(t);
  static const char *const junk[] = {
    "", "{", "null", "\"${input.x}\"", "{\"path\":\"input.flag\",\"eq\":true}",
    "{\"all\":[{\"not\":{\"any\":[]}}]}", "[\"${steps.reserve_ip.result}\"]",
    "{\"path\":7,\"gt\":\"x\"}"};
  for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++)
    cr_assert_eq(pv_order_def_fuzz_one((const uint8_t *)junk[i],
                                       strlen(junk[i])), 0);
}
