#include "tests/support/testenv.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

const char *pv_test_build_dir(void)
{
  const char *d = getenv("PV_BUILD_DIR");
  return d && *d ? d : PV_SOURCE_DIR "/build";
}

const char *pv_test_source_dir(void)
{
  const char *d = getenv("PV_SOURCE_DIR");
  return d && *d ? d : PV_SOURCE_DIR;
}

const char *pv_test_require_env(const char *name)
{
  const char *v = getenv(name);
  if (!v || !*v)
    cr_assert_fail("%s is not set: start the dev stack with `make up` and "
             "`. .dev/env`, or run the suite through `make test`", name);
  return v;
}

int pv_test_free_port(void)
{
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  cr_assert_geq(fd, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
  socklen_t l = sizeof(sa);
  cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &l), 0);
  close(fd);
  return ntohs(sa.sin_port);
}

void pv_test_sleep_ms(long ms)
{
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

long long pv_test_now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
