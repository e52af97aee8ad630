/**
 * @file provctl.c
 * @brief provctl: the operator's tool. Same configuration file and
 * environment as provisiond.
 *
 * Exit codes: 0 ok; 1 the job failed or was not found; 2 usage or
 * configuration error; 3 Kafka or PostgreSQL unreachable.
 */
#include "cli/cli.h"
#include "jobs/catalog.h"
#include "db/migrate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { EXIT_OK = PV_EXIT_OK, EXIT_USAGE = PV_EXIT_USAGE,
       EXIT_UNREACHABLE = PV_EXIT_UNREACHABLE };

static void usage(FILE *out)
{
  fprintf(out,
    "usage: provctl [-c FILE] COMMAND [ARGS]\n"
    "\n"
    "commands:\n"
    "  migrate [--status]         apply (or list) schema migrations\n"
    "  ops [SERVICE]              the operation catalog\n"
    "  orders [show TYPE] [--json]\n"
    "                             the order types of [worker] orders_dir\n"
    "  enqueue --tenant T --service S --op OP [--arg k=v]... [--args-json J]\n"
    "          [--id ID] [--key K] [--reply-to TOPIC] [--topic TOPIC]\n"
    "          [--json] [--wait[=SECONDS]]\n"
    "                             validate and produce a job; --wait prints\n"
    "                             its reply (exit 1 if it did not succeed)\n"
    "  enqueue --file jobs.jsonl  many jobs, one document per line\n"
    "  status JOB_ID              the job's row, errors, replays, reply\n"
    "  jobs [--state S] [--tenant T] [--service S] [--op OP] [--since 1h]\n"
    "       [--limit N] [--json]  jobs, newest first\n"
    "  dlq list [filters]         dead jobs, replay count and outcome\n"
    "  dlq replay (JOB_ID...|--all) [filters] [--from-topic T] [--dry-run]\n"
    "       [--rate N/s] [--by USER] [--yes]\n"
    "                             re-inject dead letters safely\n"
    "  breakers [--tenant T]      circuit breakers and their last change\n"
    "  breaker open|close|disable|auto SERVICE TENANT [--endpoint URL]\n"
    "       --reason TEXT         operator override, fleet-wide\n"
    "  prune --older-than AGE [--batch N] [--include-dead] [--breaker-events]\n"
    "                             retention: delete old finished rows\n"
    "\n"
    "every command takes --help\n"
    "\n"
    "  -c, --config FILE  configuration (default $PROVISIOND_CONFIG)\n"
    "exit codes: 0 ok, 1 job failed or not found, 2 usage or configuration,\n"
    "3 Kafka or PostgreSQL unreachable\n");
}

static pv_config_t *load_conf(void)
{
  return pv_cli_load_config();
}

/* ---- migrate ------------------------------------------------------------ */

static int cmd_migrate(int argc, char **argv)
{
  if (argc == 2 && !strcmp(argv[1], "--help")) {
    printf("usage: provctl migrate [--status]\n\nApplies the embedded "
           "schema migrations (--status: lists them, applied or not).\n");
    return EXIT_OK;
  }
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
  if (argc == 2 && !strcmp(argv[1], "--help")) {
    printf("usage: provctl ops [SERVICE]\n\nThe operation catalog: each "
           "op's arguments, types, timeout and idempotency.\n");
    return EXIT_OK;
  }
  if (argc > 2) {
    fprintf(stderr, "usage: provctl ops [SERVICE]\n");
    return EXIT_USAGE;
  }
  const char *service = argc > 1 ? argv[1] : NULL;
  if (service && !pv_catalog_has_service(service)) {
    fprintf(stderr, "provctl: unknown service \"%s\" (voltha, genieacs, "
                    "netbox)\n", service);
    return EXIT_USAGE;
  }
  pv_catalog_dump(stdout, service, false);
  return EXIT_OK;
}

int main(int argc, char **argv)
{
  int i = 1;
  for (; i < argc && argv[i][0] == '-'; i++) {
    if ((!strcmp(argv[i], "-c") || !strcmp(argv[i], "--config")) &&
        i + 1 < argc) {
      pv_cli_set_config_path(argv[++i]);
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
  static const struct {
    const char *name;
    int (*fn)(int, char **);
  } cmds[] = {
    {"enqueue", pv_cmd_enqueue}, {"status", pv_cmd_status},
    {"jobs", pv_cmd_jobs},       {"dlq", pv_cmd_dlq},
    {"breakers", pv_cmd_breakers}, {"breaker", pv_cmd_breaker},
    {"prune", pv_cmd_prune},     {"orders", pv_cmd_orders},
  };
  for (size_t k = 0; k < sizeof(cmds) / sizeof(cmds[0]); k++)
    if (!strcmp(cmd, cmds[k].name))
      return cmds[k].fn(sub_argc, sub_argv);
  fprintf(stderr, "provctl: unknown command \"%s\"\n", cmd);
  usage(stderr);
  return EXIT_USAGE;
}
