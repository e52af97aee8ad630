/* build/southbound-sim: VOLTHA, GenieACS NBI and NetBox emulated on three
 * loopback listeners, for tests, the demo and the benchmarks. See
 * docs/simulator.md. */
#include "dev/sim/sim.h"

#include "common/alloc.h"
#include "common/log.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#define TOKENS_MAX 32

static const char usage_text[] =
    "usage: southbound-sim [--bind ADDR (127.0.0.1)] [--voltha-port N (8881)]\n"
    "                      [--genieacs-port N (7557)] [--netbox-port N (8000)]\n"
    "                      [--olts N (4)] [--onus-per-olt N (32)] [--cpes N (128)]\n"
    "                      [--prefixes N (4)] [--seed N (1)] [--latency-ms N (0)]\n"
    "                      [--activate-delay-ms N (1000)] [--netbox-token TOKEN]...\n"
    "                      [--env-file PATH] [--help]\n"
    "\n"
    "Emulates the VOLTHA 1.x REST gateway, the GenieACS NBI and the NetBox 4.x\n"
    "REST API (docs/simulator.md). Port 0 picks a free port. Once all three\n"
    "listeners are up it prints SIM_VOLTHA_URL=, SIM_GENIEACS_URL=,\n"
    "SIM_NETBOX_URL= and READY on stdout (and the URL lines to --env-file).\n"
    "\n"
    "--netbox-token may repeat; each is a v1 token (40 hex, sent as\n"
    "'Authorization: Token <hex>') or a v2 token 'nbt_<key>.<plaintext>' (sent\n"
    "as 'Authorization: Bearer nbt_<key>.<plaintext>'). Without any, the v1\n"
    "token " SIM_NETBOX_DEFAULT_TOKEN " is accepted.\n"
    "\n"
    "Every listener also serves the admin API: PUT/GET/DELETE /_sim/faults,\n"
    "GET /_sim/stats, POST /_sim/reset-stats, GET /_sim/requests?since=N,\n"
    "GET /_sim/clock, POST /_sim/clock/advance; VOLTHA adds /_sim/discover\n"
    "and /_sim/activation (ONUs that appear and activate over time), GenieACS\n"
    "/_sim/offline, /_sim/session and /_sim/inform (when CPEs run queued\n"
    "tasks), see docs/simulator.md \"Time\".\n"
    "SIGTERM or SIGINT stops it with exit status 0.\n";

typedef struct options {
  const char *bind;
  long long voltha_port, genieacs_port, netbox_port;
  long long olts, onus, cpes, prefixes, seed, latency, activate;
  const char *tokens[TOKENS_MAX];
  size_t ntokens;
  const char *env_file;
} options_t;

/* One line naming the option and what is wrong, then the usage. */
static int bad_option(const char *opt, const char *what)
{
  fprintf(stderr, "southbound-sim: %s: %s\n%s", opt, what, usage_text);
  return 2;
}

static bool token_valid(const char *t)
{
  size_t n = strlen(t);
  if (strncmp(t, "nbt_", 4) == 0) {
    const char *dot = strchr(t + 4, '.');
    return dot && dot > t + 4 && dot[1] != '\0' && n < 256;
  }
  if (n != 40)
    return false;
  for (size_t i = 0; i < n; i++)
    if (!isxdigit((unsigned char)t[i]))
      return false;
  return true;
}

/* @returns 0, 1 for --help, or 2 after printing what is wrong. */
static int parse_args(int argc, char **argv, options_t *o)
{
  static const struct {
    const char *name;
    size_t off;
    long long min, max;
  } nums[] = {
      {"--voltha-port", offsetof(options_t, voltha_port), 0, 65535},
      {"--genieacs-port", offsetof(options_t, genieacs_port), 0, 65535},
      {"--netbox-port", offsetof(options_t, netbox_port), 0, 65535},
      {"--olts", offsetof(options_t, olts), 0, 4096},
      {"--onus-per-olt", offsetof(options_t, onus), 0, 1024},
      {"--cpes", offsetof(options_t, cpes), 0, 1000000},
      {"--prefixes", offsetof(options_t, prefixes), 0, 256},
      {"--seed", offsetof(options_t, seed), 0, LLONG_MAX},
      {"--latency-ms", offsetof(options_t, latency), 0, 600000},
      {"--activate-delay-ms", offsetof(options_t, activate), 0, 3600000},
  };
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
      return 1;
    bool done = false;
    for (size_t k = 0; k < sizeof(nums) / sizeof(nums[0]) && !done; k++) {
      if (strcmp(a, nums[k].name) != 0)
        continue;
      if (i + 1 >= argc)
        return bad_option(a, "needs a value");
      long long *dst = (long long *)((char *)o + nums[k].off);
      if (sim_parse_ll(argv[i + 1], nums[k].min, nums[k].max, dst) < 0) {
        char range[96];
        snprintf(range, sizeof(range), ": want an integer in [%lld, %lld]",
                 nums[k].min, nums[k].max);
        fprintf(stderr, "southbound-sim: bad value '%s' for option %s%s\n%s",
                argv[i + 1], a, range, usage_text);
        return 2;
      }
      i++;
      done = true;
    }
    if (done)
      continue;
    if (strcmp(a, "--bind") == 0 || strcmp(a, "--env-file") == 0 ||
        strcmp(a, "--netbox-token") == 0) {
      if (i + 1 >= argc)
        return bad_option(a, "needs a value");
      const char *v = argv[++i];
      if (strcmp(a, "--bind") == 0) {
        o->bind = v;
      } else if (strcmp(a, "--env-file") == 0) {
        o->env_file = v;
      } else {
        if (!token_valid(v))
          return bad_option(a, "not a v1 token (40 hex) nor a v2 token "
                               "(nbt_<key>.<plaintext>)");
        if (o->ntokens == TOKENS_MAX)
          return bad_option(a, "at most 32 tokens");
        o->tokens[o->ntokens++] = v;
      }
      continue;
    }
    return bad_option(a, "unknown option");
  }
  return 0;
}

static void raise_nofile(void)
{
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
    return;
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
      pv_log(PV_LOG_WARN, "sim.rlimit_failed", PV_S("error", strerror(errno)));
  }
}

int main(int argc, char **argv)
{
  options_t o = {
      .bind = "127.0.0.1",
      .voltha_port = 8881,
      .genieacs_port = 7557,
      .netbox_port = 8000,
      .olts = 4,
      .onus = 32,
      .cpes = 128,
      .prefixes = 4,
      .seed = 1,
      .latency = 0,
      .activate = 1000,
  };
  sim_server_t *srv[3] = {NULL, NULL, NULL};
  char urls[3][160];
  char err[320];
  int rc = 1;
  sigset_t set;

  int pr = parse_args(argc, argv, &o);
  if (pr == 1) {
    fputs(usage_text, stdout);
    return 0;
  }
  if (pr != 0)
    return pr;

  /* Block the stop signals in every thread; main waits for them below. */
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  signal(SIGPIPE, SIG_IGN);
  raise_nofile();

  sim_inventory_t inv = {
      .seed = (uint64_t)o.seed,
      .olts = (unsigned)o.olts,
      .onus_per_olt = (unsigned)o.onus,
      .cpes = (unsigned)o.cpes,
      .prefixes = (unsigned)o.prefixes,
      .activate_delay_ms = (unsigned)o.activate,
  };
  const char *tokens[TOKENS_MAX];
  size_t ntokens = o.ntokens;
  for (size_t i = 0; i < ntokens; i++)
    tokens[i] = o.tokens[i];
  if (ntokens == 0)
    tokens[ntokens++] = SIM_NETBOX_DEFAULT_TOKEN;

  const sim_svc_ops_t *ops[3] = {&sim_voltha_ops, &sim_genieacs_ops,
                                 &sim_netbox_ops};
  const long long ports[3] = {o.voltha_port, o.genieacs_port, o.netbox_port};
  static const char *const names[3] = {"VOLTHA", "GENIEACS", "NETBOX"};
  for (int i = 0; i < 3; i++) {
    void *state = i == 0   ? sim_voltha_new(&inv)
                  : i == 1 ? sim_genieacs_new(&inv)
                           : sim_netbox_new(&inv, tokens, ntokens);
    sim_server_opts_t so = {.bind = o.bind,
                            .port = (uint16_t)ports[i],
                            .latency_ms = (unsigned)o.latency,
                            .seed = (uint64_t)o.seed + (uint64_t)i};
    bool in_use = false;
    srv[i] = sim_server_start(ops[i], state, &so, err, sizeof(err), &in_use);
    if (!srv[i]) {
      fprintf(stderr, "southbound-sim: %s listener: %s\n", ops[i]->name, err);
      goto out;
    }
    char hbuf[80];
    if (strchr(o.bind, ':'))
      snprintf(hbuf, sizeof(hbuf), "[%s]", o.bind);
    else
      snprintf(hbuf, sizeof(hbuf), "%s", o.bind);
    snprintf(urls[i], sizeof(urls[i]), "SIM_%s_URL=http://%s:%u", names[i],
             hbuf, sim_server_port(srv[i]));
  }

  if (o.env_file) {
    FILE *f = fopen(o.env_file, "w");
    if (!f || fprintf(f, "%s\n%s\n%s\n", urls[0], urls[1], urls[2]) < 0 ||
        fclose(f) != 0) {
      fprintf(stderr, "southbound-sim: cannot write --env-file %s: %s\n",
              o.env_file, strerror(errno));
      goto out;
    }
  }
  printf("%s\n%s\n%s\nREADY\n", urls[0], urls[1], urls[2]);
  fflush(stdout);
  pv_log(PV_LOG_INFO, "sim.ready", PV_S("voltha", urls[0] + 15),
         PV_S("genieacs", urls[1] + 17), PV_S("netbox", urls[2] + 15),
         PV_I("seed", o.seed));

  int sig = 0;
  siginfo_t si;
  memset(&si, 0, sizeof(si));
  while ((sig = sigwaitinfo(&set, &si)) < 0)
    ;
  /* who sent it: a stale pid file elsewhere can name a recycled pid */
  pv_log(PV_LOG_INFO, "sim.stopping", PV_I("signal", sig),
         PV_I("from_pid", si.si_pid));
  rc = 0;
out:
  for (int i = 2; i >= 0; i--)
    sim_server_stop(srv[i]);
  return rc;
}
