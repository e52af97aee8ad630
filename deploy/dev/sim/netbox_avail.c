/* NetBox's available-* views (ipam/api/views.py AvailableObjectsView): a
 * plain list of what is free on GET, and on POST the next free objects
 * created under the handler's mutex (NetBox's advisory lock), 409 when
 * there are not enough. */
#include "deploy/dev/sim/netbox_int.h"

#include "common/alloc.h"

#include <stdlib.h>
#include <string.h>

/* ---- available-ips ---- */

static int u128_cmp(const void *a, const void *b)
{
  sim_u128_t x = *(const sim_u128_t *)a, y = *(const sim_u128_t *)b;
  return x < y ? -1 : x > y ? 1 : 0;
}

/* Collects up to `want` free host addresses of prefix `p`, ascending,
 * skipping network/broadcast (v4) or subnet-router anycast (v6) unless the
 * prefix is a pool or a /31-/32 (/127-/128). */
static size_t free_ips(netbox_t *nb, const json_t *p, size_t want,
                       sim_u128_t *out, sim_ip_t *net)
{
  if (sim_ip_parse(nb_sval(p, "prefix"), true, net) < 0)
    return 0;
  bool v4 = net->family == 4;
  bool pool = json_is_true(json_object_get(p, "is_pool"));
  sim_u128_t lo = sim_ip_network(net), hi = sim_ip_last(net);
  if (!pool && !(v4 ? net->plen >= 31 : net->plen >= 127)) {
    lo++;
    if (v4)
      hi--;
  }
  json_int_t vrf = nb_ival(p, "vrf");
  size_t nused = 0, cap = 64;
  sim_u128_t *used = pv_malloc(cap * sizeof(*used));
  size_t i;
  json_t *ip;
  json_array_foreach(nb->objs[M_IP], i, ip)
  {
    sim_ip_t a;
    if (nb_ival(ip, "vrf") != vrf || sim_ip_parse(nb_sval(ip, "address"), true, &a) < 0 ||
        a.family != net->family || a.addr < lo || a.addr > hi)
      continue;
    if (nused == cap) {
      cap *= 2;
      used = pv_realloc(used, cap * sizeof(*used));
    }
    used[nused++] = a.addr;
  }
  qsort(used, nused, sizeof(*used), u128_cmp);
  size_t n = 0, u = 0;
  for (sim_u128_t a = lo; a <= hi && n < want; a++) {
    while (u < nused && used[u] < a)
      u++;
    if (u < nused && used[u] == a)
      continue;
    out[n++] = a;
    if (a == hi)
      break; /* avoid wrapping at the top of the address space */
  }
  free(used);
  return n;
}

static json_t *vrf_brief(netbox_t *nb, const sim_req_t *req, const json_t *p)
{
  json_t *vrf = nb_find_obj(nb, M_VRF, nb_ival(p, "vrf"));
  return vrf ? nb_render(nb, req, M_VRF, vrf, true) : json_null();
}

void nb_available_ips(netbox_t *nb, json_t *p, const sim_req_t *req,
                          sim_resp_t *resp)
{
  sim_ip_t net;
  char buf[80];
  if (strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0) {
    long long limit = nb_page_limit(req);
    sim_u128_t *addrs = pv_malloc((size_t)limit * sizeof(*addrs));
    size_t n = free_ips(nb, p, (size_t)limit, addrs, &net);
    json_t *out = json_array();
    for (size_t i = 0; i < n; i++) {
      sim_ip_t a = {.family = net.family, .addr = addrs[i], .plen = net.plen};
      json_array_append_new(
          out, json_pack("{s:i,s:s,s:o}", "family", net.family, "address",
                         sim_ip_fmt(&a, true, buf, sizeof(buf)), "vrf",
                         vrf_brief(nb, req, p)));
    }
    free(addrs);
    sim_resp_json(resp, 200, out);
    return;
  }
  if (strcmp(req->method, "POST") != 0) {
    nb_method_not_allowed(resp, req->method);
    return;
  }
  json_t *in = NULL;
  if (!nb_body_json(req, &in, resp))
    return;
  bool bulk = json_is_array(in);
  size_t n = bulk ? json_array_size(in) : 1;
  json_t *errs_list = json_array(), *built = json_array();
  bool bad = false;
  sim_u128_t *addrs = NULL;
  if (n == 0 || n > MAX_BULK) {
    nb_detail(resp, 400, "Request between 1 and %u addresses.", MAX_BULK);
    goto out;
  }
  (void)sim_ip_parse(nb_sval(p, "prefix"), true, &net);
  for (size_t i = 0; i < n; i++) {
    json_t *item = bulk ? json_array_get(in, i) : in;
    json_t *errs = json_object();
    /* address and vrf are the server's to choose. */
    json_t *copy = json_is_object(item) ? json_deep_copy(item) : json_incref(item);
    if (json_is_object(copy)) {
      json_object_set_new(copy, "address", json_string("0.0.0.0/32"));
      json_object_del(copy, "vrf");
    }
    json_t *o = nb_validate(nb, M_IP, copy, NULL, false, errs);
    json_t *plen = json_is_object(item) ? json_object_get(item, "prefix_length")
                                        : NULL;
    int bits = net.plen;
    if (plen) {
      int maxb = net.family == 4 ? 32 : 128;
      if (!json_is_integer(plen) || json_integer_value(plen) < net.plen ||
          json_integer_value(plen) > maxb)
        nb_add_err(errs, "prefix_length", "Must be between %d and %d.", net.plen,
                maxb);
      else
        bits = (int)json_integer_value(plen);
    }
    json_object_set_new(o, "_bits", json_integer(bits));
    bad = bad || json_object_size(errs) > 0;
    json_array_append_new(errs_list, errs);
    json_array_append_new(built, o);
    json_decref(copy);
  }
  if (bad) {
    sim_resp_json(resp, 400, bulk ? json_incref(errs_list)
                                  : json_incref(json_array_get(errs_list, 0)));
    goto out;
  }
  addrs = pv_malloc(n * sizeof(*addrs));
  if (free_ips(nb, p, n, addrs, &net) < n ||
      json_array_size(nb->objs[M_IP]) + n > MAX_OBJECTS) {
    nb_detail(resp, 409, "Insufficient resources are available to satisfy the "
                      "request");
    goto out;
  }
  json_t *out_list = json_array();
  for (size_t i = 0; i < n; i++) {
    json_t *o = json_incref(json_array_get(built, i));
    sim_ip_t a = {.family = net.family,
                  .addr = addrs[i],
                  .plen = (int)nb_ival(o, "_bits")};
    json_object_del(o, "_bits");
    json_object_set_new(o, "address",
                        json_string(sim_ip_fmt(&a, true, buf, sizeof(buf))));
    json_object_set(o, "vrf", json_object_get(p, "vrf"));
    nb_insert(nb, M_IP, o);
    json_array_append_new(out_list, nb_render(nb, req, M_IP, o, false));
  }
  if (bulk) {
    sim_resp_json(resp, 201, out_list);
  } else {
    json_t *one = json_incref(json_array_get(out_list, 0));
    json_decref(out_list);
    sim_resp_json(resp, 201, one);
  }
out:
  free(addrs);
  json_decref(errs_list);
  json_decref(built);
  json_decref(in);
}

