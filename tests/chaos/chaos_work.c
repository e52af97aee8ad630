/* The chaos workload: a table of job kinds over three tenants and shared
 * keys, msgpack and JSON, idempotent and non-idempotent ops of the three
 * services, and the producer that puts them on Kafka like a BSS would. */
#include "tests/chaos/chaos.h"

#include "common/alloc.h"
#include "jobs/job.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const ch_tenant_names[CH_TENANTS] = {"isp-east", "isp-west",
                                                  "isp-north"};

static const char *pick(ch_run_t *r, const json_t *ids)
{
  size_t n = json_array_size(ids);
  cr_assert_gt(n, 0, "the simulator's inventory is empty");
  return json_string_value(json_array_get(ids, ch_rand(r) % n));
}

static json_t *a_none(ch_run_t *run, const ch_job_t *j, int n)
{
  (void)run, (void)j, (void)n;
  return NULL;
}

static json_t *a_device(ch_run_t *run, const ch_job_t *j, int n)
{
  (void)j, (void)n;
  return json_pack("{s:s}", "device_id",
                   pick(run, ch_rand(run) % 2 ? run->onus : run->olts));
}

static json_t *a_onu(ch_run_t *run, const ch_job_t *j, int n)
{
  (void)j, (void)n;
  return json_pack("{s:s}", "device_id", pick(run, run->onus));
}

static json_t *a_flow(ch_run_t *run, const ch_job_t *j, int n)
{
  (void)j;
  return json_pack("{s:s,s:i,s:I}", "logical_device_id",
                   pick(run, run->logical), "priority", 1000 + n % 500,
                   "cookie", (json_int_t)n + 1);
}

static json_t *a_cpe_list(ch_run_t *run, const ch_job_t *j, int n)
{
  (void)run, (void)j, (void)n;
  return json_pack("{s:i}", "limit", 5);
}

static json_t *a_cpe_tag(ch_run_t *run, const ch_job_t *j, int n)
{
  (void)j;
  char tag[32];
  snprintf(tag, sizeof(tag), "chaos-%d", n % 50);
  return json_pack("{s:s,s:s}", "device_id", pick(run, run->cpes),
                   "tag", tag);
}

static json_t *a_cpe_task(ch_run_t *run, const ch_job_t *j, int n)
{
  (void)j, (void)n;
  /* No connection request: a queued task (202), write timeout class. */
  return json_pack("{s:s,s:b}", "device_id", pick(run, run->cpes),
                   "connection_request", 0);
}

static json_t *a_ip(ch_run_t *run, const ch_job_t *j, int n)
{
  (void)run, (void)j;
  char addr[32];
  snprintf(addr, sizeof(addr), "10.%d.%d.%d/32", (n >> 16) & 255,
           (n >> 8) & 255, n & 255);
  return json_pack("{s:s,s:s}", "address", addr, "status", "active");
}

static json_t *a_absent_ip(ch_run_t *run, const ch_job_t *j, int n)
{
  (void)run, (void)j;
  return json_pack("{s:i}", "id", 1000000 + n);
}

static json_t *a_typo(ch_run_t *run, const ch_job_t *j, int n)
{
  (void)run, (void)j, (void)n;
  return json_pack("{s:s,s:s}", "device_id", "x", "devce_id", "typo");
}

/* The workload. Idempotency is the catalog's (jobs/catalog.c), read by
 * the checks; here only what to send and how often. Orders join as one
 * more row (op "order", args building its steps). */
static const ch_kind_t KINDS[] = {
  {"voltha.health_check", "voltha", "health_check", 2, false, a_none, NULL,
   NULL},
  {"voltha.get_device", "voltha", "get_device", 2, false, a_device, NULL,
   NULL},
  {"voltha.enable_device", "voltha", "enable_device", 1, false, a_onu, NULL,
   NULL},
  {"voltha.reboot_device", "voltha", "reboot_device", 1, false, a_device,
   NULL, NULL},
  {"voltha.add_flow", "voltha", "add_flow", 1, false, a_flow, NULL, NULL},
  {"genieacs.list_devices", "genieacs", "list_devices", 1, false, a_cpe_list,
   NULL, NULL},
  {"genieacs.add_tag", "genieacs", "add_tag", 1, false, a_cpe_tag, NULL,
   NULL},
  {"genieacs.reboot", "genieacs", "reboot", 1, false, a_cpe_task, NULL, NULL},
  {"netbox.list_prefixes", "netbox", "list_prefixes", 1, false, a_none, NULL,
   NULL},
  {"netbox.create_ip_address", "netbox", "create_ip_address", 2, false, a_ip,
   NULL, NULL},
  {"netbox.release_ip", "netbox", "release_ip", 1, false, a_absent_ip, NULL,
   NULL},
  /* Bad input: a clear error and a dead letter, at once, never a run. */
  {"bad_args", "voltha", "get_device", 1, false, a_typo, "dead", "bad_args"},
  /* Poison records (PV_CHAOS_POISON=1): a reply topic that does not exist
   * and a reply larger than the broker takes. */
  {"poison.reply_topic", "voltha", "health_check", 1, true, a_none, NULL,
   NULL},
  {"poison.big_result", "voltha", "list_devices", 1, true, a_none, NULL,
   NULL},
};

#define N_KINDS ((int)(sizeof(KINDS) / sizeof(KINDS[0])))

const ch_kind_t *ch_kind(int i)
{
  return i >= 0 && i < N_KINDS ? &KINDS[i] : NULL;
}

int ch_kind_count(void)
{
  return N_KINDS;
}

static bool is_poison_reply(const ch_kind_t *k)
{
  return k->poison && !strcmp(k->op, "health_check");
}

/* ---- inventory ------------------------------------------------------- */

static json_t *get_json(const char *base, const char *path)
{
  char url[512];
  snprintf(url, sizeof(url), "%s%s", base, path);
  json_t *doc = pv_e2e_http_get_json(url);
  cr_assert_not_null(doc, "GET %s failed", url);
  return doc;
}

void ch_work_discover(ch_run_t *r)
{
  r->olts = json_array();
  r->onus = json_array();
  r->logical = json_array();
  r->cpes = json_array();
  json_t *devs = get_json(r->sim.voltha_url, "/api/v1/devices");
  size_t i;
  json_t *d;
  json_array_foreach(json_object_get(devs, "items"), i, d)
  {
    const char *id = json_string_value(json_object_get(d, "id"));
    bool root = json_is_true(json_object_get(d, "root"));
    if (id)
      json_array_append_new(root ? r->olts : r->onus, json_string(id));
  }
  json_decref(devs);
  json_t *lds = get_json(r->sim.voltha_url, "/api/v1/logical_devices");
  json_array_foreach(json_object_get(lds, "items"), i, d)
  {
    const char *id = json_string_value(json_object_get(d, "id"));
    if (id)
      json_array_append_new(r->logical, json_string(id));
  }
  json_decref(lds);
  json_t *cpes = get_json(r->sim.genieacs_url, "/devices/?projection=_id");
  json_array_foreach(cpes, i, d)
  {
    const char *id = json_string_value(json_object_get(d, "_id"));
    if (id && json_array_size(r->cpes) < 32)
      json_array_append_new(r->cpes, json_string(id));
  }
  json_decref(cpes);
  cr_assert(json_array_size(r->olts) && json_array_size(r->onus) &&
                json_array_size(r->logical) && json_array_size(r->cpes),
            "the simulator has no OLT, ONU, logical device or CPE");
}

/* ---- plan and produce ------------------------------------------------ */

static int draw_kind(ch_run_t *r)
{
  int total = 0;
  for (int i = 0; i < N_KINDS; i++)
    if (!KINDS[i].poison || r->poison)
      total += KINDS[i].weight;
  int x = (int)(ch_rand(r) % (uint64_t)total);
  for (int i = 0; i < N_KINDS; i++) {
    if (KINDS[i].poison && !r->poison)
      continue;
    if (x < KINDS[i].weight)
      return i;
    x -= KINDS[i].weight;
  }
  return 0;
}

void ch_work_plan(ch_run_t *r, int n)
{
  if (n >= r->cap_jobs) {
    int cap = r->cap_jobs ? r->cap_jobs * 2 : 4096;
    r->jobs = pv_realloc(r->jobs, (size_t)cap * sizeof(*r->jobs));
    memset(r->jobs + r->cap_jobs, 0,
           (size_t)(cap - r->cap_jobs) * sizeof(*r->jobs));
    r->cap_jobs = cap;
  }
  ch_job_t *j = &r->jobs[n];
  memset(j, 0, sizeof(*j));
  j->kind = draw_kind(r);
  j->tenant = (int)(ch_rand(r) % CH_TENANTS);
  j->key = (int)(ch_rand(r) % (uint64_t)r->keys);
  j->json = ch_rand(r) % 3 == 0;
  j->alt_reply = ch_rand(r) % 5 == 0;
  j->first_fault = CH_NO_FAULT;
  j->listener = -1;
  if (r->njobs <= n)
    r->njobs = n + 1;
}

void ch_job_id(const ch_run_t *r, int n, char *buf, size_t len)
{
  snprintf(buf, len, "ch-%s-%06d", r->e.suffix, n);
}

/* W3C trace context: the run's tag, then the job index + 1 (never all
 * zeros), so the simulator's request log names the job of each request. */
static void traceparent_of(const ch_run_t *r, int n, char *buf, size_t len)
{
  snprintf(buf, len, "00-%s%016llx-%016llx-01", r->tag,
           (unsigned long long)n + 1, (unsigned long long)n + 1);
}

int ch_job_of_traceparent(const ch_run_t *r, const char *tp)
{
  if (!tp || strlen(tp) != 55 || strncmp(tp, "00-", 3) ||
      strncmp(tp + 3, r->tag, 16))
    return -1;
  char hex[17];
  memcpy(hex, tp + 19, 16);
  hex[16] = '\0';
  char *end = NULL;
  unsigned long long v = strtoull(hex, &end, 16);
  if (*end || v == 0 || v > (unsigned long long)r->njobs)
    return -1;
  return (int)(v - 1);
}

static json_t *job_doc(ch_run_t *r, int n)
{
  const ch_job_t *j = &r->jobs[n];
  const ch_kind_t *k = &KINDS[j->kind];
  char id[96];
  ch_job_id(r, n, id, sizeof(id));
  json_t *doc = json_pack("{s:i,s:s,s:s,s:s,s:s}", "v", 1, "id", id, "tenant",
                          ch_tenant_names[j->tenant], "service", k->service,
                          "op", k->op);
  cr_assert_not_null(doc);
  json_t *args = k->args(r, j, n);
  if (args)
    json_object_set_new(doc, "args", args);
  if (is_poison_reply(k))
    json_object_set_new(doc, "reply_to", json_string(r->poison_topic));
  else if (j->alt_reply)
    json_object_set_new(doc, "reply_to", json_string(r->alt_topic));
  return doc;
}

int ch_work_produce(ch_run_t *r, int n)
{
  ch_job_t *j = &r->jobs[n];
  json_t *doc = job_doc(r, n);
  char *buf = NULL;
  size_t len = 0;
  cr_assert_eq(pv_doc_encode(doc, j->json ? PV_FMT_JSON : PV_FMT_MSGPACK,
                             &buf, &len), 0);
  json_decref(doc);
  /* Keys are the run's own: a job parked by an earlier run in the same
   * database would hold a shared key of ours behind it. */
  char key[96], tp[64];
  snprintf(key, sizeof(key), "%s-k%d", r->e.suffix, j->key);
  traceparent_of(r, n, tp, sizeof(tp));
  pv_ksync_header_t h[2] = {{"traceparent", tp, strlen(tp)},
                            {"content-type", "application/json", 16}};
  int rc = -1;
  char err[256] = "";
  /* A BSS keeps trying while the broker is away; a record whose
   * acknowledgement was lost may land twice (same id: at most one run). */
  for (int tries = 0; tries < 4 && rc != 0; tries++) {
    j->produce_tries++;
    rc = pv_ksync_produce_raw(r->e.producer, r->e.jobs_topic, key,
                              strlen(key), buf, len, h, j->json ? 2 : 1,
                              15000, err, sizeof(err));
  }
  free(buf);
  if (rc != 0) {
    fprintf(stderr, "chaos: job %d not produced: %s\n", n, err);
    return -1;
  }
  j->produced = true;
  j->produced_ms = ch_now(r);
  return 0;
}
