/* The simulator's GenieACS NBI over real HTTP. Seeded ids (cpes=20):
 * k=0 "00236A-96318REF-SR360NA0A4%2D0000000" online, k=2 has a space in its
 * product class, k=9 and k=19 are offline. */
#include "tests/sim/simfix.h"

#include <stdlib.h>
#include <string.h>

TestSuite(sim_genieacs, .init = simfix_start, .fini = simfix_stop,
          .timeout = 30);

#define DEV0_RAW "00236A-96318REF-SR360NA0A4%2D0000000"
#define DEV0_PATH "00236A-96318REF-SR360NA0A4%252D0000000" /* encoded again */
#define DEV9 "00E0FC-HG8245H-4857544300000009"             /* offline */
#define SSID_PATH "InternetGatewayDevice.LANDevice.1.WLANConfiguration.1.SSID"

/* GET /<coll>?query=<json>&<extra>, the JSON URL-encoded. */
static th_resp_t *query(const char *coll, const char *q, const char *extra)
{
  char url[2048];
  char *enc = curl_easy_escape(NULL, q, 0);
  SIMURL(url, sim.genieacs_url, "/%s/?query=%s%s%s", coll, enc,
         extra ? "&" : "", extra ? extra : "");
  curl_free(enc);
  return th_get(url);
}

static long total(const th_resp_t *r)
{
  char b[32];
  const char *t = th_header(r, "total", b, sizeof(b));
  return t ? strtol(t, NULL, 10) : -1;
}

static th_resp_t *task(const char *dev_path, const char *qs, const char *body)
{
  char url[512];
  SIMURL(url, sim.genieacs_url, "/devices/%s/tasks%s", dev_path, qs);
  return th_request("POST", url, NULL, body, 0);
}

Test(sim_genieacs, collection_query_total_projection_sort_paging)
{
  char hb[64];
  th_resp_t *r = query("devices", "{}", NULL);
  cr_assert_eq(r->status, 200);
  cr_assert(json_is_array(r->json), "collections are plain arrays");
  cr_assert_eq(json_array_size(r->json), 20);
  cr_assert_eq(total(r), 20);
  cr_assert_str_eq(th_header(r, "GenieACS-Version", hb, sizeof(hb)), "1.2.16");
  json_t *d0 = json_array_get(r->json, 0);
  cr_assert_not_null(json_object_get(d0, "_deviceId"));
  cr_assert_not_null(json_object_get(d0, "_lastInform"));
  cr_assert_not_null(json_object_get(
      json_object_get(json_object_get(d0, "InternetGatewayDevice"),
                      "DeviceInfo"), "SerialNumber"));
  th_free(r);

  /* The raw id (single %) goes into the query. */
  r = query("devices", "{\"_id\":\"" DEV0_RAW "\"}", "projection=_id,_tags");
  cr_assert_eq(total(r), 1);
  json_t *only = json_array_get(r->json, 0);
  cr_assert_str_eq(json_string_value(json_object_get(only, "_id")), DEV0_RAW);
  cr_assert_null(json_object_get(only, "_deviceId"), "projected away");
  cr_assert_not_null(json_object_get(only, "_tags"));
  th_free(r);

  r = query("devices", "{\"_tags\":\"isp-west\"}", NULL);
  cr_assert_eq(total(r), 10);
  th_free(r);
  r = query("devices", "{\"_id\":{\"$in\":[\"" DEV0_RAW "\",\"" DEV9 "\"]}}",
            NULL);
  cr_assert_eq(total(r), 2);
  th_free(r);
  r = query("devices", "{\"_deviceId._SerialNumber\":\"4857544300000009\"}",
            NULL);
  cr_assert_eq(total(r), 1);
  th_free(r);
  /* A parameter key matches on its _value. */
  r = query("devices",
            "{\"InternetGatewayDevice.DeviceInfo.SerialNumber\":"
            "\"4857544300000009\"}", NULL);
  cr_assert_eq(total(r), 1);
  th_free(r);

  r = query("devices", "{}",
            "sort=%7B%22_deviceId._SerialNumber%22%3A-1%7D&skip=2&limit=3");
  cr_assert_eq(total(r), 20, "total counts every match");
  cr_assert_eq(json_array_size(r->json), 3);
  const char *a = json_string_value(json_object_get(
      json_object_get(json_array_get(r->json, 0), "_deviceId"),
      "_SerialNumber"));
  const char *b = json_string_value(json_object_get(
      json_object_get(json_array_get(r->json, 1), "_deviceId"),
      "_SerialNumber"));
  cr_assert_gt(strcmp(a, b), 0, "descending");
  th_free(r);
}

Test(sim_genieacs, head_bad_query_unknown_collection)
{
  char url[256];
  SIMURL(url, sim.genieacs_url, "/devices");
  th_resp_t *r = th_request("HEAD", url, NULL, NULL, 0);
  cr_assert_eq(r->status, 200);
  cr_assert_eq(total(r), 20);
  cr_assert_eq(r->body_len, 0);
  th_free(r);
  r = query("devices", "{bad", NULL);
  cr_assert_eq(r->status, 400);
  cr_assert(strncmp(r->body, "SyntaxError", 11) == 0, "%s", r->body);
  th_free(r);
  SIMURL(url, sim.genieacs_url, "/nosuchthing");
  r = th_get(url);
  cr_assert_eq(r->status, 404);
  th_free(r);
  SIMURL(url, sim.genieacs_url, "/presets");
  r = th_request("POST", url, NULL, "{}", 0);
  cr_assert_eq(r->status, 405, "create_preset must use PUT /presets/<name>");
  th_free(r);
}

Test(sim_genieacs, device_ids_must_be_encoded_again_in_paths)
{
  th_resp_t *r = task(DEV0_PATH, "", "{\"name\":\"reboot\"}");
  cr_assert_eq(r->status, 202);
  cr_assert_str_eq(r->reason, "Accepted");
  cr_assert_str_eq(json_string_value(json_object_get(r->json, "device")),
                   DEV0_RAW);
  th_free(r);
  /* Encoded once only, the %2D decodes to '-': a different device. */
  r = task(DEV0_RAW, "", "{\"name\":\"reboot\"}");
  cr_assert_eq(r->status, 404);
  cr_assert_str_eq(r->body, "No such device");
  th_free(r);
  /* Characters outside [A-Za-z0-9-_%] never match the route. */
  r = task("abc.def", "", "{\"name\":\"reboot\"}");
  cr_assert_eq(r->status, 404);
  th_free(r);
}

Test(sim_genieacs, queued_task_is_stored_with_server_fields)
{
  th_resp_t *r = task(DEV0_PATH, "",
                      "{\"name\":\"getParameterValues\",\"parameterNames\":"
                      "[\"" SSID_PATH "\"],\"expiry\":60}");
  cr_assert_eq(r->status, 202);
  const char *id = json_string_value(json_object_get(r->json, "_id"));
  cr_assert_eq(strlen(id), 24);
  cr_assert_not_null(json_object_get(r->json, "timestamp"));
  char tid[32];
  snprintf(tid, sizeof(tid), "%s", id);
  th_free(r);
  r = query("tasks", "{\"device\":\"" DEV0_RAW "\"}", NULL);
  cr_assert_eq(total(r), 1);
  th_free(r);
  char url[256];
  SIMURL(url, sim.genieacs_url, "/tasks/%s", tid);
  r = th_request("DELETE", url, NULL, NULL, 0);
  cr_assert_eq(r->status, 200);
  th_free(r);
  r = th_request("DELETE", url, NULL, NULL, 0);
  cr_assert_eq(r->status, 404);
  cr_assert_str_eq(r->body, "Task not found");
  th_free(r);
}

Test(sim_genieacs, connection_request_executes_or_explains_in_reason_phrase)
{
  /* Online: executed, 200, the value is set and the task is gone. */
  th_resp_t *r = task(DEV0_PATH, "?connection_request&timeout=3000",
                      "{\"name\":\"setParameterValues\",\"parameterValues\":"
                      "[[\"" SSID_PATH "\",\"sim-ssid\",\"xsd:string\"]]}");
  cr_assert_eq(r->status, 200);
  th_free(r);
  r = query("devices", "{\"" SSID_PATH "\":\"sim-ssid\"}", "projection=_id");
  cr_assert_eq(total(r), 1);
  th_free(r);
  r = query("tasks", "{}", NULL);
  cr_assert_eq(total(r), 0, "executed tasks are removed");
  th_free(r);

  /* Offline: 202, the connection-request error as reason, task queued. */
  r = task(DEV9, "?connection_request", "{\"name\":\"reboot\"}");
  cr_assert_eq(r->status, 202);
  cr_assert_str_eq(r->reason, "Device is offline");
  cr_assert_str_eq(json_string_value(json_object_get(r->json, "name")),
                   "reboot");
  th_free(r);
  r = query("tasks", "{}", NULL);
  cr_assert_eq(total(r), 1);
  th_free(r);

  /* A bare connection request: 200 or 504 with the text as reason + body. */
  r = task(DEV0_PATH, "?connection_request", NULL);
  cr_assert_eq(r->status, 200);
  th_free(r);
  r = task(DEV9, "?connection_request", NULL);
  cr_assert_eq(r->status, 504);
  cr_assert_str_eq(r->reason, "Device is offline");
  cr_assert_str_eq(r->body, "Device is offline");
  th_free(r);

  /* Neither a task nor a connection request. */
  r = task(DEV0_PATH, "", NULL);
  cr_assert_eq(r->status, 400);
  th_free(r);
}

Test(sim_genieacs, faulted_task_then_retry_and_fault_delete)
{
  th_resp_t *r = task(DEV0_PATH, "?connection_request",
                      "{\"name\":\"setParameterValues\",\"parameterValues\":"
                      "[[\"InternetGatewayDevice.DeviceInfo.SerialNumber\","
                      "\"x\"]]}");
  cr_assert_eq(r->status, 202);
  cr_assert_str_eq(r->reason, "Task faulted");
  char tid[32];
  snprintf(tid, sizeof(tid), "%s",
           json_string_value(json_object_get(r->json, "_id")));
  th_free(r);
  r = query("faults", "{\"device\":\"" DEV0_RAW "\"}", NULL);
  cr_assert_eq(total(r), 1);
  json_t *f = json_array_get(r->json, 0);
  cr_assert_str_eq(json_string_value(json_object_get(f, "code")), "cwmp.9008");
  char chan[48];
  snprintf(chan, sizeof(chan), "task_%s", tid);
  cr_assert_str_eq(json_string_value(json_object_get(f, "channel")), chan);
  th_free(r);

  char url[512];
  SIMURL(url, sim.genieacs_url, "/tasks/%s/retry", tid);
  r = th_request("POST", url, NULL, NULL, 0);
  cr_assert_eq(r->status, 200);
  th_free(r);
  r = query("faults", "{}", NULL);
  cr_assert_eq(total(r), 0, "retry clears the task's fault");
  th_free(r);

  /* Fault again, then delete the fault: its task goes too. */
  r = task(DEV0_PATH, "?connection_request",
           "{\"name\":\"getParameterValues\",\"parameterNames\":[\"No.Such\"]}");
  cr_assert_str_eq(r->reason, "Task faulted");
  snprintf(tid, sizeof(tid), "%s",
           json_string_value(json_object_get(r->json, "_id")));
  th_free(r);
  SIMURL(url, sim.genieacs_url, "/faults/%s:task_%s", DEV0_PATH, tid);
  r = th_request("DELETE", url, NULL, NULL, 0);
  cr_assert_eq(r->status, 200);
  th_free(r);
  char q[128];
  snprintf(q, sizeof(q), "{\"_id\":\"%s\"}", tid);
  r = query("tasks", q, NULL);
  cr_assert_eq(total(r), 0);
  th_free(r);
}

Test(sim_genieacs, invalid_task_closes_the_connection)
{
  th_resp_t *r = task(DEV0_PATH, "", "{\"name\":\"frobnicate\"}");
  cr_assert_neq(r->rc, CURLE_OK, "no response, like the crashing NBI");
  cr_assert_eq(r->status, 0);
  th_free(r);
  r = task(DEV0_PATH, "", "{\"name\":\"getParameterValues\"}");
  cr_assert_neq(r->rc, CURLE_OK, "missing parameterNames");
  th_free(r);
  r = task(DEV0_PATH, "", "{not json");
  cr_assert_neq(r->rc, CURLE_OK);
  th_free(r);
  /* The simulator itself is fine. */
  r = query("devices", "{}", "limit=1");
  cr_assert_eq(r->status, 200);
  th_free(r);
}

Test(sim_genieacs, device_paths_tags_and_delete)
{
  char url[512], hb[64];
  SIMURL(url, sim.genieacs_url, "/devices/%s", DEV0_PATH);
  th_resp_t *r = th_get(url);
  cr_assert_eq(r->status, 405);
  cr_assert_str_eq(th_header(r, "Allow", hb, sizeof(hb)), "DELETE");
  th_free(r);
  r = th_request("PATCH", url, NULL, "{}", 0);
  cr_assert_eq(r->status, 405);
  th_free(r);

  SIMURL(url, sim.genieacs_url, "/devices/%s/tags/vip%%2Dgold", DEV0_PATH);
  r = th_request("POST", url, NULL, NULL, 0);
  cr_assert_eq(r->status, 200);
  th_free(r);
  r = query("devices", "{\"_tags\":\"vip-gold\"}", NULL);
  cr_assert_eq(total(r), 1, "tag segment decoded once");
  th_free(r);
  r = th_request("DELETE", url, NULL, NULL, 0);
  cr_assert_eq(r->status, 200);
  th_free(r);
  r = query("devices", "{\"_tags\":\"vip-gold\"}", NULL);
  cr_assert_eq(total(r), 0);
  th_free(r);
  SIMURL(url, sim.genieacs_url, "/devices/nope/tags/x");
  r = th_request("POST", url, NULL, NULL, 0);
  cr_assert_eq(r->status, 404);
  cr_assert_str_eq(r->body, "No such device");
  th_free(r);

  r = task(DEV0_PATH, "", "{\"name\":\"reboot\"}");
  th_free(r);
  SIMURL(url, sim.genieacs_url, "/devices/%s", DEV0_PATH);
  r = th_request("DELETE", url, NULL, NULL, 0);
  cr_assert_eq(r->status, 200);
  th_free(r);
  r = query("devices", "{\"_id\":\"" DEV0_RAW "\"}", NULL);
  cr_assert_eq(total(r), 0);
  th_free(r);
  r = query("tasks", "{}", NULL);
  cr_assert_eq(total(r), 0, "its tasks went with it");
  th_free(r);
}

Test(sim_genieacs, presets_provisions_files)
{
  char url[256];
  SIMURL(url, sim.genieacs_url, "/presets/p1");
  th_resp_t *r = th_request("PUT", url, NULL,
                            "{\"weight\":0,\"precondition\":\"{}\","
                            "\"configurations\":[]}", 0);
  cr_assert_eq(r->status, 200);
  th_free(r);
  r = th_request("PUT", url, NULL, "{oops", 0);
  cr_assert_eq(r->status, 400);
  th_free(r);
  r = th_get(url);
  cr_assert_eq(r->status, 405);
  th_free(r);
  r = query("presets", "{\"_id\":\"p1\"}", NULL);
  cr_assert_eq(total(r), 1);
  th_free(r);
  r = th_request("DELETE", url, NULL, NULL, 0);
  cr_assert_eq(r->status, 200);
  th_free(r);

  SIMURL(url, sim.genieacs_url, "/provisions/prov1");
  r = th_request("PUT", url, NULL, "declare(\"Device.X\", {value: 1});", 0);
  cr_assert_eq(r->status, 200);
  th_free(r);
  r = th_request("PUT", url, NULL, "declare(\"Device.X\", {value: 1}", 0);
  cr_assert_eq(r->status, 400);
  cr_assert(strncmp(r->body, "SyntaxError", 11) == 0);
  th_free(r);

  SIMURL(url, sim.genieacs_url, "/files/fw.bin");
  const char *hdrs[] = {"fileType: 1 Firmware Upgrade Image", "oui: 00236A",
                        NULL};
  r = th_request("PUT", url, hdrs, "BINARYDATA", 0);
  cr_assert_eq(r->status, 201);
  th_free(r);
  r = query("files", "{\"_id\":\"fw.bin\"}", NULL);
  json_t *md = json_object_get(json_array_get(r->json, 0), "metadata");
  cr_assert_str_eq(json_string_value(json_object_get(md, "fileType")),
                   "1 Firmware Upgrade Image");
  cr_assert_eq(json_integer_value(json_object_get(json_array_get(r->json, 0),
                                                  "length")), 10);
  th_free(r);
  r = th_request("DELETE", url, NULL, NULL, 0);
  cr_assert_eq(r->status, 200);
  th_free(r);
  r = th_request("DELETE", url, NULL, NULL, 0);
  cr_assert_eq(r->status, 404);
  cr_assert_str_eq(r->body, "404 Not Found", "the NBI's own text");
  th_free(r);
}

Test(sim_genieacs, admin_can_take_a_device_offline)
{
  char url[256];
  SIMURL(url, sim.genieacs_url, "/_sim/offline");
  th_resp_t *r = th_request("PUT", url, NULL,
                            "{\"device\":\"" DEV0_RAW "\",\"offline\":true,"
                            "\"error\":\"Connection request error: "
                            "Incorrect connection request credentials\"}", 0);
  cr_assert_eq(r->status, 200);
  th_free(r);
  r = task(DEV0_PATH, "?connection_request", NULL);
  cr_assert_eq(r->status, 504);
  cr_assert_str_eq(r->reason, "Connection request error: Incorrect "
                              "connection request credentials");
  th_free(r);
  r = th_request("PUT", url, NULL,
                 "{\"device\":\"" DEV0_RAW "\",\"offline\":false}", 0);
  cr_assert_eq(r->status, 200);
  th_free(r);
  r = task(DEV0_PATH, "?connection_request", NULL);
  cr_assert_eq(r->status, 200);
  th_free(r);
  r = th_request("PUT", url, NULL, "{\"device\":\"nope\",\"offline\":true}", 0);
  cr_assert_eq(r->status, 404);
  th_free(r);
}
