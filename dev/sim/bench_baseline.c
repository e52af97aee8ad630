/* sim-bench-baseline: the cheapest possible libmicrohttpd server (one epoll
 * thread, one static response), the baseline bench/bench_sim.sh measures
 * the simulator against in the same run on the same core.
 *
 *   sim-bench-baseline PORT   (0 = any) -> prints "PORT=<n>" and "READY"
 */
#include "dev/sim/sim.h"

#include <microhttpd.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static const char body[] = "{\"state\":\"HEALTHY\"}";

static enum MHD_Result serve(void *cls, struct MHD_Connection *conn,
                             const char *url, const char *method,
                             const char *version, const char *upload,
                             size_t *upload_size, void **con_cls)
{
  struct MHD_Response *r = cls;
  /* Answer once the request is complete (second call): a response queued
   * on the first call is an "early response" and MHD closes the
   * connection after it, which would not be keep-alive. */
  if (!*con_cls) {
    *con_cls = conn;
    return MHD_YES;
  }
  return MHD_queue_response(conn, 200, r);
}

int main(int argc, char **argv)
{
  long long port = 0;
  sigset_t set;
  if (argc != 2 || sim_parse_ll(argv[1], 0, 65535, &port) < 0) {
    fprintf(stderr, "usage: sim-bench-baseline PORT\n");
    return 2;
  }
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  struct MHD_Response *r = MHD_create_response_from_buffer(
      sizeof(body) - 1, (void *)(uintptr_t)body, MHD_RESPMEM_PERSISTENT);
  if (!r)
    return 1;
  MHD_add_response_header(r, "Content-Type", "application/json");
  struct MHD_Daemon *d = MHD_start_daemon(
      MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL, (uint16_t)port, NULL,
      NULL, serve, r, MHD_OPTION_CONNECTION_LIMIT, 10000u, MHD_OPTION_END);
  if (!d) {
    fprintf(stderr, "sim-bench-baseline: cannot listen on port %lld\n", port);
    MHD_destroy_response(r);
    return 1;
  }
  const union MHD_DaemonInfo *info =
      MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
  printf("PORT=%u\nREADY\n", info ? info->port : 0);
  fflush(stdout);
  int sig;
  while (sigwait(&set, &sig) != 0)
    ;
  MHD_stop_daemon(d);
  MHD_destroy_response(r);
  return 0;
}
