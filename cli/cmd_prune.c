/**
 * @file cmd_prune.c
 * @brief provctl prune: retention. Deletes finished job rows (and breaker
 * history) older than a given age, one short batch per transaction
 * (db/schema/003_retention.sql), with a running count, until none is left.
 */
#include "cli/cli.h"

#include "common/alloc.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *out)
{
  fprintf(out,
          "usage: provctl prune --older-than AGE [--batch N] [--include-dead]\n"
          "                     [--breaker-events]\n"
          "\n"
          "  --older-than AGE   finished longer ago than this (e.g. 30d; at\n"
          "                     least 1h; choose it longer than the jobs\n"
          "                     topic's retention plus the BSS's retry window)\n"
          "  --batch N          rows per transaction (default 10000)\n"
          "  --include-dead     dead rows too (default: kept for replay)\n"
          "  --breaker-events   also prune breaker_events history\n");
}

/* Calls fn(older_than, batch[, include_dead]) until it deletes nothing.
 * @returns the rows deleted, or -1 (printed). */
static long long prune_loop(pv_pg_sync_t *db, const char *sql,
                            const char *const *params, int nparams,
                            const char *what)
{
  long long total = 0;
  bool tty = isatty(STDERR_FILENO);
  for (;;) {
    pv_pg_result_t *r = pv_pg_sync_query(db, sql, nparams, params);
    if (!pv_pg_result_ok(r)) {
      pv_cli_err("prune %s: %s (after %lld rows)", what,
                 pv_pg_result_error(r), total);
      pv_pg_result_free(r);
      return -1;
    }
    const char *v = pv_pg_result_get(r, 0, 0);
    long long n = v ? strtoll(v, NULL, 10) : 0;
    pv_pg_result_free(r);
    total += n;
    if (tty)
      fprintf(stderr, "\rprune %s: %lld rows deleted", what, total);
    if (n == 0)
      break;
  }
  if (tty)
    fprintf(stderr, "\n");
  return total;
}

int pv_cmd_prune(int argc, char **argv)
{
  static const struct option opts[] = {
    {"older-than", required_argument, NULL, 'o'},
    {"batch", required_argument, NULL, 'b'},
    {"include-dead", no_argument, NULL, 'd'},
    {"breaker-events", no_argument, NULL, 'e'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
  };
  long long secs = 0, batch = 10000;
  bool dead = false, events = false, have_age = false;
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (c) {
    case 'o':
      if (pv_cli_parse_duration("--older-than", optarg, &secs) < 0)
        return PV_EXIT_USAGE;
      have_age = true;
      break;
    case 'b':
      if (pv_cli_parse_ll("--batch", optarg, 1, 100000, &batch) < 0)
        return PV_EXIT_USAGE;
      break;
    case 'd': dead = true; break;
    case 'e': events = true; break;
    case 'h': usage(stdout); return PV_EXIT_OK;
    default: usage(stderr); return PV_EXIT_USAGE;
    }
  }
  if (!have_age || optind < argc) {
    if (!have_age)
      pv_cli_err("prune needs --older-than (e.g. --older-than 30d)");
    else
      pv_cli_err("unexpected argument \"%s\"", argv[optind]);
    usage(stderr);
    return PV_EXIT_USAGE;
  }
  if (secs < 3600) {
    pv_cli_err("--older-than must be at least 1h");
    return PV_EXIT_USAGE;
  }
  pv_config_t *conf = pv_cli_load_config();
  if (!conf)
    return PV_EXIT_USAGE;
  pv_pg_sync_t *db = pv_cli_db_connect(conf);
  if (!db) {
    pv_config_destroy(conf);
    return PV_EXIT_UNREACHABLE;
  }
  char age[32], nb[24];
  snprintf(age, sizeof(age), "%lld seconds", secs);
  snprintf(nb, sizeof(nb), "%lld", batch);
  const char *p[] = {age, nb, dead ? "true" : "false"};
  int rc = PV_EXIT_OK;
  long long jobs = prune_loop(db, "SELECT provisiond_prune($1::interval, "
                                  "$2::int, $3::boolean)", p, 3, "jobs");
  if (jobs < 0) {
    rc = PV_EXIT_UNREACHABLE;
  } else {
    printf("pruned %lld job rows finished more than %s ago%s\n", jobs, age,
           dead ? " (dead ones included)" : "");
    if (events) {
      long long ev = prune_loop(db, "SELECT provisiond_prune_breaker_events("
                                    "$1::interval, $2::int)", p, 2,
                                "breaker events");
      if (ev < 0)
        rc = PV_EXIT_UNREACHABLE;
      else
        printf("pruned %lld breaker events\n", ev);
    }
  }
  pv_pg_sync_close(db);
  pv_config_destroy(conf);
  return rc;
}
