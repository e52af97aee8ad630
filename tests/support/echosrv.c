#include "tests/support/echosrv.h"

#include "common/alloc.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define REQ_MAX (64 * 1024)

struct pv_echo {
  int fd;
  int port;
  pv_echo_fn fn;
  void *arg;
  pthread_t thread;
  atomic_bool stop;
  atomic_int requests;
};

/* Reads one request's head (and discards a Content-Length body). */
static int read_request(int c, char *buf, size_t size, size_t *head_len)
{
  size_t n = 0;
  while (n + 1 < size) {
    struct pollfd p = {c, POLLIN, 0};
    if (poll(&p, 1, 5000) <= 0)
      return -1;
    ssize_t r = recv(c, buf + n, size - 1 - n, 0);
    if (r <= 0)
      return -1;
    n += (size_t)r;
    buf[n] = '\0';
    char *end = strstr(buf, "\r\n\r\n");
    if (!end)
      continue;
    *head_len = (size_t)(end - buf) + 4;
    const char *cl = strcasestr(buf, "\r\ncontent-length:");
    size_t want = cl ? strtoul(cl + 17, NULL, 10) : 0;
    size_t have = n - *head_len;
    while (have < want) {
      char sink[4096];
      if (poll(&p, 1, 5000) <= 0)
        return -1;
      r = recv(c, sink, sizeof(sink), 0);
      if (r <= 0)
        return -1;
      have += (size_t)r;
    }
    return 0;
  }
  return -1;
}

static void serve(pv_echo_t *e, int c)
{
  char *buf = pv_malloc(REQ_MAX);
  size_t head = 0;
  if (read_request(c, buf, REQ_MAX, &head) == 0) {
    char method[16] = "", path[4096] = "", auth[8192] = "";
    sscanf(buf, "%15s %4095s", method, path);
    const char *a = strcasestr(buf, "\r\nauthorization:");
    if (a) {
      a += 16;
      while (*a == ' ')
        a++;
      size_t len = strcspn(a, "\r\n");
      if (len >= sizeof(auth))
        len = sizeof(auth) - 1;
      memcpy(auth, a, len);
      auth[len] = '\0';
    }
    pv_buf_t out;
    pv_buf_init(&out, 1u << 20);
    e->fn(method, path, auth, &out, e->arg);
    /* counted before the answer goes out: a client that has its answer
     * sees the count */
    atomic_fetch_add(&e->requests, 1);
    for (size_t off = 0; off < out.len;) {
      ssize_t w = send(c, out.data + off, out.len - off, MSG_NOSIGNAL);
      if (w <= 0)
        break;
      off += (size_t)w;
    }
    pv_buf_free(&out);
  }
  free(buf);
  shutdown(c, SHUT_WR);
  close(c);
}

static void *run(void *arg)
{
  pv_echo_t *e = arg;
  while (!atomic_load(&e->stop)) {
    struct pollfd p = {e->fd, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0)
      continue;
    int c = accept(e->fd, NULL, NULL);
    if (c >= 0)
      serve(e, c);
  }
  return NULL;
}

pv_echo_t *pv_echo_start(pv_echo_fn fn, void *arg)
{
  pv_echo_t *e = pv_calloc(1, sizeof(*e));
  e->fn = fn;
  e->arg = arg;
  e->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  cr_assert_geq(e->fd, 0, "echo server: socket");
  struct sockaddr_in sa = {.sin_family = AF_INET,
                           .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof(sa);
  cr_assert_eq(bind(e->fd, (struct sockaddr *)&sa, sizeof(sa)), 0,
               "echo server: bind");
  cr_assert_eq(listen(e->fd, 64), 0, "echo server: listen");
  cr_assert_eq(getsockname(e->fd, (struct sockaddr *)&sa, &len), 0);
  e->port = ntohs(sa.sin_port);
  cr_assert_eq(pthread_create(&e->thread, NULL, run, e), 0);
  return e;
}

int pv_echo_port(const pv_echo_t *e)
{
  return e->port;
}

int pv_echo_requests(pv_echo_t *e)
{
  return atomic_load(&e->requests);
}

void pv_echo_stop(pv_echo_t *e)
{
  if (!e)
    return;
  atomic_store(&e->stop, true);
  pthread_join(e->thread, NULL);
  close(e->fd);
  free(e);
}
