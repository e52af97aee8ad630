/**
 * @file provctl.c
 * @brief provctl: the operator's tool. Same configuration file and
 * environment as provisiond.
 *
 * Exit codes: 0 ok; 1 the job failed or was not found; 2 usage or
 * configuration error; 3 Kafka or PostgreSQL unreachable.
 */
#include "common/alloc.h"
#include "common/clock.h"
#include "jobs/catalog.h"
#include "jobs/job.h"
#include "worker/config.h"
#include "worker/kafka_sync.h"
#include "worker/migrate.h"
#include "worker/pg.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { EXIT_OK = 0, EXIT_JOB = 1, EXIT_USAGE = 2, EXIT_UNREACHABLE = 3 };

static const char *conf_path;

static void usage(FILE *out)
{
  fprintf(out,
    "usage: provctl [-c FILE] COMMAND [ARGS]\n"
    "\n"
    "commands:\n"
    "  migrate [--status]         apply (or list) schema migrations\n"
    "  ops [SERVICE]              the operation catalog\n"
    "  enqueue --tenant T --service S --op OP [--arg k=v]... [--args-json J]\n"
    "          [--id ID] [--key K] [--reply-to TOPIC] [--topic TOPIC]\n"
    "          [--json] [--wait[=SECONDS]]\n"
    "                             validate and produce a job; --wait prints\n"
    "                             its reply (exit 1 if it did not succeed)\n"
    "  status JOB_ID              the job's row in job_status\n"
    "\n"
    "  -c, --config FILE  configuration (default $PROVISIOND_CONFIG)\n"
    "exit codes: 0 ok, 1 job failed or not found, 2 usage or configuration,\n"
    "3 Kafka or PostgreSQL unreachable\n");
}

static pv_config_t *load_conf(void)
{
  char err[1024];
  const char *path = conf_path ? conf_path : getenv("PROVISIOND_CONFIG");
  pv_config_t *conf = pv_config_load(path, err, sizeof(err));
  if (!conf)
    fprintf(stderr, "provctl: %s\n", err);
  return conf;
}

/* ---- migrate ------------------------------------------------------------ */

static int cmd_migrate(int argc, char **argv)
{
  bool status = argc > 1 && !strcmp(argv[1], "--status");
  if (argc > 2 || (argc == 2 && !status)) {
    fprintf(stderr, "usage: provctl migrate [--status]\n");
    return EXIT_USAGE;
  }
  pv_config_t *conf = load_conf();
  if (!conf)
    return EXIT_USAGE;
  char err[1024];
  int rc = pv_migrate_run(conf->pg_conninfo, status, stdout, err, sizeof(err));
  if (rc < 0)
    fprintf(stderr, "provctl: migrate: %s\n", err);
  pv_config_destroy(conf);
  return rc < 0 ? EXIT_UNREACHABLE : EXIT_OK;
}

/* ---- ops ---------------------------------------------------------------- */

static int cmd_ops(int argc, char **argv)
{
  const char *service = argc > 1 ? argv[1] : NULL;
  if (service && !pv_catalog_has_service(service)) {
    fprintf(stderr, "provctl: unknown service \"%s\" (voltha, genieacs, "
                    "netbox)\n", service);
    return EXIT_USAGE;
  }
  pv_catalog_dump(stdout, service, false);
  return EXIT_OK;
}

/* ---- enqueue ------------------------------------------------------------ */

/* --arg k=v: the value is typed by the op's catalog entry, so
 * --arg limit=10 is an integer and --arg device_id=00017cbb a string. */
static json_t *arg_value(const pv_op_t *op, const char *name, const char *text)
{
  const pv_arg_t *a = op ? pv_op_arg(op, name) : NULL;
  if (a && a->type == PV_ARG_STR)
    return json_string(text);
  json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);
  return v ? v : json_string(text);
}

static char *new_job_id(void)
{
  unsigned char r[8];
  FILE *f = fopen("/dev/urandom", "rb");
  if (!f || fread(r, 1, sizeof(r), f) != sizeof(r))
    memset(r, 0, sizeof(r));
  if (f)
    fclose(f);
  return pv_asprintf("provctl-%lld-%02x%02x%02x%02x%02x%02x%02x%02x",
                     (long long)pv_clock_wall_ms(), r[0], r[1], r[2], r[3],
                     r[4], r[5], r[6], r[7]);
}

static int cmd_enqueue(int argc, char **argv)
{
  static const struct option opts[] = {
    {"tenant", required_argument, NULL, 't'},
    {"service", required_argument, NULL, 's'},
    {"op", required_argument, NULL, 'o'},
    {"arg", required_argument, NULL, 'a'},
    {"args-json", required_argument, NULL, 'A'},
    {"id", required_argument, NULL, 'i'},
    {"key", required_argument, NULL, 'k'},
    {"reply-to", required_argument, NULL, 'r'},
    {"topic", required_argument, NULL, 'T'},
    {"json", no_argument, NULL, 'j'},
    {"wait", optional_argument, NULL, 'w'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
  };
  const char *tenant = NULL, *service = NULL, *opname = NULL, *id = NULL;
  const char *key = NULL, *reply_to = NULL, *topic = NULL;
  bool as_json = false;
  int wait_s = -1;
  json_t *args = json_object();
  char *gen_id = NULL;
  int rc = EXIT_USAGE;
  pv_config_t *conf = NULL;
  pv_ksync_producer_t *prod = NULL;
  pv_ksync_consumer_t *cons = NULL;
  char *buf = NULL;
  json_t *job = NULL;
  int c;
  optind = 1;
  /* first pass for --service/--op, so --arg values can be typed */
  char **argv2 = pv_calloc((size_t)argc + 1, sizeof(char *));
  memcpy(argv2, argv, (size_t)argc * sizeof(char *));
  while ((c = getopt_long(argc, argv2, "", opts, NULL)) != -1) {
    if (c == 's')
      service = optarg;
    else if (c == 'o')
      opname = optarg;
    else if (c == '?' || c == 'h') {
      free(argv2);
      json_decref(args);
      fprintf(c == 'h' ? stdout : stderr,
              "usage: provctl enqueue --tenant T --service S --op OP "
              "[--arg k=v]... [--args-json J] [--id ID] [--key K] "
              "[--reply-to TOPIC] [--topic TOPIC] [--json] [--wait[=S]]\n");
      return c == 'h' ? EXIT_OK : EXIT_USAGE;
    }
  }
  free(argv2);
  const pv_op_t *op = service && opname ? pv_catalog_find(service, opname)
                                        : NULL;
  optind = 1;
  while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (c) {
    case 't': tenant = optarg; break;
    case 'i': id = optarg; break;
    case 'k': key = optarg; break;
    case 'r': reply_to = optarg; break;
    case 'T': topic = optarg; break;
    case 'j': as_json = true; break;
    case 'w': {
      char *end = NULL;
      long v = optarg ? strtol(optarg, &end, 10) : 30;
      if (optarg && (*end || v < 0 || v > 86400)) {
        fprintf(stderr, "provctl: --wait=%s: seconds from 0 to 86400\n",
                optarg);
        goto out;
      }
      wait_s = (int)v;
      break;
    }
    case 'a': {
      const char *eq = strchr(optarg, '=');
      if (!eq || eq == optarg) {
        fprintf(stderr, "provctl: --arg \"%s\": expected NAME=VALUE\n",
                optarg);
        goto out;
      }
      char *name = pv_strndup(optarg, (size_t)(eq - optarg));
      json_object_set_new(args, name, arg_value(op, name, eq + 1));
      free(name);
      break;
    }
    case 'A': {
      json_error_t jerr;
      json_t *more = json_loads(optarg, 0, &jerr);
      if (!json_is_object(more)) {
        fprintf(stderr, "provctl: --args-json: %s (column %d)\n",
                more ? "must be a JSON object" : jerr.text, jerr.column);
        json_decref(more);
        goto out;
      }
      json_object_update(args, more);
      json_decref(more);
      break;
    }
    default: break;
    }
  }
  if (!tenant || !service || !opname) {
    fprintf(stderr, "provctl: enqueue needs --tenant, --service and --op\n");
    goto out;
  }
  conf = load_conf();
  if (!conf)
    goto out;
  if (!pv_config_tenant(conf, tenant)) {
    fprintf(stderr, "provctl: tenant \"%s\" is not in %s\n", tenant,
            conf->path ? conf->path : "the configuration");
    goto out;
  }
  if (!id)
    id = gen_id = new_job_id();
  job = json_pack("{s:i,s:s,s:s,s:s,s:s,s:O}", "v", 1, "id", id, "tenant",
                  tenant, "service", service, "op", opname, "args", args);
  if (reply_to)
    json_object_set_new(job, "reply_to", json_string(reply_to));
  size_t len = 0;
  pv_format_t fmt = as_json ? PV_FMT_JSON : PV_FMT_MSGPACK;
  if (pv_doc_encode(job, fmt, &buf, &len) < 0) {
    fprintf(stderr, "provctl: cannot encode the job\n");
    goto out;
  }
  /* the worker's own checks, before anything is sent */
  pv_job_t *parsed = NULL;
  pv_error_t err;
  if (pv_job_decode(buf, len, fmt, &parsed, &err) < 0 ||
      pv_job_validate(parsed, &err) < 0) {
    fprintf(stderr, "provctl: %s: %s\n", pv_errclass_name(err.cls),
            err.message);
    pv_job_destroy(parsed);
    goto out;
  }
  pv_job_destroy(parsed);
  if (!topic) {
    static char first[256];
    snprintf(first, sizeof(first), "%s", conf->kafka_topics);
    first[strcspn(first, ", \t")] = '\0';
    topic = first;
  }
  const char *reply_topic = reply_to ? reply_to : conf->kafka_results_topic;
  rc = EXIT_UNREACHABLE;
  if (wait_s >= 0) {
    cons = pv_ksync_consumer_at_end(conf->kafka_brokers, reply_topic);
    if (!cons)
      goto out;
  }
  prod = pv_ksync_producer_new(conf->kafka_brokers);
  const char *hdrs[] = {"content-type", pv_format_content_type(fmt), NULL};
  if (!prod || pv_ksync_produce(prod, topic, key, buf, len, hdrs) < 0) {
    fprintf(stderr, "provctl: could not produce to %s on %s\n", topic,
            conf->kafka_brokers);
    goto out;
  }
  printf("enqueued %s to %s\n", id, topic);
  rc = EXIT_OK;
  if (wait_s < 0)
    goto out;
  int64_t until = pv_clock_wall_ms() + (int64_t)wait_s * 1000;
  rc = EXIT_JOB;
  while (pv_clock_wall_ms() < until) {
    pv_ksync_msg_t *m = pv_ksync_consume(cons, 500);
    if (!m)
      continue;
    bool mine = m->key && !strcmp(m->key, id);
    if (mine) {
      const char *ct = pv_ksync_msg_header(m, "content-type");
      json_t *reply = NULL;
      char derr[128];
      if (pv_doc_decode(m->value, m->len,
                        ct && strstr(ct, "json") ? PV_FMT_JSON : PV_FMT_MSGPACK,
                        &reply, derr, sizeof(derr)) == 0) {
        char *s = json_dumps(reply, JSON_INDENT(2) | JSON_SORT_KEYS);
        printf("%s\n", s);
        free(s);
        const char *st = json_string_value(json_object_get(reply, "status"));
        rc = st && !strcmp(st, "succeeded") ? EXIT_OK : EXIT_JOB;
        json_decref(reply);
      }
      pv_ksync_msg_destroy(m);
      goto out;
    }
    pv_ksync_msg_destroy(m);
  }
  fprintf(stderr, "provctl: no reply for %s within %d s (see `provctl status "
                  "%s`)\n", id, wait_s, id);
out:
  pv_ksync_consumer_destroy(cons);
  pv_ksync_producer_destroy(prod);
  free(buf);
  json_decref(job);
  json_decref(args);
  free(gen_id);
  pv_config_destroy(conf);
  return rc;
}

/* ---- status ------------------------------------------------------------- */

static int cmd_status(int argc, char **argv)
{
  if (argc != 2) {
    fprintf(stderr, "usage: provctl status JOB_ID\n");
    return EXIT_USAGE;
  }
  pv_config_t *conf = load_conf();
  if (!conf)
    return EXIT_USAGE;
  char err[512];
  int rc = EXIT_UNREACHABLE;
  pv_pg_sync_t *db = pv_pg_sync_connect(conf->pg_conninfo, err, sizeof(err));
  if (!db) {
    fprintf(stderr, "provctl: PostgreSQL: %s\n", err);
    pv_config_destroy(conf);
    return rc;
  }
  const char *params[] = {argv[1]};
  pv_pg_result_t *r = pv_pg_sync_query(db,
    "SELECT jsonb_build_object('job_id', job_id, 'tenant', tenant, 'service',"
    " service, 'op', op, 'state', state, 'attempts', attempts, 'runs', runs,"
    " 'error_class', error_class, 'error_message', error_message,"
    " 'http_status', http_status, 'errors', errors, 'retry_reason',"
    " retry_reason, 'breaker_state', breaker_state, 'source', source_topic"
    " || '/' || source_partition || '@' || source_offset, 'reply_topic',"
    " reply_topic, 'received_at', received_at, 'started_at', started_at,"
    " 'finished_at', finished_at, 'next_attempt_at', next_attempt_at,"
    " 'deadline', deadline, 'worker_id', worker_id, 'result', result)::text"
    " FROM job_status WHERE job_id = $1", 1, params);
  if (!pv_pg_result_ok(r)) {
    fprintf(stderr, "provctl: %s\n", pv_pg_result_error(r));
  } else if (pv_pg_result_ntuples(r) == 0) {
    fprintf(stderr, "provctl: no job \"%s\"\n", argv[1]);
    rc = EXIT_JOB;
  } else {
    json_t *doc = json_loads(pv_pg_result_get(r, 0, 0), 0, NULL);
    char *s = doc ? json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER)
                  : NULL;
    printf("%s\n", s ? s : pv_pg_result_get(r, 0, 0));
    free(s);
    json_decref(doc);
    rc = EXIT_OK;
  }
  pv_pg_result_free(r);
  pv_pg_sync_close(db);
  pv_config_destroy(conf);
  return rc;
}

int main(int argc, char **argv)
{
  int i = 1;
  for (; i < argc && argv[i][0] == '-'; i++) {
    if ((!strcmp(argv[i], "-c") || !strcmp(argv[i], "--config")) &&
        i + 1 < argc) {
      conf_path = argv[++i];
    } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
      usage(stdout);
      return EXIT_OK;
    } else {
      fprintf(stderr, "provctl: unknown option \"%s\"\n", argv[i]);
      usage(stderr);
      return EXIT_USAGE;
    }
  }
  if (i >= argc) {
    usage(stderr);
    return EXIT_USAGE;
  }
  const char *cmd = argv[i];
  int sub_argc = argc - i;
  char **sub_argv = argv + i;
  if (!strcmp(cmd, "migrate"))
    return cmd_migrate(sub_argc, sub_argv);
  if (!strcmp(cmd, "ops"))
    return cmd_ops(sub_argc, sub_argv);
  if (!strcmp(cmd, "enqueue"))
    return cmd_enqueue(sub_argc, sub_argv);
  if (!strcmp(cmd, "status"))
    return cmd_status(sub_argc, sub_argv);
  fprintf(stderr, "provctl: unknown command \"%s\"\n", cmd);
  usage(stderr);
  return EXIT_USAGE;
}
