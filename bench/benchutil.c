/*
 * CPU time as the benchmarks count it: see benchutil.h.
 */
#include "bench/benchutil.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

double pv_bench_cpu_s(void)
{
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) != 0)
    return 0;
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
         (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

bool pv_bench_proc_cpu(pid_t pid, pv_bench_proc_t *out)
{
  char path[64], buf[1024];
  snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
  FILE *f = fopen(path, "r");
  if (!f)
    return false;
  size_t n = fread(buf, 1, sizeof(buf) - 1, f);
  fclose(f);
  buf[n] = '\0';
  /* the command (field 2) may hold spaces and parentheses: fields are
   * counted from its last ')' */
  char *p = strrchr(buf, ')');
  if (!p)
    return false;
  unsigned long long v[18] = {0};
  int field = 2;
  for (char *s = p + 1; *s && field < 17; s++) {
    if (*s == ' ') {
      field++;
      v[field] = strtoull(s + 1, NULL, 10);
    }
  }
  if (field < 17)
    return false;
  double tck = (double)sysconf(_SC_CLK_TCK);
  /* 4 ppid, 14 utime, 15 stime, 16 cutime, 17 cstime */
  out->ppid = (pid_t)v[4];
  out->self_s = (double)(v[14] + v[15]) / tck;
  out->children_s = (double)(v[16] + v[17]) / tck;
  return true;
}

double pv_bench_tree_cpu_s(pid_t pid)
{
  pv_bench_proc_t top;
  if (!pv_bench_proc_cpu(pid, &top))
    return -1;
  double sum = top.self_s + top.children_s;
  DIR *d = opendir("/proc");
  if (!d)
    return sum;
  struct dirent *e;
  while ((e = readdir(d))) {
    char *end;
    long child = strtol(e->d_name, &end, 10);
    pv_bench_proc_t c;
    if (*end || child <= 0 || !pv_bench_proc_cpu((pid_t)child, &c))
      continue;
    if (c.ppid == pid)
      sum += c.self_s;
  }
  closedir(d);
  return sum;
}

double pv_bench_threads_cpu_s(pid_t pid)
{
  char path[64];
  snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
  DIR *d = opendir(path);
  if (!d)
    return -1;
  unsigned long long ns = 0;
  int threads = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.')
      continue;
    char p2[96];
    snprintf(p2, sizeof(p2), "/proc/%d/task/%.20s/schedstat", (int)pid,
             e->d_name);
    FILE *f = fopen(p2, "r");
    unsigned long long v;
    if (f && fscanf(f, "%llu", &v) == 1) {
      ns += v;
      threads++;
    }
    if (f)
      fclose(f);
  }
  closedir(d);
  if (threads)
    return (double)ns / 1e9;
  pv_bench_proc_t p;
  return pv_bench_proc_cpu(pid, &p) ? p.self_s : -1;
}
