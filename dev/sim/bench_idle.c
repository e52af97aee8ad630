/* sim-idle-conns: opens N HTTP/1.1 keep-alive connections to a server,
 * sends one request on each, keeps them all open and idle, then checks
 * that every one of them and a fresh connection still get answers.
 *
 *   sim-idle-conns HOST PORT N PATH   -> one JSON line with the figures;
 *                                        exit 0 only if every check passed
 */
#include "dev/sim/sim.h"

#include "common/clock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define MAX_CONNS 20000

/* One request, one response read up to its (small) body. @returns 0. */
static int roundtrip(int fd, const char *req, size_t reqlen)
{
  char buf[4096];
  size_t len = 0;
  if (send(fd, req, reqlen, MSG_NOSIGNAL) != (ssize_t)reqlen)
    return -1;
  for (;;) {
    ssize_t n = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);
    if (n <= 0)
      return -1;
    len += (size_t)n;
    buf[len] = '\0';
    char *end = strstr(buf, "\r\n\r\n");
    char *cl = strcasestr(buf, "Content-Length:");
    if (end && cl) {
      long long want;
      char num[24];
      size_t k = 0;
      for (const char *p = cl + 15; *p == ' ' || (*p >= '0' && *p <= '9'); p++)
        if (*p != ' ' && k + 1 < sizeof(num))
          num[k++] = *p;
      num[k] = '\0';
      if (sim_parse_ll(num, 0, 1 << 20, &want) < 0)
        return -1;
      if ((long long)(len - (size_t)(end + 4 - buf)) >= want)
        return strncmp(buf, "HTTP/1.1 200", 12) == 0 ? 0 : -1;
    }
    if (len + 1 >= sizeof(buf))
      return -1;
  }
}

static int dial(const struct sockaddr_in *sa)
{
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0)
    return -1;
  struct timeval tv = {.tv_sec = 10};
  (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  int one = 1;
  (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0) {
    close(fd);
    return -1;
  }
  return fd;
}

int main(int argc, char **argv)
{
  long long port, n;
  struct sockaddr_in sa = {.sin_family = AF_INET};
  if (argc != 5 || sim_parse_ll(argv[2], 1, 65535, &port) < 0 ||
      sim_parse_ll(argv[3], 1, MAX_CONNS, &n) < 0 ||
      inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1) {
    fprintf(stderr, "usage: sim-idle-conns HOST PORT N(<=%d) PATH\n",
            MAX_CONNS);
    return 2;
  }
  sa.sin_port = htons((uint16_t)port);
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &rl);
  }
  char req[512];
  int reqlen = snprintf(req, sizeof(req),
                        "GET %s HTTP/1.1\r\nHost: %s:%lld\r\n\r\n", argv[4],
                        argv[1], port);
  if (reqlen <= 0 || (size_t)reqlen >= sizeof(req))
    return 2;
  int *fds = calloc((size_t)n, sizeof(*fds));
  if (!fds)
    return 1;
  long long opened = 0, first_ok = 0, second_ok = 0;
  uint64_t t0 = pv_clock_mono_ms();
  for (long long i = 0; i < n; i++) {
    fds[i] = dial(&sa);
    if (fds[i] < 0) {
      fprintf(stderr, "connect #%lld: %s\n", i, strerror(errno));
      break;
    }
    opened++;
    if (roundtrip(fds[i], req, (size_t)reqlen) == 0)
      first_ok++;
  }
  uint64_t t_open = pv_clock_mono_ms() - t0;
  /* All open and idle now; let the server sit on them for a moment. */
  sleep(2);
  uint64_t t1 = pv_clock_mono_ms();
  for (long long i = 0; i < opened; i++)
    if (roundtrip(fds[i], req, (size_t)reqlen) == 0)
      second_ok++;
  uint64_t t_reuse = pv_clock_mono_ms() - t1;
  int fresh = dial(&sa);
  bool fresh_ok = fresh >= 0 && roundtrip(fresh, req, (size_t)reqlen) == 0;
  if (fresh >= 0)
    close(fresh);
  for (long long i = 0; i < opened; i++)
    close(fds[i]);
  free(fds);
  printf("{\"wanted\":%lld,\"opened\":%lld,\"first_ok\":%lld,"
         "\"reused_ok\":%lld,\"fresh_ok\":%s,\"open_ms\":%llu,"
         "\"reuse_ms\":%llu}\n",
         n, opened, first_ok, second_ok, fresh_ok ? "true" : "false",
         (unsigned long long)t_open, (unsigned long long)t_reuse);
  return opened == n && first_ok == n && second_ok == n && fresh_ok ? 0 : 1;
}
