/* NetBox's available-* views (ipam/api/views.py AvailableObjectsView): a
 * plain list of what is free on GET, and on POST the next free objects
 * created under the handler's mutex (NetBox's advisory lock), 409 when
 * there are not enough. */
#include "dev/sim/netbox_int.h"

#include "common/alloc.h"

#include <stdint.h>
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

/* ---- the POST every available-* view shares ---- */

/* What differs between the views: the model created and how the server
 * chooses the values the client may not (address, prefix, vid). */
typedef struct avail_view {
  int model;
  /* Before validation: sets placeholders for the server-chosen fields in
   * copy (a copy of item) and checks item-specific fields into errs. */
  void (*prep)(void *ctx, json_t *copy, const json_t *item, json_t *errs);
  /* Chooses the values for the validated objects in built (in order).
   * @returns false when there are not enough (409). */
  bool (*pick)(netbox_t *nb, void *ctx, json_t *built);
} avail_view_t;

static void avail_post(netbox_t *nb, const sim_req_t *req, sim_resp_t *resp,
                       const avail_view_t *view, void *ctx)
{
  json_t *in = NULL;
  if (!nb_body_json(req, &in, resp))
    return;
  bool bulk = json_is_array(in);
  size_t n = bulk ? json_array_size(in) : 1;
  json_t *errs_list = json_array(), *built = json_array();
  bool bad = false;
  if (n == 0 || n > MAX_BULK) {
    nb_detail(resp, 400, "Request between 1 and %u objects.", MAX_BULK);
    goto out;
  }
  if (json_array_size(nb->objs[view->model]) + n > MAX_OBJECTS) {
    nb_detail(resp, 400, "The simulator holds at most %u objects per model.",
              MAX_OBJECTS);
    goto out;
  }
  for (size_t i = 0; i < n; i++) {
    json_t *item = bulk ? json_array_get(in, i) : in;
    json_t *errs = json_object();
    json_t *copy = json_is_object(item) ? json_deep_copy(item) : json_incref(item);
    if (json_is_object(copy))
      view->prep(ctx, copy, item, errs);
    json_t *o = nb_validate(nb, view->model, copy, NULL, false, errs);
    /* prefix_length is no field of the model (IPAddress, Prefix): it is
     * carried aside for pick(), which removes it. */
    const json_t *plen = json_object_get(item, "prefix_length");
    if (json_is_integer(plen))
      json_object_set(o, "_prefix_length", (json_t *)(uintptr_t)plen);
    bad = bad || json_object_size(errs) > 0;
    json_array_append_new(errs_list, errs);
    json_array_append_new(built, o);
    json_decref(copy);
  }
  /* The write serializer validates a list (many=True): its errors are a
   * list too, one dict per requested object. */
  if (bad) {
    sim_resp_json(resp, 400, json_incref(errs_list));
    goto out;
  }
  if (!view->pick(nb, ctx, built)) {
    nb_detail(resp, 409, "Insufficient resources are available to satisfy "
                         "the request");
    goto out;
  }
  /* The chosen values pass the model's own rules before anything is
   * stored (all-or-none, like the real transaction). */
  json_array_clear(errs_list);
  for (size_t i = 0; i < n; i++) {
    json_t *errs = json_object();
    nb_check_model(nb, view->model, json_array_get(built, i), -1, errs);
    bad = bad || json_object_size(errs) > 0;
    json_array_append_new(errs_list, errs);
  }
  if (bad) {
    sim_resp_json(resp, 400, json_incref(errs_list));
    goto out;
  }
  nb_store_created(nb, req, resp, view->model, built, bulk);
out:
  json_decref(errs_list);
  json_decref(built);
  json_decref(in);
}

/* The parent of the available-ips and available-prefixes views. */
typedef struct prefix_ctx {
  json_t *prefix;
  sim_ip_t net;
} prefix_ctx_t;

/* prefix_length of a request: AvailableIPRequestSerializer (optional, at
 * least the parent's mask) and PrefixLengthSerializer (required), in
 * their words. */
static void check_prefix_length(const prefix_ctx_t *c, const json_t *item,
                                bool for_ip, json_t *errs)
{
  const json_t *plen = json_object_get(item, "prefix_length");
  int maxb = c->net.family == 4 ? 32 : 128;
  if (!plen) {
    if (!for_ip)
      nb_add_err(errs, "prefix_length", "this field can not be missing");
  } else if (!json_is_integer(plen)) {
    nb_add_err(errs, "prefix_length", "this field must be int type");
  } else if (for_ip && json_integer_value(plen) < c->net.plen) {
    nb_add_err(errs, "prefix_length", "Prefix length must be greater than or "
               "equal to the parent mask length (%d)", c->net.plen);
  } else if (json_integer_value(plen) < 0 ||
             json_integer_value(plen) > maxb) {
    nb_add_err(errs, "prefix_length", "Invalid prefix length (%lld) for "
               "IPv%d", (long long)json_integer_value(plen), c->net.family);
  }
}

/* ---- available-ips ---- */

static void ips_prep(void *arg, json_t *copy, const json_t *item, json_t *errs)
{
  /* address and vrf are the server's to choose. */
  json_object_set_new(copy, "address", json_string("0.0.0.0/32"));
  json_object_del(copy, "vrf");
  check_prefix_length(arg, item, true, errs);
}

static bool ips_pick(netbox_t *nb, void *arg, json_t *built)
{
  prefix_ctx_t *c = arg;
  size_t n = json_array_size(built);
  sim_u128_t *addrs = pv_malloc(n * sizeof(*addrs));
  sim_ip_t net;
  bool ok = free_ips(nb, c->prefix, n, addrs, &net) == n;
  for (size_t i = 0; ok && i < n; i++) {
    json_t *o = json_array_get(built, i);
    const json_t *plen = json_object_get(o, "_prefix_length");
    sim_ip_t a = {.family = net.family,
                  .addr = addrs[i],
                  .plen = plen ? (int)json_integer_value(plen) : net.plen};
    json_object_del(o, "_prefix_length");
    char buf[80];
    json_object_set_new(o, "address",
                        json_string(sim_ip_fmt(&a, true, buf, sizeof(buf))));
    json_object_set(o, "vrf", json_object_get(c->prefix, "vrf"));
  }
  free(addrs);
  return ok;
}

static const avail_view_t ips_view = {M_IP, ips_prep, ips_pick};

void nb_available_ips(netbox_t *nb, json_t *p, const sim_req_t *req,
                      sim_resp_t *resp)
{
  prefix_ctx_t c = {.prefix = p};
  char buf[80];
  if (sim_ip_parse(nb_sval(p, "prefix"), true, &c.net) < 0) {
    nb_detail(resp, 500, "stored prefix does not parse");
    return;
  }
  if (strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0) {
    long long limit = nb_page_limit(req);
    sim_u128_t *addrs = pv_malloc((size_t)limit * sizeof(*addrs));
    sim_ip_t net;
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
  avail_post(nb, req, resp, &ips_view, &c);
}

/* ---- available-prefixes ---- */

typedef struct block {
  sim_u128_t lo, hi;
} block_t;

static int block_cmp(const void *a, const void *b)
{
  const block_t *x = a, *y = b;
  return x->lo < y->lo ? -1 : x->lo > y->lo ? 1 : 0;
}

/* The parent's address space minus its child prefixes (same VRF), as the
 * smallest list of CIDR blocks, ascending (IPSet(...).iter_cidrs()).
 * @returns the count; *out is malloc'd. */
static size_t free_blocks(netbox_t *nb, const json_t *p, const sim_ip_t *net,
                          sim_ip_t **out)
{
  int bits = net->family == 4 ? 32 : 128;
  size_t nkids = 0, cap = 16;
  block_t *kids = pv_malloc(cap * sizeof(*kids));
  size_t i;
  json_t *x;
  json_array_foreach(nb->objs[M_PREFIX], i, x)
  {
    sim_ip_t c;
    if (x == p || nb_ival(x, "vrf") != nb_ival(p, "vrf") ||
        sim_ip_parse(nb_sval(x, "prefix"), true, &c) < 0 ||
        c.family != net->family || c.plen <= net->plen ||
        !sim_ip_contains(net, &c))
      continue;
    if (nkids == cap) {
      cap *= 2;
      kids = pv_realloc(kids, cap * sizeof(*kids));
    }
    kids[nkids++] = (block_t){sim_ip_network(&c), sim_ip_last(&c)};
  }
  qsort(kids, nkids, sizeof(*kids), block_cmp);
  size_t n = 0, ocap = 16;
  *out = pv_malloc(ocap * sizeof(**out));
  sim_u128_t at = sim_ip_network(net), end = sim_ip_last(net);
  bool done = false;
  for (size_t k = 0; k <= nkids && !done; k++) {
    sim_u128_t gap_hi;
    if (k < nkids) {
      if (kids[k].lo <= at) {
        if (kids[k].hi >= at) {
          if (kids[k].hi == end)
            done = true;
          else
            at = kids[k].hi + 1;
        }
        continue;
      }
      gap_hi = kids[k].lo - 1;
    } else {
      gap_hi = end;
    }
    /* [at, gap_hi] as aligned blocks, largest first at each step. */
    while (at <= gap_hi) {
      int len = bits;
      /* Never larger than the parent (also keeps the shift defined). */
      while (len > net->plen && bits - len + 1 < 128) {
        sim_u128_t size = (sim_u128_t)1 << (bits - len + 1);
        if ((at & (size - 1)) != 0 || at + size - 1 > gap_hi ||
            at + size - 1 < at)
          break;
        len--;
      }
      if (n == ocap) {
        ocap *= 2;
        *out = pv_realloc(*out, ocap * sizeof(**out));
      }
      (*out)[n++] = (sim_ip_t){.family = net->family, .addr = at, .plen = len};
      sim_u128_t last = at + (((sim_u128_t)1 << (bits - len)) - 1);
      if (last >= gap_hi)
        break;
      at = last + 1;
    }
    if (k < nkids) {
      if (kids[k].hi == end)
        done = true;
      else
        at = kids[k].hi + 1;
    }
  }
  free(kids);
  return n;
}

static int ip_cmp(const void *a, const void *b)
{
  const sim_ip_t *x = a, *y = b;
  return x->addr < y->addr ? -1 : x->addr > y->addr ? 1 : 0;
}

static void pfx_prep(void *arg, json_t *copy, const json_t *item, json_t *errs)
{
  json_object_set_new(copy, "prefix", json_string("0.0.0.0/0"));
  json_object_del(copy, "vrf");
  check_prefix_length(arg, item, false, errs);
}

/* get_next_available_prefix: the first free block that can hold the size
 * asked for gives its first subnet of that size; it is then taken. */
static bool pfx_pick(netbox_t *nb, void *arg, json_t *built)
{
  prefix_ctx_t *c = arg;
  sim_ip_t *blocks;
  size_t nb_blocks = free_blocks(nb, c->prefix, &c->net, &blocks);
  int bits = c->net.family == 4 ? 32 : 128;
  bool ok = true;
  size_t i;
  json_t *o;
  json_array_foreach(built, i, o)
  {
    int want = (int)json_integer_value(json_object_get(o, "_prefix_length"));
    json_object_del(o, "_prefix_length");
    size_t k;
    for (k = 0; k < nb_blocks && blocks[k].plen > want; k++)
      ;
    if (k == nb_blocks) {
      ok = false;
      break;
    }
    sim_ip_t got = {.family = c->net.family, .addr = blocks[k].addr,
                    .plen = want};
    char buf[80];
    json_object_set_new(o, "prefix",
                        json_string(sim_ip_fmt(&got, true, buf, sizeof(buf))));
    json_object_set(o, "vrf", json_object_get(c->prefix, "vrf"));
    /* Take it: what is left of that block is its upper parts. */
    sim_ip_t rest = blocks[k];
    blocks[k].plen = bits + 1; /* used up */
    for (int len = want; len > rest.plen; len--) {
      sim_u128_t half = (sim_u128_t)1 << (bits - len);
      nb_blocks++;
      blocks = pv_realloc(blocks, nb_blocks * sizeof(*blocks));
      blocks[nb_blocks - 1] = (sim_ip_t){.family = rest.family,
                                         .addr = rest.addr + half, .plen = len};
    }
    qsort(blocks, nb_blocks, sizeof(*blocks), ip_cmp);
  }
  free(blocks);
  return ok;
}

static const avail_view_t pfx_view = {M_PREFIX, pfx_prep, pfx_pick};

void nb_available_prefixes(netbox_t *nb, json_t *p, const sim_req_t *req,
                           sim_resp_t *resp)
{
  prefix_ctx_t c = {.prefix = p};
  if (sim_ip_parse(nb_sval(p, "prefix"), true, &c.net) < 0) {
    nb_detail(resp, 500, "stored prefix does not parse");
    return;
  }
  if (strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0) {
    sim_ip_t *blocks;
    size_t n = free_blocks(nb, p, &c.net, &blocks);
    json_t *out = json_array();
    char buf[80];
    /* Not paginated and not limited: every free block (the real view
     * ignores ?limit here). */
    for (size_t i = 0; i < n; i++)
      json_array_append_new(
          out, json_pack("{s:i,s:s,s:o}", "family", c.net.family, "prefix",
                         sim_ip_fmt(&blocks[i], true, buf, sizeof(buf)),
                         "vrf", vrf_brief(nb, req, p)));
    free(blocks);
    sim_resp_json(resp, 200, out);
    return;
  }
  if (strcmp(req->method, "POST") != 0) {
    nb_method_not_allowed(resp, req->method);
    return;
  }
  avail_post(nb, req, resp, &pfx_view, &c);
}

/* ---- available-vlans ---- */

/* Up to `want` VIDs of the group's ranges that no VLAN of it uses. */
static size_t free_vids(netbox_t *nb, const json_t *g, size_t want,
                        json_int_t *out)
{
  size_t n = 0;
  for (json_int_t vid = 1; vid <= 4094 && n < want; vid++) {
    if (!nb_vid_in_group(g, vid))
      continue;
    bool used = false;
    size_t i;
    json_t *v;
    json_array_foreach(nb->objs[M_VLAN], i, v)
    {
      if (nb_ival(v, "group") == nb_ival(g, "id") && nb_ival(v, "vid") == vid) {
        used = true;
        break;
      }
    }
    if (!used)
      out[n++] = vid;
  }
  return n;
}

/* CreateAvailableVLANSerializer: name, site, tenant, status, role,
 * description, tags, custom_fields; vid and group are the server's. */
static void vlan_prep(void *arg, json_t *copy, const json_t *item,
                      json_t *errs)
{
  (void)item;
  (void)errs;
  json_object_set_new(copy, "vid", json_integer(1));
  json_object_set_new(copy, "group", json_integer(nb_ival(arg, "id")));
}

static bool vlan_pick(netbox_t *nb, void *arg, json_t *built)
{
  size_t n = json_array_size(built);
  json_int_t *vids = pv_malloc(n * sizeof(*vids));
  bool ok = free_vids(nb, arg, n, vids) == n;
  for (size_t i = 0; ok && i < n; i++)
    json_object_set_new(json_array_get(built, i), "vid", json_integer(vids[i]));
  free(vids);
  return ok;
}

static const avail_view_t vlan_view = {M_VLAN, vlan_prep, vlan_pick};

void nb_available_vlans(netbox_t *nb, json_t *g, const sim_req_t *req,
                        sim_resp_t *resp)
{
  if (strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0) {
    long long limit = nb_page_limit(req);
    json_int_t *vids = pv_malloc((size_t)limit * sizeof(*vids));
    size_t n = free_vids(nb, g, (size_t)limit, vids);
    json_t *out = json_array();
    for (size_t i = 0; i < n; i++)
      json_array_append_new(out, json_pack("{s:I,s:o}", "vid", vids[i],
                                           "group",
                                           nb_render(nb, req, M_VLANGROUP, g,
                                                     true)));
    free(vids);
    sim_resp_json(resp, 200, out);
    return;
  }
  if (strcmp(req->method, "POST") != 0) {
    nb_method_not_allowed(resp, req->method);
    return;
  }
  avail_post(nb, req, resp, &vlan_view, g);
}
