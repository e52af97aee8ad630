/* The envelope: every field error named; validation of every arg rule. */
#include "jobs/catalog.h"
#include "jobs/job.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int decode_json(const char *text, pv_job_t **job, pv_error_t *err)
{
  return pv_job_decode(text, strlen(text), PV_FMT_JSON, job, err);
}

static void expect_invalid(const char *text, const char *message)
{
  pv_job_t *job = NULL;
  pv_error_t err;
  cr_assert_eq(decode_json(text, &job, &err), -1, "accepted: %s", text);
  cr_assert_null(job);
  cr_assert_eq(err.cls, PV_ERR_INVALID_JOB);
  cr_assert(strstr(err.message, message), "for %s: got \"%s\", want \"%s\"",
            text, err.message, message);
}

#define BASE "\"v\":1,\"id\":\"j1\",\"tenant\":\"t\",\"service\":\"voltha\",\"op\":\"health_check\""

Test(envelope, decodes_every_field)
{
  pv_job_t *job;
  pv_error_t err;
  const char *text = "{" BASE ",\"args\":{\"a\":1},\"reply_to\":\"bss.replies\","
                     "\"deadline\":1700000000000,\"max_attempts\":5,"
                     "\"future_field\":{\"x\":1}}";
  cr_assert_eq(decode_json(text, &job, &err), 0, "%s", err.message);
  cr_assert_eq(job->v, 1);
  cr_assert_str_eq(job->id, "j1");
  cr_assert_str_eq(job->tenant, "t");
  cr_assert_str_eq(job->service, "voltha");
  cr_assert_str_eq(job->op, "health_check");
  cr_assert_str_eq(job->reply_to, "bss.replies");
  cr_assert_eq(job->deadline_ms, 1700000000000LL);
  cr_assert_eq(job->max_attempts, 5);
  cr_assert_eq(job->format, PV_FMT_JSON);
  cr_assert_eq(json_integer_value(json_object_get(job->args, "a")), 1);
  pv_job_destroy(job);
}

Test(envelope, optional_fields_default)
{
  pv_job_t *job;
  pv_error_t err;
  cr_assert_eq(decode_json("{" BASE ",\"reply_to\":null,\"args\":null}", &job,
                           &err), 0, "%s", err.message);
  cr_assert_null(job->reply_to);
  cr_assert(json_is_object(job->args));
  cr_assert_eq(json_object_size(job->args), 0);
  cr_assert_eq(job->deadline_ms, 0);
  cr_assert_eq(job->max_attempts, 0);
  pv_job_destroy(job);
}

Test(envelope, msgpack_record)
{
  json_t *doc = json_pack("{s:i,s:s,s:s,s:s,s:s,s:{s:s}}", "v", 1, "id", "m1",
                          "tenant", "acme", "service", "netbox", "op",
                          "get_device", "args", "x", "y");
  char *bytes;
  size_t len;
  cr_assert_eq(pv_doc_encode(doc, PV_FMT_MSGPACK, &bytes, &len), 0);
  pv_job_t *job;
  pv_error_t err;
  cr_assert_eq(pv_job_decode(bytes, len, PV_FMT_MSGPACK, &job, &err), 0, "%s",
               err.message);
  cr_assert_str_eq(job->tenant, "acme");
  cr_assert_eq(job->format, PV_FMT_MSGPACK);
  pv_job_destroy(job);
  free(bytes);
  json_decref(doc);
}

Test(envelope, every_field_error_names_its_field)
{
  expect_invalid("[1]", "record is not a map (got array)");
  expect_invalid("{\"id\":\"x\"}", "field \"v\": missing");
  expect_invalid("{\"v\":\"1\"}", "field \"v\": expected integer, got string");
  expect_invalid("{\"v\":2,\"id\":\"x\"}", "field \"v\": unsupported version 2");
  expect_invalid("{\"v\":1}", "field \"id\": missing");
  expect_invalid("{\"v\":1,\"id\":7}", "field \"id\": expected string, got integer");
  expect_invalid("{\"v\":1,\"id\":\"\"}", "field \"id\": empty");
  expect_invalid("{\"v\":1,\"id\":\"a\\nb\"}", "field \"id\": contains a control character");
  expect_invalid("{\"v\":1,\"id\":\"x\"}", "field \"tenant\": missing");
  expect_invalid("{\"v\":1,\"id\":\"x\",\"tenant\":5}",
                 "field \"tenant\": expected string, got integer");
  expect_invalid("{\"v\":1,\"id\":\"x\",\"tenant\":\"t\",\"service\":[]}",
                 "field \"service\": expected string, got array");
  expect_invalid("{\"v\":1,\"id\":\"x\",\"tenant\":\"t\",\"service\":\"voltha\"}",
                 "field \"op\": missing");
  expect_invalid("{" BASE ",\"args\":[1]}", "field \"args\": expected map, got array");
  expect_invalid("{" BASE ",\"reply_to\":7}", "field \"reply_to\": expected string");
  expect_invalid("{" BASE ",\"reply_to\":\"bad topic!\"}",
                 "field \"reply_to\": \"bad topic!\" is not a valid topic name");
  expect_invalid("{" BASE ",\"deadline\":\"soon\"}",
                 "field \"deadline\": expected integer, got string");
  expect_invalid("{" BASE ",\"deadline\":-5}", "field \"deadline\": -5 out of range");
  /* 2^62 ms: past what PostgreSQL's timestamps hold (the job had no row) */
  expect_invalid("{" BASE ",\"deadline\":4611686018427387904}",
                 "field \"deadline\": 4611686018427387904 out of range [0, "
                 "253402300799999]");
  expect_invalid("{" BASE ",\"deadline\":1.5}", "field \"deadline\": expected integer, got real");
  expect_invalid("{" BASE ",\"max_attempts\":0}", "field \"max_attempts\": 0 out of range");
  expect_invalid("{" BASE ",\"max_attempts\":true}",
                 "field \"max_attempts\": expected integer, got boolean");
}

/* Escape sequences in identifying fields would act in an operator's
 * terminal (provctl output) and forge log lines: every control character
 * is refused, C1 included, naming the field but never echoing the value. */
Test(envelope, control_characters_refused_in_every_identifying_field)
{
  expect_invalid("{\"v\":1,\"id\":\"\\u001b[31mred\"}",
                 "field \"id\": contains a control character (U+001B at byte 0)");
  expect_invalid("{\"v\":1,\"id\":\"x\\u009b31m\"}",
                 "field \"id\": contains a control character (U+009B at byte 1)");
  expect_invalid("{\"v\":1,\"id\":\"x\\u0085\"}",
                 "field \"id\": contains a control character (U+0085");
  expect_invalid("{\"v\":1,\"id\":\"x\\u007f\"}",
                 "field \"id\": contains a control character (U+007F");
  expect_invalid("{\"v\":1,\"id\":\"x\",\"tenant\":\"t\\u001b\"}",
                 "field \"tenant\": contains a control character");
  expect_invalid("{\"v\":1,\"id\":\"x\",\"tenant\":\"t\",\"service\":"
                 "\"voltha\\u009b\"}",
                 "field \"service\": contains a control character");
  expect_invalid("{\"v\":1,\"id\":\"x\",\"tenant\":\"t\",\"service\":"
                 "\"voltha\",\"op\":\"get\\u0000x\"}",
                 "field \"op\": contains a control character (U+0000");
  /* printable non-ASCII is fine */
  pv_job_t *job = NULL;
  pv_error_t err;
  cr_assert_eq(decode_json("{\"v\":1,\"id\":\"j\\u00e9\\u00a0\","
                           "\"tenant\":\"t\",\"service\":\"voltha\","
                           "\"op\":\"health_check\"}", &job, &err), 0,
               "%s", err.message);
  pv_job_destroy(job);
}

Test(envelope, salvage_keeps_only_what_decode_would_accept)
{
  const char *doc = "{\"v\":1,\"id\":\"\\u001b[31mred\",\"tenant\":"
                    "\"isp-east\",\"service\":\"voltha\\u009b\",\"op\":"
                    "\"health_check\",\"args\":[]}";
  pv_job_ids_t ids;
  pv_job_salvage(doc, strlen(doc), PV_FMT_JSON, &ids);
  cr_assert_null(ids.id, "an id with an ANSI escape is not kept");
  cr_assert_null(ids.service, "a service with a C1 control is not kept");
  cr_assert_str_eq(ids.tenant, "isp-east");
  cr_assert_str_eq(ids.op, "health_check");
  pv_job_ids_clear(&ids);

  const char *ok = "{\"v\":1,\"id\":\"j-1\",\"tenant\":7,\"op\":\"\"}";
  pv_job_salvage(ok, strlen(ok), PV_FMT_JSON, &ids);
  cr_assert_str_eq(ids.id, "j-1");
  cr_assert_null(ids.tenant);
  cr_assert_null(ids.service);
  cr_assert_null(ids.op);
  pv_job_ids_clear(&ids);

  pv_job_salvage("\xc1garbage", 8, PV_FMT_MSGPACK, &ids);
  cr_assert_null(ids.id);
  pv_job_salvage(NULL, 0, PV_FMT_JSON, &ids);
  cr_assert_null(ids.id);
}

Test(envelope, length_limits)
{
  char text[1024];
  char id[PV_JOB_ID_MAX + 2];
  memset(id, 'i', sizeof(id) - 1);
  id[sizeof(id) - 1] = '\0';
  snprintf(text, sizeof(text), "{\"v\":1,\"id\":\"%s\"}", id);
  expect_invalid(text, "field \"id\": too long (129 bytes, at most 128)");

  id[PV_JOB_ID_MAX] = '\0'; /* exactly 128: fine */
  char tenant[PV_JOB_TENANT_MAX + 2];
  memset(tenant, 't', sizeof(tenant) - 1);
  tenant[sizeof(tenant) - 1] = '\0';
  snprintf(text, sizeof(text), "{\"v\":1,\"id\":\"%s\",\"tenant\":\"%s\"}", id,
           tenant);
  expect_invalid(text, "field \"tenant\": too long (65 bytes, at most 64)");
}

Test(envelope, undecodable_records)
{
  pv_job_t *job;
  pv_error_t err;
  const unsigned char bad[] = {0x82, 0xa1, 'v', 0x01, 0xa2, 'i', 'd', 0xc1};
  cr_assert_eq(pv_job_decode(bad, sizeof(bad), PV_FMT_MSGPACK, &job, &err), -1);
  cr_assert_eq(err.cls, PV_ERR_INVALID_JOB);
  cr_assert_str_eq(err.message,
                   "record is not valid msgpack at byte 7: byte 0xc1 is not a "
                   "msgpack type");
  expect_invalid("{\"v\":1,", "record is not valid JSON at byte");
}

/* ---- validation ---- */

static int validate(const char *service, const char *op, const char *args,
                    pv_error_t *err)
{
  char id[] = "j", tenant[] = "t", svc[64], opn[64];
  snprintf(svc, sizeof(svc), "%s", service);
  snprintf(opn, sizeof(opn), "%s", op);
  pv_job_t job = {.v = 1, .id = id, .tenant = tenant, .service = svc,
                  .op = opn};
  json_error_t jerr;
  job.args = json_loads(args, JSON_ALLOW_NUL, &jerr);
  cr_assert_not_null(job.args, "bad test JSON %s: %s", args, jerr.text);
  int rc = pv_job_validate(&job, err);
  json_decref(job.args);
  return rc;
}

static void expect_ok(const char *service, const char *op, const char *args)
{
  pv_error_t err;
  cr_assert_eq(validate(service, op, args, &err), 0, "%s.%s %s: %s", service,
               op, args, err.message);
}

static void expect_bad(const char *service, const char *op, const char *args,
                       pv_errclass_t cls, const char *message)
{
  pv_error_t err;
  cr_assert_eq(validate(service, op, args, &err), -1, "%s.%s %s accepted",
               service, op, args);
  cr_assert_eq(err.cls, cls, "class %s for %s", pv_errclass_name(err.cls), args);
  cr_assert(strstr(err.message, message), "got \"%s\", want \"%s\"",
            err.message, message);
}

Test(validate, unknown_service_and_op)
{
  expect_bad("onos", "health_check", "{}", PV_ERR_UNKNOWN_OP,
             "unknown service \"onos\"");
  expect_bad("voltha", "x", "{}", PV_ERR_UNKNOWN_OP,
             "unknown op \"x\" for service \"voltha\"");
  /* A NetBox op name under another service is still unknown there. */
  expect_bad("voltha", "allocate_ip", "{}", PV_ERR_UNKNOWN_OP,
             "unknown op \"allocate_ip\" for service \"voltha\"");
}

Test(validate, argument_rules)
{
  expect_ok("voltha", "get_device", "{\"device_id\":\"abc\"}");
  expect_bad("voltha", "get_device", "{}", PV_ERR_BAD_ARGS,
             "argument \"device_id\": missing");
  expect_bad("voltha", "get_device", "{\"device_id\":12}", PV_ERR_BAD_ARGS,
             "argument \"device_id\": expected string, got integer");
  expect_bad("voltha", "get_device", "{\"device_id\":\"\"}", PV_ERR_BAD_ARGS,
             "argument \"device_id\": too short (0 bytes, at least 1)");
  expect_bad("voltha", "get_device", "{\"device_id\":null}", PV_ERR_BAD_ARGS,
             "argument \"device_id\": missing");
  expect_bad("voltha", "get_device", "{\"device_id\":\"a\",\"devce\":1}",
             PV_ERR_BAD_ARGS, "unknown argument \"devce\" for voltha.get_device");
  expect_bad("voltha", "get_device", "{\"device_id\":\"a\\u0000b\"}",
             PV_ERR_BAD_ARGS, "argument \"device_id\": contains a NUL byte");

  char args[512];
  char id[300];
  memset(id, 'x', 257);
  id[257] = '\0';
  snprintf(args, sizeof(args), "{\"device_id\":\"%s\"}", id);
  expect_bad("voltha", "get_device", args, PV_ERR_BAD_ARGS,
             "argument \"device_id\": too long (257 bytes, at most 256)");

  expect_ok("voltha", "list_devices", "{\"limit\":10,\"offset\":0}");
  expect_bad("voltha", "list_devices", "{\"limit\":0}", PV_ERR_BAD_ARGS,
             "argument \"limit\": 0 out of range [1, 10000]");
  expect_bad("voltha", "list_devices", "{\"limit\":\"5\"}", PV_ERR_BAD_ARGS,
             "argument \"limit\": expected integer, got string");
  expect_bad("netbox", "get_device", "{\"id\":0}", PV_ERR_BAD_ARGS,
             "argument \"id\": 0 out of range");
  expect_bad("netbox", "get_device", "{\"id\":\"7\"}", PV_ERR_BAD_ARGS,
             "argument \"id\": expected integer, got string");
  expect_bad("genieacs", "reboot", "{\"device_id\":\"d\",\"connection_request\":1}",
             PV_ERR_BAD_ARGS,
             "argument \"connection_request\": expected boolean, got integer");
  expect_bad("genieacs", "list_devices", "{\"query\":\"x\"}", PV_ERR_BAD_ARGS,
             "argument \"query\": expected object, got string");
}

Test(validate, one_of_and_patch)
{
  expect_ok("voltha", "preprovision_olt",
            "{\"type\":\"openolt\",\"host_and_port\":\"10.0.0.5:9191\"}");
  expect_bad("voltha", "preprovision_olt", "{\"type\":\"openolt\"}",
             PV_ERR_BAD_ARGS,
             "exactly one of the arguments host_and_port|ipv4_address|"
             "mac_address is required (got none)");
  expect_bad("voltha", "preprovision_olt",
             "{\"type\":\"openolt\",\"host_and_port\":\"a:1\","
             "\"ipv4_address\":\"10.0.0.1\"}",
             PV_ERR_BAD_ARGS, "(got host_and_port, ipv4_address)");
  expect_bad("netbox", "update_device", "{\"id\":3}", PV_ERR_BAD_ARGS,
             "no field to change");
  expect_ok("netbox", "update_device", "{\"id\":3,\"status\":\"active\"}");
}

Test(validate, structured_args)
{
  expect_ok("genieacs", "get_parameter_values",
            "{\"device_id\":\"d\",\"parameter_names\":[\"A.B\"]}");
  expect_bad("genieacs", "get_parameter_values",
             "{\"device_id\":\"d\",\"parameter_names\":[]}", PV_ERR_BAD_ARGS,
             "argument \"parameter_names\": 0 items, expected 1 to 256");
  expect_bad("genieacs", "get_parameter_values",
             "{\"device_id\":\"d\",\"parameter_names\":[\"A\",3]}",
             PV_ERR_BAD_ARGS,
             "argument \"parameter_names\": item 1: expected string, got integer");
  expect_ok("genieacs", "set_parameter_values",
            "{\"device_id\":\"d\",\"parameter_values\":[[\"A.B\",1],"
            "[\"A.C\",\"x\",\"xsd:string\"],[\"A.D\",true]]}");
  expect_bad("genieacs", "set_parameter_values",
             "{\"device_id\":\"d\",\"parameter_values\":[[\"A.B\"]]}",
             PV_ERR_BAD_ARGS,
             "argument \"parameter_values\": item 0: expected [path, value]");
  expect_bad("genieacs", "set_parameter_values",
             "{\"device_id\":\"d\",\"parameter_values\":[[\"A.B\",{}]]}",
             PV_ERR_BAD_ARGS, "item 0 value: expected string, number or boolean");
  expect_ok("netbox", "create_device",
            "{\"name\":\"olt1\",\"device_type\":1,\"role\":{\"slug\":\"olt\"},"
            "\"site\":2}");
  expect_bad("netbox", "create_device",
             "{\"device_type\":1,\"role\":\"olt\",\"site\":2}", PV_ERR_BAD_ARGS,
             "argument \"role\": expected an id (integer) or a non-empty object");
  expect_bad("netbox", "create_device", "{\"device_type\":1,\"role\":1}",
             PV_ERR_BAD_ARGS, "argument \"site\": missing");
}

Test(validate, order)
{
  expect_ok("netbox", "order",
            "{\"steps\":[{\"service\":\"netbox\",\"op\":\"allocate_ip\","
            "\"args\":{\"prefix_id\":1}},{\"service\":\"voltha\","
            "\"op\":\"health_check\"}]}");
  /* The order op exists under every service. */
  expect_ok("voltha", "order",
            "{\"steps\":[{\"service\":\"voltha\",\"op\":\"health_check\"}]}");
  expect_bad("netbox", "order", "{}", PV_ERR_BAD_ARGS,
             "argument \"steps\": missing");
  expect_bad("netbox", "order", "{\"steps\":[]}", PV_ERR_BAD_ARGS,
             "argument \"steps\": 0 items, expected 1 to 16");
  expect_bad("netbox", "order",
             "{\"steps\":[{\"service\":\"voltha\",\"op\":\"health_check\"},"
             "{\"service\":\"netbox\",\"op\":\"allocate_ip\",\"args\":{}}]}",
             PV_ERR_BAD_ARGS,
             "step 2 (netbox.allocate_ip): argument \"prefix_id\": missing");
  expect_bad("netbox", "order",
             "{\"steps\":[{\"service\":\"netbox\",\"op\":\"nope\"}]}",
             PV_ERR_UNKNOWN_OP, "step 1: unknown op \"nope\" for service \"netbox\"");
  expect_bad("netbox", "order",
             "{\"steps\":[{\"service\":\"netbox\",\"op\":\"order\","
             "\"args\":{\"steps\":[]}}]}",
             PV_ERR_BAD_ARGS, "step 1: an order cannot contain an order");
  expect_bad("netbox", "order",
             "{\"steps\":[{\"service\":\"netbox\",\"op\":\"health_check\","
             "\"arg\":{}}]}",
             PV_ERR_BAD_ARGS, "step 1: unknown field \"arg\"");
  expect_bad("netbox", "order", "{\"steps\":[{\"op\":\"health_check\"}]}",
             PV_ERR_BAD_ARGS, "step 1: field \"service\": expected string, got null");

  char text[4096];
  size_t n = (size_t)snprintf(text, sizeof(text), "{\"steps\":[");
  for (int i = 0; i < PV_ORDER_MAX_STEPS + 1; i++)
    n += (size_t)snprintf(text + n, sizeof(text) - n,
                          "%s{\"service\":\"voltha\",\"op\":\"health_check\"}",
                          i ? "," : "");
  snprintf(text + n, sizeof(text) - n, "]}");
  expect_bad("voltha", "order", text, PV_ERR_BAD_ARGS,
             "argument \"steps\": 17 items, expected 1 to 16");
}
