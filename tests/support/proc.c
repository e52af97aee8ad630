#include "tests/support/proc.h"

#include "common/alloc.h"
#include "common/buf.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void sleep_ms(int ms)
{
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

pid_t pv_proc_start(const char *const *argv, const char *const *env,
                    const char *log_path)
{
  int fd = -1;
  if (log_path) {
    fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
      return -1;
  }
  pid_t pid = fork();
  if (pid < 0) {
    if (fd >= 0)
      close(fd);
    return -1;
  }
  if (pid == 0) {
    if (fd >= 0) {
      dup2(fd, STDOUT_FILENO);
      dup2(fd, STDERR_FILENO);
    }
    /* The child's own copies: putenv and execv take non-const strings. */
    for (size_t i = 0; env && env[i]; i++)
      putenv(pv_strdup(env[i]));
    size_t argc = 0;
    while (argv[argc])
      argc++;
    char **args = pv_calloc(argc + 1, sizeof(char *));
    for (size_t i = 0; i < argc; i++)
      args[i] = pv_strdup(argv[i]);
    execv(args[0], args);
    fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
    _exit(127);
  }
  if (fd >= 0)
    close(fd);
  return pid;
}

bool pv_proc_alive(pid_t pid, int *status)
{
  int st = 0;
  pid_t r = waitpid(pid, &st, WNOHANG);
  if (r == 0)
    return true;
  if (r == pid && status)
    *status = st;
  return false;
}

int pv_proc_stop(pid_t pid, int sig, int timeout_ms)
{
  int st = 0;
  if (pid <= 0)
    return -1;
  if (!pv_proc_alive(pid, &st))
    return st;
  kill(pid, sig);
  for (int waited = 0; waited < timeout_ms; waited += 20) {
    if (!pv_proc_alive(pid, &st))
      return st;
    sleep_ms(20);
  }
  kill(pid, SIGKILL);
  waitpid(pid, &st, 0);
  return -1;
}

bool pv_proc_wait_for_text(const char *path, const char *needle,
                           int timeout_ms)
{
  for (int waited = 0; waited <= timeout_ms; waited += 50) {
    FILE *f = fopen(path, "r");
    if (f) {
      pv_buf_t b;
      char chunk[4096];
      size_t n;
      bool found = false;
      pv_buf_init(&b, 64u << 20);
      while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        if (pv_buf_append(&b, chunk, n) < 0)
          break;
      fclose(f);
      found = b.data && strstr(b.data, needle);
      pv_buf_free(&b);
      if (found)
        return true;
    }
    sleep_ms(50);
  }
  return false;
}
