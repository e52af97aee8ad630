/* provctl enqueue: one job from options, or many from a JSON-lines file. */
#include "cli/cli.h"

#include "common/alloc.h"
#include "common/clock.h"
#include "jobs/catalog.h"
#include "jobs/job.h"
#include "kafka/sync.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A line of --file longer than a job may be cannot be a job. */
#define LINE_MAX_BYTES (PV_JOB_MAX_BYTES + 1)
/* Jobs one --file may hold: they are all validated in memory first. */
#define FILE_MAX_JOBS 1000000

static const char ENQUEUE_USAGE[] =
  "usage: provctl enqueue --tenant T --service S --op OP [--arg k=v]...\n"
  "                       [--args-json '{...}'] [--id ID] [--key K]\n"
  "                       [--reply-to TOPIC] [--topic TOPIC] [--json]\n"
  "                       [--wait[=SECONDS]]\n"
  "       provctl enqueue --file jobs.jsonl [--topic TOPIC] [--json]\n"
  "\n"
  "Validates the job against the catalog and the tenants of the\n"
  "configuration (nothing is sent if it is invalid), then produces it.\n"
  "  --arg k=v        an argument, typed by the op's catalog entry\n"
  "  --args-json J    arguments as a JSON object (merged with --arg)\n"
  "  --key K          Kafka key: jobs with one key run in order\n"
  "  --json           encode as JSON (default msgpack)\n"
  "  --wait[=S]       wait up to S seconds (default 30) for the reply and\n"
  "                   print it; exit 1 unless it succeeded\n"
  "  --file F         one job document per line ({tenant, service, op,\n"
  "                   args, id?, key?, reply_to?, deadline?,\n"
  "                   max_attempts?}); every line is checked first, then\n"
  "                   all are sent in order; '-' reads stdin\n";

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

/* Encodes job and runs the worker's own checks on the bytes, so what is
 * refused here would have been dead-lettered there. @returns 0, or -1 with
 * the reason in err. */
static int encode_checked(const pv_config_t *conf, json_t *job,
                          pv_format_t fmt, char **buf, size_t *len, char *err,
                          size_t errsz)
{
  const char *tenant = json_string_value(json_object_get(job, "tenant"));
  if (tenant && !pv_config_tenant(conf, tenant)) {
    snprintf(err, errsz, "unknown tenant \"%s\" (not in %s)", tenant,
             conf->path ? conf->path : "the configuration");
    return -1;
  }
  if (pv_doc_encode(job, fmt, buf, len) < 0) {
    snprintf(err, errsz, "cannot encode the job");
    return -1;
  }
  pv_job_t *parsed = NULL;
  pv_error_t e;
  if (pv_job_decode(*buf, *len, fmt, &parsed, &e) < 0 ||
      pv_job_validate(parsed, &e) < 0 ||
      (parsed->reply_to &&
       pv_config_check_reply_topic(conf, "field \"reply_to\"",
                                   parsed->reply_to, &e) < 0)) {
    snprintf(err, errsz, "%s: %s", pv_errclass_name(e.cls), e.message);
    pv_job_destroy(parsed);
    free(*buf);
    *buf = NULL;
    return -1;
  }
  pv_job_destroy(parsed);
  return 0;
}

/* Waits for id's reply on c; prints it. @returns the exit code. */
static int wait_reply(pv_ksync_consumer_t *c, const char *id, int wait_s)
{
  uint64_t until = pv_clock_mono_ms() + (uint64_t)wait_s * 1000;
  while (pv_clock_mono_ms() < until) {
    pv_ksync_msg_t *m = pv_ksync_consume(c, 500);
    if (!m)
      continue;
    if (!m->key || strcmp(m->key, id)) {
      pv_ksync_msg_destroy(m);
      continue;
    }
    const char *ct = pv_ksync_msg_header(m, "content-type");
    json_t *reply = NULL;
    char derr[128];
    int rc = PV_EXIT_JOB;
    if (pv_doc_decode(m->value, m->len,
                      ct && strstr(ct, "json") ? PV_FMT_JSON : PV_FMT_MSGPACK,
                      &reply, derr, sizeof(derr)) == 0) {
      char *s = json_dumps(reply, JSON_INDENT(2) | JSON_SORT_KEYS);
      printf("%s\n", s ? s : "{}");
      free(s);
      const char *st = json_string_value(json_object_get(reply, "status"));
      rc = st && !strcmp(st, "succeeded") ? PV_EXIT_OK : PV_EXIT_JOB;
      json_decref(reply);
    } else {
      pv_cli_err("the reply to %s is not decodable: %s", id, derr);
    }
    pv_ksync_msg_destroy(m);
    return rc;
  }
  pv_cli_err("no reply for %s within %d s (see `provctl status %s`)", id,
             wait_s, id);
  return PV_EXIT_JOB;
}

/* ---- --file -------------------------------------------------------------- */

typedef struct file_job {
  int line;
  char *id;
  char *key;
  char *buf;
  size_t len;
} file_job_t;

static void print_ranges(FILE *out, const file_job_t *jobs, size_t from,
                         size_t to)
{
  /* lines as ranges "1-3,5" (blank lines make gaps) */
  bool first = true;
  for (size_t i = from; i < to;) {
    size_t j = i;
    while (j + 1 < to && jobs[j + 1].line == jobs[j].line + 1)
      j++;
    fprintf(out, "%s%d", first ? "" : ",", jobs[i].line);
    if (j > i)
      fprintf(out, "-%d", jobs[j].line);
    first = false;
    i = j + 1;
  }
  if (first)
    fputs("none", out);
}

static void progress(size_t done, size_t total)
{
  int width = 40;
  int filled = total ? (int)((double)done / (double)total * width) : width;
  fprintf(stderr, "\r[%.*s%*s] %zu/%zu", filled,
          "========================================", width - filled, "", done,
          total);
  if (done == total)
    fputc('\n', stderr);
  fflush(stderr);
}

static int enqueue_file(const pv_config_t *conf, const char *path,
                        const char *topic, pv_format_t fmt)
{
  FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
  if (!f) {
    pv_cli_err("--file %s: cannot open it", path);
    return PV_EXIT_USAGE;
  }
  file_job_t *jobs = NULL;
  size_t n = 0, cap = 0;
  int bad = 0, rc = PV_EXIT_USAGE;
  char *line = NULL;
  size_t lcap = 0;
  ssize_t got;
  int lineno = 0;
  pv_ksync_producer_t *prod = NULL;
  while ((got = getline(&line, &lcap, f)) >= 0) {
    lineno++;
    while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r'))
      line[--got] = '\0';
    const char *p = line + strspn(line, " \t");
    if (!*p || *p == '#')
      continue; /* blank lines and comments */
    char err[512];
    err[0] = '\0';
    json_t *doc = NULL;
    if ((size_t)got > LINE_MAX_BYTES) {
      snprintf(err, sizeof(err), "line too long (%zd bytes, at most %d)", got,
               LINE_MAX_BYTES);
    } else if (n >= FILE_MAX_JOBS) {
      snprintf(err, sizeof(err), "more than %d jobs in one file",
               FILE_MAX_JOBS);
    } else {
      json_error_t jerr;
      doc = json_loads(p, JSON_REJECT_DUPLICATES, &jerr);
      if (!doc)
        snprintf(err, sizeof(err), "not JSON: %s (column %d)", jerr.text,
                 jerr.column);
      else if (!json_is_object(doc))
        snprintf(err, sizeof(err), "not a JSON object");
    }
    file_job_t j = {.line = lineno};
    if (!err[0]) {
      json_t *key = json_object_get(doc, "key");
      if (key && !json_is_null(key) && !json_is_string(key))
        snprintf(err, sizeof(err), "field \"key\": expected string");
      else if (json_is_string(key))
        j.key = pv_strdup(json_string_value(key));
      json_object_del(doc, "key"); /* the Kafka key, not part of the job */
      if (!json_object_get(doc, "v"))
        json_object_set_new(doc, "v", json_integer(1));
      if (!json_object_get(doc, "id")) {
        char *id = pv_cli_new_job_id();
        json_object_set_new(doc, "id", json_string(id));
        free(id);
      }
    }
    if (!err[0])
      encode_checked(conf, doc, fmt, &j.buf, &j.len, err, sizeof(err));
    if (err[0]) {
      fprintf(stderr, "provctl: %s:%d: %s\n", path, lineno, err);
      bad++;
      free(j.key);
      free(j.buf);
    } else {
      j.id = pv_strdup(json_string_value(json_object_get(doc, "id")));
      if (n == cap) {
        cap = cap ? cap * 2 : 64;
        jobs = pv_realloc(jobs, cap * sizeof(*jobs));
      }
      jobs[n++] = j;
    }
    json_decref(doc);
    if (bad >= 100) {
      pv_cli_err("%s: stopped checking after 100 bad lines", path);
      break;
    }
  }
  if (ferror(f)) {
    pv_cli_err("--file %s: read error at line %d", path, lineno + 1);
    bad++;
  }
  if (bad) {
    pv_cli_err("%s: %d bad line(s); nothing was sent", path, bad);
    goto out;
  }
  if (!n) {
    pv_cli_err("%s: no jobs in it; nothing was sent", path);
    goto out;
  }
  rc = PV_EXIT_UNREACHABLE;
  if (pv_cli_kafka_check(conf) < 0) {
    pv_cli_err("%s: nothing was sent", path);
    goto out;
  }
  prod = pv_ksync_producer_new(conf->kafka_brokers);
  if (!prod) {
    pv_cli_err("%s: cannot create a Kafka producer; nothing was sent", path);
    goto out;
  }
  bool tty = isatty(STDERR_FILENO);
  const pv_ksync_header_t hdr = {"content-type", pv_format_content_type(fmt),
                                 strlen(pv_format_content_type(fmt))};
  size_t sent = 0;
  char perr[512];
  for (; sent < n; sent++) {
    /* one acknowledged record at a time, so what was sent is exactly the
     * lines before the first failure */
    if (pv_ksync_produce_raw(prod, topic, jobs[sent].key,
                             jobs[sent].key ? strlen(jobs[sent].key) : 0,
                             jobs[sent].buf, jobs[sent].len, &hdr, 1, 30000,
                             perr, sizeof(perr)) < 0)
      break;
    if (tty && (sent % 16 == 15 || sent + 1 == n))
      progress(sent + 1, n);
  }
  if (sent == n) {
    printf("enqueued %zu job(s) from %s to %s (lines ", n, path, topic);
    print_ranges(stdout, jobs, 0, n);
    printf(")\n");
    rc = PV_EXIT_OK;
    goto out;
  }
  if (tty)
    fputc('\n', stderr);
  fprintf(stderr, "provctl: %s:%d: %s\nprovctl: sent %zu of %zu job(s) "
          "(lines ", path, jobs[sent].line, perr, sent, n);
  print_ranges(stderr, jobs, 0, sent);
  fprintf(stderr, "); not sent: lines ");
  print_ranges(stderr, jobs, sent, n);
  fprintf(stderr, "\n");
out:
  pv_ksync_producer_destroy(prod);
  for (size_t i = 0; i < n; i++) {
    free(jobs[i].id);
    free(jobs[i].key);
    free(jobs[i].buf);
  }
  free(jobs);
  free(line);
  if (f != stdin)
    fclose(f);
  return rc;
}

/* ---- one job ------------------------------------------------------------- */

int pv_cmd_enqueue(int argc, char **argv)
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
    {"file", required_argument, NULL, 'f'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
  };
  const char *tenant = NULL, *service = NULL, *opname = NULL, *id = NULL;
  const char *key = NULL, *reply_to = NULL, *topic = NULL, *file = NULL;
  bool as_json = false;
  int wait_s = -1;
  json_t *args = json_object();
  char *gen_id = NULL, *buf = NULL;
  int rc = PV_EXIT_USAGE;
  pv_config_t *conf = NULL;
  pv_ksync_producer_t *prod = NULL;
  pv_ksync_consumer_t *cons = NULL;
  json_t *job = NULL;
  int c;
  /* first pass for --service/--op, so --arg values can be typed */
  char **argv2 = pv_calloc((size_t)argc + 1, sizeof(char *));
  memcpy(argv2, argv, (size_t)argc * sizeof(char *));
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv2, "+", opts, NULL)) != -1) {
    if (c == 's')
      service = optarg;
    else if (c == 'o')
      opname = optarg;
  }
  free(argv2);
  const pv_op_t *op = service && opname ? pv_catalog_find(service, opname)
                                        : NULL;
  optind = 1;
  opterr = 1;
  while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
    switch (c) {
    case 't': tenant = optarg; break;
    case 's': case 'o': break;
    case 'i': id = optarg; break;
    case 'k': key = optarg; break;
    case 'r': reply_to = optarg; break;
    case 'T': topic = optarg; break;
    case 'j': as_json = true; break;
    case 'f': file = optarg; break;
    case 'h':
      fputs(ENQUEUE_USAGE, stdout);
      rc = PV_EXIT_OK;
      goto out;
    case 'w': {
      long long v = 30;
      if (optarg && pv_cli_parse_ll("--wait", optarg, 0, 86400, &v) < 0)
        goto out;
      wait_s = (int)v;
      break;
    }
    case 'a': {
      const char *eq = strchr(optarg, '=');
      if (!eq || eq == optarg) {
        pv_cli_err("--arg \"%s\": expected NAME=VALUE", optarg);
        goto out;
      }
      char *name = pv_strndup(optarg, (size_t)(eq - optarg));
      json_object_set_new(args, name, arg_value(op, name, eq + 1));
      free(name);
      break;
    }
    case 'A': {
      json_error_t jerr;
      json_t *more = json_loads(optarg, JSON_REJECT_DUPLICATES, &jerr);
      if (!json_is_object(more)) {
        if (more)
          pv_cli_err("--args-json: must be a JSON object");
        else
          pv_cli_err("--args-json: %s (column %d)", jerr.text, jerr.column);
        json_decref(more);
        goto out;
      }
      json_object_update(args, more);
      json_decref(more);
      break;
    }
    default:
      fputs(ENQUEUE_USAGE, stderr);
      goto out;
    }
  }
  if (optind < argc) {
    pv_cli_err("enqueue: unexpected argument \"%s\"", argv[optind]);
    goto out;
  }
  if (file && (tenant || service || opname || id || key || reply_to ||
               wait_s >= 0 || json_object_size(args))) {
    pv_cli_err("enqueue: --file takes its jobs from the file: give only "
               "--topic and --json with it");
    goto out;
  }
  if (!file && (!tenant || !service || !opname)) {
    pv_cli_err("enqueue needs --tenant, --service and --op (or --file)");
    goto out;
  }
  conf = pv_cli_load_config();
  if (!conf)
    goto out;
  if (!topic)
    topic = conf->kafka_topic_list[0]; /* the config has at least one */
  pv_format_t fmt = as_json ? PV_FMT_JSON : PV_FMT_MSGPACK;
  if (file) {
    rc = enqueue_file(conf, file, topic, fmt);
    goto out;
  }
  if (!id)
    id = gen_id = pv_cli_new_job_id();
  job = json_pack("{s:i,s:s,s:s,s:s,s:s,s:O}", "v", 1, "id", id, "tenant",
                  tenant, "service", service, "op", opname, "args", args);
  if (!job) {
    pv_cli_err("enqueue: an option is not valid UTF-8");
    goto out;
  }
  if (reply_to)
    json_object_set_new(job, "reply_to", json_string(reply_to));
  size_t len = 0;
  char err[512];
  if (encode_checked(conf, job, fmt, &buf, &len, err, sizeof(err)) < 0) {
    pv_cli_err("%s; nothing was sent", err);
    goto out;
  }
  const char *reply_topic = reply_to ? reply_to : conf->kafka_results_topic;
  rc = PV_EXIT_UNREACHABLE;
  if (pv_cli_kafka_check(conf) < 0)
    goto out;
  if (wait_s >= 0) {
    cons = pv_ksync_consumer_at_end(conf->kafka_brokers, reply_topic);
    if (!cons) {
      pv_cli_err("cannot read replies on %s; nothing was sent", reply_topic);
      goto out;
    }
  }
  prod = pv_ksync_producer_new(conf->kafka_brokers);
  const pv_ksync_header_t hdr = {"content-type", pv_format_content_type(fmt),
                                 strlen(pv_format_content_type(fmt))};
  if (!prod || pv_ksync_produce_raw(prod, topic, key, key ? strlen(key) : 0,
                                    buf, len, &hdr, 1, 30000, err,
                                    sizeof(err)) < 0) {
    pv_cli_err("%s (brokers %s); not sent", prod ? err : "no producer",
               conf->kafka_brokers);
    goto out;
  }
  if (wait_s < 0) {
    printf("enqueued %s to %s\n", id, topic);
    rc = PV_EXIT_OK;
    goto out;
  }
  fprintf(stderr, "enqueued %s to %s; waiting for its reply on %s\n", id,
          topic, reply_topic);
  rc = wait_reply(cons, id, wait_s);
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
