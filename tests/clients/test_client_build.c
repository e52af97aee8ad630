/* Request building and answer normalisation of the clients, no network. */
#include "jobs/catalog.h"
#include "transports/client_int.h"
#include "transports/genieacs.h"
#include "transports/netbox.h"
#include "transports/voltha.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

static json_t *args_of(const char *text)
{
  json_error_t jerr;
  json_t *a = json_loads(text, 0, &jerr);
  cr_assert_not_null(a, "bad test JSON: %s", jerr.text);
  return a;
}

static char *path_of(const char *service, const char *opname, const char *args)
{
  const pv_op_t *op = pv_catalog_find(service, opname);
  cr_assert_not_null(op);
  json_t *a = args_of(args);
  pv_buf_t b;
  pv_error_t err;
  cr_assert_eq(pv_client_build_path(op, a, &b, &err), 0, "%s", err.message);
  json_decref(a);
  return pv_buf_steal(&b, NULL);
}

#define PATH_EQ(svc, op, args, want)                                          \
  do {                                                                        \
    char *p_ = path_of(svc, op, args);                                        \
    cr_assert_str_eq(p_, want);                                               \
    free(p_);                                                                 \
  } while (0)

Test(build, ids_stay_in_their_segment)
{
  PATH_EQ("voltha", "get_device", "{\"device_id\":\"2db8e16804ec\"}",
          "/api/v1/devices/2db8e16804ec");
  PATH_EQ("voltha", "get_device", "{\"device_id\":\"../../health\"}",
          "/api/v1/devices/%2E%2E%2F%2E%2E%2Fhealth");
  PATH_EQ("voltha", "enable_device", "{\"device_id\":\"..\"}",
          "/api/v1/devices/%2E%2E/enable");
  PATH_EQ("voltha", "delete_device", "{\"device_id\":\"a?x=1#f\"}",
          "/api/v1/devices/a%3Fx%3D1%23f/delete");
  PATH_EQ("voltha", "get_device", "{\"device_id\":\"a%2Fb/c\"}",
          "/api/v1/devices/a%252Fb%2Fc");
  /* GenieACS: the id already carries %XX and is encoded again. */
  PATH_EQ("genieacs", "delete_device",
          "{\"device_id\":\"00236a-96318REF-SR360NA0A4%2D0003196\"}",
          "/devices/00236a-96318REF-SR360NA0A4%252D0003196");
  PATH_EQ("genieacs", "add_tag", "{\"device_id\":\"d1\",\"tag\":\"vip user\"}",
          "/devices/d1/tags/vip%20user");
  PATH_EQ("netbox", "get_device", "{\"id\":42}", "/api/dcim/devices/42/");
  PATH_EQ("netbox", "allocate_ip", "{\"prefix_id\":7}",
          "/api/ipam/prefixes/7/available-ips/");
  PATH_EQ("voltha", "delete_device", "{\"device_id\":\"\xc3\xa9\"}",
          "/api/v1/devices/%C3%A9/delete");
}

Test(build, query_filters)
{
  PATH_EQ("netbox", "list_ip_addresses",
          "{\"parent\":\"10.0.0.0/24\",\"status\":\"active\",\"q\":\"a&b\"}",
          "/api/ipam/ip-addresses/?q=a%26b&parent=10%2E0%2E0%2E0%2F24&status=active");
}

Test(build, body_uses_wire_names_and_defaults)
{
  const pv_op_t *op = pv_catalog_find("genieacs", "download");
  json_t *a = args_of("{\"device_id\":\"d\",\"file_name\":\"fw.bin\"}");
  json_t *body = pv_client_build_body(op, a);
  json_t *want = args_of("{\"fileName\":\"fw.bin\",\"fileType\":"
                         "\"1 Firmware Upgrade Image\"}");
  cr_assert(json_equal(body, want));
  json_decref(body);
  json_decref(want);
  json_decref(a);

  op = pv_catalog_find("voltha", "get_device");
  a = args_of("{\"device_id\":\"d\"}");
  cr_assert_null(pv_client_build_body(op, a), "no body args, no body");
  json_decref(a);
}

/* FlowTableUpdate: dotted wire names nest, the path's id is repeated in
 * the body, and the op's fixed members win over anything else. */
Test(build, nested_body_path_id_and_fixed_members)
{
  const pv_op_t *op = pv_catalog_find("voltha", "add_flow");
  json_t *a = args_of("{\"logical_device_id\":\"ld1\",\"priority\":7,"
                      "\"cookie\":\"18446744073709551615\","
                      "\"match\":{\"type\":\"OFPMT_OXM\"}}");
  json_t *body = pv_client_build_body(op, a);
  json_t *want = args_of("{\"id\":\"ld1\",\"flow_mod\":{\"priority\":7,"
                         "\"cookie\":\"18446744073709551615\",\"match\":"
                         "{\"type\":\"OFPMT_OXM\"},\"command\":\"OFPFC_ADD\"}}");
  cr_assert(json_equal(body, want), "%s", json_dumps(body, JSON_COMPACT));
  json_decref(body);
  json_decref(want);
  json_decref(a);

  /* delete_flow: the default table 255 and the fixed ANY port/group. */
  op = pv_catalog_find("voltha", "delete_flow");
  a = args_of("{\"logical_device_id\":\"ld1\",\"cookie\":5}");
  body = pv_client_build_body(op, a);
  json_t *fm = json_object_get(body, "flow_mod");
  cr_assert_eq(json_integer_value(json_object_get(fm, "table_id")), 255);
  cr_assert_str_eq(json_string_value(json_object_get(fm, "command")),
                   "OFPFC_DELETE");
  cr_assert_eq(json_integer_value(json_object_get(fm, "out_port")),
               2147483647);
  cr_assert_str_eq(json_string_value(json_object_get(fm, "cookie_mask")),
                   "18446744073709551615");
  json_decref(body);
  json_decref(a);
}

/* upload_file: metadata as headers, the content as the raw body (base64
 * decoded), no JSON body. */
Test(build, headers_and_raw_bodies)
{
  const pv_op_t *op = pv_catalog_find("genieacs", "upload_file");
  json_t *a = args_of("{\"name\":\"fw 1.bin\",\"file_type\":\"1 Firmware "
                      "Upgrade Image\",\"oui\":\"00236A\","
                      "\"content_base64\":\"AAEC/w==\"}");
  pv_client_req_t req;
  pv_error_t err;
  cr_assert_eq(pv_client_build_req(op, a, &req, &err), 0, "%s", err.message);
  cr_assert_str_eq(req.method, "PUT");
  cr_assert_str_eq(req.path, "/files/fw%201%2Ebin");
  cr_assert_null(req.body);
  cr_assert_eq(req.raw_len, 4);
  cr_assert_eq(memcmp(req.raw, "\x00\x01\x02\xff", 4), 0);
  cr_assert_str_eq(req.raw_type, "application/octet-stream");
  cr_assert_str_eq(req.headers[0], "fileType: 1 Firmware Upgrade Image");
  cr_assert_str_eq(req.headers[1], "oui: 00236A");
  cr_assert_null(req.headers[2]);
  pv_client_req_clear(&req);
  json_decref(a);

  op = pv_catalog_find("genieacs", "put_provision");
  a = args_of("{\"name\":\"p\",\"script\":\"log('x');\"}");
  cr_assert_eq(pv_client_build_req(op, a, &req, &err), 0);
  cr_assert_str_eq(req.raw, "log('x');");
  cr_assert_str_eq(req.raw_type, "text/plain; charset=utf-8");
  pv_client_req_clear(&req);
  json_decref(a);

  /* No op has more header arguments than a request carries. */
  for (size_t i = 0; i < pv_catalog_count(); i++) {
    size_t n = 0;
    for (const pv_arg_t *x = pv_catalog_at(i)->args; x->name; x++)
      n += x->in == PV_IN_HEADER;
    cr_assert_leq(n, PV_CLIENT_HEADERS_MAX, "%s", pv_catalog_at(i)->name);
  }
}

Test(genieacs, get_device_query_encodes_raw_id_once)
{
  const pv_op_t *op = pv_catalog_find("genieacs", "get_device");
  json_t *a = args_of("{\"device_id\":\"00236a-SR%2D01\"}");
  pv_buf_t b;
  pv_error_t err;
  cr_assert_eq(pv_genieacs_query_path(op, a, &b, &err), 0);
  /* {"_id":"00236a-SR%2D01"} URL-encoded: the id's '%' becomes %25 once. */
  cr_assert_str_eq(b.data, "/devices/?query=%7B%22_id%22%3A%2200236a-SR%252D01"
                           "%22%7D&limit=2");
  pv_buf_free(&b);
  json_decref(a);
}

Test(genieacs, list_query_sort_projection_skip_limit)
{
  const pv_op_t *op = pv_catalog_find("genieacs", "list_tasks");
  json_t *a = args_of("{\"device_id\":\"d1\",\"query\":{\"name\":\"reboot\"},"
                      "\"projection\":\"_id,name\",\"sort\":{\"timestamp\":-1},"
                      "\"skip\":5,\"limit\":10}");
  pv_buf_t b;
  pv_error_t err;
  cr_assert_eq(pv_genieacs_query_path(op, a, &b, &err), 0);
  cr_assert_str_eq(b.data,
                   "/tasks/?query=%7B%22name%22%3A%22reboot%22%2C%22device%22"
                   "%3A%22d1%22%7D&projection=_id%2Cname&sort=%7B%22timestamp"
                   "%22%3A-1%7D&skip=5&limit=10");
  pv_buf_free(&b);
  json_decref(a);

  /* The NBI returns everything without a limit: the default is 100. */
  op = pv_catalog_find("genieacs", "list_devices");
  a = args_of("{}");
  cr_assert_eq(pv_genieacs_query_path(op, a, &b, &err), 0);
  cr_assert_str_eq(b.data, "/devices/?limit=100");
  pv_buf_free(&b);
  json_decref(a);
}

Test(genieacs, task_request)
{
  const pv_op_t *op = pv_catalog_find("genieacs", "get_parameter_values");
  json_t *a = args_of("{\"device_id\":\"a%2Db\",\"parameter_names\":[\"X.Y\"],"
                      "\"timeout_ms\":5000}");
  pv_client_req_t req;
  pv_error_t err;
  cr_assert_eq(pv_genieacs_task_req(op, a, &req, &err), 0);
  cr_assert_str_eq(req.method, "POST");
  cr_assert_str_eq(req.path, "/devices/a%252Db/tasks?connection_request&timeout=5000");
  json_t *want = args_of("{\"name\":\"getParameterValues\",\"parameterNames\":[\"X.Y\"]}");
  cr_assert(json_equal(req.body, want));
  cr_assert_eq(req.timeout_ms, 150000);
  json_decref(want);
  pv_client_req_clear(&req);
  json_decref(a);

  a = args_of("{\"device_id\":\"d\",\"parameter_names\":[\"X\"],"
              "\"timeout_ms\":100000}");
  cr_assert_eq(pv_genieacs_task_req(op, a, &req, &err), 0);
  cr_assert_eq(req.timeout_ms, 230000, "session wait + 130 s");
  pv_client_req_clear(&req);
  json_decref(a);

  op = pv_catalog_find("genieacs", "reboot");
  a = args_of("{\"device_id\":\"d\",\"connection_request\":false}");
  cr_assert_eq(pv_genieacs_task_req(op, a, &req, &err), 0);
  cr_assert_str_eq(req.path, "/devices/d/tasks");
  cr_assert_eq(req.timeout_ms, 30000);
  cr_assert_str_eq(json_string_value(json_object_get(req.body, "name")), "reboot");
  cr_assert_eq(req.idempotent, false);
  pv_client_req_clear(&req);
  json_decref(a);
}

static pv_http_response_t resp_of(long status, const char *reason,
                                  const char *body)
{
  pv_http_response_t r;
  memset(&r, 0, sizeof(r));
  r.status = status;
  snprintf(r.reason, sizeof(r.reason), "%s", reason);
  r.body = (char *)(uintptr_t)body;
  r.body_len = body ? strlen(body) : 0;
  r.total = -1;
  r.grpc_status = -1;
  r.attempts = 1;
  return r;
}

Test(genieacs, task_results)
{
  pv_http_response_t r = resp_of(200, "OK", "{\"_id\":\"t1\",\"name\":\"reboot\"}");
  json_t *res = pv_genieacs_task_result(&r);
  json_t *want = args_of("{\"executed\":true,\"queued\":false,\"task\":"
                         "{\"_id\":\"t1\",\"name\":\"reboot\"}}");
  cr_assert(json_equal(res, want));
  json_decref(res);
  json_decref(want);

  r = resp_of(202, "Task faulted", "{\"_id\":\"t2\"}");
  res = pv_genieacs_task_result(&r);
  want = args_of("{\"executed\":false,\"queued\":true,\"reason\":\"Task faulted\","
                 "\"task\":{\"_id\":\"t2\"}}");
  cr_assert(json_equal(res, want));
  json_decref(res);
  json_decref(want);
}

Test(errors, body_detail)
{
  char out[PV_CLIENT_DETAIL_MAX + 1];
  const char *nb = "{\"detail\":\"No Prefix matches the given query.\"}";
  pv_client_body_detail(nb, strlen(nb), out, sizeof(out));
  cr_assert_str_eq(out, "No Prefix matches the given query.");
  const char *fields = "{\"name\":[\"This field is required.\"],\"site\":[\"Bad\"]}";
  pv_client_body_detail(fields, strlen(fields), out, sizeof(out));
  cr_assert_str_eq(out, "name: This field is required.; site: Bad");
  const char *text = "cannot-enable-an-already-enabled-device:\n  abc\r\n";
  pv_client_body_detail(text, strlen(text), out, sizeof(out));
  cr_assert_str_eq(out, "cannot-enable-an-already-enabled-device: abc ");
  char big[2000];
  memset(big, 'x', sizeof(big) - 1);
  big[sizeof(big) - 1] = '\0';
  pv_client_body_detail(big, strlen(big), out, sizeof(out));
  cr_assert_eq(strlen(out), PV_CLIENT_DETAIL_MAX);
}

Test(errors, resp_error_classes)
{
  pv_http_response_t r = resp_of(409, "Conflict",
      "{\"detail\":\"Insufficient resources are available to satisfy the request\"}");
  r.err.cls = PV_ERR_HTTP_4XX;
  r.err.http_status = 409;
  pv_error_t err;
  cr_assert_eq(pv_client_resp_ok("netbox", &r, &err), false);
  cr_assert_eq(err.cls, PV_ERR_HTTP_4XX);
  cr_assert_eq(err.http_status, 409);
  cr_assert_str_eq(err.message, "netbox answered 409 Conflict: Insufficient "
                                "resources are available to satisfy the request");

  /* A 3xx that the transport let through is still not a success. */
  r = resp_of(301, "Moved Permanently", "");
  cr_assert_eq(pv_client_resp_ok("netbox", &r, &err), false);
  cr_assert_eq(err.cls, PV_ERR_HTTP_4XX);
  cr_assert_eq(err.http_status, 301);

  r = resp_of(0, "", NULL);
  pv_error_set(&r.err, PV_ERR_CONNECT, 0, "connection refused");
  cr_assert_eq(pv_client_resp_ok("voltha", &r, &err), false);
  cr_assert_eq(err.cls, PV_ERR_CONNECT);
  cr_assert_str_eq(err.message, "voltha: connection refused");
}

Test(errors, grpc_status_on_http_200)
{
  struct { int grpc; pv_errclass_t cls; int status; } cases[] = {
    {5, PV_ERR_HTTP_4XX, 404}, {3, PV_ERR_HTTP_4XX, 400},
    {6, PV_ERR_HTTP_4XX, 409}, {9, PV_ERR_HTTP_4XX, 400},
    {7, PV_ERR_HTTP_4XX, 403}, {14, PV_ERR_HTTP_5XX, 503},
    {13, PV_ERR_HTTP_5XX, 500}, {8, PV_ERR_RATE_LIMITED, 429},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    pv_http_response_t r = resp_of(200, "OK", "{}");
    r.grpc_status = cases[i].grpc;
    snprintf(r.grpc_message, sizeof(r.grpc_message), "device-not-found");
    pv_error_t err;
    cr_assert_eq(pv_client_resp_ok("voltha", &r, &err), false);
    cr_assert_eq(err.cls, cases[i].cls, "grpc %d", cases[i].grpc);
    cr_assert_eq(err.http_status, cases[i].status, "grpc %d", cases[i].grpc);
    cr_assert(strstr(err.message, "device-not-found"));
  }
  pv_http_response_t ok = resp_of(200, "OK", "{}");
  ok.grpc_status = 0;
  pv_error_t err;
  cr_assert(pv_client_resp_ok("voltha", &ok, &err));
}

Test(normalise, shapes)
{
  const pv_op_t *list = pv_catalog_find("voltha", "get_device_ports");
  pv_http_response_t r = resp_of(200, "OK", "{\"items\":[{\"port_no\":1}]}");
  pv_error_t err;
  json_t *res = pv_client_normalise(list, &r, &err);
  cr_assert_eq(json_integer_value(json_object_get(res, "count")), 1);
  cr_assert_eq(json_array_size(json_object_get(res, "items")), 1);
  json_decref(res);

  const pv_op_t *del = pv_catalog_find("netbox", "delete_device");
  r = resp_of(204, "No Content", NULL);
  res = pv_client_normalise(del, &r, &err);
  cr_assert(json_is_true(json_object_get(res, "deleted")));
  json_decref(res);
  /* 404 on a retried delete: an earlier attempt may have done it. */
  r = resp_of(404, "Not Found", "{}");
  cr_assert_null(pv_client_delete_absent(del, &r));
  r.attempts = 2;
  res = pv_client_delete_absent(del, &r);
  cr_assert(json_is_true(json_object_get(res, "already_absent")));
  json_decref(res);

  const pv_op_t *act = pv_catalog_find("voltha", "disable_device");
  r = resp_of(200, "OK", "{}");
  res = pv_client_normalise(act, &r, &err);
  cr_assert(json_is_object(res) && json_object_size(res) == 0);
  json_decref(res);

  const pv_op_t *obj = pv_catalog_find("netbox", "get_device");
  r = resp_of(200, "OK", "<html>");
  cr_assert_null(pv_client_normalise(obj, &r, &err));
  cr_assert_eq(err.cls, PV_ERR_INTERNAL);
}

Test(voltha, list_filter_and_slice)
{
  json_t *items = args_of(
      "[{\"id\":\"olt\",\"parent_id\":\"\",\"serial_number\":\"O1\"},"
      "{\"id\":\"a\",\"parent_id\":\"olt\",\"serial_number\":\"S1\"},"
      "{\"id\":\"b\",\"parent_id\":\"olt\",\"serial_number\":\"S2\"},"
      "{\"id\":\"c\",\"parent_id\":\"olt\",\"serial_number\":\"S3\"}]");
  json_t *a = args_of("{\"parent_id\":\"olt\",\"offset\":1,\"limit\":1}");
  json_t *res = pv_voltha_filter_list(items, a);
  cr_assert_eq(json_integer_value(json_object_get(res, "total")), 3);
  cr_assert_eq(json_integer_value(json_object_get(res, "count")), 1);
  cr_assert_str_eq(json_string_value(json_object_get(
                       json_array_get(json_object_get(res, "items"), 0), "id")),
                   "b");
  cr_assert(json_is_true(json_object_get(res, "truncated")));
  json_decref(res);
  json_decref(a);
  json_decref(items);
}

Test(netbox, auth_and_description)
{
  cr_assert_str_eq(pv_netbox_auth_scheme("0123456789abcdef"), "Token");
  cr_assert_str_eq(pv_netbox_auth_scheme("nbt_abc.def"), "Bearer");
  char *d = pv_netbox_ip_description("job-1", NULL);
  cr_assert_str_eq(d, "pv-job job-1");
  free(d);
  d = pv_netbox_ip_description("job-1#2", "cpe wan");
  cr_assert_str_eq(d, "cpe wan [pv-job job-1#2]");
  json_t *ip = json_pack("{s:s}", "description", d);
  cr_assert(pv_netbox_ip_matches(ip, d));
  cr_assert_not(pv_netbox_ip_matches(ip, "pv-job job-1"));
  json_decref(ip);
  free(d);
}
