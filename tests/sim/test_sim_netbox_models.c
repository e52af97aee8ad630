/* The simulator's NetBox models added for the full client catalog: VLAN
 * groups and VLANs, available-vlans and available-prefixes, circuits and
 * their terminations, cables, and what deletes do to the objects that
 * refer to them. Seed (--olts 2 --prefixes 2): VLAN group 1 access
 * (100-3999, VLAN 1 vid 100 "subscribers" in it, used by prefix 1) and 2
 * spare (10-12); provider 1 transit-co, circuit type 1 internet, circuit 1
 * TC-0001 with termination 1 (side A, site 1), cable 1 uplink-1 from
 * olt-01's nni0 (interface 2) to that termination. */
#include "tests/sim/simfix.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

TestSuite(sim_netbox_models, .init = simfix_start, .fini = simfix_stop,
          .timeout = 60);

static const char *const auth[] = {TH_NB_AUTH, "Content-Type: application/json",
                                   NULL};

static th_resp_t *nb(const char *method, const char *body, const char *fmt,
                     ...) __attribute__((format(printf, 3, 4)));
static th_resp_t *nb(const char *method, const char *body, const char *fmt,
                     ...)
{
  char path[512], url[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(path, sizeof(path), fmt, ap);
  va_end(ap);
  SIMURL(url, sim.netbox_url, "%s", path);
  return th_request(method, url, auth, body, 0);
}

static const char *jstr(const json_t *o, const char *k)
{
  const char *s = json_string_value(json_object_get(o, k));
  return s ? s : "";
}

static json_int_t jint(const json_t *o, const char *k)
{
  return json_integer_value(json_object_get(o, k));
}

/* The first message of a field's error list (also inside a list body). */
static const char *field_err(const th_resp_t *r, const char *field)
{
  const json_t *e = json_is_array(r->json) ? json_array_get(r->json, 0)
                                           : r->json;
  return json_string_value(json_array_get(json_object_get(e, field), 0));
}

static long status_of(th_resp_t *r)
{
  long st = r->status;
  th_free(r);
  return st;
}

Test(sim_netbox_models, vlans_in_groups)
{
  th_resp_t *r = nb("POST", "{\"vid\":200,\"name\":\"iptv\",\"group\":1}",
                    "/api/ipam/vlans/");
  cr_assert_eq(r->status, 201, "%s", r->body);
  cr_assert_str_eq(jstr(r->json, "display"), "iptv (200)");
  cr_assert_str_eq(jstr(json_object_get(r->json, "group"), "slug"), "access");
  json_int_t id = jint(r->json, "id");
  th_free(r);

  /* UniqueConstraint(group, vid) and (group, name). */
  r = nb("POST", "{\"vid\":200,\"name\":\"other\",\"group\":1}",
         "/api/ipam/vlans/");
  cr_assert_eq(r->status, 400);
  cr_assert_str_eq(field_err(r, "non_field_errors"),
                   "VLAN with this Group and VLAN ID already exists.");
  th_free(r);
  r = nb("POST", "{\"vid\":201,\"name\":\"iptv\",\"group\":1}",
         "/api/ipam/vlans/");
  cr_assert_eq(r->status, 400);
  th_free(r);
  /* Outside the group's ranges, and outside 1..4094. */
  r = nb("POST", "{\"vid\":5,\"name\":\"low\",\"group\":1}", "/api/ipam/vlans/");
  cr_assert_eq(r->status, 400);
  cr_assert_str_eq(field_err(r, "vid"),
                   "VID must be in ranges 100-3999 for VLANs in group Access");
  th_free(r);
  r = nb("POST", "{\"vid\":4095,\"name\":\"x\"}", "/api/ipam/vlans/");
  cr_assert_str_eq(field_err(r, "vid"),
                   "Ensure this value is less than or equal to 4094.");
  th_free(r);
  /* Without a group, VIDs may repeat (NULL is distinct). */
  cr_assert_eq(status_of(nb("POST", "{\"vid\":200,\"name\":\"iptv\"}",
                            "/api/ipam/vlans/")), 201);

  r = nb("GET", NULL, "/api/ipam/vlans/?vid=200&group=access");
  cr_assert_eq(jint(r->json, "count"), 1);
  th_free(r);
  r = nb("GET", NULL, "/api/ipam/vlans/?group=nope");
  cr_assert_eq(r->status, 400, "an unknown slug filter is a 400");
  th_free(r);
  r = nb("GET", NULL, "/api/ipam/vlan-groups/1/");
  cr_assert_eq(jint(r->json, "vlan_count"), 2);
  cr_assert_eq(jint(r->json, "total_vlan_ids"), 3900);
  th_free(r);

  /* VLAN 1 is used by prefix 1 (PROTECT); ours is free to go. */
  r = nb("DELETE", NULL, "/api/ipam/vlans/1/");
  cr_assert_eq(r->status, 409);
  cr_assert(strstr(jstr(r->json, "detail"), "dependent objects"));
  th_free(r);
  cr_assert_eq(status_of(nb("DELETE", NULL, "/api/ipam/vlans/%lld/",
                            (long long)id)), 204);
  /* The group still holds VLAN 1: protected as well. */
  cr_assert_eq(status_of(nb("DELETE", NULL, "/api/ipam/vlan-groups/1/")), 409);
  r = nb("POST", "{\"name\":\"g\",\"slug\":\"g\",\"vid_ranges\":[[10,20],[15,30]]}",
         "/api/ipam/vlan-groups/");
  cr_assert_str_eq(field_err(r, "vid_ranges"), "Ranges cannot overlap.");
  th_free(r);
}

Test(sim_netbox_models, available_vlans_allocate_in_order_then_409)
{
  th_resp_t *r = nb("GET", NULL, "/api/ipam/vlan-groups/2/available-vlans/");
  cr_assert_eq(json_array_size(r->json), 3);
  cr_assert_eq(jint(json_array_get(r->json, 0), "vid"), 10);
  cr_assert_str_eq(jstr(json_object_get(json_array_get(r->json, 0), "group"),
                        "slug"), "spare");
  th_free(r);
  r = nb("POST", "{\"name\":\"a\",\"tenant\":1}",
         "/api/ipam/vlan-groups/2/available-vlans/");
  cr_assert_eq(r->status, 201, "%s", r->body);
  cr_assert_eq(jint(r->json, "vid"), 10);
  cr_assert_str_eq(jstr(json_object_get(r->json, "group"), "slug"), "spare");
  th_free(r);
  r = nb("POST", "[{\"name\":\"b\"},{\"name\":\"c\"}]",
         "/api/ipam/vlan-groups/2/available-vlans/");
  cr_assert_eq(r->status, 201);
  cr_assert_eq(jint(json_array_get(r->json, 1), "vid"), 12);
  th_free(r);
  r = nb("POST", "{\"name\":\"d\"}", "/api/ipam/vlan-groups/2/available-vlans/");
  cr_assert_eq(r->status, 409);
  cr_assert_str_eq(jstr(r->json, "detail"),
                   "Insufficient resources are available to satisfy the "
                   "request");
  th_free(r);
  /* Validation errors of the list serializer come as a list. */
  r = nb("POST", "{\"tenant\":99}", "/api/ipam/vlan-groups/1/available-vlans/");
  cr_assert_eq(r->status, 400);
  cr_assert(json_is_array(r->json));
  cr_assert_str_eq(field_err(r, "name"), "This field is required.");
  th_free(r);
  /* The name must be unique within the group, vid or not. */
  r = nb("POST", "{\"name\":\"subscribers\"}",
         "/api/ipam/vlan-groups/1/available-vlans/");
  cr_assert_eq(r->status, 400);
  th_free(r);
  cr_assert_eq(status_of(nb("GET", NULL,
                            "/api/ipam/vlan-groups/99/available-vlans/")), 404);
}

Test(sim_netbox_models, available_prefixes_and_children)
{
  /* 198.18.0.0/24 (prefix 3) is empty: one block. */
  th_resp_t *r = nb("GET", NULL, "/api/ipam/prefixes/3/available-prefixes/");
  cr_assert_eq(json_array_size(r->json), 1);
  cr_assert_str_eq(jstr(json_array_get(r->json, 0), "prefix"), "198.18.0.0/24");
  th_free(r);
  r = nb("POST", "{\"prefix_length\":26,\"description\":\"olt mgmt\"}",
         "/api/ipam/prefixes/3/available-prefixes/");
  cr_assert_eq(r->status, 201, "%s", r->body);
  cr_assert_str_eq(jstr(r->json, "prefix"), "198.18.0.0/26");
  cr_assert_eq(jint(r->json, "_depth"), 1);
  json_int_t child = jint(r->json, "id");
  th_free(r);
  r = nb("GET", NULL, "/api/ipam/prefixes/3/available-prefixes/");
  cr_assert_eq(json_array_size(r->json), 2);
  cr_assert_str_eq(jstr(json_array_get(r->json, 0), "prefix"), "198.18.0.64/26");
  cr_assert_str_eq(jstr(json_array_get(r->json, 1), "prefix"), "198.18.0.128/25");
  th_free(r);
  r = nb("GET", NULL, "/api/ipam/prefixes/3/");
  cr_assert_eq(jint(r->json, "children"), 1);
  th_free(r);
  /* Two /25s do not fit in what is left: nothing is created. */
  r = nb("POST", "[{\"prefix_length\":25},{\"prefix_length\":25}]",
         "/api/ipam/prefixes/3/available-prefixes/");
  cr_assert_eq(r->status, 409);
  th_free(r);
  r = nb("POST", "{\"prefix_length\":33}",
         "/api/ipam/prefixes/3/available-prefixes/");
  cr_assert_eq(r->status, 400);
  cr_assert_str_eq(field_err(r, "prefix_length"),
                   "Invalid prefix length (33) for IPv4");
  th_free(r);
  r = nb("POST", "{}", "/api/ipam/prefixes/3/available-prefixes/");
  cr_assert_str_eq(field_err(r, "prefix_length"),
                   "this field can not be missing");
  th_free(r);
  /* Larger than the parent: no free block can hold it. */
  cr_assert_eq(status_of(nb("POST", "{\"prefix_length\":8}",
                            "/api/ipam/prefixes/3/available-prefixes/")), 409);
  /* Deleting the child frees its space again. */
  cr_assert_eq(status_of(nb("DELETE", NULL, "/api/ipam/prefixes/%lld/",
                            (long long)child)), 204);
  r = nb("GET", NULL, "/api/ipam/prefixes/3/available-prefixes/");
  cr_assert_eq(json_array_size(r->json), 1);
  th_free(r);
  r = nb("GET", NULL, "/api/ipam/prefixes/3/");
  cr_assert_eq(jint(r->json, "children"), 0);
  th_free(r);
}

Test(sim_netbox_models, circuits_and_terminations)
{
  th_resp_t *r = nb("POST", "{\"cid\":\"TC-0002\",\"provider\":{\"slug\":"
                    "\"transit-co\"},\"type\":1,\"status\":\"planned\","
                    "\"install_date\":\"2026-01-31\"}",
                    "/api/circuits/circuits/");
  cr_assert_eq(r->status, 201, "%s", r->body);
  json_int_t cid = jint(r->json, "id");
  cr_assert(json_is_null(json_object_get(r->json, "termination_a")));
  th_free(r);
  r = nb("POST", "{\"cid\":\"TC-0002\",\"provider\":1,\"type\":1}",
         "/api/circuits/circuits/");
  cr_assert_eq(r->status, 400);
  cr_assert_str_eq(field_err(r, "non_field_errors"),
                   "Circuit with this Provider and Circuit ID already exists.");
  th_free(r);
  r = nb("POST", "{\"cid\":\"x\",\"provider\":1,\"type\":1,"
                 "\"install_date\":\"31/01/2026\"}", "/api/circuits/circuits/");
  cr_assert_str_eq(field_err(r, "install_date"),
                   "Date has wrong format. Use one of these formats instead: "
                   "YYYY-MM-DD.");
  th_free(r);

  char body[256];
  snprintf(body, sizeof(body),
           "{\"circuit\":%lld,\"term_side\":\"Z\",\"termination_type\":"
           "\"dcim.site\",\"termination_id\":2,\"port_speed\":100000}",
           (long long)cid);
  r = nb("POST", body, "/api/circuits/circuit-terminations/");
  cr_assert_eq(r->status, 201, "%s", r->body);
  cr_assert_str_eq(jstr(r->json, "term_side"), "Z", "a plain choice");
  cr_assert_str_eq(jstr(json_object_get(r->json, "termination"), "slug"),
                   "west-pop-1");
  th_free(r);
  r = nb("POST", body, "/api/circuits/circuit-terminations/");
  cr_assert_eq(r->status, 400, "one Z end per circuit");
  th_free(r);
  snprintf(body, sizeof(body), "{\"circuit\":%lld,\"term_side\":\"A\"}",
           (long long)cid);
  r = nb("POST", body, "/api/circuits/circuit-terminations/");
  cr_assert_str_eq(field_err(r, "non_field_errors"),
                   "A circuit termination must attach to a terminating object.");
  th_free(r);
  r = nb("GET", NULL, "/api/circuits/circuits/%lld/", (long long)cid);
  cr_assert_eq(jint(json_object_get(r->json, "termination_z"), "port_speed"),
               100000);
  th_free(r);
  r = nb("GET", NULL, "/api/circuits/circuit-terminations/?site_id=2");
  cr_assert_eq(jint(r->json, "count"), 1);
  th_free(r);

  /* The provider is protected by its circuits; a circuit takes its
   * terminations along. */
  cr_assert_eq(status_of(nb("DELETE", NULL, "/api/circuits/providers/1/")), 409);
  cr_assert_eq(status_of(nb("DELETE", NULL, "/api/circuits/circuits/%lld/",
                            (long long)cid)), 204);
  r = nb("GET", NULL, "/api/circuits/circuit-terminations/?site_id=2");
  cr_assert_eq(jint(r->json, "count"), 0);
  th_free(r);
}

Test(sim_netbox_models, cables_between_interfaces_and_circuits)
{
  /* olt-02's mgmt0 is interface 3, nni0 is 4; olt-01's mgmt0 is 1. */
  th_resp_t *r = nb("POST",
      "{\"a_terminations\":[{\"object_type\":\"dcim.interface\",\"object_id\":4}],"
      "\"b_terminations\":[{\"object_type\":\"dcim.interface\",\"object_id\":1}],"
      "\"type\":\"smf\",\"label\":\"x-1\",\"length\":12.5,\"length_unit\":\"m\"}",
      "/api/dcim/cables/");
  cr_assert_eq(r->status, 201, "%s", r->body);
  json_int_t id = jint(r->json, "id");
  cr_assert_str_eq(jstr(r->json, "type"), "smf");
  json_t *a0 = json_array_get(json_object_get(r->json, "a_terminations"), 0);
  cr_assert_str_eq(jstr(json_object_get(a0, "object"), "name"), "nni0");
  th_free(r);
  r = nb("GET", NULL, "/api/dcim/interfaces/1/");
  cr_assert_eq(jint(json_object_get(r->json, "cable"), "id"), id);
  cr_assert_str_eq(jstr(r->json, "cable_end"), "B");
  cr_assert(json_is_true(json_object_get(r->json, "_occupied")));
  th_free(r);
  r = nb("GET", NULL, "/api/dcim/cables/?device_id=2");
  cr_assert_eq(jint(r->json, "count"), 1);
  th_free(r);

  /* An end already cabled; no unit for a length; a missing end. */
  r = nb("POST",
      "{\"a_terminations\":[{\"object_type\":\"dcim.interface\",\"object_id\":3}],"
      "\"b_terminations\":[{\"object_type\":\"dcim.interface\",\"object_id\":2}]}",
      "/api/dcim/cables/");
  cr_assert_eq(r->status, 400);
  cr_assert_str_eq(field_err(r, "non_field_errors"),
                   "Duplicate termination found for dcim.interface 2: cable 1");
  th_free(r);
  r = nb("POST",
      "{\"a_terminations\":[{\"object_type\":\"dcim.interface\",\"object_id\":3}],"
      "\"b_terminations\":[],\"length\":3}", "/api/dcim/cables/");
  cr_assert_str_eq(field_err(r, "non_field_errors"),
                   "Must specify a unit when setting a cable length");
  th_free(r);
  r = nb("POST",
      "{\"a_terminations\":[{\"object_type\":\"dcim.interface\",\"object_id\":3}]}",
      "/api/dcim/cables/");
  cr_assert_str_eq(field_err(r, "non_field_errors"),
                   "Must define A and B terminations when creating a new cable.");
  th_free(r);

  /* Deleting the cable frees both interfaces. */
  cr_assert_eq(status_of(nb("DELETE", NULL, "/api/dcim/cables/%lld/",
                            (long long)id)), 204);
  r = nb("GET", NULL, "/api/dcim/interfaces/1/");
  cr_assert(json_is_null(json_object_get(r->json, "cable")));
  cr_assert(json_is_false(json_object_get(r->json, "_occupied")));
  th_free(r);
  /* Deleting a device drops its interfaces from the cable they were on. */
  cr_assert_eq(status_of(nb("DELETE", NULL, "/api/dcim/devices/1/")), 204);
  r = nb("GET", NULL, "/api/dcim/cables/1/");
  cr_assert_eq(json_array_size(json_object_get(r->json, "a_terminations")), 0);
  th_free(r);
}
