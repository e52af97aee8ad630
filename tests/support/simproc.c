/* A private build/southbound-sim per test: spawned on free ports, its URLs
 * read from its stdout, stopped with SIGTERM. The admin helpers are small
 * synchronous libcurl calls. */
#include "tests/support/simproc.h"

#include "common/buf.h"
#include "tests/support/testenv.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SIM_START_TIMEOUT_MS 10000
#define SIM_MAX_ARGS 64
#define ADMIN_BODY_MAX (64u * 1024u * 1024u)

static long long now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void set_url(char *dst, size_t size, const char *line,
                    const char *prefix)
{
  size_t pl = strlen(prefix);
  if (strncmp(line, prefix, pl) == 0)
    snprintf(dst, size, "%s", line + pl);
}

/* Reads the simulator's stdout until READY, filling the URLs. */
static int read_ready(pv_sim_t *sim, int fd)
{
  char buf[2048];
  size_t len = 0;
  long long deadline = now_ms() + SIM_START_TIMEOUT_MS;
  for (;;) {
    long long left = deadline - now_ms();
    if (left <= 0) {
      fprintf(stderr, "simproc: southbound-sim printed no READY within %d ms\n",
              SIM_START_TIMEOUT_MS);
      return -1;
    }
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int pr = poll(&p, 1, (int)left);
    if (pr < 0 && errno == EINTR)
      continue;
    if (pr <= 0)
      continue;
    if (len + 1 >= sizeof(buf)) {
      fprintf(stderr, "simproc: southbound-sim stdout too long\n");
      return -1;
    }
    ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      fprintf(stderr, "simproc: southbound-sim exited before READY (see its "
                      "stderr above)\n");
      return -1;
    }
    len += (size_t)n;
    buf[len] = '\0';
    char *line = buf;
    char *nl;
    while ((nl = strchr(line, '\n')) != NULL) {
      *nl = '\0';
      set_url(sim->voltha_url, sizeof(sim->voltha_url), line,
              "SIM_VOLTHA_URL=");
      set_url(sim->genieacs_url, sizeof(sim->genieacs_url), line,
              "SIM_GENIEACS_URL=");
      set_url(sim->netbox_url, sizeof(sim->netbox_url), line,
              "SIM_NETBOX_URL=");
      if (strcmp(line, "READY") == 0)
        return sim->voltha_url[0] && sim->genieacs_url[0] &&
                       sim->netbox_url[0]
                   ? 0
                   : -1;
      line = nl + 1;
    }
    /* Keep the unfinished line at the start of the buffer. */
    size_t rest = len - (size_t)(line - buf);
    memmove(buf, line, rest);
    len = rest;
  }
}

int pv_sim_start(pv_sim_t *sim, const char *const *extra_args)
{
  char path[1024];
  const char *argv[SIM_MAX_ARGS + 8];
  int pipefd[2] = {-1, -1};
  int argc = 0;
  memset(sim, 0, sizeof(*sim));
  snprintf(path, sizeof(path), "%s/southbound-sim", pv_test_build_dir());
  argv[argc++] = path;
  argv[argc++] = "--voltha-port";
  argv[argc++] = "0";
  argv[argc++] = "--genieacs-port";
  argv[argc++] = "0";
  argv[argc++] = "--netbox-port";
  argv[argc++] = "0";
  for (size_t i = 0; extra_args && extra_args[i]; i++) {
    if (i == SIM_MAX_ARGS) {
      fprintf(stderr, "simproc: more than %d extra arguments\n", SIM_MAX_ARGS);
      return -1;
    }
    argv[argc++] = extra_args[i];
  }
  argv[argc] = NULL;

  if (access(path, X_OK) != 0) {
    fprintf(stderr, "simproc: %s is missing: build it with `cmake --build "
                    "build --target southbound-sim`\n", path);
    return -1;
  }
  if (pipe2(pipefd, O_CLOEXEC) != 0) {
    fprintf(stderr, "simproc: pipe: %s\n", strerror(errno));
    return -1;
  }
  fflush(NULL);
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    fprintf(stderr, "simproc: fork: %s\n", strerror(errno));
    goto fail;
  }
  if (pid == 0) {
    /* A test that crashes must not leave simulators behind. */
    (void)prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent)
      _exit(127);
    if (dup2(pipefd[1], STDOUT_FILENO) < 0)
      _exit(127);
    execv(path, (char *const *)(uintptr_t)argv);
    _exit(127);
  }
  sim->pid = pid;
  close(pipefd[1]);
  pipefd[1] = -1;
  if (read_ready(sim, pipefd[0]) < 0)
    goto fail;
  close(pipefd[0]);
  return 0;
fail:
  if (pipefd[0] >= 0)
    close(pipefd[0]);
  if (pipefd[1] >= 0)
    close(pipefd[1]);
  pv_sim_stop(sim);
  return -1;
}

int pv_sim_stop_status(pv_sim_t *sim)
{
  if (!sim || sim->pid <= 0)
    return 0;
  int status = 0, rc = -1;
  (void)kill(sim->pid, SIGTERM);
  long long deadline = now_ms() + 5000;
  for (;;) {
    pid_t r = waitpid(sim->pid, &status, WNOHANG);
    if (r == sim->pid) {
      rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      break;
    }
    if (r < 0 && errno != EINTR)
      break;
    if (now_ms() >= deadline) {
      fprintf(stderr, "simproc: southbound-sim (pid %d) ignored SIGTERM for "
                      "5 s: killing it\n", (int)sim->pid);
      (void)kill(sim->pid, SIGKILL);
      (void)waitpid(sim->pid, &status, 0);
      break;
    }
    usleep(10000);
  }
  sim->pid = 0;
  return rc;
}

void pv_sim_stop(pv_sim_t *sim)
{
  if (!sim || sim->pid <= 0)
    return;
  pid_t pid = sim->pid;
  int rc = pv_sim_stop_status(sim);
  if (rc != 0)
    fprintf(stderr, "simproc: southbound-sim (pid %d) exited with %d\n",
            (int)pid, rc);
}

static size_t collect(char *data, size_t size, size_t n, void *arg)
{
  pv_buf_t *b = arg;
  return pv_buf_append(b, data, size * n) == 0 ? size * n : 0;
}

/* One admin call. @returns the HTTP status, or -1; *body (may be NULL) gets
 * the response body (free() it). */
static long admin_call(const char *base_url, const char *method,
                       const char *path, const char *json, char **body)
{
  char url[512];
  long status = -1;
  pv_buf_t b;
  struct curl_slist *hdrs = NULL;
  pv_buf_init(&b, ADMIN_BODY_MAX);
  if (body)
    *body = NULL;
  CURL *c = curl_easy_init();
  if (!c)
    goto out;
  snprintf(url, sizeof(url), "%s%s", base_url, path);
  hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
  if (json) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, json);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(json));
  }
  CURLcode rc = curl_easy_perform(c);
  if (rc != CURLE_OK) {
    fprintf(stderr, "simproc: %s %s: %s\n", method, url,
            curl_easy_strerror(rc));
    goto out;
  }
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  if (body)
    *body = pv_buf_steal(&b, NULL);
out:
  pv_buf_free(&b);
  curl_slist_free_all(hdrs);
  if (c)
    curl_easy_cleanup(c);
  return status;
}

long pv_sim_set_fault(const char *base_url, const char *json)
{
  return admin_call(base_url, "PUT", "/_sim/faults", json, NULL);
}

long pv_sim_clear_faults(const char *base_url)
{
  return admin_call(base_url, "DELETE", "/_sim/faults", NULL, NULL);
}

json_t *pv_sim_stats(const char *base_url)
{
  json_t *j = NULL;
  if (pv_sim_admin(base_url, "GET", "/_sim/stats", NULL, &j) != 200) {
    json_decref(j);
    return NULL;
  }
  return j;
}

long long pv_sim_stat(const char *base_url, const char *key)
{
  json_t *j = pv_sim_stats(base_url);
  json_t *v = j ? json_object_get(j, key) : NULL;
  long long out = json_is_integer(v) ? (long long)json_integer_value(v) : -1;
  json_decref(j);
  return out;
}

long pv_sim_admin(const char *base_url, const char *method, const char *path,
                  const char *json, json_t **out)
{
  char *body = NULL;
  long st = admin_call(base_url, method, path, json, &body);
  if (out)
    *out = body ? json_loads(body, 0, NULL) : NULL;
  free(body);
  return st;
}

/* Sends obj (stolen) as the body of one admin call. */
static long admin_json(const char *base_url, const char *method,
                       const char *path, json_t *obj)
{
  char *body = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
  json_decref(obj);
  if (!body) {
    fprintf(stderr, "simproc: cannot build the body of %s %s\n", method,
            path);
    return -1;
  }
  long st = admin_call(base_url, method, path, body, NULL);
  free(body);
  return st;
}

static json_t *ms_or_null(long long ms)
{
  return ms < 0 ? json_null() : json_integer(ms);
}

long pv_sim_onu_announce(const char *voltha_url, const char *olt,
                         const char *serial, long long after_ms, int enabled)
{
  return admin_json(voltha_url, "POST", "/_sim/discover",
                    json_pack("{s:s,s:s,s:I,s:s}", "olt", olt, "serial",
                              serial, "after_ms", (json_int_t)after_ms,
                              "admin_state",
                              enabled ? "ENABLED" : "PREPROVISIONED"));
}

long pv_sim_onu_activation(const char *voltha_url, const char *serial,
                           long long duration_ms)
{
  json_t *o = json_pack("{s:o}", "duration_ms", ms_or_null(duration_ms));
  if (o && serial)
    json_object_set_new(o, "serial", json_string(serial));
  return admin_json(voltha_url, "PUT", "/_sim/activation", o);
}

long pv_sim_cpe_session(const char *genieacs_url, const char *device,
                        const char *mode, long long inform_after_ms)
{
  json_t *o = json_pack("{s:s,s:o}", "device", device, "inform_after_ms",
                        ms_or_null(inform_after_ms));
  if (o && mode)
    json_object_set_new(o, "mode", json_string(mode));
  return admin_json(genieacs_url, "PUT", "/_sim/session", o);
}

long pv_sim_cpe_inform(const char *genieacs_url, const char *device)
{
  return admin_json(genieacs_url, "POST", "/_sim/inform",
                    json_pack("{s:s}", "device", device));
}

long pv_sim_clock_advance(const char *base_url, long long ms)
{
  return admin_json(base_url, "POST", "/_sim/clock/advance",
                    json_pack("{s:I}", "ms", (json_int_t)ms));
}
