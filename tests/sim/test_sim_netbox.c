/* The simulator's NetBox 4.x REST over real HTTP. Seed (--olts 2
 * --prefixes 2): tenants 1 isp-east / 2 isp-west, prefixes 1-2 are
 * 100.64.{0,1}.0/28 with .1 taken by a gateway, 3 is 198.18.0.0/24, 4 is
 * 2001:db8:100::/64; devices olt-01 (site 1, tenant 1) and olt-02. */
#include "tests/sim/simfix.h"

#include "common/buf.h"

#include <stdlib.h>
#include <string.h>

TestSuite(sim_netbox, .init = simfix_start, .fini = simfix_stop,
          .timeout = 60);

static const char *const auth[] = {TH_NB_AUTH, "Content-Type: application/json",
                                   NULL};

static th_resp_t *nb(const char *method, const char *path, const char *body)
{
  char url[1024];
  SIMURL(url, sim.netbox_url, "%s", path);
  return th_request(method, url, auth, body, 0);
}

static const char *jstr(const json_t *o, const char *k)
{
  const char *s = json_string_value(json_object_get(o, k));
  return s ? s : "";
}

static const char *detail(const th_resp_t *r)
{
  return jstr(r->json, "detail");
}

Test(sim_netbox, auth_failures_are_403_with_the_real_details)
{
  char url[256];
  SIMURL(url, sim.netbox_url, "/api/status/");
  th_resp_t *r = th_get(url);
  cr_assert_eq(r->status, 403);
  cr_assert_str_eq(detail(r), "Authentication credentials were not provided.");
  th_free(r);
  const char *bad1[] = {"Authorization: Token 1111111111111111111111111111111111111111", NULL};
  r = th_request("GET", url, bad1, NULL, 0);
  cr_assert_eq(r->status, 403);
  cr_assert_str_eq(detail(r), "Invalid v1 token");
  th_free(r);
  /* The version comes from the nbt_ prefix, not from the keyword. */
  const char *bad2[] = {"Authorization: Token nbt_abc.def", NULL};
  r = th_request("GET", url, bad2, NULL, 0);
  cr_assert_str_eq(detail(r), "Invalid v2 token");
  th_free(r);
  r = nb("GET", "/api/status/", NULL);
  cr_assert_eq(r->status, 200);
  cr_assert_str_eq(jstr(r->json, "netbox-version"), "4.6.8");
  char hb[64];
  cr_assert_str_eq(th_header(r, "API-Version", hb, sizeof(hb)), "4.6");
  cr_assert_not_null(th_header(r, "X-Request-ID", hb, sizeof(hb)));
  th_free(r);
}

Test(sim_netbox, configured_tokens_replace_the_default)
{
  /* Restart the suite's simulator with tokens of our own. */
  simfix_stop();
  const char *args[] = {"--netbox-token", "nbt_k1.s3cret", "--netbox-token",
                        "abcdefabcdefabcdefabcdefabcdefabcdefabcd", NULL};
  simfix_start_args(args);
  char url[256];
  SIMURL(url, sim.netbox_url, "/api/status/");
  const char *v2[] = {"Authorization: Bearer nbt_k1.s3cret", NULL};
  th_resp_t *r = th_request("GET", url, v2, NULL, 0);
  cr_assert_eq(r->status, 200);
  th_free(r);
  const char *v1[] = {"Authorization: Token abcdefabcdefabcdefabcdefabcdefabcdefabcd", NULL};
  r = th_request("GET", url, v1, NULL, 0);
  cr_assert_eq(r->status, 200);
  th_free(r);
  const char *dflt[] = {TH_NB_AUTH, NULL};
  r = th_request("GET", url, dflt, NULL, 0);
  cr_assert_eq(r->status, 403);
  cr_assert_str_eq(detail(r), "Invalid v1 token");
  th_free(r);
}

Test(sim_netbox, missing_trailing_slash_redirects)
{
  th_resp_t *r = nb("GET", "/api/dcim/devices?name=olt-01", NULL);
  cr_assert_eq(r->status, 301);
  char loc[512], want[512];
  snprintf(want, sizeof(want), "%s/api/dcim/devices/?name=olt-01",
           sim.netbox_url);
  cr_assert_str_eq(th_header(r, "Location", loc, sizeof(loc)), want);
  th_free(r);
}

Test(sim_netbox, pagination_with_absolute_next_and_previous)
{
  th_resp_t *r = nb("GET", "/api/ipam/prefixes/?limit=2", NULL);
  cr_assert_eq(r->status, 200);
  cr_assert_eq(json_integer_value(json_object_get(r->json, "count")), 4);
  cr_assert_eq(json_array_size(json_object_get(r->json, "results")), 2);
  cr_assert(json_is_null(json_object_get(r->json, "previous")));
  char want[512];
  snprintf(want, sizeof(want), "%s/api/ipam/prefixes/?limit=2&offset=2",
           sim.netbox_url);
  cr_assert_str_eq(jstr(r->json, "next"), want);
  th_free(r);
  /* Follow next: the last page has previous and no next. */
  th_resp_t *p = th_request("GET", want, auth, NULL, 0);
  cr_assert(json_is_null(json_object_get(p->json, "next")));
  cr_assert_str_neq(jstr(p->json, "previous"), "");
  json_t *first = json_array_get(json_object_get(p->json, "results"), 0);
  cr_assert_eq(json_integer_value(json_object_get(first, "id")), 3);
  th_free(p);

  /* limit is capped at MAX_PAGE_SIZE (1000), limit=0 means 1000 too. */
  json_t *bulk = json_array();
  for (int i = 0; i < 1000; i++) {
    char name[32];
    snprintf(name, sizeof(name), "t%04d", i);
    json_array_append_new(bulk, json_pack("{s:s,s:s}", "name", name, "slug",
                                          name));
  }
  char *body = json_dumps(bulk, JSON_COMPACT);
  json_decref(bulk);
  r = nb("POST", "/api/tenancy/tenants/", body);
  free(body);
  cr_assert_eq(r->status, 201);
  cr_assert_eq(json_array_size(r->json), 1000);
  th_free(r);
  r = nb("GET", "/api/tenancy/tenants/?limit=5000&fields=id", NULL);
  cr_assert_eq(json_integer_value(json_object_get(r->json, "count")), 1002);
  cr_assert_eq(json_array_size(json_object_get(r->json, "results")), 1000);
  cr_assert(json_is_string(json_object_get(r->json, "next")));
  th_free(r);
  r = nb("GET", "/api/tenancy/tenants/?limit=0&brief=true", NULL);
  cr_assert_eq(json_array_size(json_object_get(r->json, "results")), 1000);
  th_free(r);
  r = nb("GET", "/api/tenancy/tenants/", NULL);
  cr_assert_eq(json_array_size(json_object_get(r->json, "results")), 50,
               "PAGINATE_COUNT");
  th_free(r);
}

Test(sim_netbox, filters_and_unknown_slug)
{
  th_resp_t *r = nb("GET", "/api/dcim/devices/?tenant=isp-east", NULL);
  cr_assert_eq(json_integer_value(json_object_get(r->json, "count")), 1);
  json_t *d = json_array_get(json_object_get(r->json, "results"), 0);
  cr_assert_str_eq(jstr(d, "name"), "olt-01");
  json_t *tenant = json_object_get(d, "tenant");
  cr_assert_str_eq(jstr(tenant, "slug"), "isp-east", "nested brief object");
  cr_assert_str_eq(jstr(json_object_get(d, "status"), "value"), "active");
  cr_assert_str_eq(jstr(json_object_get(d, "status"), "label"), "Active");
  th_free(r);
  r = nb("GET", "/api/dcim/devices/?tenant=nope", NULL);
  cr_assert_eq(r->status, 400);
  cr_assert_str_eq(json_string_value(json_array_get(
                       json_object_get(r->json, "tenant"), 0)),
                   "Select a valid choice. nope is not one of the available "
                   "choices.");
  th_free(r);
  r = nb("GET", "/api/dcim/devices/?name=olt-01&name=olt-02", NULL);
  cr_assert_eq(json_integer_value(json_object_get(r->json, "count")), 2,
               "repeated parameters OR");
  th_free(r);
  r = nb("GET", "/api/dcim/devices/?site_id=2&status=active&serial=EC1800000002", NULL);
  cr_assert_eq(json_integer_value(json_object_get(r->json, "count")), 1);
  th_free(r);
  r = nb("GET", "/api/dcim/devices/?name__ic=OLT&bogus_param=1", NULL);
  cr_assert_eq(json_integer_value(json_object_get(r->json, "count")), 2);
  th_free(r);
  r = nb("GET", "/api/dcim/interfaces/?device_id=1", NULL);
  cr_assert_eq(json_integer_value(json_object_get(r->json, "count")), 2);
  th_free(r);
  r = nb("GET", "/api/tenancy/tenants/?slug=isp-west", NULL);
  cr_assert_eq(json_integer_value(json_object_get(r->json, "count")), 1);
  th_free(r);
  r = nb("GET", "/api/ipam/ip-addresses/?parent=100.64.0.0/28", NULL);
  cr_assert_eq(json_integer_value(json_object_get(r->json, "count")), 1);
  th_free(r);
  r = nb("GET", "/api/ipam/ip-addresses/?address=198.18.0.10", NULL);
  cr_assert_eq(json_integer_value(json_object_get(r->json, "count")), 1);
  json_t *ip = json_array_get(json_object_get(r->json, "results"), 0);
  cr_assert_str_eq(jstr(ip, "assigned_object_type"), "dcim.interface");
  cr_assert_str_eq(jstr(json_object_get(ip, "assigned_object"), "name"),
                   "mgmt0");
  th_free(r);
  r = nb("GET", "/api/ipam/ip-addresses/?device_id=2", NULL);
  cr_assert_eq(json_integer_value(json_object_get(r->json, "count")), 1);
  th_free(r);
  r = nb("GET", "/api/ipam/ip-addresses/?interface_id=1&description=management", NULL);
  cr_assert_eq(json_integer_value(json_object_get(r->json, "count")), 1);
  th_free(r);
  r = nb("GET", "/api/ipam/ip-addresses/?vrf_id=null&q=gateway", NULL);
  cr_assert_eq(json_integer_value(json_object_get(r->json, "count")), 2);
  th_free(r);
  r = nb("GET", "/api/dcim/devices/?status=bogus", NULL);
  cr_assert_eq(r->status, 400);
  th_free(r);
}

Test(sim_netbox, crud_codes_and_error_bodies)
{
  th_resp_t *r = nb("POST", "/api/tenancy/tenants/",
                    "{\"name\":\"ISP North\",\"slug\":\"isp-north\","
                    "\"tags\":[{\"name\":\"gold\"}]}");
  cr_assert_eq(r->status, 201, "%s", r->body);
  json_int_t id = json_integer_value(json_object_get(r->json, "id"));
  cr_assert_str_eq(jstr(json_array_get(json_object_get(r->json, "tags"), 0),
                        "name"), "gold");
  cr_assert(strstr(jstr(r->json, "url"), sim.netbox_url), "absolute url");
  th_free(r);
  char path[128];
  snprintf(path, sizeof(path), "/api/tenancy/tenants/%lld/", (long long)id);
  r = nb("PATCH", path, "{\"description\":\"north\"}");
  cr_assert_eq(r->status, 200);
  cr_assert_str_eq(jstr(r->json, "description"), "north");
  cr_assert_str_eq(jstr(r->json, "slug"), "isp-north");
  th_free(r);
  r = nb("PUT", path, "{\"name\":\"ISP North\"}");
  cr_assert_eq(r->status, 400, "PUT needs every required field");
  cr_assert_not_null(json_object_get(r->json, "slug"));
  th_free(r);
  r = nb("POST", path, "{}");
  cr_assert_eq(r->status, 405);
  cr_assert_str_eq(detail(r), "Method \"POST\" not allowed.");
  th_free(r);
  r = nb("DELETE", path, NULL);
  cr_assert_eq(r->status, 204);
  cr_assert_eq(r->body_len, 0);
  th_free(r);
  r = nb("GET", path, NULL);
  cr_assert_eq(r->status, 404);
  cr_assert_str_eq(detail(r), "No Tenant matches the given query.");
  th_free(r);

  r = nb("POST", "/api/tenancy/tenants/", "{\"name\":\"X\"}");
  cr_assert_eq(r->status, 400);
  cr_assert_str_eq(json_string_value(json_array_get(
                       json_object_get(r->json, "slug"), 0)),
                   "This field is required.");
  th_free(r);
  r = nb("POST", "/api/tenancy/tenants/",
         "{\"name\":\"Dup\",\"slug\":\"isp-east\"}");
  cr_assert_eq(r->status, 400);
  cr_assert_not_null(json_object_get(r->json, "slug"));
  th_free(r);
  r = nb("POST", "/api/dcim/devices/",
         "{\"name\":\"x\",\"device_type\":99,\"role\":{\"slug\":\"olt\"},"
         "\"site\":1}");
  cr_assert_eq(r->status, 400);
  cr_assert(strstr(r->body, "numeric ID: 99"), "%s", r->body);
  th_free(r);
  r = nb("POST", "/api/dcim/devices/",
         "{\"name\":\"olt-99\",\"device_type\":1,\"role\":{\"slug\":\"olt\"},"
         "\"site\":{\"slug\":\"east-pop-1\"},\"status\":\"planned\"}");
  cr_assert_eq(r->status, 201, "%s", r->body);
  cr_assert_str_eq(jstr(json_object_get(r->json, "role"), "slug"), "olt");
  th_free(r);

  /* Bulk create is all-or-none. */
  r = nb("POST", "/api/tenancy/tenants/",
         "[{\"name\":\"A1\",\"slug\":\"a1\"},{\"name\":\"A2\"}]");
  cr_assert_eq(r->status, 400);
  cr_assert(json_is_array(r->json), "one error dict per item");
  cr_assert_eq(json_object_size(json_array_get(r->json, 0)), 0);
  th_free(r);
  r = nb("GET", "/api/tenancy/tenants/?slug=a1", NULL);
  cr_assert_eq(json_integer_value(json_object_get(r->json, "count")), 0);
  th_free(r);

  /* A tenant in use is protected. */
  r = nb("DELETE", "/api/tenancy/tenants/1/", NULL);
  cr_assert_eq(r->status, 409);
  cr_assert(strncmp(detail(r), "Unable to delete object.", 24) == 0);
  th_free(r);
  /* Deleting a device takes its interfaces and their addresses along. */
  r = nb("DELETE", "/api/dcim/devices/1/", NULL);
  cr_assert_eq(r->status, 204);
  th_free(r);
  r = nb("GET", "/api/ipam/ip-addresses/?address=198.18.0.10", NULL);
  cr_assert_eq(json_integer_value(json_object_get(r->json, "count")), 0);
  th_free(r);
}

Test(sim_netbox, bad_bodies_and_unknown_paths)
{
  th_resp_t *r = nb("POST", "/api/tenancy/tenants/", "{not json");
  cr_assert_eq(r->status, 400);
  cr_assert(strncmp(detail(r), "JSON parse error", 16) == 0);
  th_free(r);
  char url[256];
  SIMURL(url, sim.netbox_url, "/api/tenancy/tenants/");
  const char *txt[] = {TH_NB_AUTH, "Content-Type: text/plain", NULL};
  r = th_request("POST", url, txt, "name=x", 0);
  cr_assert_eq(r->status, 415);
  th_free(r);
  size_t big = 2u * 1024 * 1024;
  char *huge = malloc(big + 1);
  memset(huge, 'a', big);
  huge[big] = '\0';
  r = nb("POST", "/api/tenancy/tenants/", huge);
  free(huge);
  cr_assert_eq(r->status, 413);
  th_free(r);
  r = nb("GET", "/api/nothing/here/", NULL);
  cr_assert_eq(r->status, 404);
  th_free(r);
  r = nb("GET", "/api/dcim/devices/abc/", NULL);
  cr_assert_eq(r->status, 404);
  th_free(r);
}

Test(sim_netbox, etag_and_if_match)
{
  th_resp_t *r = nb("GET", "/api/dcim/devices/2/", NULL);
  char etag[128];
  cr_assert_not_null(th_header(r, "ETag", etag, sizeof(etag)));
  cr_assert(strncmp(etag, "W/\"", 3) == 0);
  th_free(r);
  char url[256], h_bad[] = "If-Match: W/\"1999-01-01T00:00:00.000000Z\"";
  char h_ok[200];
  snprintf(h_ok, sizeof(h_ok), "If-Match: %s", etag);
  SIMURL(url, sim.netbox_url, "/api/dcim/devices/2/");
  const char *bad[] = {TH_NB_AUTH, "Content-Type: application/json", h_bad,
                       NULL};
  r = th_request("PATCH", url, bad, "{\"description\":\"x\"}", 0);
  cr_assert_eq(r->status, 412);
  cr_assert_str_eq(detail(r), "Precondition failed.");
  th_free(r);
  const char *ok[] = {TH_NB_AUTH, "Content-Type: application/json", h_ok,
                      NULL};
  r = th_request("PATCH", url, ok, "{\"description\":\"x\"}", 0);
  cr_assert_eq(r->status, 200);
  char etag2[128];
  th_header(r, "ETag", etag2, sizeof(etag2));
  cr_assert_str_neq(etag, etag2, "a write changes the ETag");
  th_free(r);
  r = th_request("PATCH", url, ok, "{\"description\":\"y\"}", 0);
  cr_assert_eq(r->status, 412, "the old ETag is stale now");
  th_free(r);
}

Test(sim_netbox, available_ips_list_allocate_and_exhaust)
{
  th_resp_t *r = nb("GET", "/api/ipam/prefixes/1/available-ips/?limit=3", NULL);
  cr_assert_eq(r->status, 200);
  cr_assert(json_is_array(r->json), "a plain list, not paginated");
  cr_assert_eq(json_array_size(r->json), 3);
  cr_assert_str_eq(jstr(json_array_get(r->json, 0), "address"),
                   "100.64.0.2/28", "network and the gateway .1 are skipped");
  th_free(r);
  r = nb("GET", "/api/ipam/prefixes/1/available-ips/", NULL);
  cr_assert_eq(json_array_size(r->json), 13, "14 usable minus the gateway");
  cr_assert_str_eq(jstr(json_array_get(r->json, 12), "address"),
                   "100.64.0.14/28", "no broadcast");
  th_free(r);

  r = nb("POST", "/api/ipam/prefixes/1/available-ips/",
         "{\"description\":\"job-42\",\"status\":\"reserved\",\"tenant\":"
         "{\"slug\":\"isp-east\"},\"dns_name\":\"cpe42.example\",\"tags\":"
         "[{\"name\":\"sim\"}]}");
  cr_assert_eq(r->status, 201, "%s", r->body);
  cr_assert_str_eq(jstr(r->json, "address"), "100.64.0.2/28");
  th_free(r);
  r = nb("GET", "/api/ipam/ip-addresses/?description=job-42", NULL);
  cr_assert_eq(json_integer_value(json_object_get(r->json, "count")), 1);
  json_t *ip = json_array_get(json_object_get(r->json, "results"), 0);
  cr_assert_str_eq(jstr(json_object_get(ip, "status"), "value"), "reserved");
  cr_assert_str_eq(jstr(ip, "dns_name"), "cpe42.example");
  cr_assert_str_eq(jstr(json_object_get(ip, "tenant"), "slug"), "isp-east");
  cr_assert_eq(json_array_size(json_object_get(ip, "tags")), 1);
  th_free(r);

  r = nb("POST", "/api/ipam/prefixes/1/available-ips/",
         "[{\"description\":\"a\"},{\"description\":\"b\",\"prefix_length\":32}]");
  cr_assert_eq(r->status, 201);
  cr_assert_eq(json_array_size(r->json), 2);
  cr_assert_str_eq(jstr(json_array_get(r->json, 1), "address"),
                   "100.64.0.4/32");
  th_free(r);
  r = nb("POST", "/api/ipam/prefixes/1/available-ips/",
         "{\"prefix_length\":8}");
  cr_assert_eq(r->status, 400);
  th_free(r);
  /* 10 left: asking for 11 at once allocates nothing. */
  json_t *many = json_array();
  for (int i = 0; i < 11; i++)
    json_array_append_new(many, json_object());
  char *body = json_dumps(many, JSON_COMPACT);
  json_decref(many);
  r = nb("POST", "/api/ipam/prefixes/1/available-ips/", body);
  free(body);
  cr_assert_eq(r->status, 409);
  cr_assert_str_eq(detail(r), "Insufficient resources are available to "
                              "satisfy the request");
  th_free(r);
  r = nb("GET", "/api/ipam/prefixes/1/available-ips/", NULL);
  cr_assert_eq(json_array_size(r->json), 10);
  th_free(r);
  r = nb("POST", "/api/ipam/prefixes/99/available-ips/", "{}");
  cr_assert_eq(r->status, 404);
  cr_assert_str_eq(detail(r), "No Prefix matches the given query.");
  th_free(r);
}

Test(sim_netbox, pools_and_small_prefixes_use_every_address)
{
  th_resp_t *r = nb("POST", "/api/ipam/prefixes/",
                    "[{\"prefix\":\"192.0.2.0/31\"},"
                    "{\"prefix\":\"192.0.2.8/30\",\"is_pool\":true},"
                    "{\"prefix\":\"2001:db8:1::/126\"}]");
  cr_assert_eq(r->status, 201, "%s", r->body);
  json_int_t p31 = json_integer_value(json_object_get(json_array_get(r->json, 0), "id"));
  json_int_t pool = json_integer_value(json_object_get(json_array_get(r->json, 1), "id"));
  json_int_t v6 = json_integer_value(json_object_get(json_array_get(r->json, 2), "id"));
  th_free(r);
  char path[128];
  snprintf(path, sizeof(path), "/api/ipam/prefixes/%lld/available-ips/", (long long)p31);
  r = nb("GET", path, NULL);
  cr_assert_eq(json_array_size(r->json), 2);
  th_free(r);
  snprintf(path, sizeof(path), "/api/ipam/prefixes/%lld/available-ips/", (long long)pool);
  r = nb("GET", path, NULL);
  cr_assert_eq(json_array_size(r->json), 4);
  cr_assert_str_eq(jstr(json_array_get(r->json, 0), "address"), "192.0.2.8/30");
  th_free(r);
  snprintf(path, sizeof(path), "/api/ipam/prefixes/%lld/available-ips/", (long long)v6);
  r = nb("GET", path, NULL);
  cr_assert_eq(json_array_size(r->json), 3, "subnet-router anycast skipped");
  cr_assert_eq(json_integer_value(json_object_get(json_array_get(r->json, 0), "family")), 6);
  cr_assert_str_eq(jstr(json_array_get(r->json, 0), "address"), "2001:db8:1::1/126");
  th_free(r);
}

typedef struct multi_out {
  long status;
  char address[64];
} multi_out_t;

static size_t grab(char *data, size_t size, size_t n, void *arg)
{
  pv_buf_t *b = arg;
  return pv_buf_append(b, data, size * n) == 0 ? size * n : 0;
}

Test(sim_netbox, concurrent_allocations_never_repeat_an_address)
{
  enum { N = 20 };
  char url[256];
  SIMURL(url, sim.netbox_url, "/api/ipam/prefixes/1/available-ips/");
  CURLM *multi = curl_multi_init();
  CURL *easy[N];
  pv_buf_t bodies[N];
  struct curl_slist *hdrs = NULL;
  hdrs = curl_slist_append(hdrs, TH_NB_AUTH);
  hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
  /* One connection each, so the requests really are concurrent. */
  curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)N);
  for (int i = 0; i < N; i++) {
    pv_buf_init(&bodies[i], 65536);
    easy[i] = curl_easy_init();
    curl_easy_setopt(easy[i], CURLOPT_URL, url);
    curl_easy_setopt(easy[i], CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(easy[i], CURLOPT_POSTFIELDS, "{\"description\":\"race\"}");
    curl_easy_setopt(easy[i], CURLOPT_FRESH_CONNECT, 1L);
    curl_easy_setopt(easy[i], CURLOPT_TIMEOUT_MS, 20000L);
    curl_easy_setopt(easy[i], CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy[i], CURLOPT_WRITEFUNCTION, grab);
    curl_easy_setopt(easy[i], CURLOPT_WRITEDATA, &bodies[i]);
    curl_multi_add_handle(multi, easy[i]);
  }
  int running = 1;
  for (int rounds = 0; running && rounds < 100000; rounds++) {
    curl_multi_perform(multi, &running);
    if (running)
      curl_multi_poll(multi, NULL, 0, 100, NULL);
  }
  cr_assert_eq(running, 0, "requests did not finish");
  int created = 0, conflicts = 0;
  char seen[N][64];
  for (int i = 0; i < N; i++) {
    long st = 0;
    curl_easy_getinfo(easy[i], CURLINFO_RESPONSE_CODE, &st);
    json_t *j = json_loads(bodies[i].data ? bodies[i].data : "", 0, NULL);
    if (st == 201) {
      snprintf(seen[created], sizeof(seen[created]), "%s", jstr(j, "address"));
      for (int k = 0; k < created; k++)
        cr_assert_str_neq(seen[k], seen[created], "address handed out twice");
      created++;
    } else {
      cr_assert_eq(st, 409, "unexpected status %ld", st);
      conflicts++;
    }
    json_decref(j);
    curl_multi_remove_handle(multi, easy[i]);
    curl_easy_cleanup(easy[i]);
    pv_buf_free(&bodies[i]);
  }
  curl_slist_free_all(hdrs);
  curl_multi_cleanup(multi);
  cr_assert_eq(created, 13, "every free address exactly once");
  cr_assert_eq(conflicts, N - 13);
  th_resp_t *r = nb("POST", "/api/ipam/prefixes/1/available-ips/", "{}");
  cr_assert_eq(r->status, 409);
  th_free(r);
  r = nb("GET", "/api/ipam/ip-addresses/?description=race&limit=0", NULL);
  cr_assert_eq(json_integer_value(json_object_get(r->json, "count")), 13);
  th_free(r);
}
