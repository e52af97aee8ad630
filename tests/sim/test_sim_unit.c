/* In-process tests of the simulator's GenieACS query matcher, percent
 * coding and IP arithmetic. */
#include "dev/sim/sim.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

static json_t *doc;

static void setup(void)
{
  doc = json_loads("{\"_id\":\"A-B%2DC\",\"_tags\":[\"x\",\"y\"],"
                   "\"_deviceId\":{\"_SerialNumber\":\"S1\"},"
                   "\"_lastInform\":\"2026-01-02T00:00:00.000Z\","
                   "\"IGD\":{\"Up\":{\"_value\":42},\"Name\":{\"_value\":"
                   "\"home-7\"}}}", 0, NULL);
  cr_assert_not_null(doc);
}

static void teardown(void)
{
  json_decref(doc);
}

static int m(const char *q, bool expand)
{
  char err[128];
  json_t *jq = json_loads(q, 0, NULL);
  cr_assert_not_null(jq, "bad test query %s", q);
  int r = sim_gquery_match(jq, doc, expand, err, sizeof(err));
  json_decref(jq);
  return r;
}

TestSuite(sim_gquery, .init = setup, .fini = teardown);

Test(sim_gquery, equality_ids_and_arrays)
{
  cr_assert_eq(m("{}", true), 1);
  cr_assert_eq(m("{\"_id\":\"A-B%2DC\"}", true), 1);
  cr_assert_eq(m("{\"_id\":\"A-B-C\"}", true), 0);
  cr_assert_eq(m("{\"_tags\":\"y\"}", true), 1, "array membership");
  cr_assert_eq(m("{\"_tags\":\"z\"}", true), 0);
  cr_assert_eq(m("{\"_deviceId._SerialNumber\":\"S1\"}", true), 1);
}

Test(sim_gquery, parameter_keys_get_value_appended)
{
  cr_assert_eq(m("{\"IGD.Up\":42}", true), 1);
  cr_assert_eq(m("{\"IGD.Up\":\"42\"}", true), 1, "strings tried as numbers");
  cr_assert_eq(m("{\"IGD.Up\":42}", false), 0, "no expansion outside devices");
  cr_assert_eq(m("{\"IGD.Name\":\"home-*\"}", true), 1, "wildcard");
  cr_assert_eq(m("{\"IGD.Name\":\"*-8\"}", true), 0);
}

Test(sim_gquery, operators)
{
  cr_assert_eq(m("{\"_id\":{\"$in\":[\"q\",\"A-B%2DC\"]}}", true), 1);
  cr_assert_eq(m("{\"_id\":{\"$nin\":[\"A-B%2DC\"]}}", true), 0);
  cr_assert_eq(m("{\"_id\":{\"$ne\":\"q\"}}", true), 1);
  cr_assert_eq(m("{\"IGD.Up\":{\"$gt\":41,\"$lte\":42}}", true), 1);
  cr_assert_eq(m("{\"IGD.Up\":{\"$lt\":42}}", true), 0);
  cr_assert_eq(m("{\"_lastInform\":{\"$gte\":\"2026-01-01\"}}", true), 1);
  cr_assert_eq(m("{\"_tags\":{\"$exists\":true}}", true), 1);
  cr_assert_eq(m("{\"Nope._x\":{\"$exists\":false}}", true), 1);
  cr_assert_eq(m("{\"$or\":[{\"_id\":\"q\"},{\"_tags\":\"x\"}]}", true), 1);
  cr_assert_eq(m("{\"$and\":[{\"_id\":\"q\"},{\"_tags\":\"x\"}]}", true), 0);
  cr_assert_eq(m("{\"$nor\":[{\"_id\":\"q\"}]}", true), 1);
  cr_assert_eq(m("{\"_id\":{\"$where\":1}}", true), -1, "unsupported");
  cr_assert_eq(m("{\"$or\":{}}", true), -1);
}

Test(sim_util, percent_coding)
{
  char *d = sim_pct_decode("A%252D%41", 9);
  cr_assert_str_eq(d, "A%2DA", "decoded exactly once");
  free(d);
  cr_assert_null(sim_pct_decode("%4", 2));
  cr_assert_null(sim_pct_decode("%zz", 3));
  char *e = sim_pct_encode("a b/c%");
  cr_assert_str_eq(e, "a%20b%2Fc%25");
  free(e);
}

Test(sim_util, numbers_and_paths)
{
  long long v;
  cr_assert_eq(sim_parse_ll("42", 0, 100, &v), 0);
  cr_assert_eq(v, 42);
  cr_assert_eq(sim_parse_ll("101", 0, 100, &v), -1);
  cr_assert_eq(sim_parse_ll("4x", 0, 100, &v), -1);
  cr_assert_eq(sim_parse_ll("", 0, 100, &v), -1);
  char *segs[4], *st = NULL;
  cr_assert_eq(sim_split_path("/api/v1/", segs, 4, &st), 3);
  cr_assert_str_eq(segs[2], "");
  free(st);
  cr_assert_eq(sim_split_path("/a/b/c/d/e", segs, 4, &st), -1);
  free(st);
}

Test(sim_ip, parse_format_and_ranges)
{
  sim_ip_t ip, host;
  char buf[80];
  cr_assert_eq(sim_ip_parse("100.64.0.5/28", true, &ip), 0);
  cr_assert_eq(ip.family, 4);
  cr_assert_eq(ip.plen, 28);
  sim_ip_t net = ip;
  net.addr = sim_ip_network(&ip);
  cr_assert_str_eq(sim_ip_fmt(&net, true, buf, sizeof(buf)), "100.64.0.0/28");
  net.addr = sim_ip_last(&ip);
  cr_assert_str_eq(sim_ip_fmt(&net, false, buf, sizeof(buf)), "100.64.0.15");
  cr_assert_eq(sim_ip_parse("100.64.0.14", false, &host), 0);
  cr_assert(sim_ip_contains(&ip, &host));
  cr_assert_eq(sim_ip_parse("100.64.0.16", false, &host), 0);
  cr_assert_not(sim_ip_contains(&ip, &host));
  cr_assert_eq(sim_ip_parse("100.64.0.5", true, &ip), -1, "mask required");
  cr_assert_eq(sim_ip_parse("100.64.0.5/33", true, &ip), -1);
  cr_assert_eq(sim_ip_parse("nope/24", true, &ip), -1);
  cr_assert_eq(sim_ip_parse("2001:db8::1/64", true, &ip), 0);
  cr_assert_eq(ip.family, 6);
  net = ip;
  net.addr = sim_ip_last(&ip);
  cr_assert_str_eq(sim_ip_fmt(&net, false, buf, sizeof(buf)),
                   "2001:db8::ffff:ffff:ffff:ffff");
  cr_assert_eq(sim_ip_parse("::/0", true, &ip), 0);
  cr_assert(sim_ip_last(&ip) == ~(sim_u128_t)0);
}
