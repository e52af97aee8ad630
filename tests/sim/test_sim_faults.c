/* Fault injection, the admin API, latency and the command line. Timing
 * assertions are lower bounds or orderings only: machines are shared. */
#include "tests/sim/simfix.h"

#include "tests/support/testenv.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

TestSuite(sim_faults, .init = simfix_start, .fini = simfix_stop,
          .timeout = 60);

static long long mono_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static th_resp_t *get(const char *base, const char *path)
{
  char url[512];
  SIMURL(url, base, "%s", path);
  return th_get(url);
}

static long status_of(const char *base, const char *path)
{
  th_resp_t *r = get(base, path);
  long st = r->status;
  th_free(r);
  return st;
}

Test(sim_faults, error_mode_uses_each_services_error_style)
{
  cr_assert_eq(pv_sim_set_fault(sim.voltha_url,
                                "{\"mode\":\"error\",\"status\":503}"), 200);
  th_resp_t *r = get(sim.voltha_url, "/health");
  cr_assert_eq(r->status, 503);
  cr_assert_null(r->json, "VOLTHA errors are plain text");
  th_free(r);

  cr_assert_eq(pv_sim_set_fault(sim.netbox_url,
                                "{\"mode\":\"error\",\"status\":500}"), 200);
  r = get(sim.netbox_url, "/api/status/");
  cr_assert_eq(r->status, 500);
  cr_assert_not_null(json_object_get(r->json, "error"));
  cr_assert_not_null(json_object_get(r->json, "netbox_version"));
  th_free(r);

  cr_assert_eq(pv_sim_set_fault(sim.genieacs_url,
                                "{\"mode\":\"error\",\"status\":502}"), 200);
  r = get(sim.genieacs_url, "/devices");
  cr_assert_eq(r->status, 502);
  char hb[32];
  cr_assert_not_null(th_header(r, "GenieACS-Version", hb, sizeof(hb)));
  th_free(r);

  cr_assert_eq(pv_sim_clear_faults(sim.voltha_url), 200);
  cr_assert_eq(status_of(sim.voltha_url, "/health"), 200);
  /* Admin paths are never faulted. */
  json_t *st = pv_sim_stats(sim.netbox_url);
  cr_assert_not_null(st);
  cr_assert_eq(json_integer_value(json_object_get(st, "faults_injected")), 1);
  json_decref(st);
}

Test(sim_faults, count_path_prefix_and_method_scope_a_fault)
{
  cr_assert_eq(pv_sim_set_fault(sim.voltha_url,
                                "{\"mode\":\"error\",\"status\":500,"
                                "\"count\":2,\"path_prefix\":\"/api/v1/devices\","
                                "\"method\":\"GET\"}"), 200);
  cr_assert_eq(status_of(sim.voltha_url, "/health"), 200, "other path");
  char url[256];
  SIMURL(url, sim.voltha_url, "/api/v1/devices");
  th_resp_t *r = th_request("POST", url, NULL, "{}", 0);
  cr_assert_eq(r->status, 400, "other method reaches the API");
  th_free(r);
  cr_assert_eq(status_of(sim.voltha_url, "/api/v1/devices"), 500);
  cr_assert_eq(status_of(sim.voltha_url, "/api/v1/devices"), 500);
  cr_assert_eq(status_of(sim.voltha_url, "/api/v1/devices"), 200,
               "count exhausted");
  cr_assert_eq(pv_sim_stat(sim.voltha_url, "faults_injected"), 2);
}

Test(sim_faults, rate_affects_about_that_fraction)
{
  cr_assert_eq(pv_sim_set_fault(sim.voltha_url,
                                "{\"mode\":\"error\",\"rate\":0.5}"), 200);
  int faulted = 0;
  for (int i = 0; i < 200; i++)
    faulted += status_of(sim.voltha_url, "/health") == 503;
  cr_assert(faulted > 50 && faulted < 150, "faulted %d of 200", faulted);
  cr_assert_eq(pv_sim_stat(sim.voltha_url, "faults_injected"), faulted);
}

Test(sim_faults, ratelimit_sends_retry_after)
{
  cr_assert_eq(pv_sim_set_fault(sim.netbox_url,
                                "{\"mode\":\"ratelimit\",\"retry_after\":3}"),
               200);
  th_resp_t *r = get(sim.netbox_url, "/api/status/");
  cr_assert_eq(r->status, 429);
  char hb[16];
  cr_assert_str_eq(th_header(r, "Retry-After", hb, sizeof(hb)), "3");
  cr_assert_not_null(json_object_get(r->json, "detail"));
  th_free(r);
}

Test(sim_faults, reset_drops_the_connection)
{
  cr_assert_eq(pv_sim_set_fault(sim.voltha_url,
                                "{\"mode\":\"reset\",\"count\":1}"), 200);
  th_resp_t *r = get(sim.voltha_url, "/health");
  cr_assert(r->rc == CURLE_RECV_ERROR || r->rc == CURLE_GOT_NOTHING,
            "curl said %d", r->rc);
  cr_assert_eq(r->status, 0);
  th_free(r);
  cr_assert_eq(status_of(sim.voltha_url, "/health"), 200);
}

/* reset_after: the request takes effect, only its answer is lost. A
 * plain reset comes before the handler and changes nothing. */
Test(sim_faults, reset_after_keeps_the_effect_and_loses_the_answer)
{
  static const char *const nbh[] = {TH_NB_AUTH, "Content-Type: application/json",
                                    NULL};
  char url[512];
  SIMURL(url, sim.netbox_url, "/api/tenancy/tenants/");
  cr_assert_eq(pv_sim_set_fault(sim.netbox_url,
                                "{\"mode\":\"reset\",\"count\":1,"
                                "\"method\":\"POST\"}"), 200);
  th_resp_t *r = th_request("POST", url, nbh,
                            "{\"name\":\"Lost 1\",\"slug\":\"lost-1\"}", 0);
  cr_assert_eq(r->status, 0);
  th_free(r);
  cr_assert_eq(pv_sim_set_fault(sim.netbox_url,
                                "{\"mode\":\"reset_after\",\"count\":1,"
                                "\"method\":\"POST\"}"), 200);
  r = th_request("POST", url, nbh,
                 "{\"name\":\"Lost 2\",\"slug\":\"lost-2\"}", 0);
  cr_assert(r->rc == CURLE_RECV_ERROR || r->rc == CURLE_GOT_NOTHING,
            "curl said %d", r->rc);
  cr_assert_eq(r->status, 0);
  th_free(r);
  SIMURL(url, sim.netbox_url, "/api/tenancy/tenants/?slug=lost-1&slug=lost-2");
  r = th_request("GET", url, nbh, NULL, 0);
  cr_assert_eq(json_integer_value(json_object_get(r->json, "count")), 1);
  cr_assert_str_eq(json_string_value(json_object_get(
                       json_array_get(json_object_get(r->json, "results"), 0),
                       "slug")),
                   "lost-2", "only the reset_after request took effect");
  th_free(r);
}

Test(sim_faults, hang_never_answers_and_is_released_when_the_client_leaves)
{
  cr_assert_eq(pv_sim_set_fault(sim.genieacs_url,
                                "{\"mode\":\"hang\",\"count\":1}"), 200);
  char url[256];
  SIMURL(url, sim.genieacs_url, "/devices");
  th_resp_t *r = th_request("GET", url, NULL, NULL, 300);
  cr_assert_eq(r->rc, CURLE_OPERATION_TIMEDOUT);
  th_free(r);
  long long susp = -1;
  for (int i = 0; i < 100 && susp != 0; i++) {
    susp = pv_sim_stat(sim.genieacs_url, "suspended");
    if (susp)
      usleep(50000);
  }
  cr_assert_eq(susp, 0, "the hung connection was not released");
  cr_assert_eq(status_of(sim.genieacs_url, "/devices"), 200);
}

Test(sim_faults, latency_delays_one_connection_without_blocking_others)
{
  cr_assert_eq(pv_sim_set_fault(sim.voltha_url,
                                "{\"mode\":\"latency\",\"latency_ms\":1500,"
                                "\"path_prefix\":\"/api/v1/devices\"}"), 200);
  char slow_url[256], fast_url[256];
  SIMURL(slow_url, sim.voltha_url, "/api/v1/devices");
  SIMURL(fast_url, sim.voltha_url, "/health");
  CURLM *m = curl_multi_init();
  CURL *slow = curl_easy_init(), *fast = curl_easy_init();
  FILE *devnull = fopen("/dev/null", "w");
  CURL *both[2] = {slow, fast};
  for (int i = 0; i < 2; i++) {
    curl_easy_setopt(both[i], CURLOPT_WRITEDATA, devnull);
    curl_easy_setopt(both[i], CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(both[i], CURLOPT_TIMEOUT_MS, 20000L);
  }
  curl_easy_setopt(slow, CURLOPT_URL, slow_url);
  curl_easy_setopt(fast, CURLOPT_URL, fast_url);
  long long t0 = mono_ms();
  curl_multi_add_handle(m, slow);
  /* Let the slow request reach the server first. */
  int running = 1;
  for (int i = 0; i < 20; i++) {
    curl_multi_perform(m, &running);
    curl_multi_poll(m, NULL, 0, 10, NULL);
  }
  curl_multi_add_handle(m, fast);
  CURL *order[2] = {NULL, NULL};
  int done = 0;
  for (int rounds = 0; done < 2 && rounds < 10000; rounds++) {
    curl_multi_perform(m, &running);
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(m, &left)) != NULL)
      if (msg->msg == CURLMSG_DONE && done < 2)
        order[done++] = msg->easy_handle;
    if (done < 2)
      curl_multi_poll(m, NULL, 0, 50, NULL);
  }
  long long elapsed = mono_ms() - t0;
  cr_assert_eq(done, 2);
  cr_assert_eq(order[0], fast, "the delayed request blocked another one");
  long st = 0;
  curl_easy_getinfo(slow, CURLINFO_RESPONSE_CODE, &st);
  cr_assert_eq(st, 200, "latency delays, it does not fail");
  cr_assert_geq(elapsed, 1400, "the delay was applied");
  curl_multi_remove_handle(m, slow);
  curl_multi_remove_handle(m, fast);
  curl_easy_cleanup(slow);
  curl_easy_cleanup(fast);
  curl_multi_cleanup(m);
  fclose(devnull);
}

Test(sim_faults, bad_fault_bodies_are_refused)
{
  cr_assert_eq(pv_sim_set_fault(sim.voltha_url, "{\"mode\":\"explode\"}"), 400);
  cr_assert_eq(pv_sim_set_fault(sim.voltha_url, "{\"mode\":\"error\","
                                                "\"statsu\":503}"), 400);
  cr_assert_eq(pv_sim_set_fault(sim.voltha_url, "{\"mode\":\"error\","
                                                "\"rate\":2}"), 400);
  cr_assert_eq(pv_sim_set_fault(sim.voltha_url, "not json"), 400);
  cr_assert_eq(pv_sim_set_fault(sim.voltha_url, "{\"mode\":\"none\"}"), 200);
  cr_assert_eq(status_of(sim.voltha_url, "/health"), 200);
  th_resp_t *r = get(sim.voltha_url, "/_sim/nope");
  cr_assert_eq(r->status, 404);
  th_free(r);
}

Test(sim_faults, stats_and_request_log_keep_order_and_skip_admin)
{
  char url[256];
  SIMURL(url, sim.voltha_url, "/_sim/reset-stats");
  th_resp_t *r = th_request("POST", url, NULL, NULL, 0);
  cr_assert_eq(r->status, 200);
  th_free(r);
  long long last = pv_sim_stat(sim.voltha_url, "last_seq");
  cr_assert_eq(pv_sim_stat(sim.voltha_url, "requests"), 0);
  static const char *const paths[] = {"/health", "/api/v1/devices",
                                      "/api/v1/logical_devices", "/health"};
  for (int i = 0; i < 4; i++) {
    cr_assert_eq(status_of(sim.voltha_url, paths[i]), 200);
    json_decref(pv_sim_stats(sim.voltha_url)); /* admin is not counted */
  }
  json_t *st = pv_sim_stats(sim.voltha_url);
  cr_assert_eq(json_integer_value(json_object_get(st, "requests")), 4);
  json_t *pc = json_object_get(st, "paths");
  cr_assert_eq(json_integer_value(json_object_get(pc, "GET /health")), 2);
  cr_assert_eq(json_integer_value(json_object_get(pc, "GET /api/v1/devices")),
               1);
  cr_assert_geq(json_integer_value(json_object_get(st, "connections_accepted")),
                4);
  json_decref(st);

  char q[256];
  snprintf(q, sizeof(q), "/_sim/requests?since=%lld", last);
  r = get(sim.voltha_url, q);
  cr_assert_eq(r->status, 200);
  cr_assert_eq(json_array_size(r->json), 4);
  long long prev = last;
  for (size_t i = 0; i < 4; i++) {
    json_t *e = json_array_get(r->json, i);
    long long seq = json_integer_value(json_object_get(e, "seq"));
    cr_assert_gt(seq, prev);
    prev = seq;
    cr_assert_str_eq(json_string_value(json_object_get(e, "path")), paths[i]);
    cr_assert_str_eq(json_string_value(json_object_get(e, "method")), "GET");
    cr_assert(json_is_integer(json_object_get(e, "ts_ms")));
  }
  th_free(r);
  snprintf(q, sizeof(q), "/_sim/requests?since=%lld", prev - 1);
  r = get(sim.voltha_url, q);
  cr_assert_eq(json_array_size(r->json), 1);
  th_free(r);
  r = get(sim.voltha_url, "/_sim/requests?since=abc");
  cr_assert_eq(r->status, 400);
  th_free(r);
}

Test(sim_faults, start_option_latency_applies_to_every_response)
{
  simfix_stop();
  const char *args[] = {"--latency-ms", "300", NULL};
  simfix_start_args(args);
  long long t0 = mono_ms();
  cr_assert_eq(status_of(sim.voltha_url, "/health"), 200);
  cr_assert_geq(mono_ms() - t0, 280);
  t0 = mono_ms();
  cr_assert_eq(pv_sim_stat(sim.voltha_url, "requests"), 1,
               "admin is not delayed or counted");
}

/* ---- the command line ---- */

/* Runs southbound-sim with args; returns its exit status and stderr. */
static int run_cli(const char *const *args, char *err, size_t errlen,
                   int timeout_ms)
{
  char path[1024];
  const char *argv[32];
  int n = 0, pfd[2];
  snprintf(path, sizeof(path), "%s/southbound-sim", pv_test_build_dir());
  argv[n++] = path;
  for (size_t i = 0; args[i] && n < 31; i++)
    argv[n++] = args[i];
  argv[n] = NULL;
  cr_assert_eq(pipe(pfd), 0);
  pid_t pid = fork();
  cr_assert_geq(pid, 0);
  if (pid == 0) {
    dup2(pfd[1], STDERR_FILENO);
    int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, STDOUT_FILENO);
    close(pfd[0]);
    execv(path, (char *const *)(uintptr_t)argv);
    _exit(127);
  }
  close(pfd[1]);
  size_t len = 0;
  long long deadline = mono_ms() + timeout_ms;
  for (;;) {
    struct pollfd p = {.fd = pfd[0], .events = POLLIN};
    int left = (int)(deadline - mono_ms());
    if (left <= 0 || poll(&p, 1, left) <= 0)
      break;
    ssize_t k = read(pfd[0], err + len, errlen - 1 - len);
    if (k <= 0)
      break;
    len += (size_t)k;
  }
  err[len] = '\0';
  close(pfd[0]);
  /* stderr closes a little before the process is reaped. */
  int status = 0;
  pid_t w = 0;
  while ((w = waitpid(pid, &status, WNOHANG)) == 0 && mono_ms() < deadline)
    usleep(5000);
  if (w != pid) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return -1;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

Test(sim_faults, cli_bad_option_port_in_use_and_help)
{
  char err[8192];
  const char *bad[] = {"--olts", "many", NULL};
  cr_assert_eq(run_cli(bad, err, sizeof(err), 5000), 2);
  cr_assert(strstr(err, "--olts"), "names the option: %s", err);
  cr_assert(strstr(err, "usage:"));
  const char *unknown[] = {"--frobnicate", NULL};
  cr_assert_eq(run_cli(unknown, err, sizeof(err), 5000), 2);
  cr_assert(strstr(err, "--frobnicate"));
  const char *tok[] = {"--netbox-token", "short", NULL};
  cr_assert_eq(run_cli(tok, err, sizeof(err), 5000), 2);

  const char *port = strrchr(sim.voltha_url, ':') + 1;
  const char *busy[] = {"--voltha-port", port, "--genieacs-port", "0",
                        "--netbox-port", "0", NULL};
  cr_assert_eq(run_cli(busy, err, sizeof(err), 5000), 1);
  cr_assert(strstr(err, port), "names the port: %s", err);
  cr_assert(strstr(err, "in use"));

  const char *help[] = {"--help", NULL};
  cr_assert_eq(run_cli(help, err, sizeof(err), 5000), 0);
}

Test(sim_faults, sigterm_exits_zero_and_env_file_is_written)
{
  simfix_stop();
  char envf[] = "/tmp/pv-sim-env-XXXXXX";
  int fd = mkstemp(envf);
  cr_assert_geq(fd, 0);
  close(fd);
  const char *args[] = {"--env-file", envf, NULL};
  simfix_start_args(args);
  FILE *f = fopen(envf, "r");
  cr_assert_not_null(f);
  char line[256], want[256];
  cr_assert_not_null(fgets(line, sizeof(line), f));
  snprintf(want, sizeof(want), "SIM_VOLTHA_URL=%s\n", sim.voltha_url);
  cr_assert_str_eq(line, want);
  cr_assert_not_null(fgets(line, sizeof(line), f));
  cr_assert(strncmp(line, "SIM_GENIEACS_URL=", 17) == 0);
  cr_assert_not_null(fgets(line, sizeof(line), f));
  cr_assert(strncmp(line, "SIM_NETBOX_URL=", 15) == 0);
  fclose(f);
  unlink(envf);

  /* A request hanging on an open connection must not keep the simulator
   * from stopping. */
  cr_assert_eq(pv_sim_set_fault(sim.voltha_url, "{\"mode\":\"hang\"}"), 200);
  struct sockaddr_in sa = {.sin_family = AF_INET};
  sa.sin_port = htons((uint16_t)strtol(strrchr(sim.voltha_url, ':') + 1, NULL, 10));
  inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
  int s = socket(AF_INET, SOCK_STREAM, 0);
  cr_assert_eq(connect(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
  static const char req[] = "GET /health HTTP/1.1\r\nHost: x\r\n\r\n";
  cr_assert_eq(write(s, req, sizeof(req) - 1), (ssize_t)(sizeof(req) - 1));
  for (int i = 0; i < 100 && pv_sim_stat(sim.voltha_url, "suspended") != 1; i++)
    usleep(20000);
  cr_assert_eq(pv_sim_stat(sim.voltha_url, "suspended"), 1);
  cr_assert_eq(kill(sim.pid, SIGTERM), 0);
  int status = 0;
  pid_t w = -1;
  for (int i = 0; i < 500 && w <= 0; i++) {
    w = waitpid(sim.pid, &status, WNOHANG);
    if (w == 0)
      usleep(10000);
  }
  cr_assert_eq(w, sim.pid, "did not stop within 5 s");
  cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  sim.pid = 0;
  close(s);
}

/* The request log names each request's trace context and whether the
 * model saw it: the chaos suite tells by these which job sent a request
 * and whether a mutation took effect. */
Test(sim_faults, request_log_keeps_traceparent_and_handled)
{
  static const char tp[] =
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  const char *hdrs[] = {"traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-"
                        "00f067aa0ba902b7-01", NULL};
  long long last = pv_sim_stat(sim.voltha_url, "last_seq");
  char url[256];
  SIMURL(url, sim.voltha_url, "/health");
  th_resp_t *r = th_request("GET", url, hdrs, NULL, 0);
  cr_assert_eq(r->status, 200);
  th_free(r);
  cr_assert_eq(pv_sim_set_fault(sim.voltha_url,
                                "{\"mode\":\"error\",\"status\":503,"
                                "\"count\":1}"), 200);
  r = th_request("GET", url, hdrs, NULL, 0);
  cr_assert_eq(r->status, 503);
  th_free(r);
  cr_assert_eq(pv_sim_set_fault(sim.voltha_url,
                                "{\"mode\":\"reset_after\",\"count\":1}"),
               200);
  r = th_request("GET", url, NULL, NULL, 0);
  cr_assert_eq(r->status, 0, "reset_after: no answer");
  th_free(r);

  char q[128];
  snprintf(q, sizeof(q), "/_sim/requests?since=%lld", last);
  r = get(sim.voltha_url, q);
  cr_assert_eq(json_array_size(r->json), 3);
  const bool handled[] = {true, false, true};
  const char *const tps[] = {tp, tp, ""};
  for (size_t i = 0; i < 3; i++) {
    json_t *e = json_array_get(r->json, i);
    cr_assert_str_eq(json_string_value(json_object_get(e, "traceparent")),
                     tps[i], "request %zu", i);
    cr_assert_eq(json_is_true(json_object_get(e, "handled")), handled[i],
                 "request %zu: handled must be %d", i, handled[i]);
  }
  th_free(r);
}
